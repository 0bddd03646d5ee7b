"""Supervised LightGBM over session features, saved as LightGBM text.

Features are the event counts plus, when given, order features (counts of
consecutive template pairs) built by :func:`sequence_features`; the order
matters because sessions with equal counts can differ in sequence.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.poisson(2, (400, 4)).astype(float); y = (X[:, 0] > 3).astype(int)
>>> m = LightGBMDetector(n_estimators=30).fit(X, y)
>>> float(np.mean(m.predict(X) == y)) > 0.95
True
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np

from threatml.logs.models._io import read_json, write_json

FILE, BOOSTER = "lightgbm.json", "lightgbm.txt"


class LightGBMDetector:
    def __init__(self, n_estimators: int = 200, learning_rate: float = 0.05, num_leaves: int = 31, seed: int = 0,
                 threshold: float = 0.5):
        self.n_estimators, self.learning_rate, self.num_leaves, self.seed = n_estimators, learning_rate, num_leaves, seed
        self.threshold_ = threshold

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LightGBMDetector":
        params = {"objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                  "min_data_in_leaf": 2, "num_threads": 1, "seed": self.seed, "deterministic": True,
                  "force_row_wise": True, "verbose": -1}
        self.booster_ = lgb.train(params, lgb.Dataset(np.asarray(X, dtype="float64"), label=np.asarray(y)),
                                  num_boost_round=self.n_estimators)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return self.booster_.predict(np.asarray(X, dtype="float64"), num_threads=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) >= self.threshold_).astype(int)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / BOOSTER))
        return write_json(folder, FILE, {"model": "lightgbm", "threshold": self.threshold_,
                                         "n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                                         "num_leaves": self.num_leaves, "seed": self.seed})

    @classmethod
    def load(cls, folder: str | Path) -> "LightGBMDetector":
        d = read_json(folder, FILE, "lightgbm")
        m = cls(d["n_estimators"], d["learning_rate"], d["num_leaves"], d["seed"], d["threshold"])
        m.booster_ = lgb.Booster(model_file=str(Path(folder) / BOOSTER))
        return m


def sequence_features(sequences, vocab: list[int], pairs: list[tuple[int, int]] | None = None):
    """Counts of consecutive template pairs; ``pairs`` (learnt on training data when None) fixes the columns."""
    if pairs is None:
        seen = {(int(a), int(b)) for s in sequences for a, b in zip(s, s[1:])}
        pairs = sorted(seen)
    index = {p: i for i, p in enumerate(pairs)}
    X = np.zeros((len(sequences), len(pairs) + 2))
    for r, s in enumerate(sequences):
        for a, b in zip(s, s[1:]):
            j = index.get((int(a), int(b)))
            X[r, len(pairs) if j is None else j] += 1
        X[r, -1] = len(s)
    return X, pairs
