"""Saved hunts: named SQL queries over the store that run after every scan.

A hunt is read-only SQL (checked by running it when saved). ``$scan_id`` in
the text stands for the scan just finished, so a hunt can look at new
findings only. Results (up to :data:`MAX_ROWS` rows) are stored per scan in
``hunt_results`` and shown in the scan summary; a hunt that fails is recorded
with its error and the scan goes on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from threatml.errors import ThreatMLError
from threatml.store import Store

MAX_ROWS = 100
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class HuntResult:
    name: str
    columns: list[str]
    rows: list[tuple]
    error: str = ""


def _bind(sql: str, scan_id: int) -> str:
    return sql.replace("$scan_id", str(int(scan_id)))


def save(store: Store, name: str, sql: str, description: str = "") -> None:
    """Store (or replace) hunt ``name`` after checking that its SQL runs read-only."""
    if not _NAME.match(name):
        raise ThreatMLError(f"hunt name {name!r}: use letters, digits, '_', '.', '-' (up to 64)")
    last = store.con.execute("SELECT coalesce(max(scan_id), 0) FROM scans").fetchall()[0][0]
    store.query(_bind(sql, last))  # ThreatMLError with DuckDB's message, or for a write statement
    store.con.execute("INSERT OR REPLACE INTO hunts VALUES (?, ?, ?, ?)",
                      [name, sql, description, datetime.now(timezone.utc).replace(tzinfo=None)])


def delete(store: Store, name: str) -> None:
    if not store.con.execute("SELECT count(*) FROM hunts WHERE name = ?", [name]).fetchall()[0][0]:
        raise ThreatMLError(f"no saved hunt {name!r} in {store.path}")
    store.con.execute("DELETE FROM hunts WHERE name = ?", [name])


def saved(store: Store) -> list[tuple[str, str, str]]:
    """(name, sql, description) of every saved hunt, by name."""
    return [tuple(r) for r in store.con.execute("SELECT name, sql, description FROM hunts ORDER BY name").fetchall()]


def run_saved(store: Store, scan_id: int) -> list[HuntResult]:
    """Run every saved hunt for ``scan_id`` and record the results in the store."""
    results = []
    for name, sql, _ in saved(store):
        try:
            cols, rows = store.query(_bind(sql, scan_id))
            res = HuntResult(name, cols, rows[:MAX_ROWS])
            total = len(rows)
        except ThreatMLError as exc:
            res, total = HuntResult(name, [], [], error=str(exc)), 0
        results.append(res)
        store.con.execute(
            "INSERT OR REPLACE INTO hunt_results VALUES (?, ?, ?, ?, ?, ?::JSON, ?)",
            [scan_id, name, datetime.now(timezone.utc).replace(tzinfo=None), total, res.columns,
             json.dumps([list(r) for r in res.rows], default=str), res.error or None])
    return results
