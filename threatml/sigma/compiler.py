"""Compile loaded Sigma rules to DuckDB SQL expressions, grouped by the event kind they run on.

Each rule is converted with the pySigma SQLite backend in its DuckDB dialect
(:mod:`threatml.sigma.backend`) through the field-mapping pipeline of its log
source (:mod:`threatml.sigma.mapping`), then checked by DuckDB itself against
an empty table (so regular expressions RE2 cannot compile, or SQL DuckDB
rejects, are reported per rule instead of failing a scan). Rules whose log
source we have no events for are counted as ``no-event-source``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from threatml.sigma.backend import DuckDBSigmaBackend
from threatml.sigma.loader import LoadedRule, RuleIssue
from threatml.sigma.mapping import Source, pipeline_for, sources_for

LEVEL_SCORE: dict[str, float] = {"informational": 0.05, "low": 0.3, "medium": 0.55, "high": 0.8, "critical": 0.95}
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_IDENT = re.compile(r'"((?:[^"]|"")+)"')
_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")


@dataclass
class CompiledRule:
    """One Sigma rule ready to run: its SQL condition over the columns it names."""

    rule_id: str
    title: str
    level: str
    techniques: list[str]
    tags: list[str]
    kind: str
    source: str
    condition: str
    columns: tuple[str, ...]
    path: str
    description: str = ""

    @property
    def score(self) -> float:
        return LEVEL_SCORE.get(self.level, 0.55)


@dataclass
class CompileResult:
    rules: list[CompiledRule] = field(default_factory=list)
    issues: list[RuleIssue] = field(default_factory=list)

    def by_kind(self) -> dict[str, list[CompiledRule]]:
        out: dict[str, list[CompiledRule]] = {}
        for r in self.rules:
            out.setdefault(r.kind, []).append(r)
        return out


def columns_of(sql: str) -> tuple[str, ...]:
    """Column names a SQL expression names (double-quoted identifiers outside string literals).

    >>> columns_of('"a.b" ILIKE \\'%"x"%\\' AND lower("c") = lower(\\'d\\')')
    ('a.b', 'c')
    """
    seen: dict[str, None] = {}
    for m in _IDENT.finditer(_LITERAL.sub("''", sql)):
        seen.setdefault(m.group(1).replace('""', '"'), None)
    return tuple(seen)


def techniques_of(tags) -> list[str]:
    """ATT&CK technique ids from Sigma tags (``attack.t1059.001`` -> ``T1059.001``)."""
    out = []
    for t in tags:
        if str(getattr(t, "namespace", "")).lower() == "attack" and _TECHNIQUE.match(str(t.name).lower()):
            out.append(str(t.name).upper())
    return out


def _level(rule) -> str:
    lv = getattr(rule, "level", None)
    return str(getattr(lv, "name", lv) or "medium").lower()


class RuleCompiler:
    """Compiles rules per log source, reusing one backend per source."""

    def __init__(self) -> None:
        self._backends: dict[str, DuckDBSigmaBackend] = {}
        self._con = duckdb.connect()

    def _backend(self, source: Source) -> DuckDBSigmaBackend:
        if source.name not in self._backends:
            self._backends[source.name] = DuckDBSigmaBackend(pipeline_for(source))
        return self._backends[source.name]

    def _check(self, sql: str, cols: tuple[str, ...]) -> None:
        """Let DuckDB bind and plan the expression once over an empty all-text table."""
        select = ", ".join(f"CAST(NULL AS VARCHAR) AS \"{c.replace(chr(34), chr(34) * 2)}\"" for c in cols) or "1 AS x"
        self._con.execute(f"SELECT count(*) FROM (SELECT {select} LIMIT 0) t WHERE {sql}").fetchall()

    def compile(self, loaded: list[LoadedRule]) -> CompileResult:
        res = CompileResult()
        for lr in loaded:
            r = lr.rule
            rid, title = str(r.id or ""), str(r.title or "")
            ls = {"product": r.logsource.product, "category": r.logsource.category, "service": r.logsource.service}
            sources = sources_for(ls)
            if not sources:
                desc = "/".join(f"{k}={v}" for k, v in ls.items() if v)
                res.issues.append(RuleIssue(lr.path, "no-event-source", f"no event kind for log source {desc}", rid, title))
                continue
            for src in sources:
                try:
                    where = self._backend(src).where_clause(r)
                    cond = where if src.prefilter == "true" else f"({src.prefilter}) AND ({where})"
                    cols = columns_of(cond)
                    self._check(cond, cols)
                except Exception as exc:  # pySigma and DuckDB raise many error types; the rule is reported
                    msg = " ".join(str(exc).split())[:300]
                    res.issues.append(RuleIssue(lr.path, "compile-error", f"{src.kind}: {type(exc).__name__}: {msg}",
                                                rid, title))
                    continue
                res.rules.append(CompiledRule(
                    rule_id=rid, title=title, level=_level(r), techniques=techniques_of(r.tags),
                    tags=[f"{t.namespace}.{t.name}" for t in r.tags], kind=src.kind, source=src.name,
                    condition=cond, columns=cols, path=lr.path, description=str(r.description or "")[:500]))
        return res
