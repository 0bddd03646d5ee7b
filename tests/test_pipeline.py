"""Metrics, labeled-data loading, dedupe/splits and the train/evaluate pipelines, on generated data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.errors import ThreatMLError
from threatml.pipeline.dataset import (attack_family, dedupe, family_labels, is_benchmark, kfold_indices,
                                       load_labeled, split_indices)
from threatml.pipeline.metrics import binary_report, detection_rate_at_fpr, threshold_at_fpr
from shared_data import DATASETS

SHARED = DATASETS

ZEEK_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
               "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
               "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents"]


def write_conn_log(path: Path, rows: list[dict]) -> Path:
    """A Zeek TSV conn.log with the standard header."""
    lines = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
             "#fields\t" + "\t".join(ZEEK_FIELDS),
             "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]"]
    for r in rows:
        lines.append("\t".join(str(r.get(f, "-")) for f in ZEEK_FIELDS))
    path.write_text("\n".join(lines) + "\n")
    return path


def benign_rows(n: int, seed: int = 0, t0: float = 1.7e9) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"ts": f"{t0 + i:.6f}", "uid": f"Cb{seed}x{i}", "id.orig_h": f"10.0.0.{rng.integers(2, 40)}",
             "id.orig_p": int(rng.integers(49152, 65535)), "id.resp_h": "93.184.216.34", "id.resp_p": 443,
             "proto": "tcp", "service": "ssl", "duration": f"{rng.exponential(2):.4f}",
             "orig_bytes": int(rng.integers(300, 3000)), "resp_bytes": int(rng.integers(2000, 90000)), "conn_state": "SF",
             "missed_bytes": 0, "history": "ShADadFf", "orig_pkts": int(rng.integers(5, 40)), "orig_ip_bytes": 4000,
             "resp_pkts": int(rng.integers(5, 80)), "resp_ip_bytes": 90000} for i in range(n)]


def scan_rows(n: int, seed: int = 0, t0: float = 1.7e9) -> list[dict]:
    rng = np.random.default_rng(seed + 100)
    return [{"ts": f"{t0 + i * 0.01:.6f}", "uid": f"Cs{seed}x{i}", "id.orig_h": "203.0.113.9",
             "id.orig_p": int(rng.integers(40000, 60000)), "id.resp_h": "10.0.0.5", "id.resp_p": int(rng.integers(1, 5000)),
             "proto": "tcp", "service": "-", "duration": "-", "orig_bytes": "-", "resp_bytes": "-",
             "conn_state": str(rng.choice(["S0", "REJ"])), "missed_bytes": 0, "history": "S",
             "orig_pkts": 1, "orig_ip_bytes": 44, "resp_pkts": int(rng.integers(0, 2)), "resp_ip_bytes": 0} for i in range(n)]


# ---------------------------------------------------------------- metrics

def test_binary_report_keys_and_values():
    y = np.array([0] * 90 + [1] * 10)
    s = np.r_[np.linspace(0, 0.4, 90), np.linspace(0.6, 1.0, 10)]
    fam = np.array(["benign"] * 90 + ["dos"] * 5 + ["scan"] * 5, dtype=object)
    r = binary_report(y, s, 0.5, y_pred_multiclass=np.where(s >= 0.5, "dos", "benign"), classes=fam)
    for k in ("n", "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "detection_rate_at_fpr_1pct",
              "detection_rate_at_fpr_0.1pct", "benign_fpr", "confusion_matrix", "per_class"):
        assert k in r
    assert r["accuracy"] == 1.0 and r["roc_auc"] == 1.0 and r["confusion_matrix"] == [[90, 0], [0, 10]]
    assert r["per_class"]["dos"] == {"n": 5, "detection_rate": 1.0}
    assert r["multiclass_accuracy"] == 0.95  # the scans were called dos
    json.dumps(r)  # plain JSON types only


def test_detection_rate_at_fpr_and_ties():
    y = np.array([0] * 100 + [1] * 10)
    s = np.r_[np.arange(100) / 100, np.full(10, 0.985)]
    # at 1% FPR one benign flow (0.99) may pass: the threshold is 0.98, attacks at 0.985 are caught
    assert detection_rate_at_fpr(y, s, 0.01) == 1.0
    assert detection_rate_at_fpr(y, s, 0.0) == 0.0
    assert detection_rate_at_fpr(y, np.zeros(110), 0.01) == 0.0  # a constant score detects nothing
    assert detection_rate_at_fpr(np.ones(3), np.ones(3), 0.01) is None
    assert threshold_at_fpr(np.arange(1000) / 1000, 0.01) == pytest.approx(0.989)


def test_report_single_class_has_no_auc():
    r = binary_report(np.zeros(5), np.full(5, 0.2), 0.5)
    assert r["roc_auc"] is None and r["benign_fpr"] == 0.0


# ---------------------------------------------------------------- dataset

def test_attack_family_and_labels():
    assert attack_family("satan") == "probe" and attack_family("Web Attack / XSS") == "web-attack-xss"
    fr = pd.DataFrame({"label": ["benign", "malicious", "", "malicious"], "label.detail": ["x", "DDoS", "", ""]})
    assert family_labels(fr).tolist() == ["benign", "ddos", "", "malicious"]


def test_dedupe_reports_exact_and_conflicting():
    feats = pd.DataFrame({"a": [1, 1, 1, 2, 3], "b": [0, 0, 0, 0, 0]})
    keep, info = dedupe(feats, np.array(["benign", "benign", "dos", "dos", "dos"]))
    assert info["exact_duplicates"] == 1 and info["conflicting_rows"] == 1 and info["conflicting_label_vectors"] == 1
    assert keep.tolist() == [0, 3, 4]


def test_splits_random_time_kfold():
    n = 200
    fr = pd.DataFrame({"@timestamp": np.arange(n, dtype=float)[::-1]})
    y = np.array(["benign", "dos"] * (n // 2), dtype=object)
    tr, te, used = split_indices(fr, y, "time", test_size=0.25)
    assert used == "time" and fr["@timestamp"].iloc[tr].max() < fr["@timestamp"].iloc[te].min()
    tr, te, used = split_indices(pd.DataFrame({"@timestamp": np.full(n, np.nan)}), y, "time")
    assert used == "random" and len(set(tr) & set(te)) == 0 and len(tr) + len(te) == n
    folds = kfold_indices(y, 5)
    assert len(folds) == 5 and sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(n))
    with pytest.raises(ThreatMLError):
        split_indices(fr, y, "bogus")


def test_load_labeled_label_forms_and_generic_csv(tmp_path):
    a = write_conn_log(tmp_path / "benign.log", benign_rows(30))
    b = write_conn_log(tmp_path / "scan.log", scan_rows(20))
    fr, files = load_labeled([f"benign={a}", f"portscan={b}"])
    assert len(fr) == 50 and sorted(set(family_labels(fr))) == ["benign", "portscan"]
    assert {f.label for f in files} == {"benign", "portscan"} and all(len(f.sha256) == 64 for f in files)
    assert not is_benchmark(fr)
    csv = tmp_path / "custom.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "verdict": ["normal", "dos", "normal"]}).to_csv(csv, index=False)
    fr2, _ = load_labeled([str(csv)], label_column="verdict")
    assert fr2["label"].tolist() == ["benign", "malicious", "benign"] and "orig.x" in fr2.columns
    with pytest.raises(ThreatMLError, match="no such file"):
        load_labeled([str(tmp_path / "nope.log")])
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01\x02 not a format")
    with pytest.raises(ThreatMLError, match="junk.bin"):
        load_labeled([str(tmp_path / "junk.bin")])


# ---------------------------------------------------------------- train / evaluate

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from threatml.pipeline.train import train_network

    d = tmp_path_factory.mktemp("data")
    a = write_conn_log(d / "normal.log", benign_rows(400) + benign_rows(100, seed=1))  # the copies test dedupe
    b = write_conn_log(d / "attack.log", scan_rows(150))
    out = tmp_path_factory.mktemp("models") / "m"
    card = train_network([f"benign={a}", f"portscan={b}"], out, classifier_params={"n_estimators": 40})
    return card, out, a, b, d


def test_train_network_writes_a_complete_card(trained):
    card, out, *_ = trained
    saved = json.loads((out / "card.json").read_text())
    assert saved["kind"] == "flow-classifier" and saved["feature_set"] == "canonical"
    assert saved["metrics"]["roc_auc"] > 0.95 and "detection_rate_at_fpr_1pct" in saved["metrics"]
    assert saved["metrics"]["dedupe"]["rows_in"] == 650
    assert len(saved["training_data"]) == 2 and saved["libraries"]["lightgbm"]
    assert "threshold" in saved["parameters"] and any("dedupe" in n for n in saved["notes"])


def test_evaluate_network_on_fresh_data(trained):
    from threatml.pipeline.evaluate import evaluate_network

    _, out, _, _, d = trained
    a = write_conn_log(d / "normal2.log", benign_rows(200, seed=9))
    b = write_conn_log(d / "attack2.log", scan_rows(50, seed=9))
    r = evaluate_network(out, [f"benign={a}", f"portscan={b}"])
    assert r["n"] == 250 and r["accuracy"] > 0.95 and r["per_class"]["portscan"]["detection_rate"] > 0.9
    assert r["at_alert_threshold"]["benign_fpr"] <= 0.05
    r2 = evaluate_network(out, [f"benign={a}", f"portscan={b}"], split="random")
    assert r2["n"] == 50


def test_train_unsupervised_baseline(trained, tmp_path):
    from threatml.pipeline.evaluate import evaluate_network
    from threatml.pipeline.train import train_network

    *_, d = trained
    card = train_network([str(d / "normal.log")], tmp_path / "bl", unsupervised=True)
    assert card.kind == "flow-baseline"
    r = evaluate_network(tmp_path / "bl", [f"benign={d / 'normal.log'}", f"portscan={d / 'attack.log'}"])
    assert r["per_class"]["portscan"]["detection_rate"] > 0.9


def test_train_needs_both_classes(tmp_path):
    from threatml.pipeline.train import train_network

    a = write_conn_log(tmp_path / "n.log", benign_rows(50))
    with pytest.raises(ThreatMLError, match="both benign and malicious"):
        train_network([f"benign={a}"], tmp_path / "m")


# ---------------------------------------------------------------- leave-one-source-out threshold

def write_labeled_source(folder: Path, seed: int, n_benign: int = 300, n_scan: int = 100) -> Path:
    """One "network": a folder with a Stratosphere-style labeled conn log (benign and scan flows)."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = 1.7e9 + seed * 1e5
    rows = ([r | {"label": "Benign", "detailedlabel": "-"} for r in benign_rows(n_benign, seed=seed, t0=t0)]
            + [r | {"label": "Malicious", "detailedlabel": "PortScan"} for r in scan_rows(n_scan, seed=seed, t0=t0)])
    fields = ZEEK_FIELDS + ["label", "detailedlabel"]
    lines = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
             "#fields\t" + "\t".join(fields)]
    lines += ["\t".join(str(r.get(f, "-")) for f in fields) for r in rows]
    (folder / "conn.log.labeled").write_text("\n".join(lines) + "\n")
    return folder


def test_source_names_and_rows():
    from threatml.pipeline.train import source_names, source_of_rows

    assert source_names(["benign=/d/008/conn.log", "/d/010/conn.log", "/d/cic"]) == ["008/conn.log", "010/conn.log", "cic"]
    assert source_names(["/d/x", "/d/x"]) == ["x#1", "x#2"]
    fr = pd.DataFrame({"data.file": ["/d/cic/a.csv", "/d/008/conn.log", "/d/cic/sub/b.csv", "/d/cicx/c.csv"]})
    got = source_of_rows(fr, ["/d/008/conn.log", "/d/cic", "/d/cicx"]).tolist()
    assert got == ["cic", "conn.log", "cic", "cicx"]


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("sources")
    return write_labeled_source(d / "net-a", seed=1), write_labeled_source(d / "net-b", seed=2)


def test_two_sources_get_the_leave_one_source_out_threshold(two_sources, tmp_path):
    from threatml.features.flow import canonical_features
    from threatml.models.flow_classifier import FlowClassifier
    from threatml.pipeline.train import train_network
    from threatml.pipeline.transfer import ALERT_FPR, calibrate_out_of_source, leave_one_source_out

    a, b = two_sources
    params = {"n_estimators": 30}
    card = train_network([str(a), str(b)], tmp_path / "m", classifier_params=params)
    m = card.metrics
    assert card.parameters["split"] == m["split"] == "leave-one-source-out"
    assert set(m["per_source"]) == {"net-a", "net-b"}
    comp = card.parameters["sources"]
    assert sum(c["benign"] + c["attack"] for c in comp.values()) == m["dedupe"]["rows_out"] == m["n"]
    assert all(c["benign"] and c["attack"] for c in comp.values())
    fprs = [m["per_source"][s]["benign_fpr_at_alert"] for s in ("net-a", "net-b")]
    # each source weighs the same: the mean held-out benign FPR stays within the target
    assert m["alert_fpr_target"] == ALERT_FPR and np.mean(fprs) <= ALERT_FPR
    assert all(m["per_source"][s]["detection_rate_at_alert"] > 0.9 for s in ("net-a", "net-b"))
    assert m["alert_threshold"] == card.parameters["threshold"] == pytest.approx(m["threshold"], abs=1e-6)
    assert not any("not leave-one-source-out" in n for n in card.notes)

    # the same threshold worked out by hand from the two sources
    feats, ys, srcs = [], [], []
    for name, path in (("net-a", a), ("net-b", b)):
        fr, _ = load_labeled([str(path)])
        feats.append(canonical_features(fr))
        ys.append(family_labels(fr))
        srcs.append(np.full(len(fr), name, dtype=object))
    F, y, src = pd.concat(feats, ignore_index=True), np.concatenate(ys), np.concatenate(srcs)
    keep, _ = dedupe(F, y)
    F, y, src = F.iloc[keep].reset_index(drop=True), y[keep], src[keep]
    margin, scored = leave_one_source_out(F, y, src, params, log=lambda _m: None)
    assert scored.all()
    clf = FlowClassifier(feature_set="canonical", **params).fit(F, y)
    calibrate_out_of_source(clf, margin, scored, y, src, ALERT_FPR)
    assert clf.alert_threshold_ == pytest.approx(m["alert_threshold"], rel=1e-9)
    loaded = FlowClassifier.load(tmp_path / "m")
    assert loaded.alert_threshold_ == pytest.approx(m["alert_threshold"]) and loaded.calibrator_["kind"] == "platt"


def test_one_source_falls_back_with_a_note(two_sources, tmp_path):
    from threatml.pipeline.train import train_network

    a, _ = two_sources
    card = train_network([str(a)], tmp_path / "m", classifier_params={"n_estimators": 30})
    assert card.parameters["split"] == "random" and "per_source" not in card.metrics
    assert any("one source only" in n and "not leave-one-source-out" in n for n in card.notes)


def test_single_class_sources_fall_back_with_a_note(trained):
    card, *_ = trained  # benign=FILE and portscan=FILE: holding either out leaves one class
    assert card.parameters["split"] == "random"
    assert any("2 sources" in n and "not leave-one-source-out" in n for n in card.notes)


# ---------------------------------------------------------------- shared data sanity (subsampled)

KDD = SHARED / "network/nsl-kdd/KDDTrain+_20Percent.txt.gz"


@pytest.mark.skipif(not KDD.exists(), reason=f"{KDD} not available")
def test_nsl_kdd_native_sanity():
    from threatml.models.flow_classifier import FlowClassifier

    fr, _ = load_labeled([str(KDD)])
    assert is_benchmark(fr)
    y = family_labels(fr)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(fr))[:6000]
    tr, te = idx[:4000], idx[4000:]
    clf = FlowClassifier(feature_set="native", n_estimators=40, n_jobs=1).fit(fr.iloc[tr], y[tr])
    assert "orig.difficulty" not in clf.features_ and "orig.label" not in clf.features_
    r = binary_report(y[te] != "benign", clf.score_samples(fr.iloc[te]), 0.5)
    assert r["accuracy"] > 0.95


CIC = SHARED / "network/cicids2017-improved/Portscan_5000.csv.gz"


@pytest.mark.skipif(not CIC.exists(), reason=f"{CIC} not available")
def test_cic_canonical_features_are_filled():
    from threatml.features.flow import canonical_features

    fr, _ = load_labeled([str(CIC)])
    f = canonical_features(fr.head(500))
    for c in ("log_src_bytes", "log_dst_pkts", "dst_port_bucket", "is_tcp"):
        assert f[c].notna().mean() > 0.99, c
