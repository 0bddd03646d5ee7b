"""FlowBaseline: unsupervised k-NN / HBOS baseline on flows (fit, threshold, exact fast search, storage)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.errors import ThreatMLError
from threatml.models.card import ModelCard, read_card
from threatml.models.flow_baseline import (
    META_FILE, FlowBaseline, _brute_knn, _unique_rows, canonical_matrix, combined_score, tail_share)
from threatml.pipeline.metrics import threshold_at_fpr


def normal_flows(n: int, seed: int) -> pd.DataFrame:
    """Vectorised benign mix in the flow schema: web (TLS), DNS, and a few NTP and RST'd connections."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["web", "dns", "ntp", "rst"], n, p=[0.6, 0.3, 0.05, 0.05])
    web, dns, ntp = kind == "web", kind == "dns", kind == "ntp"
    return pd.DataFrame({
        "source.ip": "10.0.0." + pd.Series(rng.integers(2, 60, n)).astype(str),
        "destination.ip": "93.184.216." + pd.Series(rng.integers(1, 30, n)).astype(str),
        "source.port": rng.integers(49152, 65535, n).astype(float),
        "destination.port": np.select([web, dns, ntp], [443.0, 53.0, 123.0], 8080.0),
        "network.transport": np.where(web | (kind == "rst"), "tcp", "udp"),
        "network.protocol": np.select([web, dns], ["ssl", "dns"], ""),
        "flow.duration": np.where(web, rng.exponential(2.0, n), rng.exponential(0.05, n)),
        "source.bytes": np.where(web, rng.lognormal(7, 0.6, n), rng.lognormal(4, 0.3, n)).round(),
        "destination.bytes": np.where(web, rng.lognormal(10, 0.8, n), rng.lognormal(5, 0.3, n)).round(),
        "source.packets": np.where(web, rng.integers(5, 40, n), 1).astype(float),
        "destination.packets": np.where(web, rng.integers(5, 60, n), 1).astype(float),
        "flow.state": np.select([web, dns | ntp], ["SF", "SF"], "RSTO"),
    })


def attack_flows(n: int, seed: int) -> pd.DataFrame:
    """Families the baseline never saw: SYN scan of many ports, and a UDP flood of large one-way datagrams."""
    rng = np.random.default_rng(seed)
    scan = np.arange(n) % 2 == 0
    return pd.DataFrame({
        "source.ip": "203.0.113.7", "destination.ip": "10.0.0.5",
        "source.port": rng.integers(1024, 65535, n).astype(float),
        "destination.port": rng.integers(1, 10000, n).astype(float),
        "network.transport": np.where(scan, "tcp", "udp"), "network.protocol": "",
        "flow.duration": np.where(scan, 0.0, rng.uniform(20, 60, n)),
        "source.bytes": np.where(scan, 0.0, rng.uniform(1e6, 5e6, n)).round(),
        "destination.bytes": 0.0,
        "source.packets": np.where(scan, 1.0, rng.uniform(1e3, 4e3, n)).round(),
        "destination.packets": 0.0,
        "flow.state": np.where(scan, "S0", "SF"),
    })


@pytest.fixture(scope="module")
def fitted() -> FlowBaseline:
    return FlowBaseline(seed=1).fit(normal_flows(4000, seed=1))


def test_flags_injected_outliers_and_not_fresh_normal(fitted):
    fresh, attacks = normal_flows(3000, seed=2), attack_flows(200, seed=3)
    assert fitted.predict(attacks).mean() > 0.95
    assert fitted.predict(fresh).mean() < 0.03
    # the scores themselves rank every attack above the bulk of normal traffic
    assert np.median(fitted.score_samples(attacks)) > np.quantile(fitted.score_samples(fresh), 0.99)


@pytest.mark.parametrize("method", ["knn", "hbos"])
@pytest.mark.parametrize("target", [0.01, 0.05])
def test_threshold_holds_target_fpr_on_held_out_normal(method, target):
    bl = FlowBaseline(method=method, target_fpr=target, seed=4).fit(normal_flows(5000, seed=4))
    fpr = bl.predict(normal_flows(5000, seed=5)).mean()
    # the threshold comes from ~1,000 held-out baseline flows: allow their sampling error, not more
    assert fpr <= target * 2.0 + 0.005
    if method == "knn":  # HBOS scores tie in steps, so it may stay well under the target
        assert fpr >= target * 0.3
    assert bl.normalized(np.array([bl.threshold_]))[0] == pytest.approx(1 - target, abs=0.02)


def test_labels_are_ignored(fitted):
    fr = normal_flows(4000, seed=1)
    y = np.where(np.arange(len(fr)) % 2 == 0, "benign", "malicious")
    other = FlowBaseline(seed=1).fit(fr, y)
    probe = attack_flows(10, seed=6)
    np.testing.assert_array_equal(other.score_samples(probe), fitted.score_samples(probe))


@pytest.mark.parametrize("method", ["knn", "hbos"])
def test_save_load_round_trip_gives_identical_scores(method, tmp_path):
    bl = FlowBaseline(method=method, seed=7).fit(normal_flows(1500, seed=7))
    bl.save(tmp_path / "m", ModelCard(name="m", version="1", domain="network", kind=""))
    card = read_card(tmp_path / "m")
    assert card.kind == "flow-baseline" and card.features == bl.features_
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["baseline.json", "card.json"]
    back = FlowBaseline.load(tmp_path / "m")
    probe = pd.concat([normal_flows(500, seed=8), attack_flows(50, seed=8)], ignore_index=True)
    np.testing.assert_array_equal(back.score_samples(probe), bl.score_samples(probe))
    np.testing.assert_array_equal(back.predict(probe), bl.predict(probe))
    assert back.threshold_ == bl.threshold_ and back.get_params() == bl.get_params()


def test_load_refuses_tampered_or_broken_files(tmp_path):
    bl = FlowBaseline(seed=0).fit(normal_flows(300, seed=0))
    bl.save(tmp_path / "m", ModelCard(name="m", version="1", domain="network", kind="flow-baseline"))
    meta = tmp_path / "m" / META_FILE
    meta.write_text(meta.read_text().replace('"threshold":', '"threshold": 0.0, "x":', 1))
    with pytest.raises(ThreatMLError):
        FlowBaseline.load(tmp_path / "m")  # the hash in card.json no longer matches


def test_feature_list_comes_from_the_classifier_featurizer(fitted):
    fr = normal_flows(50, seed=9)
    assert fitted.features_ == list(canonical_matrix(fr).columns)
    assert "duration" not in fitted.features_ and "dst_port" not in fitted.features_
    # an already featurised frame scores exactly like the raw flows
    full = FlowBaseline().fit(normal_flows(300, seed=3))
    np.testing.assert_array_equal(full.score_samples(canonical_matrix(fr)), full.score_samples(fr))


def test_model_with_a_feature_this_version_lacks_asks_for_a_rebuild(tmp_path):
    bl = FlowBaseline(seed=0).fit(normal_flows(300, seed=0))
    bl.features_ = bl.features_ + ["feature_from_the_future"]
    bl.center_ = np.r_[bl.center_, 0.0]
    bl.scale_ = np.r_[bl.scale_, 1.0]
    with pytest.raises(ThreatMLError, match="rebuild"):
        bl.score_samples(normal_flows(10, seed=1))


def test_blocked_search_equals_brute_force(fitted):
    probe = pd.concat([normal_flows(3000, seed=11), attack_flows(300, seed=12)], ignore_index=True)
    Z = fitted._scaled(probe)
    fast = fitted.score_samples(probe)
    slow = _brute_knn(Z, fitted.reference_, 1)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize("k", [1, 3])
def test_brute_knn_matches_a_plain_distance_matrix(k):
    rng = np.random.default_rng(k)
    ref, Q = rng.normal(size=(300, 6)), rng.normal(size=(700, 6)) * 2
    d = np.sqrt(((Q[:, None, :] - ref[None]) ** 2).sum(axis=2))
    want = np.sort(d, axis=1)[:, :k].mean(axis=1)
    np.testing.assert_allclose(_brute_knn(Q, ref, k), want, rtol=0, atol=1e-9)


def test_unique_rows_round_trip():
    Z = np.array([[0.0, 1.0], [-0.0, 1.0], [2.0, np.nan], [2.0, np.nan], [0.0, 1.5]])
    uniq, inv = _unique_rows(Z)
    assert len(uniq) == 3
    np.testing.assert_array_equal(uniq[inv], Z + 0.0)


def test_exact_twins_of_the_baseline_score_zero(fitted):
    assert fitted.k == 1
    twins = fitted.reference_[:20]
    np.testing.assert_allclose(fitted._score_scaled(twins), 0.0, atol=1e-12)


def test_baseline_needs_enough_flows():
    with pytest.raises(ThreatMLError, match="at least 20"):
        FlowBaseline().fit(normal_flows(5, seed=0))


def test_empty_batch_scores_nothing(fitted):
    assert fitted.score_samples(normal_flows(0, seed=0)).shape == (0,)


def test_reference_is_json_numbers(tmp_path, fitted):
    fitted.save(tmp_path / "m", ModelCard(name="m", version="1", domain="network", kind="flow-baseline"))
    meta = json.loads(Path(tmp_path / "m" / META_FILE).read_text())
    assert meta["format"] == "threatml.flow-baseline/1"
    assert np.asarray(meta["reference"]).shape == fitted.reference_.shape


def test_blocked_search_stays_exact_when_a_flag_takes_a_new_value():
    rng = np.random.default_rng(13)
    n = 2000
    train = pd.DataFrame({"orig.a": rng.normal(0, 1, n), "orig.b": rng.normal(5, 2, n),
                          "orig.flag": rng.integers(0, 2, n).astype(float), "orig.kind": rng.integers(0, 3, n).astype(float)})
    bl = FlowBaseline(feature_set="native", seed=0).fit(train)
    probe = train.sample(500, random_state=1).reset_index(drop=True) + rng.normal(0, 0.3, (500, 4))
    probe.loc[:99, "orig.flag"] = 7.0  # a value the baseline never saw in a few-valued column
    probe["orig.kind"] = probe["orig.kind"].round()
    np.testing.assert_allclose(bl.score_samples(probe), _brute_knn(bl._scaled(probe), bl.reference_, 1), rtol=0, atol=1e-9)
    assert bl.predict(probe.iloc[:100]).mean() > 0.9


def test_tail_share_is_strictly_falling_and_never_zero():
    ref = np.r_[np.zeros(50), np.linspace(0, 3, 200)]
    s = np.linspace(-1, 10, 500)
    p = tail_share(ref, s)
    assert np.all(np.diff(p[s >= 0]) < 0) and np.all(p > 0) and p[0] == 1.0


def test_combined_score_keeps_the_budget_and_adds_what_the_classifier_sees():
    rng = np.random.default_rng(21)
    sup_val, base_val = rng.normal(0, 1, 4000), rng.exponential(1, 4000)
    sup_ben, base_ben = rng.normal(0, 1, 20000), rng.exponential(1, 20000)
    comb_ben = combined_score(sup_val, base_val, sup_ben, base_ben, classifier_share=0.2)
    # flagged at 1% on fresh benign flows: the two parts add up to about 1%, not 2%
    assert np.mean(comb_ben > -np.log(0.01)) < 0.013
    # attacks only the classifier sees, and attacks only the baseline sees, both rank above the benign
    seen_by_sup = combined_score(sup_val, base_val, np.full(100, 6.0), rng.exponential(1, 100), 0.2)
    seen_by_base = combined_score(sup_val, base_val, rng.normal(0, 1, 100), np.full(100, 12.0), 0.2)
    assert seen_by_sup.min() > np.quantile(comb_ben, 0.999) and seen_by_base.min() > np.quantile(comb_ben, 0.999)
    # a share of 0 ranks exactly like the baseline alone
    only_base = combined_score(sup_val, base_val, sup_ben, base_ben, 0.0)
    np.testing.assert_array_equal(np.argsort(only_base, kind="stable"), np.argsort(base_ben, kind="stable"))


def test_holdout_scores_survive_save_and_load(tmp_path, fitted):
    fitted.save(tmp_path / "m", ModelCard(name="m", version="1", domain="network", kind="flow-baseline"))
    back = FlowBaseline.load(tmp_path / "m")
    np.testing.assert_array_equal(back.holdout_scores_, fitted.holdout_scores_)
    assert len(fitted.holdout_scores_) > 500 and fitted.threshold_ == threshold_at_fpr(fitted.holdout_scores_, 0.01)
