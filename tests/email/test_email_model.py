"""The ham/spam/phishing classifier on a generated corpus: learns, explains itself, saves without pickle."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from email_samples import corpus_message

from threatml.email.classifier import EmailClassifier
from threatml.email.parse import parse_message
from threatml.email.record import to_row
from threatml.email.text_model import HashedTextModel
from threatml.events.schema import conform
from threatml.models.card import ModelCard


def _frame(kinds: list[str], seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = [to_row(parse_message(corpus_message(k, i, rng)), f"m{seed}-{i}", "eml", label=k) for i, k in enumerate(kinds)]
    return conform("email", pd.DataFrame(rows))


@pytest.fixture(scope="module")
def trained():
    kinds = ["ham"] * 40 + ["spam"] * 25 + ["phishing"] * 25
    train = _frame(kinds, 1)
    clf = EmailClassifier(n_estimators=60, folds=3, seed=0).fit(train, train["label"].to_numpy(dtype=object))
    return clf


def test_three_classes_learned_and_held_out_messages_classified(trained):
    test = _frame(["ham"] * 20 + ["spam"] * 10 + ["phishing"] * 10, 2)
    pred = np.array(trained.predict(test))
    truth = test["label"].to_numpy(dtype=object)
    assert trained.classes_ == ["ham", "phishing", "spam"]
    assert (pred == truth).mean() >= 0.9
    score = trained.score_samples(test)
    assert score[truth != "ham"].min() > score[truth == "ham"].max()  # generated classes separate fully


def test_verdict_explains_itself_with_words_and_features(trained):
    test = _frame(["phishing"], 3)
    sentences = trained.explain(test, 0, "phishing")
    assert sentences, "a verdict must come with reasons"
    joined = " ".join(sentences)
    assert "log-odds" in joined
    assert any(w in joined for w in ("'verify", "'account", "'password", "'login", "'suspended", "'urgent", "'security",
                                     "'confirm", "'billing", "'bank", "'identity", "'access", "'restore", "'unusual",
                                     "'activity", "'update", "'information", "URL", "link", "Reply-To", "display name",
                                     "sender", "accounts, passwords", "suspension"))


def test_save_load_round_trip_is_json_and_lightgbm_text_only(trained, tmp_path):
    test = _frame(["ham", "spam", "phishing"], 4)
    trained.save(tmp_path / "m", ModelCard(name="t", version="1", domain="email", kind="email-classifier"))
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["card.json", "classifier.json", "structured.txt", "text_model.json"]
    json.loads((tmp_path / "m" / "text_model.json").read_text())
    again = EmailClassifier.load(tmp_path / "m")
    assert np.allclose(again.predict_proba(test), trained.predict_proba(test), atol=1e-4)
    # a swapped artifact is refused
    (tmp_path / "m" / "classifier.json").write_text((tmp_path / "m" / "classifier.json").read_text() + " ")
    from threatml.errors import ThreatMLError

    with pytest.raises(ThreatMLError):
        EmailClassifier.load(tmp_path / "m")


def test_text_model_two_classes_and_obfuscated_words():
    texts = ["cheap viagra pills online", "buy cheap pills now", "lunch with the team", "team meeting moved"] * 6
    y = ["spam", "spam", "ham", "ham"] * 6
    m = HashedTextModel(keep=300).fit(texts, y)
    assert len(m.columns_) <= 300
    assert m.predict(["v1agra ch3ap pills"]) == ["spam"]  # character n-grams survive the digits
    back = HashedTextModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert np.allclose(back.decision_function(texts[:4]), m.decision_function(texts[:4]), atol=1e-3)
    assert m.top_terms("buy cheap pills", "spam", 3)[0][0] in ("cheap", "pills", "buy", "cheap pills", "buy cheap")
