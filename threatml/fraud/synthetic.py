"""Synthetic card transactions with planted fraud, for tests, demos and the benchmark.

Cards spend a few times a day at their usual merchant categories with
log-normal amounts. A compromised card, from some moment on, makes a burst of
purchases minutes apart, at larger amounts, often online and abroad. Only the
burst rows are labelled fraud, so a model has to use the card's recent history
(velocity) as well as the row itself.

>>> f = generate_transactions(cards=50, days=10, seed=1)
>>> sorted(f.columns)[:4], bool(0 < f["is_fraud"].mean() < 0.2)
(['amount', 'card_id', 'category', 'channel'], True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ("grocery", "fuel", "restaurant", "online", "travel", "electronics", "pharmacy", "clothing")


def generate_transactions(cards: int = 500, days: int = 30, fraud_share: float = 0.05, seed: int = 0,
                          start: str = "2024-03-01") -> pd.DataFrame:
    """Columns: ``tx_id, card_id, timestamp (ISO), amount, category, country, channel, is_fraud``."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz="UTC").timestamp()
    per_day = rng.gamma(2.0, 1.5, cards) + 0.3
    n_tx = rng.poisson(per_day * days)
    card = np.repeat(np.arange(cards), n_tx)
    n = len(card)
    # daytime purchases: hour ~ N(14, 4) clipped to the day
    day = rng.integers(0, days, n)
    hour = np.clip(rng.normal(14, 4, n), 0, 23.99)
    ts = t0 + day * 86400 + hour * 3600
    scale = rng.lognormal(3.0, 0.6, cards)
    amount = np.round(rng.lognormal(0, 0.7, n) * scale[card], 2)
    fav = rng.integers(0, len(CATEGORIES), (cards, 3))
    cat = np.asarray(CATEGORIES)[fav[card, rng.integers(0, 3, n)]]
    home = np.where(rng.random(cards) < 0.8, "US", "CA")
    country = home[card].astype(object)
    channel = np.where(cat == "online", "web", np.where(rng.random(n) < 0.1, "web", "pos")).astype(object)
    label = np.zeros(n, dtype=int)
    frames = [pd.DataFrame({"card_id": card, "ts": ts, "amount": amount, "category": cat, "country": country,
                            "channel": channel, "is_fraud": label})]
    # fraud bursts on a share of cards
    bad = rng.choice(cards, size=max(1, int(cards * fraud_share)), replace=False)
    for c in bad:
        k = int(rng.integers(4, 12))
        start_t = t0 + rng.uniform(2, days - 1) * 86400
        bt = start_t + np.cumsum(rng.exponential(240, k))  # minutes apart
        frames.append(pd.DataFrame({
            "card_id": c, "ts": bt,
            "amount": np.round(rng.lognormal(0.8, 0.5, k) * scale[c], 2),
            "category": rng.choice(["electronics", "online", "travel"], k),
            "country": rng.choice(["US", "NG", "RO", "BR", "CN"], k, p=[0.4, 0.15, 0.15, 0.15, 0.15]),
            "channel": rng.choice(["web", "pos"], k, p=[0.7, 0.3]),
            "is_fraud": 1,
        }))
    f = pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
    f.insert(0, "tx_id", np.arange(len(f)) + 1)
    f["card_id"] = "card" + f["card_id"].astype(str).str.zfill(5)
    f["timestamp"] = pd.to_datetime(f.pop("ts"), unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    return f[["tx_id", "card_id", "timestamp", "amount", "category", "country", "channel", "is_fraud"]]
