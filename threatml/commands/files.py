"""`threatml train file` and `threatml evaluate file`: the file-domain models.

    threatml train file --data clamp.csv --out models/my-header
    threatml train file --data malware=samples/bad --data benign=samples/good --features rich --out models/file-rich
    threatml train file --data train_features_0.jsonl ... --features rich --out models/file-rich
    threatml evaluate file --model file-clamp --data other_pe_headers.csv --label-column Malware --json
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from threatml.cli import _busy, evaluate_app, out_console, train_app, print_metrics
from threatml.errors import ThreatMLError


class FileFeatures(str, Enum):
    auto = "auto"
    header = "header"
    rich = "rich"


def _pick_features(data, wanted: str) -> str:
    if wanted == "header" and data.header is None:
        raise ThreatMLError("--features header needs PE header tables (CSV) or folders of files; EMBER jsonl has no header fields")
    if wanted == "rich" and data.rich is None:
        raise ThreatMLError("--features rich needs EMBER jsonl or folders of files; header CSVs have no rich features")
    if wanted != "auto":
        return wanted
    return "rich" if data.rich is not None else "header"


@train_app.command("file")
def train_file_cmd(
    data: Annotated[list[str], typer.Option("--data", help="PE header CSV, EMBER jsonl, or LABEL=FOLDER of files (malware=..., benign=...). Repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    label_column: Annotated[Optional[str], typer.Option("--label-column", help="Label column of header CSVs (default: class/label/malware/legitimate by name).")] = None,
    features: Annotated[FileFeatures, typer.Option(help="header (ClaMP-style PE header fields) or rich (EMBER-style); auto: rich when the data has it.")] = FileFeatures.auto,
    name: Annotated[Optional[str], typer.Option("--name", help="Model name in the card (default: file-header or file-rich).")] = None,
    balance: Annotated[bool, typer.Option("--balance/--no-balance", help="Header model: weight DLL/subsystem/64-bit strata so they cannot stand in for the label.")] = True,
    augment: Annotated[bool, typer.Option("--augment/--no-augment", help="Header model: add a copy of the rows with a quarter of the fields unknown, so collections that lack fields still score well.")] = True,
    max_rows: Annotated[Optional[int], typer.Option("--max-rows", help="Read at most this many EMBER records (memory).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a file malware model (LightGBM) and write it with its card."""
    from threatml.files.dataset import load_file_data
    from threatml.files.training import train_header, train_rich

    with _busy("reading data and training"):
        d = load_file_data(data, label_column=label_column, max_rows=max_rows)
        fs = _pick_features(d, features.value)
        if fs == "header":
            model, metrics, notes = train_header(d.header, d.y, seed=seed, balance=balance, augment=augment)
            card = model.save(out, name=name or "file-header", feature_set="pe-header",
                              description="LightGBM on PE header fields (pefile names)", training_data=d.files,
                              metrics=metrics, notes=d.notes + notes)
        else:
            model, metrics, notes = train_rich(d.rich, d.y, seed=seed)
            card = model.save(out, name=name or "file-rich", feature_set="rich",
                              description="LightGBM on EMBER-style rich features", training_data=d.files,
                              metrics=metrics, notes=d.notes + notes)
    out_console.print(f"Wrote model {card.name}@{card.version} ({fs} features, {len(d)} rows) to {out}")
    skipped = d.report.skipped_total()
    if skipped:
        out_console.print(f"{skipped} input records or files skipped (see the reasons with --json in evaluate)")
    out_console.print_json(json.dumps(metrics, default=str))


def evaluate_file(model_ref: str, data: list[str], label_column: str | None = None, max_rows: int | None = None) -> dict:
    """Common binary metrics of a file model on labeled data, plus file-domain keys."""
    from threatml.files.confounds import shifted_report, strata
    from threatml.files.dataset import load_file_data
    from threatml.files.header_features import header_model_features
    from threatml.models.file_model import FileClassifier
    from threatml.models.registry import resolve
    from threatml.pipeline.metrics import binary_report

    folder = resolve(model_ref)
    model = FileClassifier.load(folder)
    fs = getattr(model, "feature_set", "pe-header")
    d = load_file_data(data, label_column=label_column, max_rows=max_rows)
    if fs == "pe-header":
        if d.header is None:
            raise ThreatMLError(f"{model_ref} is a PE-header model; the data holds no header fields (EMBER jsonl?)")
        X = header_model_features(d.header)
    else:
        if d.rich is None:
            raise ThreatMLError(f"{model_ref} is a rich-feature model; header CSVs cannot feed it")
        X = d.rich
    score = model.score_samples(X)
    out = binary_report(d.y, score, model.threshold)
    out["model"] = str(folder)
    out["feature_set"] = fs
    if fs == "pe-header" and 0 < d.y.sum() < len(d.y):
        out.update(shifted_report(d.y, score, strata(d.header)))
        known = d.header.notna().mean()
        out["header_fields_present"] = int((known > 0).sum())
    out["skipped"] = d.report.skipped_total()
    out["notes"] = d.notes
    return out


@evaluate_app.command("file")
def evaluate_file_cmd(
    data: Annotated[list[str], typer.Option("--data", help="PE header CSV, EMBER jsonl, or LABEL=FOLDER. Repeatable.")],
    model: Annotated[str, typer.Option("--model", help="Model folder or name.")] = "file-clamp",
    label_column: Annotated[Optional[str], typer.Option("--label-column", help="Label column of header CSVs.")] = None,
    max_rows: Annotated[Optional[int], typer.Option("--max-rows", help="Read at most this many EMBER records.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Evaluate a file model: ROC-AUC, detection rate at 1% and 0.1% FPR, and more."""
    with _busy("reading data and evaluating"):
        metrics = evaluate_file(model, data, label_column=label_column, max_rows=max_rows)
    print_metrics(metrics, f"Evaluation of {model}", as_json)
