"""File models: header features from other collections' tables, training and evaluating from the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import INJECTION, PLAIN, build_pe
from shared_data import DATASETS
from threatml.cli import app
from threatml.errors import ThreatMLError
from threatml.files.confounds import balance_weights, strata
from threatml.files.header_features import FEATURES, header_model_features, load_header_table
from threatml.files.rich_raw import rich_raw
from threatml.models.file_model import FileClassifier

runner = CliRunner()
CLAMP = DATASETS / "files" / "clamp" / "dataset" / "ClaMP_Raw-5184.csv"


def synthetic_headers(n: int, seed: int = 0) -> pd.DataFrame:
    """PE header rows where malware (label 1) has no checksum, a writable-code layout and old linkers."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "Machine": 332, "NumberOfSections": rng.integers(3, 8, n),
        "Characteristics": np.where(rng.random(n) < 0.4, 0x2102, 0x0102),
        "MajorLinkerVersion": np.where(y == 1, rng.integers(2, 7, n), rng.integers(8, 15, n)),
        "SizeOfCode": rng.integers(4096, 1 << 20, n), "AddressOfEntryPoint": rng.integers(4096, 1 << 16, n),
        "BaseOfCode": 4096, "SizeOfImage": rng.integers(1 << 17, 1 << 22, n), "Subsystem": 2, "Magic": 267,
        "CheckSum": np.where((y == 1) & (rng.random(n) < 0.8), 0, rng.integers(1, 1 << 20, n)),
        "TimeDateStamp": rng.integers(1.0e9, 1.6e9, n), "Malware": y,
    })
    return df


def test_other_collections_tables_map_onto_pefile_names(tmp_path):
    df = synthetic_headers(20).rename(columns={"Machine": "machine", "SizeOfCode": "SIZEOFCODE"})
    df["Name"] = "x.exe"
    p = tmp_path / "kaggle_style.csv"
    df.to_csv(p, index=False)
    h, y, notes = load_header_table(p)
    assert "SizeOfCode" in h and "Machine" in h and "CreationYear" in h  # derived from TimeDateStamp
    assert y.tolist() == df["Malware"].tolist()
    X = header_model_features(h)
    assert list(X.columns) == list(FEATURES) and X["e_lfanew"].isna().all()  # absent -> unknown
    # MalwareData.csv style: '|'-separated, no DOS fields, SectionsNb, 'legitimate' = 1 for benign
    inv = df.rename(columns={"Malware": "legitimate", "NumberOfSections": "SectionsNb"})
    inv.to_csv(p, index=False, sep="|")
    h2, y2, _ = load_header_table(p)
    assert y2.tolist() == (1 - df["Malware"]).tolist()
    assert h2["NumberOfSections"].tolist() == df["NumberOfSections"].tolist()


def test_balance_weights_remove_stratum_signal():
    header = pd.DataFrame({"Characteristics": [0x2102] * 10 + [0x102] * 10, "Subsystem": 2, "Magic": 267})
    y = np.array([0] * 9 + [1] + [1] * 8 + [0] * 2)
    w = balance_weights(strata(header), y)
    dll, exe = np.arange(10), np.arange(10, 20)
    for idx in (dll, exe):
        assert w[idx][y[idx] == 1].sum() == pytest.approx(w[idx][y[idx] == 0].sum())


def test_classifier_roundtrip_and_explanations(tmp_path):
    df = synthetic_headers(300)
    y = df.pop("Malware").to_numpy()
    X = header_model_features(df)
    m = FileClassifier(n_estimators=50).fit(X, y)
    m.save(tmp_path / "m", name="t", feature_set="pe-header")
    m2 = FileClassifier.load(tmp_path / "m")
    assert np.allclose(m2.score_samples(X), m.score_samples(X))
    top = m2.explain(X[y == 1].iloc[:1])[0]
    assert top and top[0].split(" ")[0] in {"MajorLinkerVersion", "checksum_set"}
    (tmp_path / "m" / "model.txt").write_text("tampered")
    with pytest.raises(Exception, match="SHA-256"):
        FileClassifier.load(tmp_path / "m")


def test_train_and_evaluate_header_csv_from_the_cli(tmp_path):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    synthetic_headers(400, seed=1).to_csv(train, index=False)
    synthetic_headers(200, seed=2).to_csv(test, index=False)
    res = runner.invoke(app, ["train", "file", "--data", str(train), "--out", str(tmp_path / "hm")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "hm" / "card.json").read_text())
    assert card["name"] == "file-header" and card["feature_set"] == "pe-header" and card["metrics"]["roc_auc"] > 0.95
    res = runner.invoke(app, ["evaluate", "file", "--model", str(tmp_path / "hm"), "--data", str(test), "--json"],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    for key in ("n", "roc_auc", "detection_rate_at_fpr_1pct", "benign_fpr", "confusion_matrix", "shifted_roc_auc"):
        assert key in m
    assert m["n"] == 200 and m["roc_auc"] > 0.95


def test_cli_rejects_bad_label_and_unlabeled_folders(tmp_path):
    (tmp_path / "d").mkdir()
    # the CLI's main() prints ThreatMLError as one line and exits 2; here the error itself is checked
    res = runner.invoke(app, ["train", "file", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o")])
    assert isinstance(res.exception, ThreatMLError) and "needs a label" in str(res.exception)
    res = runner.invoke(app, ["train", "file", "--data", f"weird={tmp_path / 'd'}", "--out", str(tmp_path / "o")])
    assert isinstance(res.exception, ThreatMLError) and "neither" in str(res.exception)


def _variants(kind: str, n: int) -> list[bytes]:
    rng = np.random.default_rng(0 if kind == "bad" else 1)
    out = []
    for i in range(n):
        if kind == "bad":
            out.append(build_pe(INJECTION, section_names=("UPX0", "UPX1"), overlay=rng.bytes(int(rng.integers(2000, 9000)))))
        else:
            out.append(build_pe(PLAIN, code=bytes(rng.integers(0x20, 0x7E, int(rng.integers(64, 2000))).astype(np.uint8)),
                                checksum=int(rng.integers(1, 1 << 20))))
    return out


def test_rich_model_from_labeled_folders_and_ember_jsonl(tmp_path):
    for kind in ("bad", "good"):
        (tmp_path / kind).mkdir()
        for i, data in enumerate(_variants(kind, 30)):
            (tmp_path / kind / f"{i}.exe").write_bytes(data)
        (tmp_path / kind / "notes.txt").write_text("not a PE")
    res = runner.invoke(app, ["train", "file", "--data", f"malware={tmp_path / 'bad'}", "--data",
                              f"benign={tmp_path / 'good'}", "--out", str(tmp_path / "rich")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "rich" / "card.json").read_text())
    assert card["feature_set"] == "rich" and card["metrics"]["n"] == 60
    # EMBER layout: the same raw dicts as jsonl, one record in the 2017 layout (no datadirectories), one unlabeled
    jl = tmp_path / "train_features.jsonl"
    with open(jl, "w") as fh:
        for label, kind in ((1, "bad"), (0, "good")):
            for j, data in enumerate(_variants(kind, 30)):
                raw, _ = rich_raw(data)
                raw.pop("threatml")
                if j == 0:
                    raw.pop("datadirectories")
                fh.write(json.dumps({"sha256": f"{kind}{j}", "label": label, "appeared": "2018-01", **raw}) + "\n")
        fh.write(json.dumps({"sha256": "u", "label": -1, "histogram": [0] * 256}) + "\n")
    res = runner.invoke(app, ["train", "file", "--data", str(jl), "--out", str(tmp_path / "ember")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["evaluate", "file", "--model", str(tmp_path / "ember"), "--data", f"malware={tmp_path / 'bad'}",
                              "--data", f"benign={tmp_path / 'good'}", "--json"], catch_exceptions=False)
    m = json.loads(res.stdout)
    assert m["feature_set"] == "rich" and m["n"] == 60 and m["roc_auc"] > 0.9 and m["skipped"] == 2
    # the scan detector computes rich features on demand when a rich model is given
    from threatml.detectors.files.static import FileStaticDetector
    from threatml.errors import ReadReport
    from threatml.readers.files import FileReader

    det = FileStaticDetector(header_model=None, rich_model=str(tmp_path / "rich"), use_default_rules=False)
    found = []
    for p in sorted((tmp_path / "bad").glob("*.exe"))[:5]:
        for b in FileReader().read(p, ReadReport()):
            found += det.process(b)
    assert found and all(f.attributes["model"] == "file-rich model" for f in found)


@pytest.mark.skipif(not CLAMP.exists(), reason=f"ClaMP data not found at {CLAMP}")
def test_shipped_clamp_model_scores_clamp():
    from threatml.models.registry import resolve

    m = FileClassifier.load(resolve("file-clamp"))
    h, y, _ = load_header_table(CLAMP)
    s = m.score_samples(header_model_features(h))
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, s) > 0.99
    card = json.loads((resolve("file-clamp") / "card.json").read_text())
    assert card["metrics"]["roc_auc"] >= 0.995 and card["metrics"]["detection_rate_at_fpr_1pct"] >= 0.95
