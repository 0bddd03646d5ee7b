"""ZeekReader: TSV and JSON Zeek logs, Stratosphere labels, and every robustness case."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.errors import InputError, ReadReport
from threatml.events import field_names
from threatml.readers import zeek as zeek_mod
from threatml.readers.zeek import DEFAULT_CONN_FIELDS, ZeekReader
from shared_data import DATASETS

DATA = DATASETS / "zeek"
SURICATA = DATASETS / "suricata/test6-malicious.suricata.json"

CONN_FIELDS = list(DEFAULT_CONN_FIELDS)
CONN_TYPES = list(zeek_mod.DEFAULT_CONN_TYPES)


def conn_row(i: int, **over) -> dict:
    row = {
        "ts": f"{1600000000 + i}.250000", "uid": f"Cuid{i:06d}", "id.orig_h": f"10.0.0.{i % 250 + 1}",
        "id.orig_p": str(40000 + i), "id.resp_h": "93.184.216.34", "id.resp_p": "443", "proto": "tcp",
        "service": "ssl", "duration": "1.500000", "orig_bytes": "100", "resp_bytes": "2000",
        "conn_state": "SF", "local_orig": "T", "local_resp": "F", "missed_bytes": "0",
        "history": "ShADadFf", "orig_pkts": "5", "orig_ip_bytes": "300", "resp_pkts": "6",
        "resp_ip_bytes": "2400", "tunnel_parents": "(empty)",
    }
    row.update(over)
    return row


def header(fields: list[str], types: list[str] | None = None, path: str = "conn") -> str:
    lines = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
             f"#path\t{path}", "#open\t2024-01-01-00-00-00", "#fields\t" + "\t".join(fields)]
    if types is not None:
        lines.append("#types\t" + "\t".join(types))
    return "\n".join(lines) + "\n"


def rows_text(rows: list[dict], fields: list[str]) -> str:
    return "".join("\t".join(r[f] for f in fields) + "\n" for r in rows)


def read_all(path: Path, batch_size: int = 200_000) -> tuple[list, ReadReport]:
    report = ReadReport()
    return list(ZeekReader().read(path, report, batch_size=batch_size)), report


def one_frame(path: Path) -> tuple[pd.DataFrame, ReadReport]:
    batches, report = read_all(path)
    assert len(batches) == 1
    return batches[0].frame, report


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_conn_tsv_maps_every_schema_field_and_keeps_extras(tmp_path):
    rows = [conn_row(0), conn_row(1, service="-", duration="-", orig_bytes="-", conn_state="S0", history="S")]
    p = write(tmp_path, "conn.log", header(CONN_FIELDS, CONN_TYPES) + rows_text(rows, CONN_FIELDS) + "#close\t2024\n")
    fr, report = one_frame(p)
    assert set(field_names("flow")) <= set(fr.columns)
    r0 = fr.iloc[0]
    assert r0["@timestamp"] == 1600000000.25 and r0["event.id"] == "Cuid000000"
    assert (r0["source.ip"], r0["source.port"], r0["destination.ip"], r0["destination.port"]) == (
        "10.0.0.1", 40000.0, "93.184.216.34", 443.0)
    assert (r0["network.transport"], r0["network.protocol"], r0["flow.state"], r0["flow.history"]) == (
        "tcp", "ssl", "SF", "ShADadFf")
    assert (r0["flow.duration"], r0["source.bytes"], r0["destination.bytes"]) == (1.5, 100.0, 2000.0)
    assert (r0["source.packets"], r0["destination.packets"]) == (5.0, 6.0)
    assert r0["event.dataset"] == "zeek.conn" and r0["label"] == ""
    assert (r0["zeek.orig_ip_bytes"], r0["zeek.resp_ip_bytes"], r0["zeek.local_orig"], r0["zeek.local_resp"]) == (
        300.0, 2400.0, 1.0, 0.0)
    assert fr["zeek.tunnel_parents"].tolist() == ["", ""]  # '(empty)' -> ''
    r1 = fr.iloc[1]
    assert r1["network.protocol"] == "" and np.isnan(r1["flow.duration"]) and np.isnan(r1["source.bytes"])
    assert report.skipped_total() == 0


def test_reordered_fields_are_mapped_by_name(tmp_path):
    fields = list(reversed(CONN_FIELDS))
    types = list(reversed(CONN_TYPES))
    p = write(tmp_path, "conn.log", header(fields, types) + rows_text([conn_row(3)], fields))
    fr, _ = one_frame(p)
    assert fr["source.ip"].iat[0] == "10.0.0.4" and fr["source.port"].iat[0] == 40003.0
    assert fr["destination.bytes"].iat[0] == 2000.0


def test_missing_types_line_still_types_known_fields(tmp_path):
    p = write(tmp_path, "conn.log", header(CONN_FIELDS) + rows_text([conn_row(1)], CONN_FIELDS))
    fr, _ = one_frame(p)
    assert fr["source.port"].dtype == np.float64 and fr["zeek.local_orig"].iat[0] == 1.0


def test_lines_with_wrong_field_count_are_skipped_and_counted_with_line_number(tmp_path):
    good = rows_text([conn_row(i) for i in range(4)], CONN_FIELDS).splitlines(keepends=True)
    text = header(CONN_FIELDS, CONN_TYPES) + good[0] + "1.0\tCshort\t10.0.0.1\n" + good[1] + good[2] + \
        "\t".join(["x"] * 25) + "\n" + good[3]
    p = write(tmp_path, "conn.log", text)
    fr, report = one_frame(p)
    assert len(fr) == 4
    skipped = {r: c for (f, r), c in report.skipped.items()}
    assert skipped == {"wrong number of fields: 3, expected 21": 1, "wrong number of fields: 25, expected 21": 1}
    where = {r: w for (f, r), w in report.examples.items()}
    assert where["wrong number of fields: 3, expected 21"] == "line 10"  # 8 header lines, then good, then bad
    assert where["wrong number of fields: 25, expected 21"] == "line 13"


def test_non_numeric_text_in_a_number_column_becomes_nan_not_an_error(tmp_path):
    rows = [conn_row(0), conn_row(1, orig_bytes="lots")]
    p = write(tmp_path, "conn.log", header(CONN_FIELDS, CONN_TYPES) + rows_text(rows, CONN_FIELDS))
    fr, report = one_frame(p)
    assert fr["source.bytes"].iat[0] == 100.0 and np.isnan(fr["source.bytes"].iat[1])
    assert any("non-numeric" in r for (_, r) in report.notes)


def test_non_utf8_bytes_are_replaced_not_fatal(tmp_path):
    text = header(CONN_FIELDS, CONN_TYPES) + rows_text([conn_row(0, history="Sh\x00")], CONN_FIELDS)
    raw = text.encode().replace(b"Sh\x00", b"Sh\xff\xfe")
    p = write(tmp_path, "conn.log", raw)
    fr, _ = one_frame(p)
    assert fr["flow.history"].iat[0] == "Sh\ufffd\ufffd"


def test_concatenated_rotated_logs_with_new_header_blocks_and_close_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(zeek_mod, "CHUNK_BYTES", 700)  # force many blocks, headers mid-block
    first = header(CONN_FIELDS, CONN_TYPES) + rows_text([conn_row(i) for i in range(10)], CONN_FIELDS)
    fields2 = CONN_FIELDS[::-1]
    second = header(fields2, CONN_TYPES[::-1]) + rows_text([conn_row(i) for i in range(10, 25)], fields2)
    p = write(tmp_path, "conn.log", first + "#close\t2024-01-01-01-00-00\n" + second + "#close\t2024\n")
    batches, report = read_all(p, batch_size=7)
    assert all(len(b) <= 7 for b in batches)
    fr = pd.concat([b.frame for b in batches], ignore_index=True)
    assert fr["event.id"].tolist() == [f"Cuid{i:06d}" for i in range(25)]
    assert fr["source.port"].tolist() == [40000.0 + i for i in range(25)]
    assert report.skipped_total() == 0


def test_gzip_file(tmp_path):
    p = tmp_path / "conn.00:00:00-01:00:00.log.gz"
    p.write_bytes(gzip.compress((header(CONN_FIELDS, CONN_TYPES) + rows_text([conn_row(1)], CONN_FIELDS)).encode()))
    fr, _ = one_frame(p)
    assert fr["event.id"].tolist() == ["Cuid000001"]


def test_empty_file_is_an_input_error_naming_the_file(tmp_path):
    p = write(tmp_path, "conn.log", "")
    with pytest.raises(InputError, match="empty file") as exc:
        read_all(p)
    assert exc.value.path == str(p)


def test_header_only_file_yields_nothing(tmp_path):
    p = write(tmp_path, "conn.log", header(CONN_FIELDS, CONN_TYPES) + "#close\t2024\n")
    batches, report = read_all(p)
    assert batches == [] and report.skipped_total() == 0


def test_missing_fields_header_uses_default_conn_layout_and_says_so(tmp_path):
    p = write(tmp_path, "conn.log", rows_text([conn_row(0), conn_row(1)], CONN_FIELDS))
    assert ZeekReader.sniff(p.read_bytes(), p)
    fr, report = one_frame(p)
    assert fr["source.ip"].tolist() == ["10.0.0.1", "10.0.0.2"]
    assert any("default zeek conn layout" in r for (_, r) in report.notes)
    assert report.skipped_total() == 0  # a note, nothing lost


def test_missing_fields_header_with_unknown_layout_is_an_input_error(tmp_path):
    p = write(tmp_path, "x.log", "#separator \\x09\n1.0\tC1\t10.0.0.1\n")
    with pytest.raises(InputError, match="no #fields header") as exc:
        read_all(p)
    assert exc.value.where == "line 2"


def test_unsupported_log_path_counted_once_per_file_with_line_count(tmp_path):
    fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "name", "addl", "notice", "peer"]
    body = "".join(f"1.0\tC{i}\t1.1.1.1\t1\t2.2.2.2\t2\tbad_TCP_checksum\t-\tF\tzeek\n" for i in range(5))
    p = write(tmp_path, "weird.log", header(fields, path="weird") + body)
    batches, report = read_all(p)
    assert batches == []
    assert dict(report.skipped) == {(str(p), "unsupported zeek log path 'weird'"): 5}


def test_stratosphere_labels_are_normalised(tmp_path):
    fields = CONN_FIELDS + ["label", "detailedlabel"]
    rows = [conn_row(0, label="Malicious", detailedlabel="C&C"), conn_row(1, label="Benign", detailedlabel="-"),
            conn_row(2, label="Background", detailedlabel="(empty)"), conn_row(3, label="-", detailedlabel="-")]
    p = write(tmp_path, "conn.log.labeled", header(fields, CONN_TYPES + ["string", "string"]) + rows_text(rows, fields))
    fr, _ = one_frame(p)
    assert fr["label"].tolist() == ["malicious", "benign", "", ""]
    assert fr["label.detail"].tolist() == ["C&C", "", "", ""]


@pytest.mark.parametrize("joined_by", ["   ", "\t"])
def test_legacy_space_joined_label_columns(tmp_path, joined_by):
    fields = CONN_FIELDS[:-1] + ["tunnel_parents   label   detailedlabel"]
    rows = [conn_row(0, **{"tunnel_parents   label   detailedlabel": joined_by.join(["(empty)", "Malicious", "PartOfAHorizontalPortScan"])}),
            conn_row(1, **{"tunnel_parents   label   detailedlabel": joined_by.join(["(empty)", "Benign", "-"])})]
    p = write(tmp_path, "conn.log.labeled", header(fields, CONN_TYPES[:-1] + ["set[string]   string   string"]) +
              rows_text(rows, fields))
    fr, report = one_frame(p)
    assert fr["label"].tolist() == ["malicious", "benign"]
    assert fr["label.detail"].tolist() == ["PartOfAHorizontalPortScan", ""]
    assert fr["source.port"].tolist() == [40000.0, 40001.0] and report.skipped_total() == 0


def test_dns_http_ssl_tsv(tmp_path):
    dns_fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id", "query",
                  "qtype_name", "rcode_name", "AA", "answers", "TTLs"]
    dns = write(tmp_path, "dns.log", header(dns_fields, path="dns") +
                "5.0\tCd\t10.0.0.1\t5353\t8.8.8.8\t53\tudp\t4242\texample.com\tA\tNOERROR\tT\t1.2.3.4,5.6.7.8\t60.0,60.0\n")
    fr, _ = one_frame(dns)
    r = fr.iloc[0]
    assert (r["dns.question.name"], r["dns.question.type"], r["dns.response_code"], r["dns.answers"], r["dns.id"]) == (
        "example.com", "A", "NOERROR", "1.2.3.4,5.6.7.8", 4242.0)
    assert r["zeek.AA"] == 1.0 and r["event.dataset"] == "zeek.dns"

    http_fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "method", "host", "uri",
                   "referrer", "user_agent", "request_body_len", "response_body_len", "status_code"]
    http = write(tmp_path, "http.log", header(http_fields, path="http") +
                 "5.0\tCh\t10.0.0.1\t5000\t1.1.1.1\t80\tPOST\tex.com\t/a?b=1\t-\tcurl/8 (x; y)\t12\t345\t404\n")
    r = one_frame(http)[0].iloc[0]
    assert (r["http.request.method"], r["url.domain"], r["url.original"], r["user_agent.original"]) == (
        "POST", "ex.com", "/a?b=1", "curl/8 (x; y)")
    assert (r["http.request.referrer"], r["http.request.body.bytes"], r["http.response.body.bytes"],
            r["http.response.status_code"]) == ("", 12.0, 345.0, 404.0)

    ssl_fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "version", "server_name",
                  "established", "ja3", "ja3s", "subject", "issuer"]
    ssl = write(tmp_path, "ssl.log", header(ssl_fields, path="ssl") +
                "5.0\tCs\t10.0.0.1\t5000\t1.1.1.1\t443\tTLSv12\tex.com\tT\tabc\tdef\tCN=ex.com\tCN=CA\n"
                "6.0\tCt\t10.0.0.1\t5001\t1.1.1.1\t443\t-\t-\tF\t-\t-\t-\t-\n")
    fr = one_frame(ssl)[0]
    assert fr["tls.established"].tolist() == [1.0, 0.0]
    r = fr.iloc[0]
    assert (r["tls.version"], r["tls.client.server_name"], r["tls.client.ja3"], r["tls.server.ja3s"],
            r["tls.server.subject"], r["tls.server.issuer"]) == ("TLSv12", "ex.com", "abc", "def", "CN=ex.com", "CN=CA")
    assert fr["tls.version"].iat[1] == ""


def test_json_conn_dns_ssl_and_bad_lines(tmp_path):
    recs = [{"ts": 1.5, "uid": "C1", "id.orig_h": "10.0.0.1", "id.orig_p": 1234, "id.resp_h": "1.1.1.1",
             "id.resp_p": 443, "proto": "tcp", "service": "ssl", "duration": 2.0, "orig_bytes": 10,
             "resp_bytes": 20, "conn_state": "SF", "local_orig": True, "history": "ShADadFf",
             "orig_pkts": 3, "resp_pkts": 4, "orig_ip_bytes": 200, "resp_ip_bytes": 300},
            {"ts": 2.5, "uid": "C2", "id.orig_h": "10.0.0.2", "id.orig_p": 8, "id.resp_h": "1.1.1.1",
             "id.resp_p": 0, "proto": "icmp", "conn_state": "OTH", "local_orig": False, "orig_pkts": 1}]
    text = json.dumps(recs[0]) + "\n{not json\n" + json.dumps(recs[1]) + "\n"
    p = write(tmp_path, "conn.json", text)
    assert ZeekReader.sniff(p.read_bytes(), p)
    fr, report = one_frame(p)
    assert fr["event.id"].tolist() == ["C1", "C2"]
    assert fr["source.port"].tolist() == [1234.0, 8.0] and fr["flow.state"].tolist() == ["SF", "OTH"]
    assert fr["network.protocol"].tolist() == ["ssl", ""] and np.isnan(fr["source.bytes"].iat[1])
    assert fr["zeek.local_orig"].tolist() == [1.0, 0.0] and fr["zeek.resp_ip_bytes"].iat[0] == 300.0
    assert dict(report.skipped) == {(str(p), "not a JSON object"): 1}
    assert report.examples[(str(p), "not a JSON object")] == "line 2"

    dns = write(tmp_path, "dns.log", json.dumps({"ts": "2024-01-01T00:00:01.500000Z", "uid": "Cd", "id.orig_h": "10.0.0.1",
                                                 "id.orig_p": 5, "id.resp_h": "8.8.8.8", "id.resp_p": 53, "proto": "udp",
                                                 "trans_id": 7, "query": "a.example", "qtype_name": "A", "rcode_name": "NOERROR",
                                                 "answers": ["1.2.3.4", "5.6.7.8"], "TTLs": [60.0, 60.0]}) + "\n")
    r = one_frame(dns)[0].iloc[0]
    assert r["@timestamp"] == 1704067201.5 and r["dns.answers"] == "1.2.3.4,5.6.7.8" and r["dns.id"] == 7.0
    assert r["zeek.TTLs"] == "60,60"  # lists are joined with ","

    ssl = write(tmp_path, "x.json", json.dumps({"ts": 1.0, "uid": "Cs", "id.orig_h": "10.0.0.1", "id.orig_p": 5,
                                                "id.resp_h": "1.1.1.1", "id.resp_p": 443, "version": "TLSv13",
                                                "server_name": "ex.com", "established": True, "cipher": "X"}) + "\n")
    fr = one_frame(ssl)[0]
    assert fr["tls.established"].tolist() == [1.0] and fr["tls.version"].tolist() == ["TLSv13"]


def test_json_type_conflicts_fall_back_without_losing_rows(tmp_path):
    lines = [{"ts": 1.0, "uid": "C1", "id.orig_h": "10.0.0.1", "conn_state": "SF", "history": "S"},
             {"ts": 2.0, "uid": "C2", "id.orig_h": "10.0.0.2", "conn_state": "S0", "history": 5}]
    p = write(tmp_path, "conn.log", "".join(json.dumps(x) + "\n" for x in lines))
    fr, report = one_frame(p)
    assert fr["event.id"].tolist() == ["C1", "C2"] and fr["flow.history"].tolist() == ["S", "5"]


def test_unsupported_json_log(tmp_path):
    p = write(tmp_path, "ssh.log", "".join(json.dumps({"ts": 1.0 + i, "uid": f"C{i}", "id.orig_h": "1.1.1.1",
                                                       "auth_attempts": 0, "client": "SSH-2.0"}) + "\n" for i in range(3)))
    batches, report = read_all(p)
    assert batches == [] and dict(report.skipped) == {(str(p), "unsupported zeek log path 'ssh'"): 3}


def test_sniff_accepts_zeek_and_rejects_others(tmp_path):
    assert ZeekReader.sniff(b"#separator \\x09\n#set_separator\t,\n", Path("x"))
    assert ZeekReader.sniff(b'{"ts":1.0,"uid":"C1","id.orig_h":"1.1.1.1"}\n', Path("x"))
    assert not ZeekReader.sniff(b'{"timestamp":"2021-06-06T15:59:46+0200","event_type":"flow"}\n', Path("x"))
    assert not ZeekReader.sniff(b"StartTime,Dur,Proto,SrcAddr\n1,2,tcp,1.1.1.1\n", Path("x"))
    assert not ZeekReader.sniff(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", Path("x"))


def test_batches_never_exceed_batch_size(tmp_path, monkeypatch):
    monkeypatch.setattr(zeek_mod, "CHUNK_BYTES", 4096)
    p = write(tmp_path, "conn.log", header(CONN_FIELDS, CONN_TYPES) + rows_text([conn_row(i) for i in range(500)], CONN_FIELDS))
    batches, _ = read_all(p, batch_size=64)
    assert [len(b) for b in batches] == [64] * 7 + [52]


# --- real Stratosphere files (skipped when the shared data is absent) -----------------------

needs_data = pytest.mark.skipif(not DATA.exists(), reason=f"Stratosphere Zeek logs not present at {DATA}")


@needs_data
def test_real_labeled_conn_log_001():
    fr, report = one_frame(DATA / "001-zeek-scenario-malicious" / "labeled-conn.log")
    assert len(fr) == 992 and report.skipped_total() == 0
    assert fr["label"].value_counts().to_dict() == {"": 739, "malicious": 244, "benign": 9}
    assert fr["zeek.orig_ip_bytes"].notna().all()


@needs_data
@pytest.mark.parametrize("name,kind,rows", [
    ("008-zeek-mixed/data/conn.log.labeled", "flow", 5663),
    ("008-zeek-mixed/data/http.log.labeled", "http", 342),
    ("008-zeek-mixed/data/ssl.log.labeled", "tls", 545),
    ("010-zeek-mixed/data/conn.log.labeled", "flow", 5347),
    ("010-zeek-mixed/data/dns.log.labeled", "dns", 8),
    ("002-zeek-scenario-port-scanning/conn.log", "flow", 4504),
])
def test_real_supported_logs(name, kind, rows):
    path = DATA / name
    assert ZeekReader.sniff(path.read_bytes()[:65536], path)
    batches, report = read_all(path)
    assert {b.kind for b in batches} == {kind} and sum(map(len, batches)) == rows
    assert report.skipped_total() == 0
    fr = batches[0].frame
    assert (fr["source.ip"] != "").all() and fr["@timestamp"].notna().all()


@needs_data
def test_real_unsupported_logs_are_counted():
    path = DATA / "010-zeek-mixed/data/weird.log.labeled"
    batches, report = read_all(path)
    assert batches == [] and report.skipped[(str(path), "unsupported zeek log path 'weird'")] == 298


@pytest.mark.skipif(not SURICATA.exists(), reason=f"Suricata EVE sample not present at {SURICATA}")
def test_suricata_eve_is_not_taken_for_zeek():
    assert not ZeekReader.sniff(SURICATA.read_bytes()[:65536], SURICATA)


def test_json_streaming_file_mixing_paths(tmp_path):
    lines = [{"_path": "conn", "_write_ts": "x", "ts": 1.0, "uid": "C1", "id.orig_h": "10.0.0.1", "conn_state": "S0"},
             {"_path": "dns", "ts": 2.0, "uid": "C2", "id.orig_h": "10.0.0.2", "query": "a.example"},
             {"_path": "weird", "ts": 3.0, "uid": "C3", "name": "bad_checksum"},
             {"_path": "conn", "ts": 4.0, "uid": "C4", "id.orig_h": "10.0.0.4", "conn_state": "SF"}]
    p = write(tmp_path, "zeek.json", "".join(json.dumps(x) + "\n" for x in lines))
    batches, report = read_all(p)
    got = {b.kind: b.frame for b in batches}
    assert got["flow"]["event.id"].tolist() == ["C1", "C4"] and got["dns"]["dns.question.name"].tolist() == ["a.example"]
    assert "zeek.query" not in got["flow"].columns and "zeek._write_ts" not in got["flow"].columns
    assert dict(report.skipped) == {(str(p), "unsupported zeek log path 'weird'"): 1}


def test_crlf_line_endings(tmp_path):
    text = (header(CONN_FIELDS, CONN_TYPES) + rows_text([conn_row(0), conn_row(1)], CONN_FIELDS)).replace("\n", "\r\n")
    fr, report = one_frame(write(tmp_path, "conn.log", text))
    assert fr["zeek.tunnel_parents"].tolist() == ["", ""] and fr["event.id"].tolist() == ["Cuid000000", "Cuid000001"]
    assert report.skipped_total() == 0


def test_truncated_gzip_keeps_the_rows_before_the_cut_and_reports_it(tmp_path):
    body = (header(CONN_FIELDS, CONN_TYPES) + rows_text([conn_row(i) for i in range(2000)], CONN_FIELDS)).encode()
    p = tmp_path / "conn.log.gz"
    p.write_bytes(gzip.compress(body)[:5000])
    batches, report = read_all(p)
    assert 0 < sum(len(b) for b in batches) < 2000
    assert (str(p), "truncated gzip stream: the rest of the file is missing") in report.skipped


def test_json_non_utf8_bytes_are_replaced(tmp_path):
    line = json.dumps({"ts": 1.0, "uid": "C1", "id.orig_h": "10.0.0.1", "conn_state": "S0", "history": "XX"})
    p = write(tmp_path, "conn.log", (line + "\n").encode().replace(b'"XX"', b'"S\xff"'))
    fr, _ = one_frame(p)
    assert fr["flow.history"].tolist() == ["S\ufffd"]


def test_repeated_field_names_do_not_break_reading(tmp_path):
    fields = ["ts", "uid", "id.orig_h", "note", "note"]
    p = write(tmp_path, "conn.log", header(fields) + "1.0\tC1\t10.0.0.1\ta\tb\n")
    fr, _ = one_frame(p)
    assert fr["zeek.note"].tolist() == ["a"] and fr["zeek.note.2"].tolist() == ["b"]


def test_iso_timestamps_any_offset_and_fallbacks():
    import pyarrow as pa

    got = zeek_mod.iso_to_epoch(pa.array(["2021-06-06T15:59:46.5+0200", "2021-06-06T13:59:46.5Z", None])).to_pylist()
    assert got == [1622987986.5, 1622987986.5, None]
    odd = zeek_mod.iso_to_epoch(pa.array(["2021-06-06T13:59:46", "garbage", "2021-06-06T13:59:46.123456789Z"]))
    vals = odd.to_numpy(zero_copy_only=False)
    assert vals[0] == 1622987986.0 and np.isnan(vals[1]) and vals[2] == pytest.approx(1622987986.123456789)
