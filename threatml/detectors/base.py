"""The detector contract: batches in, findings out, bounded state in between.

The same object serves a one-shot scan (feed every batch, then ``flush``), a
long-running stream (feed batches as they arrive; findings come out when an
incident closes) and a distributed partition (one detector per partition of
entities). State must stay bounded: per-entity windows are pruned as time moves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from threatml.events import EventBatch
from threatml.findings import Finding


class Detector(ABC):
    #: short stable name used in findings, e.g. ``network.portscan``
    name: ClassVar[str]
    version: ClassVar[str] = "1"
    #: event kinds this detector consumes; other batches are not given to it
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    @abstractmethod
    def process(self, batch: EventBatch) -> list[Finding]:
        """Consume one batch; return findings whose incidents are complete."""

    def flush(self) -> list[Finding]:
        """End of input: return findings still open. Default: none."""
        return []
