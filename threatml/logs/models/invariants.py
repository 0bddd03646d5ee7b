"""Invariant mining: linear relations between event counts that hold in (almost) every session.

Workflows leave fixed ratios between their events (every opened file is
closed: count(open) - count(close) = 0). We search pairs of events that occur
together and small integer ratios ``a*c_i = b*c_j`` (a, b in 1..``max_coef``)
holding in at least ``support`` of the training sessions where either occurs;
a session breaking an invariant is anomalous, and its score is the number of
invariants it breaks. (The classic method searches the null space of the
count matrix for sparse integer vectors; pairwise ratios are the part of it
that carries most of the signal on workflow logs and is cheap to mine.)

>>> import numpy as np
>>> X = np.array([[1.0, 1, 0], [2, 2, 1], [3, 3, 0]] * 20)
>>> m = InvariantMiner().fit(X)
>>> m.predict(np.array([[4.0, 4, 0], [4, 1, 0]])).tolist()
[0, 1]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from threatml.logs.models._io import read_json, write_json

FILE = "invariants.json"


class InvariantMiner:
    def __init__(self, support: float = 0.98, max_coef: int = 3, min_sessions: int = 10):
        self.support, self.max_coef, self.min_sessions = support, max_coef, min_sessions

    def fit(self, X: np.ndarray) -> "InvariantMiner":
        X = np.asarray(X, dtype="float64")
        present = X > 0
        self.invariants_: list[tuple[int, int, int, int]] = []
        cols = [j for j in range(X.shape[1]) if present[:, j].sum() >= self.min_sessions]
        for a_i, i in enumerate(cols):
            for j in cols[a_i + 1:]:
                either = present[:, i] | present[:, j]
                if either.sum() < self.min_sessions:
                    continue
                xi, xj = X[either, i], X[either, j]
                best = None
                for a in range(1, self.max_coef + 1):
                    for b in range(1, self.max_coef + 1):
                        if np.gcd(a, b) != 1:
                            continue
                        hold = float(np.mean(a * xi == b * xj))
                        if hold >= self.support and (best is None or hold > best[0]):
                            best = (hold, a, b)
                if best is not None:
                    self.invariants_.append((i, j, best[1], best[2]))
        self.threshold_ = 0.5  # one broken invariant is enough
        return self

    def violations(self, X: np.ndarray) -> np.ndarray:
        """Boolean matrix sessions x invariants: True where the invariant is broken."""
        X = np.asarray(X, dtype="float64")
        if not self.invariants_:
            return np.zeros((len(X), 0), dtype=bool)
        inv = np.asarray(self.invariants_)
        return inv[:, 2] * X[:, inv[:, 0]] != inv[:, 3] * X[:, inv[:, 1]]

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return self.violations(X).sum(axis=1).astype("float64")

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) > self.threshold_).astype(int)

    def save(self, folder: str | Path) -> Path:
        return write_json(folder, FILE, {"model": "invariants", "support": self.support, "max_coef": self.max_coef,
                                         "min_sessions": self.min_sessions,
                                         "invariants": [list(map(int, t)) for t in self.invariants_]})

    @classmethod
    def load(cls, folder: str | Path) -> "InvariantMiner":
        d = read_json(folder, FILE, "invariants")
        m = cls(d["support"], d["max_coef"], d["min_sessions"])
        m.invariants_ = [tuple(t) for t in d["invariants"]]
        m.threshold_ = 0.5
        return m
