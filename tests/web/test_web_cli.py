"""`threatml scan` end to end on a generated Zeek dns.log, and the train/evaluate url|dga commands."""

import json
import os
import subprocess
import sys

import numpy as np
from typer.testing import CliRunner

from threatml.cli import app
from web_gen import benign_domains, benign_urls, phishing_urls, random_dga, tunnel_queries, write_zeek_dns

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "160"})


def test_scan_finds_tunnel_and_dga_in_a_zeek_dns_log(tmp_path):
    rows = []
    for i, d in enumerate([f"www.{d}" for d in benign_domains(150)] * 4):
        rows.append((1_700_000_000 + i * 3.0, f"192.168.1.{10 + i % 20}", d, "A", "NOERROR"))
    for i, q in enumerate(tunnel_queries(300)):
        rows.append((1_700_000_100 + i * 2.0, "192.168.1.66", q, "TXT", "NOERROR"))
    for i, q in enumerate(random_dga(40, seed=8, tld="info")):
        rows.append((1_700_000_200 + i * 5.0, "192.168.1.77", q, "A", "NXDOMAIN"))
    rows.sort()
    log = write_zeek_dns(tmp_path / "dns.log", rows)
    out = tmp_path / "f.jsonl"
    res = run("scan", log, "--no-store", "--no-report", "--out", out)
    assert res.exit_code == 0, res.output
    found = [json.loads(x) for x in out.read_text().splitlines()]
    web = {(f["event"]["provider"], f["labels"]["entity_type"]) for f in found if f["event"]["provider"].startswith("web.")}
    assert web == {("web.dns-tunnel", "domain"), ("web.dga", "host")}
    msgs = " ".join(f["message"] for f in found)
    assert "exfil-tunnel.net" in msgs and "192.168.1.77" in msgs
    assert "192.168.1.10 " not in msgs  # benign clients stay quiet


def test_train_and_evaluate_url_commands(tmp_path):
    (tmp_path / "good.txt").write_text("\n".join(benign_urls(300)) + "\n")
    (tmp_path / "bad.txt").write_text("# phishing\n" + "\n".join(phishing_urls(300)) + "\n")
    model = tmp_path / "url-model"
    res = run("train", "url", "--data", f"benign={tmp_path / 'good.txt'}", "--data", f"phishing={tmp_path / 'bad.txt'}",
              "--out", model, "--n-estimators", "30")
    assert res.exit_code == 0, res.output
    assert (model / "card.json").exists()
    csv = tmp_path / "test.csv"
    csv.write_text("url,verdict\n" + "".join(f"{u},good\n" for u in benign_urls(50, seed=5))
                   + "".join(f"{u},bad\n" for u in phishing_urls(50, seed=6)))
    res = run("evaluate", "url", "--model", model, "--data", csv, "--label-column", "verdict", "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    for k in ("n", "roc_auc", "f1", "precision", "recall", "benign_fpr", "detection_rate_at_fpr_1pct", "confusion_matrix"):
        assert k in m
    assert m["n"] == 100 and m["roc_auc"] > 0.9


def test_train_url_keeps_a_popularity_prior(tmp_path):
    from threatml.web.url_model import UrlModel

    (tmp_path / "good.txt").write_text("\n".join(benign_urls(200)) + "\n")
    (tmp_path / "bad.txt").write_text("\n".join(phishing_urls(200)) + "\n")
    (tmp_path / "top.csv").write_text("1,www.example-news.com\n2,shop.example-store.org\n3,example-news.com\n")
    model = tmp_path / "m"
    res = run("train", "url", "--data", f"benign={tmp_path / 'good.txt'}", "--data", f"phishing={tmp_path / 'bad.txt'}",
              "--out", model, "--n-estimators", "20", "--popular", tmp_path / "top.csv")
    assert res.exit_code == 0, res.output
    prior = UrlModel.load(model).popular_
    assert prior.to_dict() == {"example-news.com": 1.0, "example-store.org": 2.0}


def test_train_and_evaluate_dga_commands_report_families(tmp_path):
    feed = tmp_path / "feed.txt"  # 360netlab layout: family, domain, start, end
    lines = [f"alpha\t{d}\t2026-01-01\t2026-01-02" for d in random_dga(200, seed=1, tld="biz")]
    lines += [f"hexy\t{''.join(np.random.default_rng(i).choice(list('0123456789abcdef'), 24))}.org\t2026-01-01\t2026-01-02"
              for i in range(200)]
    feed.write_text("\n".join(lines) + "\n")
    top = tmp_path / "top.csv"
    top.write_text("".join(f"{i},{d}\n" for i, d in enumerate(benign_domains(500), 1)))
    text = tmp_path / "words.txt"
    text.write_text("the garden house by the river with a green table and stone path to the market " * 20)
    model = tmp_path / "dga-model"
    res = run("train", "dga", "--data", feed, "--data", f"benign={top}", "--text", text, "--out", model,
              "--n-estimators", "40", "--synthetic", "200")
    assert res.exit_code == 0, res.output
    unseen = tmp_path / "unseen.txt"
    unseen.write_text("\n".join(random_dga(60, seed=9, tld="net")) + "\n")
    res = run("evaluate", "dga", "--model", model, "--data", feed, "--data", f"gamma={unseen}",
              "--data", f"benign={top}", "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert m["families_not_in_training"] == ["gamma"] and m["unseen_family_mean_roc_auc"] > 0.9
    assert m["per_class"]["alpha"]["detection_rate_at_fpr_1pct"] > 0.8 and m["family_accuracy"] > 0.9


def cli(*args):
    # through main(): user errors print one line and exit 2
    return subprocess.run([sys.executable, "-c", "from threatml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})


def test_bad_data_is_one_clear_error(tmp_path):
    plain = tmp_path / "list.txt"
    plain.write_text("example.com\n")
    p = cli("train", "dga", "--data", plain, "--out", tmp_path / "m")
    assert p.returncode == 2 and "list.txt:line 1: a plain list needs a label" in p.stderr
    p = cli("evaluate", "url", "--data", tmp_path / "missing.csv", "--json")
    assert p.returncode == 2 and "missing.csv: no such file" in p.stderr and "Traceback" not in p.stderr
    one = tmp_path / "one.txt"
    one.write_text("a.com\nb.com\n")
    p = cli("train", "url", "--data", f"benign={one}", "--out", tmp_path / "m")
    assert p.returncode == 2 and "one class only" in p.stderr
