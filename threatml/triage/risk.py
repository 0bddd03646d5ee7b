"""Entity risk with decay: risk-based alerting over every scan in the store.

Each finding adds risk to its entity: ``score x severity weight``, halved every
``half_life`` seconds of age. One detector counts once per entity and day (its
strongest finding), so a chatty detector cannot build risk alone; what raises
an entity over :data:`RISK_ALERT` is several detectors, or repeated days.

:class:`RiskLedger` is the decaying sum itself, also kept by the identity
detectors while they stream (their ``entity_risk`` attribute).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from threatml.findings import Finding

#: severity -> weight of a finding's score
WEIGHTS: dict[str, float] = {"info": 0.0, "low": 5.0, "medium": 15.0, "high": 40.0, "critical": 80.0}
#: risk at which an entity deserves an analyst's look even without one critical finding
RISK_ALERT = 100.0
DAY = 86400.0
#: entities a streaming ledger keeps (the lowest-risk tenth is dropped beyond it)
MAX_ENTITIES = 100_000


class RiskLedger:
    """Per-entity sums that halve every ``half_life`` seconds of event time.

    State is one ``(risk, time)`` pair per entity, JSON-serialisable; with
    ``max_entities`` set it stays bounded. Points must arrive in time order for an
    entity (a later add decays what is there up to its own time).

    >>> r = RiskLedger(half_life=3600)
    >>> r.add("alice", 0.5, t=0.0)
    0.5
    >>> round(r.add("alice", 0.5, t=3600.0), 3)
    0.75
    >>> round(r.value("alice", t=7200.0), 3)
    0.375
    """

    def __init__(self, half_life: float = 7 * DAY, max_entities: int | None = MAX_ENTITIES):
        self.half_life = float(half_life)
        self.max_entities = max_entities
        self.state: dict[str, tuple[float, float]] = {}

    def value(self, entity: str, t: float) -> float:
        r, t0 = self.state.get(entity, (0.0, t))
        return r * 0.5 ** (max(0.0, t - t0) / self.half_life)

    def add(self, entity: str, points: float, t: float) -> float:
        """Add points at time ``t``; returns the entity's risk after it."""
        if t != t:  # unknown time: add without decay
            r, t0 = self.state.get(entity, (0.0, 0.0))
            self.state[entity] = (r + points, t0)
            return r + points
        new = self.value(entity, t) + float(points)
        self.state[entity] = (new, t)
        if self.max_entities and len(self.state) > self.max_entities:  # drop the lowest-risk tenth
            for k, _ in sorted(self.state.items(), key=lambda kv: kv[1][0])[: self.max_entities // 10]:
                del self.state[k]
        return new

    def top(self, t: float, n: int = 10) -> list[tuple[str, float]]:
        return sorted(((e, self.value(e, t)) for e in self.state), key=lambda kv: -kv[1])[:n]

    def to_json(self) -> dict:
        return {"half_life": self.half_life, "state": {k: list(v) for k, v in self.state.items()}}

    @classmethod
    def from_json(cls, d: dict) -> "RiskLedger":
        r = cls(float(d.get("half_life", 7 * DAY)))
        r.state = {k: (float(v[0]), float(v[1])) for k, v in (d.get("state") or {}).items()}
        return r


@dataclass
class EntityRisk:
    entity_type: str
    entity: str
    risk: float
    findings: int
    detectors: list[str] = field(default_factory=list)
    last_seen: float = 0.0

    @property
    def alert(self) -> bool:
        return self.risk >= RISK_ALERT


def entity_risk(findings: list[Finding], now: float | None = None, half_life: float = 7 * DAY) -> list[EntityRisk]:
    """Decayed risk per entity, highest first (``now``: latest finding end when None).

    >>> mk = lambda det, t, s: Finding.make(detector=det, detector_version="1", title=det, start=t, end=t,
    ...                                     entity="10.0.0.5", score=s)
    >>> fresh = entity_risk([mk("a", 0, 0.8), mk("b", 0, 0.8)])[0]
    >>> old = entity_risk([mk("a", 0, 0.8), mk("b", 0, 0.8)], now=7 * DAY)[0]
    >>> round(fresh.risk, 1), round(old.risk, 1), fresh.detectors
    (64.0, 32.0, ['a', 'b'])
    """
    if not findings:
        return []
    if now is None:
        now = max((f.end for f in findings if math.isfinite(f.end)), default=0.0)
    best: dict[tuple[str, str, str, int], tuple[float, float]] = {}  # (etype, entity, detector, day) -> (points, t)
    for f in findings:
        t = f.end if math.isfinite(f.end) else f.start
        if not math.isfinite(t):
            continue
        points = f.score * WEIGHTS.get(f.severity, 0.0)
        key = (f.entity_type, f.entity, f.detector, int(t // DAY))
        if points > best.get(key, (-1.0, 0.0))[0]:
            best[key] = (points, t)
    agg: dict[tuple[str, str], EntityRisk] = {}
    ledger = RiskLedger(half_life, max_entities=None)
    for (etype, ent, det, _), (points, t) in sorted(best.items(), key=lambda kv: kv[1][1]):
        ledger.add(f"{etype}\x00{ent}", points, t)
        r = agg.setdefault((etype, ent), EntityRisk(etype, ent, 0.0, 0))
        r.findings += 1
        if det not in r.detectors:
            r.detectors.append(det)
        r.last_seen = max(r.last_seen, t)
    for (etype, ent), r in agg.items():
        r.risk = ledger.value(f"{etype}\x00{ent}", now)
    out = sorted(agg.values(), key=lambda r: (-r.risk, r.entity))
    for r in out:
        r.detectors.sort()
    return out
