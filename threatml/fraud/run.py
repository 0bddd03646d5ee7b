"""Train, evaluate and score fraud models on CSV files (what the ``threatml`` commands call)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport, ThreatMLError
from threatml.fraud.columns import parse_labels, read_table
from threatml.fraud.explain import explain_rows
from threatml.fraud.model import FraudModel
from threatml.models.card import ModelCard, describe_data, library_versions, read_card, write_model
from threatml.pipeline.metrics import binary_report

KIND = "fraud-classifier"


def column_named(frame: pd.DataFrame, name: str | None, path: str | Path, role: str) -> str | None:
    """The frame's column called ``name``, also when the file pads it with spaces (`` FLAG``).

    >>> column_named(pd.DataFrame(columns=["a", " FLAG"]), "FLAG", "x.csv", "label")
    ' FLAG'
    """
    if not name or name in frame.columns:
        return name
    hits = [c for c in frame.columns if c.strip() == name.strip()]
    if len(hits) == 1:
        return hits[0]
    raise InputError(path, f"no {role} column {name!r}; columns are {list(frame.columns)[:12]}", "header")


def labeled_table(path: str | Path, label_column: str, report: ReadReport) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of ``path`` with a label, and the 0/1 labels; unlabeled rows are skipped and counted."""
    frame = read_table(path, report)
    label_column = column_named(frame, label_column, path, "label")
    y = parse_labels(frame[label_column], label_column, str(path))
    missing = y < 0
    if missing.any():
        report.skip(str(path), f"row without a {label_column} value", n=int(missing.sum()),
                    where=f"row {int(np.flatnonzero(missing.to_numpy())[0]) + 2}")
        frame = frame.loc[~missing]
        y = y[~missing]
    return frame.drop(columns=[label_column]).reset_index(drop=True), y.to_numpy()


def train_fraud(
    data: str | Path,
    label_column: str,
    out: str | Path,
    entity_column: str | None = None,
    time_column: str | None = None,
    amount_column: str | None = None,
    drop_columns: tuple[str, ...] = (),
    cv: int = 5,
    seed: int = 0,
    anomaly_trees: int = 100,
) -> tuple[ModelCard, ReadReport]:
    """Fit a :class:`FraudModel` on ``data``, write it with its card to ``out``."""
    report = ReadReport()
    frame, y = labeled_table(data, label_column, report)
    entity_column = column_named(frame, entity_column, data, "entity")
    time_column = column_named(frame, time_column, data, "time")
    amount_column = column_named(frame, amount_column, data, "amount")
    drop_columns = tuple(column_named(frame, c, data, "--drop-column") for c in drop_columns)
    if entity_column and not time_column:
        raise ThreatMLError("--entity-column needs --time-column too (velocity windows are in time)")
    params = dict(entity_column=entity_column, time_column=time_column, amount_column=amount_column,
                  drop_columns=tuple(drop_columns), anomaly_feature=anomaly_trees > 0,
                  iforest_trees=max(anomaly_trees, 1))
    metrics: dict = {}
    if cv >= 2:
        from threatml.fraud.crossval import cross_validate

        if min(int(y.sum()), int(len(y) - y.sum())) < cv:
            raise ThreatMLError(f"--cv {cv}: each class needs at least {cv} rows")
        metrics["cross_validation"] = cross_validate(frame, y, folds=cv, seed=seed, **params)
    model = FraudModel(seed=seed, **params).fit(frame, y)
    out = Path(out)
    files = model.save(out)
    notes = [f"column {c!r} not used: {why}" for c, why in model.roles_.dropped.items()]
    if entity_column:
        notes.append("velocity features are computed within each scored file: include each entity's recent history")
    card = ModelCard(
        name=out.name or "fraud",
        version="1",
        domain="fraud",
        kind=KIND,
        description="LightGBM fraud classifier (balanced class weights, Platt-calibrated)"
                    + (" with an Isolation Forest anomaly score as input" if anomaly_trees > 0 else "")
                    + (" and per-entity velocity features" if entity_column else ""),
        training_data=[d.model_copy(update={"rows": len(frame)}) for d in describe_data([(Path(data), None)])],
        features=model.features_,
        feature_set="tabular",
        classes=["legitimate", "fraud"],
        parameters={**model.get_params(), "label_column": label_column, "best_iteration": model.best_iteration_,
                    "threshold": model.threshold_, "categorical": sorted(model.roles_.categorical)},
        metrics={**metrics, "rows": len(frame), "fraud_rows": int(y.sum())},
        libraries=library_versions(),
        artifacts={f: "" for f in files},
        notes=notes,
    )
    write_model(out, card)
    return card, report


def load_fraud_model(ref: str | Path) -> tuple[FraudModel, ModelCard, Path]:
    from threatml.models.registry import resolve

    folder = resolve(ref)
    card = read_card(folder, verify=True)
    if card.kind != KIND:
        raise ThreatMLError(f"{folder}: a {card.kind or 'unknown'} model, not a fraud model")
    return FraudModel.load(folder), card, folder


def evaluate_fraud(model_ref: str | Path, data: str | Path, label_column: str) -> dict:
    """The common binary metrics (ROC-AUC, PR-AUC, ...) plus the anomaly score's and the scoring rate."""
    model, card, _ = load_fraud_model(model_ref)
    report = ReadReport()
    frame, y = labeled_table(data, label_column, report)
    t = time.perf_counter()
    score, anomaly, _ = model.score_frame(frame)
    elapsed = time.perf_counter() - t
    out = binary_report(y, score, model.threshold_)
    both = 0 < y.sum() < len(y)
    if both and np.isfinite(anomaly).all():
        from sklearn.metrics import average_precision_score, roc_auc_score

        out["anomaly_roc_auc"] = round(float(roc_auc_score(y, anomaly)), 6)
        out["anomaly_pr_auc"] = round(float(average_precision_score(y, anomaly)), 6)
    out["rows_per_s"] = round(len(frame) / elapsed, 1) if elapsed > 0 else None
    out["model"] = f"{card.name}@{card.version}"
    out["read"] = report.as_dict()
    return out


def score_fraud(model_ref: str | Path, data: str | Path, out: str | Path, explain_top: int = 3,
                chunk_rows: int = 200_000) -> dict:
    """Write ``row, [entity,] fraud_score, anomaly_score, flagged, explanation`` for every row of ``data``.

    Models without velocity features score the file in chunks (bounded memory);
    with them, the whole file is read so each entity's history is in view.
    """
    model, card, _ = load_fraud_model(model_ref)
    report = ReadReport()
    data = Path(data)
    if not data.is_file():
        raise InputError(data, "no such file")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    label = card.parameters.get("label_column")
    n = flagged = 0
    t = time.perf_counter()
    if model.entity_column or model.time_column:
        chunks = [read_table(data, report)]
    else:
        try:
            chunks = pd.read_csv(data, chunksize=chunk_rows, on_bad_lines="skip", low_memory=False)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(data, f"not a readable CSV table: {str(exc).splitlines()[0]}") from None
    first = True
    try:
        for chunk in chunks:
            chunk.columns = [str(c) for c in chunk.columns]
            if label and label in chunk.columns:
                chunk = chunk.drop(columns=[label])
            score, anomaly, F = model.score_frame(chunk)
            hit = score >= model.threshold_
            expl = np.full(len(chunk), "", dtype=object)
            rows = np.flatnonzero(hit)
            for r, words in zip(rows, explain_rows(model, F, rows, top=explain_top)):
                expl[r] = "; ".join(words)
            res = pd.DataFrame({"row": np.arange(n, n + len(chunk)) + 2})  # file line number (header is line 1)
            if model.entity_column:
                res["entity"] = chunk[model.entity_column].astype("str").to_numpy()
            res["fraud_score"] = np.round(score, 6)
            res["anomaly_score"] = np.round(anomaly, 6)
            res["flagged"] = hit.astype(int)
            res["explanation"] = expl
            res.to_csv(out, mode="w" if first else "a", header=first, index=False)
            first = False
            n += len(chunk)
            flagged += int(hit.sum())
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(data, f"not a readable CSV table: {str(exc).splitlines()[0]}", f"after row {n + 1}") from None
    elapsed = time.perf_counter() - t
    if n and not report.records:
        report.read(str(data), n)
    return {"rows": n, "flagged": flagged, "threshold": model.threshold_, "out": str(out),
            "elapsed_s": round(elapsed, 3), "rows_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
            "read": report.as_dict()}
