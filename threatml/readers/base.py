"""The reader contract: sniff a file's format from its first bytes, then stream batches.

A reader is a class with a ``name``, a ``sniff`` classmethod and a ``read``
generator. ``read`` yields :class:`EventBatch` objects of at most
``batch_size`` rows, so memory stays bounded whatever the file size, and
reports every record it drops to the :class:`ReadReport` it is given.
Unreadable files raise :class:`InputError` naming the file and place.
"""

from __future__ import annotations

import gzip
import io
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO, ClassVar, Iterator

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch

DEFAULT_BATCH_SIZE = 200_000
SNIFF_BYTES = 64 * 1024


class Reader(ABC):
    name: ClassVar[str]
    #: event kinds this reader can yield
    kinds: ClassVar[tuple[str, ...]]

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        """True when ``head`` (the first bytes, decompressed) looks like this format."""

    @abstractmethod
    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        """Yield batches of events from ``path``."""


class _LenientGzip(gzip.GzipFile):
    """A gzip stream that ends where a cut file ends, reporting it, instead of raising.

    A truncated ``.gz`` (a copy that stopped, a log still being written) would
    otherwise lose every record read so far in the current batch.
    """

    def __init__(self, fileobj, path: Path, report: ReadReport):
        super().__init__(fileobj=fileobj)
        self._path, self._report = path, report
        self._cut = self._reported = False

    def _truncated(self) -> None:
        self._cut = True
        if not self._reported:  # a reader may rewind and meet the cut again
            self._reported = True
            self._report.skip(str(self._path), "truncated gzip stream: the rest of the file is missing",
                              where=f"after {self.tell():,} decompressed bytes")

    def seek(self, offset: int, whence: int = 0) -> int:
        self._cut = False
        return super().seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while not self._cut and (size is None or size < 0 or len(out) < size):
            try:
                chunk = super().read1(1 << 16 if size is None or size < 0 else min(1 << 16, size - len(out)))
            except EOFError:
                self._truncated()
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def readline(self, size: int = -1) -> bytes:
        if self._cut:
            return b""
        try:
            return super().readline(size)
        except EOFError:
            self._truncated()
            return b""


def open_binary(path: Path, report: ReadReport | None = None) -> BinaryIO:
    """Open a file for reading, transparently gunzipping ``.gz`` files.

    With a ``report``, a truncated gzip stream ends early and is counted there
    (the records before the cut are kept); without one, it raises EOFError.
    """
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        if report is not None:
            return _LenientGzip(raw, path, report)  # type: ignore[return-value]
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def read_head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    """The first ``n`` bytes (decompressed); a truncated gzip gives what it has."""
    out = bytearray()
    with open_binary(path) as fh:
        try:
            while len(out) < n:
                chunk = fh.read(min(4096, n - len(out)))
                if not chunk:
                    break
                out += chunk
        except (OSError, EOFError) as exc:
            if not out:
                raise InputError(path, f"cannot read the start of the file: {exc}") from None
    return bytes(out)


def text_lines(path: Path) -> Iterator[str]:
    """Decode a file line by line, replacing invalid UTF-8 rather than failing."""
    with open_binary(path) as fh:
        yield from io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
