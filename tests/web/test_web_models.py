"""URL and DGA models: training on generated data, save/load round trip, explanations, the shipped models."""

import json

import numpy as np
import pytest

from threatml.errors import ThreatMLError
from threatml.models.card import ModelCard
from threatml.web.dga_model import DgaModel, synthetic_wordlist_labels
from threatml.web.url_model import UrlModel
from threatml.web.words import CharTrigramLM, segment
from web_gen import benign_domains, benign_urls, phishing_urls, random_dga

TEXT = ["the garden of the old house by the river has a green table and a stone path to the market "
        "where people buy paper books photos and music for travel and health in the city of the world"] * 5


@pytest.fixture(scope="module")
def url_model():
    good, bad = benign_urls(400), phishing_urls(400)
    return UrlModel(n_features=2**14, n_estimators=40, folds=2).fit(good + bad, np.r_[np.zeros(400), np.ones(400)])


@pytest.fixture(scope="module")
def dga_model():
    ben = benign_domains(600)
    fam_a = random_dga(300, seed=1, tld="biz")
    fam_b = ["".join(np.random.default_rng(i).choice(list("0123456789abcdef"), 32)) + ".info" for i in range(300)]
    names = ben + fam_a + fam_b
    y = np.r_[np.zeros(600), np.ones(600)]
    fam = ["benign"] * 600 + ["alpha"] * 300 + ["hexfam"] * 300
    return DgaModel(n_estimators=60, synthetic=300, folds=2, alert_fpr=0.01).fit(names, y, fam, text=TEXT)


def test_url_model_separates_and_explains(url_model):
    s = url_model.score_samples(["http://appleid.com-verify7.xyz/signin", "http://www.gardennews.org/sport/today"])
    assert s[0] > 0.5 > s[1]
    why = url_model.explain("http://appleid.com-verify7.xyz/signin")
    assert why and all(isinstance(x, str) for x in why)
    assert url_model.score_samples([]).shape == (0,)


def test_url_model_round_trip_and_tamper_refusal(url_model, tmp_path):
    urls = phishing_urls(20, seed=9) + benign_urls(20, seed=9)
    url_model.save(tmp_path / "u", ModelCard(name="url-test", version="1", domain="url", kind=""))
    again = UrlModel.load(tmp_path / "u")
    np.testing.assert_allclose(again.score_samples(urls), url_model.score_samples(urls), rtol=1e-6)
    assert again.threshold_ == url_model.threshold_ and again.alert_threshold_ == url_model.alert_threshold_
    files = {p.name for p in (tmp_path / "u").iterdir()}
    assert files == {"card.json", "url_lexical.txt", "url_model.json"}  # JSON and LightGBM text only
    meta = tmp_path / "u" / "url_model.json"
    d = json.loads(meta.read_text())
    d["intercept"] += 1.0
    meta.write_text(json.dumps(d))
    with pytest.raises(ThreatMLError, match="SHA-256"):
        UrlModel.load(tmp_path / "u")


def test_dga_model_scores_families_and_round_trips(dga_model, tmp_path):
    names = ["qz8kx0vjw3mt.biz", "0f3a9c1e5b7d2f4a6c8e0a1b3c5d7e9f.info", "garden.com", "photo24.de"]
    s = dga_model.score_samples(names)
    assert min(s[:2]) > 0.5 > max(s[2:])
    fam, p = dga_model.predict_family(names[:2])
    assert fam.tolist() == ["alpha", "hexfam"] and (p > 0.5).all()
    dga_model.save(tmp_path / "d", ModelCard(name="dga-test", version="1", domain="url", kind=""))
    again = DgaModel.load(tmp_path / "d")
    np.testing.assert_allclose(again.score_samples(names), s, rtol=1e-6)
    assert "wordlist-synthetic" in again.families_  # the synthetic prior is a class, reported as unknown
    assert again.family_text("wordlist-synthetic").startswith("unknown")
    assert dga_model.explain(names[0])


def test_dga_ignores_addresses_and_empty_names(dga_model):
    assert dga_model.score_samples(["10.1.2.3", "", "a.b"]).tolist() == [0.0, 0.0, 0.0]


def test_words_segmentation_and_language_model():
    vocab = frozenset({"telephone", "habit", "flow", "exchange", "tele", "phone"})
    assert segment("telephonehabitflowexchange", vocab) == ["telephone", "habit", "flow", "exchange"]
    lm = CharTrigramLM.fit(["telephone", "habit", "flow", "exchange"] * 4)
    again = CharTrigramLM.from_json(json.loads(json.dumps(lm.to_json())))
    np.testing.assert_allclose(again.score(["habit", "xqzj"])["lm_mean"], lm.score(["habit", "xqzj"])["lm_mean"])
    syn = synthetic_wordlist_labels(["alpha", "bravo", "charlie", "delta"], 20, seed=3)
    assert syn == synthetic_wordlist_labels(["alpha", "bravo", "charlie", "delta"], 20, seed=3)  # deterministic
    assert all(len(x.replace("-", "")) >= 8 for x in syn)


def test_shipped_models_load_and_judge_plainly():
    u = UrlModel.load()
    d = DgaModel.load()
    s = u.score_samples(["http://paypal.com.account-verify-login.tk/webscr/signin.php", "http://google.com/"])
    assert s[0] > u.threshold_ > s[1]
    g = d.score_samples(["google.com", "wikipedia.org", "xkqjwzvbtplm3r.biz", "ntmnhltdufbgjw.ir"])
    assert max(g[:2]) < d.threshold_ < min(g[2:])
