"""STIX 2.1 bundles as an indicator source: patterns, metadata, bad input, expiry, duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intel_helpers import T0, bundle, by_value, indicator, skips
from threatml.errors import InputError, ReadReport
from threatml.intel import load_feeds, load_file
from threatml.intel.stix import load_stix, pattern_values

NOW = pd.Timestamp("2026-06-01", tz="UTC").timestamp()


def test_valid_bundle_every_supported_pattern(tmp_path):
    objs = [
        {"type": "identity", "spec_version": "2.1", "id": "identity--00000000-0000-4000-8000-0000000000aa",
         "created": T0, "modified": T0, "name": "ACME CERT", "identity_class": "organization"},
        indicator(1, "[ipv4-addr:value = '198.51.100.7']", confidence=85, labels=["C2", "Emotet"],
                  indicator_types=["malicious-activity"], name="emotet c2",
                  created_by_ref="identity--00000000-0000-4000-8000-0000000000aa",
                  valid_until="2099-01-01T00:00:00Z"),
        indicator(2, "[ipv6-addr:value = '2001:DB8::7']"),
        indicator(3, "[ipv4-addr:value = '192.0.2.0/24']"),
        indicator(4, "[ipv4-addr:value ISSUBSET '203.0.113.0/25']"),
        indicator(5, "[domain-name:value = 'Evil.Example.']"),
        indicator(6, "[url:value = 'HTTP://evil.example:80/drop.exe']"),
        indicator(7, "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']"),
        indicator(8, "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"),
        indicator(9, "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' "
                     "AND file:name = 'invoice.exe']"),
        indicator(10, "[email-addr:value = 'Boss@Phish.example']"),
        indicator(11, "[email-message:from_ref.value = 'ceo@phish.example']"),
        indicator(12, "[domain-name:value = 'a.example' OR domain-name:value = 'b.example'] "
                      "OR [url:value IN ('http://c.example/x', 'http://c.example/y')]"),
        indicator(13, "[network-traffic:dst_ref.value = '198.51.100.99']"),
        indicator(14, "[url:value = 'http://q.example/it\\'s']"),  # escaped quote: the grammar path
    ]
    p = bundle(tmp_path / "feed.json", objs)
    s = load_file(p)
    v = by_value(s)
    assert s.report.formats[str(p)] == "stix" and not s.report.skipped
    assert {k: v[k]["type"] for k in v} == {
        "198.51.100.7": "ipv4", "2001:db8::7": "ipv6", "192.0.2.0/24": "cidr", "203.0.113.0/25": "cidr",
        "evil.example": "domain", "http://evil.example/drop.exe": "url",
        "d41d8cd98f00b204e9800998ecf8427e": "md5", "da39a3ee5e6b4b0d3255bfef95601890afd80709": "sha1",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855": "sha256",
        "boss@phish.example": "email", "ceo@phish.example": "email", "a.example": "domain", "b.example": "domain",
        "http://c.example/x": "url", "http://c.example/y": "url", "198.51.100.99": "ipv4",
        "http://q.example/it's": "url"}
    c2 = v["198.51.100.7"]
    assert c2["confidence"] == 85.0 and v["evil.example"]["confidence"] == 50.0
    assert c2["tags"] == "c2,emotet,malicious-activity"
    assert c2["first_seen"] == pd.Timestamp(T0).timestamp()
    assert c2["valid_until"] == pd.Timestamp("2099-01-01", tz="UTC").timestamp()
    assert "ACME CERT" in c2["description"] and "emotet c2" in c2["description"]
    assert c2["refs"] == "indicator--00000000-0000-4000-8000-000000000001" and c2["sources"] == "feed.json"
    assert v["a.example"]["refs"] == v["http://c.example/y"]["refs"]  # one indicator, four alternatives


@pytest.mark.parametrize("pattern,reason", [
    ("[ipv4-addr:value = ", "malformed STIX pattern"),
    ("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a.example']", "compound pattern (FOLLOWEDBY)"),
    ("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']", "compound pattern (AND)"),
    ("[domain-name:value = 'a.example' AND domain-name:resolves_to_refs[*].value = '1.2.3.4']", "compound pattern (AND)"),
    ("[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES", "qualified pattern"),
    ("[domain-name:value LIKE '%.example']", "comparison operator LIKE"),
    ("[ipv4-addr:value NOT = '1.2.3.4']", "negated comparison"),
    ("[x-acme-thing:value = 'a']", "unsupported pattern path x-acme-thing:value"),
    ("[file:hashes.'SHA-512' = 'aa']", "hash type SHA-512 not supported"),
])
def test_patterns_that_cannot_be_mapped_say_why(pattern, reason):
    rows, why = pattern_values(pattern)
    assert rows == [] and why.startswith(reason), why


def test_bad_objects_are_skipped_with_file_and_reason_the_rest_loads(tmp_path):
    objs = [
        indicator(1, "[domain-name:value = 'good.example']"),
        indicator(2, "[ipv4-addr:value = "),  # malformed pattern
        indicator(3, "alert tcp any any -> any any (sid:1;)", pattern_type="snort"),  # unknown pattern type
        indicator(4, "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']"),
        indicator(5, "[ipv4-addr:value = '300.1.2.3']"),  # invalid address
        indicator(6, "[ipv4-addr:value = '10.0.0.0/33']"),  # invalid CIDR
        indicator(7, "[domain-name:value = '198.51.100.1']"),  # an address where a domain belongs
        indicator(8, "[domain-name:value = 'revoked.example']", revoked=True),
        {k: v for k, v in indicator(9, "").items() if k != "pattern"},  # no pattern
        "not an object",
        {"type": "malware", "spec_version": "2.1", "id": "malware--00000000-0000-4000-8000-000000000001",
         "created": T0, "modified": T0, "name": "x", "is_family": True},
    ]
    p = bundle(tmp_path / "mixed.json", objs)
    s = load_stix(p)
    assert list(s.frame["value"]) == ["good.example"]
    sk = skips(s.report, p)
    assert sk.pop("pattern_type 'snort' not supported (only stix)") == 1
    assert sk.pop("compound pattern (FOLLOWEDBY) cannot be matched one value at a time") == 1
    assert sk.pop("revoked indicator") == 1 and sk.pop("indicator without a pattern") == 1
    assert sk.pop("malformed STIX object (not an object with a 'type')") == 1
    assert sk.pop("bad ip value (bad IPv4 address)") == 1 and sk.pop("bad ip value (bad IPv4 CIDR)") == 1
    assert sk.pop("value does not fit its field: domain expected, ipv4 found") == 1
    (malformed,) = sk  # the parser's own message follows
    assert malformed.startswith("malformed STIX pattern") and sk[malformed] == 1
    assert s.report.examples[(str(p), "revoked indicator")] == "object 8"
    assert s.report.notes[(str(p), "STIX objects other than indicators (not used for matching)")] == 1


def test_malformed_json_and_non_bundles_are_input_errors_and_other_feeds_still_load(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "objects": [\n  {"type": "indicator",,}\n]}')
    with pytest.raises(InputError, match=r"broken.json:line 2 column \d+: malformed JSON"):
        load_file(broken)
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": "world"}')
    with pytest.raises(InputError, match="neither a STIX 2.x bundle nor a MISP event"):
        load_file(odd)
    not_list = tmp_path / "notlist.json"
    not_list.write_text('{"type": "bundle", "id": "bundle--1", "objects": {"a": 1}}')
    with pytest.raises(InputError, match="'objects' of the bundle is not a list"):
        load_file(not_list)
    ok = bundle(tmp_path / "ok.json", [indicator(1, "[domain-name:value = 'ok.example']")])
    report = ReadReport()
    s = load_feeds([broken, odd, not_list, ok], report=report)
    assert list(s.frame["value"]) == ["ok.example"]
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in report.errors) == ["broken.json", "notlist.json", "odd.json"]


def test_expired_indicators_counted_and_skipped(tmp_path):
    p = bundle(tmp_path / "exp.json", [
        indicator(1, "[domain-name:value = 'old.example']", valid_until="2026-02-01T00:00:00Z"),
        indicator(2, "[domain-name:value = 'live.example']", valid_until="2026-12-01T00:00:00Z"),
        indicator(3, "[domain-name:value = 'forever.example']"),
        indicator(4, "[domain-name:value = 'baddate.example']", valid_until="someday"),
    ])
    report = ReadReport()
    s = load_feeds([p], now=NOW, report=report)
    assert sorted(s.frame["value"]) == ["baddate.example", "forever.example", "live.example"]
    assert report.skipped[("exp.json", "expired (valid_until in the past)")] == 1
    assert report.notes[(str(p), "unparseable valid_until (kept without it)")] == 1


def test_versions_of_one_indicator_latest_wins(tmp_path):
    old = indicator(1, "[domain-name:value = 'v1.example']", modified="2026-01-01T00:00:00.000Z")
    new = indicator(1, "[domain-name:value = 'v2.example']", modified="2026-03-01T00:00:00.000Z")
    s = load_stix(bundle(tmp_path / "v.json", [new, old]))
    assert list(s.frame["value"]) == ["v2.example"]


def test_duplicates_across_stix_and_csv_merge_into_one_row(tmp_path):
    stix = bundle(tmp_path / "a.json", [
        indicator(1, "[ipv4-addr:value = '203.0.113.9']", confidence=90, labels=["c2"],
                  valid_from="2026-02-01T00:00:00Z", valid_until="2026-12-01T00:00:00Z"),
        indicator(2, "[ipv4-addr:value = '203.0.113.9']", confidence=20, labels=["scanner"]),  # same value twice
    ])
    csv = tmp_path / "b.csv"
    csv.write_text("ip,confidence,tags,first_seen\n203.0.113.9,40,botnet,2026-01-15\n")
    s = load_feeds([stix, csv], now=NOW)
    assert len(s) == 1
    row = s.frame.iloc[0]
    assert row["sources"] == "a.json,b.csv" and row["tags"] == "botnet,c2,scanner"
    assert row["confidence"] == 90.0
    assert row["first_seen"] == pd.Timestamp("2026-01-01", tz="UTC").timestamp()  # indicator 2's valid_from (T0)
    assert np.isnan(row["valid_until"])  # the CSV and indicator 2 set no expiry
    assert row["refs"] == ("indicator--00000000-0000-4000-8000-000000000001,"
                           "indicator--00000000-0000-4000-8000-000000000002")


def test_observables_only_when_asked(tmp_path):
    objs = [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--00000000-0000-4000-8000-000000000001",
         "value": "198.51.100.44"},
        {"type": "file", "spec_version": "2.1", "id": "file--00000000-0000-4000-8000-000000000001",
         "hashes": {"SHA-256": "a" * 64, "MD5": "b" * 32, "SSDEEP": "3:abc"}},
        {"type": "observed-data", "id": "observed-data--1",
         "objects": {"0": {"type": "domain-name", "value": "seen.example"}}},
    ]
    p = bundle(tmp_path / "obs.json", objs)
    assert len(load_file(p)) == 0
    s = load_feeds([p], observables=True)
    assert sorted(s.frame["type"]) == ["domain", "ipv4", "md5", "sha256"]
    assert (s.frame["tags"] == "observable").all()


def test_single_object_and_taxii_envelope_forms(tmp_path):
    import json

    one = tmp_path / "one.json"
    one.write_text(json.dumps(indicator(1, "[domain-name:value = 'one.example']")))
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"more": False, "objects": [indicator(2, "[domain-name:value = 'two.example']")]}))
    assert list(load_file(one).frame["value"]) == ["one.example"]
    assert list(load_file(env).frame["value"]) == ["two.example"]
