"""``threatml train network``: labeled flows in, a model folder with its card out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.models.card import ModelCard, library_versions
from threatml.models.flow_baseline import FlowBaseline
from threatml.models.flow_classifier import FlowClassifier, native_columns
from threatml.pipeline.dataset import BENIGN, dedupe, family_labels, is_benchmark, load_labeled, split_indices
from threatml.pipeline.metrics import binary_report


def choose_feature_set(frame: pd.DataFrame, features: str) -> str:
    """``auto`` means native for benchmark feature files (KDD, UNSW, CIC), canonical otherwise."""
    if features == "auto":
        return "native" if is_benchmark(frame) else "canonical"
    if features not in ("canonical", "native"):
        raise ThreatMLError(f"unknown feature set {features!r}; use auto, canonical or native")
    return features


def _feature_set_name(frame: pd.DataFrame, fs: str) -> str:
    if fs == "canonical":
        return "canonical"
    return "+".join(sorted(set(frame.attrs.get("formats", {}).values()))) or "native"


def train_network(
    data: list[str] | str,
    out: str | Path,
    label_column: str | None = None,
    features: str = "auto",
    multiclass: bool = True,
    unsupervised: bool = False,
    split: str = "random",
    seed: int = 0,
    classifier_params: dict | None = None,
) -> ModelCard:
    """Train a flow classifier (or, with ``unsupervised``, a baseline) and write ``out``.

    The data is deduplicated before the split; the held-out part (20%) gives the
    card's metrics. Rows labeled "" (unknown) are left out of supervised training.
    """
    paths = [data] if isinstance(data, str) else list(data)
    frame, files = load_labeled(paths, label_column)
    fs = choose_feature_set(frame, features)
    y_all = family_labels(frame)
    notes: list[str] = []
    if unsupervised:
        return _train_baseline(frame, files, y_all, fs, out, split, seed, paths)
    known = y_all != ""
    if (~known).any():
        notes.append(f"{int((~known).sum())} flows with unknown label left out")
    frame, y = frame[known].reset_index(drop=True), y_all[known]
    clf = FlowClassifier(feature_set=fs, multiclass=multiclass, seed=seed, **(classifier_params or {}))
    # duplicates are judged on what the model sees (record ids and addresses would make every row unique)
    feats = clf.featurize(frame) if fs == "canonical" else frame[native_columns(frame)[0]]
    keep, dd = dedupe(feats, y)
    notes.append(f"dedupe: {dd['exact_duplicates']} exact duplicates removed, {dd['conflicting_rows']} rows with "
                 f"conflicting labels resolved to the majority ({dd['conflicting_label_vectors']} feature vectors)")
    frame, y = frame.iloc[keep].reset_index(drop=True), y[keep]
    if (y == BENIGN).all() or (y != BENIGN).all():
        raise ThreatMLError("training data needs both benign and malicious flows (after dropping unknown labels)")
    tr, te, used = split_indices(frame, np.where(y == BENIGN, BENIGN, y), split, seed=seed)
    clf.fit(frame.iloc[tr], y[tr])
    test = frame.iloc[te]
    score = clf.score_samples(test)
    metrics = binary_report(y[te] != BENIGN, score, clf.threshold_, y_pred_multiclass=clf.predict(test), classes=y[te])
    metrics["split"] = used
    metrics["dedupe"] = dd
    card = ModelCard(
        name=Path(out).name,
        version="1",
        domain="network",
        kind="flow-classifier",
        description=f"LightGBM flow classifier on {fs} features",
        training_data=files,
        feature_set=_feature_set_name(frame, fs),
        parameters={"split": used, "train_rows": int(len(tr)), "test_rows": int(len(te)), "data": paths},
        metrics=metrics,
        libraries=library_versions(),
        notes=notes,
    )
    clf.save(out, card)
    return card


def _train_baseline(frame, files, y_all, fs, out, split, seed, paths) -> ModelCard:
    tr, te, used = split_indices(frame, np.where(y_all == "", "u", y_all), split, seed=seed)
    # labels are not needed; when present they keep known attacks out of "normal" and measure the result
    fit_rows = tr[(y_all[tr] == BENIGN) | (y_all[tr] == "")]
    bl = FlowBaseline(feature_set=fs, seed=seed).fit(frame.iloc[fit_rows])
    lab = te[y_all[te] != ""]
    metrics: dict = {"split": used}
    if len(lab) and (y_all[lab] == BENIGN).any() and (y_all[lab] != BENIGN).any():
        s = bl.score_samples(frame.iloc[lab])
        metrics = binary_report(y_all[lab] != BENIGN, s, bl.threshold_, classes=y_all[lab]) | {"split": used}
    card = ModelCard(
        name=Path(out).name,
        version="1",
        domain="network",
        kind="flow-baseline",
        description=f"unsupervised flow baseline ({bl.method}) on {fs} features",
        training_data=files,
        feature_set=_feature_set_name(frame, fs),
        parameters={"split": used, "train_rows": int(len(fit_rows)), "data": paths},
        metrics=metrics,
        libraries=library_versions(),
    )
    bl.save(out, card)
    return card
