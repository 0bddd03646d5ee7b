"""MISP events (event JSON, lists of events, REST responses) and MISP feeds as indicators.

A MISP feed is a folder with ``manifest.json`` (event uuid -> summary) and one
``<uuid>.json`` per event. Attributes become indicator rows when their type
names something an event can carry (:data:`ATTRIBUTE_TYPES`); composite types
(``ip-dst|port``, ``filename|sha256``, ``domain|ip``) give their matchable
part(s). Only attributes flagged ``to_ids`` are loaded (MISP's own "use for
detection" flag), unless ``include_non_ids=True``; the others, deleted
attributes and unmapped types are skipped and counted per reason.

Kept: event and attribute tags (lower case; ``tlp:``, galaxies, ATT&CK ids ...),
the event's threat level as a ``threat-level:<name>`` tag and as confidence
(:data:`THREAT_LEVEL_CONFIDENCE`), first-seen from the attribute's
``first_seen`` / ``timestamp`` (else the event date), the event info and the
attribute comment as description, and the attribute uuid as ``refs``.

The JSON is read directly (one pass over plain dicts): ``pymisp.MISPEvent``
validates and builds an object per attribute, which is too slow for large
feeds; the export side uses pymisp (:mod:`threatml.intel.export`).

>>> ev = {"Event": {"info": "phish kit", "threat_level_id": "1", "Tag": [{"name": "tlp:amber"}],
...       "Attribute": [{"type": "email-src", "value": "Boss@Evil.example", "to_ids": True},
...                     {"type": "ip-dst|port", "value": "203.0.113.5|443", "to_ids": True},
...                     {"type": "comment", "value": "x", "to_ids": False}]}}
>>> s = misp_set([ev], "ev.json", None, ReadReport())
>>> s.frame[["type", "value", "confidence", "tags"]].values.tolist()
[['email', 'boss@evil.example', 90.0, 'threat-level:high,tlp:amber'], ['ipv4', '203.0.113.5', 90.0, 'threat-level:high,tlp:amber']]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport
from threatml.intel.indicators import DEFAULT_CONFIDENCE, IndicatorSet, _build

#: MISP attribute type -> [(part of the ``a|b`` value, indicator family)]
ATTRIBUTE_TYPES: dict[str, list[tuple[int, str]]] = {
    "ip-src": [(0, "ip")], "ip-dst": [(0, "ip")], "ip-src|port": [(0, "ip")], "ip-dst|port": [(0, "ip")],
    "domain": [(0, "domain")], "hostname": [(0, "domain")], "hostname|port": [(0, "domain")],
    "domain|ip": [(0, "domain"), (1, "ip")],
    "url": [(0, "url")],
    "md5": [(0, "md5")], "sha1": [(0, "sha1")], "sha256": [(0, "sha256")],
    "filename|md5": [(1, "md5")], "filename|sha1": [(1, "sha1")], "filename|sha256": [(1, "sha256")],
    "malware-sample": [(1, "md5")], "ja3-fingerprint-md5": [(0, "md5")],
    "email-src": [(0, "email")], "email": [(0, "email")], "email-reply-to": [(0, "email")],
}
THREAT_LEVELS = {"1": "high", "2": "medium", "3": "low", "4": "undefined"}
#: confidence from the event's threat level (MISP events state no per-attribute confidence)
THREAT_LEVEL_CONFIDENCE = {"1": 90.0, "2": 70.0, "3": 50.0, "4": DEFAULT_CONFIDENCE}


def load_misp(path: str | Path, source: str | None = None, report: ReadReport | None = None,
              include_non_ids: bool = False, data: object | None = None) -> IndicatorSet:
    """One MISP JSON file: ``{"Event": ...}``, a list of those, or a REST ``{"response": [...]}``."""
    path, report = Path(path), report if report is not None else ReadReport()
    if data is None:
        from threatml.intel.jsonfeed import read_json

        data = read_json(path)
    if isinstance(data, dict) and "response" in data:
        data = data["response"]
    events = data if isinstance(data, list) else [data]
    return misp_set(events, str(path), source, report, include_non_ids)


def load_misp_feed(folder: str | Path, source: str | None = None, report: ReadReport | None = None,
                   include_non_ids: bool = False) -> IndicatorSet:
    """A MISP feed folder: the events ``manifest.json`` lists (missing files counted, broken ones reported)."""
    from threatml.intel.jsonfeed import read_json

    folder, report = Path(folder), report if report is not None else ReadReport()
    manifest = read_json(folder / "manifest.json")
    if not isinstance(manifest, dict):
        raise InputError(str(folder / "manifest.json"), "malformed MISP manifest: not an object of event uuids")
    sets = []
    missing = 0
    for uuid in manifest:
        f = folder / f"{uuid}.json"
        if not f.is_file():
            missing += 1
            continue
        try:
            sets.append(load_misp(f, source or folder.name, ReadReport(), include_non_ids))
        except InputError as exc:
            report.error(exc.path, str(exc))
    if missing:
        report.skip(str(folder), "event listed in manifest.json but its file is missing", n=missing)
    out = IndicatorSet.concat(sets)
    report.merge(out.report)
    out.report = report
    return out


def misp_set(events: list, where: str, source: str | None, report: ReadReport,
             include_non_ids: bool = False) -> IndicatorSet:
    """Indicator table from MISP event dicts; what is dropped is counted per reason."""
    rows: list[tuple] = []  # (type, value, to_ids, deleted, uuid, first_seen, tags, comment, event number)
    meta: list[tuple] = []  # per event: (info, threat level id, date, tags)
    for n, ev in enumerate(events):
        ev = ev.get("Event", ev) if isinstance(ev, dict) else ev
        if not isinstance(ev, dict) or not ({"Attribute", "Object", "info"} & set(ev)):
            report.skip(where, "malformed MISP event (no Event object with info/Attribute)", f"event {n + 1}")
            continue
        etags = _tag_names(ev.get("Tag"))
        org = (ev.get("Orgc") or {}).get("name", "") if isinstance(ev.get("Orgc"), dict) else ""
        info = str(ev.get("info", "")) + (f" (by {org})" if org else "")
        meta.append((info, str(ev.get("threat_level_id", "4")), str(ev.get("date", "")), etags))
        e = len(meta) - 1
        attrs = list(ev.get("Attribute") or [])
        for obj in ev.get("Object") or []:
            if isinstance(obj, dict) and not obj.get("deleted"):
                attrs.extend(obj.get("Attribute") or [])
        for a in attrs:
            if not isinstance(a, dict):
                report.skip(where, "malformed MISP attribute (not an object)", f"event {n + 1}")
                continue
            rows.append((str(a.get("type", "")), a.get("value"), _truthy(a.get("to_ids")), _truthy(a.get("deleted")),
                         str(a.get("uuid", "")), a.get("first_seen") or a.get("timestamp") or "",
                         _tag_names(a.get("Tag")), str(a.get("comment") or ""), e))
    if not rows:
        report.read(where, 0)
        report.formats[where] = "misp"
        return IndicatorSet(report=report)
    f = pd.DataFrame(rows, columns=["type", "value", "to_ids", "deleted", "uuid", "first", "tags", "comment", "ev"])
    f.index = pd.RangeIndex(len(f))
    drop = f["deleted"].to_numpy(dtype=bool, copy=True)
    _count(report, where, drop, "deleted attribute")
    known = f["type"].isin(list(ATTRIBUTE_TYPES)).to_numpy()
    for t, n in f.loc[~known & ~drop, "type"].value_counts().items():
        report.skip(where, f"MISP attribute type '{t}' not matched by any event kind", n=int(n))
    drop |= ~known
    if not include_non_ids:
        non_ids = ~f["to_ids"].to_numpy() & ~drop
        _count(report, where, non_ids, "to_ids is false (not meant for detection)")
        drop |= non_ids
    bad_val = ~f["value"].map(lambda v: isinstance(v, str) and v.strip() != "").to_numpy(dtype=bool) & ~drop
    _count(report, where, bad_val, "attribute without a value")
    f = f[~(drop | bad_val)]

    # composite values: one row per matchable part
    parts = []
    for t, g in f.groupby("type", sort=False):
        for part, fam in ATTRIBUTE_TYPES[str(t)]:
            split = g["value"].str.split("|", n=1, regex=False)
            val = split.str[part].fillna("")
            parts.append(g.assign(val=val, fam=fam))
    if not parts:
        report.read(where, 0)
        report.formats[where] = "misp"
        return IndicatorSet(report=report)
    x = pd.concat(parts).sort_index(kind="stable")
    m = pd.DataFrame(meta, columns=["info", "level", "date", "etags"])
    ev = m.iloc[x["ev"].to_numpy()].set_axis(x.index)
    level = ev["level"].where(ev["level"].isin(list(THREAT_LEVELS)), "4")
    conf = level.map(THREAT_LEVEL_CONFIDENCE).astype(float)
    first = _first_seen(x["first"], ev["date"], where, report)
    tags = [",".join(sorted(set(a) | set(b) | {f"threat-level:{THREAT_LEVELS[lv]}"}))
            for a, b, lv in zip(x["tags"], ev["etags"], level)]
    desc = np.where(x["comment"] != "", ev["info"] + ": " + x["comment"], ev["info"])
    desc = pd.Series(desc, index=x.index, dtype="str").str.replace(",", ";", regex=False)
    return _build(where, source, report, x["val"].astype("str"), conf, first, np.nan,
                  pd.Series(tags, index=x.index, dtype="str"), desc, "misp", refs=x["uuid"],
                  expect=x["fam"].astype("str"), unit="attribute")


def _truthy(v) -> bool:
    return v is True or (isinstance(v, (int, str)) and str(v).strip().lower() in ("1", "true"))


def _tag_names(tags) -> list[str]:
    if not isinstance(tags, list):
        return []
    names = (t.get("name") if isinstance(t, dict) else t for t in tags)
    return [str(n).strip().lower().replace(",", ";") for n in names if isinstance(n, str) and n.strip()]


def _count(report: ReadReport, where: str, mask: np.ndarray, reason: str) -> None:
    if mask.any():
        report.skip(where, reason, f"attribute {int(np.flatnonzero(mask)[0]) + 1}", n=int(mask.sum()))


def _first_seen(first: pd.Series, date: pd.Series, where: str, report: ReadReport) -> pd.Series:
    """Attribute ``first_seen`` (ISO) or ``timestamp`` (epoch), else the event date; epoch seconds."""
    text = first.map(lambda v: str(v) if isinstance(v, (str, int, float)) else "").str.strip()
    epoch = pd.to_numeric(text.where(text.str.fullmatch(r"\d{9,11}(\.\d+)?"), None), errors="coerce")
    iso = text.where(epoch.isna() & (text != ""), "")
    iso = iso.where(iso != "", date.astype("str"))
    ts = pd.to_datetime(iso, utc=True, errors="coerce", format="ISO8601")
    secs = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    bad = ts.isna().to_numpy() & (iso != "").to_numpy() & epoch.isna().to_numpy()
    if bad.any():
        report.note(where, "unparseable first_seen/timestamp/date (kept without it)", n=int(bad.sum()))
    return epoch.fillna(secs).astype(float)
