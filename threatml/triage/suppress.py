"""Suppression rules: findings an analyst has decided not to see again.

A rule matches on any of detector, entity type, entity and a title pattern
(shell-style ``*`` and ``?``); an empty part matches everything, so a rule
with only a detector silences that detector. Rules may expire. Suppressed
findings are not deleted: the scan summary counts them per rule, and
``threatml triage suppressions`` shows how often each rule fired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase

from threatml.errors import ThreatMLError
from threatml.findings import Finding
from threatml.store import Store


@dataclass(frozen=True)
class Suppression:
    id: int
    detector: str = ""
    entity_type: str = ""
    entity: str = ""
    title_like: str = ""
    reason: str = ""
    expires: datetime | None = None

    def matches(self, f: Finding) -> bool:
        """True when every part of the rule that is set matches ``f``.

        >>> rule = Suppression(1, detector="network.beacon", entity="10.0.0.7")
        >>> mk = lambda e: Finding.make(detector="network.beacon", detector_version="1", title="Beaconing",
        ...                             start=0, end=1, entity=e, score=0.6)
        >>> rule.matches(mk("10.0.0.7")), rule.matches(mk("10.0.0.8"))
        (True, False)
        """
        return ((not self.detector or f.detector == self.detector)
                and (not self.entity_type or f.entity_type == self.entity_type)
                and (not self.entity or f.entity == self.entity)
                and (not self.title_like or fnmatchcase(f.title.lower(), self.title_like.lower())))


def add(store: Store, *, detector: str = "", entity_type: str = "", entity: str = "", title_like: str = "",
        reason: str = "", days: float | None = None, from_finding: str = "") -> Suppression:
    """Store a new rule (``days``: lifetime, None = until removed); returns it."""
    if not (detector or entity or title_like):
        raise ThreatMLError("a suppression needs at least a detector, an entity or a title pattern "
                            "(it would otherwise hide every finding)")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    expires = now + timedelta(days=days) if days else None
    sid = int(store.con.execute("SELECT nextval('suppression_ids')").fetchall()[0][0])
    store.con.execute("INSERT INTO suppressions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [sid, detector, entity_type, entity, title_like, reason, now, expires, from_finding])
    return Suppression(sid, detector, entity_type, entity, title_like, reason, expires)


def remove(store: Store, rule_id: int) -> None:
    n = store.con.execute("SELECT count(*) FROM suppressions WHERE id = ?", [rule_id]).fetchall()[0][0]
    if not n:
        raise ThreatMLError(f"no suppression rule {rule_id} in {store.path}")
    store.con.execute("DELETE FROM suppressions WHERE id = ?", [rule_id])


def active(store: Store, now: datetime | None = None) -> list[Suppression]:
    """Rules that have not expired, oldest first."""
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    rows = store.con.execute(
        """SELECT id, detector, entity_type, entity, title_like, reason, expires FROM suppressions
           WHERE expires IS NULL OR expires > ? ORDER BY id""", [now]).fetchall()
    return [Suppression(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "", r[5] or "", r[6]) for r in rows]


def apply(findings: list[Finding], rules: list[Suppression]) -> tuple[list[Finding], dict[int, int]]:
    """(findings no rule matches, {rule id: findings it suppressed})."""
    if not rules:
        return findings, {}
    kept: list[Finding] = []
    hits: dict[int, int] = {}
    for f in findings:
        rule = next((r for r in rules if r.matches(f)), None)
        if rule is None:
            kept.append(f)
        else:
            hits[rule.id] = hits.get(rule.id, 0) + 1
    return kept, hits
