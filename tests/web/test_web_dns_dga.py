"""The generic DGA priors (pronounceable random, text-fed word lists) on generated names."""

import json
import re

import numpy as np
import pytest

from threatml.web.dga_model import (SYLLABLE_SYNTHETIC, DgaModel, synthetic_syllable_labels, synthetic_text_labels)
from threatml.web.words import stdlib_text

from web_gen import benign_domains, random_dga


def _text_family(n: int, seed: int = 3) -> list[str]:
    """Consecutive words of a text (as rovnix/gozi build names), here Python's pydoc text."""
    words = re.findall(r"[a-z]+", " ".join(stdlib_text()).lower())
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        i, lab = int(rng.integers(0, len(words) - 30)), ""
        while len(lab) < 14:
            lab += words[i]
            i += 1
        out.append(lab + ".com")
    return out


def _pronounceable(n: int, seed: int = 4) -> list[str]:
    """Consonant-vowel names from other letter sets than the prior's (pushdo-like)."""
    rng = np.random.default_rng(seed)
    c, v = list("bdfgklmnprstvz"), list("aeiou")
    return ["".join(rng.choice(c) + rng.choice(v) for _ in range(4)) + ".ru" for _ in range(n)]


def test_syllable_labels_alternate_and_are_reproducible():
    a = synthetic_syllable_labels(300, seed=1)
    assert a == synthetic_syllable_labels(300, seed=1) and len(set(a)) > 290
    assert all(re.fullmatch(r"[a-z]+", x) for x in a)
    # never three consonants in a row: they read like words without being any
    assert not any(re.search(r"[bcdfghjklmnpqrstvwxz]{3}", x) for x in a)


def test_text_labels_are_long_runs_of_vocabulary_words():
    vocab = ["house", "river", "green", "paper", "light", "stone", "music", "table"]
    labs = synthetic_text_labels(vocab, 200, seed=0)
    assert all(12 <= len(x) <= 63 for x in labs)
    assert any(w in "".join(labs) for w in ("the", "of", "and"))  # function words are part of running text


def _benign(n: int, seed: int) -> list[str]:
    """Popular-site-like names: one or two frequent words, a few with digits or short brand stems."""
    from threatml.web.words import count_words, vocabulary

    vocab = vocabulary(count_words(stdlib_text()), max_words=3000)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.choice([1, 1, 2]))
        name = "".join(rng.choice(vocab[:1500], k)) + str(rng.choice(["", "", "", "24", "hq", "app", "tv"]))
        out.append(name + "." + str(rng.choice(["com", "net", "org", "de", "io"])))
    return out + benign_domains(n // 5, seed=seed)


@pytest.fixture(scope="module")
def models():
    benign = _benign(2000, seed=11)
    dga = random_dga(800, seed=12, tld="biz")
    names = benign + dga
    y = np.r_[np.zeros(len(benign)), np.ones(len(dga))]
    text = stdlib_text()
    fit = dict(n_estimators=60, num_leaves=15, folds=0)
    with_priors = DgaModel(**fit).fit(names, y, text=text)
    without = DgaModel(**fit, syllable=0, text_words=0).fit(names, y, text=text)
    return with_priors, without, benign


def test_priors_lift_pronounceable_and_text_fed_families_never_trained(models):
    with_priors, without, benign = models
    from sklearn.metrics import roc_auc_score

    from threatml.pipeline.metrics import detection_rate_at_fpr

    ben = _benign(600, seed=99)
    for fam in (_pronounceable(300), _text_family(300)):
        y = np.r_[np.zeros(len(ben)), np.ones(len(fam))]
        s_with, s_without = with_priors.score_samples(ben + fam), without.score_samples(ben + fam)
        dr_with, dr_without = detection_rate_at_fpr(y, s_with, 0.01), detection_rate_at_fpr(y, s_without, 0.01)
        assert roc_auc_score(y, s_with) > 0.95
        assert dr_with > dr_without + 0.05, (fam[:2], dr_with, dr_without)


def test_pronounceable_names_are_called_an_unknown_family(models, tmp_path):
    from threatml.models.card import ModelCard

    with_priors, _, _ = models
    fam, _ = with_priors.predict_family(_pronounceable(50))
    assert (fam == SYLLABLE_SYNTHETIC).mean() > 0.5
    assert with_priors.family_text(SYLLABLE_SYNTHETIC).startswith("unknown family")
    # the priors are saved as parameters and are no classes of the card
    with_priors.save(tmp_path / "m", ModelCard(name="dga-priors", version="1", domain="url", kind=""))
    back = DgaModel.load(tmp_path / "m")
    assert back.syllable == with_priors.syllable and back.text_words == with_priors.text_words
    classes = json.loads((tmp_path / "m" / "card.json").read_text())["classes"]
    assert not any(c.endswith("synthetic") for c in classes)


def _dns(names, ts, rcode):
    import pandas as pd

    from threatml.events import EventBatch

    return EventBatch.of("dns", pd.DataFrame({"@timestamp": np.asarray(ts, float), "source.ip": "10.0.0.8",
                                              "dns.question.name": names, "dns.response_code": rcode,
                                              "event.id": [f"e{i}" for i in range(len(names))]}), source="gen")


def test_resolving_names_need_a_burst_nxdomain_names_do_not():
    from threatml.detectors.web.dga import DgaDetector

    names = [f"qx{i}wordy.com" for i in range(10)]

    def found(ts, rcode):
        det = DgaDetector(score_fn=lambda n: np.full(len(n), 0.99), threshold=0.5)
        return det.process(_dns(names, ts, rcode)) + det.flush()

    spread = np.arange(10) * 2700.0  # one every 45 minutes: the campaign stays open, no burst
    assert found(spread, "NOERROR") == []
    assert len(found(np.arange(10) * 30.0, "NOERROR")) == 1  # the same ten within five minutes
    nx = found(spread, ["NXDOMAIN"] + ["NOERROR"] * 9)  # one never-registered name is the DGA sign
    assert len(nx) == 1 and nx[0].attributes["nxdomain"] == 1
