"""`threatml` commands of the fraud domain: ``train fraud``, ``evaluate fraud``, ``score fraud``.

``score`` is a command group (``threatml score fraud``) so that other domains
can add their own batch scorers beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from threatml.cli import app, console, evaluate_app, out_console, train_app, print_metrics


def _score_group() -> typer.Typer:
    for info in app.registered_groups:
        if info.name == "score" and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help="Score a table of records with a model and write the scores as CSV.",
                        no_args_is_help=True)
    app.add_typer(group, name="score")
    return group


score_app = _score_group()


def _print_read_report(read: dict) -> None:
    for s in read.get("skipped", []):
        console.print(f"[yellow]skipped {s['count']:,} from {s['file']}: {s['reason']}"
                      + (f" (first at {s['first_at']})" if s.get("first_at") else "") + "[/yellow]")


@train_app.command("fraud")
def train_fraud_cmd(
    data: Annotated[Path, typer.Option("--data", help="Labeled CSV: one transaction or account per row.")],
    label_column: Annotated[str, typer.Option("--label-column", help="Column saying fraud (1/true/yes/fraud) or not.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    entity_column: Annotated[Optional[str], typer.Option("--entity-column", help="Card, account or customer column: adds per-entity velocity features (needs --time-column).")] = None,
    time_column: Annotated[Optional[str], typer.Option("--time-column", help="Transaction time (epoch seconds or a date string).")] = None,
    amount_column: Annotated[Optional[str], typer.Option("--amount-column", help="Transaction amount, summed per velocity window.")] = None,
    drop_column: Annotated[Optional[list[str]], typer.Option("--drop-column", help="Column that must not be a feature (repeatable), e.g. one that leaks the label.")] = None,
    cv: Annotated[int, typer.Option("--cv", help="Stratified k-fold cross-validation for the card's metrics (0: none).")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    anomaly_trees: Annotated[int, typer.Option("--anomaly-trees", help="Isolation Forest trees for the unsupervised score (0: none; scoring is then 2-3x faster).")] = 100,
) -> None:
    """Train a fraud model (LightGBM + Isolation Forest, class-weighted) on a labeled CSV table."""
    from threatml.cli import _busy
    from threatml.fraud.run import train_fraud

    with _busy("reading data and training"):
        card, report = train_fraud(data, label_column, out, entity_column=entity_column, time_column=time_column,
                                   amount_column=amount_column, drop_columns=tuple(drop_column or ()), cv=cv, seed=seed,
                                   anomaly_trees=anomaly_trees)
    _print_read_report(report.as_dict())
    out_console.print(f"Wrote model {card.name}@{card.version} to {out} "
                      f"({len(card.features)} features, threshold {card.parameters['threshold']:.3f})")
    for n in card.notes:
        out_console.print(f"  note: {n}")
    cvm = card.metrics.get("cross_validation")
    if cvm:
        table = Table(title=f"{cvm['folds']}-fold stratified cross-validation (mean ± sd)")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k, v in cvm.items():
            if isinstance(v, dict):
                table.add_row(k, f"{v['mean']:.4f} ± {v['sd']:.4f}")
        out_console.print(table)


@evaluate_app.command("fraud")
def evaluate_fraud_cmd(
    data: Annotated[Path, typer.Option("--data", help="Labeled CSV with the columns the model was trained on.")],
    label_column: Annotated[str, typer.Option("--label-column", help="Label column.")],
    model: Annotated[str, typer.Option("--model", help="Fraud model folder or name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Evaluate a fraud model: ROC-AUC, PR-AUC, precision/recall at its threshold, rows scored per second."""
    from threatml.cli import _busy
    from threatml.fraud.run import evaluate_fraud

    with _busy("reading data and evaluating"):
        metrics = evaluate_fraud(model, data, label_column)
    if not as_json:
        _print_read_report(metrics["read"])
    print_metrics(metrics, f"Evaluation of {metrics['model']} on {data.name}", as_json)


@score_app.command("fraud")
def score_fraud_cmd(
    data: Annotated[Path, typer.Option("--data", help="CSV with the columns the model was trained on (label optional).")],
    model: Annotated[str, typer.Option("--model", help="Fraud model folder or name.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: row, [entity,] fraud_score, anomaly_score, flagged, explanation.")],
    top: Annotated[int, typer.Option("--top", help="Features named in each flagged row's explanation.")] = 3,
    show: Annotated[int, typer.Option("--show", help="Highest-scoring rows to print.")] = 10,
) -> None:
    """Score every row of a CSV table; flagged rows say which features pushed the score up, with their values."""
    from threatml.cli import _busy
    from threatml.fraud.run import score_fraud

    with _busy("scoring"):
        res = score_fraud(model, data, out, explain_top=top)
    _print_read_report(res["read"])
    out_console.print(f"Scored {res['rows']:,} rows ({res['rows_per_s'] or 0:,.0f}/s); {res['flagged']:,} flagged at "
                      f"threshold {res['threshold']:.3f}; scores in {out}")
    if show > 0 and res["rows"]:
        import pandas as pd

        top_rows = pd.read_csv(out, usecols=["row", "fraud_score", "explanation"], keep_default_na=False)
        top_rows = top_rows.nlargest(show, "fraud_score")
        table = Table(title="Highest fraud scores")
        for c in ("row", "fraud score", "why"):
            table.add_column(c)
        for r in top_rows.itertuples(index=False):
            table.add_row(str(r.row), f"{r.fraud_score:.3f}", str(r.explanation))
        out_console.print(table)
