"""Next-template model in the DeepLog style, as an n-gram with back-off (no neural network).

From normal sessions it learns, for every context of up to ``n - 1`` previous
template ids, how often each template came next. Scoring walks a session: the
longest context seen at least ``min_count`` times predicts the ``top_k`` most
likely next templates; an event outside them is flagged (as DeepLog flags an
event outside its top-k predictions). Contexts are capped at ``max_contexts``
(the most frequent kept), so memory and the saved JSON stay bounded.

>>> m = NextEventModel(n=3, top_k=1).fit([[1, 2, 3, 4]] * 20)
>>> m.flag([1, 2, 3, 4]), [f[0] for f in m.flag([1, 2, 4, 3])]
([], [2, 3])
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from threatml.logs.models._io import read_json, write_json

FILE = "ngram.json"
START = -1


class NextEventModel:
    def __init__(self, n: int = 3, top_k: int = 6, min_count: int = 2, max_contexts: int = 200_000):
        self.n, self.top_k, self.min_count, self.max_contexts = n, top_k, min_count, max_contexts

    def fit(self, sequences: Iterable[Sequence[int]]) -> "NextEventModel":
        table: dict[tuple, Counter] = defaultdict(Counter)
        known: set[int] = set()
        for seq in sequences:
            padded = [START] * (self.n - 1) + [int(e) for e in seq]
            known.update(padded[self.n - 1:])
            for t in range(self.n - 1, len(padded)):
                nxt = padded[t]
                for L in range(0, self.n):
                    table[tuple(padded[t - L:t])][nxt] += 1
        if len(table) > self.max_contexts:
            keep = sorted(table, key=lambda c: -sum(table[c].values()))[: self.max_contexts]
            table = {c: table[c] for c in keep}
        self._set(table, known)
        self.threshold_ = 0.5
        return self

    def _set(self, table: dict, known: set[int]) -> None:
        self.known_ = known
        self.table_ = {c: (sum(cnt.values()), {e for e, _ in cnt.most_common(self.top_k)}) for c, cnt in table.items()}
        self.raw_ = table

    def _predicted(self, ctx: list[int]) -> tuple[set[int] | None, int]:
        for L in range(len(ctx), -1, -1):
            got = self.table_.get(tuple(ctx[len(ctx) - L:]))
            if got is not None and got[0] >= self.min_count:
                return got[1], L
        return None, 0

    def flag(self, seq: Sequence[int]) -> list[tuple[int, int, str]]:
        """(position, template id, reason) of every event the model did not expect."""
        padded = [START] * (self.n - 1) + [int(e) for e in seq]
        out = []
        for t in range(self.n - 1, len(padded)):
            e = padded[t]
            if e not in self.known_:
                out.append((t - self.n + 1, e, "template never seen in training"))
                continue
            top, L = self._predicted(padded[t - self.n + 1:t])
            if top is not None and e not in top:
                why = "unseen transition" if self.raw_.get(tuple(padded[t - L:t]), Counter()).get(e, 0) == 0 \
                    else f"next event outside the top {self.top_k} predicted"
                out.append((t - self.n + 1, e, why))
        return out

    def score_samples(self, sequences: Iterable[Sequence[int]]) -> np.ndarray:
        """Flagged events per session, plus their share (so longer bad runs rank higher)."""
        out = []
        for s in sequences:
            k = len(self.flag(s))
            out.append(k + k / max(len(s), 1))
        return np.asarray(out, dtype="float64")

    def predict(self, sequences: Iterable[Sequence[int]]) -> np.ndarray:
        return (self.score_samples(sequences) > self.threshold_).astype(int)

    def save(self, folder: str | Path) -> Path:
        return write_json(folder, FILE, {
            "model": "next-event-ngram", "n": self.n, "top_k": self.top_k, "min_count": self.min_count,
            "max_contexts": self.max_contexts, "known": sorted(self.known_),
            "table": [[list(c), [[int(e), int(k)] for e, k in cnt.items()]] for c, cnt in self.raw_.items()]})

    @classmethod
    def load(cls, folder: str | Path) -> "NextEventModel":
        d = read_json(folder, FILE, "next-event-ngram")
        m = cls(d["n"], d["top_k"], d["min_count"], d["max_contexts"])
        table = {tuple(c): Counter({int(e): int(k) for e, k in nxt}) for c, nxt in d["table"]}
        m._set(table, {int(x) for x in d["known"]})
        m.threshold_ = 0.5
        return m
