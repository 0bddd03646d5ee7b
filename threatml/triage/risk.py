"""Entity risk with decay: risk-based alerting over every scan in the store.

Each finding adds risk to its entity: ``score x severity weight``, halved every
``half_life`` seconds of age. One detector counts once per entity and day (its
strongest finding), so a chatty detector cannot build risk alone; what raises
an entity over :data:`RISK_ALERT` is several detectors, or repeated days.
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
    for (etype, ent, det, _), (points, t) in best.items():
        decay = 0.5 ** (max(0.0, now - t) / half_life)
        r = agg.setdefault((etype, ent), EntityRisk(etype, ent, 0.0, 0))
        r.risk += points * decay
        r.findings += 1
        if det not in r.detectors:
            r.detectors.append(det)
        r.last_seen = max(r.last_seen, t)
    out = sorted(agg.values(), key=lambda r: (-r.risk, r.entity))
    for r in out:
        r.detectors.sort()
    return out
