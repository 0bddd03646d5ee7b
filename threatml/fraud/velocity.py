"""Per-entity velocity features: how many transactions, and how much, in the last hour, day and week.

Every window ends at the transaction itself and looks only backwards, so a
row's features never depend on later rows (no leakage from the future). The
computation is one sort plus ``searchsorted`` and cumulative sums over the
whole table: no per-row Python.

>>> import pandas as pd
>>> f = pd.DataFrame({"card": ["a", "a", "b", "a"], "t": [0, 600, 700, 7200], "amt": [10.0, 5.0, 1.0, 2.0]})
>>> v = velocity_features(f["card"], parse_times(f["t"]), f["amt"])
>>> v["vel.count_1h"].tolist(), v["vel.amount_sum_1d"].tolist()
([1.0, 2.0, 1.0, 1.0], [10.0, 15.0, 1.0, 17.0])
>>> v["vel.seconds_since_prev"].tolist()[:2]
[nan, 600.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOWS: dict[str, int] = {"1h": 3600, "1d": 86400, "7d": 7 * 86400}

#: feature name -> words for explanations
FEATURE_WORDS: dict[str, str] = {
    **{f"vel.count_{w}": f"transactions by this entity in the last {w}" for w in WINDOWS},
    **{f"vel.amount_sum_{w}": f"amount spent by this entity in the last {w}" for w in WINDOWS},
    "vel.amount_to_7d_mean": "amount relative to this entity's mean over the last 7d",
    "vel.seconds_since_prev": "seconds since this entity's previous transaction",
    "time.hour": "hour of day (UTC)",
    "time.weekday": "day of week (0 = Monday)",
}


def parse_times(col: pd.Series) -> np.ndarray:
    """Seconds (float) from epoch numbers or date strings; NaN when unreadable.

    >>> parse_times(pd.Series(["2020-01-01 00:00:10", "x", 5])).tolist()
    [1577836810.0, nan, 5.0]
    """
    num = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan).copy()
    rest = np.isnan(num) & col.notna().to_numpy()
    if rest.any():
        dt = pd.to_datetime(col[rest].astype("str"), errors="coerce", utc=True, format="mixed")
        secs = (dt - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
        num[rest] = secs
    return num


def velocity_features(entity: pd.Series, seconds: np.ndarray, amount: pd.Series | None = None) -> pd.DataFrame:
    """Backward-looking window counts and amount sums per entity, in the input's row order.

    Rows without a time get NaN features (they cannot be placed in a window).
    """
    n = len(entity)
    t = np.asarray(seconds, dtype="float64")
    amt = (pd.to_numeric(amount, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
           if amount is not None else np.ones(n))
    amt0 = np.where(np.isnan(amt), 0.0, amt)
    ok = ~np.isnan(t)
    codes = pd.factorize(entity.astype("str"))[0].astype("int64")
    # stable sort by (entity, time): ties keep file order, so an equal-time later row is not "past"
    order = np.lexsort((np.arange(n), np.where(ok, t, 0.0), codes))
    order = order[ok[order]]
    ts, cs, am = t[order], codes[order], amt0[order]
    t0 = ts.min() if len(ts) else 0.0
    span = (ts.max() - t0 if len(ts) else 0.0) + max(WINDOWS.values()) + 1.0
    key = cs.astype("float64") * span + (ts - t0)  # one sorted key: entity blocks in time order
    csum = np.concatenate([[0.0], np.cumsum(am)])
    idx = np.arange(len(order))
    out: dict[str, np.ndarray] = {}
    for w, secs in WINDOWS.items():
        start = np.searchsorted(key, key - secs, side="right")
        cnt = (idx - start + 1).astype("float64")
        tot = csum[idx + 1] - csum[start]
        out[f"vel.count_{w}"], out[f"vel.amount_sum_{w}"] = cnt, tot
        if w == "7d" and amount is not None:
            mean = tot / cnt
            out["vel.amount_to_7d_mean"] = np.where(mean > 0, am / np.where(mean > 0, mean, 1.0), np.nan)
    prev = np.full(len(order), np.nan)
    same = np.r_[False, cs[1:] == cs[:-1]]
    prev[same] = (ts[1:] - ts[:-1])[same[1:]]
    out["vel.seconds_since_prev"] = prev
    frame = {}
    for name, vals in out.items():
        full = np.full(n, np.nan)
        full[order] = vals
        frame[name] = full
    if amount is None:
        frame = {k: v for k, v in frame.items() if "amount" not in k}
    hours = np.where(ok, np.floor((t % 86400) / 3600), np.nan)
    weekday = np.where(ok, np.floor(t / 86400 + 3) % 7, np.nan)  # 1970-01-01 was a Thursday (3)
    frame["time.hour"], frame["time.weekday"] = hours, weekday
    return pd.DataFrame(frame, index=entity.index)
