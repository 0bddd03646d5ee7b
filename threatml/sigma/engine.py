"""Evaluate compiled Sigma rules over an event frame in DuckDB, all rules of a kind in one pass.

The frame's columns that the rules name are handed to DuckDB as an Arrow
table (no copy for Arrow-backed strings); fields the batch lacks become NULL
columns, so a rule on a field the reader does not carry simply does not match.
Float columns (ports, pids) are given as text without a trailing ``.0``,
since Sigma compares numbers as written (``DestinationPort: 3389``).

Rows are first collapsed to their distinct combinations of the named
columns (``GROUP BY ALL`` with the row numbers in a list; telemetry repeats
itself: the same services, updaters and shells with the same arguments), the
lower-cased copies are computed on those, and the rules run once per
combination; matches are expanded back to rows with ``unnest``.

Every rule runs as its own filter (``SELECT k, unnest(__rows) ... WHERE
<rule>``), 16 of them joined by ``UNION ALL`` per query: a filter lets DuckDB
skip the rest of an AND as soon as its first part fails, which measured
faster than one wide ``SELECT`` of all rules (9.8 s against 15.3 s for 1,528
process rules over 20,000 events), and grouping 16 filters per query cut the
CPU time by about a third against one query per rule. A rule that fails at
run time (a cast DuckDB refuses on this batch's values) is disabled and
listed in :attr:`RuleEngine.failed`, never fatal.

>>> import pandas as pd
>>> from threatml.sigma.compiler import CompiledRule
>>> r = CompiledRule("1", "whoami", "low", [], [], "process", "process_creation",
...                  'ends_with("lower:process.executable", \\'whoami.exe\\')', ("lower:process.executable",), "x.yml")
>>> fr = pd.DataFrame({"process.executable": ["C:\\\\Windows\\\\WHOAMI.EXE", "cmd.exe"]})
>>> RuleEngine([r]).matches(fr)
{0: array([0])}
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from threatml.sigma.backend import LOWER
from threatml.sigma.compiler import CompiledRule
from threatml.sigma.mapping import raw_candidates

#: rules per DuckDB query (a UNION ALL of filters): fewer round trips, same short-circuiting
CHUNK = 16

def _as_text(col: pd.Series) -> pa.Array:
    """A column as an Arrow string array; integral floats lose their ``.0``, NaN becomes NULL."""
    if pd.api.types.is_float_dtype(col.dtype):
        v = col.to_numpy(dtype="float64")
        out = np.full(len(v), None, dtype=object)
        ok = ~np.isnan(v)
        integral = ok & (np.floor(v) == v) & (np.abs(v) < 2**53)
        out[integral] = v[integral].astype("int64").astype(str)
        other = ok & ~integral
        out[other] = v[other].astype(str)
        return pa.array(out, type=pa.string())
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return pa.array(col.astype(str).to_numpy(dtype=object), type=pa.string())
    try:
        return pa.array(col, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(col.astype(str).to_numpy(dtype=object), type=pa.string())


class RuleEngine:
    """Runs a fixed list of compiled rules (of one kind) over frames of that kind."""

    def __init__(self, rules: list[CompiledRule], threads: int = 1):
        self.rules = list(rules)
        self.columns: tuple[str, ...] = tuple(dict.fromkeys(c for r in self.rules for c in r.columns))
        self._con = duckdb.connect(config={"threads": threads})
        self._base: tuple[str, ...] = tuple(dict.fromkeys(c[len(LOWER):] if c.startswith(LOWER) else c
                                                          for c in self.columns))
        #: rule index -> error message, for rules disabled after failing at run time
        self.failed: dict[int, str] = {}
        #: distinct value combinations in the last batch (rules run once per combination)
        self.last_distinct = 0

    def _table(self, frame: pd.DataFrame) -> pa.Table:
        """The base (not lower-cased) columns the rules name, as text, plus the row number."""
        arrays, names = [pa.array(np.arange(len(frame), dtype="int64"))], ["__row"]
        for c in self._base:
            src = next((k for k in raw_candidates(c) if k in frame.columns), None)
            arrays.append(_as_text(frame[src]) if src is not None else pa.nulls(len(frame), pa.string()))
            names.append(c)
        return pa.Table.from_arrays(arrays, names=names)

    def _one_by_one(self, chunk: list[int]) -> dict[str, np.ndarray]:
        """Run a chunk rule by rule (after the chunk failed), disabling the rules that fail."""
        ks, rs = [], []
        for i in chunk:
            try:
                r = self._con.execute(f"SELECT unnest(__rows) AS r FROM ev WHERE {self.rules[i].condition}").fetchnumpy()["r"]
            except duckdb.Error as exc:
                self.failed[i] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
                continue
            ks.append(np.full(len(r), i, dtype="int64"))
            rs.append(np.asarray(r, dtype="int64"))
        return {"k": np.concatenate(ks) if ks else np.zeros(0, "int64"), "r": np.concatenate(rs) if rs else np.zeros(0, "int64")}

    def matches(self, frame: pd.DataFrame) -> dict[int, np.ndarray]:
        """Rule index -> row positions (sorted) where the rule matched; rules without matches are absent."""
        if not self.rules or frame.empty:
            return {}
        self._con.register("ev_arrow", self._table(frame))
        q = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731
        base = ", ".join(q(c) for c in self._base)
        lowers = "".join(f", lower({q(c[len(LOWER):])}) AS {q(c)}" for c in self.columns if c.startswith(LOWER))
        group = f"SELECT {base}, list(__row) AS __rows FROM ev_arrow GROUP BY ALL" if base else \
            "SELECT list(__row) AS __rows FROM ev_arrow"
        self._con.execute(f"CREATE OR REPLACE TEMP TABLE ev AS SELECT *{lowers} FROM ({group})")
        self._con.unregister("ev_arrow")
        self.last_distinct = self._con.execute("SELECT count(*) FROM ev").fetchone()[0]
        out: dict[int, np.ndarray] = {}
        try:
            live = [i for i in range(len(self.rules)) if i not in self.failed]
            for start in range(0, len(live), CHUNK):
                chunk = live[start:start + CHUNK]
                sql = " UNION ALL ".join(f"SELECT {i} AS k, unnest(__rows) AS r FROM ev WHERE {self.rules[i].condition}"
                                         for i in chunk)
                try:
                    got = self._con.execute(sql).fetchnumpy()
                except duckdb.Error:
                    got = self._one_by_one(chunk)
                ks, rs = np.asarray(got["k"], dtype="int64"), np.asarray(got["r"], dtype="int64")
                for k in np.unique(ks):
                    out[int(k)] = np.sort(rs[ks == k])
        finally:
            self._con.execute("DROP TABLE IF EXISTS ev")
        return out
