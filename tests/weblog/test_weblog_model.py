"""Request model: learns from generated data, generalises to a held-out sub-family, saves as JSON with a card."""

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from threatml.cli import app
from threatml.errors import ThreatMLError
from threatml.detectors.weblog.model import RequestModel
from threatml.detectors.weblog.payloads import FAMILIES
from threatml.detectors.weblog.synthetic import request_examples
from threatml.detectors.weblog.train import load_request_model, save_request_model, train_request_model

ALL = {f"{f}.{s}" for f, subs in FAMILIES.items() for s in subs}


def test_model_scores_held_out_subfamily_and_round_trips(tmp_path):
    x, y, _ = request_examples(random.Random(0), 1200, 600, None, ALL - {"sqli.time"})
    m = RequestModel(n_bits=12).fit(x, y)
    xt, yt, ft = request_examples(random.Random(1), 400, 120, None, {"sqli.time"})
    s = m.score_samples(xt)
    yt = np.asarray(yt)
    assert (s[yt == 1] >= 0.5).mean() > 0.8  # a technique it never saw
    assert (s[yt == 0] >= 0.5).mean() < 0.02
    save_request_model(tmp_path / "m", m, {"roc_auc": 1.0}, [])
    back = load_request_model(tmp_path / "m")
    assert np.allclose(back.score_samples(xt[:50]), s[:50], atol=1e-3)
    d = json.loads((tmp_path / "m" / "model.json").read_text())
    assert d["type"] == "weblog.request_model"
    (tmp_path / "m" / "model.json").write_text(json.dumps({**d, "intercept": 5.0}))
    with pytest.raises(ThreatMLError):  # tampered artifact: the card's hash no longer matches
        load_request_model(tmp_path / "m")


def test_train_and_evaluate_commands(tmp_path):
    urls = tmp_path / "urls.txt"
    r = random.Random(3)
    urls.write_text("\n".join(f"http://site{r.randint(1, 50)}.example/{w}/{r.randint(1, 999)}?p={r.randint(1, 9)}"
                              for w in ["news", "shop", "blog", "docs"] * 60) + "\n")
    runner = CliRunner()
    res = runner.invoke(app, ["train", "weblog", "--benign-urls", str(urls), "--out", str(tmp_path / "m"),
                              "--benign", "500", "--attacks", "250"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["evaluate", "weblog", "--model", str(tmp_path / "m"), "--benign-urls", str(urls),
                              "--n", "300", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert {"precision", "recall", "roc_auc", "rules_recall", "rules_or_model_recall"} <= set(rep)
    assert rep["rules_or_model_recall"] >= rep["rules_recall"]


def test_train_function_reports_held_out_metrics():
    _, m = train_request_model(["/a/b?c=1", "/x/y.html"] * 40, n_benign=200, n_attack=100, n_bits=10)
    assert m["held_out_subfamilies"] and set(m["recall_per_subfamily"]) <= ALL
