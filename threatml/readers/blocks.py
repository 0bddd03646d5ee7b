"""Helpers shared by the line-oriented readers (Zeek, Suricata): blocks of whole
lines, UTF-8 repair, and Arrow conversions that never raise on bad values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.errors import ReadReport

#: bytes of log text parsed at once: large enough for pyarrow's threads to pay
#: off, small enough to keep memory bounded (a few times this per block).
CHUNK_BYTES = 8 * 1024 * 1024


def line_chunks(fh: BinaryIO, chunk_bytes: int | None = None) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines from ``fh`` with the 1-based number of their first line."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    line_no = 1
    while True:
        data = fh.read(chunk_bytes)
        if not data:
            return
        if not data.endswith(b"\n"):
            tail = fh.readline()  # finish the cut line (one copy of the block, not two)
            data = data + tail if tail.endswith(b"\n") else data + tail + b"\n"
        yield data, line_no
        line_no += data.count(b"\n")


def as_utf8(block: bytes) -> bytes:
    """``block`` unchanged when it is valid UTF-8, else with bad bytes replaced by U+FFFD."""
    if block.isascii():
        return block
    try:
        block.decode("utf-8")
        return block
    except UnicodeDecodeError:
        return block.decode("utf-8", errors="replace").encode("utf-8")


def line_of(block: bytes, first_line: int, text: str | bytes) -> int | None:
    """Line number of the first occurrence of ``text`` in ``block`` (None if not found)."""
    needle = text.encode("utf-8", errors="replace") if isinstance(text, str) else text
    pos = block.find(needle) if needle else -1
    return None if pos < 0 else first_line + block.count(b"\n", 0, pos)


def text_to_float(col) -> pa.Array:
    """Strings -> float64; anything that is not a number becomes NaN."""
    try:
        return pc.cast(col, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        num = pd.to_numeric(pd.Series(pc.cast(col, pa.string()).to_pandas(), dtype="object"), errors="coerce")
        return pa.array(num.to_numpy(dtype="float64"), type=pa.float64())


def iso_to_epoch(col) -> pa.Array:
    """ISO-8601 strings (any offset) -> float seconds since the epoch; bad values -> NaN.

    pyarrow's own parser first (fast, handles ``+0200``, ``+02:00`` and ``Z``);
    pandas for whatever it refuses (no offset, nanoseconds, odd spellings).
    """
    try:
        us = pc.cast(pc.cast(col, pa.string()), pa.timestamp("us", tz="UTC"))
        return pc.divide(pc.cast(pc.cast(us, pa.int64()), pa.float64()), 1e6)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    s = pd.Series(pc.cast(col, pa.string()).to_pandas(), dtype="str")
    ts = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
    ns = ts.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
    ns[ts.isna().to_numpy()] = np.nan
    return pa.array(ns / 1e9, type=pa.float64())


def concat(tables: list[pa.Table]) -> pa.Table:
    """Concatenate tables whose columns may differ; a column whose type differs becomes text."""
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        seen: dict[str, set] = {}
        for t in tables:
            for f in t.schema:
                seen.setdefault(f.name, set()).add(f.type)
        odd = {k for k, v in seen.items() if len(v - {pa.null()}) > 1}
        fixed = []
        for t in tables:
            for k in odd & set(t.column_names):
                i = t.column_names.index(k)
                t = t.set_column(i, k, pc.cast(t.column(k), pa.string()))
            fixed.append(t)
        return pa.concat_tables(fixed, promote_options="default")


def json_objects(block: bytes, first_line: int, path: Path, report: ReadReport) -> list[tuple[bytes, dict]]:
    """Each line of ``block`` that is a JSON object, with its text; other lines are
    skipped and counted (with the first one's line number) as ``not a JSON object``."""
    out: list[tuple[bytes, dict]] = []
    bad_first: int | None = None
    nbad = 0
    for i, line in enumerate(block.split(b"\n")):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict):
            nbad += 1
            bad_first = bad_first or first_line + i
            continue
        out.append((line, rec))
    if nbad:
        report.skip(str(path), "not a JSON object", where=f"line {bad_first}", n=nbad)
    return out
