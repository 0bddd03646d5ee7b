"""Collection confounds of PE header data sets, and training and evaluation that resist them.

In ClaMP the benign files are Windows system files: half are DLLs, a quarter
console programs, all 64-bit files are benign, while the malware is almost all
32-bit GUI executables. A model left alone learns "DLL or console -> benign",
which fails on any other collection (malicious DLLs, benign third-party GUI
programs). Two remedies live here:

* :func:`balance_weights` - sample weights that give both classes the same
  mass inside every stratum (DLL flag x subsystem x PE32/PE32+), so the
  stratum itself predicts nothing and the trees must split on what differs
  *within* strata;
* :func:`shifted_report` - ROC-AUC and detection rate at 1% FPR on weights
  that equalise the strata between classes: an honest stand-in for scoring a
  collection whose mix of DLLs, console programs and 64-bit files differs.

>>> import pandas as pd
>>> s = pd.Series(["a", "a", "a", "b"]); y = np.array([0, 0, 1, 0])
>>> balance_weights(s, y).tolist()
[0.75, 0.75, 1.5, 1.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def strata(header: pd.DataFrame) -> pd.Series:
    """``dll|subsystem|pe32plus`` per row from header fields (or the model's feature table)."""
    n = len(header)
    chars = header["Characteristics"] if "Characteristics" in header else None
    if chars is not None:
        dll = ((chars.fillna(0).astype("int64") & 0x2000) != 0).astype(int).astype(str)
    elif "char_dll" in header:
        dll = header["char_dll"].fillna(0).astype(int).astype(str)
    else:
        dll = pd.Series(["?"] * n, index=header.index)
    sub = header["Subsystem"].map(lambda v: "gui" if v == 2 else "cui" if v == 3 else "other") if "Subsystem" in header \
        else pd.Series(["?"] * n, index=header.index)
    plus = (header["Magic"] == 0x20B).astype(int).astype(str) if "Magic" in header else pd.Series(["?"] * n, index=header.index)
    return (dll + "|" + sub + "|" + plus).reset_index(drop=True)


def balance_weights(groups: pd.Series, y: np.ndarray, cap: float = 20.0) -> np.ndarray:
    """Per row, a weight giving each class half of its stratum's mass (capped at ``cap``).

    A stratum holding one class only keeps weight 1: nothing can balance it.
    """
    y = np.asarray(y)
    w = np.ones(len(y))
    g = pd.Series(np.asarray(groups)).reset_index(drop=True)
    for _, idx in g.groupby(g).groups.items():
        idx = np.asarray(idx)
        n = len(idx)
        for c in (0, 1):
            members = idx[y[idx] == c]
            if 0 < len(members) < n:
                w[members] = min(cap, (n / 2) / len(members))
    return w


def weighted_detection_rate(y: np.ndarray, score: np.ndarray, w: np.ndarray, fpr: float = 0.01) -> float:
    """Weighted share of malware above the threshold that lets ``fpr`` of the benign weight through."""
    y = np.asarray(y).astype(bool)
    neg, wn = score[~y], w[~y]
    order = np.argsort(-neg)
    cum = np.cumsum(wn[order]) / wn.sum()
    k = int(np.searchsorted(cum, fpr, side="right"))
    thr = neg[order][min(k, len(neg) - 1)]
    return float((w[y] * (score[y] > thr)).sum() / w[y].sum())


def shifted_report(y: np.ndarray, score: np.ndarray, groups: pd.Series) -> dict:
    """ROC-AUC and detection at 1% FPR with the strata mix equalised between classes."""
    w = balance_weights(groups, y, cap=np.inf)
    return {"shifted_roc_auc": round(float(roc_auc_score(y, score, sample_weight=w)), 6),
            "shifted_detection_rate_at_fpr_1pct": round(weighted_detection_rate(y, score, w, 0.01), 6)}
