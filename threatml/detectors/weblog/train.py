"""Train and evaluate the request model offline, honestly about where the data comes from.

There is no labeled access-log corpus in the shared data, so:

* **benign** request targets are the paths and queries of real benign URLs
  (the ISCX-URL2016 benign list in ``datasets/url/phishtank_unb_urls``), split
  in two halves by URL so no target is in both training and test, plus
  targets of a small built-in site map;
* **attacks** are generated from the payload grammars in
  :mod:`threatml.detectors.weblog.payloads`, placed in a parameter or the path and
  URL-encoded in several ways.

To keep the model from merely memorising the grammar, whole sub-families
are held out (:data:`HELD_OUT`: time-based and stacked SQL injection, XSS
polyglots and ``javascript:`` URIs, stream wrappers, code evaluation): the
model is trained without them and the reported metrics are on held-out
sub-families and held-out benign URLs only. They still come from our own
grammars, so they say nothing about attack styles no grammar here covers.

>>> import random
>>> m, metrics = train_request_model(["/a?b=1", "/c/d.html"] * 50, n_benign=300, n_attack=150, n_bits=12)
>>> 0.0 <= metrics["roc_auc"] <= 1.0 and metrics["held_out_subfamilies"] == sorted(HELD_OUT)
True
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from threatml.models.card import ModelCard, library_versions, read_card, write_model
from threatml.pipeline.metrics import binary_report
from threatml.detectors.weblog.model import LEXICAL, RequestModel
from threatml.detectors.weblog.payloads import FAMILIES
from threatml.detectors.weblog.synthetic import load_benign_urls, request_examples

HELD_OUT = frozenset({"sqli.time", "sqli.stacked", "xss.polyglot", "xss.uri", "traversal.wrapper", "cmdi.eval"})
ALL_SUB = frozenset(f"{f}.{s}" for f, subs in FAMILIES.items() for s in subs)
BENIGN_LIST = Path("url/phishtank_unb_urls/DataFiles/1.Benign_list_big_final.csv")


def train_request_model(urls: list[str], seed: int = 0, n_benign: int = 30_000, n_attack: int = 8_000,
                        n_bits: int = 16) -> tuple[RequestModel, dict]:
    """Fit on URL half A + seen sub-families; measure on URL half B + held-out sub-families."""
    urls = list(urls)
    random.Random(seed).shuffle(urls)
    half = len(urls) // 2
    train_u, test_u = urls[:half] or urls, urls[half:] or urls
    x, y, _ = request_examples(random.Random(seed + 1), n_benign, n_attack, train_u, set(ALL_SUB - HELD_OUT))
    xt, yt, ft = request_examples(random.Random(seed + 2), n_benign // 2, n_attack // 2, test_u, set(HELD_OUT))
    model = RequestModel(n_bits=n_bits, seed=seed).fit(x, y)
    s = model.score_samples(xt)
    yt_a, ft_a = np.asarray(yt), np.asarray(ft)
    rep = binary_report(yt_a, s, model.threshold)
    rep["recall_per_subfamily"] = {f: round(float((s[ft_a == f] >= model.threshold).mean()), 4)
                                   for f in sorted(set(ft_a[yt_a == 1]))}
    rep["held_out_subfamilies"] = sorted(HELD_OUT)
    rep["train_examples"] = len(x)
    return model, rep


def save_request_model(folder: Path, model: RequestModel, metrics: dict, data: list[Path], name: str = "weblog-request",
                       version: str = "1") -> Path:
    from threatml.models.card import describe_data

    folder = Path(folder)
    model.save(folder)
    card = ModelCard(
        name=name, version=version, domain="weblog", kind="request-classifier",
        description="Logistic regression on hashed char 2-4-grams + lexical features of decoded request targets.",
        training_data=describe_data([(p, "benign") for p in data]),
        features=[f"char-ngram-hash-{model.n_bits}bit", *LEXICAL], classes=["benign", "attack"],
        parameters={"n_bits": model.n_bits, "ngram": list(model.ngram), "C": model.C, "seed": model.seed,
                    "threshold": model.threshold},
        metrics={k: v for k, v in metrics.items() if not isinstance(v, (list,)) or k == "held_out_subfamilies"},
        libraries=library_versions(), artifacts={"model.json": ""},
        notes=["Attacks are generated from threatml.detectors.weblog.payloads grammars; metrics are on held-out "
               "sub-families and held-out benign URLs (see docs/weblog.md)."])
    write_model(folder, card)
    return folder


def load_request_model(folder: Path) -> RequestModel:
    read_card(folder, verify=True)
    return RequestModel.load(folder)


def build(root: Path) -> str:
    """Shipped-model builder: ``threatml/shipped/weblog/request`` from the shared benign URL list."""
    src = Path(root) / BENIGN_LIST
    if not src.exists():
        raise FileNotFoundError(f"{src}: benign URL list missing")
    model, metrics = train_request_model(load_benign_urls(src), seed=0)
    out = Path(__file__).resolve().parents[2] / "shipped" / "weblog" / "request"
    save_request_model(out, model, metrics, [src])
    return (f"weblog-request: held-out sub-families recall {metrics['recall']:.3f}, precision {metrics['precision']:.3f}, "
            f"benign FPR {metrics.get('benign_fpr', float('nan')):.4f}, ROC AUC {metrics['roc_auc']:.3f}")
