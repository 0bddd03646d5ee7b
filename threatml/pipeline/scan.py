"""The scan pipeline: files -> readers -> event batches -> detectors -> findings.

Formats are detected per file from content, so one folder may mix pcaps, Zeek
and Suricata logs and flow exports. A file that cannot be read is reported in
the summary with its reason and the scan goes on with the rest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from threatml.detectors.base import Detector
from threatml.errors import InputError, ReadReport, ThreatMLError
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.readers import detect
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader

#: progress callback: (bytes of finished files, records so far, current file)
Progress = Callable[[int, int, str], None]

_SKIP_NAMES = {"card.json", "ground_truth.json", "README.md", "LICENSE"}


def iter_files(paths: Iterable[str | Path], report: ReadReport) -> Iterator[Path]:
    """Every regular file under ``paths`` (recursing into folders), hidden ones left out."""
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and name not in _SKIP_NAMES:
                        yield Path(root) / name
        elif p.is_file():
            yield p
        else:
            report.error(str(p), "no such file or folder")


@dataclass
class ScanResult:
    findings: list[Finding]
    report: ReadReport
    elapsed: float
    detector_counts: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        d = self.report.as_dict()
        d["elapsed_s"] = round(self.elapsed, 3)
        d["records_per_s"] = round(d["records"] / self.elapsed, 1) if self.elapsed > 0 else None
        d["findings"] = len(self.findings)
        d["findings_by_detector"] = dict(sorted(self.detector_counts.items()))
        d["events_by_kind"] = dict(sorted(self.kinds.items()))
        return d


class Scanner:
    """Runs detectors over the batches read from files.

    ``readers`` maps a reader name to a ready instance to use instead of a
    default one (e.g. a ``PcapReader(engine="nfstream")``).
    """

    def __init__(
        self,
        detectors: list[Detector],
        batch_size: int = DEFAULT_BATCH_SIZE,
        readers: dict[str, Reader] | None = None,
    ):
        self.detectors = detectors
        self.batch_size = batch_size
        self.readers = dict(readers or {})
        self.report = ReadReport()
        self.kinds: dict[str, int] = {}
        self._findings: list[Finding] = []

    def feed(self, batch: EventBatch) -> list[Finding]:
        """Give one batch to every detector that consumes its kind."""
        self.kinds[batch.kind] = self.kinds.get(batch.kind, 0) + len(batch)
        out: list[Finding] = []
        for det in self.detectors:
            if batch.kind in det.kinds:
                out.extend(det.process(batch))
        self._findings.extend(out)
        return out

    def read_file(self, path: Path) -> Iterator[EventBatch]:
        """Batches from one file; unreadable files are recorded in the report."""
        try:
            cls = detect(path)
        except InputError as exc:
            self.report.error(str(path), exc.reason)
            return
        if cls is None:
            self.report.error(str(path), "unrecognised format (not a supported log, flow export or capture)")
            return
        self.report.formats[str(path)] = cls.name
        reader = self.readers.get(cls.name) or cls()
        try:
            for batch in reader.read(path, self.report, batch_size=self.batch_size):
                self.report.read(str(path), len(batch))
                yield batch
        except InputError as exc:
            self.report.error(str(path), f"{exc.where + ': ' if exc.where else ''}{exc.reason}")
        except (OSError, EOFError) as exc:
            self.report.error(str(path), f"read failed: {exc}")

    def scan(self, paths: Iterable[str | Path], progress: Progress | None = None) -> ScanResult:
        t0 = time.perf_counter()
        done_bytes = 0
        for f in iter_files(paths, self.report):
            for batch in self.read_file(f):
                self.feed(batch)
                if progress:
                    progress(done_bytes, sum(self.report.records.values()), str(f))
            try:
                done_bytes += f.stat().st_size
            except OSError:
                pass
            if progress:
                progress(done_bytes, sum(self.report.records.values()), str(f))
        for det in self.detectors:
            self._findings.extend(det.flush())
        counts: dict[str, int] = {}
        for fd in self._findings:
            counts[fd.detector] = counts.get(fd.detector, 0) + 1
        return ScanResult(
            findings=self._findings,
            report=self.report,
            elapsed=time.perf_counter() - t0,
            detector_counts=counts,
            kinds=dict(self.kinds),
        )


def total_bytes(paths: Iterable[str | Path]) -> int:
    n = 0
    for f in iter_files(paths, ReadReport()):
        try:
            n += f.stat().st_size
        except OSError:
            pass
    return n


def require_paths(paths: list[str]) -> None:
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise ThreatMLError(f"no such file or folder: {', '.join(missing)}")
