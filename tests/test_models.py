"""Flow features, classifier, baseline, explanations and the flow-model detectors on generated flows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.errors import ThreatMLError
from threatml.events import EventBatch
from threatml.features.flow import CANONICAL_FEATURES, SERVICE_FEATURES, canonical_features
from threatml.models.card import ModelCard
from threatml.models.explain import describe_value, explain_sentences
from threatml.models.flow_baseline import FlowBaseline
from threatml.models.flow_classifier import FlowClassifier, native_columns


def make_flows(n_benign: int = 600, n_attack: int = 200, seed: int = 0) -> pd.DataFrame:
    """Benign web/dns traffic plus port scans, SSH brute force and a SYN flood, in the flow schema."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_benign):
        web = rng.random() < 0.7
        rows.append({
            "source.ip": f"10.0.0.{rng.integers(2, 50)}", "destination.ip": f"93.184.216.{rng.integers(1, 20)}",
            "source.port": float(rng.integers(49152, 65535)), "destination.port": 443.0 if web else 53.0,
            "network.transport": "tcp" if web else "udp", "network.protocol": "ssl" if web else "dns",
            "flow.duration": float(rng.exponential(2.0)), "source.bytes": float(rng.integers(300, 3000)),
            "destination.bytes": float(rng.integers(2000, 60000)), "source.packets": float(rng.integers(5, 40)),
            "destination.packets": float(rng.integers(5, 60)), "flow.state": "SF", "label": "benign", "label.detail": "",
        })
    fams = ["portscan", "ssh-bruteforce", "syn-flood"]
    for i in range(n_attack):
        fam = fams[i % 3]
        base = {"source.ip": "203.0.113.7", "destination.ip": "10.0.0.5", "source.port": float(rng.integers(1024, 65535)),
                "network.transport": "tcp", "label": "malicious", "label.detail": fam}
        if fam == "portscan":
            base |= {"destination.port": float(rng.integers(1, 10000)), "network.protocol": "", "flow.duration": 0.0,
                     "source.bytes": 0.0, "destination.bytes": 0.0, "source.packets": 1.0, "destination.packets": float(rng.integers(0, 2)),
                     "flow.state": str(rng.choice(["S0", "REJ"]))}
        elif fam == "ssh-bruteforce":
            base |= {"destination.port": 22.0, "network.protocol": "ssh", "flow.duration": float(rng.uniform(1, 4)),
                     "source.bytes": float(rng.integers(1000, 1500)), "destination.bytes": float(rng.integers(1500, 2500)),
                     "source.packets": float(rng.integers(10, 16)), "destination.packets": float(rng.integers(10, 16)), "flow.state": "SF"}
        else:
            base |= {"destination.port": 80.0, "network.protocol": "", "flow.duration": 0.0, "source.bytes": 0.0,
                     "destination.bytes": 0.0, "source.packets": 1.0, "destination.packets": 0.0, "flow.state": "S0",
                     "source.ip": f"198.51.100.{rng.integers(1, 200)}"}
        rows.append(base)
    fr = pd.DataFrame(rows)
    fr["@timestamp"] = 1.7e9 + np.sort(rng.uniform(0, 3000, len(fr)))
    fr["event.id"] = [f"C{i}" for i in range(len(fr))]
    return EventBatch.of("flow", fr).frame


def labels(fr: pd.DataFrame) -> np.ndarray:
    return np.where(fr["label"] == "benign", "benign", fr["label.detail"]).astype(object)


# ---------------------------------------------------------------- features

def test_canonical_features_values_and_missing_inputs():
    fr = pd.DataFrame({
        "flow.duration": [2.0, np.nan], "source.bytes": [100.0, np.nan], "destination.bytes": [300.0, 5.0],
        "source.packets": [2.0, np.nan], "destination.packets": [0.0, 1.0], "network.transport": ["tcp", "icmp"],
        "destination.port": [3389.0, 8.0], "source.port": [50000.0, np.nan], "flow.state": ["REJ", ""],
        "network.protocol": ["http", ""],
    })
    f = canonical_features(fr)
    assert list(f.columns) == CANONICAL_FEATURES
    assert f.loc[0, "log_src_bytes"] == pytest.approx(math.log1p(100))
    assert f.loc[0, "src_bytes_per_pkt"] == 50.0
    assert f.loc[0, "byte_ratio"] == 0.75
    assert f.loc[0, "no_reply"] == 1.0 and f.loc[1, "no_reply"] == 0.0
    assert f.loc[0, "dst_port_bucket"] == 1.0 and f.loc[0, "src_port_bucket"] == 2.0
    assert f.loc[0, "state_REJ"] == 1.0 and f.loc[0, "state_SF"] == 0.0
    # missing inputs stay NaN rather than becoming zeros
    assert np.isnan(f.loc[1, "log_src_bytes"]) and np.isnan(f.loc[1, "state_S0"])
    # the service extras (for one network's own baseline), not canonical
    g = canonical_features(fr, service=True)
    assert list(g.columns) == CANONICAL_FEATURES + SERVICE_FEATURES
    pd.testing.assert_frame_equal(g[CANONICAL_FEATURES], f)
    assert g.loc[0, "dst_port_login"] == 1.0 and g.loc[0, "proto_http"] == 1.0
    assert np.isnan(g.loc[1, "proto_tls"]) and np.isnan(g.loc[1, "dst_port_login"])  # "" protocol, ICMP
    # ICMP: the "port" is the ICMP type, so port buckets are unknown
    assert f.loc[1, "is_icmp"] == 1.0 and np.isnan(f.loc[1, "dst_port_bucket"])


def test_canonical_features_absent_columns_and_unknown_vocab():
    f = canonical_features(pd.DataFrame({"network.transport": ["sctp"], "flow.state": ["weird"], "network.protocol": ["gopher"]}))
    assert np.isnan(f.loc[0, "log_duration"])
    assert f.loc[0, ["is_tcp", "is_udp", "is_icmp"]].tolist() == [0.0, 0.0, 0.0]  # a known "none of these"
    g = canonical_features(pd.DataFrame({"network.protocol": ["gopher"]}), service=True)
    assert g.loc[0, "proto_other"] == 1.0 and g.loc[0, "proto_http"] == 0.0
    assert f[[c for c in CANONICAL_FEATURES if c.startswith("state_")]].isna().all(axis=None)  # unknown state
    assert len(canonical_features(pd.DataFrame({"source.bytes": []}))) == 0


def test_canonical_features_keep_ports_coarse():
    """Exact ports do not transfer between networks: 993 and 8443 look alike, only the range differs."""
    base = {"flow.duration": [1.0, 1.0, 1.0], "source.bytes": [900.0] * 3, "destination.bytes": [5000.0] * 3,
            "source.packets": [8.0] * 3, "destination.packets": [9.0] * 3, "network.transport": ["tcp"] * 3,
            "flow.state": ["SF"] * 3, "network.protocol": ["ssl"] * 3, "source.port": [50000.0] * 3}
    f = canonical_features(pd.DataFrame({**base, "destination.port": [993.0, 995.0, 8443.0]}))
    assert not any(c == "dst_port" or c in SERVICE_FEATURES for c in CANONICAL_FEATURES)
    pd.testing.assert_series_equal(f.iloc[0], f.iloc[1], check_names=False)
    assert f.loc[0, "dst_port_bucket"] == 0.0 and f.loc[2, "dst_port_bucket"] == 1.0


def test_canonical_features_do_not_use_addresses_or_times():
    fr = make_flows(50, 10)
    a = canonical_features(fr)
    b = canonical_features(fr.assign(**{"source.ip": "1.1.1.1", "destination.ip": "2.2.2.2", "@timestamp": 0.0}))
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------- classifier

@pytest.fixture(scope="module")
def flows() -> pd.DataFrame:
    return make_flows()


@pytest.fixture(scope="module")
def fitted(flows) -> FlowClassifier:
    return FlowClassifier(n_estimators=60, seed=0).fit(flows, labels(flows))


def test_classifier_learns_and_predicts_families(fitted):
    test = make_flows(300, 150, seed=1)
    y = labels(test)
    p = fitted.score_samples(test)
    assert p.min() >= 0 and p.max() <= 1
    assert np.mean((p >= 0.5) == (y != "benign")) > 0.95
    pred = fitted.predict(test)
    assert np.mean(pred == y) > 0.9
    proba = fitted.predict_proba(test)
    assert proba.shape == (len(test), len(fitted.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert fitted.classes_[0] == "benign" and set(fitted.classes_[1:]) == {"portscan", "ssh-bruteforce", "syn-flood"}


def test_classifier_binary_labels_and_needs_both_classes(flows):
    y01 = (flows["label"] == "malicious").astype(int).to_numpy()
    clf = FlowClassifier(n_estimators=20, multiclass=False).fit(flows, y01)
    assert clf.classes_ == ["benign", "malicious"] and clf.family_booster_ is None
    with pytest.raises(ThreatMLError, match="both benign and malicious"):
        FlowClassifier().fit(flows, np.zeros(len(flows)))


def test_classifier_explain_names_features_with_values(fitted, flows):
    scan = flows[flows["label.detail"] == "portscan"].head(3)
    ex = fitted.explain(scan, top=3)
    assert len(ex) == 3 and all(1 <= len(e) <= 3 for e in ex)
    for feat, contrib, value in ex[0]:
        assert feat in CANONICAL_FEATURES and contrib > 0
    assert explain_sentences(ex[0])[0].endswith("log-odds)")


def test_classifier_save_load_roundtrip_and_tamper_refused(fitted, flows, tmp_path):
    folder = tmp_path / "m"
    fitted.save(folder, ModelCard(name="m", version="1", domain="network", kind="flow-classifier"))
    names = {p.name for p in folder.iterdir()}
    assert {"card.json", "model.txt", "classifier.json", "family.txt"} <= names
    assert not any(n.endswith((".pkl", ".joblib", ".pickle")) for n in names)
    loaded = FlowClassifier.load(folder)
    np.testing.assert_allclose(loaded.score_samples(flows), fitted.score_samples(flows))
    assert (loaded.predict(flows) == fitted.predict(flows)).all()
    card = json.loads((folder / "card.json").read_text())
    assert card["classes"][0] == "benign" and "threshold" in card["parameters"]
    (folder / "classifier.json").write_text((folder / "classifier.json").read_text().replace('"threshold"', '"threshold" '))
    with pytest.raises(ThreatMLError, match="SHA-256"):
        FlowClassifier.load(folder)


def test_native_features_numeric_and_categorical(tmp_path):
    rng = np.random.default_rng(0)
    n = 800
    attack = rng.random(n) < 0.3
    fr = pd.DataFrame({
        "orig.count": np.where(attack, rng.integers(100, 500, n), rng.integers(0, 50, n)).astype(float),
        "orig.service": pd.array(np.where(attack, "private", rng.choice(["http", "smtp"], n)), dtype="str"),
        "orig.src ip": pd.array([f"10.0.0.{i % 250}" for i in range(n)], dtype="str"),
        "orig.difficulty": rng.integers(0, 21, n).astype(float),
    })
    cols, cats = native_columns(fr)
    assert "orig.count" in cols and "orig.service" in cats
    assert "orig.src ip" not in cols and "orig.difficulty" not in cols  # identities and label leaks stay out
    clf = FlowClassifier(feature_set="native", n_estimators=30).fit(fr, np.where(attack, "dos", "benign"))
    assert np.mean((clf.score_samples(fr) >= 0.5) == attack) > 0.97
    clf.save(tmp_path / "n", ModelCard(name="n", version="1", domain="network", kind="flow-classifier"))
    back = FlowClassifier.load(tmp_path / "n")
    assert back.categories_["orig.service"] == sorted(["http", "smtp", "private"])
    # an unseen category is unknown (NaN), not an error
    probe = fr.head(5).assign(**{"orig.service": "gopher"})
    assert np.isfinite(back.score_samples(probe)).all()


# ---------------------------------------------------------------- baseline

@pytest.mark.parametrize("method", ["knn", "hbos"])
def test_baseline_flags_unseen_attacks_at_target_fpr(method, tmp_path):
    normal = make_flows(1500, 0, seed=2)
    bl = FlowBaseline(method=method).fit(normal)
    fresh = make_flows(1000, 300, seed=3)
    flag = bl.predict(fresh)
    attack = (fresh["label"] == "malicious").to_numpy()
    assert flag[~attack].mean() < 0.05
    assert flag[attack].mean() > 0.8
    bl.save(tmp_path / method, ModelCard(name="b", version="1", domain="network", kind="flow-baseline"))
    back = FlowBaseline.load(tmp_path / method)
    np.testing.assert_allclose(back.score_samples(fresh), bl.score_samples(fresh), rtol=1e-3, atol=1e-3)
    ex = back.explain(fresh[attack].head(1))[0]
    assert ex and explain_sentences(ex, kind="baseline")[0]


def test_baseline_needs_enough_flows():
    with pytest.raises(ThreatMLError, match="at least 20"):
        FlowBaseline().fit(make_flows(5, 0))


def test_describe_value_words():
    assert describe_value("state_S0", 1.0) == "connection state S0 (connection attempt, no reply)"
    assert describe_value("log_dst_bytes", 0.0) == "destination bytes = 0 B"
    assert describe_value("no_reply", 1.0) == "the destination never replied"
    assert describe_value("orig.count", 12.0) == "count = 12"


# ---------------------------------------------------------------- detectors

def _save_model(clf, folder: Path) -> Path:
    clf.save(folder, ModelCard(name="t", version="1", domain="network", kind="flow-classifier"))
    return folder


def test_flow_model_detector_one_finding_per_host_incident(fitted, tmp_path):
    from threatml.detectors.network.flow_model import FlowModelDetector

    folder = _save_model(fitted, tmp_path / "det")
    det = FlowModelDetector(folder)
    fr = make_flows(300, 90, seed=5)
    scanner = fr["source.ip"] == "203.0.113.7"
    # two scan waves from the same host, an hour apart: two incidents
    fr.loc[scanner, "@timestamp"] = 1.7e9 + np.where(np.arange(scanner.sum()) < 30, 0.0, 3600.0) + np.arange(scanner.sum())
    half = len(fr) // 2
    found = det.process(EventBatch.of("flow", fr.iloc[:half], source="a.log"))
    found += det.process(EventBatch.of("flow", fr.iloc[half:], source="a.log"))
    found += det.flush()
    mine = [f for f in found if f.entity == "203.0.113.7"]
    assert len(mine) == 2
    f = mine[0]
    assert f.detector == "network.flow-classifier" and f.evidence and set(f.evidence) <= set(fr["event.id"])
    assert f.attributes["family"] in ("portscan", "ssh-bruteforce")
    assert any(t in f.attack for t in ("T1046", "T1110"))
    assert any("pushed the score up" in s for s in f.explanation)
    assert f.evidence_count == f.attributes["flows"]
    benign_hosts = set(fr.loc[fr["label"] == "benign", "source.ip"])
    assert sum(f.entity in benign_hosts for f in found) <= 1
    assert det.flush() == [] and not det._open


def test_flow_model_detector_bounded_state(fitted, tmp_path):
    from threatml.detectors.network.flow_model import FlowModelDetector

    det = FlowModelDetector(_save_model(fitted, tmp_path / "b"), max_open=5)
    fr = make_flows(0, 300, seed=6)  # the flood comes from ~200 hosts
    det.process(EventBatch.of("flow", fr))
    assert len(det._open) <= 5


def test_flow_baseline_detector(tmp_path):
    from threatml.detectors.network.flow_model import FlowBaselineDetector

    bl = FlowBaseline().fit(make_flows(1500, 0, seed=2))
    bl.save(tmp_path / "bl", ModelCard(name="bl", version="1", domain="network", kind="flow-baseline"))
    det = FlowBaselineDetector(tmp_path / "bl")
    fr = make_flows(500, 60, seed=7)
    found = det.process(EventBatch.of("flow", fr)) + det.flush()
    assert any(f.entity == "203.0.113.7" for f in found)
    f = next(f for f in found if f.entity == "203.0.113.7")
    assert f.detector == "network.anomaly" and 0.4 <= f.score <= 0.95
    assert any("this network" in s for s in f.explanation)


def test_detector_refuses_wrong_model_kind(tmp_path):
    from threatml.detectors.network.flow_model import FlowModelDetector

    bl = FlowBaseline().fit(make_flows(200, 0))
    bl.save(tmp_path / "bl", ModelCard(name="bl", version="1", domain="network", kind="flow-baseline"))
    with pytest.raises(ThreatMLError, match="flow-classifier"):
        FlowModelDetector(tmp_path / "bl")


SHIPPED = Path(__file__).resolve().parent.parent / "threatml" / "shipped" / "network" / "flow"


@pytest.mark.skipif(not (SHIPPED / "card.json").exists(), reason="shipped model not built (python -m threatml.shipped.build)")
def test_shipped_model_loads_small_and_scores():
    from threatml.detectors.network.flow_model import FlowModelDetector

    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < 2_000_000
    det = FlowModelDetector()
    fr = make_flows(100, 60, seed=8)
    det.process(EventBatch.of("flow", fr))
    assert det.card.feature_set == "canonical"


def test_flow_model_detector_without_timestamps(fitted, tmp_path):
    """Sources without times (NSL-KDD) still give one finding per host, at flush."""
    from threatml.detectors.network.flow_model import FlowModelDetector

    det = FlowModelDetector(_save_model(fitted, tmp_path / "nt"))
    fr = make_flows(50, 30, seed=9).assign(**{"@timestamp": np.nan})
    assert det.process(EventBatch.of("flow", fr)) == []
    found = det.flush()
    scanner = [f for f in found if f.entity == "203.0.113.7"]
    assert len(scanner) == 1 and scanner[0].start == scanner[0].end == 0.0


# ---------------------------------------------------------------- incident noise rule

def _host_traffic(host: str, n_normal: int, n_scan: int, seed: int, t0: float = 1.7e9, span: float = 600.0) -> pd.DataFrame:
    """``n_normal`` web flows and ``n_scan`` scan flows from one host, spread over ``span`` seconds."""
    fr = make_flows(n_normal, 0, seed=seed)
    scan = make_flows(0, 3 * n_scan, seed=seed + 1)
    scan = scan[scan["label.detail"] == "portscan"].head(n_scan)
    fr = pd.concat([fr, scan], ignore_index=True).assign(**{"source.ip": host})
    rng = np.random.default_rng(seed)
    fr["@timestamp"] = t0 + rng.uniform(0, span, len(fr))  # scans interleaved with the normal flows
    fr["event.id"] = [f"{host}-{i}" for i in range(len(fr))]
    return fr


def _run(det, fr: pd.DataFrame) -> list:
    fr = fr.sort_values("@timestamp", kind="stable").reset_index(drop=True)
    return det.process(EventBatch.of("flow", fr)) + det.flush()


def _flag_scans_only(det):
    """Make the detector flag exactly the scan flows, so the tests pin the incident rule, not the model."""
    def score(frame):
        M = det.model._matrix(frame)
        hit = (frame["label.detail"] == "portscan").to_numpy()
        return np.where(hit, 0.97, 0.05), hit, M
    det._score = score
    return det


def test_one_flagged_flow_among_a_thousand_is_not_an_incident(fitted, tmp_path):
    from threatml.detectors.network.flow_model import FlowModelDetector

    folder = _save_model(fitted, tmp_path / "noise")
    quiet = _host_traffic("10.0.0.77", 1000, 1, seed=20)
    busy = _host_traffic("10.0.0.88", 200, 60, seed=30)
    fr = pd.concat([quiet, busy], ignore_index=True)
    found = _run(_flag_scans_only(FlowModelDetector(folder)), fr)
    assert [f.entity for f in found] == ["10.0.0.88"]
    f = found[0]
    # the window runs from the first flagged flow on: (nearly) all of the host's 260 flows
    assert f.attributes["flows"] == 60 and 200 <= f.attributes["host_flows"] <= 260
    assert any(f"60 flagged flows of {f.attributes['host_flows']} flows from this host" in s for s in f.explanation)
    assert f.score == pytest.approx(0.97)  # the flows' probability, not inflated by their number
    # the old rule (any flagged flow is an incident) reports the quiet host too
    old = _run(_flag_scans_only(FlowModelDetector(folder, min_flows=1, min_share=0.0)), fr)
    assert sorted(f.entity for f in old) == ["10.0.0.77", "10.0.0.88"]


def test_share_and_count_rules_are_parameters(fitted, tmp_path):
    from threatml.detectors.network.flow_model import FlowModelDetector

    folder = _save_model(fitted, tmp_path / "share")
    fr = _host_traffic("10.0.0.66", 1000, 10, seed=40)  # 10 flagged of 1,010: 1%
    assert _run(_flag_scans_only(FlowModelDetector(folder)), fr) == []
    assert [f.entity for f in _run(_flag_scans_only(FlowModelDetector(folder, min_share=0.0)), fr)] == ["10.0.0.66"]
    assert _run(_flag_scans_only(FlowModelDetector(folder, min_share=0.0, min_flows=11)), fr) == []
    with pytest.raises(ValueError):
        FlowModelDetector(folder, min_share=2.0)


def test_distributed_attack_folds_into_one_finding(fitted, tmp_path):
    from threatml.detectors.network.flow_model import FlowModelDetector

    folder = _save_model(fitted, tmp_path / "fold")
    bots = [_host_traffic(f"198.51.100.{i}", 0, 8, seed=50 + i) for i in range(1, 7)]
    fr = pd.concat(bots, ignore_index=True).assign(**{"destination.ip": "10.0.0.5"})
    found = _run(_flag_scans_only(FlowModelDetector(folder)), fr)
    assert len(found) == 1 and found[0].entity == "10.0.0.5"
    assert found[0].attributes["source_hosts"] == 6 and len(found[0].related["sources"]) == 6
    assert "distributed" in found[0].title
    assert len(_run(_flag_scans_only(FlowModelDetector(folder, fold_sources=0)), fr)) == 6


def test_weighted_threshold_gives_each_source_the_same_weight():
    from threatml.shipped.build import _weighted_threshold

    # source "big" has 1,000 flows at 0; source "small" has 10 flows, one of them at 5
    m = np.r_[np.zeros(1000), np.zeros(9), 5.0]
    g = np.array(["big"] * 1000 + ["small"] * 10)
    # pooled, the 5.0 flow is 0.1% of the benign flows; per source it is 5% of the total weight
    assert _weighted_threshold(m, g, 0.10) == 0.0  # 10% may be above: 5.0 is allowed through
    assert _weighted_threshold(m, g, 0.01) == 5.0  # 1% may not: the threshold sits on it


@pytest.mark.skipif(not (SHIPPED / "card.json").exists(), reason="shipped model not built (python -m threatml.shipped.build)")
def test_shipped_model_is_port_agnostic_and_threshold_is_out_of_source():
    card = json.loads((SHIPPED / "card.json").read_text())
    assert not {"dst_port", "dst_port_login", "proto_tls"} & set(card["features"])
    assert card["metrics"]["evaluation"].startswith("leave-one-source-out")
    assert 0.5 < card["parameters"]["threshold"] < 1.0
    assert "unsw-nb15-benign" in card["metrics"]["per_source"]
