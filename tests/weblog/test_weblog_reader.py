"""Access-log reader: formats, mapping, bad lines, sniffing."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from threatml.errors import ReadReport
from threatml.readers import detect
from threatml.readers.weblog import AccessLogReader

COMBINED = ('192.0.2.10 - alice [10/Oct/2023:13:55:36 -0700] "GET /shop/item.php?id=7&x=%27 HTTP/1.1" 200 2326 '
            '"https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)"')
COMMON = '192.0.2.11 - - [10/Oct/2023:13:55:37 +0000] "POST /login HTTP/1.0" 401 -'
VHOST = ('www.example.org:443 192.0.2.12 - - [10/Oct/2023:13:55:38 +0200] "HEAD / HTTP/2.0" 304 0 "-" '
         '"curl/8.0"')
ESCAPED = r'192.0.2.13 - - [10/Oct/2023:13:55:39 +0000] "GET /q?a=\"x\" HTTP/1.1" 200 5 "-" "UA \"quoted\""'
NGINX = ('198.51.100.4 - - [11/Oct/2023:00:00:01 +0000] "GET /api HTTP/1.1" 200 612 "-" "Go-http-client/1.1" '
         '"203.0.113.9"')


def _read(tmp_path: Path, lines, name="access.log"):
    p = tmp_path / name
    p.write_bytes(("\n".join(lines) + "\n").encode() if isinstance(lines[0], str) else b"\n".join(lines) + b"\n")
    rep = ReadReport()
    batches = list(AccessLogReader().read(p, rep))
    fr = batches[0].frame if batches else None
    return fr, rep, batches


def test_formats_and_mapping(tmp_path):
    fr, rep, _ = _read(tmp_path, [COMBINED, COMMON, VHOST, ESCAPED])
    assert rep.skipped_total() == 0
    assert fr["source.ip"].tolist() == ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"]
    assert fr["http.request.method"].tolist() == ["GET", "POST", "HEAD", "GET"]
    assert fr["url.original"][0] == "/shop/item.php?id=7&x=%27"
    assert fr["url.path"][0] == "/shop/item.php" and fr["url.query"][0] == "id=7&x=%27"
    assert fr["http.response.status_code"].tolist() == [200.0, 401.0, 304.0, 200.0]
    assert fr["http.response.body.bytes"].tolist() == [2326.0, 0.0, 0.0, 5.0]
    assert fr["http.request.referrer"].tolist()[:2] == ["https://example.com/start", ""]
    assert fr["user_agent.original"][0].startswith("Mozilla/5.0")
    assert fr["user.name"][0] == "alice"
    assert fr["http.version"].tolist() == ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1"]
    assert fr["url.domain"][2] == "www.example.org" and fr["destination.port"][2] == 443.0
    # escaped quotes inside quoted fields are undone
    assert fr["url.original"][3] == '/q?a="x"' and fr["user_agent.original"][3] == 'UA "quoted"'
    # time zones: 13:55:36 -0700 is 20:55:36 UTC
    assert fr["@timestamp"][0] == pytest.approx(1696971336.0)
    assert fr["@timestamp"][2] == pytest.approx(1696938938.0)
    assert fr["event.id"][1].endswith("access.log:2")
    assert set(fr["event.dataset"]) == {"apache.access"}


def test_nginx_extra_fields_and_dataset(tmp_path):
    fr, rep, _ = _read(tmp_path, [NGINX, NGINX])
    assert rep.skipped_total() == 0
    assert fr["event.dataset"].tolist() == ["nginx.access"] * 2
    assert fr["weblog.extra"][0] == '"203.0.113.9"'
    assert fr["user_agent.original"][0] == "Go-http-client/1.1"


def test_bad_lines_are_counted_with_reasons(tmp_path):
    lines = [COMBINED.encode(), b"this is not an access log line", b"\x00\x01\x02binary" + b"x" * 20,
             COMBINED.replace("[10/Oct/2023", "[99/Foo/2023").encode(), b"", b"x" * 70_000, COMMON.encode()]
    fr, rep, _ = _read(tmp_path, lines)
    assert len(fr) == 3  # good lines and the one with a bad month (kept, time NaN)
    reasons = {r: c for (_, r), c in rep.skipped.items()}
    assert reasons["not an access-log line (common/combined)"] == 1
    assert reasons["binary data (control bytes) in line"] == 1
    assert any(r.startswith("line longer than") for r in reasons)
    assert np.isnan(fr["@timestamp"][1])
    assert sum(rep.notes.values()) == 1
    assert rep.examples[(str(tmp_path / "access.log"), "not an access-log line (common/combined)")] == "line 2"


def test_odd_but_valid_lines(tmp_path):
    lines = [b'2001:db8::1 - - [10/Oct/2023:13:55:36 +0000] "GET /a b/c?x=1 2 HTTP/1.1" 200 5 "-" "caf\xe9"\r',
             b'192.0.2.1 - - [10/Oct/2023:13:55:37 +0000] "\\x16\\x03\\x01\\x00" 400 0 "-" "-"',
             b'192.0.2.1 - - [10/Oct/2023:13:55:38] "-" 408 0 "-" "-"']
    fr, rep, _ = _read(tmp_path, lines)
    assert rep.skipped_total() == 0
    assert fr["source.ip"][0] == "2001:db8::1"  # IPv6 client, CRLF line end, Latin-1 byte
    assert fr["url.original"][0] == "/a b/c?x=1 2" and fr["http.version"][0] == "HTTP/1.1"
    assert fr["user_agent.original"].tolist() == ["caf\ufffd", "", ""]
    # TLS bytes sent to a plain HTTP port: no method, the raw request kept
    assert fr["http.request.method"][1] == "" and fr["url.original"][1] == "\\x16\\x03\\x01\\x00"
    assert fr["@timestamp"][2] == pytest.approx(1696945118.0)  # no offset: UTC


def test_batches_are_bounded_and_gzip_works(tmp_path):
    p = tmp_path / "big.log.gz"
    with gzip.open(p, "wt") as fh:
        for i in range(2500):
            fh.write(COMBINED.replace("id=7", f"id={i}") + "\n")
    rep = ReadReport()
    sizes = [len(b) for b in AccessLogReader().read(p, rep, batch_size=1000)]
    assert sizes == [1000, 1000, 500]
    assert rep.records[str(p)] == 2500


def test_sniff_is_specific(tmp_path):
    p = tmp_path / "web.log"
    p.write_text("\n".join([COMBINED] * 5) + "\n")
    assert detect(p) is AccessLogReader
    head_other = b"Oct 10 13:55:36 host sshd[1]: Accepted password for bob from 192.0.2.1 port 22 ssh2\n" * 5
    assert not AccessLogReader.sniff(head_other, Path("auth.log"))
    mostly_other = (head_other + (COMBINED + "\n").encode())
    assert not AccessLogReader.sniff(mostly_other, Path("x.log"))
    assert not AccessLogReader.sniff(b'{"ts": 1, "uid": "C1"}\n' * 3, Path("x.json"))
