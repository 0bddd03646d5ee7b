"""`threatml` commands of the logs domain: train log, evaluate log, templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from threatml.cli import app, console, evaluate_app, out_console, train_app
from threatml.errors import ThreatMLError


def _check_grouping(session_regex: str | None, window: str | None) -> None:
    if session_regex and window:
        raise ThreatMLError("give --session-regex or --window, not both")
    if session_regex:
        import re

        try:
            re.compile(session_regex)
        except re.error as exc:
            raise ThreatMLError(f"--session-regex {session_regex!r} is not a valid regex: {exc}") from None
    if window:
        from threatml.logs.sessions import parse_window_spec

        try:
            parse_window_spec(window)
        except ValueError as exc:
            raise ThreatMLError(str(exc)) from None


@train_app.command("log")
def train_log_cmd(
    data: Annotated[list[str], typer.Option("--data", help="Log file or folder, or a session CSV (EventSequence column). Repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    session_regex: Annotated[Optional[str], typer.Option("--session-regex", help="Regex whose first group keys sessions, e.g. '(blk_-?\\d+)'.")] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Time window per session: 5m fixed (default when no regex), 5m/1m sliding every minute.")] = None,
    tfidf: Annotated[bool, typer.Option("--tfidf", help="TF-IDF weighting of the event-count vectors.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train log anomaly models (PCA, invariants, Isolation Forest, n-gram, new-template; with labels the
    session-signature table decides, LightGBM beside it)."""
    from threatml.logs.pipeline import train_log

    _check_grouping(session_regex, window)
    with console.status("mining templates and training"):
        card = train_log(data, out, session_regex=session_regex, window=window, tfidf=tfidf, seed=seed)
    out_console.print(f"Wrote model {card.name}@{card.version} to {out} ({card.metrics.get('sessions', 0):,} sessions)")
    for note in card.notes:
        if note.startswith("read: "):
            console.print(f"[yellow]{note[6:]}[/yellow]")
    if card.metrics:
        out_console.print_json(json.dumps(card.metrics, default=str))


@evaluate_app.command("log")
def evaluate_log_cmd(
    model: Annotated[str, typer.Option("--model", help="Model folder or name.")],
    data: Annotated[list[str], typer.Option("--data", help="Labelled log file or folder, or session CSV. Repeatable.")],
    session_regex: Annotated[Optional[str], typer.Option("--session-regex", help="Override the model's session regex.")] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Override the model's window.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Evaluate a log model on labelled sessions (F1, ROC-AUC, per-model results)."""
    from threatml.logs.pipeline import evaluate_log

    _check_grouping(session_regex, window)
    with console.status("reading data and evaluating"):
        metrics = evaluate_log(model, data, session_regex=session_regex, window=window)
    if as_json:
        print(json.dumps(metrics, indent=2, default=str))
        return
    table = Table(title=f"Evaluation of {model}")
    for col in ("model", "precision", "recall", "f1", "roc_auc"):
        table.add_column(col, justify="right" if col != "model" else "left")
    table.add_row("main", *(f"{metrics[k]:.4f}" if metrics.get(k) is not None else "-" for k in ("precision", "recall", "f1", "roc_auc")))
    for name, m in metrics["models"].items():
        table.add_row(name, *(f"{m[k]:.4f}" if m.get(k) is not None else "-" for k in ("precision", "recall", "f1", "roc_auc")))
    out_console.print(table)


@app.command("templates")
def templates_cmd(
    paths: Annotated[list[str], typer.Argument(help="Log files or folders.")],
    system: Annotated[Optional[str], typer.Option("--system", help="Known system layout and tuned settings (HDFS, BGL, Linux, ...); default: detect and use the default settings.")] = None,
    top: Annotated[int, typer.Option("--top", help="Templates to print (0: all).")] = 50,
    save: Annotated[Optional[Path], typer.Option("--save", help="Write the miner state (JSON) here.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue from a saved miner state.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print templates as JSON.")] = False,
) -> None:
    """Mine the templates of text logs and print them with their counts."""
    from threatml.errors import ReadReport
    from threatml.logs.evaluation import miner_for, split_content
    from threatml.logs.formats import KNOWN_FORMATS
    from threatml.logs.miner import TemplateMiner
    from threatml.logs.pipeline import _files, is_text_log
    from threatml.readers.base import text_lines
    from threatml.readers.textlog import TextLogReader

    if system is not None and system not in KNOWN_FORMATS:
        raise ThreatMLError(f"unknown --system {system!r}; known: {', '.join(KNOWN_FORMATS)}")
    try:
        miner = TemplateMiner.load(resume) if resume else miner_for(KNOWN_FORMATS[system] if system else None)
    except (OSError, ValueError, KeyError) as exc:
        raise ThreatMLError(f"{resume}: cannot load the miner state: {exc}") from None
    report = ReadReport()
    for path in _files(paths):
        if not is_text_log(path):
            report.skip(str(path), "not a text log (binary content): file left out")
            continue
        if system:
            chunk: list[str] = []
            for line in text_lines(path):
                chunk.append(line.rstrip("\r\n")[:65536])
                if len(chunk) >= 100_000:
                    miner.add_many(split_content(chunk, KNOWN_FORMATS[system]))
                    chunk = []
            if chunk:
                miner.add_many(split_content(chunk, KNOWN_FORMATS[system]))
        else:
            for batch in TextLogReader().read(path, report):
                miner.add_many(batch.frame["message"])
    if save:
        miner.save(save)
    rows = miner.templates()
    shown = rows if top <= 0 else rows[:top]
    if as_json:
        print(json.dumps({"lines": miner.lines, "templates": len(rows),
                          "items": [{"id": i, "template": t, "count": c} for i, t, c in shown],
                          "read": report.as_dict()}, indent=2))
        return
    table = Table(title=f"{len(rows):,} templates in {miner.lines:,} lines")
    table.add_column("id", justify="right")
    table.add_column("count", justify="right")
    table.add_column("template", overflow="fold")
    for i, t, c in shown:
        table.add_row(str(i), f"{c:,}", escape(t))  # templates hold [brackets] rich would read as markup
    out_console.print(table)
    for item in report.as_dict()["skipped"] + report.as_dict()["notes"]:
        where = f", first at {item['first_at']}" if item["first_at"] else ""
        console.print(f"[yellow]{item['file']}: {item['reason']} ({item['count']:,}{where})[/yellow]")
