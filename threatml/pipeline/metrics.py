"""Detection metrics with one set of JSON keys, shared by every domain's ``evaluate``.

>>> import numpy as np
>>> r = binary_report(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.7, 0.9]), threshold=0.5)
>>> r["n"], r["recall"], r["benign_fpr"], r["confusion_matrix"]
(4, 1.0, 0.5, [[1, 1], [0, 2]])
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def detection_rate_at_fpr(y_true: np.ndarray, score: np.ndarray, fpr: float) -> float | None:
    """Share of attacks scoring above the benign score quantile that lets ``fpr`` through.

    Ties at the threshold count as not detected, so a constant score detects
    nothing rather than everything.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype="float64")
    if y.all() or not y.any():
        return None
    neg = np.sort(s[~y])
    # the threshold is the score of the k-th highest benign flow; at most k benign flows exceed it
    k = int(np.floor(fpr * len(neg)))
    thr = neg[len(neg) - 1 - k]
    return float(np.mean(s[y] > thr))


def threshold_at_fpr(benign_scores: np.ndarray, fpr: float) -> float:
    """Smallest threshold t so that at most ``fpr`` of ``benign_scores`` are > t."""
    neg = np.sort(np.asarray(benign_scores, dtype="float64"))
    if len(neg) == 0:
        return 0.5
    k = int(np.floor(fpr * len(neg)))
    return float(neg[len(neg) - 1 - k])


def _r(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def binary_report(
    y_true,
    score,
    threshold: float,
    y_pred_multiclass=None,
    classes=None,
) -> dict:
    """Binary detection metrics at ``threshold`` plus threshold-free ones.

    ``y_true`` is 1/True for malicious. ``classes`` (optional, same length) is
    the true attack family of each record; ``per_class`` then gives each
    family's count and detection rate at the threshold. ``y_pred_multiclass``
    (optional) adds the accuracy of the predicted family over all records.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype="float64")
    s = np.where(np.isnan(s), 0.0, s)
    pred = s >= threshold
    tp = int(np.sum(pred & y))
    fp = int(np.sum(pred & ~y))
    fn = int(np.sum(~pred & y))
    tn = int(np.sum(~pred & ~y))
    n = len(y)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    both = 0 < y.sum() < n
    out = {
        "n": n,
        "n_malicious": int(y.sum()),
        "n_benign": int(n - y.sum()),
        "threshold": _r(threshold),
        "accuracy": _r((tp + tn) / n) if n else None,
        "precision": _r(prec),
        "recall": _r(rec),
        "f1": _r(2 * prec * rec / (prec + rec)) if prec + rec else 0.0,
        "roc_auc": _r(roc_auc_score(y, s)) if both else None,
        "pr_auc": _r(average_precision_score(y, s)) if both else None,
        "detection_rate_at_fpr_1pct": _r(detection_rate_at_fpr(y, s, 0.01)),
        "detection_rate_at_fpr_0.1pct": _r(detection_rate_at_fpr(y, s, 0.001)),
        "benign_fpr": _r(fp / (fp + tn)) if fp + tn else None,
        # rows: true benign, true malicious; columns: predicted benign, predicted malicious
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "per_class": {},
    }
    if classes is not None:
        cls = np.asarray(classes, dtype=object)
        for c in sorted(set(cls[y].tolist())):
            m = (cls == c) & y
            out["per_class"][str(c) or "malicious"] = {
                "n": int(m.sum()),
                "detection_rate": _r(float(pred[m].mean())),
            }
        if (~y).any():
            out["per_class"]["benign"] = {"n": int((~y).sum()), "false_positive_rate": out["benign_fpr"]}
    if y_pred_multiclass is not None and classes is not None:
        truth = np.where(y, np.asarray(classes, dtype=object), "benign")
        out["multiclass_accuracy"] = _r(float(np.mean(np.asarray(y_pred_multiclass, dtype=object) == truth)))
    return out
