"""Threat-intel indicators, loaders, matcher and the IOC detector, on generated feeds and events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared_data import DATASETS
from threatml.detectors.intel import IntelDetector
from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.intel import (
    IndicatorMatcher,
    IndicatorSet,
    classify,
    decay,
    load_csv,
    load_feeds,
    load_file,
    load_ipsum,
    load_plain,
    normalise_url,
)

INTEL = DATASETS.parent / "intel"
IOCS = DATASETS.parent / "rules" / "yara" / "iocs"
DAY = 86400.0


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _skips(report: ReadReport, path: Path) -> dict[str, int]:
    return {r: c for (p, r), c in report.skipped.items() if p == str(path)}


def _by_value(s: IndicatorSet) -> dict[str, dict]:
    return {r["value"]: r for r in s.frame.to_dict("records")}


# ----------------------------------------------------------------------------- loaders


def test_plain_list_infers_types_and_counts_invalid(tmp_path):
    p = _write(tmp_path, "mixed.txt", "\n".join([
        "# comment", "; another comment", "",
        "198.51.100.7", "Evil.Example.COM.", "*.wild.example.org", "192.0.2.0/24", "10.1.2.3/8",
        "2001:db8::1", "2001:db8::/32", "HTTPS://Bad.Example.net:443/x?y=1#top",
        "D41D8CD98F00B204E9800998ECF8427E", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "Phish@Example.com",
        "300.1.2.3", "1.2.3.4/40", "2001:db8::zz", "not an indicator", "58.64.143.244;65", "suroot.com;Operation Snowman",
    ]))
    s = load_plain(p, tags=["c2"])
    v = _by_value(s)
    assert v["198.51.100.7"]["type"] == "ipv4"
    assert v["evil.example.com"]["type"] == "domain"
    assert v["wild.example.org"]["type"] == "domain"
    assert v["192.0.2.0/24"]["type"] == "cidr"
    assert v["10.0.0.0/8"]["type"] == "cidr"  # host bits masked
    assert v["2001:db8::1"]["type"] == "ipv6"
    assert v["2001:db8::/32"]["type"] == "cidr"
    assert v["https://bad.example.net/x?y=1"]["type"] == "url"
    assert v["d41d8cd98f00b204e9800998ecf8427e"]["type"] == "md5"
    assert v["da39a3ee5e6b4b0d3255bfef95601890afd80709"]["type"] == "sha1"
    assert v["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]["type"] == "sha256"
    assert v["phish@example.com"]["type"] == "email"
    assert v["58.64.143.244"]["confidence"] == 65.0  # LOKI VALUE;SCORE
    assert v["suroot.com"]["description"] == "Operation Snowman"
    assert v["suroot.com"]["tags"] == "c2" and v["suroot.com"]["sources"] == "mixed.txt"
    assert _skips(s.report, p) == {
        "bad IPv4 address": 1, "bad IPv4 CIDR": 1, "bad IPv6 address or CIDR": 1, "not a recognised indicator": 1,
    }
    assert s.report.records[str(p)] == len(s) == 14


def test_classify_rejects_garbage_without_raising():
    t, _, r = classify(pd.Series(["", "...", "a..b", "1.2.3", "-evil.com", "évil.com", "x" * 300 + ".com"]))
    assert (t == "").all() and (r != "").all()


def test_csv_with_plain_header_and_dates(tmp_path):
    p = _write(tmp_path, "feed.csv", "\n".join([
        "indicator,type,confidence,tags,first_seen,valid_until",
        "203.0.113.5,ip,90,c2|botnet,2026-01-01,2099-01-01",
        "bad.example,domain,,phishing,2026-01-02T00:00:00Z,",
        "999.0.0.1,ip,50,,,",
        "too,many,fields,here,a,b,c,d",
    ]))
    s = load_csv(p)
    v = _by_value(s)
    assert v["203.0.113.5"]["confidence"] == 90.0
    assert v["203.0.113.5"]["tags"] == "botnet,c2"
    assert v["203.0.113.5"]["first_seen"] == pd.Timestamp("2026-01-01", tz="UTC").timestamp()
    assert v["203.0.113.5"]["valid_until"] == pd.Timestamp("2099-01-01", tz="UTC").timestamp()
    assert v["bad.example"]["confidence"] == 50.0 and np.isnan(v["bad.example"]["valid_until"])
    sk = _skips(s.report, p)
    assert sk["bad IPv4 address"] == 1
    assert sum(sk.values()) == 2  # the bad address and the over-long row


FEODO = """################################################################
# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #
# Last updated: 2026-08-20 10:00:00 UTC                        #
################################################################
#
# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2026-07-17 07:44:46","51.178.161.32","4643","online","2026-08-20","Dridex"
"2026-07-18 07:44:46","198.51.100.23","443","offline","2026-08-01","QakBot"
"2026-07-19 07:44:46","51.178.161.999","443","offline","2026-08-01","QakBot"
# END 3 entries
"""

URLHAUS = """################################################################
# abuse.ch URLhaus Database Dump (CSV - recent URLs)           #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"3088001","2026-08-20 09:00:05","http://Malware.Example.com:80/bins/mozi.m#x","online","2026-08-20","malware_download","elf,mozi","https://urlhaus.abuse.ch/url/3088001/","lrz"
"3088002","2026-08-20 09:00:06","http://[not-a-url","online","2026-08-20","malware_download","elf","https://urlhaus.abuse.ch/url/3088002/","lrz"
"""

THREATFOX = """################################################################
# ThreatFox IOCs: CSV export                                   #
################################################################
#
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous","reporter"
"2026-08-19 10:00:00", "1000001", "192.0.2.77:8080", "ip:port", "botnet_cc", "win.cobalt_strike", "None", "Cobalt Strike", "", "75", "", "CobaltStrike", "0", "abuse_ch"
"2026-08-19 10:00:00", "1000002", "c2.threatfox.example", "domain", "botnet_cc", "win.emotet", "None", "Emotet", "", "100", "", "None", "0", "abuse_ch"
"""


def test_abuse_ch_exports_with_comment_headers(tmp_path):
    feodo = load_file(_write(tmp_path, "ipblocklist.csv", FEODO))
    v = _by_value(feodo)
    assert set(v) == {"51.178.161.32", "198.51.100.23"}
    assert v["51.178.161.32"]["tags"] == "dridex"
    assert v["51.178.161.32"]["first_seen"] == pd.Timestamp("2026-07-17 07:44:46", tz="UTC").timestamp()
    assert _skips(feodo.report, tmp_path / "ipblocklist.csv") == {"bad IPv4 address": 1}

    urlhaus = load_file(_write(tmp_path, "urlhaus.csv", URLHAUS))
    v = _by_value(urlhaus)
    assert list(v) == ["http://malware.example.com/bins/mozi.m"]
    assert v["http://malware.example.com/bins/mozi.m"]["tags"] == "elf,malware_download,mozi"
    assert _skips(urlhaus.report, tmp_path / "urlhaus.csv") == {"bad URL": 1}

    tf = load_file(_write(tmp_path, "threatfox.csv", THREATFOX))
    v = _by_value(tf)
    assert v["192.0.2.77"]["type"] == "ipv4" and v["192.0.2.77"]["confidence"] == 75.0
    assert "botnet_cc" in v["c2.threatfox.example"]["tags"].split(",")
    assert v["c2.threatfox.example"]["confidence"] == 100.0


def test_csv_without_indicator_column_is_a_clear_input_error(tmp_path):
    p = _write(tmp_path, "nothing.csv", "alpha,beta\n1,2\n")
    with pytest.raises(InputError, match="nothing.csv"):
        load_csv(p)
    report = ReadReport()
    s = load_feeds([p, _write(tmp_path, "ok.txt", "evil.example\n")], report=report)
    assert len(s) == 1 and report.errors and "nothing.csv" in report.errors[0][0]


def test_ipsum_confidence_from_list_count(tmp_path):
    p = _write(tmp_path, "ipsum.txt", "# IPsum Threat Intelligence Feed\n#\n# IP\tnumber of (black)lists\n#\n"
               "203.0.113.1\t10\n203.0.113.2\t3\n203.0.113.3\t1\n203.0.113.999\t2\n203.0.113.4\n")
    s = load_file(p)
    v = _by_value(s)
    assert [v[f"203.0.113.{i}"]["confidence"] for i in (1, 2, 3)] == [100.0, 60.0, 20.0]
    assert _skips(s.report, p) == {"bad IPv4 address": 1, "no list count after the address": 1}
    assert s.report.formats[str(p)] == "ipsum"
    assert _by_value(load_ipsum(p, per_list=10))["203.0.113.2"]["confidence"] == 30.0


def test_non_utf8_lines_are_skipped_and_counted(tmp_path):
    p = tmp_path / "bin.txt"
    p.write_bytes(b"evil.example\n\xff\xfe garbage\n198.51.100.1\n")
    s = load_plain(p)
    assert len(s) == 2 and _skips(s.report, p) == {"line is not UTF-8": 1}


def test_duplicates_across_feeds_merge(tmp_path):
    a = _write(tmp_path, "a.csv", "ip,confidence,tags,first_seen\n203.0.113.9,40,scanner,2026-03-01\n")
    b = _write(tmp_path, "b.csv", "ip,confidence,tags,first_seen,valid_until\n203.0.113.9,85,c2,2026-02-01,2099-01-01\n")
    c = _write(tmp_path, "c.txt", "203.0.113.9\n203.0.113.9\nother.example\n")
    s = load_feeds([a, b, c], now=pd.Timestamp("2026-08-01", tz="UTC").timestamp())
    v = _by_value(s)
    row = v["203.0.113.9"]
    assert len(s) == 2
    assert row["sources"] == "a.csv,b.csv,c.txt"
    assert row["confidence"] == 85.0 and row["tags"] == "c2,scanner"
    assert row["first_seen"] == pd.Timestamp("2026-02-01", tz="UTC").timestamp()
    assert np.isnan(row["valid_until"])  # c.txt and a.csv set no expiry: no expiry wins


def test_expired_indicators_are_skipped_and_counted(tmp_path):
    p = _write(tmp_path, "exp.csv", "domain,valid_until\nold.example,2020-01-01\nnew.example,2099-01-01\nnone.example,\n")
    s = load_feeds([p], now=pd.Timestamp("2026-01-01", tz="UTC").timestamp())
    assert set(s.frame["value"]) == {"new.example", "none.example"}
    assert s.report.skipped[("exp.csv", "expired (valid_until in the past)")] == 1


def test_decay_halves_per_half_life():
    conf = np.array([80.0, 80.0, 80.0, 80.0])
    first = np.array([0.0, 0.0, np.nan, 10 * DAY])
    got = decay(conf, first, 60 * DAY, half_life_days=30)
    assert got.tolist() == [20.0, 20.0, 80.0, pytest.approx(80.0 * 2 ** (-50 / 30))]
    assert decay(conf, first, 60 * DAY, half_life_days=0).tolist() == conf.tolist()
    assert decay(conf, first, -DAY, half_life_days=30)[0] == 80.0  # before first_seen: no growth


@pytest.mark.parametrize("raw,want", [
    ("HTTP://Evil.COM:80/Path?q=1#frag", "http://evil.com/Path?q=1"),
    ("https://evil.com:443", "https://evil.com/"),
    ("https://evil.com:8443/a", "https://evil.com:8443/a"),
    ("http://evil.com./a", "http://evil.com/a"),
    ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
    ("http://evil.com:99999/", None),
    ("not a url", None),
])
def test_url_normalisation(raw, want):
    assert normalise_url(raw) == want


# ----------------------------------------------------------------------------- matcher


def _set(*values: str, **cols) -> IndicatorSet:
    t, v, r = classify(pd.Series(values))
    assert (r == "").all(), r.tolist()
    frame = pd.DataFrame({"type": t, "value": v, "sources": cols.get("sources", "test.txt"),
                          "confidence": cols.get("confidence", 80.0), "first_seen": cols.get("first_seen", np.nan),
                          "valid_until": np.nan, "tags": cols.get("tags", ""), "description": ""})
    return IndicatorSet(frame)


def _pairs(m) -> list[tuple[int, int]]:
    return list(zip(m.rows.tolist(), m.indicators.tolist()))


def test_ip_matching_exact_and_cidr():
    s = _set("203.0.113.9", "198.51.100.0/24", "198.51.0.0/16", "0.0.0.0/0", "2001:db8::1", "2001:db8:ff::/48")
    m = IndicatorMatcher(s)
    events = ["203.0.113.9", "198.51.100.200", "198.51.7.1", "10.0.0.1", "", "junk", "2001:db8::1",
              "2001:db8:ff::9", "2001:db8:fe::9", "203.0.113.9"]
    got = _pairs(m.match_ips(pd.Series(events, dtype="str")))
    want = [(0, 0), (0, 3), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3), (6, 4), (7, 5), (9, 0), (9, 3)]
    assert sorted(got) == want


def test_ip_matching_agrees_with_ipaddress_on_random_data():
    import ipaddress

    rng = np.random.default_rng(7)
    nets = [f"10.{rng.integers(0, 4)}.{rng.integers(0, 256)}.0/{rng.choice([20, 24, 28])}" for _ in range(30)]
    exact = [f"10.{rng.integers(0, 4)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}" for _ in range(200)]
    s = _set(*dict.fromkeys(nets + exact))
    m = IndicatorMatcher(s)
    events = [f"10.{rng.integers(0, 4)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}" for _ in range(3000)]
    got = set(_pairs(m.match_ips(events)))
    # the oracle: the stdlib parses, a plain integer range test decides (all pairs at once)
    objs = [ipaddress.ip_network(v) for v in s.frame["value"]]
    lo = np.array([int(n.network_address) for n in objs])
    hi = np.array([int(n.broadcast_address) for n in objs])
    ev = np.array([int(ipaddress.ip_address(e)) for e in events])
    inside = (ev[:, None] >= lo[None, :]) & (ev[:, None] <= hi[None, :])
    want = set(zip(*(x.tolist() for x in np.nonzero(inside))))
    assert got == want and len(want) > 100


def test_domain_matching_exact_and_parents():
    s = _set("evil.com", "b.good.org", "phish@evil.com")
    m = IndicatorMatcher(s)
    names = ["evil.com", "A.B.Evil.COM.", "notevil.com", "good.org", "x.b.good.org", "", "com", "evil.com.au"]
    assert sorted(_pairs(m.match_domains(names))) == [(0, 0), (1, 0), (4, 1)]
    assert _pairs(m.match_emails(["Phish@Evil.com", "x@evil.com"])) == [(0, 2)]


def test_url_and_hash_matching():
    s = _set("http://evil.com/payload.exe", "d41d8cd98f00b204e9800998ecf8427e")
    m = IndicatorMatcher(s)
    urls = ["HTTP://EVIL.com:80/payload.exe#a", "http://evil.com/payload.exe?x", "https://evil.com/payload.exe", ""]
    assert _pairs(m.match_urls(urls)) == [(0, 0)]
    assert _pairs(m.match_hashes(["D41D8CD98F00B204E9800998ECF8427E", "00"])) == [(0, 1)]


def test_empty_set_matches_nothing():
    m = IndicatorMatcher(IndicatorSet())
    assert len(m.match_ips(["1.2.3.4"])) == len(m.match_domains(["a.com"])) == len(m.match_urls(["http://a/"])) == 0


# ----------------------------------------------------------------------------- detector


def _flows(rows: list[tuple[str, float, str, str]]) -> EventBatch:
    eid, ts, src, dst = zip(*rows)
    return EventBatch.of("flow", pd.DataFrame({"event.id": eid, "@timestamp": ts, "source.ip": src,
                                               "destination.ip": dst}), source="conn.log")


def test_detector_one_incident_per_host_and_indicator():
    iocs = _set("203.0.113.9", "198.51.100.0/24", tags="c2", sources="feodo.csv", confidence=90.0)
    d = IntelDetector(iocs, half_life_days=0)
    out = d.process(_flows([
        ("e1", 100.0, "10.0.0.5", "203.0.113.9"), ("e2", 160.0, "10.0.0.5", "203.0.113.9"),
        ("e3", 170.0, "10.0.0.6", "198.51.100.4"), ("e4", 175.0, "10.0.0.7", "8.8.8.8"),
    ]))
    out += d.process(_flows([("e5", 200.0, "10.0.0.5", "203.0.113.9"), ("e6", 210.0, "198.51.100.8", "10.0.0.9")]))
    out += d.flush()
    got = {(f.entity, f.attributes["indicator.value"]): f for f in out}
    assert set(got) == {("10.0.0.5", "203.0.113.9"), ("10.0.0.6", "198.51.100.0/24"), ("198.51.100.8", "198.51.100.0/24")}
    f = got[("10.0.0.5", "203.0.113.9")]
    assert f.evidence == ["e1", "e2", "e5"] and f.start == 100.0 and f.end == 200.0
    assert f.score == pytest.approx(0.9) and f.severity == "critical" and f.attack == ["T1071"]
    text = " ".join(f.explanation)
    assert "feodo.csv" in text and "destination.ip" in text and "c2" in text and "90" in text
    inbound = got[("198.51.100.8", "198.51.100.0/24")]
    assert inbound.attributes["direction"] == "inbound" and inbound.related["peers"] == ["10.0.0.9"]


def test_detector_dns_http_tls_fields_and_decay():
    first = 1_000_000.0
    iocs = _set("evil.example", "203.0.113.50", "http://cdn.example.net/drop.bin",
                "e7d705a3286e19ea42f587b344ee6865", confidence=80.0, first_seen=first)
    d = IntelDetector(iocs, half_life_days=10)
    t = first + 10 * DAY
    dns = EventBatch.of("dns", pd.DataFrame({"event.id": ["d1", "d2"], "@timestamp": [t, t],
                                             "source.ip": ["10.0.0.5", "10.0.0.6"],
                                             "dns.question.name": ["www.Evil.example", "ok.example"],
                                             "dns.answers": ["", "cname.ok.example,203.0.113.50"]}))
    http = EventBatch.of("http", pd.DataFrame({"event.id": ["h1"], "@timestamp": [t], "source.ip": ["10.0.0.7"],
                                               "destination.ip": ["192.0.2.1"], "url.domain": ["CDN.example.net"],
                                               "url.original": ["/drop.bin"]}))
    tls = EventBatch.of("tls", pd.DataFrame({"event.id": ["t1"], "@timestamp": [t], "source.ip": ["10.0.0.8"],
                                             "tls.client.server_name": ["a.evil.example"],
                                             "tls.client.ja3": ["E7D705A3286E19EA42F587B344EE6865"]}))
    for b in (dns, http, tls):
        assert d.process(b) == []
    got = {(f.entity, f.attributes["indicator.value"]): f for f in d.flush()}
    assert set(got) == {("10.0.0.5", "evil.example"), ("10.0.0.6", "203.0.113.50"),
                        ("10.0.0.7", "http://cdn.example.net/drop.bin"), ("10.0.0.8", "evil.example"),
                        ("10.0.0.8", "e7d705a3286e19ea42f587b344ee6865")}
    assert got[("10.0.0.5", "evil.example")].score == pytest.approx(0.4)  # 80 halved after one half-life
    assert "dns.answers" in got[("10.0.0.6", "203.0.113.50")].explanation[1]
    assert "after ageing" in got[("10.0.0.5", "evil.example")].explanation[2]
    assert got[("10.0.0.8", "evil.example")].attack == []  # no tags, no ATT&CK guess


def test_detector_state_is_bounded():
    iocs = _set("203.0.113.9")
    d = IntelDetector(iocs, idle_timeout=50, max_open=3)
    rows = [(f"e{i}", float(i), f"10.0.1.{i}", "203.0.113.9") for i in range(10)]
    early = d.process(_flows(rows))
    assert len(d._open) <= 3 and len(early) == 7  # evicted least recent first
    later = d.process(_flows([("z", 1000.0, "10.0.9.9", "8.8.8.8")]))  # time moves on: the rest idle out
    assert len(later) == 3 and not d._open and d.flush() == []


# ----------------------------------------------------------------------------- shared data


@pytest.mark.skipif(not (INTEL / "ipsum.txt").exists(), reason=f"shared intel feed absent: {INTEL / 'ipsum.txt'}")
def test_shared_ipsum_loads():
    s = load_file(INTEL / "ipsum.txt")
    path = str(INTEL / "ipsum.txt")
    assert s.report.formats[path] == "ipsum"
    assert len(s) > 100_000 and s.counts() == {"ipv4": len(s)}
    assert s.report.records[path] == len(s)
    assert s.frame["confidence"].between(20, 100).all()
    m = IndicatorMatcher(s)
    assert len(m.match_ips(s.frame["value"].iloc[:1000])) == 1000


@pytest.mark.skipif(not IOCS.is_dir(), reason=f"shared LOKI IOC lists absent: {IOCS}")
def test_shared_loki_iocs_load():
    files = sorted(p for p in IOCS.iterdir() if p.suffix == ".txt" and p.name != "README.txt")
    report = ReadReport()
    s = load_feeds(files, report=report)
    counts = s.counts()
    print("LOKI IOCs:", counts, report.as_dict()["skipped"])
    assert not report.errors
    assert counts["ipv4"] > 100 and counts["domain"] > 100
    assert counts["md5"] > 500 and counts["sha1"] > 500 and counts["sha256"] > 500
    assert counts["filename"] > 1000
    c2 = s.frame[s.frame["sources"].str.contains("c2-iocs.txt", regex=False)]
    assert (c2["tags"].str.contains("c2")).all()
    for f in files:  # every file is read or its skipped lines are counted
        assert report.records[str(f)] + sum(c for (p, _), c in report.skipped.items() if p == str(f)) > 0


def test_intel_detector_from_folder_and_empty_feed(tmp_path):
    from threatml.detectors.intel import intel_detector

    _write(tmp_path, "README.txt", "not a feed\n")
    _write(tmp_path, "c2-list.txt", "# c2\n203.0.113.9\n")
    det, report = intel_detector([str(tmp_path)])
    assert len(det.indicators) == 1 and det.indicators.frame["tags"].iat[0] == "c2"
    assert str(tmp_path / "README.txt") not in report.records
    (tmp_path / "other").mkdir()
    empty = _write(tmp_path / "other", "only-comments.txt", "# nothing\n")
    with pytest.raises(InputError, match="no valid indicators"):
        intel_detector([str(empty)])


ZEEK_MIXED = DATASETS / "zeek" / "010-zeek-mixed" / "data"


@pytest.mark.skipif(not (ZEEK_MIXED / "dns.log.labeled").exists(), reason=f"shared Zeek data absent: {ZEEK_MIXED}")
def test_planted_indicators_are_found_in_shared_zeek_logs(tmp_path):
    from threatml.detectors.intel import intel_detector
    from threatml.pipeline.scan import Scanner

    # values seen in these logs: one per kind (conn, dns, http, ssl), one as a parent domain
    planted = {"147.32.83.234": "destination.ip", "google.com": "dns.question.name",
               "msftconnecttest.com": "url.domain", "client.wns.windows.com": "tls.client.server_name"}
    feed = _write(tmp_path, "planted.txt", "\n".join(planted) + "\n")
    det, _ = intel_detector([str(feed)])
    logs = [ZEEK_MIXED / n for n in ("conn.log.labeled", "dns.log.labeled", "http.log.labeled", "ssl.log.labeled")]
    result = Scanner([det]).scan([str(p) for p in logs])
    fields: dict[str, set[str]] = {}
    for f in result.findings:
        fields.setdefault(str(f.attributes["indicator.value"]), set()).update(str(f.attributes["matched_fields"]).split(","))
    for value, field_name in planted.items():
        assert field_name in fields.get(value, set()), (value, fields.get(value))


def test_csv_edge_cases(tmp_path):
    one = load_file(_write(tmp_path, "one.csv", '"ioc"\n1.2.3.4\nevil.example\n'))
    assert sorted(one.frame["value"]) == ["1.2.3.4", "evil.example"]
    assert len(load_file(_write(tmp_path, "header-only.csv", "indicator,confidence\n"))) == 0
    with pytest.raises(InputError, match=r"broken.csv:line 2"):
        load_file(_write(tmp_path, "broken.csv", 'ioc,tags\n"unterminated,x\n1.2.3.4,y\n'))


def _ip_set(ips: list[str]) -> IndicatorSet:
    t, v, _ = classify(pd.Series(ips))
    return IndicatorSet(pd.DataFrame({"type": t, "value": v, "sources": "ipsum.txt", "confidence": 60.0,
                                      "first_seen": np.nan, "valid_until": np.nan, "tags": "", "description": ""}))


def test_many_listed_scanners_against_one_host_fold_into_one_finding():
    scanners = [f"198.51.100.{i}" for i in range(1, 31)]
    det = IntelDetector(_ip_set(scanners), fold_sources=10)
    fr = pd.DataFrame({"event.id": [f"e{i}" for i in range(30)], "@timestamp": [float(i) for i in range(30)],
                       "source.ip": scanners, "destination.ip": ["10.0.0.80"] * 30})
    found = det.process(EventBatch.of("flow", fr)) + det.flush()
    assert len(found) == 1
    (f,) = found
    assert f.entity == "10.0.0.80" and f.attributes["source_hosts"] == 30 and f.evidence_count == 30


def test_few_listed_scanners_stay_separate_findings():
    scanners = ["198.51.100.1", "198.51.100.2"]
    det = IntelDetector(_ip_set(scanners), fold_sources=10)
    fr = pd.DataFrame({"event.id": ["a", "b"], "@timestamp": [1.0, 2.0], "source.ip": scanners,
                       "destination.ip": ["10.0.0.80"] * 2})
    found = det.process(EventBatch.of("flow", fr)) + det.flush()
    assert sorted(f.entity for f in found) == scanners
