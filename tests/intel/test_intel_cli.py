"""End to end: `threatml scan --intel` with STIX and MISP feeds, and `threatml intel check`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from intel_helpers import bundle, indicator
from threatml.cli import app
from threatml.demo.network import C2_DOMAIN, C2_IP, EXFIL_DOMAIN, generate

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("net"), hours=0.5, hosts=12, seed=5)


def _feeds(folder):
    stix = bundle(folder / "c2.json", [
        indicator(1, f"[domain-name:value = '{C2_DOMAIN}']", labels=["c2"], confidence=90),
        indicator(2, "[ipv4-addr:value = ", ),  # malformed: reported, skipped
        indicator(3, "rule a { condition: true }", pattern_type="yara"),
    ])
    misp = folder / "event.json"
    misp.write_text(json.dumps({"Event": {"info": "exfil", "threat_level_id": "2", "Attribute": [
        {"type": "ip-dst", "value": C2_IP, "to_ids": True},
        {"type": "hostname", "value": EXFIL_DOMAIN, "to_ids": True},
        {"type": "ip-dst", "value": "1.2.3.999", "to_ids": True}]}}))
    return stix, misp


def test_scan_with_stix_and_misp_feeds_finds_the_planted_indicators(net, tmp_path):
    stix, misp = _feeds(tmp_path)
    out = tmp_path / "f.jsonl"
    # the logs the planted values appear in (the whole folder would only add other detectors' work)
    res = run("scan", net.conn_log, net.dns_log, "--no-store", "--no-report", "--no-model", "--intel", stix,
              "--intel", misp, "--out", out)
    assert res.exit_code == 0, res.output
    hits = [json.loads(x) for x in out.read_text().splitlines()]
    text = [json.dumps(h) for h in hits if "intel.ioc" in json.dumps(h.get("rule", {}))]
    for value in (C2_DOMAIN, C2_IP, EXFIL_DOMAIN):
        assert any(value in t for t in text), value
    assert "pattern_type 'yara' not supported" in res.output  # what the feeds' loading skipped is shown


def test_intel_check_prints_counts_and_skips(tmp_path):
    stix, misp = _feeds(tmp_path)
    res = run("intel", "check", stix, misp, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["types"] == {"domain": 2, "ipv4": 1}
    assert out["sources"] == {"c2.json": {"domain": 1}, "event.json": {"domain": 1, "ipv4": 1}}
    reasons = {s["reason"]: s["first_at"] for s in out["skipped"]}
    assert reasons["pattern_type 'yara' not supported (only stix)"] == "object 3"
    assert reasons["bad ip value (bad IPv4 address)"] == "attribute 3"
    res = run("intel", "check", stix)
    assert res.exit_code == 0 and "c2.json" in res.output and "malformed STIX pattern" in res.output


def test_intel_check_with_nothing_loadable_is_an_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    res = runner.invoke(app, ["intel", "check", str(bad)])
    assert res.exit_code != 0 and "malformed JSON" in str(res.exception)
