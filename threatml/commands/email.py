"""`threatml` commands of the email domain: ``train email``, ``evaluate email``, ``email-filter``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from threatml.cli import _busy, app, evaluate_app, out_console, train_app, print_metrics
from threatml.errors import ReadReport, ThreatMLError

MAX_FILTER_BYTES = 50_000_000


@train_app.command("email")
def train_email_cmd(
    data: Annotated[list[str], typer.Option("--data", help="Labeled mail: folders/mbox/TSV/tarballs whose names say the class "
                                                           "(easy_ham, hard_ham -> ham; spam; *phish* -> phishing), or LABEL=PATH. Repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    target_fpr: Annotated[float, typer.Option("--target-fpr", help="Share of training ham (out-of-fold) allowed above the alert threshold.")] = 0.003,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a ham/spam/phishing model (text n-grams + structured features) and write it with its card."""
    from threatml.email.training import train_email

    if not 0.0 <= target_fpr < 1.0:
        raise ThreatMLError("--target-fpr must be in [0, 1)")
    report = ReadReport()
    with _busy("reading mail and training"):
        card = train_email(data, out, seed=seed, target_fpr=target_fpr, report=report)
    out_console.print(f"Wrote model {card.name}@{card.version} to {out} (classes: {', '.join(card.classes)})")
    skipped = report.skipped_total()
    if skipped:
        out_console.print(f"{skipped:,} files or messages skipped (no label or not mail); see the card's notes")
    out_console.print_json(json.dumps({k: card.metrics[k] for k in ("n", "accuracy", "ham_flagged", "recall", "roc_auc")}, default=str))


@evaluate_app.command("email")
def evaluate_email_cmd(
    data: Annotated[list[str], typer.Option("--data", help="Labeled mail (as for train email), or LABEL=PATH. Repeatable.")],
    model: Annotated[str, typer.Option("--model", help="Model folder or name.")] = "email-classifier",
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Evaluate an email model: accuracy, ham flagged, spam/phishing caught, ROC-AUC, per class."""
    from threatml.email.training import evaluate_email

    with _busy("reading mail and evaluating"):
        metrics = evaluate_email(model, data)
    rows = []
    for c, r in metrics.get("per_class", {}).items():
        rows.append((f"{c}: n", f"{r['n']:,}"))
        rate = r.get("detection_rate", r.get("false_positive_rate"))
        rows.append((f"{c}: {'caught' if 'detection_rate' in r else 'flagged'}", "-" if rate is None else f"{rate:.4f}"))
    print_metrics(metrics, f"Evaluation of {model}", as_json, rows)


@app.command("email-filter")
def email_filter_cmd(
    model: Annotated[Optional[str], typer.Option("--model", help="Model folder or name (default: the shipped email-classifier).")] = None,
    protected_domain: Annotated[Optional[list[str]], typer.Option("--protected-domain", help="Your own domain (repeatable); lookalikes are flagged.")] = None,
) -> None:
    """Read one message on stdin, write it to stdout unchanged but for X-ThreatML-Verdict/-Score/-Reasons headers.

    For Postfix/procmail/sieve pipes: never fetches a URL, never opens an attachment beyond its bytes; mail it
    cannot read passes through with a verdict header saying so (exit status 0 either way).
    """
    from threatml.email.training import add_headers, filter_message, load_email_model

    stdin = sys.stdin.buffer
    raw = stdin.read(MAX_FILTER_BYTES + 1)
    out = sys.stdout.buffer
    if len(raw) > MAX_FILTER_BYTES:
        out.write(add_headers(raw, [("X-ThreatML-Verdict", f"unscanned; larger than {MAX_FILTER_BYTES:,} bytes")]))
        while chunk := stdin.read(1 << 20):  # pass the rest through untouched
            out.write(chunk)
        out.flush()
        return
    clf, err = None, ""
    try:
        clf = load_email_model(model)
    except ThreatMLError as exc:
        err = str(exc)
    result, _ = filter_message(raw, clf, tuple(protected_domain or ()), model_error=err)
    out.write(result)
    out.flush()
