"""The unit that flows through ThreatML: a typed, columnar batch of one event kind."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from threatml.events.schema import SCHEMAS, conform


@dataclass
class EventBatch:
    """A DataFrame of events of one ``kind`` read from ``source``.

    >>> import pandas as pd
    >>> b = EventBatch.of("flow", pd.DataFrame({"source.ip": ["10.0.0.1"]}), source="x.log")
    >>> b.kind, len(b), b.frame["destination.ip"].tolist()
    ('flow', 1, [''])
    """

    kind: str
    frame: pd.DataFrame
    source: str = ""
    meta: dict = field(default_factory=dict)

    @classmethod
    def of(cls, kind: str, frame: pd.DataFrame, source: str = "", **meta) -> "EventBatch":
        if kind not in SCHEMAS:
            raise ValueError(f"unknown event kind {kind!r}; known: {sorted(SCHEMAS)}")
        return cls(kind=kind, frame=conform(kind, frame), source=source, meta=meta)

    def __len__(self) -> int:
        return len(self.frame)
