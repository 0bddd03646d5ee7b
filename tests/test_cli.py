"""The `threatml` command end to end: scan, demo, hunt, models, train/evaluate, bad input."""

import json
import re
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from threatml.cli import app
from threatml.demo.network import generate

runner = CliRunner()


@pytest.fixture(scope="module")
def small_network(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("net"), hours=1.0, hosts=12, seed=3)


def run(*args):
    res = runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "160"})
    return res


def test_scan_writes_store_report_and_ecs(small_network, tmp_path):
    store, report, out = tmp_path / "s.duckdb", tmp_path / "r.html", tmp_path / "f.jsonl"
    res = run("scan", small_network.out_dir, "--store", store, "--report", report, "--out", out)
    assert res.exit_code == 0, res.output
    assert "Scan summary" in res.output and "zeek 4" in res.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines and all(x["event"]["kind"] == "alert" for x in lines)
    assert {"network.dos", "network.bruteforce"} <= {x["rule"]["name"] for x in lines} | {
        x["rule"].get("id") for x in lines
    }
    html = report.read_text()
    assert "<html" in html.lower() and not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?:", html)
    res = run("hunt", "--store", store, "--json", "select detector, count(*) as n from findings group by 1")
    rows = [json.loads(x) for x in res.output.splitlines()]
    assert {"network.dos", "network.bruteforce"} <= {r["detector"] for r in rows}


def test_scan_ocsf_to_stdout_keeps_stdout_to_json_lines(small_network):
    proc = subprocess.run([sys.executable, "-m", "threatml.cli", "scan", str(small_network.conn_log), "--no-store",
                           "--no-report", "--format", "ocsf", "--out", "-"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ocsf = [json.loads(x) for x in proc.stdout.splitlines()]  # every stdout line is one finding
    assert ocsf and all(x["class_uid"] == 2004 for x in ocsf)
    assert "Scan summary" in proc.stderr


def test_bad_input_is_reported_not_raised(tmp_path):
    (tmp_path / "empty.log").write_bytes(b"")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "cut.pcap").write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000") + b"\x01\x02")
    conn = tmp_path / "conn.log"
    conn.write_text("#separator \\x09\n#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n1.0\tCa\t10.0.0.1\nbad\n")
    res = run("scan", tmp_path, "--no-store", "--no-report")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "empty.log" in out and "garbage.bin" in out and "unrecognised format" in out
    assert "Traceback" not in out


def test_missing_path_is_one_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "threatml.cli", "scan", str(tmp_path / "nope")],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr and "Traceback" not in proc.stderr


def test_models_list_and_show_the_shipped_model():
    res = run("models", "list")
    assert res.exit_code == 0 and "network-flow" in res.output
    res = run("models", "show", "network-flow")
    assert res.exit_code == 0 and "hashes verified" in res.output


def test_train_and_evaluate_network_round_trip(small_network, tmp_path):
    model = tmp_path / "m"
    # the demo's ground truth labels its attack flows; everything else in this file is benign
    res = run("train", "network", "--data", f"benign={small_network.conn_log}", "--unsupervised", "--out", model)
    assert res.exit_code == 0, res.output
    assert (model / "card.json").exists()
    res = run("scan", small_network.conn_log, "--no-store", "--no-report", "--baseline", model)
    assert res.exit_code == 0, res.output


def test_demo_runs_and_finds_every_injected_attack(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("demo", "--hours", "2", "--hosts", "14", "--seed", "5")
    assert res.exit_code == 0, res.output
    assert "injected attacks found" in res.output
    found, total = res.output.split(" injected attacks found")[0].split()[-1].split("/")
    assert found == total
    assert (tmp_path / "threatml-demo" / "report.html").exists()


def test_bad_internal_net_is_one_clear_error(small_network):
    proc = subprocess.run([sys.executable, "-m", "threatml.cli", "scan", str(small_network.conn_log), "--no-store",
                           "--no-report", "--internal-net", "300.1.2.0/24"], capture_output=True, text=True)
    assert proc.returncode == 2 and "300.1.2.0/24" in proc.stderr and "Traceback" not in proc.stderr


def test_scan_with_an_indicator_feed(small_network, tmp_path):
    from threatml.demo.network import C2_IP

    feed = tmp_path / "c2.txt"
    feed.write_text(f"# our own list\n{C2_IP}\nnot-an-indicator!!\n")
    out = tmp_path / "f.jsonl"
    res = run("scan", small_network.conn_log, "--no-store", "--no-report", "--intel", feed, "--out", out)
    assert res.exit_code == 0, res.output
    hits = [json.loads(x) for x in out.read_text().splitlines()]
    assert any(h["rule"]["name"] == "intel.ioc" or h["rule"].get("id") == "intel.ioc" for h in hits)
    assert "not a recognised indicator" in res.output  # the bad line is counted, not dropped silently
