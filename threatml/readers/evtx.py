"""Windows EVTX files (Security, Sysmon, MSSQL Application) -> ``auth`` and ``process`` events.

Records are decoded by the Rust ``evtx`` package (``PyEvtxParser.records_json``,
one thread: the machine is shared) and each record's JSON is loaded once;
the event fields are mapped by :mod:`threatml.identity.windows`. Timestamps
are converted per batch (vectorised), not per record.

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
from typing import Iterator

import pandas as pd

try:  # several times faster than the standard library on Windows records; optional (errors are ValueErrors)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.identity.windows import AUTH_ACTIONS, OBJECT_ACCESS, SYSMON_ACTIONS, map_event
from threatml.identity.frames import frame_from_lists
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader

MAGIC = b"ElfFile\x00"
#: every event id some mapping may take (the channel decides the rest)
MAPPED_IDS = frozenset(AUTH_ACTIONS) | frozenset(SYSMON_ACTIONS) | frozenset(OBJECT_ACCESS)
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

    def __init__(self, threads: int = 1):
        self.threads = threads

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return head.startswith(MAGIC)

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        import evtx

        path = Path(path)
        src, name = str(path), path.name
        self._check_size(path, report)
        try:
            parser = evtx.PyEvtxParser(src, number_of_threads=self.threads)
        except (OSError, RuntimeError) as exc:
            raise InputError(path, f"not a readable EVTX file: {exc}") from None
        rows: dict[str, list[dict]] = {"auth": [], "process": []}
        stamps: dict[str, list[str]] = {"auth": [], "process": []}
        unmapped: Counter = Counter()
        bad = corrupt = 0
        first_corrupt = None
        loads = _loads
        it = parser.records_json()
        n = 0
        while True:
            try:
                rec = next(it)
            except StopIteration:
                break
            except (RuntimeError, OSError) as exc:  # one undecodable chunk; the iterator goes on
                corrupt += 1
                first_corrupt = first_corrupt or str(exc)[:200]
                continue
            data = rec.get("data") or ""
            # cheap look at the event id first: records we do not map are counted without a JSON parse
            m = _EID.search(data, 0, 2000)
            if m is not None and int(m.group(1)) not in MAPPED_IDS:
                ch = _CHANNEL.search(data, 0, 4000)
                unmapped[(int(m.group(1)), ch.group(1) if ch else "")] += 1
                continue
            try:
                event = loads(data)["Event"]
                system = event["System"]
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            eid = _event_id(system)
            channel = system.get("Channel") or ""
            computer = system.get("Computer") or ""
            mapped = map_event(eid, channel, computer, event_fields(event))
            if mapped is None:
                unmapped[(eid, channel)] += 1
                continue
            kind, row = mapped
            rid = rec.get("event_record_id", system.get("EventRecordID"))
            row["event.id"] = f"{name}:{rid}"
            if kind == "process":
                row["event.dataset"] = "windows.sysmon" if "sysmon" in channel.lower() else "windows.security"
            else:
                row["event.dataset"] = "mssql" if eid == 18456 else "windows.security"
            rows[kind].append(row)
            stamp = rec.get("timestamp") or ""
            if not stamp or stamp.startswith("1601"):  # a zero record-header time: take the event's own
                stamp = _system_time(system)
            stamps[kind].append(stamp)
            n += 1
            if n >= batch_size:
                yield from rows_to_batches(rows, stamps, path, {})
                rows = {"auth": [], "process": []}
                stamps = {"auth": [], "process": []}
                n = 0
        yield from rows_to_batches(rows, stamps, path, {})
        if corrupt:
            report.skip(src, "corrupt EVTX chunk (its records are lost)", where=first_corrupt, n=corrupt)
        if bad:
            report.skip(src, "EVTX record without a readable Event/System element", n=bad)
        for (eid, channel), c in sorted(unmapped.items()):
            report.skip(src, f"event id {eid} ({channel or 'no channel'}) not mapped", n=c)

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
