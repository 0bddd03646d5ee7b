"""What makes the model carry over to other corpora: lure-language features, header-less training copies with
their own threshold, and the subject line scored on its own (generated corpora, built here)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from email_samples import corpus_message, message

from threatml.email.classifier import EmailClassifier
from threatml.email.features import COLUMNS, FEATURES, features_of, headerless_features
from threatml.email.parse import parse_message
from threatml.email.record import to_row
from threatml.events.schema import conform
from threatml.models.card import ModelCard


def _frame(kinds: list[str], seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = [to_row(parse_message(corpus_message(k, i, rng)), f"g{seed}-{i}", "eml", label=k) for i, k in enumerate(kinds)]
    return conform("email", pd.DataFrame(rows))


def _text_only(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out[COLUMNS] = np.array([[headerless_features(s, b)[k] for k in FEATURES]
                             for s, b in zip(out["email.subject"], out["email.body"])])
    return out


@pytest.fixture(scope="module")
def trained():
    train = _frame(["ham"] * 40 + ["spam"] * 25 + ["phishing"] * 25, 11)
    return EmailClassifier(n_estimators=60, folds=3, seed=0).fit(train, train["label"].to_numpy(dtype=object))


def test_lure_language_and_password_forms_are_features():
    raw = message(subject="Account suspended", text="Dear Customer, verify your password immediately",
                  html='<p>Dear Customer</p><form action="http://x.example/p"><input type="password" name=p></form>'
                       '<a href="http://x.example/signin/verify">Sign in now</a>')
    f = features_of(parse_message(raw))
    assert f["credential_words"] >= 2 and f["threat_words"] >= 1 and f["generic_greeting"] == 1.0
    assert f["password_inputs"] == 1.0 and f["url_action_anchor"] == 1.0 and f["url_login_path"] == 1.0
    plain = features_of(parse_message(message(subject="Lunch", text="See you at noon")))
    assert plain["credential_words"] == plain["threat_words"] == plain["password_inputs"] == 0.0


def test_header_less_view_keeps_text_facts_and_marks_headers_unknown():
    f = headerless_features("Verify now", "Your account is locked: http://192.0.2.7/login")
    assert np.isnan(f["missing_message_id"]) and np.isnan(f["spf_fail"])
    assert f["url_ip"] == 1.0 and f["credential_words"] >= 2 and f["n_parts"] == 1.0


def test_text_without_headers_is_scored_with_its_own_threshold(trained, tmp_path):
    test = _frame(["ham"] * 20 + ["spam"] * 10 + ["phishing"] * 10, 12)
    truth = test["label"].to_numpy(dtype=object)
    text_only = _text_only(test)
    th = trained.thresholds(text_only, len(text_only))
    assert np.all(th == trained.threshold_text_)
    assert np.all(trained.thresholds(test, len(test)) == trained.threshold_)
    pred = np.array(trained.predict(text_only))
    assert (pred == truth).mean() >= 0.9  # the same messages without any header are still told apart
    score = trained.score_samples(text_only)
    assert score[truth != "ham"].min() > score[truth == "ham"].max()
    trained.save(tmp_path / "m", ModelCard(name="t", version="1", domain="email", kind="email-classifier"))
    back = EmailClassifier.load(tmp_path / "m")
    assert back.threshold_text_ == pytest.approx(trained.threshold_text_)
    assert back.predict(text_only) == trained.predict(text_only)


def test_subject_is_scored_on_its_own_and_explained(trained):
    names = trained.feature_names()
    assert "subject_phishing" in names and "text_phishing" in names and "text_upper" in names
    test = _frame(["phishing"] * 3, 13)
    _, X, _, _ = trained.score_frame(test)
    j = names.index("subject_phishing")
    blank = test.copy()
    blank["email.subject"] = ""
    _, Xb, _, _ = trained.score_frame(blank)
    assert np.all(X[:, j] > Xb[:, j])  # a lure subject pushes its own margin towards phishing
    assert np.allclose(X[:, names.index("text_phishing")] != 0, True)
