"""Windows events as JSON lines (Winlogbeat/ECS, OTRF Security-Datasets) -> ``auth`` / ``process``.

Two layouts are recognised per record:

* Winlogbeat / ECS: ``winlog.event_id``, ``winlog.channel``,
  ``winlog.computer_name``, ``winlog.record_id``, ``winlog.event_data``; time
  from ``@timestamp``. Names missing from ``event_data`` are taken from the
  ECS fields (``user.target.name``/``user.name``, ``source.ip``,
  ``source.port``, ``source.domain``) when present.
* OTRF Security-Datasets (Mordor) and NXLog-style flat records: ``EventID``,
  ``Channel`` (or ``SourceName``), ``Hostname`` (or ``Computer``), the event
  data fields at the top level; time from ``@timestamp``, else ``TimeCreated``,
  ``EventTime`` or ``UtcTime`` (read as UTC when they carry no offset).

The event mapping is the one of the EVTX reader (:mod:`threatml.identity.windows`).
A top-level ``label`` (``malicious``/``benign``, any other text goes to
``label.detail``) is kept as ground truth for ``threatml evaluate auth``.
Lines that are not JSON objects, and records without an event id, are skipped
and counted with the first line number; unmapped event ids are counted per id.

>>> import json, pathlib, tempfile
>>> from threatml.errors import ReadReport
>>> p = pathlib.Path(tempfile.mkdtemp()) / "sec.json"
>>> _ = p.write_text(json.dumps({"@timestamp": "2020-09-21T20:16:36Z", "EventID": 4625, "Channel": "Security",
...     "Hostname": "WS5", "TargetUserName": "pgustavo", "IpAddress": "10.0.1.5", "Status": "0xc000006d"}) + "\\n")
>>> b = next(WinlogJsonReader().read(p, ReadReport()))
>>> b.frame[["event.action", "user.name", "host.name"]].values.tolist(), b.frame["@timestamp"].tolist()
([['logon-failed', 'pgustavo', 'WS5']], [1600719396.0])
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterator

from threatml.errors import ReadReport
from threatml.identity.windows import map_event
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary
from threatml.readers.evtx import rows_to_batches
from threatml.events import EventBatch

try:  # several times faster than the standard library on Windows records; optional (errors are ValueErrors)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

_TIME_KEYS = ("@timestamp", "TimeCreated", "EventTime", "UtcTime", "timestamp")


def _with_ecs(rec: dict, data: dict) -> dict:
    """Fill event-data names missing from ``data`` with the ECS fields an Elastic pipeline adds."""
    def get(*path):
        v = rec
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        return v

    extra = {}
    for name, path in (("TargetUserName", ("user", "target", "name")), ("TargetUserName", ("user", "name")),
                       ("SubjectUserName", ("user", "name")), ("IpAddress", ("source", "ip")),
                       ("IpPort", ("source", "port")), ("WorkstationName", ("source", "domain"))):
        if name not in data and name not in extra:
            v = get(*path)
            if v not in (None, ""):
                extra[name] = v
    return {**data, **extra} if extra else data


def _fields(rec: dict) -> tuple[int, str, str, str, str, dict] | None:
    """(event id, channel, computer, record id, time text, data) of one record, or None."""
    win = rec.get("winlog")
    if isinstance(win, dict) and win.get("event_id") is not None:
        eid, channel = win.get("event_id"), str(win.get("channel") or "")
        computer = str(win.get("computer_name") or (rec.get("host") or {}).get("name", "") or "")
        rid = str(win.get("record_id") or "")
        data = win.get("event_data") or {}
        if not isinstance(data, dict):
            data = {}
        data = _with_ecs(rec, data)
    elif rec.get("EventID") is not None:
        eid = rec.get("EventID")
        channel = str(rec.get("Channel") or rec.get("SourceName") or rec.get("ProviderName") or "")
        computer = str(rec.get("Hostname") or rec.get("Computer") or rec.get("host") or "")
        rid = str(rec.get("RecordNumber") or rec.get("EventRecordID") or "")
        data = rec
    else:
        return None
    if isinstance(eid, dict):
        eid = eid.get("#text")
    try:
        eid = int(eid)
    except (TypeError, ValueError):
        return None
    stamp = ""
    for k in _TIME_KEYS:
        v = rec.get(k)
        if isinstance(v, str) and v:
            stamp = v
            break
    return eid, channel, computer, rid, stamp, data


class WinlogJsonReader(Reader):
    """Winlogbeat / OTRF JSON lines -> auth / process events."""

    name = "winlog-json"
    kinds = ("auth", "process")

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        lines = [ln for ln in head.split(b"\n")[:10] if ln.strip()]
        if len(head) >= 1024 and not head.endswith(b"\n") and len(lines) > 1:
            lines = lines[:-1]
        hits = 0
        for ln in lines[:5]:
            if not ln.lstrip().startswith(b"{"):
                return False
            try:
                rec = json.loads(ln)
            except ValueError:
                continue
            if isinstance(rec, dict) and _fields(rec) is not None:
                hits += 1
        return hits > 0

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        src, name = str(path), path.name
        rows: dict[str, list[dict]] = {"auth": [], "process": []}
        stamps: dict[str, list[str]] = {"auth": [], "process": []}
        unmapped: Counter = Counter()
        bad = noid = n = 0
        first_bad = first_noid = None
        with open_binary(path, report) as fh:
            for no, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    rec = _loads(raw)
                    if not isinstance(rec, dict):
                        raise ValueError
                except ValueError:
                    bad += 1
                    first_bad = first_bad or no
                    continue
                f = _fields(rec)
                if f is None:
                    noid += 1
                    first_noid = first_noid or no
                    continue
                eid, channel, computer, rid, stamp, data = f
                mapped = map_event(eid, channel, computer, data)
                if mapped is None:
                    unmapped[(eid, channel)] += 1
                    continue
                kind, row = mapped
                row["event.id"] = f"{name}:{rid or no}"
                row["event.dataset"] = ("windows.sysmon" if "sysmon" in channel.lower() else
                                        "mssql" if eid == 18456 else "windows.security")
                lab = rec.get("label")
                if isinstance(lab, str) and lab:  # ground truth some labelled exports carry
                    low = lab.lower()
                    row["label"] = low if low in ("malicious", "benign") else ""
                    row["label.detail"] = lab if row["label"] == "" else ""
                rows[kind].append(row)
                stamps[kind].append(stamp)
                n += 1
                if n >= batch_size:
                    yield from rows_to_batches(rows, stamps, path, {})
                    rows = {"auth": [], "process": []}
                    stamps = {"auth": [], "process": []}
                    n = 0
        yield from rows_to_batches(rows, stamps, path, {})
        if bad:
            report.skip(src, "line is not a JSON object", where=f"line {first_bad}", n=bad)
        if noid:
            report.skip(src, "record without a Windows event id (winlog.event_id / EventID)",
                        where=f"line {first_noid}", n=noid)
        for (eid, channel), c in sorted(unmapped.items()):
            report.skip(src, f"event id {eid} ({channel or 'no channel'}) not mapped", n=c)
