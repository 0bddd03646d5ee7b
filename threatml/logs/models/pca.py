"""PCA residual detector: distance of a count vector from the normal subspace (SPE, Q-statistic).

The top components that explain ``variance`` of the (centred) training
vectors span "normal" behaviour; the squared prediction error (SPE) of a
vector is the energy left outside them. The threshold is the Jackson-Mudholkar
Q-statistic at confidence ``1 - alpha``, so no labels are needed.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.repeat(rng.integers(1, 4, (200, 1)), 4, axis=1).astype(float)
>>> m = PCAResidual().fit(X)
>>> m.predict(np.array([[2.0, 2, 2, 2], [2.0, 0, 2, 9]])).tolist()
[0, 1]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import norm

from threatml.logs.models._io import read_json, write_json

FILE = "pca.json"


class PCAResidual:
    def __init__(self, variance: float = 0.95, alpha: float = 0.001, n_components: int | None = None):
        self.variance, self.alpha, self.n_components = variance, alpha, n_components

    def fit(self, X: np.ndarray) -> "PCAResidual":
        X = np.asarray(X, dtype="float64")
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        if len(X) > 4 * X.shape[1]:
            # many more sessions than templates: the d x d scatter matrix has the same eigenvectors as
            # the SVD of Xc, at a fraction of the cost (no n x d factor to build)
            ev, vecs = np.linalg.eigh(Xc.T @ Xc)
            order = np.argsort(ev)[::-1]
            s, vt = np.sqrt(np.clip(ev[order], 0, None)), vecs[:, order].T
        else:
            _, s, vt = np.linalg.svd(Xc, full_matrices=False)
        lam = s**2 / max(len(X) - 1, 1)
        total = lam.sum()
        if self.n_components is not None:
            k = self.n_components
        else:
            k = int(np.searchsorted(np.cumsum(lam) / total, self.variance) + 1) if total > 0 else 0
        k = min(k, len(lam))
        self.components_ = vt[:k]
        rest = lam[k:]
        self.threshold_ = _q_statistic(rest, self.alpha)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        Xc = np.asarray(X, dtype="float64") - self.mean_
        resid = Xc - (Xc @ self.components_.T) @ self.components_
        return np.sum(resid**2, axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score_samples(X) > self.threshold_).astype(int)

    def save(self, folder: str | Path) -> Path:
        return write_json(folder, FILE, {
            "model": "pca-residual", "variance": self.variance, "alpha": self.alpha, "n_components": self.n_components,
            "mean": self.mean_.tolist(), "components": self.components_.tolist(), "threshold": self.threshold_})

    @classmethod
    def load(cls, folder: str | Path) -> "PCAResidual":
        d = read_json(folder, FILE, "pca-residual")
        m = cls(d["variance"], d["alpha"], d["n_components"])
        m.mean_ = np.asarray(d["mean"], dtype="float64")
        m.components_ = np.asarray(d["components"], dtype="float64").reshape(-1, len(m.mean_))
        m.threshold_ = float(d["threshold"])
        return m


def _q_statistic(rest: np.ndarray, alpha: float) -> float:
    """Jackson-Mudholkar upper limit of the SPE for the residual eigenvalues ``rest``."""
    phi = [float(np.sum(rest**i)) for i in (1, 2, 3)]
    if phi[0] <= 1e-12 or phi[1] <= 1e-12:
        return 1e-9  # the normal subspace explains everything: any residual is unusual
    h0 = 1.0 - 2.0 * phi[0] * phi[2] / (3.0 * phi[1] ** 2)
    if abs(h0) < 1e-6:
        h0 = 1e-6
    c = norm.ppf(1 - alpha)
    val = phi[0] * (c * np.sqrt(2 * phi[1] * h0**2) / phi[0] + 1 + phi[1] * h0 * (h0 - 1) / phi[0] ** 2) ** (1.0 / h0)
    return float(val) if np.isfinite(val) else float(np.sum(rest))
