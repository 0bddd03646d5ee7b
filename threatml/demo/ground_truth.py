"""Score a scan of the demo network against its injected attacks.

An injected attack counts as found when an incident is about one of its
addresses (the attacker, or the victim for a flood; as the incident's entity or
one of the entities it joined across domains) and overlaps its time span.
The remaining incidents are what an analyst would see besides the attacks.
"""

from __future__ import annotations

from threatml.demo.network import DemoScenario, InjectedAttack
from threatml.findings.incidents import Incident


#: attacks whose findings are (also) about the target: a flood's victim, a phishing mail's
#: recipient, the account an attacker logged on with
_VICTIM_KINDS = {"ddos", "phishing", "account-compromise"}


def _addresses(a: InjectedAttack) -> set[str]:
    addrs = {a.attacker, *a.attackers}
    if a.kind in _VICTIM_KINDS:  # reported about whom it targets
        addrs |= {a.victim, *a.victims}
    return {x.lower() for x in addrs if x}


def match_ground_truth(scenario: DemoScenario, incidents: list[Incident]) -> list[tuple[InjectedAttack, Incident | None]]:
    """Each injected attack with the best-ranked incident that covers it (or None).

    Incidents are ranked already; the first match is the one an analyst reaches first.
    """
    out = []
    for attack in scenario.attacks:
        addrs = _addresses(attack)
        hit = next(
            (
                inc
                for inc in incidents
                if ({inc.entity.lower()} | {e.split(":", 1)[-1].lower() for e in inc.entities}) & addrs and inc.start <= attack.end + 60 and inc.end >= attack.start - 60
            ),
            None,
        )
        out.append((attack, hit))
    return out
