"""Export of confirmed incidents: STIX 2.1 (parsed back by stix2, strictly) and MISP (parsed by pymisp)."""

from __future__ import annotations

import json
from datetime import datetime, timezone


from threatml.findings import Finding
from threatml.intel import load_file
from threatml.intel.export import observables, to_misp_event, to_stix_bundle

NOW = datetime(2026, 3, 11, tzinfo=timezone.utc)
T = 1_773_100_000.0


def _findings() -> list[Finding]:
    mail = Finding.make(detector="intel.ioc", detector_version="1", title="Email event matches listed email boss@phish.example",
                        start=T, end=T + 5, entity_type="mailbox", entity="alice@corp.example", score=0.8,
                        attack=["T1566"], evidence=["m1"],
                        related={"mailbox": ["alice@corp.example"], "sender": ["boss@phish.example"]},
                        attributes={"indicator.type": "email", "indicator.value": "boss@phish.example"})
    c2 = Finding.make(detector="intel.ioc", detector_version="1", title="Contact with listed ipv4 198.51.100.23",
                      start=T + 600, end=T + 4000, entity="10.10.2.15", score=0.95, attack=["T1071"],
                      evidence=[f"c{i}" for i in range(40)],
                      related={"destination.ip": ["198.51.100.23"], "domain": ["static.cdn-metrics.xyz"]},
                      attributes={"indicator.type": "ipv4", "indicator.value": "198.51.100.23", "direction": "outbound"})
    beacon = Finding.make(detector="network.beacon", detector_version="1", title="Periodic connections",
                          start=T + 700, end=T + 9000, entity="10.10.2.15", score=0.7, attack=["T1071.001", "bogus"],
                          evidence=["b1"], related={"destination.ip": ["198.51.100.23", "10.10.2.1"],
                                                    "url": ["http://static.cdn-metrics.xyz/p?id=1"]})
    brute = Finding.make(detector="identity.bruteforce", detector_version="1", title="Password spraying",
                         start=T - 100, end=T, entity_type="user", entity="alice", score=0.5, attack=["T1110.003"],
                         related={"source.ip": ["203.0.113.77"], "file.sha256": ["A" * 64]})
    internal = Finding.make(detector="network.portscan", detector_version="1", title="Internal scan", start=T, end=T,
                            entity="10.10.2.15", score=0.3, related={"destination.ip": ["10.10.2.1", "192.168.1.1"]})
    return [mail, c2, beacon, brute, internal]


def test_observables_keep_external_values_only():
    obs = {(o.type, o.value, o.inbound) for f in _findings() for o in observables(f)}
    assert obs == {("email", "boss@phish.example", False), ("ipv4", "198.51.100.23", False),
                   ("domain", "static.cdn-metrics.xyz", False), ("url", "http://static.cdn-metrics.xyz/p?id=1", False),
                   ("ipv4", "203.0.113.77", True), ("sha256", "a" * 64, False)}


def test_stix_bundle_is_strict_stix_21_and_round_trips():
    import stix2

    fs = _findings()
    doc = to_stix_bundle(fs, incident_id="inc-42", title="Phish, then C2", now=NOW)
    parsed = stix2.parse(json.dumps(doc), allow_custom=False)
    kinds = [o.type for o in parsed.objects]
    assert kinds.count("identity") == 1 and kinds.count("indicator") == 6 and kinds.count("grouping") == 1
    # one sighting per (finding, observable): 2 + 3 + 2 + 2 (mail: sender twice -> one; c2: ip + domain)
    sightings = [o for o in parsed.objects if o.type == "sighting"]
    assert len(sightings) == 1 + 2 + 2 + 2
    ind = {o.id: o for o in parsed.objects if o.type == "indicator"}
    c2 = next(o for o in ind.values() if o.pattern == "[ipv4-addr:value = '198.51.100.23']")
    assert c2.confidence == 95 and {r.external_id for r in c2.external_references} == {"T1071", "T1071.001"}
    seen = [s for s in sightings if s.sighting_of_ref == c2.id]
    assert sorted(s.count for s in seen) == [1, 40]
    assert all(s.where_sighted_refs == [parsed.objects[0].id] for s in sightings)
    assert to_stix_bundle(fs, incident_id="inc-42", title="Phish, then C2", now=NOW) == doc  # stable ids
    grouping = next(o for o in parsed.objects if o.type == "grouping")
    assert grouping.name == "Phish, then C2" and len(grouping.object_refs) == 6 + 7


def test_stix_export_loads_back_as_the_same_indicators(tmp_path):
    p = tmp_path / "export.json"
    p.write_text(json.dumps(to_stix_bundle(_findings(), incident_id="inc-1", now=NOW)))
    s = load_file(p)
    assert not s.report.skipped
    assert set(zip(s.frame["type"], s.frame["value"])) == {(o.type, o.value) for f in _findings() for o in observables(f)}
    assert len(s) == 6 and s.frame.loc[s.frame["value"] == "198.51.100.23", "confidence"].iat[0] == 95.0


def test_misp_event_parses_with_pymisp_and_loads_back(tmp_path):
    from pymisp import MISPEvent

    doc = to_misp_event(_findings(), incident_id="inc-42", title="Phish, then C2", now=NOW)
    ev = MISPEvent()
    ev.load(json.dumps(doc))
    assert ev.info == "Phish, then C2" and int(ev.threat_level_id) == 1 and int(ev.analysis) == 2
    ids = {(a.type, a.value) for a in ev.attributes if a.to_ids}
    assert ids == {("email-src", "boss@phish.example"), ("ip-dst", "198.51.100.23"),
                   ("domain", "static.cdn-metrics.xyz"), ("url", "http://static.cdn-metrics.xyz/p?id=1"),
                   ("ip-src", "203.0.113.77"), ("sha256", "a" * 64)}
    comments = [a for a in ev.attributes if a.type == "comment"]
    assert len(comments) == 5 and not any(a.to_ids for a in comments)
    ip = next(a for a in ev.attributes if a.value == "198.51.100.23")
    assert len(ip.sightings) == 2 and {t.name for t in ip.tags} == {"mitre-attack:T1071"}
    assert {t.name for t in ev.tags} >= {"tlp:amber", "mitre-attack:T1566", "mitre-attack:T1110.003"}
    p = tmp_path / "event.json"
    p.write_text(json.dumps(doc))
    s = load_file(p)
    assert len(s) == 6 and (s.frame["confidence"] == 90.0).all()
    assert s.report.skipped[(str(p), "MISP attribute type 'comment' not matched by any event kind")] == 5


def test_findings_without_shareable_values_give_an_empty_but_valid_export():
    import stix2
    from pymisp import MISPEvent

    internal = _findings()[-1:]
    doc = to_stix_bundle(internal, incident_id="i", now=NOW)
    parsed = stix2.parse(json.dumps(doc), allow_custom=False)
    assert [o.type for o in parsed.objects] == ["identity", "grouping"]
    ev = MISPEvent()
    ev.load(json.dumps(to_misp_event(internal, now=NOW)))
    assert [a.type for a in ev.attributes] == ["comment"]
