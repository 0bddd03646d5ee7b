"""Load Sigma rules from files and folders, reporting every file or rule that cannot load.

Each ``.yml``/``.yaml`` file is parsed on its own (C YAML loader when
available), so one broken file costs that file only; a rule pySigma rejects
(unknown modifier, bad condition, missing detection) is reported with its
file and reason and the rest of the file still loads.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "ok.yml").write_text("title: ok\\nlogsource: {product: linux}\\n"
...     "detection: {k: [evil], condition: k}\\n")
>>> _ = (d / "bad.yml").write_text("title: [unclosed\\n")
>>> rules, issues = load_rules([d])
>>> [r.rule.title for r in rules], [(i.file.endswith("bad.yml"), i.status) for i in issues]
(['ok'], [(True, 'broken-yaml')])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

RULE_SUFFIXES = (".yml", ".yaml")
#: a rule file larger than this is not a rule (protects memory and time)
MAX_RULE_BYTES = 2 * 1024 * 1024


@dataclass
class LoadedRule:
    rule: SigmaRule
    path: str


@dataclass
class RuleIssue:
    """A file or rule that did not make it into evaluation, and why."""

    file: str
    status: str  # broken-yaml, invalid-rule, unsupported, no-event-source, compile-error
    reason: str
    rule_id: str = ""
    title: str = ""

    def as_dict(self) -> dict:
        return {"file": self.file, "status": self.status, "reason": self.reason, "rule_id": self.rule_id,
                "title": self.title}


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files under ``paths`` (files are taken as given, folders walked), sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in RULE_SUFFIXES and f.is_file()))
        else:
            out.append(p)
    return out


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def load_file(path: Path) -> tuple[list[LoadedRule], list[RuleIssue]]:
    """Rules of one file and the issues met while loading it."""
    f = str(path)
    try:
        if path.stat().st_size > MAX_RULE_BYTES:
            return [], [RuleIssue(f, "invalid-rule", f"file larger than {MAX_RULE_BYTES:,} bytes")]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [RuleIssue(f, "broken-yaml", f"cannot read: {_reason(exc)}")]
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        return [], [RuleIssue(f, "broken-yaml", _reason(exc))]
    if not docs or not all(isinstance(d, dict) for d in docs):
        return [], [RuleIssue(f, "broken-yaml", "not a YAML mapping (a Sigma rule is a mapping)")]
    try:
        coll = SigmaCollection.from_dicts(docs, collect_errors=True)
    except Exception as exc:  # pySigma raises many types on malformed input; the file is reported
        return [], [RuleIssue(f, "invalid-rule", _reason(exc))]
    rules: list[LoadedRule] = []
    issues: list[RuleIssue] = []
    for r in coll.rules:
        rid, title = str(getattr(r, "id", "") or ""), str(getattr(r, "title", "") or "")
        if r.errors:
            issues.append(RuleIssue(f, "invalid-rule", "; ".join(_reason(e) for e in r.errors), rid, title))
        elif isinstance(r, SigmaCorrelationRule):
            issues.append(RuleIssue(f, "unsupported", "correlation rules are not evaluated (single-event rules only)",
                                    rid, title))
        elif isinstance(r, SigmaRule):
            rules.append(LoadedRule(r, f))
        else:
            issues.append(RuleIssue(f, "unsupported", f"rule type {type(r).__name__}", rid, title))
    return rules, issues


def load_rules(paths: Iterable[str | Path]) -> tuple[list[LoadedRule], list[RuleIssue]]:
    """Every rule under ``paths`` and every issue, file by file. Missing paths are issues too."""
    rules: list[LoadedRule] = []
    issues: list[RuleIssue] = []
    for p in map(Path, paths):
        if not p.exists():
            issues.append(RuleIssue(str(p), "broken-yaml", "no such file or folder"))
    for f in rule_files(p for p in map(Path, paths) if p.exists()):
        got, bad = load_file(f)
        rules.extend(got)
        issues.extend(bad)
    return rules, issues
