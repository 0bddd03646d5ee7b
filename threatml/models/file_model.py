"""LightGBM malware classifier for files, on header or rich (EMBER-style) features.

One class serves both feature sets: it stores the feature names it was fitted
on, the alert threshold and a Platt-free probability (LightGBM's own), and
explains a score with the per-feature contributions (``pred_contrib``) in words.

>>> import numpy as np, pandas as pd, tempfile
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
>>> y = (X["a"] > 0).astype(int).to_numpy()
>>> m = FileClassifier(n_estimators=20, min_child_samples=5).fit(X, y)
>>> d = tempfile.mkdtemp(); _ = m.save(d, name="t", feature_set="demo")
>>> m2 = FileClassifier.load(d); bool((m2.score_samples(X) == m.score_samples(X)).all())
True
>>> m2.explain(X.iloc[:1])[0][0].split(" ")[0]
'a'
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.models.card import ModelCard, library_versions, read_card, write_model

MODEL_FILE = "model.txt"
META_FILE = "classifier.json"


class FileClassifier:
    """Binary LightGBM (malicious = 1); ``score_samples`` is the malicious probability."""

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.05, num_leaves: int = 31,
                 min_child_samples: int = 10, subsample: float = 0.8, colsample_bytree: float = 0.7,
                 reg_lambda: float = 1.0, seed: int = 0, threshold: float = 0.5, num_threads: int = 1):
        self.n_estimators, self.learning_rate, self.num_leaves = n_estimators, learning_rate, num_leaves
        self.min_child_samples, self.subsample, self.colsample_bytree = min_child_samples, subsample, colsample_bytree
        self.reg_lambda, self.seed, self.threshold, self.num_threads = reg_lambda, seed, threshold, num_threads
        self.booster: lgb.Booster | None = None
        self.features: list[str] = []
        self.descriptions: dict[str, str] = {}

    def params(self) -> dict:
        return {"objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                "min_child_samples": self.min_child_samples, "bagging_fraction": self.subsample, "bagging_freq": 1,
                "feature_fraction": self.colsample_bytree, "lambda_l2": self.reg_lambda, "seed": self.seed,
                "deterministic": True, "num_threads": self.num_threads, "verbose": -1}

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "FileClassifier":
        y = np.asarray(y).astype(int)
        if len(set(y.tolist())) < 2:
            raise ThreatMLError("training needs both malicious and benign examples")
        self.features = list(X.columns)
        ds = lgb.Dataset(X.to_numpy(dtype="float64"), label=y, feature_name=self.features, free_raw_data=True)
        self.booster = lgb.train(self.params(), ds, num_boost_round=self.n_estimators)
        return self

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        if self.booster is None:
            raise ThreatMLError("model is not fitted")
        if isinstance(X, np.ndarray):  # columns already in self.features order
            return X
        if list(X.columns) == self.features:
            return X.to_numpy(dtype="float64")
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            X = X.assign(**{f: np.nan for f in missing})
        return X[self.features].to_numpy(dtype="float64")

    def score_samples(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probability of malicious, higher = more malicious."""
        if len(X) == 0:
            return np.zeros(0)
        return self.booster.predict(self._matrix(X), num_threads=self.num_threads)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.score_samples(X) >= self.threshold).astype(int)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Per row and feature, the log-odds contribution (last column: the bias)."""
        return self.booster.predict(self._matrix(X), pred_contrib=True, num_threads=self.num_threads)

    def explain(self, X: pd.DataFrame | np.ndarray, top: int = 3) -> list[list[str]]:
        """Per row, the ``top`` features that pushed the score up the most, in words."""
        if len(X) == 0:
            return []
        contrib = self.contributions(X)[:, :-1]
        values = self._matrix(X)
        out = []
        for i in range(len(values)):
            order = np.argsort(-contrib[i])[:top]
            words = []
            for j in order:
                if contrib[i, j] <= 0:
                    break
                name = self.features[j]
                v = values[i, j]
                shown = "unknown" if not np.isfinite(v) else (f"{v:.4g}" if v != int(v) else f"{int(v)}")
                desc = self.descriptions.get(name)
                words.append(f"{name} = {shown}{f' ({desc})' if desc else ''} raises the malware score by "
                             f"{contrib[i, j]:.2f} log-odds")
            out.append(words)
        return out

    def importance(self, top: int = 15) -> list[tuple[str, float]]:
        gain = self.booster.feature_importance("gain")
        order = np.argsort(-gain)[:top]
        return [(self.features[j], round(float(gain[j]), 1)) for j in order]

    # ------------------------------------------------------------------ storage

    def save(self, folder: str | Path, name: str, feature_set: str, version: str = "1", description: str = "",
             training_data=None, metrics: dict | None = None, notes: list[str] | None = None) -> ModelCard:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / MODEL_FILE))
        meta = {"features": self.features, "threshold": self.threshold, "feature_set": feature_set,
                "descriptions": self.descriptions, "params": self.params(), "n_estimators": self.n_estimators}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        card = ModelCard(name=name, version=version, domain="file", kind=f"file-classifier-{feature_set}",
                         description=description, training_data=training_data or [], features=self.features,
                         feature_set=feature_set, classes=["benign", "malicious"],
                         parameters={"threshold": self.threshold, **self.params(), "n_estimators": self.n_estimators},
                         metrics=metrics or {}, libraries=library_versions("lightgbm"),
                         artifacts={MODEL_FILE: "", META_FILE: ""}, notes=notes or [])
        write_model(folder, card)
        return card

    @classmethod
    def load(cls, folder: str | Path) -> "FileClassifier":
        folder = Path(folder)
        card = read_card(folder, verify=True)
        if card.domain != "file":
            raise ThreatMLError(f"{folder}: model of domain {card.domain!r}, not a file model")
        meta = json.loads((folder / META_FILE).read_text())
        m = cls(threshold=float(meta["threshold"]))
        m.booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
        m.features = list(meta["features"])
        m.descriptions = dict(meta.get("descriptions", {}))
        m.feature_set = meta.get("feature_set", card.feature_set)
        return m
