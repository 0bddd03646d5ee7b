"""Per-entity risk: finding scores added up with exponential decay.

Each finding adds its score to its entity's risk; risk halves every
``half_life`` seconds of event time, so a user with three medium findings this
morning outranks one with a single finding last month. State is one
``(risk, time)`` pair per entity (JSON-serialisable, capped in size).

>>> r = RiskLedger(half_life=3600)
>>> r.add("alice", 0.5, t=0.0)
0.5
>>> round(r.add("alice", 0.5, t=3600.0), 3)
0.75
>>> round(r.value("alice", t=7200.0), 3)
0.375
"""

from __future__ import annotations

MAX_ENTITIES = 100_000


class RiskLedger:
    def __init__(self, half_life: float = 7 * 86400.0):
        self.half_life = float(half_life)
        self.state: dict[str, tuple[float, float]] = {}

    def value(self, entity: str, t: float) -> float:
        r, t0 = self.state.get(entity, (0.0, t))
        return r * 0.5 ** (max(0.0, t - t0) / self.half_life)

    def add(self, entity: str, score: float, t: float) -> float:
        """Add a finding's score at time ``t``; returns the entity's risk after it."""
        if t != t:  # unknown time: add without decay
            r, t0 = self.state.get(entity, (0.0, 0.0))
            self.state[entity] = (r + score, t0)
            return r + score
        new = self.value(entity, t) + float(score)
        self.state[entity] = (new, t)
        if len(self.state) > MAX_ENTITIES:  # drop the lowest-risk tenth
            for k, _ in sorted(self.state.items(), key=lambda kv: kv[1][0])[: MAX_ENTITIES // 10]:
                del self.state[k]
        return new

    def top(self, t: float, n: int = 10) -> list[tuple[str, float]]:
        return sorted(((e, self.value(e, t)) for e in self.state), key=lambda kv: -kv[1])[:n]

    def to_json(self) -> dict:
        return {"half_life": self.half_life, "state": {k: list(v) for k, v in self.state.items()}}

    @classmethod
    def from_json(cls, d: dict) -> "RiskLedger":
        r = cls(float(d.get("half_life", 7 * 86400.0)))
        r.state = {k: (float(v[0]), float(v[1])) for k, v in (d.get("state") or {}).items()}
        return r
