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

MAX_LINE = 64 * 1024
BLOCK_BYTES = 4 * 1024 * 1024
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

    def __init__(self, max_line: int = MAX_LINE, year: int | None = None):
        self.max_line = max_line
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
                    if lines and "EventSequence" in lines[0] and "," in lines[0]:
                        report.skip(src, "session CSV (EventSequence column): use `threatml train log` / "
                                         "`evaluate log` for it, not scan", where="line 1")
                        return
                frame, order = self._parse(lines, first_no, src, report, order)
                if len(frame):  # the caller counts records read (the scan does)
                    yield EventBatch.of("log", frame, source=src)

    def _blocks(self, fh: BinaryIO, src: str, report: ReadReport, n: int) -> Iterator[tuple[list[str], int]]:
        """Decoded lines in blocks of at most ``n``, with bad lines counted and dropped.

        Each kept line is returned as text; binary lines become ``None`` so line
        numbers stay right.
        """
        carry = b""
        skipping = False  # inside an over-long line whose head was kept and whose tail is discarded
        line_no = start = 1
        out: list[str | None] = []

        def emit(raw: bytes) -> None:
            nonlocal line_no
            out.append(self._decode(raw, src, report, line_no))
            line_no += 1

        while True:
            data = fh.read(BLOCK_BYTES)
            if not data:
                break
            parts = data.split(b"\n")
            if skipping:
                if len(parts) == 1:
                    continue
                parts, skipping = parts[1:], False
            else:
                parts[0] = carry + parts[0]
            carry = parts.pop()
            for lo in range(0, len(parts), n):
                piece = parts[lo:lo + n]
                fast = self._fast_decode(piece)
                if fast is not None:  # the usual case: clean text, decoded in one call
                    out.extend(fast)
                    line_no += len(fast)
                else:
                    for raw in piece:
                        emit(raw)
                if len(out) >= n:
                    yield out, start
                    out, start = [], line_no
            if len(carry) > self.max_line:
                emit(carry)  # cut and noted by _decode
                carry, skipping = b"", True
        if carry and not skipping:
            emit(carry)
        if out:
            yield out, start

    def _fast_decode(self, parts: list[bytes]) -> list[str] | None:
        """All lines at once when none is too long, binary, or not UTF-8 (else None: go line by line)."""
        if not parts or max(map(len, parts)) > self.max_line:
            return None
        blob = b"\n".join(parts)
        if _CONTROL.search(blob):
            return None
        try:
            text = blob.decode("utf-8")
        except UnicodeDecodeError:
            return None
        lines = text.split("\n")
        if "\r" in text:
            lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        return lines

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
    def _parse(self, lines: list[str | None], first_no: int, src: str, report: ReadReport,
               order: list[str]) -> tuple[pd.DataFrame, list[str]]:
        nums = np.arange(first_no, first_no + len(lines))
        allx = pd.Series(lines, dtype="object")
        keep = (allx.notna() & (allx.fillna("").str.strip() != "")).to_numpy()
        text = allx[keep].astype("str").reset_index(drop=True)
        nums = nums[keep]
        n = len(text)
        cols = {c: np.full(n, "", dtype=object) for c in ("host", "proc", "pid", "level", "msg", "dataset", "alert")}
        ts = np.full(n, np.nan)
        todo = np.ones(n, dtype=bool)
        json_rows = text.str.startswith("{").to_numpy() if n else np.zeros(0, dtype=bool)
        if json_rows.any():
            self._journald(text, json_rows, cols, ts, todo, nums, src, report)
        counts: dict[str, int] = {}
        text_arr = pa.array(text.tolist(), type=pa.string())
        for name in order:
            if not todo.any():
                break
            idx = np.flatnonzero(todo)
            rx, tsfmt = LAYOUTS[name]
            got = _extract(text_arr if len(idx) == n else text_arr.take(pa.array(idx)), rx)
            hit = got["msg"].notna().to_numpy() | got["ts"].notna().to_numpy()
            if not hit.any():
                continue
            rows = idx[hit]
            g = got[hit]
            for c in ("host", "proc", "pid", "level", "msg", "alert"):
                if c in g:
                    cols[c][rows] = g[c].fillna("").to_numpy(dtype=object)
            cols["dataset"][rows] = name
            ts[rows] = self._times(g["ts"], tsfmt)
            todo[rows] = False
            counts[name] = len(rows)
        if todo.any():  # plain text: the line is the message
            cols["msg"][todo] = text.to_numpy(dtype=object)[todo]
            cols["dataset"][todo] = "text"
        parsed_ts = ~todo
        bad_ts = parsed_ts & np.isnan(ts) & (cols["dataset"] != "journald")
        if bad_ts.any():
            report.note(src, "timestamp not understood: kept the line without a time", n=int(bad_ts.sum()),
                        where=f"line {int(nums[np.argmax(bad_ts)])}")
        if todo.any():
            report.note(src, "line in no known layout: whole line kept as the message, no timestamp",
                        n=int(todo.sum()), where=f"line {int(nums[np.argmax(todo)])}")
        label = np.where(np.isin(cols["dataset"], ("bgl", "thunderbird")), np.where(cols["alert"] == "-", "benign", "malicious"), "")
        detail = np.where(label == "malicious", cols["alert"], "")
        frame = pd.DataFrame({
            "event.id": [f"{src}:{k}" for k in nums],
            "event.dataset": cols["dataset"],
            "@timestamp": ts,
            "host.name": cols["host"],
            "process.name": cols["proc"],
            "process.pid": pd.to_numeric(pd.Series(cols["pid"], dtype="object"), errors="coerce").to_numpy(),
            "log.level": cols["level"],
            "message": cols["msg"],
            "label": label,
            "label.detail": detail,
            "log.line": nums.astype("float64"),
        })
        new_order = sorted(order, key=lambda k: -counts.get(k, 0))
        return frame, new_order

    def _times(self, s: pd.Series, fmt: str) -> np.ndarray:
        s = s.fillna("")
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

    def _journald(self, text: pd.Series, rows: np.ndarray, cols: dict, ts: np.ndarray, todo: np.ndarray,
                  nums: np.ndarray, src: str, report: ReadReport) -> None:
        for i in np.flatnonzero(rows):
            try:
                rec = json.loads(text.iat[i])
            except ValueError:
                continue  # a "{" line that is not JSON is plain text
            if not isinstance(rec, dict) or "MESSAGE" not in rec:
                continue
            msg = rec.get("MESSAGE")
            if isinstance(msg, list):  # journald writes non-UTF-8 messages as byte arrays
                msg = bytes(x for x in msg if isinstance(x, int) and 0 <= x < 256).decode("utf-8", "replace")
            cols["msg"][i] = str(msg)
            cols["host"][i] = str(rec.get("_HOSTNAME", ""))
            cols["proc"][i] = str(rec.get("SYSLOG_IDENTIFIER") or rec.get("_COMM") or "")
            cols["pid"][i] = str(rec.get("_PID", ""))
            cols["level"][i] = _JOURNAL_PRIORITY.get(str(rec.get("PRIORITY", "")), "")
            cols["dataset"][i] = "journald"
            try:
                ts[i] = int(rec.get("__REALTIME_TIMESTAMP")) / 1e6
            except (TypeError, ValueError):
                report.note(src, "journald record without a usable __REALTIME_TIMESTAMP", where=f"line {nums[i]}")
            todo[i] = False


def _extract(arr: pa.Array, rx: re.Pattern) -> pd.DataFrame:
    """Named groups of ``rx`` per string (NaN where it does not match), with Arrow's RE2 engine in C++."""
    pattern = ("(?i)" if rx.flags & re.IGNORECASE else "") + rx.pattern
    got = pc.extract_regex(arr, pattern=pattern)
    names = list(rx.groupindex)
    valid = got.is_valid().to_numpy(zero_copy_only=False)
    out = {}
    for k, name in enumerate(names):
        col = pc.struct_field(got, [k]).to_numpy(zero_copy_only=False).astype(object)
        col[~valid] = np.nan
        out[name] = col
    return pd.DataFrame(out)


def _epoch(dt: pd.Series) -> np.ndarray:
    out = dt.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64") / 1e9
    out[pd.isna(dt).to_numpy()] = np.nan
    return out
