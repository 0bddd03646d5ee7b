"""Stratified k-fold cross-validation of the fraud model beside a logistic-regression baseline.

Both models see the same folds and the same columns (the baseline: median-
imputed, standardised numbers and one-hot categories, balanced class weights),
so the difference is the model, not the data. Results are mean and standard
deviation over the folds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from threatml.fraud.columns import column_roles
from threatml.fraud.model import FraudModel


def logistic_baseline_scores(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, exclude: tuple[str, ...],
                             seed: int = 0) -> np.ndarray:
    """Fraud probability of ``test`` rows from a class-balanced logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    roles = column_roles(train, exclude=exclude)
    num, cat = roles.numeric, list(roles.categorical)

    def prep(f: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({c: pd.to_numeric(f[c], errors="coerce") for c in num}, index=f.index)
        for c in cat:
            out[c] = f[c].astype("str")
        return out.replace([np.inf, -np.inf], np.nan)

    ct = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), cat),
    ])
    pipe = make_pipeline(ct, LogisticRegression(class_weight="balanced", max_iter=2000, C=1.0, random_state=seed))
    tr = prep(train)
    # heavy-tailed amounts: a signed log keeps the linear model from being dominated by outliers
    tr[num] = np.sign(tr[num]) * np.log1p(np.abs(tr[num]))
    te = prep(test)
    te[num] = np.sign(te[num]) * np.log1p(np.abs(te[num]))
    pipe.fit(tr, y)
    return pipe.predict_proba(te)[:, 1]


def _mean_sd(xs: list[float]) -> dict:
    a = np.asarray(xs, dtype="float64")
    return {"mean": round(float(a.mean()), 4), "sd": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 4),
            "folds": [round(float(x), 4) for x in a]}


def cross_validate(frame: pd.DataFrame, y: np.ndarray, folds: int = 5, seed: int = 0, baseline: bool = True,
                   **model_params) -> dict:
    """ROC-AUC and PR-AUC (mean, sd, per fold) of the fraud model, its anomaly score and the baseline.

    With velocity features the folds are still stratified at random: each
    fold's features are computed on that fold's own rows (history of other
    folds is not visible), which understates velocity a little but never leaks.
    """
    y = np.asarray(y).astype("int64")
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    res: dict[str, list[float]] = {k: [] for k in ("roc_auc", "pr_auc", "anomaly_roc_auc", "anomaly_pr_auc",
                                                   "baseline_roc_auc", "baseline_pr_auc")}
    exclude = tuple(c for c in (model_params.get("entity_column"), model_params.get("time_column")) if c)
    exclude += tuple(model_params.get("drop_columns", ()))
    for tr, te in skf.split(np.zeros(len(y)), y):
        m = FraudModel(seed=seed, **model_params).fit(frame.iloc[tr], y[tr])
        s, anomaly, _ = m.score_frame(frame.iloc[te])
        res["roc_auc"].append(roc_auc_score(y[te], s))
        res["pr_auc"].append(average_precision_score(y[te], s))
        if np.isfinite(anomaly).all():
            res["anomaly_roc_auc"].append(roc_auc_score(y[te], anomaly))
            res["anomaly_pr_auc"].append(average_precision_score(y[te], anomaly))
        if baseline:
            b = logistic_baseline_scores(frame.iloc[tr], y[tr], frame.iloc[te], exclude, seed)
            res["baseline_roc_auc"].append(roc_auc_score(y[te], b))
            res["baseline_pr_auc"].append(average_precision_score(y[te], b))
    out = {k: _mean_sd(v) for k, v in res.items() if v}
    out["folds"] = folds
    out["positive_rate"] = round(float(y.mean()), 4)
    return out
