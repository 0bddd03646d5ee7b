"""SuricataReader: EVE JSON event types, derived conn states, bad lines, real sample."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.errors import InputError, ReadReport
from threatml.readers import suricata as suricata_mod
from threatml.readers.suricata import SuricataReader, zeek_conn_state
from shared_data import DATASETS

SAMPLE = DATASETS / "suricata/test6-malicious.suricata.json"
ZEEK_JSON = DATASETS / "zeek/002-zeek-scenario-port-scanning/conn.log"

BASE = {"src_ip": "10.0.0.1", "src_port": 40000, "dest_ip": "93.184.216.34", "dest_port": 443, "proto": "TCP"}


def flow(fid: int, ts_flags: str | None, tc_flags: str | None, pkts_tc: int = 1, proto: str = "TCP", **extra) -> dict:
    rec = {"timestamp": "2021-06-06T16:00:00.000000+0200", "flow_id": fid, "event_type": "flow", **BASE,
           "proto": proto, "app_proto": extra.pop("app_proto", "tls"),
           "flow": {"pkts_toserver": 3, "pkts_toclient": pkts_tc, "bytes_toserver": 300, "bytes_toclient": 100 * pkts_tc,
                    "start": "2021-06-06T15:59:46.5+0200", "end": "2021-06-06T15:59:48.0+0200",
                    "state": extra.pop("state", "closed"), "reason": "timeout", "alerted": False}}
    if ts_flags is not None:
        rec["tcp"] = {"tcp_flags_ts": ts_flags, "tcp_flags_tc": tc_flags, "state": "closed"}
    rec.update(extra)
    return rec


def write_lines(tmp_path: Path, lines: list, name: str = "eve.json") -> Path:
    p = tmp_path / name
    p.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return p


def read_all(path: Path, batch_size: int = 200_000) -> tuple[dict[str, pd.DataFrame], list, ReadReport]:
    report = ReadReport()
    batches = list(SuricataReader().read(path, report, batch_size=batch_size))
    by_ds: dict[str, list] = {}
    for b in batches:
        for ds, part in b.frame.groupby("event.dataset"):
            by_ds.setdefault(ds, []).append(part)
    return {k: pd.concat(v, ignore_index=True) for k, v in by_ds.items()}, batches, report


def test_flow_mapping_keeps_ip_level_bytes_and_derives_duration(tmp_path):
    p = write_lines(tmp_path, [flow(123456789012345, "1b", "1b", pkts_tc=2)])
    frames, batches, report = read_all(p)
    assert [b.kind for b in batches] == ["flow"]
    r = frames["suricata.flow"].iloc[0]
    assert r["event.id"] == "123456789012345" and r["@timestamp"] == 1622987986.5
    assert r["flow.duration"] == 1.5 and r["network.transport"] == "tcp" and r["network.protocol"] == "tls"
    assert (r["source.packets"], r["destination.packets"], r["source.bytes"], r["destination.bytes"]) == (3, 2, 300, 200)
    assert (r["suricata.bytes_toserver"], r["suricata.bytes_toclient"]) == (300, 200)
    assert r["flow.state"] == "SF" and r["suricata.flow_state"] == "closed"


@pytest.mark.parametrize("ts,tc,pkts_tc,state", [
    ("02", None, 0, "S0"),        # lone SYN
    ("02", "14", 1, "REJ"),       # SYN answered by RST-ACK
    ("06", None, 0, "RSTOS0"),    # SYN then RST from the originator
    ("03", None, 0, "SH"),        # SYN then FIN, no answer
    ("1b", "1b", 4, "SF"),        # handshake and FIN both ways
    ("1a", "12", 4, "S1"),        # established, not closed
    ("1b", "12", 4, "S2"),        # originator closed only
    ("1a", "13", 4, "S3"),        # responder closed only
    ("1e", "12", 4, "RSTO"),      # originator reset after handshake
    ("1a", "16", 4, "RSTR"),      # responder reset after handshake
    ("10", "16", 2, "RSTRH"),     # no SYN from originator, SYN-ACK then RST
    ("18", "18", 4, "OTH"),       # midstream
])
def test_tcp_flags_to_zeek_conn_state(tmp_path, ts, tc, pkts_tc, state):
    p = write_lines(tmp_path, [flow(1, ts, tc if tc is not None else "00", pkts_tc=pkts_tc)])
    frames, _, _ = read_all(p)
    assert frames["suricata.flow"]["flow.state"].iat[0] == state


def test_conn_state_for_udp_icmp_and_missing_tcp_info():
    got = zeek_conn_state(
        np.array(["udp", "udp", "udp", "icmp", "tcp", "tcp"]),
        np.array([-1, -1, -1, -1, -1, -1]), np.array([-1, -1, -1, -1, -1, -1]),
        np.array([1.0, 1, 0, 1, 1, 1]), np.array([1.0, 0, 1, 1, 0, 3]),
        np.array(["closed", "new", "new", "new", "new", "established"]),
    )
    assert got.tolist() == ["SF", "S0", "SHR", "OTH", "S0", "S1"]


def test_alert_anomaly_dns_http_tls_and_skipped_types(tmp_path):
    ts = "2021-06-06T15:59:46.457984+0200"
    lines = [
        {"timestamp": ts, "flow_id": 1, "event_type": "alert", **BASE,
         "alert": {"signature_id": 2403388, "signature": "ET CINS group 89", "category": "Misc Attack", "severity": 2,
                   "metadata": {"tag": ["CINS"]}}},
        {"timestamp": ts, "flow_id": 2, "event_type": "anomaly", **BASE,
         "anomaly": {"type": "applayer", "event": "APPLAYER_MISMATCH", "layer": "proto_detect"}},
        {"timestamp": ts, "flow_id": 3, "event_type": "anomaly", **BASE, "anomaly": {"type": "decode"}},
        # DNS v1 query and answer, v2 answer with answers[], v3 request with queries[]
        {"timestamp": ts, "flow_id": 4, "event_type": "dns", **BASE, "proto": "UDP",
         "dns": {"type": "query", "id": 17, "rrname": "a.example", "rrtype": "A", "tx_id": 0}},
        {"timestamp": ts, "flow_id": 4, "event_type": "dns", **BASE, "proto": "UDP",
         "dns": {"type": "answer", "id": 17, "rcode": "NOERROR", "rrname": "a.example", "rrtype": "A", "rdata": "1.2.3.4"}},
        {"timestamp": ts, "flow_id": 5, "event_type": "dns", **BASE, "proto": "UDP",
         "dns": {"version": 2, "type": "answer", "id": 18, "rrname": "b.example", "rrtype": "A", "rcode": "NOERROR",
                 "answers": [{"rrname": "b.example", "rrtype": "CNAME", "rdata": "c.example"},
                             {"rrname": "c.example", "rrtype": "A", "rdata": "5.6.7.8"},
                             {"rrname": "c.example", "rrtype": "SOA", "soa": {"mname": "x"}}]}},
        {"timestamp": ts, "flow_id": 6, "event_type": "dns", **BASE, "proto": "UDP",
         "dns": {"version": 3, "type": "request", "id": 19, "queries": [{"rrname": "d.example", "rrtype": "TXT"}]}},
        {"timestamp": ts, "flow_id": 7, "event_type": "http", **BASE,
         "http": {"hostname": "ex.com", "url": "/x?y=1", "http_method": "POST", "status": 404,
                  "http_user_agent": "curl/8", "http_refer": "http://r/", "length": 47, "protocol": "HTTP/1.1"}},
        {"timestamp": ts, "flow_id": 8, "event_type": "tls", **BASE,
         "tls": {"version": "TLS 1.2", "sni": "ex.com", "subject": "CN=ex.com", "issuerdn": "CN=CA",
                 "ja3": {"hash": "aa", "string": "771,..."}, "ja3s": {"hash": "bb"}}},
        {"timestamp": ts, "flow_id": 9, "event_type": "fileinfo", **BASE, "fileinfo": {"size": 3}},
        {"timestamp": ts, "flow_id": 9, "event_type": "fileinfo", **BASE, "fileinfo": {"size": 4}},
        {"timestamp": ts, "event_type": "stats", "stats": {"uptime": 1}},
    ]
    p = write_lines(tmp_path, lines)
    frames, batches, report = read_all(p)
    assert {b.kind for b in batches} == {"alert", "dns", "http", "tls"}

    a = frames["suricata.alert"].iloc[0]
    assert (a["rule.id"], a["rule.name"], a["rule.category"], a["event.severity"]) == (
        "2403388", "ET CINS group 89", "Misc Attack", 2.0)
    assert a["@timestamp"] == pytest.approx(1622987986.457984) and a["event.id"] == "1"

    an = frames["suricata.anomaly"]
    assert an["rule.id"].tolist() == ["anomaly:APPLAYER_MISMATCH", "anomaly:decode"]
    assert an["rule.name"].tolist() == ["APPLAYER_MISMATCH", "decode"] and set(an["rule.category"]) == {"anomaly"}

    d = frames["suricata.dns"]
    assert d["dns.question.name"].tolist() == ["a.example", "a.example", "b.example", "d.example"]
    assert d["dns.question.type"].tolist() == ["A", "A", "A", "TXT"]
    assert d["dns.answers"].tolist() == ["", "1.2.3.4", "c.example,5.6.7.8,", ""]
    assert d["dns.response_code"].tolist() == ["", "NOERROR", "NOERROR", ""]
    assert d["suricata.dns.type"].tolist() == ["query", "answer", "answer", "request"]
    assert d["dns.id"].tolist() == [17.0, 17.0, 18.0, 19.0] and set(d["network.transport"]) == {"udp"}

    h = frames["suricata.http"].iloc[0]
    assert (h["url.domain"], h["url.original"], h["http.request.method"], h["http.response.status_code"],
            h["user_agent.original"], h["http.request.referrer"], h["http.response.body.bytes"]) == (
        "ex.com", "/x?y=1", "POST", 404.0, "curl/8", "http://r/", 47.0)

    t = frames["suricata.tls"].iloc[0]
    assert (t["tls.version"], t["tls.client.server_name"], t["tls.client.ja3"], t["tls.server.ja3s"],
            t["tls.server.subject"], t["tls.server.issuer"]) == ("TLSv12", "ex.com", "aa", "bb", "CN=ex.com", "CN=CA")
    assert np.isnan(t["tls.established"])

    skipped = {r: c for (_, r), c in report.skipped.items()}
    assert skipped == {"unsupported suricata event_type 'fileinfo'": 2, "unsupported suricata event_type 'stats'": 1}


def test_invalid_json_lines_are_skipped_with_line_numbers(tmp_path):
    lines = [flow(1, "1b", "1b"), "{broken", flow(2, "02", "00", pkts_tc=0), "", "[1, 2]", flow(3, "02", "14")]
    p = write_lines(tmp_path, lines)
    frames, _, report = read_all(p)
    assert frames["suricata.flow"]["event.id"].tolist() == ["1", "2", "3"]
    assert dict(report.skipped) == {(str(p), "not a JSON object"): 2}
    assert report.examples[(str(p), "not a JSON object")] == "line 2"


def test_type_drift_is_coerced_not_fatal(tmp_path):
    odd = flow(2, "1b", "1b")
    odd["dest_port"] = "443"  # a number written as text
    odd["flow"]["alerted"] = "yes"
    p = write_lines(tmp_path, [flow(1, "1b", "1b"), odd])
    frames, _, report = read_all(p)
    assert frames["suricata.flow"]["destination.port"].tolist() == [443.0, 443.0]
    assert report.skipped_total() == 0


def test_batches_per_kind_respect_batch_size(tmp_path, monkeypatch):
    monkeypatch.setattr(suricata_mod, "CHUNK_BYTES", 2000)
    lines = []
    for i in range(60):
        lines.append(flow(i, "1b", "1b"))
        if i % 3 == 0:
            lines.append({"timestamp": "2021-06-06T15:59:46+0200", "flow_id": i, "event_type": "alert", **BASE,
                          "alert": {"signature_id": i, "signature": "s", "category": "c", "severity": 3}})
    p = write_lines(tmp_path, lines)
    frames, batches, _ = read_all(p, batch_size=8)
    assert all(len(b) <= 8 for b in batches)
    assert sum(len(b) for b in batches if b.kind == "flow") == 60
    assert sum(len(b) for b in batches if b.kind == "alert") == 20
    assert frames["suricata.flow"]["event.id"].tolist() == [str(i) for i in range(60)]


def test_gzip_and_empty_files(tmp_path):
    p = tmp_path / "eve.json.gz"
    p.write_bytes(gzip.compress((json.dumps(flow(5, "02", "14")) + "\n").encode()))
    frames, _, _ = read_all(p)
    assert frames["suricata.flow"]["flow.state"].tolist() == ["REJ"]
    empty = tmp_path / "empty.json"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="empty file"):
        read_all(empty)


def test_sniff():
    line = b'{"timestamp":"2021-06-06T15:59:46.457984+0200","flow_id":1,"event_type":"flow"}\n'
    assert SuricataReader.sniff(line, Path("eve.json"))
    assert SuricataReader.sniff(line[:40], Path("eve.json")) is False
    assert not SuricataReader.sniff(b'{"ts":1.0,"uid":"C1","id.orig_h":"1.1.1.1"}\n', Path("conn.log"))
    assert not SuricataReader.sniff(b"#separator \\x09\n", Path("conn.log"))


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"Suricata EVE sample not present at {SAMPLE}")
def test_real_stratosphere_eve_sample():
    assert SuricataReader.sniff(SAMPLE.read_bytes()[:65536], SAMPLE)
    frames, batches, report = read_all(SAMPLE)
    counts = {k: len(v) for k, v in frames.items()}
    assert counts == {"suricata.flow": 3512, "suricata.alert": 745, "suricata.dns": 680, "suricata.http": 56,
                      "suricata.anomaly": 3, "suricata.tls": 1}
    assert {r: c for (_, r), c in report.skipped.items()} == {"unsupported suricata event_type 'fileinfo'": 3}
    fl = frames["suricata.flow"]
    assert fl["@timestamp"].notna().all() and (fl["flow.state"] != "").all()
    # closed ports answer SYN with RST-ACK: the sample is mostly scans of a honeypot
    assert (fl["flow.state"] == "REJ").sum() > 1000
    assert frames["suricata.alert"]["rule.id"].str.fullmatch(r"\d+").all()


@pytest.mark.skipif(not ZEEK_JSON.exists(), reason=f"Zeek JSON sample not present at {ZEEK_JSON}")
def test_zeek_json_is_not_taken_for_suricata():
    assert not SuricataReader.sniff(ZEEK_JSON.read_bytes()[:65536], ZEEK_JSON)


def test_truncated_gzip_keeps_the_events_before_the_cut_and_reports_it(tmp_path):
    body = "".join(json.dumps(flow(i, "1b", "1b")) + "\n" for i in range(3000)).encode()
    p = tmp_path / "eve.json.gz"
    p.write_bytes(gzip.compress(body)[:4000])
    _, batches, report = read_all(p)
    assert 0 < sum(len(b) for b in batches) < 3000
    assert (str(p), "truncated gzip stream: the rest of the file is missing") in report.skipped


def test_non_utf8_bytes_are_replaced(tmp_path):
    rec = {"timestamp": "2021-06-06T15:59:46+0200", "flow_id": 1, "event_type": "http", **BASE,
           "http": {"hostname": "ex.com", "url": "/PLACEHOLDER", "http_user_agent": "ua"}}
    p = tmp_path / "eve.json"
    p.write_bytes((json.dumps(rec) + "\n").encode().replace(b"PLACEHOLDER", b"a\xff\xfeb"))
    frames, _, report = read_all(p)
    assert frames["suricata.http"]["url.original"].tolist() == ["/a\ufffd\ufffdb"]
    assert report.skipped_total() == 0


def test_netflow_records_are_one_direction_flows(tmp_path):
    rec = {"timestamp": "2021-06-06T16:00:00+0200", "flow_id": 77, "event_type": "netflow", **BASE, "app_proto": "failed",
           "netflow": {"pkts": 4, "bytes": 400, "start": "2021-06-06T15:59:00+0200", "end": "2021-06-06T15:59:10+0200",
                       "age": 10}}
    frames, batches, _ = read_all(write_lines(tmp_path, [rec]))
    r = frames["suricata.netflow"].iloc[0]
    assert batches[0].kind == "flow" and r["event.id"] == "77" and r["flow.duration"] == 10.0
    assert (r["source.packets"], r["source.bytes"]) == (4.0, 400.0) and np.isnan(r["destination.packets"])
    assert r["network.protocol"] == "" and r["suricata.app_proto"] == "failed"
