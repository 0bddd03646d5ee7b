"""Load and compile Sigma rules in one step, with an account of what happened to every rule.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "r.yml").write_text('''
... title: whoami
... id: 6f1a5a5e-0000-4000-8000-000000000001
... level: low
... logsource: {category: process_creation, product: windows}
... detection: {sel: {Image|endswith: '\\\\whoami.exe'}, condition: sel}
... tags: [attack.discovery, attack.t1033]
... ''')
>>> rs = load_ruleset([d])
>>> rs.counts()["compiled"], rs.compiled.rules[0].techniques
(1, ['T1033'])
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from threatml.errors import ReadReport
from threatml.sigma.compiler import CompileResult, RuleCompiler
from threatml.sigma.loader import RuleIssue, load_rules


@dataclass
class RuleSet:
    """Compiled rules plus every load/compile issue and the time each step took."""

    compiled: CompileResult
    loaded: int
    issues: list[RuleIssue] = field(default_factory=list)
    load_seconds: float = 0.0
    compile_seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Rules per status: loaded, compiled (rule x event kind), and one count per issue status."""
        c = Counter(i.status for i in self.issues)
        return {"loaded": self.loaded, "compiled": len(self.compiled.rules),
                "compiled_rules": len({(r.path, r.rule_id, r.title) for r in self.compiled.rules}), **dict(c)}

    def report_into(self, report: ReadReport) -> None:
        """Errors become skips (file + reason); rules without an event source become notes, not errors."""
        for i in self.issues:
            where = f"rule {i.title!r} ({i.rule_id})" if i.title or i.rule_id else None
            if i.status == "no-event-source":
                report.note(i.file, "sigma rule has no matching event source (not evaluated)", where)
            else:
                report.skip(i.file, f"sigma {i.status}: {i.reason}", where)


def load_ruleset(paths: Iterable[str | Path]) -> RuleSet:
    t0 = time.perf_counter()
    loaded, issues = load_rules(list(paths))
    t1 = time.perf_counter()
    compiled = RuleCompiler().compile(loaded)
    t2 = time.perf_counter()
    return RuleSet(compiled=compiled, loaded=len(loaded), issues=issues + compiled.issues,
                   load_seconds=t1 - t0, compile_seconds=t2 - t1)
