"""Analyst feedback, suppressions, alert budgets, entity risk, saved hunts and store migration."""

import csv
import json

import duckdb
import pytest
from typer.testing import CliRunner

from threatml.cli import app
from threatml.demo.network import generate
from threatml.errors import ThreatMLError
from threatml.findings import Finding
from threatml.store import Store
from threatml.triage import budget, feedback, hunts, suppress
from threatml.triage.risk import entity_risk

runner = CliRunner()
T0 = 1_700_000_000.0


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


def mk(det, t, entity, score):
    return Finding.make(detector=det, detector_version="1", title=f"{det} {entity}", start=T0 + t, end=T0 + t + 10,
                        entity=entity, score=score)


@pytest.fixture
def store(tmp_path):
    st = Store(tmp_path / "s.duckdb")
    sid = st.begin_scan(["x"], "scan")
    st.add_findings(sid, [mk("network.beacon", 0, "10.0.0.7", 0.8), mk("network.beacon", 5, "10.0.0.8", 0.6),
                          mk("network.portscan", 9, "10.0.0.9", 0.95)])
    st.finish_scan(sid, {})
    yield st
    st.close()


def test_mark_by_prefix_and_export_labels(store, tmp_path):
    fid = store.findings()[0].id
    feedback.mark(store, fid[:8], "fp", comment="updater")
    feedback.mark(store, fid, "btp", comment="changed my mind")  # the latest verdict wins
    assert feedback.verdicts(store) == {fid: "btp"}
    n = feedback.export_labels(store, tmp_path / "labels.csv")
    rows = list(csv.DictReader(open(tmp_path / "labels.csv")))
    assert n == 1 and rows[0]["label"] == "benign" and rows[0]["comment"] == "changed my mind"
    feedback.export_labels(store, tmp_path / "labels.jsonl")
    assert json.loads(open(tmp_path / "labels.jsonl").readline())["finding_id"] == fid


def test_bad_verdicts_and_ids_are_clear_errors(store):
    with pytest.raises(ThreatMLError, match="unknown verdict"):
        feedback.mark(store, store.findings()[0].id, "maybe")
    with pytest.raises(ThreatMLError, match="no finding"):
        feedback.mark(store, "ffffffffff", "tp")
    with pytest.raises(ThreatMLError, match="too short"):
        feedback.mark(store, "ab", "tp")


def test_suppression_rules_match_expire_and_refuse_to_hide_everything(store):
    rule = suppress.add(store, detector="network.beacon", entity="10.0.0.7", reason="known updater")
    glob = suppress.add(store, title_like="*portscan*")
    kept, hits = suppress.apply(store.findings(), suppress.active(store))
    assert [f.entity for f in kept] == ["10.0.0.8"] and hits == {rule.id: 1, glob.id: 1}
    suppress.add(store, entity="10.0.0.8", days=-1)  # already expired
    assert len(suppress.active(store)) == 2
    with pytest.raises(ThreatMLError, match="at least"):
        suppress.add(store, reason="everything")


def test_alert_budget_per_day_and_from_verdicts(store):
    fs = [mk("d", i * 3600.0, f"h{i}", s) for i, s in enumerate([0.2, 0.4, 0.9] * 16)]  # 47 h
    th = budget.fit_alerts_per_day(fs, alerts_per_day=9)  # 17 allowed: the sixteen 0.9s
    kept, dropped = budget.apply(fs, {d: v["threshold"] for d, v in th.items()})
    assert len(kept) <= 9 * th["d"]["baseline_days"] and dropped["d"] == len(fs) - len(kept)
    assert {f.score for f in kept} == {0.9}
    beacon = [f for f in store.findings() if f.detector == "network.beacon"]
    feedback.mark(store, beacon[0].id, "tp")
    feedback.mark(store, beacon[1].id, "fp")
    th = budget.fit_max_fpr(store, 0.0)
    assert th["network.beacon"]["threshold"] == pytest.approx(0.6) and th["network.beacon"]["recall"] == 1.0


def test_budget_file_round_trip_and_bad_file(tmp_path):
    budget.save(tmp_path / "b.json", {"x": {"threshold": 0.3}}, {"alerts_per_day": 1})
    assert budget.load(tmp_path / "b.json") == {"x": 0.3}
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ThreatMLError, match="not a readable alert budget"):
        budget.load(tmp_path / "bad.json")


def test_risk_needs_more_than_one_noisy_detector():
    noisy = [mk("a", i * 60, "10.0.0.5", 0.5) for i in range(50)]  # one detector, one day: counts once
    two = [mk("a", 0, "10.0.0.6", 0.5), mk("b", 60, "10.0.0.6", 0.5)]
    r = {x.entity: x.risk for x in entity_risk(noisy + two)}
    assert r["10.0.0.6"] == pytest.approx(2 * r["10.0.0.5"], rel=1e-3)


def test_saved_hunt_runs_per_scan_and_write_sql_is_refused(store):
    hunts.save(store, "critical", "SELECT entity FROM findings WHERE scan_id = $scan_id AND score > 0.9")
    with pytest.raises(ThreatMLError, match="read-only"):
        hunts.save(store, "evil", "DELETE FROM findings")
    with pytest.raises(ThreatMLError, match="SQL error"):
        hunts.save(store, "broken", "SELECT nope FROM findings")
    (res,) = hunts.run_saved(store, 1)
    assert res.rows == [("10.0.0.9",)] and not res.error
    assert store.con.execute("SELECT row_count FROM hunt_results").fetchall() == [(1,)]


def test_version_1_store_is_migrated(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    from threatml.store.duckdb_store import _DDL

    for ddl in _DDL:
        con.execute(ddl)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.close()
    with Store(path) as st:
        assert st.con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchall() == [("2",)]
        assert st.incidents() == [] and suppress.active(st) == []


def test_triage_cli_end_to_end(tmp_path):
    net = generate(tmp_path / "net", hours=1.0, hosts=12, seed=3)
    store = tmp_path / "s.duckdb"
    assert run("scan", net.out_dir, "--store", store, "--no-report").exit_code == 0
    with Store(store) as st:
        first = st.findings(1)
        target = max(first, key=lambda f: f.score)
    assert run("hunt", "--store", store, "--save", "mine", "SELECT count(*) AS n FROM findings WHERE scan_id = $scan_id").exit_code == 0
    res = run("triage", "mark", target.id, "-v", "fp", "-c", "lab scanner", "--suppress", "--store", store)
    assert res.exit_code == 0 and "suppression rule 1" in res.output
    with pytest.raises(ThreatMLError, match="true positive should keep alerting"):
        run("triage", "mark", target.id, "-v", "tp", "--suppress", "--store", store)
    res = run("scan", net.out_dir, "--store", store, "--no-report")
    assert res.exit_code == 0 and "suppressed" in res.output and "mine: 1 rows" in res.output
    with Store(store) as st:
        second = st.findings(2)
    assert target.id not in {f.id for f in second} and len(second) == len(first) - 1
    assert run("budget", "--store", store, "--scan", 1, "--alerts-per-day", 0, "-o", tmp_path / "b.json").exit_code == 0
    res = run("scan", net.out_dir, "--store", store, "--no-report", "--budget", tmp_path / "b.json")
    assert res.exit_code == 0 and "below budget" in res.output
    res = run("triage", "export", "-o", tmp_path / "l.csv", "--store", store)
    assert res.exit_code == 0 and "1 labeled" in res.output
    res = run("risk", "--store", store, "--json")
    rows = [json.loads(x) for x in res.output.splitlines() if x.startswith("{")]
    assert res.exit_code == 0 and rows  # the dismissed finding adds no risk:
    assert not any(r["entity"] == target.entity and target.detector in r["detectors"] for r in rows)


def test_export_confirmed_incident_as_stix_and_misp(tmp_path):
    import stix2

    from threatml.findings.incidents import group_incidents

    path = tmp_path / "s.duckdb"
    f = Finding.make(detector="web.url", detector_version="1", title="Phishing URL visited", start=T0, end=T0 + 5,
                     entity="10.0.0.4", score=0.9, attack=["T1566.002"],
                     related={"domain": ["login-verify.example"], "url": ["http://login-verify.example/owa"]})
    with Store(path) as st:
        sid = st.begin_scan(["x"], "scan")
        st.add_findings(sid, [f])
        st.add_incidents(sid, group_incidents([f]))
        st.finish_scan(sid, {})
    with pytest.raises(ThreatMLError, match="no confirmed incidents"):
        run("export", "stix", "--confirmed", "--store", path, "-o", tmp_path / "x")
    assert run("triage", "mark", f.id, "-v", "tp", "--store", path).exit_code == 0
    for fmt in ("stix", "misp"):
        assert run("export", fmt, "--confirmed", "--store", path, "-o", tmp_path / "x").exit_code == 0
    (stix_file,) = (tmp_path / "x").glob("*.stix.json")
    bundle = stix2.parse(stix_file.read_text(), allow_custom=False)
    patterns = {o.pattern for o in bundle.objects if o.type == "indicator"}
    assert "[domain-name:value = 'login-verify.example']" in patterns
    assert any(o.type == "sighting" for o in bundle.objects)
    (misp_file,) = (tmp_path / "x").glob("*.misp.json")
    event = json.loads(misp_file.read_text())["Event"]
    assert {"domain", "url"} <= {a["type"] for a in event["Attribute"]}


def test_export_shares_an_outside_attacker_but_not_an_inside_victim():
    from threatml.intel.export import observables

    brute = Finding.make(detector="network.bruteforce", detector_version="1", title="Brute force", start=T0,
                         end=T0 + 9, entity="203.0.113.77", score=0.8, related={"targets": ["10.10.1.22"]})
    flood = Finding.make(detector="network.dos", detector_version="1", title="DoS", start=T0, end=T0 + 9,
                         entity="198.51.100.80", score=0.8, related={"sources": ["192.0.2.1", "192.0.2.2"]})
    inside = Finding.make(detector="network.beacon", detector_version="1", title="Beacon", start=T0, end=T0 + 9,
                          entity="10.0.0.5", score=0.8)
    assert [(o.type, o.value, o.inbound) for o in observables(brute)] == [("ipv4", "203.0.113.77", True)]
    assert observables(flood) == [] and observables(inside) == []
