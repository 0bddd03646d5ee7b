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


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading, transparently gunzipping ``.gz`` files."""
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def read_head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    with open_binary(path) as fh:
        try:
            return fh.read(n)
        except (OSError, EOFError) as exc:
            raise InputError(path, f"cannot read the start of the file: {exc}") from None


def text_lines(path: Path) -> Iterator[str]:
    """Decode a file line by line, replacing invalid UTF-8 rather than failing."""
    with open_binary(path) as fh:
        yield from io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
