"""New-template alarm: events whose template was never (or almost never) seen in training.

>>> m = NewTemplateAlarm(min_count=2).fit([[1, 1, 2], [1, 2]])
>>> m.score_samples([[1, 2], [1, 7, 7]]).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from threatml.logs.models._io import read_json, write_json

FILE = "newtemplate.json"


class NewTemplateAlarm:
    def __init__(self, min_count: int = 1):
        self.min_count = min_count

    def fit(self, sequences: Iterable[Sequence[int]]) -> "NewTemplateAlarm":
        self.counts_ = Counter(int(e) for s in sequences for e in s)
        self.threshold_ = 0.5
        return self

    def unusual(self, seq: Sequence[int]) -> list[tuple[int, int]]:
        """(position, template id) of events whose template is new or rarer than ``min_count``."""
        return [(i, int(e)) for i, e in enumerate(seq) if self.counts_.get(int(e), 0) < self.min_count]

    def score_samples(self, sequences: Iterable[Sequence[int]]) -> np.ndarray:
        return np.asarray([len(self.unusual(s)) for s in sequences], dtype="float64")

    def score_counts(self, counts: Iterable[dict[int, int]]) -> np.ndarray:
        """:meth:`score_samples` from per-session template counts.

        >>> m = NewTemplateAlarm(min_count=2).fit([[1, 1, 2], [1, 2]])
        >>> m.score_counts([{1: 1, 2: 1}, {1: 1, 7: 2}]).tolist()
        [0.0, 2.0]
        """
        return np.asarray([sum(k for e, k in c.items() if self.counts_.get(int(e), 0) < self.min_count)
                           for c in counts], dtype="float64")

    def predict(self, sequences: Iterable[Sequence[int]]) -> np.ndarray:
        return (self.score_samples(sequences) > self.threshold_).astype(int)

    def save(self, folder: str | Path) -> Path:
        return write_json(folder, FILE, {"model": "new-template", "min_count": self.min_count,
                                         "counts": [[k, v] for k, v in sorted(self.counts_.items())]})

    @classmethod
    def load(cls, folder: str | Path) -> "NewTemplateAlarm":
        d = read_json(folder, FILE, "new-template")
        m = cls(d["min_count"])
        m.counts_ = Counter({int(k): int(v) for k, v in d["counts"]})
        m.threshold_ = 0.5
        return m
