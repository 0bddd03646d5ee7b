"""`threatml sigma check PATH`: load and compile Sigma rules and report what happened to each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from threatml.cli import app, console, out_console
from threatml.errors import ThreatMLError

sigma_app = typer.Typer(help="Sigma rules: check that a rule collection loads and compiles.", no_args_is_help=True)
app.add_typer(sigma_app, name="sigma")


@sigma_app.command("check")
def check(
    paths: Annotated[list[Path], typer.Argument(help="Sigma rule files or folders.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print counts and every issue as JSON.")] = False,
    show: Annotated[int, typer.Option("--show", help="Issues to list per status (terminal output).")] = 5,
) -> None:
    """Load and compile rules; print counts per status and the issues (file + reason). Exit 0."""
    from threatml.sigma import load_ruleset

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ThreatMLError(f"no such file or folder: {', '.join(missing)}")
    rs = load_ruleset(paths)
    counts = rs.counts()
    per_kind: dict[str, int] = {}
    for r in rs.compiled.rules:
        per_kind[r.kind] = per_kind.get(r.kind, 0) + 1
    if as_json:
        out_console.print_json(json.dumps({
            "counts": counts, "compiled_per_kind": per_kind, "load_seconds": round(rs.load_seconds, 3),
            "compile_seconds": round(rs.compile_seconds, 3), "issues": [i.as_dict() for i in rs.issues]}))
        return
    t = Table(title="Sigma rules")
    t.add_column("status")
    t.add_column("count", justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}")
    for k, v in sorted(per_kind.items()):
        t.add_row(f"compiled for {k} events", f"{v:,}")
    out_console.print(t)
    console.print(f"load {rs.load_seconds:.2f} s, compile {rs.compile_seconds:.2f} s")
    by_status: dict[str, list] = {}
    for i in rs.issues:
        by_status.setdefault(i.status, []).append(i)
    for status, items in sorted(by_status.items()):
        out_console.print(f"[bold]{status}[/bold] ({len(items):,})")
        for i in items[:show]:
            name = f" [{i.title}]" if i.title else ""
            out_console.print(f"  {i.file}{name}: {i.reason}", markup=False, highlight=False)
