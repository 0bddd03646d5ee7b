"""Fit and measure the file models: header (ClaMP-style) and rich (EMBER-style) LightGBM.

Both report out-of-fold scores (stratified k-fold, or one held-out split for
large data), set the alert threshold on the out-of-fold benign scores at a
target false-positive rate, then fit on everything. The header model is
trained with :func:`~threatml.files.confounds.balance_weights` so that the
DLL / subsystem / 64-bit mix of the training collection cannot stand in for
the label (see :mod:`threatml.files.confounds`).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from threatml.files.confounds import balance_weights, shifted_report, strata
from threatml.files.header_features import header_model_features
from threatml.models.file_model import FileClassifier
from threatml.pipeline.metrics import binary_report, threshold_at_fpr

#: benign share of out-of-fold scores allowed above the default alert threshold
ALERT_FPR = 0.01
HEADER_PARAMS = {"n_estimators": 400, "num_leaves": 31, "min_child_samples": 10, "learning_rate": 0.05}
RICH_PARAMS = {"n_estimators": 600, "num_leaves": 64, "min_child_samples": 20, "learning_rate": 0.05,
               "colsample_bytree": 0.5}
#: above this many rows, one 80/20 split replaces k-fold cross-validation
CV_MAX_ROWS = 50_000
#: share of header fields made unknown in the augmented training copy
MASK_SHARE = 0.25


def mask_fields(X: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A copy of ``X`` with ``share`` of its values set to NaN at random (unknown)."""
    M = X.to_numpy(dtype="float64", copy=True)
    M[np.random.default_rng(seed).random(M.shape) < share] = np.nan
    return pd.DataFrame(M, columns=X.columns)


def augment_missing(X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None, share: float = MASK_SHARE,
                    seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Training rows plus one copy with ``share`` of the fields unknown.

    Other collections lack fields (no DOS header values, no BaseOfData, no
    checksum); a model that only ever saw complete rows sends every unknown
    value down one arbitrary branch. With the masked copy it learns to score
    from whatever fields are there.
    """
    Xa = pd.concat([X.reset_index(drop=True), mask_fields(X, share, seed + 1)], ignore_index=True)
    return Xa, np.concatenate([y, y]), None if w is None else np.concatenate([w, w])


def _fit(model: FileClassifier, X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None) -> FileClassifier:
    model.features = list(X.columns)
    ds = lgb.Dataset(X.to_numpy(dtype="float32"), label=y, weight=w, feature_name=model.features, free_raw_data=True)
    model.booster = lgb.train(model.params(), ds, num_boost_round=model.n_estimators)
    return model


def out_of_fold(X: pd.DataFrame, y: np.ndarray, weights: np.ndarray | None = None, folds: int = 5, seed: int = 0,
                params: dict | None = None, augment: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores and the mask of rows that have one (all rows for k-fold).

    With ``augment``, only the training part of each fold gets the masked copy.
    """
    params = params or {}
    oof = np.full(len(y), np.nan)
    if len(y) > CV_MAX_ROWS:
        tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
        splits = [(tr, te)]
    else:
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    for tr, te in splits:
        Xt, yt, wt = X.iloc[tr], y[tr], None if weights is None else weights[tr]
        if augment:
            Xt, yt, wt = augment_missing(Xt, yt, wt, seed=seed)
        m = _fit(FileClassifier(seed=seed, **params), Xt, yt, wt)
        oof[te] = m.score_samples(X.iloc[te])
    return oof, np.isfinite(oof)


def train_header(header: pd.DataFrame, y: np.ndarray, seed: int = 0, balance: bool = True,
                 alert_fpr: float = ALERT_FPR, folds: int = 5, augment: bool = True) -> tuple[FileClassifier, dict, list[str]]:
    """Header model on pefile header fields; returns (fitted model, out-of-fold metrics, notes)."""
    y = np.asarray(y).astype(int)
    X = header_model_features(header)
    groups = strata(header)
    w = balance_weights(groups, y) if balance else None
    oof, has = out_of_fold(X, y, w, folds, seed, HEADER_PARAMS, augment=augment)
    thr = threshold_at_fpr(oof[has][y[has] == 0], alert_fpr)
    metrics = binary_report(y[has], oof[has], thr)
    metrics.update(shifted_report(y[has], oof[has], groups[has]))
    metrics["evaluation"] = f"{folds}-fold stratified cross-validation, out-of-fold scores" if has.all() \
        else "20% held-out split"
    notes = [f"threshold {thr:.4f}: {alert_fpr:.1%} of out-of-fold benign scores above it",
             "trained with stratum-balancing weights (DLL x subsystem x PE32+)" if balance else "unweighted",
             f"plus a copy of every row with {MASK_SHARE:.0%} of the fields unknown" if augment else "no missing-field copy"]
    Xf, yf, wf = augment_missing(X, y, w, seed=seed) if augment else (X, y, w)
    model = _fit(FileClassifier(seed=seed, threshold=thr, **HEADER_PARAMS), Xf, yf, wf)
    model.descriptions = FEATURE_WORDS
    return model, metrics, notes


def train_rich(X: pd.DataFrame, y: np.ndarray, seed: int = 0, alert_fpr: float = ALERT_FPR,
               folds: int = 5, params: dict | None = None) -> tuple[FileClassifier, dict, list[str]]:
    """Rich model on :mod:`threatml.files.rich_vector` columns."""
    from threatml.files.rich_vector import DESCRIPTIONS

    y = np.asarray(y).astype(int)
    p = {**RICH_PARAMS, **(params or {})}
    oof, has = out_of_fold(X, y, None, folds, seed, p)
    thr = threshold_at_fpr(oof[has][y[has] == 0], alert_fpr)
    metrics = binary_report(y[has], oof[has], thr)
    metrics["evaluation"] = f"{folds}-fold stratified cross-validation, out-of-fold scores" if has.all() \
        else "20% held-out split"
    model = _fit(FileClassifier(seed=seed, threshold=thr, **p), X, y, None)
    model.descriptions = DESCRIPTIONS
    return model, metrics, [f"threshold {thr:.4f}: {alert_fpr:.1%} of out-of-fold benign scores above it"]


#: plain words for header-model features used in explanations
FEATURE_WORDS = {
    "checksum_set": "PE checksum filled in", "imagebase_default": "linker-default image base",
    "char_dll": "file is a DLL", "ep_in_code": "entry point inside the code section",
    "ep_share_of_image": "entry point position in the image", "code_share_of_image": "code share of the image",
    "data_share_of_image": "initialised-data share of the image", "dllchar_dynamic_base": "ASLR enabled",
    "dllchar_nx_compat": "DEP enabled", "SizeOfStackReserve": "stack reserve size",
    "MajorLinkerVersion": "linker major version", "e_lfanew": "offset of the PE header",
}
