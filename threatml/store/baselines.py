"""Identity baselines kept in the project's DuckDB store, beside scans and findings.

One table, created on first use::

    baselines(domain VARCHAR, entity VARCHAR, state JSON, updated TIMESTAMP,
              PRIMARY KEY (domain, entity))

``domain`` names the kind of state (``auth.users``, ``auth.graph``,
``auth.risk``), ``entity`` the user (or ``*`` for whole-population state),
``state`` its JSON. A store file that does not exist yet is created through
:class:`~threatml.store.duckdb_store.Store` first (so it is a valid ThreatML
store with its ``meta`` table). Saving replaces the rows of the entities it writes, so
baselines grow incrementally from scan to scan. The connection is opened only
for the load and the save, never held during a scan.

>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "s.duckdb")
>>> save_states(p, "auth.users", {"alice": {"logons": 3}})
1
>>> load_states(p, "auth.users")
{'alice': {'logons': 3}}
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from threatml.errors import ThreatMLError

_DDL = """CREATE TABLE IF NOT EXISTS baselines (
    domain VARCHAR NOT NULL, entity VARCHAR NOT NULL, state JSON, updated TIMESTAMP,
    PRIMARY KEY (domain, entity))"""


def _connect(path: str | Path, read_only: bool = False):
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise ThreatMLError(f"{path}: cannot open the store for baselines: {exc}") from None


def load_states(path: str | Path, domain: str) -> dict[str, dict]:
    """Every entity's state of ``domain`` ({} when the store or table does not exist yet)."""
    if not Path(path).exists():
        return {}
    con = _connect(path)
    try:
        con.execute(_DDL)
        rows = con.execute("SELECT entity, state FROM baselines WHERE domain = ?", [domain]).fetchall()
    finally:
        con.close()
    return {e: json.loads(s) for e, s in rows}


def save_states(path: str | Path, domain: str, states: dict[str, dict]) -> int:
    """Insert or replace the states of ``domain``; returns how many were written."""
    if not states:
        return 0
    if not Path(path).exists():
        # a new store is created by the Store class, so that it carries the meta table it checks for
        from threatml.store.duckdb_store import Store

        Store(path).close()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [(domain, e, json.dumps(s, separators=(",", ":")), now) for e, s in states.items()]
    con = _connect(path)
    try:
        con.execute(_DDL)
        con.execute("BEGIN")
        con.executemany("INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    finally:
        con.close()
    return len(rows)
