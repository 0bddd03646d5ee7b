"""MISP event JSON (single, list, REST response) and MISP feed folders as indicator sources."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from intel_helpers import by_value, skips
from threatml.errors import InputError, ReadReport
from threatml.intel import load_feeds, load_file
from threatml.intel.misp import load_misp, load_misp_feed


def _attr(n: int, type_: str, value: str, to_ids: bool = True, **extra) -> dict:
    a = {"uuid": f"5e0a0000-0000-4000-8000-{n:012d}", "type": type_, "category": "Network activity",
         "value": value, "to_ids": to_ids, "timestamp": "1767225600", "comment": ""}
    a.update(extra)
    return a


def _event(n: int, attrs: list, level: str = "2", tags: tuple = (), objects: list | None = None) -> dict:
    return {"Event": {"uuid": f"5e0e0000-0000-4000-8000-{n:012d}", "info": f"campaign {n}", "date": "2026-01-01",
                      "threat_level_id": level, "analysis": "2", "Orgc": {"name": "ACME CERT"},
                      "Tag": [{"name": t} for t in tags], "Attribute": attrs, "Object": objects or []}}


def test_event_attribute_types_to_ids_tags_and_threat_level(tmp_path):
    attrs = [
        _attr(1, "ip-dst", "198.51.100.7", Tag=[{"name": "misp-galaxy:mitre-attack-pattern=\"Web Protocols - T1071.001\""}]),
        _attr(2, "ip-src|port", "203.0.113.5|4444"),
        _attr(3, "domain", "Evil.Example"),
        _attr(4, "hostname", "c2.evil.example"),
        _attr(5, "domain|ip", "drop.example|192.0.2.77"),
        _attr(6, "url", "http://evil.example:80/gate.php", comment="panel"),
        _attr(7, "md5", "d41d8cd98f00b204e9800998ecf8427e"),
        _attr(8, "filename|sha256", "invoice.exe|" + "e" * 64),
        _attr(9, "sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", first_seen="2026-02-01T00:00:00+00:00"),
        _attr(10, "email-src", "CEO@phish.example"),
        _attr(11, "ip-dst", "192.0.2.0/24"),
        _attr(12, "domain", "benign.example", to_ids=False),   # not for detection
        _attr(13, "comment", "free text", to_ids=False),         # unmapped type
        _attr(14, "regkey", "HKLM\\Run\\x"),                     # unmapped type
        _attr(15, "ip-dst", "999.1.1.1"),                        # invalid address
        _attr(16, "domain", "gone.example", deleted=True),
        _attr(17, "hostname", "203.0.113.9"),                    # an address where a host name belongs
    ]
    objects = [{"name": "file", "Attribute": [_attr(18, "sha256", "f" * 64)]}]
    p = tmp_path / "event.json"
    p.write_text(json.dumps(_event(1, attrs, level="1", tags=("tlp:amber", "APT,Test"), objects=objects)))
    s = load_file(p)
    v = by_value(s)
    assert s.report.formats[str(p)] == "misp"
    assert {k: r["type"] for k, r in v.items()} == {
        "198.51.100.7": "ipv4", "203.0.113.5": "ipv4", "evil.example": "domain", "c2.evil.example": "domain",
        "drop.example": "domain", "192.0.2.77": "ipv4", "http://evil.example/gate.php": "url",
        "d41d8cd98f00b204e9800998ecf8427e": "md5", "e" * 64: "sha256", "da39a3ee5e6b4b0d3255bfef95601890afd80709": "sha1",
        "ceo@phish.example": "email", "192.0.2.0/24": "cidr", "f" * 64: "sha256"}
    ip = v["198.51.100.7"]
    assert ip["confidence"] == 90.0  # threat level 1 (high)
    assert set(ip["tags"].split(",")) == {"tlp:amber", "apt;test", "threat-level:high",
                                          'misp-galaxy:mitre-attack-pattern="web protocols - t1071.001"'}
    assert ip["first_seen"] == 1767225600.0 and ip["refs"] == "5e0a0000-0000-4000-8000-000000000001"
    assert "campaign 1 (by ACME CERT)" in ip["description"]
    assert v["http://evil.example/gate.php"]["description"].endswith(": panel")
    assert v["da39a3ee5e6b4b0d3255bfef95601890afd80709"]["first_seen"] == pd.Timestamp("2026-02-01", tz="UTC").timestamp()
    assert skips(s.report, p) == {
        "to_ids is false (not meant for detection)": 1, "MISP attribute type 'comment' not matched by any event kind": 1,
        "MISP attribute type 'regkey' not matched by any event kind": 1, "bad ip value (bad IPv4 address)": 1,
        "deleted attribute": 1, "value does not fit its field: domain expected, ipv4 found": 1}
    assert len(load_misp(p, include_non_ids=True)) == len(s) + 1  # benign.example when asked for


def test_list_of_events_and_rest_response(tmp_path):
    evs = [_event(1, [_attr(1, "domain", "a.example")], level="3"),
           _event(2, [_attr(2, "domain", "a.example")], level="1"), {"nonsense": 1}]
    p = tmp_path / "events.json"
    p.write_text(json.dumps(evs))
    s = load_file(p)
    (row,) = s.frame.to_dict("records")
    assert row["value"] == "a.example" and row["confidence"] == 90.0  # merged: the higher confidence
    assert "threat-level:low" in row["tags"] and "threat-level:high" in row["tags"]
    assert skips(s.report, p) == {"malformed MISP event (no Event object with info/Attribute)": 1}
    rest = tmp_path / "rest.json"
    rest.write_text(json.dumps({"response": evs[:1]}))
    assert list(load_file(rest).frame["value"]) == ["a.example"]


def test_feed_folder_with_manifest_missing_and_broken_events(tmp_path):
    feed = tmp_path / "misp-feed"
    feed.mkdir()
    good = [_event(i, [_attr(i, "ip-dst", f"198.51.100.{i}"), _attr(100 + i, "url", f"http://bad{i}.example/x")])
            for i in range(1, 4)]
    manifest = {}
    for ev in good:
        uid = ev["Event"]["uuid"]
        (feed / f"{uid}.json").write_text(json.dumps(ev))
        manifest[uid] = {"info": ev["Event"]["info"], "date": "2026-01-01", "threat_level_id": "2", "timestamp": "1"}
    manifest["5e0e0000-0000-4000-8000-00000000dead"] = {"info": "missing", "date": "2026-01-01"}
    manifest["5e0e0000-0000-4000-8000-00000000beef"] = {"info": "broken", "date": "2026-01-01"}
    (feed / "5e0e0000-0000-4000-8000-00000000beef.json").write_text("{not json")
    (feed / "manifest.json").write_text(json.dumps(manifest))
    (feed / "hashes.csv").write_text("abc,def\n")  # part of the MISP feed layout, not an indicator list
    report = ReadReport()
    s = load_feeds([feed], report=report)
    assert s.counts() == {"ipv4": 3, "url": 3}
    assert set(s.frame["sources"]) == {"misp-feed"}
    assert report.skipped[(str(feed), "event listed in manifest.json but its file is missing")] == 1
    assert len(report.errors) == 1 and "beef.json" in report.errors[0][0] and "malformed JSON" in report.errors[0][1]
    direct = load_misp_feed(feed)
    assert len(direct) == 6
    with pytest.raises(InputError, match="MISP feed manifest: pass the feed folder"):
        load_file(feed / "manifest.json")
