"""`threatml intel check`: what indicator feeds load, and what they skip and why.

``threatml intel check PATH_OR_URL...`` loads feeds exactly as ``scan --intel``
does and prints indicators per type and per source, then what was skipped and
why (file, reason, first place, count). ``--json`` prints it as JSON. (Incidents
are exported as STIX/MISP by ``threatml export``, built on
:mod:`threatml.intel.export`.)
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from threatml.cli import app, console, out_console
from threatml.errors import ReadReport, ThreatMLError

intel_app = typer.Typer(help="Threat-intelligence feeds: check what loads and what is skipped.",
                        no_args_is_help=True)
app.add_typer(intel_app, name="intel")


@intel_app.command("check")
def check(
    paths: Annotated[list[str], typer.Argument(help="Feed files, folders (a MISP feed folder too) or "
                                                    "taxii+https://HOST/API-ROOT/collections/ID/ URLs.")],
    observables: Annotated[bool, typer.Option("--observables", help="Also load STIX cyber-observables "
                                                                    "(not only indicators).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts and skips as JSON.")] = False,
) -> None:
    """Load indicator feeds and show what loaded (per type and source) and what was skipped and why."""
    from threatml.intel import load_feeds

    report = ReadReport()
    iocs = load_feeds(paths, report=report, observables=observables)
    by_source: dict[str, dict[str, int]] = {}
    if len(iocs):
        exploded = iocs.frame[["type", "sources"]].assign(source=iocs.frame["sources"].str.split(",")).explode("source")
        for (src, typ), n in exploded.groupby(["source", "type"]).size().items():
            by_source.setdefault(str(src), {})[str(typ)] = int(n)
    result = {"indicators": len(iocs), "types": iocs.counts(), "sources": by_source, **report.as_dict()}
    if as_json:
        out_console.print_json(json.dumps(result))
    else:
        table = Table(title=f"{len(iocs):,} indicators")
        types = sorted(iocs.counts())
        table.add_column("source")
        for t in types:
            table.add_column(t, justify="right")
        for src, counts in sorted(by_source.items()):
            table.add_row(src, *(f"{counts.get(t, 0):,}" for t in types))
        out_console.print(table)
        if report.skipped or report.notes:
            skipped = Table(title="skipped (s) and kept with a flaw (n)")
            for col in ("", "file", "reason", "first at", "count"):
                skipped.add_column(col, justify="right" if col == "count" else "left")
            for mark, rows in (("s", report.skipped), ("n", report.notes)):
                for (p, r), c in sorted(rows.items()):
                    skipped.add_row(mark, p, r, str(report.examples.get((p, r), "")), f"{c:,}")
            out_console.print(skipped)
        for p, msg in report.errors:
            console.print(f"[red]not loaded:[/red] {msg}", highlight=False)
    if not len(iocs) and report.errors:
        raise ThreatMLError("no feed could be loaded: " + "; ".join(m for _, m in report.errors))
