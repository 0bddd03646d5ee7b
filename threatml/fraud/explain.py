"""LightGBM contributions of the fraud model as sentences, each with the row's value.

>>> describe("vel.count_1h", 14.0, {})
'transactions by this entity in the last 1h = 14'
>>> describe("channel", 1.0, {"channel": ["shop", "web"]})
'channel = web'
>>> describe("amount", float("nan"), {})
'amount missing'
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from threatml.fraud.model import ANOMALY, FraudModel
from threatml.fraud.velocity import FEATURE_WORDS

_WORDS = {**FEATURE_WORDS, ANOMALY: "isolation-forest anomaly score"}


def _num(v: float) -> str:
    if abs(v - round(v)) < 1e-9 and abs(v) < 1e15:
        return f"{int(round(v)):,}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def describe(feature: str, value: float, categories: dict[str, list[str]]) -> str:
    """``feature = value`` in words (category names, not codes)."""
    name = _WORDS.get(feature, feature.strip())
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{name} missing" if feature not in categories else f"{name} unseen or missing"
    if feature in categories:
        cats = categories[feature]
        i = int(value)
        return f"{name} = {cats[i] if 0 <= i < len(cats) else '?'}"
    return f"{name} = {_num(float(value))}"


def explain_rows(model: FraudModel, F: pd.DataFrame, rows: np.ndarray, top: int = 3) -> list[list[str]]:
    """For each row index in ``rows``, the ``top`` features that pushed its score up most."""
    if len(rows) == 0:
        return []
    sub = F.iloc[rows]
    contrib = model.contributions(sub)[:, :-1]  # last column is the bias
    vals = sub[model.features_].to_numpy(dtype="float64")
    out = []
    for r in range(len(rows)):
        order = np.argsort(-contrib[r])[:top]
        out.append([f"{describe(model.features_[j], vals[r, j], model.roles_.categorical)} "
                    f"(+{contrib[r, j]:.2f} log-odds)" for j in order if contrib[r, j] > 0])
    return out
