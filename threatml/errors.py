"""Errors and the account of what a run skipped: bad input is named, never a traceback."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class ThreatMLError(Exception):
    """Base for errors that the CLI prints as one clear line (no traceback)."""


class InputError(ThreatMLError):
    """A file cannot be read: says which file, where, and why."""

    def __init__(self, path: str, reason: str, where: str | None = None):
        self.path, self.reason, self.where = str(path), reason, where
        loc = f"{self.path}:{where}" if where else self.path
        super().__init__(f"{loc}: {reason}")


@dataclass
class ReadReport:
    """What a scan read and what it skipped, per file and reason.

    Readers call :meth:`skip` for every record they drop, so nothing is lost
    silently; the scan summary prints these counts.

    >>> r = ReadReport()
    >>> r.skip("conn.log", "line 7: 3 fields, expected 21")
    >>> r.skipped_total()
    1
    """

    records: Counter = field(default_factory=Counter)  # path -> records read
    skipped: Counter = field(default_factory=Counter)  # (path, reason) -> count
    examples: dict = field(default_factory=dict)  # (path, reason) -> first location
    notes: Counter = field(default_factory=Counter)  # (path, reason) -> records kept but flawed
    errors: list = field(default_factory=list)  # (path, message) for whole files
    formats: dict = field(default_factory=dict)  # path -> detected format

    def read(self, path: str, n: int) -> None:
        self.records[str(path)] += n

    def skip(self, path: str, reason: str, where: str | None = None, n: int = 1) -> None:
        key = (str(path), reason)
        self.skipped[key] += n
        if where is not None:
            self.examples.setdefault(key, where)

    def note(self, path: str, reason: str, where: str | None = None, n: int = 1) -> None:
        """Count records that were kept but lost a value (e.g. an unparseable timestamp)."""
        key = (str(path), reason)
        self.notes[key] += n
        if where is not None:
            self.examples.setdefault(key, where)

    def error(self, path: str, message: str) -> None:
        self.errors.append((str(path), message))

    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def merge(self, other: "ReadReport") -> None:
        self.records.update(other.records)
        self.skipped.update(other.skipped)
        self.notes.update(other.notes)
        for k, v in other.examples.items():
            self.examples.setdefault(k, v)
        self.errors.extend(other.errors)
        self.formats.update(other.formats)

    def as_dict(self) -> dict:
        return {
            "files_read": len(self.records),
            "records": int(sum(self.records.values())),
            "skipped": [
                {"file": p, "reason": r, "count": c, "first_at": self.examples.get((p, r))}
                for (p, r), c in self.skipped.items()
            ],
            "notes": [
                {"file": p, "reason": r, "count": c, "first_at": self.examples.get((p, r))}
                for (p, r), c in self.notes.items()
            ],
            "errors": [{"file": p, "error": m} for p, m in self.errors],
            "formats": dict(self.formats),
        }
