"""The embedded store: scans, findings and incidents in one DuckDB file.

Every scan appends; nothing is overwritten, so a store is a history that
``threatml hunt "SQL"`` can query. Tables:

* ``meta(key, value)``: ``schema_version`` and the ThreatML version that made it.
* ``scans``: one row per scan (id, start/finish time, command, paths, summary JSON, version).
* ``findings``: one row per finding and scan. Lists are ``VARCHAR[]``,
  ``related``/``attributes`` are ``JSON``. Times are both ``TIMESTAMP`` (UTC,
  ``start_time``/``end_time``, for people) and epoch seconds
  (``start_epoch``/``end_epoch``, exact round trip).
* ``incidents``: one row per incident and scan, with its ``rank`` in that scan.
* ``incident_findings``: which findings make up which incident.

The primary key of findings and incidents is ``(scan_id, id)``: finding ids
are content hashes, so scanning the same data twice yields the same ids and
each scan keeps its own copy.

>>> import tempfile, os
>>> from threatml.findings import Finding
>>> path = os.path.join(tempfile.mkdtemp(), "t.duckdb")
>>> with Store(path) as st:
...     sid = st.begin_scan(["x.pcap"], "scan")
...     n = st.add_findings(sid, [Finding.make(detector="d", detector_version="1", title="t",
...                                        start=0, end=1, entity="10.0.0.1", score=0.5)])
...     st.finish_scan(sid, {"records": 10})
...     st.query("SELECT entity, severity FROM findings")
(['entity', 'severity'], [('10.0.0.1', 'medium')])
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import duckdb
import numpy as np
import pyarrow as pa

from threatml import __version__
from threatml.errors import ThreatMLError
from threatml.findings.incidents import Incident
from threatml.findings.schema import SEVERITY_RANK, Finding

SCHEMA_VERSION = 2

_DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS scan_ids START 1",
    """CREATE TABLE IF NOT EXISTS scans (
        scan_id BIGINT PRIMARY KEY, started TIMESTAMP, finished TIMESTAMP, command VARCHAR,
        paths VARCHAR[], summary JSON, version VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS findings (
        scan_id BIGINT NOT NULL, id VARCHAR NOT NULL, detector VARCHAR, detector_version VARCHAR,
        title VARCHAR, start_time TIMESTAMP, end_time TIMESTAMP, start_epoch DOUBLE, end_epoch DOUBLE,
        entity_type VARCHAR, entity VARCHAR, score DOUBLE, severity VARCHAR, severity_rank TINYINT,
        attack VARCHAR[], evidence VARCHAR[], evidence_count BIGINT, explanation VARCHAR[],
        related JSON, source_files VARCHAR[], attributes JSON, PRIMARY KEY (scan_id, id))""",
    """CREATE TABLE IF NOT EXISTS incidents (
        scan_id BIGINT NOT NULL, id VARCHAR NOT NULL, rank INTEGER, entity_type VARCHAR, entity VARCHAR,
        start_time TIMESTAMP, end_time TIMESTAMP, start_epoch DOUBLE, end_epoch DOUBLE, score DOUBLE,
        severity VARCHAR, severity_rank TINYINT, detectors VARCHAR[], attack VARCHAR[], finding_ids VARCHAR[],
        title VARCHAR, summary VARCHAR[], role VARCHAR, related JSON, evidence_count BIGINT,
        PRIMARY KEY (scan_id, id))""",
    """CREATE TABLE IF NOT EXISTS incident_findings (
        scan_id BIGINT NOT NULL, incident_id VARCHAR NOT NULL, finding_id VARCHAR NOT NULL,
        PRIMARY KEY (scan_id, incident_id, finding_id))""",
]

# schema version 2: incidents across domains, analyst feedback, suppressions and saved hunts
_DDL_V2 = [
    "ALTER TABLE incidents ADD COLUMN IF NOT EXISTS tactics VARCHAR[]",
    "ALTER TABLE incidents ADD COLUMN IF NOT EXISTS entities VARCHAR[]",
    # one verdict per finding id (the latest wins); finding ids are stable across scans
    """CREATE TABLE IF NOT EXISTS feedback (
        finding_id VARCHAR PRIMARY KEY, verdict VARCHAR NOT NULL, comment VARCHAR, analyst VARCHAR,
        detector VARCHAR, entity_type VARCHAR, entity VARCHAR, title VARCHAR, score DOUBLE, marked TIMESTAMP)""",
    "CREATE SEQUENCE IF NOT EXISTS suppression_ids START 1",
    """CREATE TABLE IF NOT EXISTS suppressions (
        id BIGINT PRIMARY KEY, detector VARCHAR, entity_type VARCHAR, entity VARCHAR, title_like VARCHAR,
        reason VARCHAR, created TIMESTAMP, expires TIMESTAMP, from_finding VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS hunts (
        name VARCHAR PRIMARY KEY, sql VARCHAR NOT NULL, description VARCHAR, created TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS hunt_results (
        scan_id BIGINT NOT NULL, name VARCHAR NOT NULL, ran TIMESTAMP, row_count BIGINT,
        columns VARCHAR[], rows JSON, error VARCHAR, PRIMARY KEY (scan_id, name))""",
]

# statement types query() runs; anything else (INSERT, DROP, ATTACH, COPY, ...) is refused
_READ_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}

_STR_LIST = pa.list_(pa.string())


class Store:
    """A ThreatML store in one DuckDB file, created if missing.

    Opening an existing store again is safe; a store written by a newer
    ThreatML (higher ``schema_version``) is refused rather than misread. A file
    that is not a DuckDB database, or a DuckDB database that is not a ThreatML
    store, raises :class:`ThreatMLError` naming the file.
    """

    def __init__(self, path: str | Path = "threatml.duckdb", read_only: bool = False):
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise ThreatMLError(f"{self.path}: no store here")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_file() and self.path.stat().st_size == 0:
                self.path.unlink()  # an empty placeholder file holds no data; DuckDB refuses it
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise ThreatMLError(f"{self.path}: cannot open as a ThreatML store ({_first_line(exc)})") from None
        try:
            self._prepare(read_only)
        except BaseException:
            self.con.close()
            raise

    # --- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _prepare(self, read_only: bool) -> None:
        tables = {r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
        if "meta" not in tables:
            if tables:
                raise ThreatMLError(f"{self.path}: a DuckDB database, but not a ThreatML store (no meta table)")
            if read_only:
                raise ThreatMLError(f"{self.path}: empty database, not a ThreatML store")
            self._create()
            return
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        row = rows[0] if rows else None
        try:
            found = int(row[0]) if row else 0
        except ValueError:
            found = 0
        if found > SCHEMA_VERSION:
            raise ThreatMLError(
                f"{self.path}: store schema version {found} is newer than this ThreatML understands "
                f"({SCHEMA_VERSION}); upgrade ThreatML")
        if found < 1:
            raise ThreatMLError(f"{self.path}: ThreatML store without a valid schema_version")
        if found < 2 and not read_only:
            self._migrate(_DDL_V2, 2)
        # future migrations go here: if found < 3: ...

    def _migrate(self, ddl: list[str], version: int) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            for stmt in ddl:
                self.con.execute(stmt)
            self.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _create(self) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            for ddl in _DDL + _DDL_V2:
                self.con.execute(ddl)
            self.con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("created_by", f"threatml {__version__}"),
                 ("created", _now().isoformat())],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    # --- writing -------------------------------------------------------------

    def begin_scan(self, paths: Iterable[str], command: str) -> int:
        """Record the start of a scan; returns its id (1, 2, ...)."""
        scan_id = int(self.con.execute("SELECT nextval('scan_ids')").fetchall()[0][0])
        self.con.execute(
            "INSERT INTO scans (scan_id, started, command, paths, version) VALUES (?, ?, ?, ?, ?)",
            [scan_id, _now(), command, [str(p) for p in paths], __version__],
        )
        return scan_id

    def finish_scan(self, scan_id: int, summary: dict) -> None:
        """Record the end of a scan and its summary (any JSON-able dict)."""
        self.con.execute(
            "UPDATE scans SET finished = ?, summary = ?::JSON WHERE scan_id = ?",
            [_now(), _dumps(summary), scan_id],
        )

    def add_findings(self, scan_id: int, findings: list[Finding]) -> int:
        """Append findings to a scan in one batch; returns how many rows were new."""
        by_id: dict[str, Finding] = {}
        for f in findings:
            by_id.setdefault(f.id, f)  # first of each id wins (ids are content hashes)
        if not by_id:
            return 0
        ids, uniq = list(by_id), list(by_id.values())
        start = np.array([f.start for f in uniq], dtype=float)
        end = np.array([f.end for f in uniq], dtype=float)
        table = pa.table({
            "scan_id": pa.array([scan_id] * len(uniq), pa.int64()),
            "id": ids,
            "detector": [f.detector for f in uniq],
            "detector_version": [f.detector_version for f in uniq],
            "title": [f.title for f in uniq],
            "start_time": _timestamps(start),
            "end_time": _timestamps(end),
            "start_epoch": _epochs(start),
            "end_epoch": _epochs(end),
            "entity_type": [f.entity_type for f in uniq],
            "entity": [f.entity for f in uniq],
            "score": pa.array([f.score for f in uniq], pa.float64()),
            "severity": [f.severity for f in uniq],
            "severity_rank": pa.array([SEVERITY_RANK[f.severity] for f in uniq], pa.int8()),
            "attack": pa.array([f.attack for f in uniq], _STR_LIST),
            "evidence": pa.array([f.evidence for f in uniq], _STR_LIST),
            "evidence_count": pa.array([max(f.evidence_count, len(f.evidence)) for f in uniq], pa.int64()),
            "explanation": pa.array([f.explanation for f in uniq], _STR_LIST),
            "related": [json.dumps(f.related) for f in uniq],  # str -> list[str]: always valid JSON
            "source_files": pa.array([f.source_files for f in uniq], _STR_LIST),
            "attributes": [_dumps(f.attributes) for f in uniq],
        })
        return self._insert("findings", table, json_cols=("related", "attributes"))

    def add_incidents(self, scan_id: int, incidents: list[Incident]) -> int:
        """Append ranked incidents (and their finding links) to a scan; returns new incident rows."""
        if not incidents:
            return 0
        seen: set[str] = set()
        ranked = []
        for rank, inc in enumerate(incidents, 1):
            if inc.id not in seen:
                seen.add(inc.id)
                ranked.append((rank, inc))
        start = np.array([i.start for _, i in ranked], dtype=float)
        end = np.array([i.end for _, i in ranked], dtype=float)
        table = pa.table({
            "scan_id": pa.array([scan_id] * len(ranked), pa.int64()),
            "id": [i.id for _, i in ranked],
            "rank": pa.array([r for r, _ in ranked], pa.int32()),
            "entity_type": [i.entity_type for _, i in ranked],
            "entity": [i.entity for _, i in ranked],
            "start_time": _timestamps(start),
            "end_time": _timestamps(end),
            "start_epoch": _epochs(start),
            "end_epoch": _epochs(end),
            "score": pa.array([i.score for _, i in ranked], pa.float64()),
            "severity": [i.severity for _, i in ranked],
            "severity_rank": pa.array([SEVERITY_RANK[i.severity] for _, i in ranked], pa.int8()),
            "detectors": pa.array([i.detectors for _, i in ranked], _STR_LIST),
            "attack": pa.array([i.attack for _, i in ranked], _STR_LIST),
            "finding_ids": pa.array([i.finding_ids for _, i in ranked], _STR_LIST),
            "title": [i.title for _, i in ranked],
            "summary": pa.array([i.summary for _, i in ranked], _STR_LIST),
            "role": [i.role for _, i in ranked],
            "related": [_dumps(i.related) for _, i in ranked],
            "evidence_count": pa.array([i.evidence_count for _, i in ranked], pa.int64()),
            "tactics": pa.array([i.tactics for _, i in ranked], _STR_LIST),
            "entities": pa.array([i.entities for _, i in ranked], _STR_LIST),
        })
        links = [(i.id, fid) for _, i in ranked for fid in dict.fromkeys(i.finding_ids)]
        link_table = pa.table({
            "scan_id": pa.array([scan_id] * len(links), pa.int64()),
            "incident_id": [a for a, _ in links],
            "finding_id": [b for _, b in links],
        })
        self.con.execute("BEGIN TRANSACTION")
        try:
            n = self._insert("incidents", table, json_cols=("related",), transaction=False)
            self._insert("incident_findings", link_table, transaction=False)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return n

    def _insert(self, name: str, table: pa.Table, json_cols: tuple[str, ...] = (), transaction: bool = True) -> int:
        """One set-based INSERT from an Arrow table (never row by row); duplicates are ignored."""
        cols = table.column_names
        select = ", ".join(f'"{c}"::JSON' if c in json_cols else f'"{c}"' for c in cols)
        view = f"_threatml_new_{name}"
        before = self.con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
        self.con.register(view, table)
        try:
            if transaction:
                self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(
                    f"INSERT OR IGNORE INTO {name} ({', '.join(cols)}) SELECT {select} FROM {view}")
                if transaction:
                    self.con.execute("COMMIT")
            except BaseException:
                if transaction:
                    self.con.execute("ROLLBACK")
                raise
        finally:
            self.con.unregister(view)
        return int(self.con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] - before)

    # --- reading -------------------------------------------------------------

    def query(self, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
        """Run read-only SQL (SELECT, EXPLAIN, PRAGMA, CALL); returns (column names, rows).

        Several statements may be given; the last one's result is returned.
        Errors come back as :class:`ThreatMLError` with DuckDB's message.
        """
        try:
            stmts = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise ThreatMLError(f"SQL error: {_first_line(exc)}") from None
        if not stmts:
            raise ThreatMLError("SQL error: no statement given")
        for st in stmts:
            kind = str(st.type).rsplit(".", 1)[-1]
            if kind not in _READ_STATEMENTS:
                raise ThreatMLError(f"the store is queried read-only; {kind} statements are not allowed")
        try:
            for st in stmts[:-1]:
                self.con.execute(st)
            cur = self.con.execute(stmts[-1], params) if params else self.con.execute(stmts[-1])
            cols = [d[0] for d in (cur.description or [])]
            rows = cur.fetchall() if cur.description else []
        except duckdb.Error as exc:
            raise ThreatMLError(f"SQL error: {_first_line(exc)}") from None
        return cols, rows

    def findings(self, scan_id: int | None = None) -> list[Finding]:
        """Findings of one scan (or of every scan), by scan then start time."""
        where, args = ("WHERE scan_id = ?", [scan_id]) if scan_id is not None else ("", [])
        tbl = self.con.sql(
            f"""SELECT detector, detector_version, title, start_epoch, end_epoch, entity_type, entity, score,
                       severity, attack, evidence, evidence_count, explanation, related::VARCHAR AS related,
                       source_files, attributes::VARCHAR AS attributes
                FROM findings {where} ORDER BY scan_id, start_epoch, id""", params=args).to_arrow_table()
        out = []
        for r in tbl.to_pylist():
            r["start"], r["end"] = _num(r.pop("start_epoch")), _num(r.pop("end_epoch"))
            r["related"] = json.loads(r["related"]) if r["related"] else {}
            r["attributes"] = json.loads(r["attributes"]) if r["attributes"] else {}
            for k in ("attack", "evidence", "explanation", "source_files"):
                r[k] = r[k] or []
            out.append(Finding(**r))
        return out

    def incidents(self, scan_id: int | None = None) -> list[Incident]:
        """Incidents of one scan (or of every scan), in rank order within each scan."""
        where, args = ("WHERE scan_id = ?", [scan_id]) if scan_id is not None else ("", [])
        tbl = self.con.sql(
            f"""SELECT id, entity_type, entity, start_epoch, end_epoch, score, severity, detectors, attack,
                       finding_ids, title, summary, role, related::VARCHAR AS related, evidence_count,
                       tactics, entities
                FROM incidents {where} ORDER BY scan_id, rank""", params=args).to_arrow_table()
        out = []
        for r in tbl.to_pylist():
            r["start"], r["end"] = _num(r.pop("start_epoch")), _num(r.pop("end_epoch"))
            r["related"] = json.loads(r["related"]) if r["related"] else {}
            for k in ("detectors", "attack", "finding_ids", "summary", "tactics", "entities"):
                r[k] = r[k] or []
            out.append(Incident(**r))
        return out

    def scans(self) -> list[dict[str, Any]]:
        """Every scan, oldest first, with its summary parsed."""
        cols, rows = self.query(
            "SELECT scan_id, started, finished, command, paths, summary::VARCHAR AS summary, version "
            "FROM scans ORDER BY scan_id")
        out = []
        for row in rows:
            d = dict(zip(cols, row))
            d["summary"] = json.loads(d["summary"]) if d["summary"] else None
            out.append(d)
        return out


# --- helpers -----------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _num(v: float | None) -> float:
    return float("nan") if v is None else float(v)


def _epochs(epoch: np.ndarray) -> pa.Array:
    """Epoch seconds as DOUBLE, NaN/inf as NULL (what SQL users expect for "unknown")."""
    return pa.array(epoch, pa.float64(), mask=~np.isfinite(epoch))


def _timestamps(epoch: np.ndarray) -> pa.Array:
    """Epoch seconds -> Arrow UTC-naive microsecond timestamps; NaN and absurd values -> NULL."""
    bad = ~np.isfinite(epoch) | (np.abs(epoch) > 1e11)
    micros = np.round(np.where(bad, 0.0, epoch) * 1e6).astype(np.int64)
    return pa.array(micros, type=pa.timestamp("us"), mask=bad)


def _jsonable(obj: Any) -> Any:
    """Replace non-finite floats (invalid JSON) with their names, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return obj


def _dumps(obj: Any) -> str:
    return json.dumps(_jsonable(obj), default=str, allow_nan=False)
