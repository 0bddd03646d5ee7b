"""pySigma's SQLite backend, adjusted to the DuckDB SQL dialect we evaluate in.

We compile with ``pysigma-backend-sqlite`` and run the SQL in DuckDB over the
event frames. The dialects differ in ways that silently change results, so
each difference is handled here:

* SQLite ``LIKE`` ignores ASCII case, DuckDB ``LIKE`` does not, and SQLite
  ``=`` on text is case-sensitive unless collated while Sigma matching is
  not. DuckDB's ``ILIKE ... ESCAPE`` is also about seven times slower than
  ``contains``. So string values are matched against a lower-cased copy of
  the column (named ``lower:<field>``, built once per batch by the engine)
  with the lower-cased value: ``contains``/``starts_with``/``ends_with``/``=``
  for values with wildcards only at the ends, ``LIKE ... ESCAPE`` otherwise.
  ``|cased`` values (GLOB) and regular expressions use the original column.
* An OR of three or more such values on one field (Sigma's value lists,
  sometimes hundreds long) becomes one RE2 alternation of ``\\Q..\\E``
  literals: one pass over the text instead of one per value.
* ``REGEXP`` is not a DuckDB operator: ``regexp_matches(field, re)``
  (RE2 syntax; rules using look-arounds or back references fail to compile
  and are reported rule by rule).
* SQLite quotes identifiers with backticks, DuckDB with double quotes; our
  column names contain dots, so every field is double-quoted.
* ``COALESCE(expr, 0)`` around negations becomes ``COALESCE(expr, false)``
  (DuckDB will not mix BOOLEAN and INTEGER there).
* Sigma numbers (``EventID: 4624``) are compared as text, since our
  ``event.code`` and raw fields are strings: ``CAST(field AS VARCHAR) = '4624'``.

>>> from sigma.collection import SigmaCollection
>>> rule = SigmaCollection.from_yaml('''
... title: t
... logsource: {category: process_creation, product: windows}
... detection:
...   sel: {Image|endswith: '\\\\whoami.exe', EventID: 1}
...   condition: sel
... ''').rules[0]
>>> DuckDBSigmaBackend().where_clause(rule)
'ends_with("lower:Image", \\'\\\\whoami.exe\\') AND CAST("EventID" AS VARCHAR) = \\'1\\''
"""

from __future__ import annotations

from typing import ClassVar

from sigma.backends.sqlite import sqliteBackend
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionValueExpression
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import SigmaCasedString, SigmaString, SpecialChars

#: prefix of the lower-cased copy of a column that string matches read
LOWER = "lower:"


class DuckDBSigmaBackend(sqliteBackend):
    """SQLite-backend output rewritten for DuckDB (see the module docstring)."""

    identifier: ClassVar[str] = "threatml_duckdb"
    name: ClassVar[str] = "SQLite backend, DuckDB dialect"

    wildcard_match_expression: ClassVar[str] = "{field} ILIKE '{value}' ESCAPE '\\'"
    contains_expression: ClassVar[str] = "{field} ILIKE '%{value}%' ESCAPE '\\'"
    startswith_expression: ClassVar[str] = "{field} ILIKE '{value}%' ESCAPE '\\'"
    endswith_expression: ClassVar[str] = "{field} ILIKE '%{value}' ESCAPE '\\'"
    eq_expression: ClassVar[str] = "lower({field}) = lower({value})"
    re_expression: ClassVar[str] = "regexp_matches({field}, '{regex}')"
    null_safe_expression: ClassVar[str] = "COALESCE({expr}, false)"
    bool_expression: ClassVar[str] = "(lower(CAST({field} AS VARCHAR)) IN ({value}, {numeric_value}))"
    bool_numeric_values: ClassVar[dict[bool, str]] = {True: "'1'", False: "'0'"}
    compare_op_expression: ClassVar[str] = "TRY_CAST({field} AS DOUBLE) {operator} {value}"

    def __init__(self, processing_pipeline=None, collect_errors: bool = False, **options):
        options.setdefault("fulltext_field", "message")
        super().__init__(processing_pipeline, collect_errors, **options)

    def escape_and_quote_field(self, field: str) -> str:
        return '"' + field.replace('"', '""') + '"'

    def convert_condition_field_eq_val_num(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> str:
        return f"CAST({self.escape_and_quote_field(cond.field)} AS VARCHAR) = '{cond.value}'"

    def _lower_match(self, field: str, value: SigmaString) -> str:
        col = self.escape_and_quote_field(LOWER + field)
        parts = list(value.s)
        lead = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
        trail = len(parts) > int(lead) and parts[-1] == SpecialChars.WILDCARD_MULTI
        core = parts[int(lead):len(parts) - int(trail)]
        if all(isinstance(p, str) for p in core):
            lit = "'" + "".join(core).lower().replace("'", "''") + "'"
            if lead and trail:
                return f"contains({col}, {lit})"
            if lead:
                return f"ends_with({col}, {lit})"
            if trail:
                return f"starts_with({col}, {lit})"
            return f"{col} = {lit}"
        pattern = self.convert_value_str(value, None, no_quote=True).lower()
        return f"{col} LIKE '{pattern}' ESCAPE '\\'"

    def _piece(self, arg) -> tuple[str, str] | None:
        """(field, RE2 piece) for a case-insensitive literal match, None for anything else."""
        if isinstance(arg, ConditionFieldEqualsValueExpression) and arg.field:
            fld = arg.field
        elif isinstance(arg, ConditionValueExpression) and self.fulltext_field:
            fld = self.fulltext_field
        else:
            return None
        v = arg.value
        if type(v) is not SigmaString:
            return None
        parts = list(v.s)
        lead = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
        trail = len(parts) > int(lead) and parts[-1] == SpecialChars.WILDCARD_MULTI
        if isinstance(arg, ConditionValueExpression):
            lead = trail = True
            parts = [p for p in parts if p != SpecialChars.WILDCARD_MULTI] if len(parts) <= 3 else parts
        core = parts[int(lead and parts[:1] == [SpecialChars.WILDCARD_MULTI]):
                     len(parts) - int(trail and parts[-1:] == [SpecialChars.WILDCARD_MULTI])]
        if not core or not all(isinstance(p, str) for p in core):
            return None
        lit = "".join(core).lower()
        if "\\E" in lit or "\n" in lit:
            return None
        return fld, ("" if lead else "^") + "\\Q" + lit + "\\E" + ("" if trail else "$")

    def convert_condition_or(self, cond, state: ConversionState):
        pieces = [self._piece(a) for a in cond.args]
        if len(pieces) >= 3 and all(pieces) and len({p[0] for p in pieces}) == 1:
            col = self.escape_and_quote_field(LOWER + pieces[0][0])
            alt = "|".join(p[1] for p in pieces).replace("'", "''")
            return f"regexp_matches({col}, '(?:{alt})')"
        return super().convert_condition_or(cond, state)

    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> str:
        return self._lower_match(cond.field, cond.value)

    def convert_condition_val_str(self, cond, state: ConversionState) -> str:
        if isinstance(cond.value, SigmaCasedString):
            return super().convert_condition_val_str(cond, state)
        self._fulltext_column()  # raises the backend's own error when keyword search is off
        v = cond.value
        parts = [p for p in v.s]
        if not parts or parts[0] != SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] != SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
        return self._lower_match(self.fulltext_field, _of(parts))

    def where_clause(self, rule: SigmaRule) -> str:
        """The boolean SQL expression of ``rule`` (several queries are OR-ed)."""
        queries = self.convert_rule(rule)
        if not queries:
            raise ValueError("the backend produced no query")
        parts = [q.split(" WHERE ", 1)[1] if " WHERE " in q else "true" for q in queries]
        return parts[0] if len(parts) == 1 else " OR ".join(f"({p})" for p in parts)


def _of(parts: list) -> SigmaString:
    """A SigmaString made of the given literal and wildcard parts."""
    out = SigmaString()
    out.s = list(parts)
    return out
