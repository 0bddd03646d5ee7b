"""Unsupervised baseline: learn one network's normal flows, flag what does not fit.

Fitted on unlabeled flows of a baseline period (assumed mostly benign). The
default method is the distance to the nearest distinct baseline flow (k-NN,
k=1) in a robustly scaled, log-scaled feature space: normal traffic repeats
itself, so a normal flow nearly always has a close twin in the baseline, while
an attack of a family never seen in training sits far from all of them. On
CIC-IDS2017 (leave-one-family-out) k=1 beat k=5 and Isolation Forest by a
wide margin (see docs/models.md). ``"hbos"`` (per-feature
histograms, summed surprisal) is the cheap alternative. Everything is saved as
JSON: the reference points, scales and histograms, no pickle.

The alert threshold is the score quantile of held-out baseline flows that lets
``target_fpr`` (default 1%) of them through.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> normal = pd.DataFrame({"orig.a": rng.normal(0, 1, 500), "orig.b": rng.normal(0, 1, 500)})
>>> bl = FlowBaseline(feature_set="native").fit(normal)
>>> bool(bl.predict(pd.DataFrame({"orig.a": [8.0], "orig.b": [8.0]}))[0])
True
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.features.flow import CANONICAL_FEATURES, canonical_features
from threatml.models.flow_classifier import native_columns
from threatml.pipeline.metrics import threshold_at_fpr

META_FILE = "baseline.json"
# raw duration and port numbers carry no distance meaning; their log / bucket forms do
_CANONICAL_DROP = {"duration", "dst_port"}
BASELINE_FEATURES = [f for f in CANONICAL_FEATURES if f not in _CANONICAL_DROP]


class FlowBaseline:
    """Anomaly scorer for flows; ``score_samples`` is higher for stranger flows."""

    def __init__(
        self,
        method: str = "knn",
        feature_set: str = "canonical",
        k: int = 1,
        max_reference: int = 2000,
        bins: int = 20,
        target_fpr: float = 0.01,
        holdout: float = 0.2,
        seed: int = 0,
        flag_scale: float = 1.0,
    ):
        if method not in ("knn", "hbos"):
            raise ValueError("method must be 'knn' or 'hbos'")
        self.method, self.feature_set, self.k = method, feature_set, k
        self.max_reference, self.bins, self.target_fpr = max_reference, bins, target_fpr
        self.holdout, self.seed, self.flag_scale = holdout, seed, flag_scale
        self.features_: list[str] = []
        self.center_ = np.zeros(0)
        self.scale_ = np.ones(0)
        self.reference_ = np.zeros((0, 0))
        self.edges_: list[list[float]] = []
        self.logp_: list[list[float]] = []
        self.threshold_ = np.inf
        self.quantiles_: list[float] = []

    def get_params(self) -> dict:
        keys = ("method", "feature_set", "k", "max_reference", "bins", "target_fpr", "holdout", "seed", "flag_scale")
        return {k: getattr(self, k) for k in keys}

    # ---------------------------------------------------------------- features
    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        if self.feature_set == "canonical":
            F = X if set(BASELINE_FEATURES).issubset(X.columns) else canonical_features(X)
            return F[BASELINE_FEATURES].to_numpy(dtype="float64")
        feats = self.features_ or [c for c in native_columns(X)[0] if c not in native_columns(X)[1]]
        cols = []
        for c in feats:
            v = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan) if c in X.columns else np.full(len(X), np.nan)
            # native counters span orders of magnitude: signed log keeps distances meaningful
            cols.append(np.sign(v) * np.log1p(np.abs(v)))
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def _scaled(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        R = X if isinstance(X, np.ndarray) else self._raw(X)
        Z = (R - self.center_) / self.scale_
        return np.nan_to_num(Z, nan=0.0, posinf=50.0, neginf=-50.0)

    # ---------------------------------------------------------------- fitting
    def fit(self, X: pd.DataFrame, y=None) -> "FlowBaseline":
        """Learn normal from ``X`` (labels, if given, are ignored: this is unsupervised)."""
        if len(X) < 20:
            raise ThreatMLError(f"the baseline needs at least 20 flows, got {len(X)}")
        if self.feature_set == "canonical":
            self.features_ = list(BASELINE_FEATURES)
        else:
            num, cats = native_columns(X)
            self.features_ = [c for c in num if c not in cats]
        R = self._raw(X)
        # a feature the source never fills (all NaN) is simply neutral: centre 0, unit scale
        R = np.where(np.isnan(R).all(axis=0), 0.0, R)
        rng = np.random.default_rng(self.seed)
        hold = rng.random(len(R)) < self.holdout
        fit, held = R[~hold], R[hold]
        self.center_ = np.nan_to_num(np.nanmedian(fit, axis=0), nan=0.0)
        # robust spread, floored so that a rare flag (tiny spread) cannot dominate every distance
        std = np.nan_to_num(np.nanstd(fit, axis=0), nan=0.0)
        q25, q75 = np.nanquantile(fit, [0.25, 0.75], axis=0) if len(fit) else (np.zeros(R.shape[1]),) * 2
        self.scale_ = np.maximum(np.maximum(np.nan_to_num(q75 - q25), std), 0.5)
        # 0/1 flags (state, transport, protocol one-hots): one mismatch should count like a
        # moderate numeric difference, not dominate; many states are rare yet benign
        flags = np.all(np.isin(np.nan_to_num(fit, nan=0.0), (0.0, 1.0)), axis=0)
        self.scale_ = np.where(flags, np.maximum(self.scale_, self.flag_scale), self.scale_)
        Z = self._scaled(fit)
        if self.method == "knn":
            uniq = np.unique(np.round(Z, 4), axis=0)
            if len(uniq) > self.max_reference:
                uniq = uniq[rng.choice(len(uniq), self.max_reference, replace=False)]
            self.reference_ = uniq
        else:
            self._fit_hbos(Z)
        held_scores = self._score_scaled(self._scaled(held)) if len(held) else self._score_scaled(Z)
        self.threshold_ = threshold_at_fpr(held_scores, self.target_fpr)
        self.quantiles_ = np.quantile(held_scores, np.linspace(0, 1, 201)).tolist()
        return self

    def _fit_hbos(self, Z: np.ndarray) -> None:
        self.edges_, self.logp_ = [], []
        for j in range(Z.shape[1]):
            edges = np.unique(np.quantile(Z[:, j], np.linspace(0, 1, self.bins + 1)))
            if len(edges) < 2:
                edges = np.array([Z[0, j] - 0.5, Z[0, j] + 0.5])
            counts = np.histogram(Z[:, j], bins=np.r_[-np.inf, edges, np.inf])[0].astype(float)
            width = np.r_[1.0, np.maximum(np.diff(edges), 1e-3), 1.0]
            dens = (counts + 0.5) / (counts.sum() + 0.5 * len(counts)) / width
            self.edges_.append(edges.tolist())
            self.logp_.append(np.log(dens).tolist())

    # ---------------------------------------------------------------- scoring
    def _score_scaled(self, Z: np.ndarray) -> np.ndarray:
        if self.method == "hbos":
            s = np.zeros(len(Z))
            for j, (edges, logp) in enumerate(zip(self.edges_, self.logp_)):
                b = np.searchsorted(np.asarray(edges), Z[:, j], side="right")
                s -= np.asarray(logp)[b]
            return s
        ref = self.reference_
        k = min(self.k, len(ref))
        rn = np.einsum("ij,ij->i", ref, ref)
        out = np.empty(len(Z))
        step = max(1, 4_000_000 // max(len(ref), 1))  # bounded memory: ~32 MB of distances at a time
        for a in range(0, len(Z), step):
            z = Z[a : a + step]
            d2 = np.einsum("ij,ij->i", z, z)[:, None] + rn[None, :] - 2.0 * z @ ref.T
            part = np.partition(d2, k - 1, axis=1)[:, :k]
            out[a : a + step] = np.sqrt(np.clip(part, 0, None)).mean(axis=1)
        return out

    def score_samples(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Anomaly score per flow (k-NN distance or HBOS surprisal): higher is stranger."""
        if not self.features_:
            raise ThreatMLError("the flow baseline is not fitted")
        return self._score_scaled(self._scaled(X))

    def normalized(self, score: np.ndarray) -> np.ndarray:
        """Share of held-out baseline flows scoring lower: 0.99 is the 1% FPR point."""
        q = np.asarray(self.quantiles_)
        return np.interp(score, q, np.linspace(0, 1, len(q)), left=0.0, right=1.0)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """True where a flow scores above the threshold chosen for ``target_fpr``."""
        return self.score_samples(X) > self.threshold_

    def explain(self, X: pd.DataFrame, top: int = 3) -> list[list[tuple[str, float, float]]]:
        """Per flow, the features farthest from the baseline median: (feature, z-score, value)."""
        R = X if isinstance(X, np.ndarray) else self._raw(X)
        Z = self._scaled(R)
        order = np.argsort(-np.abs(Z), axis=1)[:, :top]
        return [[(self.features_[j], float(Z[i, j]), float(R[i, j])) for j in row] for i, row in enumerate(order)]

    # ---------------------------------------------------------------- storage
    def save(self, folder: str | Path, card) -> Path:
        from threatml.models.card import write_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": "threatml.flow-baseline/1",
            "params": self.get_params(),
            "features": self.features_,
            "center": self.center_.tolist(),
            "scale": self.scale_.tolist(),
            "reference": np.round(self.reference_, 4).tolist(),
            "edges": self.edges_,
            "logp": self.logp_,
            "threshold": float(self.threshold_),
            "quantiles": self.quantiles_,
        }
        (folder / META_FILE).write_text(json.dumps(meta, separators=(",", ":")) + "\n")
        card.kind = card.kind or "flow-baseline"
        card.features = list(self.features_)
        card.parameters = {**self.get_params(), **card.parameters, "threshold": float(self.threshold_)}
        card.artifacts = {META_FILE: ""}
        return write_model(folder, card)

    @classmethod
    def load(cls, folder: str | Path) -> "FlowBaseline":
        from threatml.models.card import read_card

        folder = Path(folder)
        card = read_card(folder, verify=True)
        if META_FILE not in card.artifacts:
            raise ThreatMLError(f"{folder}: not a flow-baseline model folder")
        try:
            meta = json.loads((folder / META_FILE).read_text())
        except ValueError as exc:
            raise ThreatMLError(f"{folder / META_FILE}: invalid JSON: {exc}") from None
        bl = cls(**meta["params"])
        bl.features_ = list(meta["features"])
        bl.center_ = np.asarray(meta["center"], dtype="float64")
        bl.scale_ = np.asarray(meta["scale"], dtype="float64")
        bl.reference_ = np.asarray(meta["reference"], dtype="float64").reshape(-1, len(bl.features_))
        bl.edges_, bl.logp_ = meta["edges"], meta["logp"]
        bl.threshold_ = float(meta["threshold"])
        bl.quantiles_ = list(meta["quantiles"])
        return bl
