"""Incidents across domains: identity links, time limits, kill-chain order."""

from threatml.findings import Finding
from threatml.findings.incidents import MAX_LINK_VALUES, group_incidents

T0 = 1_700_000_000.0
H = 3600.0


def mk(detector, start, entity, entity_type="host", score=0.6, **kw):
    kw.setdefault("title", f"{detector} {entity}")
    return Finding.make(detector=detector, detector_version="1", start=T0 + start, end=T0 + start + 60,
                        entity=entity, entity_type=entity_type, score=score, **kw)


def story():
    """A phishing mail to alice, her logon from a rare address 2 h later, beaconing from her host 5 h later."""
    return [
        mk("email.phishing", 0, "alice@corp.example", "mailbox", attack=["T1566.002"],
           related={"sender": ["it-support@c0rp.example"]}),
        mk("identity.rare-source", 2 * H, "alice", "user", attack=["T1078"],
           related={"source.ip": ["203.0.113.9"], "host": ["10.1.1.23"]}),
        mk("network.beacon", 5 * H, "10.1.1.23", attack=["T1071.001"], related={"destinations": ["198.51.100.7"]}),
    ]


def test_mail_logon_and_beacon_of_one_user_form_one_incident_in_kill_chain_order():
    (inc,) = group_incidents(story())
    assert len(inc.finding_ids) == 3
    assert set(inc.entities) == {"mailbox:alice@corp.example", "user:alice", "host:10.1.1.23"}
    assert inc.tactics == ["Initial Access", "Command and Control"]  # T1078 counts under its earliest tactic
    assert inc.attack.index("T1566.002") < inc.attack.index("T1071.001")
    assert any("Joined across 3 linked entities" in s for s in inc.summary)


def test_links_expire_after_the_link_window():
    fs = story()
    fs[2] = mk("network.beacon", 40 * H, "10.1.1.23", attack=["T1071.001"])
    incs = group_incidents(fs, link_seconds=24 * H)
    assert sorted(len(i.finding_ids) for i in incs) == [1, 2]


def test_broad_campaigns_do_not_link_entities():
    many = [f"user{i}" for i in range(MAX_LINK_VALUES + 1)]
    fs = [mk("identity.spray", 0, "198.51.100.1", related={"user": many}),
          mk("identity.rare-source", 60, "user1", "user", related={"source.ip": ["192.0.2.4"]})]
    assert len(group_incidents(fs)) == 2


def test_one_entity_far_apart_in_time_stays_two_incidents_despite_links():
    fs = [mk("network.portscan", 0, "10.0.0.5"), mk("network.portscan", 10 * H, "10.0.0.5")]
    assert len(group_incidents(fs, gap_seconds=H, link_seconds=24 * H)) == 2


def test_unrelated_users_stay_apart():
    fs = [mk("identity.rare-source", 0, "alice", "user"), mk("identity.rare-source", 60, "bob", "user")]
    assert len(group_incidents(fs)) == 2
