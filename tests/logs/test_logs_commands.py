import json

from typer.testing import CliRunner

from logs_fixtures import hdfs_like, syslog_3164
from threatml.cli import app
from threatml.errors import ThreatMLError

runner = CliRunner()


def _session_csv(path, n=200):
    rows = ["BlockId,Label,EventSequence"]
    for i in range(n):
        seq = "E1 E2 E2 E3 E3 E4" if i % 20 else "E1 E2 E7 E7"
        rows.append(f"blk_{i},{0 if i % 20 else 1},{seq}")
    path.write_text("\n".join(rows) + "\n")


def _train_on_hdfs_blocks(tmp_path, test_anomalies: int):
    """`train log` on a generated HDFS-like train.log (block-id sessions) into tmp_path/m; writes test.log
    with ``test_anomalies`` anomalous blocks and returns their ids."""
    hdfs_like(tmp_path / "train.log", n_blocks=200, anomalies=1, seed=3)
    bad = hdfs_like(tmp_path / "test.log", n_blocks=100, anomalies=test_anomalies, seed=4)
    res = runner.invoke(app, ["train", "log", "--data", str(tmp_path / "train.log"), "--session-regex", r"(blk_-?\d+)",
                              "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    return bad


def test_train_and_evaluate_on_session_csv(tmp_path):
    _session_csv(tmp_path / "s.csv")
    res = runner.invoke(app, ["train", "log", "--data", str(tmp_path / "s.csv"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "card.json").exists() and (tmp_path / "m" / "lightgbm.txt").exists()
    res = runner.invoke(app, ["evaluate", "log", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "s.csv"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["f1"] == 1.0 and out["n"] == 200 and {"pca", "invariants", "ngram"} <= set(out["models"])


def test_train_on_raw_hdfs_with_session_regex(tmp_path):
    bad_test = _train_on_hdfs_blocks(tmp_path, test_anomalies=5)
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["domain"] == "log" and card["metrics"]["sessions"] == 200
    assert card["parameters"]["session_regex"] == r"(blk_-?\d+)" and not card["parameters"]["supervised"]
    assert (tmp_path / "m" / "miner.json").exists() and not (tmp_path / "m" / "lightgbm.txt").exists()
    # unlabelled raw logs: evaluate still scores them (all sessions normal by label), and reads the miner back
    res = runner.invoke(app, ["evaluate", "log", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "test.log"),
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] == 100 and out["n_malicious"] == 0 and out["confusion_matrix"][0][1] >= len(bad_test) == 5


def test_templates_command_json_and_resume(tmp_path):
    syslog_3164(tmp_path / "s.log", n=400, planted=False)
    res = runner.invoke(app, ["templates", str(tmp_path / "s.log"), "--json", "--save", str(tmp_path / "st.json")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["lines"] == 400 and 3 <= out["templates"] <= 8
    assert sum(i["count"] for i in out["items"]) == 400
    res = runner.invoke(app, ["templates", str(tmp_path / "s.log"), "--resume", str(tmp_path / "st.json"), "--json"])
    assert json.loads(res.stdout)["lines"] == 800
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 64)  # binary files are left out and said so
    res = runner.invoke(app, ["templates", str(tmp_path / "blob.bin"), str(tmp_path / "s.log"), "--json"])
    out = json.loads(res.stdout)
    assert out["lines"] == 400 and "not a text log" in out["read"]["skipped"][0]["reason"]


def test_bad_options_are_clear_errors(tmp_path):
    _session_csv(tmp_path / "s.csv")
    res = runner.invoke(app, ["train", "log", "--data", str(tmp_path / "s.csv"), "--out", str(tmp_path / "m"),
                              "--window", "five minutes"])
    assert res.exit_code != 0 and isinstance(res.exception, ThreatMLError) and "bad window" in str(res.exception)
    syslog_3164(tmp_path / "s.log", n=50, planted=False)
    res = runner.invoke(app, ["scan", str(tmp_path / "s.log"), "--no-store", "--no-report", "--session-regex", "("])
    assert isinstance(res.exception, ThreatMLError) and "not a valid regex" in str(res.exception)


def test_scan_finds_planted_anomaly_and_stays_quiet_on_normal(tmp_path):
    syslog_3164(tmp_path / "attack.log", n=3000, planted=True)
    out = tmp_path / "f.jsonl"
    res = runner.invoke(app, ["scan", str(tmp_path / "attack.log"), "--no-store", "--no-report", "--out", str(out)])
    assert res.exit_code == 0, res.output
    found = [json.loads(x) for x in out.read_text().splitlines()]
    mine = [f for f in found if "logs.anomaly" in json.dumps(f)]
    assert mine and len(mine) <= 5
    assert any("Out of memory" in json.dumps(f) or "segfault" in json.dumps(f) for f in mine)
    syslog_3164(tmp_path / "normal.log", n=3000, planted=False)
    out2 = tmp_path / "g.jsonl"
    res = runner.invoke(app, ["scan", str(tmp_path / "normal.log"), "--no-store", "--no-report", "--out", str(out2)])
    assert res.exit_code == 0, res.output
    assert "logs.anomaly" not in out2.read_text()


def test_train_with_fixed_and_sliding_windows(tmp_path):
    syslog_3164(tmp_path / "s.log", n=600, planted=False)  # one hour of lines every 6 s
    counts = {}
    for spec in ("10m", "10m/5m"):
        out = tmp_path / spec.replace("/", "-")
        res = runner.invoke(app, ["train", "log", "--data", str(tmp_path / "s.log"), "--window", spec, "--out", str(out)])
        assert res.exit_code == 0, res.output
        card = json.loads((out / "card.json").read_text())
        assert card["parameters"]["window"] == spec
        counts[spec] = card["metrics"]["sessions"]
    assert counts["10m"] == 6 and counts["10m/5m"] == 13  # every line sits in two overlapping windows


def test_scan_with_trained_log_model(tmp_path):
    bad = _train_on_hdfs_blocks(tmp_path, test_anomalies=3)
    out = tmp_path / "f.jsonl"
    res = runner.invoke(app, ["scan", str(tmp_path / "test.log"), "--no-store", "--no-report", "--out", str(out),
                              "--session-regex", r"(blk_-?\d+)", "--log-model", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    found = [json.loads(x) for x in out.read_text().splitlines()]
    mine = [f for f in found if "logs.anomaly" in json.dumps(f)]
    assert mine and all("trained log model" in json.dumps(f) for f in mine)
    assert {e for f in mine for e in bad if e in json.dumps(f)} and len(mine) <= 3
    # without --session-regex the scan groups sessions as the model was trained (the card's regex)
    out2 = tmp_path / "g.jsonl"
    res = runner.invoke(app, ["scan", str(tmp_path / "test.log"), "--no-store", "--no-report", "--out", str(out2),
                              "--log-model", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    again = [json.loads(x) for x in out2.read_text().splitlines() if "logs.anomaly" in x]
    assert again and {e for f in again for e in bad if e in json.dumps(f)} == \
        {e for f in mine for e in bad if e in json.dumps(f)}
    res = runner.invoke(app, ["scan", str(tmp_path / "test.log"), "--no-store", "--no-report",
                              "--log-model", str(tmp_path / "missing")])
    assert res.exit_code != 0
