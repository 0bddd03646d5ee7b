"""Insider detector on generated CERT-style organisations: planted insiders rank first, with reasons."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from threatml.cli import app
from threatml.detectors.insider import detectors
from threatml.detectors.insider.activity import InsiderActivityDetector
from threatml.detectors.insider.daily import DailyActivity
from threatml.detectors.insider.synthetic import generate_cert
from threatml.detectors.registry import ScanOptions
from threatml.errors import ReadReport
from threatml.events import EventBatch
from threatml.readers.cert import CertActivityReader


def run_detector(folder, **kw):
    det, rep = InsiderActivityDetector(**kw), ReadReport()
    for f in sorted(folder.rglob("*.csv")):
        for b in CertActivityReader().read(f, rep):
            assert det.process(b) == []  # nothing can be judged before the history is complete
    return det, det.flush()


def ranking(findings):
    out = []
    for f in sorted(findings, key=lambda f: -f.score):
        if f.entity not in out:
            out.append(f.entity)
    return out


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cert")
    truth = generate_cert(folder, users=60, weeks=6, seed=0, insiders={"leak": 1, "jobhunt": 1})
    det, findings = run_detector(folder)
    return folder, truth, det, findings


def test_planted_insiders_rank_at_the_top(org):
    _, truth, _, findings = org
    planted = {t["user"] for t in truth}
    top = ranking(findings)[: len(planted)]
    assert set(top) == planted, (top, planted)


def test_findings_explain_observed_against_usual_and_peers(org):
    _, truth, det, findings = org
    leak = next(t for t in truth if t["scenario"] == "leak")
    f = next(f for f in findings if f.entity == leak["user"])
    assert f.entity_type == "user" and f.detector == "insider.activity"
    assert f.start <= pd.Timestamp(leak["last_day"]).timestamp() and f.end >= pd.Timestamp(leak["first_day"]).timestamp()
    text = " | ".join(f.explanation)
    assert "file copies" in text and "usual for this user 0 per day" in text and "peers" in text
    assert "T1052.001" in f.attack
    assert f.evidence and all(e.startswith("{R") for e in f.evidence)
    assert f.related["user"] == [leak["user"]] and f.related["mailbox"] == [f"{leak['user']}@dtaa.com"]
    assert det.daily.org_domain == "dtaa.com" and det.daily.org_domain_inferred
    job = next(t for t in truth if t["scenario"] == "jobhunt")
    fj = [f for f in findings if f.entity == job["user"]]
    assert any("outside domains" in " ".join(x.explanation) or "file copies" in " ".join(x.explanation) for x in fj)


def test_quiet_organisation_gives_few_findings_and_weaker_scores(org, tmp_path):
    _, _, _, findings = org
    generate_cert(tmp_path, users=60, weeks=6, seed=0, insiders={})
    _, quiet = run_detector(tmp_path)
    planted_best = max(f.score for f in findings)
    assert len(quiet) < 15 and all(f.score < planted_best for f in quiet)


def test_configured_org_domain_changes_what_is_outside():
    t0 = pd.Timestamp("2010-01-04 10:00").timestamp()
    frame = pd.DataFrame({"@timestamp": [t0, t0 + 60], "event.action": ["email-send"] * 2,
                          "event.dataset": ["cert.email"] * 2, "user.name": ["ann", "ann"], "event.id": ["m1", "m2"],
                          "email.from.address": ["ann@corp.com"] * 2,
                          "email.to.address": ["bob@corp.com,x@mail.corp.com", "eve@gmail.com,z@corp.com"]})
    b = EventBatch.of("activity", frame)
    d = DailyActivity()
    d.add(b.frame)
    assert d.org_domain == "corp.com" and d.table()["email_external"].sum() == 1
    d2 = DailyActivity(org_domain="gmail.com")
    d2.add(b.frame)
    assert d2.table()["email_external"].sum() == 2


def test_factory_reads_protected_domain_and_is_cheap():
    dets = detectors(ScanOptions(protected_domains=("Example.org",)))
    assert len(dets) == 1 and dets[0].daily.org_domain == "example.org"
    assert dets[0].flush() == []  # no activity, no findings


def test_scan_end_to_end_on_a_cert_folder(tmp_path):
    truth = generate_cert(tmp_path, users=40, weeks=5, seed=3, insiders={"leak": 1})
    out = tmp_path.parent / f"{tmp_path.name}-findings.jsonl"
    res = CliRunner().invoke(app, ["scan", str(tmp_path), "--no-store", "--no-report", "--out", str(out)],
                             catch_exceptions=False, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "cert 7" in res.output and "insider.activity" in res.output  # 5 activity files + 2 directory snapshots
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    mine = [x for x in lines if x["rule"]["name"] == "insider.activity" or x["rule"].get("id") == "insider.activity"]
    assert mine
    best = max(mine, key=lambda x: x["event"].get("risk_score", 0) or x["event"].get("severity", 0))
    assert truth[0]["user"] in json.dumps(best)


def test_directory_roles_become_peer_groups(org):
    folder, truth, det, findings = org
    assert len(det.daily.roles) == 60 and set(det.daily.roles.values()) <= {"Salesman", "ITAdmin", "Engineer",
                                                                              "Manager", "Administrative"}
    leak = next(f for f in findings if f.entity == next(t["user"] for t in truth if t["scenario"] == "leak"))
    assert leak.attributes["peer_group"] == det.daily.roles[leak.entity]
    assert f"peers ({leak.attributes['peer_group']})" in " ".join(leak.explanation)


def test_logons_on_someone_elses_computer_are_counted():
    t0 = pd.Timestamp("2010-01-04 09:00").timestamp()
    rows = [(t0 + d * 86400, "logon", "ann", "PC-ANN") for d in range(10)]
    rows += [(t0 + d * 86400, "logon", "bob", "PC-BOB") for d in range(10)]
    rows += [(t0 + 3 * 86400 + 60, "logon", "bob", "PC-ANN"), (t0 + 3 * 86400 + 90, "connect", "bob", "PC-ANN"),
             (t0 + 4 * 86400, "logon", "bob", "PC-LAB"), (t0 + 4 * 86400, "logon", "ann", "PC-LAB")]
    frame = pd.DataFrame(rows, columns=["@timestamp", "event.action", "user.name", "host.name"])
    frame["event.id"] = [f"e{i}" for i in range(len(frame))]
    d = DailyActivity()
    d.add(EventBatch.of("activity", frame).frame)
    t = d.table()
    assert d.owners().to_dict() == {"PC-ANN": "ann", "PC-BOB": "bob"}  # the lab computer has no owner
    day3 = int(np.floor((t0 + 3 * 86400) / 86400))
    assert t.loc[("bob", day3), "others_pc"] == 2 and t["others_pc"].sum() == 2
    assert d.hosts("bob", [day3]) == ["PC-ANN", "PC-BOB"]


def test_history_is_bounded_on_a_long_stream():
    t0 = pd.Timestamp("2010-01-04 09:00").timestamp()
    d = DailyActivity(history_days=30)
    for week in range(20):  # twenty weekly batches of daily logons and drive use
        ts = t0 + (week * 7 + np.arange(7)) * 86400.0
        frame = pd.DataFrame({"@timestamp": np.r_[ts, ts + 60], "event.action": ["logon"] * 7 + ["connect"] * 7,
                              "user.name": "ann", "host.name": "PC-1", "event.id": [f"w{week}-{i}" for i in range(14)]})
        d.add(EventBatch.of("activity", frame).frame)
    t = d.table()
    assert 30 <= len(t) <= 31 + 7 and d.dropped_days >= 140 - 38
    assert len(d.host_use()) == len(t)
    assert not d.evidence("ann", [int(np.floor(t0 / 86400))])  # the first day's evidence is gone
