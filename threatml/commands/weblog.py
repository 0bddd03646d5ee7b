"""`threatml train weblog` and `threatml evaluate weblog`: the access-log request model."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from threatml.cli import console, evaluate_app, out_console, train_app
from threatml.errors import ThreatMLError

_URLS = typer.Option("--benign-urls", help="One URL per line (real benign URLs; their paths and queries are the "
                                           "benign requests), e.g. datasets/url/phishtank_unb_urls/DataFiles/"
                                           "1.Benign_list_big_final.csv")


@train_app.command("weblog")
def train_weblog(
    benign_urls: Annotated[Path, _URLS],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
    n_benign: Annotated[int, typer.Option("--benign", help="Benign training requests.")] = 30_000,
    n_attack: Annotated[int, typer.Option("--attacks", help="Generated attack requests.")] = 8_000,
) -> None:
    """Train the request model (benign: your URLs; attacks: built-in grammars, sub-families held out)."""
    from threatml.detectors.weblog.synthetic import load_benign_urls
    from threatml.detectors.weblog.train import save_request_model, train_request_model

    if not benign_urls.exists():
        raise ThreatMLError(f"{benign_urls}: no such file")
    urls = load_benign_urls(benign_urls)
    if len(urls) < 100:
        raise ThreatMLError(f"{benign_urls}: only {len(urls)} URLs read; need at least 100")
    model, metrics = train_request_model(urls, seed=seed, n_benign=n_benign, n_attack=n_attack)
    save_request_model(out, model, metrics, [benign_urls])
    console.print(f"wrote {out}: held-out recall {metrics['recall']:.3f}, precision {metrics['precision']:.3f}, "
                  f"ROC AUC {metrics['roc_auc']:.3f}")


@evaluate_app.command("weblog")
def evaluate_weblog(
    model: Annotated[str, typer.Option("--model", help="Model folder or name (weblog-request).")],
    benign_urls: Annotated[Path, _URLS],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated test set.")] = 99,
    n: Annotated[int, typer.Option("--n", help="Benign test requests (attacks: a quarter of that).")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score generated requests from held-out attack sub-families and your benign URLs; common JSON keys."""
    from threatml.models.registry import resolve
    from threatml.pipeline.metrics import binary_report
    from threatml.detectors.weblog.signatures import match_families
    from threatml.detectors.weblog.synthetic import load_benign_urls, request_examples
    from threatml.detectors.weblog.train import HELD_OUT, load_request_model

    m = load_request_model(resolve(model))
    if not benign_urls.exists():
        raise ThreatMLError(f"{benign_urls}: no such file")
    x, y, fam = request_examples(random.Random(seed), n, n // 4, load_benign_urls(benign_urls), set(HELD_OUT))
    s = m.score_samples(x)
    rep = binary_report(np.asarray(y), s, m.threshold)
    rules = np.array([bool(f) for f in match_families(x)])
    ya = np.asarray(y)
    rep["rules_recall"] = round(float(rules[ya == 1].mean()), 6)
    rep["rules_fpr"] = round(float(rules[ya == 0].mean()), 6)
    both = rules | (s >= m.threshold)
    rep["rules_or_model_recall"] = round(float(both[ya == 1].mean()), 6)
    rep["rules_or_model_fpr"] = round(float(both[ya == 0].mean()), 6)
    rep["test_subfamilies"] = sorted(HELD_OUT)
    if as_json:
        out_console.print_json(json.dumps(rep))
    else:
        for k, v in rep.items():
            out_console.print(f"{k}: {v}")
