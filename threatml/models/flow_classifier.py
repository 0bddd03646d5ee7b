"""Supervised flow classifier: LightGBM, calibrated, saved as LightGBM text + JSON.

Two boosters: a binary one that gives the attack probability of every flow
(cheap enough to score hundreds of thousands of flows a second) and, when the
training data names two or more attack families, a family booster trained on
the attacks only, asked only about flows the first one flags. The class
probabilities are ``P(attack) * P(family | attack)`` and ``1 - P(attack)``
for benign.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"orig.a": np.r_[rng.normal(0, 1, 300), rng.normal(3, 1, 300)]})
>>> y = np.array(["benign"] * 300 + ["dos"] * 300)
>>> clf = FlowClassifier(feature_set="native", n_estimators=20).fit(X, y)
>>> bool(clf.score_samples(pd.DataFrame({"orig.a": [4.0]}))[0] > 0.5)
True
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.features.flow import CANONICAL_FEATURES, canonical_features
from threatml.pipeline.metrics import threshold_at_fpr

MODEL_FILE, FAMILY_FILE, META_FILE = "model.txt", "family.txt", "classifier.json"
BENIGN = "benign"

# native columns that identify a capture rather than a behaviour, or leak the label
_NATIVE_EXCLUDE = re.compile(
    r"(^|[ ._])(label|labels|attack|attack_cat|attack_category|category|attempted category|class|difficulty|difficulty_level|id|flow id|"
    r"src ip|dst ip|source ip|destination ip|srcip|dstip|saddr|daddr|srcaddr|dstaddr|ip|timestamp|stime|ltime|"
    r"starttime|lasttime|src port|source port|sport|srcport|ts|te|sa|da|sp|smac|dmac|srcmac|dstmac)$",
    re.IGNORECASE,
)
_MAX_CATEGORIES = 256


def native_columns(frame: pd.DataFrame) -> tuple[list[str], dict[str, list[str]]]:
    """The usable ``orig.*`` columns: numeric ones, and string ones with few values (categorical)."""
    numeric, cats = [], {}
    for c in frame.columns:
        if not c.startswith("orig.") or _NATIVE_EXCLUDE.search(c[5:].strip()):
            continue
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            numeric.append(c)
        else:
            vals = col.astype("str").str.strip().unique()
            if len(vals) <= _MAX_CATEGORIES:
                cats[c] = sorted(v for v in vals.tolist() if v not in ("", "-", "nan"))
    return numeric + list(cats), cats


class FlowClassifier:
    """LightGBM flow classifier with the scikit-learn fit/predict contract.

    ``feature_set`` is ``"canonical"`` (features from the flow schema, any
    source) or ``"native"`` (a benchmark file's own ``orig.*`` columns).
    ``y`` holds ``"benign"`` or an attack family per flow (``"malicious"`` when
    the family is unknown), or 0/1.
    """

    def __init__(
        self,
        feature_set: str = "canonical",
        multiclass: bool = True,
        n_estimators: int = 300,
        num_leaves: int = 31,
        learning_rate: float = 0.1,
        min_child_samples: int = 20,
        family_estimators: int = 100,
        calibration_fraction: float = 0.2,
        alert_fpr: float = 0.001,
        seed: int = 0,
        n_jobs: int = 2,
    ):
        if feature_set not in ("canonical", "native"):
            raise ValueError("feature_set must be 'canonical' or 'native'")
        self.feature_set = feature_set
        self.multiclass = multiclass
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.family_estimators = family_estimators
        self.calibration_fraction = calibration_fraction
        self.alert_fpr = alert_fpr
        self.seed = seed
        self.n_jobs = n_jobs
        self.features_: list[str] = []
        self.categories_: dict[str, list[str]] = {}
        self.families_: list[str] = []
        self.calibrator_: dict = {"kind": "sigmoid"}
        self.threshold_ = 0.5
        self.alert_threshold_ = 0.5
        self.booster_: lgb.Booster | None = None
        self.family_booster_: lgb.Booster | None = None

    # ---------------------------------------------------------------- features
    def get_params(self) -> dict:
        keys = ("feature_set", "multiclass", "n_estimators", "num_leaves", "learning_rate", "min_child_samples",
                "family_estimators", "calibration_fraction", "alert_fpr", "seed", "n_jobs")
        return {k: getattr(self, k) for k in keys}

    @property
    def classes_(self) -> list[str]:
        return [BENIGN, *(self.families_ or ["malicious"])]

    def featurize(self, X: pd.DataFrame) -> pd.DataFrame:
        """Model inputs for a flow frame (or a frame that already has them)."""
        if self.feature_set == "canonical":
            feats = self.features_ or CANONICAL_FEATURES
            F = X if set(feats).issubset(X.columns) else canonical_features(X)
            missing = [c for c in feats if c not in F.columns]
            if missing:
                raise ThreatMLError(f"this model was built on canonical features this version does not compute "
                                    f"({', '.join(missing[:5])}); rebuild it")
            return F if list(F.columns) == list(feats) else F[feats]
        feats = self.features_ or native_columns(X)[0]
        out = {}
        for c in feats:
            if c not in X.columns:
                out[c] = np.full(len(X), np.nan)
            elif c in self.categories_:
                codes = pd.Index(self.categories_[c]).get_indexer(X[c].astype("str").str.strip())
                out[c] = np.where(codes < 0, np.nan, codes.astype("float64"))  # unseen category: unknown
            else:
                out[c] = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return pd.DataFrame(out, index=X.index)

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return np.ascontiguousarray(self.featurize(X).to_numpy(dtype="float64"))

    # ---------------------------------------------------------------- fitting
    def _params(self, objective: str, **extra) -> dict:
        p = {
            "objective": objective,
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "verbose": -1,
            "max_cat_to_onehot": 8,
        }
        p.update(extra)
        return p

    def fit(self, X: pd.DataFrame, y) -> "FlowClassifier":
        y = np.asarray(y)
        if y.dtype.kind in "biuf":
            names = np.where(y.astype(float) > 0, "malicious", BENIGN).astype(object)
        else:
            names = np.array([str(v) if str(v) else "malicious" for v in y], dtype=object)
            names = np.where(pd.Series(names).str.lower().eq(BENIGN).to_numpy(), BENIGN, names)
        attack = names != BENIGN
        if attack.all() or not attack.any():
            raise ThreatMLError("training data needs both benign and malicious flows")
        if self.feature_set == "native":
            self.features_, self.categories_ = native_columns(X)
            if not self.features_:
                raise ThreatMLError("no usable native (orig.*) feature columns in the training data")
        else:
            self.features_ = list(CANONICAL_FEATURES)
        M = self._matrix(X)
        cat_idx = [i for i, c in enumerate(self.features_) if c in self.categories_]
        rng = np.random.default_rng(self.seed)

        # hold out a stratified part for early stopping and calibration
        cal = np.zeros(len(y), dtype=bool)
        for cls in (True, False):
            idx = np.flatnonzero(attack == cls)
            k = int(round(len(idx) * self.calibration_fraction))
            if len(idx) >= 10 and k >= 2:
                cal[rng.choice(idx, size=k, replace=False)] = True
        fit = ~cal
        w = self._balanced_weights(attack[fit])
        dtrain = lgb.Dataset(M[fit], attack[fit].astype(int), weight=w, categorical_feature=cat_idx or "auto",
                             feature_name=[f"f{i}" for i in range(M.shape[1])], free_raw_data=True)
        valid = []
        cbs = []
        if cal.sum() >= 20 and attack[cal].any() and (~attack[cal]).any():
            dval = lgb.Dataset(M[cal], attack[cal].astype(int), weight=self._balanced_weights(attack[cal]), reference=dtrain)
            valid = [dval]
            cbs = [lgb.early_stopping(30, verbose=False)]
        self.booster_ = lgb.train(self._params("binary"), dtrain, num_boost_round=self.n_estimators, valid_sets=valid, callbacks=cbs)
        if self.booster_.best_iteration and self.booster_.best_iteration > 0:
            self.booster_.model_from_string(self.booster_.model_to_string(num_iteration=self.booster_.best_iteration))

        # calibration on the held-out part
        if cal.any():
            self._fit_calibration(self.booster_.predict(M[cal], raw_score=True), attack[cal])
            benign_scores = self._calibrate(self.booster_.predict(M[cal & ~attack], raw_score=True))
            self.alert_threshold_ = max(0.5, min(0.99, threshold_at_fpr(benign_scores, self.alert_fpr) + 1e-6))

        # family model on the attacks only
        fams = sorted(set(names[attack].tolist()))
        self.families_ = fams
        self.family_booster_ = None
        if self.multiclass and len(fams) >= 2:
            code = {f: i for i, f in enumerate(fams)}
            ya = np.array([code[v] for v in names[attack]])
            dfam = lgb.Dataset(M[attack], ya, weight=self._balanced_weights(ya), categorical_feature=cat_idx or "auto",
                               feature_name=[f"f{i}" for i in range(M.shape[1])])
            self.family_booster_ = lgb.train(
                self._params("multiclass", num_class=len(fams), num_leaves=min(self.num_leaves, 15)),
                dfam, num_boost_round=self.family_estimators)
        elif len(fams) >= 2:
            self.families_ = []
        return self

    @staticmethod
    def _balanced_weights(y: np.ndarray) -> np.ndarray:
        """Each class weighs the same in total, so rare attacks are not ignored."""
        _, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
        w = len(y) / (len(counts) * counts)
        return w[inv]

    def _fit_calibration(self, margin: np.ndarray, attack: np.ndarray) -> None:
        n_pos, n_neg = int(attack.sum()), int((~attack).sum())
        if min(n_pos, n_neg) >= 50:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, attack.astype(float))
            self.calibrator_ = {"kind": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        elif min(n_pos, n_neg) >= 3:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1.0).fit(margin.reshape(-1, 1), attack.astype(int))
            self.calibrator_ = {"kind": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
        else:
            self.calibrator_ = {"kind": "sigmoid"}

    def _calibrate(self, margin: np.ndarray) -> np.ndarray:
        c = self.calibrator_
        if c["kind"] == "isotonic":
            return np.interp(margin, c["x"], c["y"])
        if c["kind"] == "platt":
            return 1.0 / (1.0 + np.exp(-(c["a"] * margin + c["b"])))
        return 1.0 / (1.0 + np.exp(-margin))

    # ---------------------------------------------------------------- scoring
    def _check(self) -> lgb.Booster:
        if self.booster_ is None:
            raise ThreatMLError("the flow classifier is not fitted")
        return self.booster_

    def margin(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        M = X if isinstance(X, np.ndarray) else self._matrix(X)
        return self._check().predict(M, raw_score=True, num_threads=self.n_jobs)

    def score_samples(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated probability that each flow is an attack."""
        return self._calibrate(self.margin(X))

    def family_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """P(family | attack), one column per :attr:`families_` (ones when there is one family)."""
        M = X if isinstance(X, np.ndarray) else self._matrix(X)
        if self.family_booster_ is None:
            return np.ones((len(M), 1))
        p = self.family_booster_.predict(M, num_threads=self.n_jobs)
        return p.reshape(len(M), -1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns follow :attr:`classes_`: benign, then each attack family."""
        M = self._matrix(X)
        p = self.score_samples(M)
        return np.column_stack([1.0 - p, p[:, None] * self.family_proba(M)])

    def predict(self, X: pd.DataFrame, threshold: float | None = None) -> np.ndarray:
        """``"benign"`` or the predicted attack family for each flow."""
        M = self._matrix(X)
        p = self.score_samples(M)
        out = np.full(len(M), BENIGN, dtype=object)
        hit = p >= (self.threshold_ if threshold is None else threshold)
        if hit.any():
            fam = np.asarray(self.classes_[1:], dtype=object)
            out[hit] = fam[np.argmax(self.family_proba(M[hit]), axis=1)]
        return out

    def explain(self, X: pd.DataFrame | np.ndarray, top: int = 3) -> list[list[tuple[str, float, float]]]:
        """Per flow, the ``top`` features that pushed the attack score up most: (feature, log-odds, value)."""
        M = X if isinstance(X, np.ndarray) else self._matrix(X)
        if len(M) == 0:
            return []
        contrib = self._check().predict(M, pred_contrib=True, num_threads=self.n_jobs)[:, :-1]
        order = np.argsort(-contrib, axis=1)[:, :top]
        out = []
        for i, row in enumerate(order):
            out.append([(self.features_[j], float(contrib[i, j]), float(M[i, j])) for j in row if contrib[i, j] > 0])
        return out

    # ---------------------------------------------------------------- storage
    def _meta(self) -> dict:
        return {
            "format": "threatml.flow-classifier/1",
            "params": self.get_params(),
            "features": self.features_,
            "categories": self.categories_,
            "families": self.families_,
            "calibrator": self.calibrator_,
            "threshold": self.threshold_,
            "alert_threshold": self.alert_threshold_,
        }

    def save(self, folder: str | Path, card) -> Path:
        """Write the boosters, the JSON metadata and ``card.json`` (a :class:`ModelCard`) into ``folder``."""
        from threatml.models.card import write_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._check().save_model(str(folder / MODEL_FILE))
        arts = [MODEL_FILE, META_FILE]
        if self.family_booster_ is not None:
            self.family_booster_.save_model(str(folder / FAMILY_FILE))
            arts.append(FAMILY_FILE)
        (folder / META_FILE).write_text(json.dumps(self._meta(), indent=1) + "\n")
        card.kind = card.kind or "flow-classifier"
        card.features = list(self.features_)
        card.classes = self.classes_
        card.parameters = {**self.get_params(), **card.parameters, "threshold": self.alert_threshold_}
        card.artifacts = {a: "" for a in arts}
        return write_model(folder, card)

    @classmethod
    def load(cls, folder: str | Path) -> "FlowClassifier":
        """Load a model folder; refuses when a file's SHA-256 differs from the card."""
        from threatml.models.card import read_card

        folder = Path(folder)
        card = read_card(folder, verify=True)
        if MODEL_FILE not in card.artifacts or META_FILE not in card.artifacts:
            raise ThreatMLError(f"{folder}: not a flow-classifier model folder")
        try:
            meta = json.loads((folder / META_FILE).read_text())
        except ValueError as exc:
            raise ThreatMLError(f"{folder / META_FILE}: invalid JSON: {exc}") from None
        clf = cls(**meta["params"])
        clf.features_ = list(meta["features"])
        clf.categories_ = {k: list(v) for k, v in meta["categories"].items()}
        clf.families_ = list(meta["families"])
        clf.calibrator_ = meta["calibrator"]
        clf.threshold_ = float(meta["threshold"])
        clf.alert_threshold_ = float(meta["alert_threshold"])
        clf.booster_ = lgb.Booster(model_file=str(folder / MODEL_FILE))
        if FAMILY_FILE in card.artifacts:
            clf.family_booster_ = lgb.Booster(model_file=str(folder / FAMILY_FILE))
        return clf
