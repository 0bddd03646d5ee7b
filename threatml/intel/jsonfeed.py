"""JSON indicator files: tell a STIX bundle from a MISP event by structure, with bounded memory.

>>> import tempfile, pathlib, json
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.json"
>>> _ = p.write_text(json.dumps({"Event": {"info": "t", "Attribute": [{"type": "domain", "value": "evil.example", "to_ids": True}]}}))
>>> load_json(p).frame["value"].tolist()
['evil.example']
"""

from __future__ import annotations

import json
from pathlib import Path

from threatml.errors import InputError, ReadReport
from threatml.intel.indicators import IndicatorSet

#: larger JSON feeds are refused (a parsed JSON document takes several times its size in memory)
MAX_JSON_BYTES = 1 << 30


def read_json(path: Path) -> object:
    """Parse a JSON file, or raise an InputError naming the file and the place."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InputError(str(path), f"JSON feed of {size:,} bytes is larger than the {MAX_JSON_BYTES:,}-byte limit; "
                             "split it or serve it over TAXII")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "JSON feed is not UTF-8", f"byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"malformed JSON: {exc.msg}", f"line {exc.lineno} column {exc.colno}") from None


def kind_of(data: object) -> str:
    """``stix``, ``misp``, ``misp-manifest`` or ``""`` for a parsed JSON document."""
    if isinstance(data, dict):
        if "Event" in data or "response" in data:
            return "misp"
        if data.get("type") == "bundle" or isinstance(data.get("objects"), list) or (
                isinstance(data.get("type"), str) and str(data.get("id", "")).startswith(f"{data.get('type')}--")):
            return "stix"
        if data and all(isinstance(v, dict) and "info" in v for v in data.values()):
            return "misp-manifest"
    if isinstance(data, list) and data:
        first = data[0]
        if isinstance(first, dict) and "Event" in first:
            return "misp"
        if isinstance(first, dict) and isinstance(first.get("type"), str):
            return "stix"
    return ""


def load_json(path: str | Path, source: str | None = None, report: ReadReport | None = None,
              observables: bool = False) -> IndicatorSet:
    """Load a STIX 2.x bundle or a MISP event file (single event, list of events, REST response)."""
    path, report = Path(path), report if report is not None else ReadReport()
    data = read_json(path)
    kind = kind_of(data)
    if kind == "stix":
        from threatml.intel.stix import load_stix

        return load_stix(path, source, report, observables=observables, data=data)
    if kind == "misp":
        from threatml.intel.misp import load_misp

        return load_misp(path, source, report, data=data)
    if kind == "misp-manifest":
        raise InputError(str(path), "this is a MISP feed manifest: pass the feed folder that holds it")
    raise InputError(str(path), "JSON is neither a STIX 2.x bundle nor a MISP event")
