"""Supervised session-signature model: the anomaly rate of each exact count vector seen in training.

Many log sessions repeat exactly (HDFS blocks mostly write the same events
the same number of times), so the most direct estimate of P(anomalous |
session) is the labelled rate of sessions with the *same* count vector: a
lookup table. Rare signatures are smoothed towards a back-off estimate and
signatures never seen in training get the back-off alone. The back-off is a
PCA residual detector (standard settings, fitted on every training session)
calibrated on the training labels: the anomaly rate among training sessions
it flags, and among those it passes. The decision threshold maximises F1 on
out-of-fold scores of an inner stratified cross-validation of the training
data, so no test label is ever used.

>>> import numpy as np
>>> X = np.array([[3.0, 0]] * 90 + [[3.0, 1]] * 10 + [[1.0, 0]] * 10)
>>> y = np.array([0] * 88 + [1] * 2 + [0] * 10 + [1] * 9 + [0])
>>> m = SignatureModel().fit(X, y)
>>> m.predict(np.array([[3.0, 0], [1.0, 0], [3.0, 1]])).tolist()
[0, 1, 0]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.logs.models._io import read_json, write_json
from threatml.logs.models.pca import PCAResidual

FILE = "signature.json"


class SignatureModel:
    def __init__(self, prior_strength: float = 1.0, folds: int = 5, seed: int = 0, max_signatures: int = 100_000):
        self.prior_strength, self.folds, self.seed = prior_strength, folds, seed
        self.max_signatures = max_signatures

    # ---- fitting -------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray) -> "SignatureModel":
        X, y = np.asarray(X, dtype="float64"), np.asarray(y, dtype=int)
        if len(X) != len(y) or not 0 < y.sum() < len(y):
            raise ValueError("SignatureModel needs labels of both classes, one per row")
        self._fit_table(X, y)
        self.threshold_ = self._inner_threshold(X, y)
        return self

    def _fit_table(self, X: np.ndarray, y: np.ndarray) -> None:
        self.width_ = X.shape[1]
        self.backoff_ = PCAResidual().fit(X)
        inverse, rows = _factorize_rows(X)
        flagged = self.backoff_.predict(rows).astype(bool)[inverse]
        # Laplace-smoothed anomaly rate of each back-off verdict: a calibrated probability, not a 0/1 vote
        self.prior_ = [float((y[v].sum() + 0.5) / (v.sum() + 1.0)) for v in (~flagged, flagged)]
        sizes = np.bincount(inverse, minlength=len(rows)).astype(float)
        anomalous = np.bincount(inverse, weights=y, minlength=len(rows)).astype(float)
        # bounded model: when nearly every session is unique (busy time windows) keep the most frequent
        # signatures; the rest are scored by the back-off as if unseen
        keep = np.sort(np.argsort(-sizes, kind="stable")[: self.max_signatures])
        self.signatures_, self.sizes_, self.anomalous_ = rows[keep], sizes[keep], anomalous[keep]
        self._index = {r.tobytes(): i for i, r in enumerate(self.signatures_)}

    def _inner_threshold(self, X: np.ndarray, y: np.ndarray) -> float:
        from sklearn.model_selection import StratifiedKFold

        k = min(self.folds, int(y.sum()), int(len(y) - y.sum()))
        if k < 2:
            return 0.5
        oof = np.zeros(len(y))
        for a, b in StratifiedKFold(k, shuffle=True, random_state=self.seed).split(X, y):
            inner = SignatureModel(self.prior_strength, self.folds, self.seed, self.max_signatures)
            inner._fit_table(X[a], y[a])
            oof[b] = inner.score_samples(X[b])
        return f1_threshold(oof, y)

    # ---- scoring -------------------------------------------------------------
    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Smoothed anomaly rate of each row's signature; the back-off rate for unseen signatures."""
        X = np.asarray(X, dtype="float64")
        if X.ndim != 2 or X.shape[1] != self.width_:
            raise ValueError(f"expected rows of {self.width_} counts, got shape {X.shape}")
        if not len(X):
            return np.zeros(0)
        inverse, rows = _factorize_rows(X)
        prior = np.asarray(self.prior_)[self.backoff_.predict(rows)][inverse]  # PCA once per distinct row
        hit = np.array([self._index.get(r.tobytes(), -1) for r in rows], dtype=int)[inverse]
        seen = hit >= 0
        n = np.where(seen, self.sizes_[hit], 0.0)
        a = np.where(seen, self.anomalous_[hit], 0.0)
        k = self.prior_strength
        out = prior.astype("float64")
        out[seen] = (a[seen] + k * prior[seen]) / (n[seen] + k)
        return out

    def seen(self, X: np.ndarray) -> np.ndarray:
        """True where the row's exact signature occurred in training."""
        X = np.asarray(X, dtype="float64") + 0.0
        return np.array([r.tobytes() in self._index for r in X], dtype=bool)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) >= self.threshold_).astype(int)

    # ---- storage (plain JSON) --------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        b = self.backoff_
        return write_json(folder, FILE, {
            "model": "session-signature", "prior_strength": self.prior_strength, "folds": self.folds,
            "seed": self.seed, "max_signatures": self.max_signatures, "threshold": self.threshold_, "width": self.width_, "prior": self.prior_,
            "signatures": self.signatures_.tolist(), "sizes": self.sizes_.tolist(), "anomalous": self.anomalous_.tolist(),
            "backoff_pca": {"variance": b.variance, "alpha": b.alpha, "n_components": b.n_components,
                            "mean": b.mean_.tolist(), "components": b.components_.tolist(), "threshold": b.threshold_}})

    @classmethod
    def load(cls, folder: str | Path) -> "SignatureModel":
        d = read_json(folder, FILE, "session-signature")
        m = cls(d["prior_strength"], d["folds"], d["seed"], d["max_signatures"])
        m.threshold_, m.width_, m.prior_ = float(d["threshold"]), int(d["width"]), [float(p) for p in d["prior"]]
        m.signatures_ = np.asarray(d["signatures"], dtype="float64").reshape(-1, m.width_)
        m.sizes_ = np.asarray(d["sizes"], dtype="float64")
        m.anomalous_ = np.asarray(d["anomalous"], dtype="float64")
        m._index = {r.tobytes(): i for i, r in enumerate(m.signatures_ + 0.0)}
        p = d["backoff_pca"]
        b = m.backoff_ = PCAResidual(p["variance"], p["alpha"], p["n_components"])
        b.mean_ = np.asarray(p["mean"], dtype="float64")
        b.components_ = np.asarray(p["components"], dtype="float64").reshape(-1, len(b.mean_))
        b.threshold_ = float(p["threshold"])
        return m


def _factorize_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row, the distinct rows in order of first appearance): hashing whole rows as bytes
    is ~20x faster than ``np.unique(axis=0)``, which sorts."""
    X = np.ascontiguousarray(X, dtype="float64") + 0.0  # + 0.0 turns -0.0 into 0.0: equal rows, equal bytes
    codes, uniq = pd.factorize(X.view(np.dtype((np.void, 8 * X.shape[1]))).ravel())
    first = np.zeros(len(uniq), dtype=int)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return codes.astype(int), X[first]


def f1_threshold(score: np.ndarray, y: np.ndarray) -> float:
    """The cut with the best F1 on (score, y), placed midway to the next lower score so it is not
    tied to one exact value.

    >>> f1_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]))
    0.5
    """
    score, y = np.asarray(score, dtype="float64"), np.asarray(y, dtype=int)
    order = np.argsort(-score, kind="stable")
    s, t = score[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    last = np.r_[s[1:] != s[:-1], True]  # a cut can only fall between distinct scores
    f1 = np.where(last, 2 * tp / (tp + fp + t.sum()), -1.0)
    i = int(np.argmax(f1))
    lower = s[i + 1] if i + 1 < len(s) else s[i] - 1.0
    return float((s[i] + lower) / 2)
