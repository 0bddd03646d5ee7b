"""`threatml` commands of the URL and domain models: ``train url|dga``, ``evaluate url|dga``, ``url-score``.

Data: CSV with a label column (``--label-column``, else ``label``/``class``/...),
or one-item-per-line lists given a label with ``--data LABEL=PATH``
(see :mod:`threatml.web.data`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from threatml.cli import _busy, app, evaluate_app, out_console, train_app, print_metrics
from threatml.errors import ReadReport, ThreatMLError

DataOpt = Annotated[list[str], typer.Option("--data", help="CSV with a label column, or LABEL=PATH for a "
                                                           "one-per-line list (benign=top.txt). Repeatable.")]
LabelOpt = Annotated[Optional[str], typer.Option("--label-column", help="Label column of CSV files.")]


def _load(data: list[str], label_column: str | None, report: ReadReport):
    from threatml.web.data import load_items

    d = load_items(data, label_column, report)
    if d["y"].nunique() < 2:
        raise ThreatMLError("the data holds one class only; give benign and malicious items "
                            "(e.g. --data benign=top.txt --data dga=feed.txt)")
    return d


def _card(name: str, kind: str, data: list[str], d, report: ReadReport, description: str):
    from threatml.models.card import ModelCard, describe_data, library_versions
    from threatml.web.data import parse_spec

    return ModelCard(name=name, version="1", domain="url", kind=kind, description=description,
                     training_data=describe_data([parse_spec(s) for s in data]),
                     libraries=library_versions("tldextract"),
                     notes=[f"{r['count']} items skipped in {r['file']}: {r['reason']}" for r in report.as_dict()["skipped"]])


def _print_metrics(title: str, metrics: dict, as_json: bool) -> None:
    print_metrics(metrics, title, as_json)
    if as_json:
        return
    fam = metrics.get("per_class") or {}
    if fam:
        t2 = Table(title="per class")
        for c in ("class", "n", "detection rate / FPR", "detection rate at 1% FPR"):
            t2.add_column(c)
        for k, v in fam.items():
            dr = v.get("detection_rate", v.get("false_positive_rate"))
            t2.add_row(k, str(v.get("n")), "" if dr is None else f"{dr:.4f}",
                       "" if v.get("detection_rate_at_fpr_1pct") is None else f"{v['detection_rate_at_fpr_1pct']:.4f}")
        out_console.print(t2)


@train_app.command("url")
def train_url_cmd(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    label_column: LabelOpt = None,
    n_estimators: Annotated[int, typer.Option(help="LightGBM rounds of the lexical stage.")] = 150,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    popular: Annotated[Optional[Path], typer.Option(
        "--popular", help="Top-sites list (best first; one domain a line or rank,domain) kept as the "
                          "popularity prior, as the shipped model does.")] = None,
    popular_max_rank: Annotated[int, typer.Option(help="Ranks of --popular kept as the prior.")] = 5000,
) -> None:
    """Train a phishing/malicious URL classifier (hashed character n-grams + lexical LightGBM)."""
    from threatml.web.data import popular_ranks, read_one
    from threatml.web.url_model import UrlModel

    report = ReadReport()
    with _busy("reading URLs and training"):
        d = _load(data, label_column, report).drop_duplicates("item").reset_index(drop=True)
        prior = (popular_ranks(read_one(popular, "benign", None, ReadReport())["item"].tolist(), popular_max_rank)
                 if popular is not None else None)
        m = UrlModel(n_estimators=n_estimators, seed=seed, folds=3 if len(d) >= 30 else 0)
        m.fit(d["item"].tolist(), d["y"].to_numpy(), popular=prior)
        card = _card("url-classifier", "url-classifier", data, d, report,
                     "URL classifier trained with `threatml train url`")
        card.metrics = m.metrics_
        m.save(out, card)
    out_console.print(f"Wrote model url-classifier@1 to {out} ({len(d):,} URLs, {int(d['y'].sum()):,} malicious)")
    oof = m.metrics_.get("out_of_fold")
    if oof:
        out_console.print_json(json.dumps({k: oof[k] for k in ("n", "f1", "precision", "recall", "roc_auc")}))


@train_app.command("dga")
def train_dga_cmd(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    label_column: LabelOpt = None,
    text: Annotated[Optional[list[Path]], typer.Option("--text", help="Plain-text English files for the vocabulary and "
                                                                      "character model (default: Python's own help text).")] = None,
    synthetic: Annotated[int, typer.Option(help="Synthetic word-list DGA names added as a prior (0: none).")] = 2000,
    n_estimators: Annotated[int, typer.Option(help="LightGBM rounds.")] = 250,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a DGA domain classifier (character statistics, English likelihood, word segmentation; family model)."""
    from threatml.web.dga_model import DgaModel

    report = ReadReport()
    texts = None
    if text:
        texts = []
        for p in text:
            if not p.is_file():
                raise ThreatMLError(f"{p}: --text file not found")
            texts.append(p.read_text(errors="replace"))
    with _busy("reading domains and training"):
        d = _load(data, label_column, report)
        fam = np.where(d["y"] == 1, np.where(d["family"] == "", "dga", d["family"]), "benign")
        m = DgaModel(n_estimators=n_estimators, num_leaves=15, synthetic=synthetic, seed=seed,
                     folds=3 if len(d) >= 60 else 0)
        m.fit(d["item"].tolist(), d["y"].to_numpy(), fam, text=texts)
        card = _card("dga-classifier", "dga-classifier", data, d, report, "DGA classifier trained with `threatml train dga`")
        card.metrics = m.metrics_
        m.save(out, card)
    out_console.print(f"Wrote model dga-classifier@1 to {out} ({len(d):,} names; families: {', '.join(m.families_) or 'none'})")
    oof = m.metrics_.get("out_of_fold")
    if oof:
        out_console.print_json(json.dumps({k: oof[k] for k in ("n", "roc_auc", "recall", "benign_fpr")}))


def _per_class_at_fpr(rep: dict, y: np.ndarray, score: np.ndarray, fam: np.ndarray) -> None:
    from threatml.pipeline.metrics import detection_rate_at_fpr

    ben = y == 0
    for c, v in rep["per_class"].items():
        if c == "benign":
            continue
        m = (fam == c) & (y == 1)
        sel = ben | m
        v["detection_rate_at_fpr_1pct"] = detection_rate_at_fpr(y[sel], score[sel], 0.01)
        from sklearn.metrics import roc_auc_score

        v["roc_auc"] = round(float(roc_auc_score(y[sel], score[sel])), 6) if ben.any() and m.any() else None


@evaluate_app.command("url")
def evaluate_url_cmd(
    data: DataOpt,
    model: Annotated[str, typer.Option("--model", help="Model folder or name.")] = "url-classifier",
    label_column: LabelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Evaluate a URL model: F1, ROC-AUC, detection rate at 1% and 0.1% FPR, per source label."""
    from threatml.models.card import read_card
    from threatml.models.registry import resolve
    from threatml.pipeline.metrics import binary_report
    from threatml.web.url_model import UrlModel

    report = ReadReport()
    with _busy("reading URLs and scoring"):
        m = UrlModel.load(model)
        card = read_card(resolve(model), verify=False)
        d = _load(data, label_column, report)
        y = d["y"].to_numpy()
        score = m.score_samples(d["item"].tolist())
        fam = np.where(y == 1, np.where(d["family"] == "", "malicious", d["family"]), "benign")
        rep = binary_report(y, score, m.threshold_, classes=fam)
        _per_class_at_fpr(rep, y, score, fam)
        pred = score >= m.alert_threshold_
        rep["at_alert_threshold"] = {"threshold": round(m.alert_threshold_, 6),
                                     "recall": round(float(pred[y == 1].mean()), 6),
                                     "benign_fpr": round(float(pred[y == 0].mean()), 6)}
        rep["model"] = f"{card.name}@{card.version}"
        rep["read_report"] = report.as_dict()
    _print_metrics(f"Evaluation of {model}", rep, as_json)


@evaluate_app.command("dga")
def evaluate_dga_cmd(
    data: DataOpt,
    model: Annotated[str, typer.Option("--model", help="Model folder or name.")] = "dga-classifier",
    label_column: LabelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Evaluate a DGA model: ROC-AUC, detection rate at 1% FPR overall and per family, family accuracy."""
    from threatml.models.card import read_card
    from threatml.models.registry import resolve
    from threatml.pipeline.metrics import binary_report
    from threatml.web.dga_model import DgaModel

    report = ReadReport()
    with _busy("reading domains and scoring"):
        m = DgaModel.load(model)
        card = read_card(resolve(model), verify=False)
        d = _load(data, label_column, report)
        y = d["y"].to_numpy()
        names = d["item"].tolist()
        score = m.score_samples(names)
        fam = np.where(y == 1, np.where(d["family"] == "", "dga", d["family"]), "benign")
        rep = binary_report(y, score, m.threshold_, classes=fam)
        _per_class_at_fpr(rep, y, score, fam)
        known = np.isin(fam, m.families_) & (y == 1)  # synthetic classes never occur in data
        if known.any():
            pf, _ = m.predict_family([n for n, k in zip(names, known) if k])
            rep["family_accuracy"] = round(float(np.mean(pf == fam[known])), 6)
            rep["family_accuracy_n"] = int(known.sum())
        unseen = sorted(set(fam[y == 1]) - set(m.families_))
        rep["families_in_training"] = list(m.families_)
        rep["families_not_in_training"] = unseen
        per = rep["per_class"]
        aucs = [per[f]["roc_auc"] for f in unseen if per.get(f, {}).get("roc_auc") is not None]
        rep["unseen_family_mean_roc_auc"] = round(float(np.mean(aucs)), 6) if aucs else None
        rep["model"] = f"{card.name}@{card.version}"
        rep["read_report"] = report.as_dict()
    _print_metrics(f"Evaluation of {model}", rep, as_json)


@app.command("url-score")
def url_score_cmd(
    items: Annotated[list[str], typer.Argument(help="URLs, or domain names with --dga.")],
    dga: Annotated[bool, typer.Option("--dga", help="Score domain names with the DGA model.")] = False,
    model: Annotated[Optional[str], typer.Option("--model", help="Model folder or name (default: shipped).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """Score URLs (phishing/malicious) or domain names (DGA) and say why."""
    if dga:
        from threatml.web.dga_model import DgaModel

        m = DgaModel.load(model)
        fam, fp = m.predict_family(items)
        thr = m.threshold_
    else:
        from threatml.web.url_model import UrlModel

        m = UrlModel.load(model)
        fam, fp = np.full(len(items), "", dtype=object), np.zeros(len(items))
        thr = m.threshold_
    scores = m.score_samples(items)
    for it, s, f, q in zip(items, scores, fam, fp):
        row = {"item": it, "score": round(float(s), 4), "verdict": "malicious" if s >= thr else "benign",
               "reasons": m.explain(it)}
        if dga and s >= thr and f:
            row["family"], row["family_probability"] = m.family_text(str(f)), round(float(q), 3)
        if as_json:
            print(json.dumps(row))
        else:
            fam_txt = f" family={row['family']} ({row['family_probability']})" if "family" in row else ""
            out_console.print(f"[bold]{it}[/bold] {row['verdict']} score={row['score']}{fam_txt}", highlight=False)
            for r in row["reasons"]:
                out_console.print(f"  - {r}", highlight=False)
