"""Alert threshold and calibration from leave-one-source-out scores.

A *source* is one network or capture of the training data. A model scored on
a random split of its own networks looks nearly perfect and still floods a new
network with alerts, so here every source is scored by a model trained on all
the *other* sources; the held-out benign flows set the alert threshold (each
source weighing the same) and all held-out scores fit a Platt calibration.
Used by ``threatml train network`` (canonical features, two or more sources)
and by the shipped model's build (``threatml.shipped.build``).

>>> import numpy as np
>>> weighted_threshold(np.array([0.0, 1.0, 2.0, 5.0]), np.array(["a", "a", "a", "b"]), 0.5)
2.0
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pandas as pd

#: share of held-out sources' benign flows allowed above the alert threshold (each source weighs the same)
ALERT_FPR = 0.01
EVALUATION = "leave-one-source-out: each source scored by a model trained on the other sources"


def weighted_threshold(margins: np.ndarray, groups: np.ndarray, fpr: float) -> float:
    """Margin above which ``fpr`` of the benign flows lie, every group weighing the same in total."""
    _, inv, counts = np.unique(groups, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv]
    order = np.argsort(-margins, kind="stable")
    tail = np.cumsum(w[order]) / w.sum()
    k = int(np.searchsorted(tail, fpr, side="right"))  # flows [0, k) may be above the threshold
    k = min(k, len(order) - 1)
    return float(margins[order[k]])


def scorable_sources(y: np.ndarray, src: np.ndarray) -> list[str]:
    """Sources that can be held out: the other sources still hold both benign and attack flows."""
    from threatml.models.flow_classifier import BENIGN

    out = []
    for name in pd.unique(src):
        rest = src != name
        if (y[rest] == BENIGN).any() and (y[rest] != BENIGN).any():
            out.append(name)
    return out


def why_not_transfer(y: np.ndarray, src: np.ndarray) -> str | None:
    """None when leave-one-source-out can set a threshold and a calibration; else the reason it cannot.

    It needs benign and attack flows among the sources that can be held out.
    """
    from threatml.models.flow_classifier import BENIGN

    n = len(pd.unique(src))
    if n < 2:
        return "one source only: leave-one-source-out needs two or more"
    held = np.isin(src, scorable_sources(y, src))
    if not (held & (y == BENIGN)).any() or not (held & (y != BENIGN)).any():
        return (f"{n} sources, but holding out a source that has benign (or attack) flows leaves the others "
                "with one class (e.g. every source is all benign or all attack)")
    return None


def leave_one_source_out(F: pd.DataFrame, y: np.ndarray, src: np.ndarray, params: dict, seed: int = 0,
                         log: Callable[[str], object] = print) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-source margins: every flow scored by a binary model that never saw its source.

    ``F`` holds canonical features. Returns (margins, scored mask); sources whose
    removal leaves one class are not scored.
    """
    from threatml.models.flow_classifier import BENIGN, FlowClassifier

    margin = np.full(len(y), np.nan)
    for name in pd.unique(src):
        held = src == name
        rest = ~held
        if (y[rest] == BENIGN).all() or (y[rest] != BENIGN).all():
            continue
        t0 = time.perf_counter()
        clf = FlowClassifier(feature_set="canonical", multiclass=False, seed=seed, **params).fit(F[rest], y[rest])
        margin[held] = clf.margin(F[held])
        log(f"  leave out {name}: {int(held.sum())} flows scored in {time.perf_counter() - t0:.1f} s")
    return margin, np.isfinite(margin)


def calibrate_out_of_source(clf, margin: np.ndarray, scored: np.ndarray, y: np.ndarray, src: np.ndarray,
                            alert_fpr: float = ALERT_FPR) -> None:
    """Replace ``clf``'s calibrator and alert threshold with out-of-source ones (in place).

    Threshold: ``alert_fpr`` of the held-out benign flows above it, each source
    weighing the same. Calibration: Platt on all held-out margins, classes balanced.
    """
    from sklearn.linear_model import LogisticRegression

    from threatml.models.flow_classifier import BENIGN, FlowClassifier

    attack = y != BENIGN
    ben = scored & ~attack
    m_thr = weighted_threshold(margin[ben], src[ben], alert_fpr) + 1e-6
    # so a probability is what the model is worth on a network it has not seen
    lr = LogisticRegression(C=1.0).fit(margin[scored].reshape(-1, 1), attack[scored].astype(int),
                                       sample_weight=FlowClassifier._balanced_weights(attack[scored]))
    clf.calibrator_ = {"kind": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    clf.alert_threshold_ = float(clf._calibrate(np.array([m_thr]))[0])
    clf.alert_fpr = alert_fpr


def out_of_source_metrics(clf, margin: np.ndarray, scored: np.ndarray, y: np.ndarray, src: np.ndarray,
                          sources: list[str]) -> dict:
    """The honest numbers, at ``clf``'s alert threshold: per source and pooled over scored flows.

    Returns {"evaluation", "alert_threshold", "alert_fpr_target", "per_source", "overall"}
    (``overall`` is a full ``binary_report``).
    """
    from threatml.models.flow_classifier import BENIGN
    from threatml.pipeline.metrics import binary_report

    attack = y != BENIGN
    p_oos = clf._calibrate(margin)
    per_source = {}
    for name in sources:
        m = (src == name) & scored
        if not m.any():
            per_source[name] = {"note": "not scored: leaving it out leaves one class"}
            continue
        r = {"benign": int((m & ~attack).sum()), "attack": int((m & attack).sum())}
        if r["benign"]:
            r["benign_fpr_at_alert"] = round(float((p_oos[m & ~attack] >= clf.alert_threshold_).mean()), 5)
        if r["attack"]:
            r["detection_rate_at_alert"] = round(float((p_oos[m & attack] >= clf.alert_threshold_).mean()), 4)
        if r["benign"] and r["attack"]:
            r["roc_auc"] = binary_report(attack[m], p_oos[m], clf.alert_threshold_)["roc_auc"]
        per_source[name] = r
    overall = binary_report(attack[scored], p_oos[scored], clf.alert_threshold_, classes=y[scored])
    return {"evaluation": EVALUATION, "alert_threshold": clf.alert_threshold_, "alert_fpr_target": clf.alert_fpr,
            "per_source": per_source, "overall": overall}
