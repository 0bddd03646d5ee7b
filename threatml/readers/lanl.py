"""LANL-style authentication CSV, and any authentication CSV with a column mapping -> ``auth``.

**LANL layout** (the "Comprehensive, Multi-Source Cyber-Security Events"
``auth.txt``, no header): ``time, source user@domain, destination
user@domain, source computer, destination computer, authentication type,
logon type, orientation, success/failure``, e.g.
``1,U12@DOM1,U12@DOM1,C1250,C586,NTLM,Network,LogOn,Success``. ``time`` is
seconds from the data set's start and is kept as is in ``@timestamp`` (add
the constructor's ``origin`` epoch to place it in real time). ``?`` means
unknown and becomes ``""``. Orientation ``LogOn`` -> ``logon`` /
``logon-failed``, ``LogOff`` -> ``logoff``, ``TGT`` -> ``kerberos-tgt``,
``TGS`` -> ``kerberos-service-ticket``, ``AuthMap`` -> ``auth-map``.
``source.hostname`` is the source computer, ``host.name`` the destination.
When a ``redteam.txt`` (``time,user@domain,source computer,destination
computer``) lies beside the file, matching events get ``label`` ``malicious``
and every other event ``benign`` (so ``threatml evaluate auth`` can score them).

**Generic CSV**: a CSV with a header whose columns are mapped to auth fields
by a JSON file beside it, named ``<file name>.authmap.json`` (for one file) or
``authmap.json`` (for every CSV in the folder)::

    {"columns": {"@timestamp": "time", "user.name": "account", "source.ip": "client",
                 "host.name": "server", "event.outcome": "result"},
     "success_values": ["ok", "success", "true", "1"],
     "time_unit": "s"}

``columns`` maps schema fields to CSV column names (any ``auth`` field;
``event.action`` defaults to ``logon`` / ``logon-failed`` from the outcome).
Outcome values in ``success_values`` (case-insensitive) are successes, any
other non-empty value a failure. ``@timestamp`` may be epoch numbers in
``time_unit`` (``s`` or ``ms``) or date-time text (read as UTC unless it has
an offset). A mapped column missing from the file is an
:class:`InputError` naming the file and the column.

Bad rows (wrong number of fields) are skipped and counted with their line number.

>>> import pathlib, tempfile
>>> from threatml.errors import ReadReport
>>> p = pathlib.Path(tempfile.mkdtemp()) / "auth.txt"
>>> _ = p.write_text("1,U12@DOM1,U12@DOM1,C1250,C586,NTLM,Network,LogOn,Fail\\n")
>>> b = next(LanlAuthReader().read(p, ReadReport()))
>>> b.frame[["event.action", "user.name", "source.hostname", "host.name"]].values.tolist()
[['logon-failed', 'u12', 'c1250', 'c586']]
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.events.schema import SCHEMAS
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary

LANL_COLUMNS = ["time", "src_user", "dst_user", "src_computer", "dst_computer", "auth_type", "logon_type",
                "orientation", "outcome"]
_LANL_LINE = re.compile(rb"^\d+,(?:[^,]*@[^,]*|\?),(?:[^,]*@[^,]*|\?),[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,(?:Success|Fail)\r?$")
_ORIENT = {"logon": "logon", "logoff": "logoff", "tgt": "kerberos-tgt", "tgs": "kerberos-service-ticket",
           "authmap": "auth-map"}
_AUTH_FIELDS = {f.name for f in SCHEMAS["auth"]}
DEFAULT_SUCCESS = ("success", "succeeded", "ok", "true", "1", "yes", "accepted", "allow", "allowed")


def mapping_for(path: Path) -> Path | None:
    """The column-mapping file that applies to ``path``, if any."""
    path = Path(path)
    for cand in (path.with_name(path.name + ".authmap.json"), path.with_name("authmap.json")):
        if cand.is_file():
            return cand
    return None


def _lower_clean(s: pd.Series) -> pd.Series:
    s = s.fillna("").astype("str").str.strip().str.lower()
    return s.mask(s == "?", "")


class LanlAuthReader(Reader):
    """LANL auth.txt and mapped generic authentication CSV -> auth events."""

    name = "lanl"
    kinds = ("auth",)

    def __init__(self, origin: float = 0.0):
        self.origin = float(origin)

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        lines = head.split(b"\n")
        if len(lines) > 1 and not head.endswith(b"\n"):
            lines = lines[:-1]
        lines = [ln for ln in lines[:20] if ln.strip()]
        if lines and _LANL_LINE.match(lines[0]) and sum(bool(_LANL_LINE.match(ln)) for ln in lines) >= 0.8 * len(lines):
            return True
        return path is not None and mapping_for(Path(path)) is not None and b"," in (lines[0] if lines else b"")

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        mp = mapping_for(path)
        from threatml.readers.base import read_head

        first = read_head(path, 4096).split(b"\n", 1)[0]
        if _LANL_LINE.match(first) or mp is None:
            yield from self._read_lanl(path, report, batch_size)
        else:
            yield from self._read_mapped(path, mp, report, batch_size)

    # ------------------------------------------------------------------
    def _batches(self, path: Path, report: ReadReport, batch_size: int, names: list[str] | None):
        src = str(path)
        bad = {"n": 0, "first": None}

        def on_bad(row) -> str:
            bad["n"] += 1
            if bad["first"] is None:
                bad["first"] = f"line {row.number}" if row.number is not None else row.text[:80]
            return "skip"

        read_opts = pcsv.ReadOptions(column_names=names, block_size=16 << 20) if names else \
            pcsv.ReadOptions(block_size=16 << 20)
        cols = names
        with open_binary(path, report) as fh:
            try:
                reader = pcsv.open_csv(fh, read_options=read_opts,
                                       parse_options=pcsv.ParseOptions(invalid_row_handler=on_bad),
                                       convert_options=pcsv.ConvertOptions(
                                           column_types={c: pa.string() for c in (cols or [])},
                                           strings_can_be_null=False))
            except pa.ArrowInvalid as exc:
                raise InputError(path, f"not a readable CSV: {exc}") from None
            if cols is None:  # header file: every column as text
                cols = reader.schema.names
            try:
                for rb in reader:
                    frame = rb.to_pandas()
                    for i in range(0, len(frame), batch_size):
                        yield frame.iloc[i:i + batch_size]
            except pa.ArrowInvalid as exc:
                report.skip(src, f"CSV parsing stopped: {exc}")
        if bad["n"]:
            report.skip(src, "row with the wrong number of fields", where=bad["first"], n=bad["n"])

    def _read_lanl(self, path: Path, report: ReadReport, batch_size: int) -> Iterator[EventBatch]:
        name = path.name
        offset = 0
        redteam = self._redteam(path, report)
        for chunk in self._batches(path, report, batch_size, LANL_COLUMNS):
            n = len(chunk)
            su = chunk["src_user"].fillna("").astype("str").str.partition("@")
            du = chunk["dst_user"].fillna("").astype("str").str.partition("@")
            outcome = np.where(chunk["outcome"].astype("str").str.lower().str.startswith("succ"), "success", "failure")
            orient = chunk["orientation"].fillna("").astype("str").str.lower().map(_ORIENT).fillna("other")
            action = np.where((orient == "logon") & (outcome == "failure"), "logon-failed", orient)
            frame = pd.DataFrame({
                "event.id": [f"{name}:{offset + i + 1}" for i in range(n)],
                "event.dataset": "lanl.auth",
                "@timestamp": pd.to_numeric(chunk["time"], errors="coerce").to_numpy("float64") + self.origin,
                "event.action": action,
                "event.outcome": outcome,
                "user.name": _lower_clean(su[0]).to_numpy(),
                "user.domain": _lower_clean(su[2]).to_numpy(),
                "user.effective.name": _lower_clean(du[0]).to_numpy(),
                "source.hostname": _lower_clean(chunk["src_computer"]).to_numpy(),
                "host.name": _lower_clean(chunk["dst_computer"]).to_numpy(),
                "auth.method": _lower_clean(chunk["auth_type"]).to_numpy(),
                "auth.logon_type": _lower_clean(chunk["logon_type"]).to_numpy(),
            })
            if redteam is not None:
                key = (chunk["time"].fillna("").astype("str").str.strip().to_numpy(object) + "|"
                       + frame["user.name"].to_numpy(object) + "|" + frame["source.hostname"].to_numpy(object) + "|"
                       + frame["host.name"].to_numpy(object))
                key = pd.Series(key, dtype=object)
                bad = key.isin(redteam).to_numpy()
                frame["label"] = np.where(bad, "malicious", "benign")
                frame["label.detail"] = np.where(bad, "lanl redteam", "")
            offset += n
            yield EventBatch.of("auth", frame, source=str(path))

    def _redteam(self, path: Path, report: ReadReport) -> set[str] | None:
        """Keys ``time|user|src|dst`` of the red-team events in a ``redteam.txt`` beside the file, if any."""
        for cand in (path.with_name("redteam.txt"), path.with_name("redteam.txt.gz")):
            if cand.is_file():
                try:
                    rt = pd.read_csv(cand, header=None, names=["t", "user", "src", "dst"], dtype=str,
                                     compression="infer")
                except (OSError, ValueError) as exc:
                    report.error(str(cand), f"red-team labels unreadable: {exc}")
                    return None
                u = rt["user"].fillna("").str.partition("@")[0].str.lower()
                return set(rt["t"].str.strip() + "|" + u + "|" + rt["src"].str.lower() + "|" + rt["dst"].str.lower())
        return None

    def _read_mapped(self, path: Path, mp: Path, report: ReadReport, batch_size: int) -> Iterator[EventBatch]:
        try:
            spec = json.loads(mp.read_text())
            columns = dict(spec["columns"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(mp, f"bad column mapping (need {{\"columns\": {{field: column}}}}): {exc}") from None
        unknown = [f for f in columns if f not in _AUTH_FIELDS]
        if unknown:
            raise InputError(mp, f"unknown auth fields in the mapping: {unknown}; known: {sorted(_AUTH_FIELDS)}")
        success = {str(v).lower() for v in spec.get("success_values", DEFAULT_SUCCESS)}
        unit = str(spec.get("time_unit", "s"))
        name = path.name
        offset = 0
        for chunk in self._batches(path, report, batch_size, None):
            missing = [c for c in columns.values() if c not in chunk.columns]
            if missing:
                raise InputError(path, f"columns named in {mp.name} are missing: {missing}", where="header")
            n = len(chunk)
            frame = pd.DataFrame({f: chunk[c].to_numpy() for f, c in columns.items()})
            if "@timestamp" in frame:
                raw = frame["@timestamp"].astype("str")
                num = pd.to_numeric(raw, errors="coerce")
                if num.notna().mean() > 0.5:
                    ts = num.to_numpy("float64") / (1000.0 if unit == "ms" else 1.0)
                else:
                    dt = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
                    ts = dt.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
                    ts[dt.isna().to_numpy()] = np.nan
                bad = int(np.isnan(ts).sum())
                if bad:
                    report.note(str(path), "unreadable time value (time set to NaN)", n=bad)
                frame["@timestamp"] = ts
            if "event.outcome" in frame:
                v = frame["event.outcome"].fillna("").astype("str").str.strip().str.lower()
                frame["event.outcome"] = np.where(v == "", "", np.where(v.isin(success), "success", "failure"))
            if "event.action" not in frame:
                out = frame.get("event.outcome", pd.Series([""] * n))
                frame["event.action"] = np.where(out == "failure", "logon-failed", "logon")
            for f in ("user.name", "user.target.name", "user.effective.name"):
                if f in frame:
                    frame[f] = frame[f].fillna("").astype("str").str.lower()
            frame["event.id"] = [f"{name}:{offset + i + 2}" for i in range(n)]
            frame["event.dataset"] = "csv.auth"
            offset += n
            yield EventBatch.of("auth", frame, source=str(path))
