"""The IOC detector on every event kind: addresses, domains, URLs, hashes, mail senders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from threatml.detectors.intel import IntelDetector
from threatml.events import EventBatch
from threatml.intel import IndicatorSet, classify

T = 1_780_000_000.0


def _set(*values: str, tags: str = "", confidence: float = 80.0) -> IndicatorSet:
    t, v, r = classify(pd.Series(values))
    assert (r == "").all(), r.tolist()
    return IndicatorSet(pd.DataFrame({"type": t, "value": v, "sources": "feed.json", "confidence": confidence,
                                      "first_seen": np.nan, "valid_until": np.nan, "tags": tags, "description": "",
                                      "refs": "indicator--x"}))


def _run(det: IntelDetector, kind: str, rows: dict) -> dict:
    n = len(next(iter(rows.values())))
    frame = pd.DataFrame({"event.id": [f"{kind}{i}" for i in range(n)], "@timestamp": [T + i for i in range(n)], **rows})
    batch = EventBatch.of(kind, frame, source=f"{kind}.log")
    out = det.process(batch) + det.flush()
    return {(f.entity, f.attributes["indicator.value"]): f for f in out}


def test_kinds_cover_every_event_kind_that_carries_an_indicator():
    assert {"flow", "auth", "dns", "http", "tls", "alert", "file", "email", "process", "activity"} <= IntelDetector.kinds


def test_auth_logons_from_listed_addresses_and_ranges():
    det = IntelDetector(_set("203.0.113.0/24", "198.51.100.9", tags="bruteforce"), half_life_days=0)
    got = _run(det, "auth", {"source.ip": ["203.0.113.44", "198.51.100.9", "10.0.0.3", "203.0.113.45"],
                             "user.name": ["alice", "", "bob", "alice"], "host.name": ["dc1", "web1", "dc1", "dc1"],
                             "event.action": ["logon-failed"] * 4})
    assert set(got) == {("alice", "203.0.113.0/24"), ("web1", "198.51.100.9")}
    f = got[("alice", "203.0.113.0/24")]
    assert f.entity_type == "user" and f.evidence == ["auth0", "auth3"] and f.attack == ["T1110"]
    assert f.related["source.ip"] == ["203.0.113.44", "203.0.113.45"] and f.related["host"] == ["dc1"]
    assert f.title == "Logon from listed address 203.0.113.0/24"


def test_process_by_image_hash_and_destination():
    sha = "ab" * 32
    det = IntelDetector(_set(sha, "198.51.100.23", tags="c2"))
    got = _run(det, "process", {"host.name": ["ws1", "ws2", "ws3"], "user.name": ["u1", "u2", "u3"],
                                "process.hash.sha256": [sha.upper(), "", "cd" * 32],
                                "process.executable": ["C:\\x.exe", "C:\\y.exe", "C:\\z.exe"],
                                "destination.ip": ["", "198.51.100.23", "8.8.8.8"]})
    assert set(got) == {("ws1", sha), ("ws2", "198.51.100.23")}
    f = got[("ws1", sha)]
    assert f.related["file.sha256"] == [sha]
    assert f.related["user"] == ["u1"] and "process.hash.sha256" in f.attributes["matched_fields"]
    assert got[("ws2", "198.51.100.23")].related["destination.ip"] == ["198.51.100.23"]


def test_files_by_md5_sha1_sha256():
    md5, sha1, sha256 = "d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "e" * 64
    det = IntelDetector(_set(md5, sha1, sha256, tags="malware"))
    got = _run(det, "file", {"file.path": ["/tmp/a", "/tmp/b", "/tmp/c", "/tmp/d"],
                             "file.hash.md5": [md5, "", "", "0" * 32],
                             "file.hash.sha1": ["", sha1.upper(), "", ""],
                             "file.hash.sha256": ["1" * 64, "2" * 64, sha256, "3" * 64]})
    assert set(got) == {("1" * 64, md5), ("2" * 64, sha1), (sha256, sha256)}
    f = got[("1" * 64, md5)]
    assert f.entity_type == "file" and f.related["file.path"] == ["/tmp/a"]
    assert got[(sha256, sha256)].related["file.sha256"] == [sha256]


@pytest.mark.parametrize("url_col", ["email.urls", "url.original"])
def test_email_by_sender_reply_to_and_urls(url_col):
    det = IntelDetector(_set("boss@phish.example", "http://login.phish.example/verify", "evil.example",
                             tags="phishing"))
    got = _run(det, "email", {
        "email.from.address": ["Boss@Phish.example", "friend@ok.example", "news@ok.example", "x@ok.example"],
        "email.to.address": ["alice@corp.example,bob@corp.example", "carol@corp.example", "dave@corp.example", ""],
        "email.reply_to.address": ["", "", "", ""],
        url_col: ["", "see HTTP://login.phish.example:80/verify, http://ok.example/a",
                  "https://cdn.evil.example/x.zip\nhttp://ok.example/", "http://ok.example/"],
    })
    assert set(got) == {("alice@corp.example", "boss@phish.example"),
                        ("carol@corp.example", "http://login.phish.example/verify"),
                        ("dave@corp.example", "evil.example")}
    f = got[("alice@corp.example", "boss@phish.example")]
    assert f.entity_type == "mailbox" and f.attack == ["T1566"]
    assert f.related["mailbox"] == ["alice@corp.example", "bob@corp.example"] and f.related["sender"] == ["boss@phish.example"]
    assert got[("dave@corp.example", "evil.example")].related["domain"] == ["evil.example"]


def test_activity_web_visits_and_attack_ids_from_tags():
    det = IntelDetector(_set("drop.example", tags='misp-galaxy:mitre-attack-pattern="exfiltration over web - t1567"'))
    got = _run(det, "activity", {"user.name": ["alice", "bob"],
                                 "url.original": ["http://files.drop.example/up", "http://ok.example/"]})
    (f,) = got.values()
    assert f.entity == "alice" and f.entity_type == "user" and f.attack == ["T1567"]


def test_network_kinds_still_match_and_carry_join_keys():
    det = IntelDetector(_set("evil.example", "http://evil.example/a", "198.51.100.0/24"))
    dns = _run(det, "dns", {"source.ip": ["10.0.0.5"], "dns.question.name": ["x.evil.example"], "dns.answers": [""]})
    assert dns[("10.0.0.5", "evil.example")].related["domain"] == ["evil.example"]
    flow = _run(det, "flow", {"source.ip": ["10.0.0.5"], "destination.ip": ["198.51.100.7"]})
    f = flow[("10.0.0.5", "198.51.100.0/24")]
    assert f.related["destination.ip"] == ["198.51.100.7"] and f.attributes["indicator.refs"] == "indicator--x"


def test_missing_optional_columns_do_not_break_matching():
    det = IntelDetector(_set("boss@phish.example"))
    got = _run(det, "email", {"email.from.address": ["boss@phish.example"]})  # no recipients, no URL column
    (f,) = got.values()
    assert f.entity == "boss@phish.example"
