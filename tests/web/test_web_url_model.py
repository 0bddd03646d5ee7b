"""URL model options: the popular-domain prior, monotone stage 2, site weights, feature subsets, batching."""

import json

import numpy as np
import pytest

from threatml.models.card import ModelCard
from threatml.web.url_model import UrlModel
from threatml.web.urls import UNRANKED
from web_gen import benign_urls, phishing_urls


@pytest.fixture(scope="module")
def model():
    good, bad = benign_urls(300), phishing_urls(300)
    popular = {"gardennews.org": 12, "example.com": 40}
    return UrlModel(n_features=2**12, n_estimators=30, folds=2, monotone=True, site_weight_power=0.5,
                    ngram_parts="host_path").fit(good + bad, np.r_[np.zeros(300), np.ones(300)], popular)


def test_prior_and_settings_survive_save_and_load(model, tmp_path):
    model.save(tmp_path / "m", ModelCard(name="u", version="1", domain="url", kind=""))
    again = UrlModel.load(tmp_path / "m")
    assert again.popular_.to_dict() == {"gardennews.org": 12.0, "example.com": 40.0}
    assert again.get_params() == model.get_params()
    urls = phishing_urls(30, seed=4) + benign_urls(30, seed=4) + ["http://gardennews.org/a", "example.com"]
    np.testing.assert_allclose(again.score_samples(urls), model.score_samples(urls), rtol=1e-6)
    meta = json.loads((tmp_path / "m" / "url_model.json").read_text())
    assert meta["params"]["monotone"] is True and meta["popular"]["domains"][0] == "gardennews.org"


def test_monotone_stage_two_never_lowers_a_score_for_a_rising_sign(model):
    # an unranked domain can only look worse than the same URL on a ranked one
    M = model._matrix(["http://gardennews.org/sport/today"])
    i = model.feature_names.index("popular_rank")
    assert M[0, i] == pytest.approx(np.log10(12))
    worse = M.copy()
    worse[0, i] = UNRANKED
    assert model.booster_.predict(worse)[0] >= model.booster_.predict(M)[0]


def test_site_weights_balance_big_sites_within_each_class():
    m = UrlModel(site_weight_power=1.0)
    y = np.array([0, 0, 0, 0, 1, 1])
    groups = np.array([0, 0, 0, 1, 2, 3])
    w = m.site_weights(y, groups)
    assert w[:3].sum() == pytest.approx(w[3])  # three pages of one site weigh what one page of another does
    assert w[y == 0].sum() == pytest.approx(4) and w[y == 1].sum() == pytest.approx(2)


def test_batches_threads_and_repeats_give_the_same_scores(model):
    urls = phishing_urls(40, seed=7) + benign_urls(40, seed=7)
    one = model.score_samples(urls)
    np.testing.assert_allclose(model.score_samples(urls, n_jobs=2, batch_size=7), one)
    np.testing.assert_allclose(model.score_samples(urls + urls[:5])[-5:], one[:5])


def test_feature_subsets_are_checked():
    with pytest.raises(ValueError, match="unknown URL features"):
        UrlModel(features=("host_len", "no_such_feature"))
    m = UrlModel(n_features=2**10, n_estimators=10, folds=0, features=("host_len", "sensitive_words"))
    m.fit(benign_urls(60) + phishing_urls(60), np.r_[np.zeros(60), np.ones(60)])
    assert m.feature_names == ["host_len", "sensitive_words", "ngram_score"]
