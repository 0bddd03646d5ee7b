"""Executables and archives (PE, ELF, zip) -> ``file`` events, one per file or archive member.

Sniffed by magic bytes only: ``MZ`` with ``PE\\0\\0`` at ``e_lfanew`` (when the
sniffed head reaches it), ``\\x7fELF``, or a zip local header ``PK\\x03\\x04``
(OOXML, JAR and APK are zips too). Everything else is left to other readers.

Each file is read up to :data:`~threatml.files.limits.MAX_ANALYSIS_BYTES`
(features and YARA look at that prefix; the report notes the cut) and hashed
whole up to :data:`~threatml.files.limits.MAX_HASH_BYTES` (larger files get
no hashes, noted). Zip archives yield an event for the archive and one per
member, ``archive.zip!dir/member.exe`` (nested: ``a.zip!b.zip!c.exe``),
within limits on depth, member count, member size, total size and
compression ratio; every member left out is counted in the report with the
reason (encrypted, too large, bomb-like ratio, corrupt, too deep). Nothing is
ever written to disk.

>>> import pathlib, tempfile, zipfile
>>> from threatml.errors import ReadReport
>>> d = pathlib.Path(tempfile.mkdtemp()); p = d / "a.zip"
>>> with zipfile.ZipFile(p, "w") as z: z.writestr("x/readme.txt", "hello")
>>> [b.frame["file.path"].str.replace(str(d), "").tolist() for b in FileReader().read(p, ReadReport())]
[['/a.zip'], ['/a.zip!x/readme.txt']]
"""

from __future__ import annotations

import io

import zipfile
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.files import limits
from threatml.files.analyze import analyze_bytes
from threatml.files.hashing import file_hashes, stream_hashes
from threatml.files.pe_header import HEADER_FIELDS
from threatml.files.sniff import is_executable_or_archive
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary

#: rows per batch (each row may hold up to MAX_ANALYSIS_BYTES of content)
ROWS_PER_BATCH = 64
BYTES_PER_BATCH = 256 * 1024 * 1024


class FileReader(Reader):
    name = "files"
    kinds = ("file",)

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return is_executable_or_archive(head)

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        try:
            st = path.stat()
        except OSError as exc:
            raise InputError(path, f"cannot stat: {exc.strerror or exc}") from None
        fh = open_binary(path, report)
        try:
            data = _read_capped(fh, limits.MAX_ANALYSIS_BYTES, path)
            notes, size = [], float(len(data))
            if len(data) > limits.MAX_ANALYSIS_BYTES:
                report.note(str(path), f"only the first {limits.MAX_ANALYSIS_BYTES >> 20} MB analysed (features, YARA)")
                notes.append(f"only the first {limits.MAX_ANALYSIS_BYTES >> 20} MB analysed")
                # a plain file's size is known; a gzip stream's only by reading it, within the limit
                hashes, n = ({}, st.st_size) if st.st_size > limits.MAX_HASH_BYTES else \
                    stream_hashes(fh, first=data, limit=limits.MAX_HASH_BYTES)
                size = float(n)
                if not hashes:
                    report.note(str(path), f"not hashed: larger than {limits.MAX_HASH_BYTES >> 20} MB")
                    notes.append("not hashed (too large)")
                data = data[: limits.MAX_ANALYSIS_BYTES]
            else:
                hashes = file_hashes(data)
        except OSError as exc:
            raise InputError(path, f"read failed: {exc.strerror or exc}") from None
        finally:
            fh.close()
        if not data:
            raise InputError(path, "empty file")
        rows = [analyze_bytes(data, str(path), hashes=hashes, size=size, notes=notes)]
        rows[0]["@timestamp"] = float(st.st_mtime)
        if rows[0]["file.type"] in ("zip", "office") and data[:2] == b"PK":
            budget = [limits.MAX_ARCHIVE_TOTAL]
            # an archive larger than the analysed prefix is opened from disk (its directory is at the end)
            whole = size <= len(data) or _is_gzip(path)
            members = _zip_members(io.BytesIO(data) if whole else path, str(path), 1, report, budget)
            rows[0]["file.content"] = b""  # members are scanned one by one; the archive's own bytes are compressed
            yield from _batches([rows[0]], path)
            yield from _batches(members, path)
            return
        yield from _batches(rows, path)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _read_capped(fh, cap: int, path: Path) -> bytes:
    """Up to ``cap + 1`` bytes, so the caller knows whether the file is longer than ``cap``."""
    out = bytearray()
    while len(out) <= cap:
        chunk = fh.read(min(1 << 20, cap + 1 - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


_PE_COLUMNS = [f"pe.{k}" for k in HEADER_FIELDS]
_ELF_FLOATS = ["elf.type", "elf.machine", "elf.entry", "elf.sections"]


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Rows -> DataFrame; the ~60 numeric header columns go in as one block (per-column
    construction would dominate the cost of a one-file batch)."""
    nan = float("nan")
    floats = [*_PE_COLUMNS, *_ELF_FLOATS, "file.size", "@timestamp"]
    block = pd.DataFrame(np.array([[r.get(c, nan) for c in floats] for r in rows], dtype="float64"), columns=floats)
    others = {c: [r.get(c, "") for r in rows] for c in ("event.id", "event.dataset", "file.path", "file.type",
                                                       "file.hash.md5", "file.hash.sha1", "file.hash.sha256",
                                                       "file.pe.imphash", "file.notes", "elf.class", "label",
                                                       "label.detail")}
    objs = {c: pd.Series([r.get(c) for r in rows], dtype=object) for c in ("file.rich", "file.content")}
    out = pd.concat([block, pd.DataFrame(others, dtype="str"), pd.DataFrame(objs)], axis=1)
    # the header block once more as one matrix: detectors read 50 columns per one-file batch,
    # and per-column pandas access would cost more than scoring (a cache: absent after
    # operations that drop attrs, and then rebuilt from the columns)
    out.attrs["pe.matrix"] = block[_PE_COLUMNS].to_numpy()
    return out


def _batches(rows, path: Path) -> Iterator[EventBatch]:
    buf, size = [], 0
    for row in rows:
        row.setdefault("event.dataset", "file")
        buf.append(row)
        size += len(row.get("file.content") or b"")
        if len(buf) >= ROWS_PER_BATCH or size >= BYTES_PER_BATCH:
            yield EventBatch.of("file", _frame(buf), source=str(path))
            buf, size = [], 0
    if buf:
        yield EventBatch.of("file", _frame(buf), source=str(path))


def _zip_members(fobj, name: str, depth: int, report: ReadReport, budget: list[int]) -> Iterator[dict]:
    """Rows for the members of the zip in ``fobj`` (a generator: one member in memory at a time)."""
    try:
        zf = zipfile.ZipFile(fobj)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        report.skip(name, f"archive not opened: {exc}")
        return
    with zf:
        yield from _members(zf, infos, name, depth, report, budget)


def _members(zf: zipfile.ZipFile, infos: list, name: str, depth: int, report: ReadReport,
             budget: list[int]) -> Iterator[dict]:
    if len(infos) > limits.MAX_ARCHIVE_MEMBERS:
        report.skip(name, f"archive members beyond the first {limits.MAX_ARCHIVE_MEMBERS} not read",
                    n=len(infos) - limits.MAX_ARCHIVE_MEMBERS)
        infos = infos[: limits.MAX_ARCHIVE_MEMBERS]
    for info in infos:
        if info.is_dir():
            continue
        member = f"{name}!{info.filename}"
        reason = None
        ratio = info.file_size / max(1, info.compress_size)
        if info.flag_bits & 0x1:
            reason = "encrypted archive member"
        elif info.file_size > limits.MAX_MEMBER_BYTES:
            reason = f"archive member larger than {limits.MAX_MEMBER_BYTES >> 20} MB uncompressed"
        elif ratio > limits.MAX_RATIO and info.file_size > 1 << 20:
            reason = f"compression ratio {ratio:.0f}:1 (zip bomb?)"
        elif info.file_size > budget[0]:
            reason = f"archive total beyond {limits.MAX_ARCHIVE_TOTAL >> 20} MB uncompressed"
        if reason:
            report.skip(name, reason, where=info.filename)
            continue
        try:
            with zf.open(info) as m:
                data = m.read(limits.MAX_MEMBER_BYTES + 1)  # never trust the declared size
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
            report.skip(name, f"archive member unreadable: {exc}", where=info.filename)
            continue
        if len(data) > limits.MAX_MEMBER_BYTES:
            report.skip(name, f"archive member larger than {limits.MAX_MEMBER_BYTES >> 20} MB uncompressed "
                              "(declared size was smaller)", where=info.filename)
            continue
        budget[0] -= len(data)
        row = analyze_bytes(data, member)
        row["event.dataset"] = "file.archive"
        ts = _zip_time(info)
        row["@timestamp"] = ts
        if row["file.type"] in ("zip", "office") and data[:2] == b"PK":
            if depth >= limits.MAX_ARCHIVE_DEPTH:
                report.skip(name, f"nested archive deeper than {limits.MAX_ARCHIVE_DEPTH} levels not opened",
                            where=info.filename)
                yield row
                continue
            row["file.content"] = b""
            yield row
            yield from _zip_members(io.BytesIO(data), member, depth + 1, report, budget)
            continue
        yield row
        if not data:
            report.note(name, "empty archive member", where=info.filename)


def _zip_time(info: zipfile.ZipInfo) -> float:
    import calendar

    try:
        y, mo, d, h, mi, s = info.date_time
        return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
    except (ValueError, OverflowError):
        return float("nan")


__all__ = ["FileReader"]
