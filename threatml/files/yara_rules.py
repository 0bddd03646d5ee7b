"""YARA rule sets: load files and folders, report and skip what does not compile, scan bytes.

Rules are compiled once. Each rule file is first compiled on its own (with the
external variables defined), so one broken file - a syntax error, an unknown
module, an include that is not there - is reported with its reason in the
load report and skipped, instead of failing the whole collection; the good
files are then compiled together, one namespace per file (so two files may
use the same rule name). The externals many collections use (signature-base:
``filename``, ``filepath``, ``extension``, ``filetype``, ``owner``) are
defined at compile time and set per scanned file.

Matches give the rule, its namespace (file), tags, meta and the matched
strings with their offsets (capped). Each scan has a timeout; a timeout or
scan error is reported as such, never raised.

>>> from threatml.errors import ReadReport
>>> rs = RuleSet.from_sources({"t": 'rule hello { strings: $a = "hello" condition: $a }'})
>>> [(m.rule, m.strings[0][:2]) for m in rs.scan(b"xx hello", "a.txt")]
[('hello', ('$a', 3))]
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yara

from threatml.errors import InputError, ReadReport

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules" / "yara"
RULE_SUFFIXES = (".yar", ".yara", ".rule", ".rules")
EXTERNALS = {"filename": "", "filepath": "", "extension": "", "filetype": "", "owner": ""}
SCAN_TIMEOUT = 10          # seconds per file
MAX_STRINGS_PER_MATCH = 10  # matched string instances kept per rule
MAX_COMBINE_RETRIES = 50


@dataclass
class YaraMatch:
    rule: str
    namespace: str
    tags: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    #: (identifier, offset, first matched bytes shown as text)
    strings: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass
class LoadSummary:
    files: int = 0
    compiled: int = 0
    skipped: int = 0
    rules: int = 0
    seconds: float = 0.0


def rule_files(paths: list[str | Path]) -> list[Path]:
    """Rule files under ``paths`` (folders recursively, hidden entries left out), sorted."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in RULE_SUFFIXES
                          and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(p, "no such YARA rule file or folder")
    return out


def _namespace(path: Path, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", path.stem) or "rules"
    name, i = base, 1
    while name in used:
        i += 1
        name = f"{base}_{i}"
    used.add(name)
    return name


class RuleSet:
    """Compiled YARA rules plus what loading skipped."""

    def __init__(self, rules: yara.Rules | None, summary: LoadSummary, report: ReadReport):
        self.rules, self.summary, self.report = rules, summary, report

    @classmethod
    def from_sources(cls, sources: dict[str, str]) -> "RuleSet":
        rules = yara.compile(sources=sources, externals=EXTERNALS)
        return cls(rules, LoadSummary(files=len(sources), compiled=len(sources), rules=sum(1 for _ in rules)), ReadReport())

    @classmethod
    def load(cls, paths: list[str | Path], report: ReadReport | None = None) -> "RuleSet":
        """Compile every rule file under ``paths``; bad files go to ``report`` (file, reason)."""
        report = report if report is not None else ReadReport()
        t0 = time.perf_counter()
        files = rule_files(paths)
        summary = LoadSummary(files=len(files))
        good: dict[str, str] = {}
        used: set[str] = set()
        for f in files:
            try:
                yara.compile(filepath=str(f), externals=EXTERNALS)
            except yara.SyntaxError as exc:
                report.skip(str(f), f"YARA rule does not compile: {_short(exc)}")
                continue
            except yara.Error as exc:
                report.skip(str(f), f"YARA rule file unusable: {_short(exc)}")
                continue
            good[_namespace(f, used)] = str(f)
        rules = None
        for _ in range(MAX_COMBINE_RETRIES):
            if not good:
                break
            try:
                rules = yara.compile(filepaths=good, externals=EXTERNALS)
                break
            except yara.Error as exc:  # a clash only visible together: drop the file named, retry
                bad = next((ns for ns, fp in good.items() if fp in str(exc)), None)
                if bad is None:
                    report.skip(",".join(good.values())[:200], f"YARA rules do not compile together: {_short(exc)}",
                                n=len(good))
                    good = {}
                    break
                report.skip(good.pop(bad), f"YARA rule does not compile with the others: {_short(exc)}")
        summary.compiled = len(good) if rules is not None else 0
        summary.skipped = summary.files - summary.compiled
        summary.rules = sum(1 for _ in rules) if rules is not None else 0
        summary.seconds = round(time.perf_counter() - t0, 3)
        return cls(rules, summary, report)

    def scan(self, data: bytes, path: str, filetype: str = "", owner: str = "",
             report: ReadReport | None = None) -> list[YaraMatch]:
        """Rules matching ``data``; ``path`` fills the filename / filepath / extension externals."""
        if self.rules is None or not data:
            return []
        inner = path.rsplit("!", 1)[-1]
        name = inner.replace("\\", "/").rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        externals = {"filename": name, "filepath": inner, "extension": ext, "filetype": filetype.upper(), "owner": owner}
        try:
            hits = self.rules.match(data=data, externals=externals, timeout=SCAN_TIMEOUT)
        except yara.TimeoutError:
            if report is not None:
                report.note(path, f"YARA scan stopped after {SCAN_TIMEOUT} s")
            return []
        except yara.Error as exc:
            if report is not None:
                report.note(path, f"YARA scan failed: {_short(exc)}")
            return []
        out = []
        for h in hits:
            strings = []
            for s in h.strings:
                for inst in s.instances:
                    if len(strings) >= MAX_STRINGS_PER_MATCH:
                        break
                    shown = bytes(inst.matched_data[:32]).decode("latin-1").encode("unicode_escape").decode("ascii")
                    strings.append((s.identifier, int(inst.offset), shown))
            out.append(YaraMatch(h.rule, h.namespace, list(h.tags), dict(h.meta), strings))
        return out


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
