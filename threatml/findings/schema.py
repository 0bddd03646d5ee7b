"""One findings schema for every detector, and the severity scale it uses."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

#: evidence ids kept per finding; ``evidence_count`` keeps the full number
MAX_EVIDENCE = 100


def severity_from_score(score: float) -> Severity:
    """Map a calibrated score in [0, 1] to the severity scale.

    >>> severity_from_score(0.95), severity_from_score(0.5)
    ('critical', 'medium')
    """
    if score >= 0.9:
        return "critical"
    if score >= 0.7:
        return "high"
    if score >= 0.4:
        return "medium"
    if score >= 0.1:
        return "low"
    return "info"


class Finding(BaseModel):
    """Something a detector thinks an analyst should see.

    ``entity`` is who or what it is about (a host address, user, mailbox, file
    hash); ``evidence`` are ``event.id`` values of the events behind it;
    ``explanation`` is a list of sentences an analyst reads, most important first.
    """

    detector: str
    detector_version: str
    title: str
    start: float = Field(description="first event time, epoch seconds")
    end: float = Field(description="last event time, epoch seconds")
    entity_type: Literal["host", "user", "mailbox", "file", "domain", "url", "session", "account"] = "host"
    entity: str
    score: float = Field(ge=0.0, le=1.0)
    severity: Severity
    attack: list[str] = Field(default_factory=list, description="MITRE ATT&CK technique ids, e.g. T1046")
    evidence: list[str] = Field(default_factory=list)
    evidence_count: int = 0
    explanation: list[str] = Field(default_factory=list)
    related: dict[str, list[str]] = Field(default_factory=dict, description="other entities, e.g. targets")
    source_files: list[str] = Field(default_factory=list)
    attributes: dict[str, float | int | str] = Field(default_factory=dict)

    @property
    def id(self) -> str:
        key = f"{self.detector}|{self.entity}|{self.title}|{self.start:.6f}"
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    @classmethod
    def make(cls, *, evidence: list[str] | None = None, score: float, **kw) -> "Finding":
        """Build a finding, capping the evidence list and deriving severity if absent."""
        ev = list(evidence or [])
        kw.setdefault("severity", severity_from_score(score))
        kw.setdefault("evidence_count", len(ev))
        return cls(evidence=ev[:MAX_EVIDENCE], score=float(min(1.0, max(0.0, score))), **kw)
