"""Sigma rules as a detector: one finding per rule, entity and time window.

Rules are loaded and compiled on the first batch of a kind they apply to
(``auth``, ``process``, ``log``), so building the detector is free. Each
batch runs every rule of its kind once (vectorised in DuckDB); matches are
grouped per (rule, entity, window), where the entity is the host (else the
user, else the source address). A group is reported when its window has
closed (a later batch moved time past it) or at ``flush``; open groups are
bounded by ``max_open``.

The score comes from the rule level (informational 0.05 ... critical 0.95),
so severity follows the rule author's level; ATT&CK ids come from the
``attack.tXXXX`` tags.

>>> import pandas as pd, tempfile, pathlib
>>> from threatml.events import EventBatch
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "r.yml").write_text('''
... title: Shadow copy deletion
... id: 6f1a5a5e-0000-4000-8000-000000000002
... level: high
... logsource: {category: process_creation, product: windows}
... detection: {sel: {CommandLine|contains|all: [delete, shadows]}, condition: sel}
... tags: [attack.impact, attack.t1490]
... ''')
>>> fr = pd.DataFrame({"event.id": ["a", "b"], "@timestamp": [1.7e9, 1.7e9 + 5], "host.name": ["ws1", "ws1"],
...     "event.action": ["process-created"] * 2, "process.command_line": ["vssadmin Delete Shadows /all", "notepad"]})
>>> det = SigmaDetector([d])
>>> [(f.title, f.entity, f.severity, f.attack, f.evidence) for f in det.process(EventBatch.of("process", fr)) + det.flush()]
[('Sigma: Shadow copy deletion', 'ws1', 'high', ['T1490'], ['a'])]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from threatml.detectors.base import Detector
from threatml.errors import ReadReport
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.sigma import RuleSet, load_ruleset
from threatml.sigma.compiler import CompiledRule
from threatml.sigma.engine import RuleEngine

_SEVERITY = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
_EXAMPLES = 3
_LEVELS = ["informational", "low", "medium", "high", "critical"]


@dataclass
class _Group:
    rule: CompiledRule
    entity: str
    entity_type: str
    start: float
    end: float
    count: int = 0
    evidence: list[str] = field(default_factory=list)
    users: set = field(default_factory=set)
    hosts: set = field(default_factory=set)
    ips: set = field(default_factory=set)
    examples: list[str] = field(default_factory=list)
    files: set = field(default_factory=set)


def _col(frame, name: str, rows: np.ndarray) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(rows), "", dtype=object)
    return frame[name].to_numpy()[rows]


class SigmaDetector(Detector):
    """Evaluates Sigma rules from ``paths`` over auth, process and log events.

    Parameters
    ----------
    paths: rule files or folders.
    window: seconds per reporting window; one finding per rule, entity and window.
    load_report: where load and compile issues go (file + reason), filled on first use.
    max_open: open groups kept before the oldest are reported early (bounded state).
    min_level: rules below this level are not run (SigmaHQ's ``informational`` rules, such as
        "User Logoff Event", describe normal activity for enrichment, not alerts).
    """

    name = "sigma"
    version = "1"
    kinds = frozenset({"auth", "process", "log"})

    def __init__(self, paths, window: float = 3600.0, load_report: ReadReport | None = None, max_open: int = 50_000,
                 min_level: str = "low"):
        self.paths = [Path(p) for p in paths]
        self.window = float(window)
        self.load_report = load_report
        self.max_open = max_open
        self.min_level = min_level
        self._ruleset: RuleSet | None = None
        self._engines: dict[str, RuleEngine] = {}
        self._open: dict[tuple, _Group] = {}

    @property
    def ruleset(self) -> RuleSet:
        if self._ruleset is None:
            self._ruleset = load_ruleset(self.paths)
            if self.load_report is not None:
                self._ruleset.report_into(self.load_report)
            floor = _LEVELS.index(self.min_level) if self.min_level in _LEVELS else 0
            self._engines = {}
            for kind, rules in self._ruleset.compiled.by_kind().items():
                keep = [r for r in rules if (_LEVELS.index(r.level) if r.level in _LEVELS else 2) >= floor]
                if keep:
                    self._engines[kind] = RuleEngine(keep)
        return self._ruleset

    def process(self, batch: EventBatch) -> list[Finding]:
        self.ruleset  # noqa: B018 -- loads rules on first use
        eng = self._engines.get(batch.kind)
        if eng is None or len(batch) == 0:
            return []
        fr = batch.frame
        hits = eng.matches(fr)
        ts_all = fr["@timestamp"].to_numpy(dtype="float64")
        for ri, rows in hits.items():
            rule = eng.rules[ri]
            ts = np.nan_to_num(ts_all[rows], nan=0.0)
            host, user, ip = _col(fr, "host.name", rows), _col(fr, "user.name", rows), _col(fr, "source.ip", rows)
            ids = _col(fr, "event.id", rows)
            ex_col = "process.command_line" if batch.kind == "process" else "message"
            ex = _col(fr, ex_col, rows)
            for j in range(len(rows)):
                ent, etype = (host[j], "host") if host[j] else (user[j], "user") if user[j] else (ip[j] or "unknown", "host")
                key = (ri, batch.kind, ent, int(ts[j] // self.window))
                g = self._open.get(key)
                if g is None:
                    g = self._open[key] = _Group(rule, str(ent), etype, float(ts[j]), float(ts[j]))
                g.start, g.end = min(g.start, float(ts[j])), max(g.end, float(ts[j]))
                g.count += 1
                if len(g.evidence) < 100:
                    g.evidence.append(str(ids[j]))
                for s, v in ((g.users, user[j]), (g.hosts, host[j]), (g.ips, ip[j])):
                    if v and len(s) < 20:
                        s.add(str(v))
                if ex[j] and len(g.examples) < _EXAMPLES and ex[j] not in g.examples:
                    g.examples.append(str(ex[j])[:300])
                g.files.add(batch.source)
        now = float(np.nanmax(ts_all)) if len(ts_all) and not np.isnan(ts_all).all() else None
        return self._close(now)

    def _close(self, now: float | None) -> list[Finding]:
        done = []
        for key, g in list(self._open.items()):
            if now is None or (key[3] + 1) * self.window <= now - self.window:
                done.append(key)
        if len(self._open) - len(done) > self.max_open:
            rest = sorted((k for k in self._open if k not in set(done)), key=lambda k: self._open[k].end)
            done.extend(rest[: len(self._open) - len(done) - self.max_open])
        return [self._finding(self._open.pop(k)) for k in done]

    def flush(self) -> list[Finding]:
        out = [self._finding(g) for g in self._open.values()]
        self._open.clear()
        return out

    def _finding(self, g: _Group) -> Finding:
        r = g.rule
        expl = [f"Sigma rule {r.title!r} (level {r.level}) matched {g.count} {r.kind} event(s) on {g.entity}."]
        if r.description:
            expl.append(r.description.strip().split("\n")[0])
        expl += [f"Example: {e}" for e in g.examples]
        expl.append(f"Rule file: {r.path}")
        related = {k: sorted(v) for k, v in (("user", g.users), ("host", g.hosts), ("source.ip", g.ips)) if v}
        return Finding.make(
            detector=self.name, detector_version=self.version, title=f"Sigma: {r.title}", start=g.start, end=g.end,
            entity_type=g.entity_type, entity=g.entity, score=r.score, severity=_SEVERITY.get(r.level, "medium"),
            attack=r.techniques, evidence=g.evidence, evidence_count=g.count, explanation=expl, related=related,
            source_files=sorted(f for f in g.files if f),
            attributes={"rule.id": r.rule_id, "rule.name": r.title, "rule.level": r.level,
                        "rule.tags": ",".join(r.tags), "rule.source": r.source, "matches": g.count})
