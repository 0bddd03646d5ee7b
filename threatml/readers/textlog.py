"""System and application text logs -> ``log`` events (the most permissive reader, tried last).

Recognised line layouts (detected per line, so interleaved formats work; the
layout that matched the previous block is tried first):

* ``syslog.5424``  ``<34>1 2003-10-11T22:14:15.003Z host app 123 ID47 [sd] msg``
* ``syslog.3164``  ``<34>Oct 11 22:14:15 host app[123]: msg`` (PRI optional; the
  year is not written, the current UTC year is assumed)
* ``journald``     ``journalctl -o json`` lines (MESSAGE, __REALTIME_TIMESTAMP, ...)
* ``hdfs``         ``081109 203615 148 INFO dfs.DataNode$PacketResponder: msg``
* ``bgl``          ``- 1117838570 2005.06.03 R02-M1-N0 ... RAS KERNEL INFO msg``
  (a first token other than ``-`` is an alert category: label ``malicious``);
  ``thunderbird`` the same convention before a syslog line
* ``app.short``    ``17/06/09 20:10:40 INFO component: msg`` (Spark, log4j short)
* ``windows.text`` CBS-like ``2016-09-28 04:30:30, Info   CBS   msg``
* ``app``          lines starting with an ISO date-time, an optional level word
* ``bracketed``    ``[Sun Dec 04 04:47:44 2005] [error] msg`` (Apache error log)
* ``text``         anything else: the whole line is the message, no timestamp

Bad input is counted in the read report, never raised: binary lines (NUL or
many control bytes) are skipped, lines longer than ``max_line`` bytes are cut
(the rest discarded while reading, so memory stays bounded), bytes that are
not UTF-8 are decoded as Latin-1 (noted), and timestamps that do not parse
become NaN (noted). Session CSVs with an ``EventSequence`` column are
recognised but not scanned: they feed ``threatml train/evaluate log``.

>>> import pathlib, tempfile
>>> from threatml.errors import ReadReport
>>> p = pathlib.Path(tempfile.mkdtemp()) / "messages"
>>> _ = p.write_text("<13>Oct 11 22:14:15 web01 sshd[42]: Accepted password for bob\\n")
>>> b = next(TextLogReader().read(p, ReadReport()))
>>> b.frame[["event.dataset", "host.name", "process.name", "message"]].values.tolist()
[['syslog.3164', 'web01', 'sshd', 'Accepted password for bob']]
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.errors import ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary
from threatml.readers.journal import journal_message, journal_program

MAX_LINE = 64 * 1024
BLOCK_BYTES = 8 * 1024 * 1024
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_LEVELS = r"TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|SEVERE|ALERT|EMERG"
_JOURNAL_PRIORITY = {"0": "EMERG", "1": "ALERT", "2": "CRIT", "3": "ERR", "4": "WARNING", "5": "NOTICE",
                     "6": "INFO", "7": "DEBUG"}

#: name -> (regex with named groups ts, host, proc, pid, level, msg; timestamp format or "iso"/"epoch")
LAYOUTS: dict[str, tuple[re.Pattern, str]] = {
    "syslog.5424": (re.compile(
        r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<proc>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
        r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$"), "iso"),
    "syslog.3164": (re.compile(
        r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<host>\S+) "
        r"(?P<proc>[^\s:\[]+)(?:\[(?P<pid>[^\]]*)\])?: ?(?P<msg>.*)$"), "3164"),
    "hdfs": (re.compile(
        r"^(?P<ts>\d{6} \d{6}) (?P<pid>\d+) (?P<level>[A-Z]+) (?P<proc>[^\s:]+): (?P<msg>.*)$"), "%y%m%d %H%M%S"),
    "bgl": (re.compile(
        r"^(?P<alert>\S+) (?P<ts>\d{9,10}) \d{4}\.\d\d\.\d\d (?P<host>\S+) \d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d\.\d+ "
        r"\S+ (?P<type>[A-Z]+) (?P<proc>\S+) (?P<level>[A-Z]+) (?P<msg>.*)$"), "epoch"),
    "thunderbird": (re.compile(
        r"^(?P<alert>\S+) (?P<ts>\d{9,10}) \d{4}\.\d\d\.\d\d (?P<host>\S+) [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \S+ "
        r"(?P<proc>[^\s:\[]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"), "epoch"),
    "app.short": (re.compile(
        r"^(?P<ts>\d\d/\d\d/\d\d \d\d:\d\d:\d\d) (?P<level>[A-Z]+) (?P<proc>[^\s:]+): (?P<msg>.*)$"), "%y/%m/%d %H:%M:%S"),
    "windows.text": (re.compile(
        r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d), (?P<level>\w+)\s+(?P<proc>\S+)\s+(?P<msg>.*)$"), "%Y-%m-%d %H:%M:%S"),
    "app": (re.compile(
        r"^(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)[\s,\-|]*"
        rf"(?:\[?(?P<level>{_LEVELS})\]?\b)?[\s:\-|]*(?P<msg>.*)$", re.IGNORECASE), "iso"),
    "bracketed": (re.compile(
        r"^\[(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] "
        r"\[(?P<level>[\w:]+)\] (?P<msg>.*)$"), "%a %b %d %H:%M:%S %Y"),
}


class TextLogReader(Reader):
    name = "textlog"
    kinds = ("log",)

    def __init__(self, max_line: int = MAX_LINE, year: int | None = None, block_bytes: int = BLOCK_BYTES):
        self.max_line, self.block_bytes = max_line, max(1, block_bytes)
        self.year = year or datetime.now(timezone.utc).year

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        """Text that nobody else took: most lines printable, or a first line in a known layout.

        A text log with a stretch of binary near its start is still taken (the
        binary lines are skipped and counted when read); a binary file is not.
        """
        lines = [ln for ln in head[:16384].split(b"\n")[:200] if ln.strip()]
        if head[16384:] and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut by the sniff window
        if not lines:
            return False
        texty = [b"\x00" not in ln and len(_CONTROL.findall(ln)) <= 0.05 * len(ln) for ln in lines]
        if sum(texty) >= 0.8 * len(lines):
            return True
        if not texty[0]:
            return False
        first = lines[0].decode("utf-8", "replace").rstrip("\r")
        return any(rx.match(first) for rx, _ in LAYOUTS.values() if rx.pattern.startswith(("^(?P<ts>", "^<", "^\\[")))

    # ---- reading -----------------------------------------------------------
    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        src = str(path)
        order = list(LAYOUTS)
        first = True
        with open_binary(path, report) as fh:
            for lines, first_no in self._blocks(fh, src, report, min(batch_size, 100_000)):
                if first:
                    first = False
                    head = lines[0].as_py() if len(lines) else None
                    if head and "EventSequence" in head and "," in head:
                        report.skip(src, "session CSV (EventSequence column): use `threatml train log` / "
                                         "`evaluate log` for it, not scan", where="line 1")
                        return
                frame, order = self._parse(lines, first_no, src, report, order)
                if len(frame):  # the caller counts records read (the scan does)
                    yield EventBatch.of("log", frame, source=src)

    def _blocks(self, fh: BinaryIO, src: str, report: ReadReport, n: int) -> Iterator[tuple[pa.Array, int]]:
        """Lines as Arrow strings in batches of ``n`` (the last may be shorter), with their first line number.

        Dropped lines (binary) are nulls, so line numbers stay right. Only
        whole lines go into a block: the tail after the last newline waits for
        the next read, and a tail longer than ``max_line`` is cut, noted, and
        the rest of that line discarded while reading (bounded memory).
        """
        carry = b""
        skipping = False  # inside an over-long line whose head was kept and whose tail is discarded
        line_no = start = 1
        pending: list[pa.Array] = []
        held = 0

        def ready(final: bool) -> Iterator[tuple[pa.Array, int]]:
            nonlocal pending, held, start
            if not pending or (held < n and not final):
                return
            allx = pending[0] if len(pending) == 1 else pa.concat_arrays(pending)
            lo = 0
            while held - lo >= n or (final and lo < held):
                piece = allx.slice(lo, n)
                yield piece, start
                start += len(piece)
                lo += len(piece)
            pending = [allx.slice(lo)] if lo < held else []
            held -= lo

        first = True
        while True:
            data = fh.read(self.block_bytes)
            if not data:
                break
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is not part of the first line
                    data = data[3:]
            if skipping:
                cut = data.find(b"\n")
                if cut < 0:
                    continue
                data, skipping = data[cut + 1:], False
            elif carry:
                data = carry + data
            end = data.rfind(b"\n")
            carry = data[end + 1:]
            if end >= 0:
                arr = self._decode_block(data[: end + 1] if carry else data, line_no, src, report)
                pending.append(arr)
                held += len(arr)
                line_no += len(arr)
            if len(carry) > self.max_line:
                arr = pa.array([self._cut(carry, src, report, line_no)], type=pa.large_string())
                pending.append(arr)
                held += 1
                line_no += 1
                carry, skipping = b"", True
            yield from ready(False)
        if carry and not skipping:
            pending.append(self._decode_block(carry + b"\n", line_no, src, report))
            held += len(pending[-1])
        yield from ready(True)

    def _decode_block(self, body: bytes, line_no: int, src: str, report: ReadReport) -> pa.Array:
        """The lines of ``body`` (whole lines, each ending in a newline) as one Arrow array.

        Clean text (the usual case: no line too long, no control bytes, valid
        UTF-8) is cut at the newlines with numpy and handed to Arrow without a
        Python string per line; anything else goes line by line through
        :meth:`_decode`, which counts and explains what it drops or changes.
        """
        buf = np.frombuffer(body, dtype=np.uint8)
        nl = np.flatnonzero(buf == 10)
        starts = np.empty(len(nl), dtype=np.int64)
        starts[:1] = 0
        starts[1:] = nl[:-1] + 1
        if len(nl) and int((nl - starts).max()) <= self.max_line and not _CONTROL.search(body):
            keep = buf != 10
            ends = nl - np.arange(len(nl))  # line ends once the newlines are gone
            if b"\r\n" in body:  # CRLF: drop the CR before each newline too
                cr = (nl > starts) & (buf[np.maximum(nl - 1, 0)] == 13)
                keep[nl[cr] - 1] = False
                ends -= np.cumsum(cr)
            offsets = np.concatenate([[0], ends]).astype(np.int64)
            arr = pa.LargeStringArray.from_buffers(len(nl), pa.py_buffer(offsets), pa.py_buffer(buf[keep].tobytes()))
            if body.isascii():
                return arr
            try:
                arr.validate(full=True)  # UTF-8 check in C
                return arr
            except pa.ArrowInvalid:
                pass
        out = []
        for k, (a, b) in enumerate(zip(starts.tolist(), nl.tolist())):
            out.append(self._decode(body[a:b], src, report, line_no + k))
        return pa.array(out, type=pa.large_string())

    def _cut(self, raw: bytes, src: str, report: ReadReport, line_no: int) -> str | None:
        report.note(src, f"line longer than {self.max_line:,} bytes: cut", where=f"line {line_no}")
        return self._decode(raw[: self.max_line], src, report, line_no, checked_len=True)

    def _decode(self, raw: bytes, src: str, report: ReadReport, line_no: int, checked_len: bool = False) -> str | None:
        if not checked_len and len(raw) > self.max_line:
            return self._cut(raw, src, report, line_no)
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.isascii() or _CONTROL.search(raw):
            bad = len(_CONTROL.findall(raw))
            if b"\x00" in raw or bad > max(2, 0.05 * len(raw)):
                report.skip(src, "binary data (NUL or control bytes), not a text log line", where=f"line {line_no}")
                return None
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                report.note(src, "line is not UTF-8: decoded as Latin-1", where=f"line {line_no}")
                return raw.decode("latin-1")
        return raw.decode("ascii")

    # ---- parsing -----------------------------------------------------------
    def _parse(self, lines: pa.Array, first_no: int, src: str, report: ReadReport,
               order: list[str]) -> tuple[pd.DataFrame, list[str]]:
        """One block of lines -> the ``log`` frame, layouts matched with Arrow's RE2 over the whole block."""
        nums = np.arange(first_no, first_no + len(lines))
        blank = pc.or_kleene(pc.equal(pc.binary_length(lines), 0), pc.utf8_is_space(lines))
        keep = pc.invert(pc.fill_null(blank, True)).to_numpy(zero_copy_only=False)
        if not keep.all():
            lines, nums = lines.filter(pa.array(keep)), nums[keep]
        n = len(lines)
        ts = np.full(n, np.nan)
        todo = np.ones(n, dtype=bool)
        pieces: list[tuple[np.ndarray, str, dict[str, pa.Array]]] = []
        json_rows = pc.starts_with(lines, "{").to_numpy(zero_copy_only=False) if n else np.zeros(0, dtype=bool)
        if json_rows.any():
            pieces.append(self._journald(lines, json_rows, ts, todo, nums, src, report))
        counts: dict[str, int] = {}
        for name in order:
            if not todo.any():
                break
            idx = np.flatnonzero(todo)
            rx, tsfmt = LAYOUTS[name]
            sub = lines if len(idx) == n else lines.take(pa.array(idx))
            got = _extract(sub, rx)
            hit = got.is_valid().to_numpy(zero_copy_only=False)
            if not hit.any():
                continue
            if not hit.all():
                got = got.filter(pa.array(hit))
            rows = idx[hit]
            fields = {k: pc.struct_field(got, [j]) for j, k in enumerate(rx.groupindex)}
            pieces.append((rows, name, fields))
            ts[rows] = self._times(fields["ts"], tsfmt)
            todo[rows] = False
            counts[name] = len(rows)
        if todo.any():  # plain text: the line is the message
            rows = np.flatnonzero(todo)
            pieces.append((rows, "text", {"msg": lines if len(rows) == n else lines.take(pa.array(rows))}))
        cols = _assemble(pieces, n)
        parsed_ts = ~todo
        datasets = cols.pop("dataset")
        bad_ts = parsed_ts & np.isnan(ts)
        if bad_ts.any():
            bad_ts &= (datasets != "journald")
        if bad_ts.any():
            report.note(src, "timestamp not understood: kept the line without a time", n=int(bad_ts.sum()),
                        where=f"line {int(nums[np.argmax(bad_ts)])}")
        if todo.any():
            report.note(src, "line in no known layout: whole line kept as the message, no timestamp",
                        n=int(todo.sum()), where=f"line {int(nums[np.argmax(todo)])}")
        alert = cols["alert"]
        labelled = pa.array(np.isin(datasets, ("bgl", "thunderbird")))
        malicious = pc.and_(labelled, pc.not_equal(alert, "-"))
        label = pc.if_else(labelled, pc.if_else(malicious, "malicious", "benign"), "").cast(pa.large_string())
        detail = pc.if_else(malicious, alert, "").cast(pa.large_string())
        pid = cols["pid"]
        pid = pc.cast(pc.if_else(pc.match_substring_regex(pid, r"^-?\d{1,15}$"), pid, None), pa.float64())
        eid = pc.binary_join_element_wise(pa.scalar(f"{src}:", pa.large_string()),
                                          pc.cast(pa.array(nums), pa.large_string()), pa.scalar("", pa.large_string()))
        frame = pd.DataFrame({
            "event.id": eid.to_pandas(),
            "event.dataset": pa.array(datasets, type=pa.large_string()).to_pandas() if n else pd.Series([], dtype="str"),
            "@timestamp": ts,
            "host.name": cols["host"].to_pandas(),
            "process.name": cols["proc"].to_pandas(),
            "process.pid": pid.to_numpy(zero_copy_only=False).astype("float64"),
            "log.level": cols["level"].to_pandas(),
            "message": cols["msg"].to_pandas(),
            "label": label.to_pandas(),
            "label.detail": detail.to_pandas(),
            "log.line": nums.astype("float64"),
        })
        new_order = sorted(order, key=lambda k: -counts.get(k, 0))
        return frame, new_order

    def _times(self, s: pa.Array, fmt: str) -> np.ndarray:
        """Epoch seconds of each time string; each distinct string is parsed once (logs repeat the second)."""
        enc = pc.dictionary_encode(pc.fill_null(s, ""))
        idx = enc.indices.to_numpy(zero_copy_only=False)
        return self._times_of(pd.Series(enc.dictionary.to_pylist(), dtype="object"), fmt)[idx]

    def _times_of(self, s: pd.Series, fmt: str) -> np.ndarray:
        if fmt == "epoch":
            return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
        if fmt == "iso":
            dt = pd.to_datetime(s.str.replace(",", ".", regex=False), utc=True, format="ISO8601", errors="coerce")
        elif fmt == "3164":
            dt = pd.to_datetime(str(self.year) + " " + s.str.replace("  ", " 0", regex=False),
                                format="%Y %b %d %H:%M:%S", utc=True, errors="coerce")
        else:
            dt = pd.to_datetime(s, format=fmt, utc=True, errors="coerce")
        return _epoch(dt)

    def _journald(self, lines: pa.Array, rows: np.ndarray, ts: np.ndarray, todo: np.ndarray,
                  nums: np.ndarray, src: str, report: ReadReport) -> tuple[np.ndarray, str, dict[str, pa.Array]]:
        got: dict[str, list[str]] = {k: [] for k in ("msg", "host", "proc", "pid", "level")}
        done = []
        for i in np.flatnonzero(rows):
            try:
                rec = json.loads(lines[int(i)].as_py())
            except ValueError:
                continue  # a "{" line that is not JSON is plain text
            if not isinstance(rec, dict) or "MESSAGE" not in rec:
                continue
            got["msg"].append(journal_message(rec))
            got["host"].append(str(rec.get("_HOSTNAME", "")))
            got["proc"].append(journal_program(rec))
            got["pid"].append(str(rec.get("_PID", "")))
            got["level"].append(_JOURNAL_PRIORITY.get(str(rec.get("PRIORITY", "")), ""))
            try:
                ts[i] = int(rec.get("__REALTIME_TIMESTAMP")) / 1e6
            except (TypeError, ValueError):
                report.note(src, "journald record without a usable __REALTIME_TIMESTAMP", where=f"line {nums[i]}")
            todo[i] = False
            done.append(i)
        return np.asarray(done, dtype=np.int64), "journald", {k: pa.array(v, type=pa.large_string())
                                                               for k, v in got.items()}


_COLUMNS = ("host", "proc", "pid", "level", "msg", "alert")


def _assemble(pieces: list[tuple[np.ndarray, str, dict[str, pa.Array]]], n: int) -> dict:
    """Full-length columns from the per-layout pieces (rows, layout name, fields): one piece covering
    every row is used as is, several are concatenated and put back in line order with one take."""
    pieces = [p for p in pieces if len(p[0])]
    names = np.empty(n, dtype=object)
    for rows, name, _ in pieces:
        names[rows] = name
    out: dict = {"dataset": names}

    def field(fields: dict, k: str, size: int) -> pa.Array:
        a = fields.get(k)
        if a is None:
            return pc.fill_null(pa.nulls(size, pa.large_string()), "")
        return a.cast(pa.large_string()) if a.type != pa.large_string() else a

    if len(pieces) == 1 and len(pieces[0][0]) == n:
        out.update({k: field(pieces[0][2], k, n) for k in _COLUMNS})
        return out
    order = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, dtype=np.int64)
    back = pa.array(np.argsort(order, kind="stable"))
    for k in _COLUMNS:
        parts = [field(f, k, len(rows)) for rows, _, f in pieces]
        out[k] = (pa.concat_arrays(parts) if parts else pa.array([], type=pa.large_string())).take(back)
    return out


def _extract(arr: pa.Array, rx: re.Pattern) -> pa.StructArray:
    """Named groups of ``rx`` per string (null where it does not match), with Arrow's RE2 engine in C++."""
    pattern = ("(?i)" if rx.flags & re.IGNORECASE else "") + rx.pattern
    got = pc.extract_regex(arr, pattern=pattern)
    return got.combine_chunks() if isinstance(got, pa.ChunkedArray) else got


def _epoch(dt: pd.Series) -> np.ndarray:
    out = dt.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64") / 1e9
    out[pd.isna(dt).to_numpy()] = np.nan
    return out
