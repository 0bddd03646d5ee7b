"""Isolation Forest on count vectors, persisted as its training vectors (never pickle).

scikit-learn's forest has no safe text format, so the model saves what it was
fitted on, de-duplicated (distinct rows and their counts, repeated by those
counts, capped at ``max_rows`` in all) plus its parameters and seed, and ``load`` refits: the
same rows, weights and seed give the same forest. Distinct count vectors of
logs are few, so the file stays small; ``max_rows`` caps it.

>>> import numpy as np
>>> X = np.vstack([np.tile([3.0, 3, 1], (300, 1)), [[0.0, 9, 9]]])
>>> m = IsolationForestModel(seed=0).fit(X)
>>> int(np.argmax(m.score_samples(X)))
300
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest

from threatml.logs.models._io import read_json, write_json

FILE = "iforest.json"


class IsolationForestModel:
    def __init__(self, n_estimators: int = 100, contamination: float = 0.03, seed: int = 0, max_rows: int = 50_000):
        self.n_estimators, self.contamination, self.seed, self.max_rows = n_estimators, contamination, seed, max_rows

    def fit(self, X: np.ndarray) -> "IsolationForestModel":
        rows, counts = np.unique(np.asarray(X, dtype="float64"), axis=0, return_counts=True)
        if len(rows) > self.max_rows:  # keep the most frequent rows: bounded file, same normal mass
            keep = np.argsort(-counts, kind="stable")[: self.max_rows]
            rows, counts = rows[keep], counts[keep]
        return self._fit_rows(rows, counts)

    def _fit_rows(self, rows: np.ndarray, counts: np.ndarray) -> "IsolationForestModel":
        self.rows_, self.counts_ = rows, counts
        # the forest isolates by density, so rows are repeated by their (capped) counts
        reps = np.maximum(1, np.ceil(counts * min(1.0, self.max_rows / max(counts.sum(), 1)))).astype(int)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed, n_jobs=1,
                                       contamination="auto").fit(np.repeat(rows, reps, axis=0))
        train = -self.forest_.score_samples(rows)
        order = np.argsort(train)
        cum = np.cumsum(counts[order]) / counts.sum()
        cut = int(np.searchsorted(cum, 1 - self.contamination))
        self.threshold_ = float(train[order][min(cut, len(order) - 1)])
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return -self.forest_.score_samples(np.asarray(X, dtype="float64"))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) > self.threshold_).astype(int)

    def save(self, folder: str | Path) -> Path:
        return write_json(folder, FILE, {
            "model": "isolation-forest", "n_estimators": self.n_estimators, "contamination": self.contamination,
            "seed": self.seed, "max_rows": self.max_rows, "rows": self.rows_.tolist(), "counts": self.counts_.tolist()})

    @classmethod
    def load(cls, folder: str | Path) -> "IsolationForestModel":
        d = read_json(folder, FILE, "isolation-forest")
        m = cls(d["n_estimators"], d["contamination"], d["seed"], d["max_rows"])
        return m._fit_rows(np.asarray(d["rows"], dtype="float64"), np.asarray(d["counts"], dtype="int64"))
