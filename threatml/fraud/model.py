"""The fraud model: class-weighted LightGBM plus an Isolation Forest score, saved as text and JSON.

Inputs are a transaction (or account) table. Numeric columns are used as they
are, text columns with few values become LightGBM categories (their value
lists are stored), identifier columns are dropped (see
:mod:`threatml.fraud.columns`), and with entity and time columns the
per-entity velocity features of :mod:`threatml.fraud.velocity` are added. An
Isolation Forest fitted on the same inputs gives every row an unsupervised
anomaly score, which the booster also sees as a feature.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> f = pd.DataFrame({"amount": np.r_[rng.normal(20, 5, 400), rng.normal(80, 10, 40)],
...                   "channel": ["web"] * 220 + ["shop"] * 180 + ["web"] * 40})
>>> y = np.r_[np.zeros(400), np.ones(40)]
>>> m = FraudModel(n_estimators=50, iforest_trees=20).fit(f, y)
>>> s = m.score_samples(pd.DataFrame({"amount": [20.0, 90.0], "channel": ["shop", "web"]}))
>>> bool(s[1] > 0.5 > s[0])
True
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.fraud.columns import ColumnRoles, column_roles
from threatml.fraud.isoforest import JsonIsolationForest
from threatml.fraud.velocity import parse_times, velocity_features

MODEL_FILE, META_FILE, FOREST_FILE = "model.txt", "fraud.json", "iforest.json"
ANOMALY = "anomaly.iforest"


class FraudModel:
    """Supervised fraud scorer with the scikit-learn ``fit``/``predict``/``score_samples`` contract."""

    def __init__(
        self,
        entity_column: str | None = None,
        time_column: str | None = None,
        amount_column: str | None = None,
        drop_columns: tuple[str, ...] = (),
        n_estimators: int = 600,
        num_leaves: int = 31,
        learning_rate: float = 0.05,
        min_child_samples: int = 20,
        anomaly_feature: bool = True,
        iforest_trees: int = 100,
        validation_fraction: float = 0.2,
        seed: int = 0,
        n_jobs: int = 1,
    ):
        self.entity_column = entity_column
        self.time_column = time_column
        self.amount_column = amount_column
        self.drop_columns = tuple(drop_columns)
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.anomaly_feature = anomaly_feature
        self.iforest_trees = iforest_trees
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.n_jobs = n_jobs
        self.roles_ = ColumnRoles()
        self.features_: list[str] = []
        self.medians_: dict[str, float] = {}
        self.calibrator_ = {"a": 1.0, "b": 0.0}
        self.threshold_ = 0.5
        self.best_iteration_ = 0
        self.booster_: lgb.Booster | None = None
        self.forest_: JsonIsolationForest | None = None

    def get_params(self) -> dict:
        keys = ("entity_column", "time_column", "amount_column", "drop_columns", "n_estimators", "num_leaves",
                "learning_rate", "min_child_samples", "anomaly_feature", "iforest_trees", "validation_fraction",
                "seed", "n_jobs")
        return {k: (list(v) if isinstance(v := getattr(self, k), tuple) else v) for k in keys}

    # ------------------------------------------------------------------ features
    def _context_columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.entity_column, self.time_column) if c)

    def _base(self, frame: pd.DataFrame) -> pd.DataFrame:
        out: dict[str, np.ndarray] = {}
        for c in self.roles_.numeric:
            out[c] = (pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                      if c in frame.columns else np.full(len(frame), np.nan))
        for c, cats in self.roles_.categorical.items():
            if c not in frame.columns:
                out[c] = np.full(len(frame), np.nan)
                continue
            codes = pd.Index(cats).get_indexer(frame[c].astype("str").str.strip())
            out[c] = np.where(codes < 0, np.nan, codes.astype("float64"))  # unseen value: unknown
        base = pd.DataFrame(out, index=frame.index)
        if self.time_column:
            if self.time_column not in frame.columns:
                raise ThreatMLError(f"the model needs the time column {self.time_column!r}, missing in the data")
            secs = parse_times(frame[self.time_column])
            if self.entity_column:
                if self.entity_column not in frame.columns:
                    raise ThreatMLError(f"the model needs the entity column {self.entity_column!r}, missing in the data")
                amt = frame[self.amount_column] if self.amount_column and self.amount_column in frame.columns else None
                vel = velocity_features(frame[self.entity_column], secs, amt)
            else:
                vel = velocity_features(pd.Series(np.zeros(len(frame)), index=frame.index), secs)[["time.hour", "time.weekday"]]
            base = pd.concat([base, vel], axis=1)
        return base

    def _forest_input(self, base: pd.DataFrame) -> np.ndarray:
        M = base.to_numpy(dtype="float64", copy=True)
        med = np.array([self.medians_.get(c, 0.0) for c in base.columns])
        nan = np.isnan(M)
        M[nan] = np.broadcast_to(med, M.shape)[nan]
        lim = float(np.finfo("float32").max)
        return np.clip(M, -lim, lim)  # the forest works in float32; an infinite ratio must stay ordered

    def featurize(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns for a raw table (velocity and anomaly score included)."""
        base = self._base(frame)
        if self.anomaly_feature and self.forest_ is not None:
            base[ANOMALY] = self.forest_.score_samples(self._forest_input(base))
        return base

    # ------------------------------------------------------------------ fitting
    def _params(self) -> dict:
        return {
            "objective": "binary",
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "verbose": -1,
            "max_cat_to_onehot": 8,
            "cat_smooth": 10,
        }

    def fit(self, frame: pd.DataFrame, y) -> "FraudModel":
        y = np.asarray(y).astype("int64")
        if len(y) != len(frame):
            raise ValueError("frame and labels differ in length")
        if y.all() or not y.any():
            raise ThreatMLError("training data needs both fraudulent and legitimate rows")
        keep = tuple(c for c in (self.amount_column,) if c)
        self.roles_ = column_roles(frame, exclude=self._context_columns() + self.drop_columns, keep=keep)
        if not (self.roles_.numeric or self.roles_.categorical or self.time_column):
            raise ThreatMLError("no usable feature columns (every column is an identifier, label or free text)")
        base = self._base(frame)
        self.medians_ = {c: float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0 for c, v in base.items()}
        if self.anomaly_feature:
            self.forest_ = JsonIsolationForest(self.iforest_trees, seed=self.seed).fit(self._forest_input(base))
            base[ANOMALY] = self.forest_.score_samples(self._forest_input(base))
        self.features_ = list(base.columns)
        M = np.ascontiguousarray(base.to_numpy(dtype="float64"))
        cat_idx = [i for i, c in enumerate(self.features_) if c in self.roles_.categorical]

        rng = np.random.default_rng(self.seed)
        val = np.zeros(len(y), dtype=bool)
        for cls in (0, 1):
            idx = np.flatnonzero(y == cls)
            k = int(round(len(idx) * self.validation_fraction))
            if len(idx) >= 10 and k >= 2:
                val[rng.choice(idx, size=k, replace=False)] = True
        names = [f"f{i}" for i in range(M.shape[1])]
        params = self._params()
        if val.any() and y[val].any() and (~y[val].astype(bool)).any():
            dtr = lgb.Dataset(M[~val], y[~val], weight=_balanced(y[~val]), categorical_feature=cat_idx or "auto",
                              feature_name=names, free_raw_data=True)
            dva = lgb.Dataset(M[val], y[val], weight=_balanced(y[val]), reference=dtr)
            b = lgb.train(params, dtr, num_boost_round=self.n_estimators, valid_sets=[dva],
                          callbacks=[lgb.early_stopping(50, verbose=False)])
            self.best_iteration_ = max(int(b.best_iteration or self.n_estimators), 10)
            margin = b.predict(M[val], num_iteration=self.best_iteration_, raw_score=True)
            self.calibrator_ = _platt(margin, y[val])
            self.threshold_ = _best_f1_threshold(_sigmoid(self.calibrator_, margin), y[val])
            rounds = int(self.best_iteration_ / (1.0 - self.validation_fraction))
        else:  # too few rows to hold any out: fixed rounds, uncalibrated
            rounds = self.best_iteration_ = min(self.n_estimators, 200)
        dall = lgb.Dataset(M, y, weight=_balanced(y), categorical_feature=cat_idx or "auto", feature_name=names,
                           free_raw_data=True)
        self.booster_ = lgb.train(params, dall, num_boost_round=rounds)
        return self

    # ------------------------------------------------------------------ scoring
    def _check(self) -> lgb.Booster:
        if self.booster_ is None:
            raise ThreatMLError("the fraud model is not fitted")
        return self.booster_

    def _matrix(self, F: pd.DataFrame) -> np.ndarray:
        return np.ascontiguousarray(F[self.features_].to_numpy(dtype="float64"))

    def decision_function(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw LightGBM log-odds (class-weighted, so not a probability)."""
        return self._check().predict(self._matrix(self.featurize(frame)), raw_score=True)

    def score_samples(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of fraud per row (higher = more likely fraud)."""
        return _sigmoid(self.calibrator_, self.decision_function(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.score_samples(frame) >= self.threshold_).astype("int64")

    def score_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """(fraud probability, anomaly score, model inputs) in one featurisation."""
        F = self.featurize(frame)
        margin = self._check().predict(self._matrix(F), raw_score=True)
        anomaly = F[ANOMALY].to_numpy() if ANOMALY in F.columns else np.full(len(F), np.nan)
        return _sigmoid(self.calibrator_, margin), anomaly, F

    def anomaly_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Isolation Forest score in (0, 1) (0.5 ordinary, towards 1 isolated)."""
        if self.forest_ is None:
            raise ThreatMLError("this model was trained without the anomaly score")
        return self.forest_.score_samples(self._forest_input(self._base(frame)))

    def contributions(self, F: pd.DataFrame) -> np.ndarray:
        """LightGBM ``pred_contrib`` per row and feature (log-odds; last column is the bias)."""
        return self._check().predict(self._matrix(F), pred_contrib=True)

    # ------------------------------------------------------------------ storage
    def save(self, folder: Path) -> list[str]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._check().save_model(str(folder / MODEL_FILE))
        meta = {
            "params": self.get_params(),
            "features": self.features_,
            "numeric": self.roles_.numeric,
            "categorical": self.roles_.categorical,
            "dropped": self.roles_.dropped,
            "medians": self.medians_,
            "calibrator": self.calibrator_,
            "threshold": self.threshold_,
            "best_iteration": self.best_iteration_,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=1))
        files = [MODEL_FILE, META_FILE]
        if self.forest_ is not None:
            (folder / FOREST_FILE).write_text(json.dumps(self.forest_.to_dict(), separators=(",", ":")))
            files.append(FOREST_FILE)
        return files

    @classmethod
    def load(cls, folder: Path) -> "FraudModel":
        folder = Path(folder)
        try:
            meta = json.loads((folder / META_FILE).read_text())
        except FileNotFoundError:
            raise ThreatMLError(f"{folder}: not a fraud model folder (no {META_FILE})") from None
        p = meta["params"]
        p["drop_columns"] = tuple(p.get("drop_columns", ()))
        m = cls(**p)
        m.features_ = meta["features"]
        m.roles_ = ColumnRoles(meta["numeric"], meta["categorical"], meta["dropped"])
        m.medians_ = meta["medians"]
        m.calibrator_ = meta["calibrator"]
        m.threshold_ = float(meta["threshold"])
        m.best_iteration_ = int(meta["best_iteration"])
        m.booster_ = lgb.Booster(model_file=str(folder / MODEL_FILE))
        if (folder / FOREST_FILE).exists():
            m.forest_ = JsonIsolationForest.from_dict(json.loads((folder / FOREST_FILE).read_text()))
        return m


def _balanced(y: np.ndarray) -> np.ndarray:
    """Weights that give both classes the same total (class-imbalance handling)."""
    pos = max(int(y.sum()), 1)
    neg = max(len(y) - pos, 1)
    return np.where(y == 1, len(y) / (2.0 * pos), len(y) / (2.0 * neg))


def _platt(margin: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4).fit(margin.reshape(-1, 1), y)
    return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def _sigmoid(cal: dict, margin: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(cal["a"] * np.asarray(margin) + cal["b"])))


def _best_f1_threshold(score: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(-score)
    s, t = score[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    f1 = 2 * tp / (tp + fp + t.sum())
    i = int(np.argmax(f1))
    return float(s[i])
