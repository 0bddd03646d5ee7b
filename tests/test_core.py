"""Contracts every domain relies on: schemas, batches, findings, model cards, registry."""

import json

import numpy as np
import pandas as pd
import pytest

from threatml.errors import ReadReport, ThreatMLError
from threatml.events import SCHEMAS, EventBatch, conform, field_names
from threatml.findings import MAX_EVIDENCE, Finding, severity_from_score
from threatml.models.card import ModelCard, read_card, write_model
from threatml.models.registry import list_models, resolve


def test_conform_adds_missing_columns_with_typed_defaults_and_keeps_extras():
    fr = pd.DataFrame({"source.ip": ["10.0.0.1"], "source.bytes": ["12"], "orig.x": [3]})
    out = conform("flow", fr)
    assert set(field_names("flow")) <= set(out.columns) and len(SCHEMAS["flow"]) == len(field_names("flow"))
    assert out["source.bytes"].dtype == np.float64 and out["source.bytes"].iat[0] == 12.0
    assert np.isnan(out["destination.bytes"].iat[0])
    assert out["destination.ip"].iat[0] == ""
    assert out["orig.x"].iat[0] == 3


def test_conform_turns_unparseable_numbers_into_nan():
    out = conform("flow", pd.DataFrame({"flow.duration": ["-", "1.5"]}))
    assert np.isnan(out["flow.duration"].iat[0]) and out["flow.duration"].iat[1] == 1.5


def test_event_batch_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown event kind"):
        EventBatch.of("nonsense", pd.DataFrame())


def test_read_report_counts_and_merges():
    a, b = ReadReport(), ReadReport()
    a.read("x", 10)
    a.skip("x", "bad line", where="line 3")
    a.skip("x", "bad line", where="line 9")
    b.error("y", "empty file")
    a.merge(b)
    d = a.as_dict()
    assert d["records"] == 10 and d["skipped"][0]["count"] == 2 and d["skipped"][0]["first_at"] == "line 3"
    assert d["errors"] == [{"file": "y", "error": "empty file"}]


def test_finding_caps_evidence_and_derives_severity():
    f = Finding.make(detector="d", detector_version="1", title="t", start=0, end=1, entity="h",
                     score=0.95, evidence=[str(i) for i in range(500)])
    assert len(f.evidence) == MAX_EVIDENCE and f.evidence_count == 500
    assert f.severity == "critical" == severity_from_score(0.95)
    assert f.id == Finding.make(detector="d", detector_version="1", title="t", start=0, end=1, entity="h", score=0.1).id


def test_model_card_round_trip_and_tamper_detection(tmp_path):
    (tmp_path / "model.txt").write_text("tree")
    card = ModelCard(name="m", version="1", domain="network", kind="flow-classifier", artifacts={"model.txt": ""})
    write_model(tmp_path, card)
    assert read_card(tmp_path).artifacts["model.txt"] != ""
    (tmp_path / "model.txt").write_text("evil")
    with pytest.raises(ThreatMLError, match="SHA-256 differs"):
        read_card(tmp_path)


def test_model_card_refuses_unsafe_artifacts(tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"x")
    card = ModelCard(name="m", version="1", domain="network", kind="k", artifacts={"model.pkl": ""})
    with pytest.raises(ThreatMLError, match="unsafe format"):
        write_model(tmp_path, card)


def test_registry_resolves_names_versions_and_folders(tmp_path):
    for v, created in (("1", "2024-01-01T00:00:00"), ("2", "2025-01-01T00:00:00")):
        d = tmp_path / "m" / v
        d.mkdir(parents=True)
        (d / "card.json").write_text(json.dumps({"name": "m", "version": v, "domain": "n", "kind": "k", "created": created}))
    assert resolve("m", [tmp_path]) == tmp_path / "m" / "2"
    assert resolve("m@1", [tmp_path]) == tmp_path / "m" / "1"
    assert resolve(tmp_path / "m" / "1", [tmp_path]) == tmp_path / "m" / "1"
    assert {c.version for _, c in list_models([tmp_path])} == {"1", "2"}
    with pytest.raises(ThreatMLError, match="no model"):
        resolve("other", [tmp_path])


def test_truncated_gzip_keeps_what_was_read_and_reports_the_cut(tmp_path):
    import gzip

    from threatml.readers.base import open_binary
    from threatml.readers.zeek import ZeekReader

    header = "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.resp_h\tproto\n"
    rows = "".join(f"{i}.0\tC{i}\t10.0.0.{i % 250}\t10.0.1.1\ttcp\n" for i in range(20000))
    whole = gzip.compress((header + rows).encode())
    cut = tmp_path / "conn.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])

    report = ReadReport()
    n = sum(len(b) for b in ZeekReader().read(cut, report))
    assert 1000 < n < 20000
    reasons = {r for (_, r) in report.skipped}
    assert "truncated gzip stream: the rest of the file is missing" in reasons
    with pytest.raises(EOFError):  # without a report the cut is an error, never silent
        with open_binary(cut) as fh:
            fh.read()
