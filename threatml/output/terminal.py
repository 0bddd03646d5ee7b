"""Ranked incidents and the scan summary in the terminal (rich).

Text from the data (titles, entities, explanations) is passed as plain
``rich.text.Text``, never as markup, so a crafted hostname cannot restyle or
hide output.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from rich.console import Console
from rich.table import Table
from rich.text import Text

from threatml.findings.incidents import Incident, duration_text
from threatml.findings.schema import Finding

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
#: incidents whose explanations are printed under the table
EXPLAIN_TOP = 3


def _short(detector: str) -> str:
    return detector.split(".", 1)[1] if detector.startswith("network.") else detector


def time_span(start: float, end: float) -> str:
    """``2024-03-01 10:00:00 +45 min`` in UTC.

    >>> time_span(0, 2700)
    '1970-01-01 00:00:00 +45 min'
    """
    try:
        first = datetime.fromtimestamp(start, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "?"
    return f"{first} +{duration_text(end - start)}"


def print_incidents(console: Console, incidents: list[Incident], findings_by_id: dict[str, Finding],
                    limit: int = 20) -> None:
    """Table of the top ``limit`` incidents, then the explanations of the first few."""
    if not incidents:
        console.print("No incidents: no detector found anything worth an analyst's time.")
        return
    shown = incidents[: max(limit, 0)]
    title = f"Incidents (top {len(shown)} of {len(incidents)})" if len(shown) < len(incidents) else "Incidents"
    # Narrow terminals keep the columns an analyst ranks by; detectors and
    # techniques are repeated in the explanations below the table anyway.
    wide = console.width >= 120
    table = Table(title=title, title_justify="left", header_style="bold", expand=False)
    table.add_column("#", justify="right")
    table.add_column("severity", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("entity", no_wrap=True)
    table.add_column("incident", overflow="fold", ratio=3, min_width=24)
    if wide:
        table.add_column("detectors", overflow="fold")
        table.add_column("ATT&CK", overflow="fold")
    table.add_column("time (UTC)", no_wrap=wide, overflow="fold")
    table.add_column("findings", justify="right")
    for rank, inc in enumerate(shown, 1):
        cells = [
            str(rank),
            Text(inc.severity, style=SEVERITY_STYLE.get(inc.severity, "")),
            f"{inc.score:.2f}",
            Text(inc.entity),
            Text(inc.title),
        ]
        if wide:
            cells += [Text(", ".join(_short(d) for d in inc.detectors)), Text(", ".join(inc.attack))]
        cells += [time_span(inc.start, inc.end), str(len(inc.finding_ids))]
        table.add_row(*cells)
    console.print(table)
    for rank, inc in enumerate(shown[:EXPLAIN_TOP], 1):
        head = Text(f"#{rank} ", style="bold")
        head.append(Text(inc.severity.upper(), style=SEVERITY_STYLE.get(inc.severity, "")))
        head.append(" ")
        head.append(Text(inc.title, style="bold"))
        console.print(head)
        console.print(Text("   " + inc.summary[0]) if inc.summary else Text(""))
        members = [findings_by_id[i] for i in inc.finding_ids if i in findings_by_id]
        for f in sorted(members, key=lambda f: -f.score)[:3]:
            line = Text("   • ")
            line.append(Text(f"{_short(f.detector)} {f.score:.2f}", style="bold"))
            line.append(Text(f"  {f.title}"))
            console.print(line)
            for sentence in f.explanation[:3]:
                console.print(Text("       " + sentence, style="dim"))
            if f.evidence:
                more = max(f.evidence_count, len(f.evidence)) - 5
                ev = ", ".join(f.evidence[:5]) + (f" (+{more:,} more)" if more > 0 else "")
                console.print(Text("       evidence: " + ev, style="dim"))
        console.print()


def print_summary(console: Console, summary: dict) -> None:
    """The scan summary: files, formats, records, what was skipped and why, findings, speed."""
    table = Table(title="Scan summary", title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")

    formats = Counter((summary.get("formats") or {}).values())
    files = summary.get("files_read", len(summary.get("formats") or {}))
    fmt_text = ", ".join(f"{k} {v}" for k, v in sorted(formats.items())) or "-"
    table.add_row("files", Text(f"{files:,} read ({fmt_text})"))
    table.add_row("records", f"{int(summary.get('records', 0)):,}")
    kinds = summary.get("events_by_kind") or {}
    if kinds:
        table.add_row("events", ", ".join(f"{k} {v:,}" for k, v in kinds.items()))

    skipped = summary.get("skipped") or []
    n_skipped = sum(int(s.get("count", 0)) for s in skipped)
    table.add_row("skipped", f"{n_skipped:,} records" if n_skipped else "none")
    for s in sorted(skipped, key=lambda s: -int(s.get("count", 0)))[:10]:
        where = f" (first at {s['first_at']})" if s.get("first_at") else ""
        table.add_row("", Text(f"{int(s.get('count', 0)):,} × {s.get('reason', '')} in {s.get('file', '')}{where}"))
    if len(skipped) > 10:
        table.add_row("", f"... {len(skipped) - 10} more reasons")
    errors = summary.get("errors") or []
    table.add_row("unreadable files", str(len(errors)) if errors else "none")
    for e in errors[:10]:
        table.add_row("", Text(f"{e.get('file', '')}: {e.get('error', '')}", style="red"))
    if len(errors) > 10:
        table.add_row("", f"... {len(errors) - 10} more")

    by_det = summary.get("findings_by_detector") or {}
    det_text = ", ".join(f"{_short(k)} {v:,}" for k, v in by_det.items())
    table.add_row("findings", f"{int(summary.get('findings', 0)):,}" + (f" ({det_text})" if det_text else ""))
    if "incidents" in summary:
        table.add_row("incidents", f"{int(summary['incidents']):,}")
    if summary.get("suppressed"):
        rules = ", ".join(f"rule {k}: {v}" for k, v in (summary.get("suppressed_by_rule") or {}).items())
        table.add_row("suppressed", f"{int(summary['suppressed']):,} findings ({rules})")
    if summary.get("below_budget"):
        table.add_row("below budget", ", ".join(f"{_short(k)} {v:,}" for k, v in summary["below_budget"].items()))
    for name, res in (summary.get("hunts") or {}).items():
        table.add_row("hunt", Text(f"{name}: {res if isinstance(res, str) else f'{res:,} rows'}"))
    elapsed = summary.get("elapsed_s")
    if elapsed is not None:
        rate = summary.get("records_per_s")
        table.add_row("elapsed", f"{float(elapsed):.2f} s" + (f" ({float(rate):,.0f} records/s)" if rate else ""))
    console.print(table)
