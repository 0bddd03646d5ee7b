"""End to end: `threatml scan` on identity files, train/evaluate auth, baselines kept in the store, real auth.log."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threatml.cli import app
from threatml.identity.synthetic import auth_log_lines, windows_events
from threatml.store.baselines import load_states
from shared_data import DATASETS

runner = CliRunner()
REAL = DATASETS / "auth" / "auth.log"


def run(*args):
    res = runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture()
def logs(tmp_path):
    lines, truth = auth_log_lines(days=14, seed=5)
    (tmp_path / "data").mkdir()
    log = tmp_path / "data" / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    stamp = datetime(2023, 12, 31, tzinfo=timezone.utc).timestamp()
    os.utime(log, (stamp, stamp))  # syslog stamps have no year: the file's mtime gives 2023
    recs, _ = windows_events()
    (tmp_path / "data" / "security.json").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    return tmp_path / "data", truth


def test_scan_cli_finds_identity_attacks(logs, tmp_path):
    data, truth = logs
    out = tmp_path / "findings.jsonl"
    run("scan", data, "--no-store", "--no-report", "--out", out)
    found = [json.loads(x) for x in out.read_text().splitlines()]
    text = json.dumps(found)
    for ip in truth["bruteforce_sources"] + truth["spray_sources"]:
        assert ip in text
    assert "T1558.003" in text and "T1003.001" in text and "T1110.003" in text


def test_store_keeps_baselines_between_scans(logs, tmp_path):
    data, _ = logs
    store = tmp_path / "s.duckdb"
    run("scan", data / "auth.log", "--store", store, "--no-report")
    users = load_states(store, "auth.users")
    assert {"alice", "bob", "carol"} <= set(users)
    n1 = users["alice"]["logons"]
    run("scan", data / "auth.log", "--store", store, "--no-report")
    assert load_states(store, "auth.users")["alice"]["logons"] == 2 * n1  # incremental, not refit
    assert load_states(store, "auth.risk")["*"]["state"]


def test_train_and_evaluate_auth(logs, tmp_path):
    data, _ = logs
    model = tmp_path / "model"
    store = tmp_path / "trained.duckdb"
    run("train", "auth", "--data", data / "auth.log", "--out", model, "--until", "2023-03-15", "--store", store)
    assert load_states(store, "auth.users")["alice"]["logons"] > 0  # scans with --store start from these
    card = json.loads((model / "card.json").read_text())
    assert card["kind"] == "identity-baseline" and card["metrics"]["outside_period"] > 0
    res = run("evaluate", "auth", "--model", model, "--data", data / "auth.log", "--json")
    m = json.loads(res.output)
    assert m["findings"] > 0 and m["labels"].startswith("absent")
    # LANL with red-team labels: the common metric keys appear
    lanl = tmp_path / "lanl"
    lanl.mkdir()
    rows = [f"{t},U{t % 5}@DOM1,U{t % 5}@DOM1,C{t % 5},C9,Kerberos,Network,LogOn,Success" for t in range(1, 60)]
    rows += [f"{100 + k},U1@DOM1,U1@DOM1,C66,C9,NTLM,Network,LogOn,Fail" for k in range(12)]
    rows.append("113,U1@DOM1,U1@DOM1,C66,C9,NTLM,Network,LogOn,Success")
    (lanl / "auth.txt").write_text("\n".join(rows) + "\n")
    (lanl / "redteam.txt").write_text("113,U1@DOM1,C66,C9\n")
    m = json.loads(run("evaluate", "auth", "--data", lanl / "auth.txt", "--json").output)
    assert m["n_malicious"] == 1 and m["recall"] == 1.0 and "roc_auc" in m


def test_bad_input_is_reported_not_raised(tmp_path):
    (tmp_path / "empty.evtx").write_bytes(b"ElfFile\x00" + b"x" * 50)
    res = run("scan", tmp_path, "--no-store", "--no-report")
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["train", "auth", "--data", str(tmp_path / "empty.evtx"), "--out", str(tmp_path / "m")])
    assert res.exit_code != 0 and "no authentication events" in str(res.exception)


@pytest.mark.skipif(not REAL.exists(), reason=f"real auth.log absent ({REAL})")
def test_real_authlog_every_bruteforcing_source_reported_once_per_campaign():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from bench_identity import accuracy_authlog

    r = accuracy_authlog()
    assert r["ground_truth_sources"] >= 5
    assert r["missed_sources"] == [] and r["sources_with_overlapping_findings"] == []
    assert r["admin_reported_as_compromise"] == []
