"""Robust anomaly scores of daily activity vectors against the user's own history and the peers'.

For every feature (on a ``log1p`` scale, so counts and bytes compare), a day's
value is turned into two robust z-scores: against the median and MAD of the
same user's active days, and against the median and MAD of the peer group's
user-days (everyone, or the groups given). Only rises count (doing less is not
a threat signal here). The two are blended (``self_weight``), users with too
little history lean on their peers only, and where the usual day has none of a
feature, the rarity of any such day (``-log10`` of the smoothed share of days
with some) is added, so a first-ever drive or computer counts even at a count
of one. A day's score is the sum of its ``top`` strongest feature-family scores, so a day that breaks several habits at once
(night logon + drive + upload) outranks a day that breaks one a lot.

>>> import numpy as np, pandas as pd
>>> idx = pd.MultiIndex.from_product([["ann", "bob"], range(30)], names=["user", "day"])
>>> t = pd.DataFrame({"device_connect": 0.0, "logon": 2.0}, index=idx)
>>> t.loc[("ann", 29), "device_connect"] = 5
>>> s = score_days(t)
>>> s.day_score.idxmax(), round(float(s.day_score.max()), 1)
(('ann', 29), 5.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAD_TO_SD = 1.4826


@dataclass
class DayScores:
    day_score: pd.Series  # (user, day) -> score
    feature_score: pd.DataFrame  # (user, day) x feature -> blended z
    self_median: pd.DataFrame  # user x feature (raw units)
    peer_median: pd.DataFrame  # peer group x feature (raw units)
    peer_of: pd.Series  # user -> peer group


def _robust(x: pd.DataFrame, by) -> tuple[pd.DataFrame, pd.DataFrame]:
    g = x.groupby(by)
    med = g.median()
    mad = (x - med.reindex(by).set_axis(x.index)).abs().groupby(by).median()
    return med, mad


def _rarity(x: pd.DataFrame, by, med: pd.DataFrame) -> pd.DataFrame:
    """-log10 of the smoothed share of days with any of the feature, on days that have some
    and for baselines whose median day has none (0 elsewhere)."""
    nz = (x > 0).groupby(by)
    p = (nz.sum() + 0.5) / (nz.size().to_numpy()[:, None] + 1.0)
    bonus = -np.log10(p.reindex(by).to_numpy())
    zero_med = med.reindex(by).to_numpy() <= 0
    return pd.DataFrame(np.where((x.to_numpy() > 0) & zero_med, bonus, 0.0), index=x.index, columns=x.columns)


def score_days(table: pd.DataFrame, peers: pd.Series | None = None, self_weight: float = 0.6,
               min_history: int = 10, floor: float = 0.5, cap: float = 8.0, top: int = 3,
               families: dict[str, tuple[str, ...]] | None = None) -> DayScores:
    """Score every (user, day) row of ``table`` (features as columns, raw counts).

    ``peers`` maps user -> peer group (default: one group of everybody).
    ``families`` groups features that rise together; the day score sums the
    ``top`` families' strongest members (default: every feature alone).
    ``floor`` is the smallest spread on the log1p scale, so a user who never
    did something needs about e**(2*floor)-1 = 1.7 such events for z = 2.
    """
    users = table.index.get_level_values("user")
    peer_of = (peers.reindex(pd.Index(users.unique())).fillna("all") if peers is not None
               else pd.Series("all", index=pd.Index(users.unique())))
    x = np.log1p(table.clip(lower=0).astype("float64"))
    med_u, mad_u = _robust(x, users)
    group = peer_of.reindex(users).to_numpy()
    med_p, mad_p = _robust(x, group)
    su = np.maximum(MAD_TO_SD * mad_u, floor)
    sp = np.maximum(MAD_TO_SD * mad_p, floor)
    z_self = (x - med_u.reindex(users).to_numpy()) / su.reindex(users).to_numpy()
    z_peer = (x - med_p.reindex(group).to_numpy()) / sp.reindex(group).to_numpy()
    # rare habits: where the usual day has none of it, also count how seldom any happened at all
    z_self = (z_self + _rarity(x, users, med_u)).clip(0, cap)
    z_peer = (z_peer + _rarity(x, group, med_p)).clip(0, cap)
    days = x.groupby(users).size()
    w = np.where(days.reindex(users).to_numpy() >= min_history, self_weight, 0.0)[:, None]
    blended = w * z_self + (1 - w) * z_peer
    fam = families or {c: (c,) for c in blended.columns}
    per_family = np.column_stack([blended[[c for c in cols if c in blended.columns]].max(axis=1).to_numpy()
                                  for cols in fam.values() if any(c in blended.columns for c in cols)])
    arr = np.sort(per_family, axis=1)[:, ::-1][:, :top]
    day_score = pd.Series(arr.sum(axis=1), index=table.index)
    raw_self = table.groupby(users).median()
    raw_peer = table.groupby(group).median()
    return DayScores(day_score, blended, raw_self, raw_peer, peer_of)


def periods(days: np.ndarray, gap: int = 3) -> list[list[int]]:
    """Split sorted day numbers into runs whose neighbours are at most ``gap`` days apart.

    >>> periods(np.array([1, 2, 5, 9, 20]))
    [[1, 2, 5], [9], [20]]
    """
    out: list[list[int]] = []
    for d in np.sort(days).tolist():
        if out and d - out[-1][-1] <= gap:
            out[-1].append(d)
        else:
            out.append([d])
    return out
