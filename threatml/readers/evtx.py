"""Windows EVTX files (Security, Sysmon, MSSQL Application) -> ``auth`` and ``process`` events.

Records are decoded by the Rust ``evtx`` package (``PyEvtxParser.records_json``,
one thread: the machine is shared). The rest avoids per-record Python work:

1. the event id is read from each record's JSON text by a regex; records of
   ids we do not map are only counted (never parsed);
2. the others' JSON texts are joined per event id into newline-delimited
   buffers (filed per 1,000 records, mapped per ``block_size`` records);
3. each id's buffer is parsed at once by ``pyarrow.json`` (with the schema
   learnt from that id's previous group: only the fields the mapping reads)
   and mapped column-wise by :func:`threatml.identity.windows.map_columns`;
4. groups of a shape that mapping does not take (MSSQL's unnamed data,
   nested or float values, a record Arrow rejects) go record by record
   through ``orjson`` and :func:`~threatml.identity.windows.map_event`,
   which gives the same rows (``EvtxReader(fast=False)`` does that for all;
   the tests compare the two);
5. rows are put back into file order, times converted per batch.

Bad input:

* a chunk the parser cannot decode (bad checksum, broken string table) is
  skipped and counted as ``corrupt EVTX chunk`` with the parser's message; the
  other chunks are still read;
* a file shorter than its header's chunk count says is noted as truncated;
* event ids we do not map are counted per id (``event id 4656 not mapped``) so
  an analyst sees what the file held;
* a file whose header cannot be read at all is an :class:`InputError`.

>>> EvtxReader.sniff(b"ElfFile\\x00" + bytes(120), None)
True
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from itertools import islice
from operator import itemgetter
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

try:  # several times faster than the standard library on Windows records; optional (errors are ValueErrors)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.events.schema import SCHEMAS
from threatml.identity.frames import arrow_to_frame, frame_from_lists
from threatml.identity.windows import AUTH_ACTIONS, OBJECT_ACCESS, SYSMON_ACTIONS, Irregular, map_columns, map_event
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader

MAGIC = b"ElfFile\x00"
#: every event id some mapping may take (the channel decides the rest)
MAPPED_IDS = frozenset(AUTH_ACTIONS) | frozenset(SYSMON_ACTIONS) | frozenset(OBJECT_ACCESS)
_DATA, _STAMP, _RID = itemgetter("data"), itemgetter("timestamp"), itemgetter("event_record_id")
_EID_FIRST = re.compile(r'"EventID":(\d+),')  # at the first "EventID": only; _EID's match there, or no match
_SUB_BLOCK = 1000  # parser records filed at a time
_EID = re.compile(r'"EventID":\s*(?:\{.{0,200}?"#text":\s*)?"?(\d+)')
_CHANNEL = re.compile(r'"Channel":\s*"([^"]*)"')
CHUNK_SIZE = 65536
HEADER_SIZE = 4096


def _event_id(system: dict) -> int:
    eid = system.get("EventID")
    if isinstance(eid, dict):
        eid = eid.get("#text")
    try:
        return int(eid)
    except (TypeError, ValueError):
        return -1


def _system_time(system: dict) -> str:
    """System/TimeCreated/@SystemTime (the record header's time can be zero: 1601-01-01)."""
    tc = system.get("TimeCreated")
    if isinstance(tc, dict):
        attrs = tc.get("#attributes")
        if isinstance(attrs, dict):
            return str(attrs.get("SystemTime") or "")
    return ""


def event_fields(event: dict) -> dict:
    """The data fields of an EVTX event as a flat dict (EventData, or the one element of UserData)."""
    data = event.get("EventData")
    if isinstance(data, dict):
        if "Data" in data and len(data) <= 2:  # unnamed <Data> values (MSSQL, old providers)
            inner = data["Data"]
            if isinstance(inner, dict):
                inner = inner.get("#text")
            return {"Data": inner if isinstance(inner, list) else [inner]}
        return data
    user = event.get("UserData")
    if isinstance(user, dict) and user:
        inner = next(iter(user.values()))
        if isinstance(inner, dict):
            return inner
    return {}


def rows_to_batches(rows: dict[str, list[dict]], stamps: dict[str, list[str]], path: Path, dataset: dict[str, str],
                    ) -> Iterator[EventBatch]:
    """Per-kind row dicts + ISO time strings -> event batches (times converted in one go)."""
    for kind, recs in rows.items():
        if not recs:
            continue
        keys: dict[str, None] = {}
        for r in recs[:1000]:  # rows of one kind share few key sets: collect them cheaply
            keys.update(dict.fromkeys(r))
        for r in recs[1000:]:
            if not keys.keys() >= r.keys():
                keys.update(dict.fromkeys(r))
        frame = frame_from_lists({k: [r.get(k) for r in recs] for k in keys})
        ts = pd.to_datetime(pd.Series(stamps[kind], dtype="str").str.replace(" UTC", "", regex=False),
                            format="ISO8601", utc=True, errors="coerce")
        sec = ts.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
        sec[ts.isna().to_numpy()] = float("nan")
        frame["@timestamp"] = sec
        if "event.dataset" not in frame:
            frame["event.dataset"] = dataset[kind]
        yield EventBatch.of(kind, frame, source=str(path))


class EvtxReader(Reader):
    """EVTX -> auth / process events (see the module doc)."""

    name = "evtx"
    kinds = ("auth", "process")

    def __init__(self, threads: int = 1, fast: bool = True, block_size: int = 20_000):
        self.threads = threads
        self.fast = fast  # False: every record through orjson + map_event (the reference for the columnar path)
        self.block_size = block_size  # records parsed by Arrow at once: bounds the JSON text held (~1.5 kB each)

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return head.startswith(MAGIC)

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        import evtx

        path = Path(path)
        self._check_size(path, report)
        try:
            parser = evtx.PyEvtxParser(str(path), number_of_threads=self.threads)
        except (OSError, RuntimeError) as exc:
            raise InputError(path, f"not a readable EVTX file: {exc}") from None
        yield from self.read_records(parser.records_json(), path, report, batch_size)

    def read_records(self, it: Iterator[dict], path: Path, report: ReadReport,
                     batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        """Parser records (``data``, ``timestamp``, ``event_record_id`` dicts as ``records_json`` yields) -> batches.

        An iterator step raising ``RuntimeError``/``OSError`` is a corrupt
        chunk: counted, and the iteration goes on.
        """
        path = Path(path)
        st = _ReadState(path)
        out = _Batches(path, batch_size)
        limit = max(1, min(self.block_size, batch_size))
        pend, seq = _Pending(), 0
        while True:
            recs = _take(it, min(_SUB_BLOCK, limit), st)
            if not recs:
                break
            self._sort_in(recs, pend, st, seq)
            seq += len(recs)
            if pend.count >= limit:
                self._map_pending(pend, st, out)
                pend = _Pending()
                yield from out.full()
        self._map_pending(pend, st, out)
        yield from out.rest()
        st.report_to(report)

    def _sort_in(self, recs: list[dict], pend: "_Pending", st: "_ReadState", base: int) -> None:
        """File a few parser records by event id: unmapped ids counted, the others' JSON joined per id.

        Done per small sub-block so that the records' strings are freed while
        still in the CPU cache (holding 20,000 of them costs more than the
        grouping); the event id is read from the text by a regex, no parse.
        """
        try:
            data, stamps, rids = list(map(_DATA, recs)), list(map(_STAMP, recs)), list(map(_RID, recs))
        except KeyError:  # not what evtx writes: the careful way
            data = [r.get("data") or "" for r in recs]
            stamps = [r.get("timestamp") or "" for r in recs]
            rids = [r.get("event_record_id") for r in recs]
        first, search = _EID_FIRST.match, _EID.search
        groups: dict[int, list[int]] = {}
        for i, d in enumerate(data):
            m = first(d, d.find('"EventID":', 0, 2000), 2000)  # the usual compact form, else the general pattern
            if m is None:
                m = search(d, 0, 2000)
            eid = -1 if m is None else int(m.group(1))
            if eid in groups:
                groups[eid].append(i)
            else:
                groups[eid] = [i]
        for eid, idx in groups.items():
            if eid >= 0 and eid not in MAPPED_IDS:
                channel = _CHANNEL.search
                for i in idx:
                    ch = channel(data[i], 0, 4000)
                    st.unmapped[(eid, ch.group(1) if ch else "")] += 1
                continue
            whole = len(idx) == len(data)  # one id in the whole sub-block (common): no picking
            texts = data if whole else [data[i] for i in idx]
            pos = range(base, base + len(data)) if whole else [base + i for i in idx]
            pend.count += len(idx)
            lines = "\n".join(texts) if self.fast and eid >= 0 else ""
            if not lines or lines.count("\n") != len(texts) - 1:  # a raw newline inside a record: per record
                pend.slow.extend(zip(pos, texts, (stamps[i] for i in idx), (rids[i] for i in idx)))
                continue
            g = pend.groups.get(eid)
            if g is None:
                g = pend.groups[eid] = _Group()
            g.chunks.append(lines.encode())
            g.pos.extend(pos)
            g.stamps.extend(stamps if whole else [stamps[i] for i in idx])
            g.rids.extend(rids if whole else [rids[i] for i in idx])

    def _map_pending(self, pend: "_Pending", st: "_ReadState", out: "_Batches") -> None:
        """Map the filed records into ``out``: columnar per event id, record by record where that does not fit."""
        slow = pend.slow
        for eid, g in sorted(pend.groups.items()):
            buf = b"\n".join(g.chunks)
            g.chunks = []
            if not self._map_group(eid, buf, g, st, out):
                slow.extend(zip(g.pos, buf.decode().split("\n"), g.stamps, g.rids))  # no record holds a raw newline
        if slow:
            self._map_records(sorted(slow, key=lambda r: r[0]), st, out)

    def _map_group(self, eid: int, buf: bytes, g: "_Group", st: "_ReadState", out: "_Batches") -> bool:
        """The columnar path for one event id's records (JSON lines ``buf``); False if they need the slow path.

        Arrow parses them with the schema learnt from this id's last group
        (only the fields the mapping reads: several times less to build),
        else with inference; a record the learnt schema does not fit sends
        the group back to inference, one inference does not fit: slow path.
        """
        n = len(g.pos)
        learnt = _SCHEMAS.get(eid)
        for schema in ((learnt, None) if learnt is not None else (None,)):
            try:
                opts = _JSON_PARSE if schema is None else pa_json.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore")
                table = pa_json.read_json(pa.BufferReader(buf), read_options=_JSON_READ, parse_options=opts)
                got = self._columns(eid, table, n, learn=schema is None)
            except (Irregular, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, KeyError):
                _SCHEMAS.pop(eid, None)
                continue
            break
        else:
            return False
        mapped, channel, system, sys_names = got
        keep_rows = np.zeros(n, bool) if mapped is None else (np.ones(n, bool) if mapped[1] is None else mapped[1])
        if mapped is None or not keep_rows.any():
            _count_unmapped(st, eid, channel, keep_rows)
            return True
        kind, _, cols = mapped
        try:
            stamps = pa.array(g.stamps, pa.string())
            rids = pa.array(g.rids)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return False
        zero = pc.or_(pc.equal(stamps, ""), pc.starts_with(stamps, "1601")).to_numpy(zero_copy_only=False)
        if zero.any():  # a zero record-header time: take the event's own
            try:
                stamps = pc.if_else(zero, _system_times(system, sys_names, n), stamps)
            except Irregular:
                return False
        if rids.null_count or not pa.types.is_integer(rids.type):
            return False
        cols["event.id"] = pc.binary_join_element_wise(out.name + ":", rids.cast(pa.string()), "")
        if kind == "process":
            cols["event.dataset"] = pc.if_else(pc.match_substring(pc.utf8_lower(channel), "sysmon"),
                                               "windows.sysmon", "windows.security")
        else:
            cols.setdefault("event.dataset", "windows.security")
        _count_unmapped(st, eid, channel, keep_rows)
        out.add(kind, np.asarray(g.pos, dtype=np.int64), cols, stamps, n, keep_rows)
        return True

    @staticmethod
    def _columns(eid: int, table: pa.Table, n: int, learn: bool):
        """Parsed group -> (map_columns result, channel, System column, System field names); learns the schema."""
        if table.num_rows != n or "Event" not in table.column_names:
            raise Irregular("not one JSON object with an Event per record")
        event = table.column("Event").combine_chunks()
        names = set(event.type.names) if pa.types.is_struct(event.type) else set()
        if "System" not in names or event.null_count:
            raise Irregular("record without Event/System")
        system = pc.struct_field(event, "System")
        sys_names = set(system.type.names) if pa.types.is_struct(system.type) else set()
        if system.null_count or "EventID" not in sys_names:
            raise Irregular("record without Event/System/EventID")
        ids = pc.struct_field(system, "EventID")
        if pa.types.is_struct(ids.type) and "#text" in ids.type.names:  # {"#attributes": {"Qualifiers"}, "#text": id}
            ids = pc.struct_field(ids, "#text")
        if not pa.types.is_integer(ids.type) or ids.null_count or not pc.all(pc.equal(ids, eid)).as_py():
            raise Irregular("event id not a plain number equal to the one in the text")
        channel = _text(system, "Channel", sys_names, n)
        computer = _text(system, "Computer", sys_names, n)
        where, fields = _data_fields(event, names, eid, learnt=not learn)
        read: dict[str, pa.DataType | None] = {}

        def get(name: str) -> pa.Array | None:
            a = pc.struct_field(fields, name) if fields is not None and name in fields.type.names else None
            read[name] = None if a is None else a.type
            return a

        mapped = map_columns(eid, channel, computer, get, n)
        if learn and eid != 18456:  # MSSQL's shape rule needs every field seen: always inferred
            schema = _learnt_schema(event.type, where, read)
            if schema is not None:
                _SCHEMAS[eid] = schema
        return mapped, channel, system, sys_names

    def _map_records(self, recs: list[tuple], st: "_ReadState", out: "_Batches") -> None:
        """The per-record path: orjson + :func:`map_event` for (position, JSON, time, record id) tuples."""
        rows: dict[str, list[dict]] = {"auth": [], "process": []}
        stamps: dict[str, list[str]] = {"auth": [], "process": []}
        pos: dict[str, list[int]] = {"auth": [], "process": []}
        for i, data, stamp, rid in recs:
            got = map_record(data, stamp, rid, out.name, st)
            if got is not None:
                kind, row, stamp = got
                rows[kind].append(row)
                stamps[kind].append(stamp)
                pos[kind].append(i)
        for kind, got in rows.items():
            if got:
                cols = {k: _column([r.get(k) for r in got], _FLOAT[kind].get(k, False))
                        for k in dict.fromkeys(k for r in got for k in r)}
                out.add(kind, np.asarray(pos[kind], dtype=np.int64), cols, pa.array(stamps[kind], pa.string()),
                        len(got), None)

    @staticmethod
    def _check_size(path: Path, report: ReadReport) -> None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(128)
            size = path.stat().st_size
        except OSError as exc:
            raise InputError(path, f"cannot open: {exc}") from None
        if not head.startswith(MAGIC) or len(head) < 0x2C:
            raise InputError(path, "not an EVTX file (no ElfFile header)")
        chunks = int.from_bytes(head[0x2A:0x2C], "little")
        if size < HEADER_SIZE + chunks * CHUNK_SIZE:
            report.note(str(path), f"file truncated: header lists {chunks} chunks, "
                                   f"{max(0, (size - HEADER_SIZE)) // CHUNK_SIZE} complete ones present")


_JSON_READ = pa_json.ReadOptions(use_threads=False, block_size=1 << 26)
_JSON_PARSE = pa_json.ParseOptions()
#: event id -> the Arrow schema of the fields its mapping read last time (process-wide; <= 40 small entries)
_SCHEMAS: dict[int, pa.Schema] = {}
_FLOAT = {kind: {f.name: f.dtype == "float" for f in fields} for kind, fields in SCHEMAS.items()}


def _take(it: Iterator[dict], limit: int, st: "_ReadState") -> list[dict]:
    """Up to ``limit`` parser records; an undecodable chunk raises once (counted) and the iterator goes on."""
    recs: list[dict] = []
    while len(recs) < limit:
        n = len(recs)
        try:
            recs.extend(islice(it, limit - n))  # keeps the records before an error
        except (RuntimeError, OSError) as exc:
            st.corrupt += 1
            st.first_corrupt = st.first_corrupt or str(exc)[:200]
            continue
        if len(recs) == n or len(recs) < limit:
            break
    return recs


def _count_unmapped(st: "_ReadState", eid: int, channel: pa.Array, keep: np.ndarray) -> None:
    """Records of a group that are no event of the id's kind (e.g. id 10 outside Sysmon), per channel."""
    if not keep.all():
        for ch, c in Counter(pc.filter(channel, pa.array(~keep)).to_pylist()).items():
            st.unmapped[(eid, ch)] += c


def map_record(data: str, stamp: str, rid, name: str, st: "_ReadState") -> tuple[str, dict, str] | None:
    """One record's JSON -> (kind, row, time string), or None (counted in ``st`` as bad or unmapped)."""
    try:
        event = _loads(data)["Event"]
        system = event["System"]
    except (ValueError, KeyError, TypeError):
        st.bad += 1
        return None
    eid = _event_id(system)
    channel = system.get("Channel") or ""
    mapped = map_event(eid, channel, system.get("Computer") or "", event_fields(event))
    if mapped is None:
        st.unmapped[(eid, channel)] += 1
        return None
    kind, row = mapped
    row["event.id"] = f"{name}:{rid if rid is not None else system.get('EventRecordID')}"
    if kind == "process":
        row["event.dataset"] = "windows.sysmon" if "sysmon" in channel.lower() else "windows.security"
    else:
        row["event.dataset"] = "mssql" if eid == 18456 else "windows.security"
    if not stamp or stamp.startswith("1601"):  # a zero record-header time: take the event's own
        stamp = _system_time(system)
    return kind, row, stamp


class _Group:
    """One event id's records of a block: JSON lines (joined per sub-block), file positions, times, record ids."""

    __slots__ = ("chunks", "pos", "stamps", "rids")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.pos: list[int] = []
        self.stamps: list[str] = []
        self.rids: list = []


class _Pending:
    """Records filed since the last mapping: per-id groups, and those for the per-record path."""

    def __init__(self) -> None:
        self.groups: dict[int, _Group] = {}
        self.slow: list[tuple] = []
        self.count = 0


class _ReadState:
    """What a read skipped: corrupt chunks, unreadable records, unmapped event ids."""

    def __init__(self, path: Path) -> None:
        self.src = str(path)
        self.corrupt = self.bad = 0
        self.first_corrupt: str | None = None
        self.unmapped: Counter = Counter()

    def report_to(self, report: ReadReport) -> None:
        if self.corrupt:
            report.skip(self.src, "corrupt EVTX chunk (its records are lost)", where=self.first_corrupt, n=self.corrupt)
        if self.bad:
            report.skip(self.src, "EVTX record without a readable Event/System element", n=self.bad)
        for (eid, channel), c in sorted(self.unmapped.items()):
            report.skip(self.src, f"event id {eid} ({channel or 'no channel'}) not mapped", n=c)


class _Batches:
    """Mapped column groups per kind, put back into file order and cut into batches of ``batch_size``."""

    def __init__(self, path: Path, batch_size: int) -> None:
        self.path, self.name, self.batch_size = path, path.name, batch_size
        self.parts: dict[str, list] = {"auth": [], "process": []}
        self.rows = {"auth": 0, "process": 0}

    def add(self, kind: str, pos: np.ndarray, cols: dict, stamps: pa.Array, n: int, keep: np.ndarray | None) -> None:
        if keep is not None and not keep.all():
            pos, stamps = pos[keep], stamps.filter(pa.array(keep))
            cols = {k: v if isinstance(v, str) else (v[keep] if isinstance(v, np.ndarray) else v.filter(pa.array(keep)))
                    for k, v in cols.items()}
            n = int(keep.sum())
        self.parts[kind].append((pos, cols, stamps, n))
        self.rows[kind] += n

    def full(self) -> Iterator[EventBatch]:
        for kind in self.parts:
            if self.rows[kind] >= self.batch_size:
                yield from self._emit(kind)

    def rest(self) -> Iterator[EventBatch]:
        for kind in self.parts:
            if self.rows[kind]:
                yield from self._emit(kind)

    def _emit(self, kind: str) -> Iterator[EventBatch]:
        parts, self.parts[kind], self.rows[kind] = self.parts[kind], [], 0
        pos = np.concatenate([p[0] for p in parts])  # parser record numbers: file order
        order = None if np.all(pos[1:] > pos[:-1]) else np.argsort(pos, kind="stable")
        total = int(sum(p[3] for p in parts))
        table: dict[str, pa.Array] = {}
        for f in SCHEMAS[kind]:
            if f.name == "@timestamp":
                continue
            chunks = [_expand(p[1].get(f.name), p[3], f.dtype == "float") for p in parts]
            col = np.concatenate(chunks) if f.dtype == "float" else pa.concat_arrays(chunks)
            if order is not None:
                col = col[order] if f.dtype == "float" else col.take(pa.array(order))
            table[f.name] = pa.array(col) if f.dtype == "float" else col
        stamps = pa.concat_arrays([p[2] for p in parts])
        if order is not None:
            stamps = stamps.take(pa.array(order))
        frame = arrow_to_frame(table)
        frame["@timestamp"] = _seconds(stamps)
        for i in range(0, total, self.batch_size):
            part = frame if total <= self.batch_size else frame.iloc[i:i + self.batch_size].reset_index(drop=True)
            yield EventBatch.of(kind, part, source=str(self.path))


def _expand(v, n: int, is_float: bool):
    """A group's column (array, float array, one string for all rows, or absent) -> Arrow strings / float64."""
    if is_float:
        if v is None:
            return np.full(n, np.nan)
        return v if isinstance(v, np.ndarray) else np.asarray(v, dtype=np.float64)
    if v is None:
        return pa.repeat("", n)
    if isinstance(v, str):
        return pa.repeat(v, n)
    return v.cast(pa.string()).fill_null("")


def _column(values: list, is_float: bool):
    """Per-record row values -> a group column (strings: None -> ""; floats: None -> NaN)."""
    if is_float:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pa.array(["" if v is None else v for v in values], pa.string())


def _seconds(stamps: pa.Array) -> np.ndarray:
    """ISO time strings (``... UTC`` as the parser writes them) -> epoch seconds, NaN when unreadable."""
    text = pd.Series(pc.replace_substring(stamps, " UTC", "").to_pandas(), dtype="str")
    ts = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    sec = ts.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    sec[ts.isna().to_numpy()] = float("nan")
    return sec


def _text(struct: pa.Array, name: str, names: set, n: int) -> pa.Array:
    """A string child of a struct column, nulls -> "" (the per-record ``system.get(name) or ""``)."""
    if name not in names:
        return pa.repeat("", n)
    a = pc.struct_field(struct, name)
    if pa.types.is_null(a.type):
        return pa.repeat("", n)
    if not pa.types.is_string(a.type):
        raise Irregular(f"{name} is not text")
    return a.fill_null("")


def _system_times(system: pa.Array, names: set, n: int) -> pa.Array:
    """System/TimeCreated/#attributes/SystemTime as strings ("" when absent)."""
    if "TimeCreated" not in names:
        return pa.repeat("", n)
    tc = pc.struct_field(system, "TimeCreated")
    if not pa.types.is_struct(tc.type) or "#attributes" not in tc.type.names:
        raise Irregular("TimeCreated shape")
    attrs = pc.struct_field(tc, "#attributes")
    return _text(attrs, "SystemTime", set(attrs.type.names), n)


def _data_fields(event: pa.Array, names: set, eid: int, learnt: bool) -> tuple[tuple[str, ...], pa.Array | None]:
    """The struct column :func:`event_fields` would read (EventData, or UserData's one element) and its path.

    :func:`event_fields` hands over an unnamed ``Data`` list instead of the
    named fields when ``Data`` is one of at most two keys: taken for MSSQL
    (EventData holding only ``Data`` and ``Binary``), otherwise such records
    go the per-record way (a learnt schema declares ``Data`` to see them).
    """
    data = pc.struct_field(event, "EventData") if "EventData" in names else None
    user = pc.struct_field(event, "UserData") if "UserData" in names else None
    if data is not None and pa.types.is_null(data.type):
        data = None
    if user is not None and (pa.types.is_null(user.type) or user.null_count == len(user)):
        user = None
    if data is not None:
        if not pa.types.is_struct(data.type) or user is not None:
            raise Irregular("EventData is not a set of named fields")
        keys = set(data.type.names)
        if eid == 18456:
            if "Data" not in keys or not keys <= {"Data", "Binary"}:
                raise Irregular("MSSQL EventData of another shape")
        elif "Data" in keys and (not learnt or pc.struct_field(data, "Data").null_count < len(data)):
            raise Irregular("unnamed Data values")
        return ("EventData",), data
    if user is not None:
        if not pa.types.is_struct(user.type) or user.type.num_fields != 1:
            raise Irregular("UserData shape")
        inner = pc.struct_field(user, user.type.field(0).name)
        if pa.types.is_null(inner.type):
            return (), None
        if not pa.types.is_struct(inner.type):
            raise Irregular("UserData element is not a set of named fields")
        return ("UserData", user.type.field(0).name), inner
    return (), None


def _learnt_schema(event: pa.DataType, where: tuple[str, ...], read: dict[str, pa.DataType | None]) -> pa.Schema | None:
    """Event/System (id, channel, computer, time) and the data fields the mapping read, typed as parsed.

    A field read but absent (or all null) is declared a string: a later
    group that carries it as text parses, one that carries anything else
    fails and goes back to inference, so nothing is dropped silently. A
    ``UserData`` sibling is kept as an empty struct, so that a record of
    that shape shows as non-null there and goes back to inference too (see
    :func:`_data_fields`). None (keep inferring) for UserData-only events.
    """
    if where[:1] != ("EventData",):
        return None
    system = event.field("System").type
    keep = [system.field(k) for k in ("EventID", "Channel", "Computer", "TimeCreated") if k in system.names]
    data = pa.struct([pa.field(k, pa.string() if t is None or pa.types.is_null(t) else t) for k, t in read.items()]
                     + ([] if "Data" in read else [pa.field("Data", pa.string())]))
    return pa.schema([pa.field("Event", pa.struct([pa.field("System", pa.struct(keep)), pa.field("EventData", data),
                                                   pa.field("UserData", pa.struct([]))]))])
