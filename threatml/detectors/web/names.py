"""Which names and URLs of dns/tls/http events get scored, and a bounded score cache.

Local and infrastructure names are never DGA or phishing evidence: single
labels (``wpad``), ``.local``/``.lan``/``.internal``/``.home.arpa``, reverse
look-ups (``in-addr.arpa``), IP literals and names with no public suffix.

>>> import pandas as pd
>>> fr = pd.DataFrame({"dns.question.name": ["www.Example.com.", "wpad", "4.3.2.1.in-addr.arpa", "10.0.0.1"]})
>>> names_of(fr, "dns").tolist()
['www.example.com', '', '', '']
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd

_LOCAL_RE = (r"(?:^[^.]*$)|(?:\.(?:local|lan|internal|intranet|corp|home|localdomain|arpa|test|invalid|example|"
             r"onion|localhost)$)|(?:^[\d.]+$)|(?::)")


def names_of(frame: pd.DataFrame, kind: str) -> pd.Series:
    """Lower-case host name per event (``""`` when there is none worth scoring)."""
    col = {"dns": "dns.question.name", "tls": "tls.client.server_name", "http": "url.domain"}[kind]
    if col not in frame.columns:
        return pd.Series([""] * len(frame), dtype="str")
    s = frame[col].fillna("").astype("str").str.strip().str.lower().str.rstrip(".")
    if kind == "http":
        s = s.str.replace(r":\d+$", "", regex=True)
    bad = s.str.contains(_LOCAL_RE, regex=True) | (s.str.len() > 253)
    return s.where(~bad, "")


class ScoreCache:
    """Bounded memo of item -> score, so repeated names cost one model call per scan."""

    def __init__(self, max_items: int = 200_000):
        self.max_items = max_items
        self._d: OrderedDict[str, float] = OrderedDict()

    def scores(self, items: np.ndarray, score_fn) -> np.ndarray:
        """Score of each item, calling ``score_fn(list)`` on the ones not yet seen."""
        codes, uniq = pd.factorize(pd.Series(items, dtype="object"))
        missing = [u for u in uniq if u not in self._d]
        if missing:
            for u, s in zip(missing, score_fn(missing)):
                self._d[u] = float(s)
            while len(self._d) > self.max_items:
                self._d.popitem(last=False)
        # items just scored are present; older ones might have been evicted if the batch is huge
        vals = np.array([self._d[u] if u in self._d else np.nan for u in uniq])
        if np.isnan(vals).any():
            idx = np.flatnonzero(np.isnan(vals))
            vals[idx] = score_fn([uniq[i] for i in idx])
        return vals[codes] if len(codes) else np.zeros(0)
