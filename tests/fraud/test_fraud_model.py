"""Fraud model parts: velocity windows without look-ahead, JSON Isolation Forest, column roles, save/load."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from threatml.errors import InputError, ReadReport
from threatml.fraud.columns import column_roles, parse_labels, read_table
from threatml.fraud.explain import explain_rows
from threatml.fraud.isoforest import JsonIsolationForest, export_forest
from threatml.fraud.model import FraudModel
from threatml.fraud.synthetic import generate_transactions
from threatml.fraud.velocity import parse_times, velocity_features

VEL = dict(entity_column="card_id", time_column="timestamp", amount_column="amount")


def test_velocity_windows_count_and_sum_only_the_past():
    f = pd.DataFrame({"e": ["a"] * 5 + ["b"],
                      "t": [0, 1800, 3599, 3600 * 5, 86400 * 3, 100],
                      "amt": [1.0, 2.0, 4.0, 8.0, 16.0, 100.0]})
    v = velocity_features(f["e"], parse_times(f["t"]), f["amt"])
    assert v["vel.count_1h"].tolist() == [1, 2, 3, 1, 1, 1]
    assert v["vel.amount_sum_1h"].tolist() == [1, 3, 7, 8, 16, 100]
    assert v["vel.amount_sum_1d"].tolist() == [1, 3, 7, 15, 16, 100]
    assert v["vel.amount_sum_7d"].tolist() == [1, 3, 7, 15, 31, 100]
    assert v["vel.seconds_since_prev"].iloc[1] == 1800 and np.isnan(v["vel.seconds_since_prev"].iloc[5])


def test_velocity_features_do_not_change_when_the_future_changes():
    f = generate_transactions(cards=30, days=10, seed=4)
    secs = parse_times(f["timestamp"])
    cut = np.quantile(secs, 0.6)
    past = f[secs <= cut]
    full = velocity_features(f["card_id"], secs, f["amount"])
    only_past = velocity_features(past["card_id"], parse_times(past["timestamp"]), past["amount"])
    pd.testing.assert_frame_equal(full.loc[past.index], only_past)
    # and a shuffled file gives the same features per row
    sh = f.sample(frac=1.0, random_state=0)
    v_sh = velocity_features(sh["card_id"], parse_times(sh["timestamp"]), sh["amount"]).sort_index()
    assert np.allclose(v_sh["vel.count_1d"], full["vel.count_1d"])


def test_rows_without_time_get_unknown_velocity():
    f = pd.DataFrame({"e": ["a", "a"], "t": ["2024-01-01 10:00:00", "not a date"]})
    v = velocity_features(f["e"], parse_times(f["t"]))
    assert v["vel.count_1h"].iloc[0] == 1 and np.isnan(v["vel.count_1h"].iloc[1])


def test_json_isolation_forest_matches_scikit_learn():
    X = np.random.default_rng(3).normal(size=(1500, 4))
    X[:10] += 6
    sk = IsolationForest(n_estimators=40, random_state=1).fit(X.astype("float32"))
    jf = JsonIsolationForest(40)
    jf.trees_, jf.sample_size_ = export_forest(sk), int(sk.max_samples_)
    back = JsonIsolationForest.from_dict(json.loads(json.dumps(jf.to_dict())))
    assert np.allclose(back.score_samples(X), -sk.score_samples(X.astype("float32")), atol=1e-12)
    assert back.score_samples(X)[:10].mean() > back.score_samples(X)[10:].mean() + 0.1


def test_labels_and_roles():
    assert parse_labels(pd.Series(["Yes", "no", None, 2]), "y").tolist() == [1, 0, -1, 1]
    with pytest.raises(InputError, match="neither fraud nor legitimate"):
        parse_labels(pd.Series(["fraud", "maybe"]), "y", "x.csv")
    n = 300
    f = pd.DataFrame({"Unnamed: 0": np.arange(n), "PolicyNumber": np.arange(n) + 7, "seq": np.arange(n) * 3,
                      "Address": [f"0x{i:040x}" for i in range(n)], "note": [f"free text {i}" for i in range(n)],
                      "amount": np.random.default_rng(0).lognormal(size=n), "kind": ["a", "b", "c"] * 100})
    r = column_roles(f, exclude=())
    assert r.numeric == ["amount"] and list(r.categorical) == ["kind"]
    assert set(r.dropped) == {"Unnamed: 0", "PolicyNumber", "seq", "Address", "note"}


def test_model_learns_velocity_fraud_and_round_trips(tmp_path):
    tr = generate_transactions(cards=200, days=20, seed=1)
    te = generate_transactions(cards=150, days=20, seed=2)
    m = FraudModel(n_estimators=200, iforest_trees=30, **VEL).fit(tr.drop(columns="is_fraud"), tr["is_fraud"])
    assert {"vel.count_1h", "vel.amount_sum_7d", "anomaly.iforest", "category"} <= set(m.features_)
    assert "card_id" not in m.features_ and "tx_id" not in m.features_
    s = m.score_samples(te.drop(columns="is_fraud"))
    assert roc_auc_score(te["is_fraud"], s) > 0.9
    m.save(tmp_path)
    back = FraudModel.load(tmp_path)
    assert np.allclose(back.score_samples(te), s)  # the label column is ignored when scoring
    _, _, F = back.score_frame(te)
    top = int(np.argmax(s))
    words = explain_rows(back, F, np.array([top]))[0]
    assert words and all("log-odds" in w and "=" in w for w in words)


def test_unseen_category_and_missing_feature_column_are_unknown_not_errors():
    rng = np.random.default_rng(0)
    f = pd.DataFrame({"amount": rng.normal(size=400), "kind": rng.choice(["a", "b"], 400)})
    y = (f["amount"] > 1.2).astype(int)
    m = FraudModel(n_estimators=30, iforest_trees=10).fit(f, y)
    s = m.score_samples(pd.DataFrame({"amount": [3.0, 3.0], "kind": ["zzz", "a"]}))
    assert np.isfinite(s).all()
    assert np.isfinite(m.score_samples(pd.DataFrame({"amount": [3.0]}))).all()


def test_read_table_counts_malformed_lines(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,label\n1,2,0\n1,2,3,4,5\n3,4,1\n")
    rep = ReadReport()
    f = read_table(p, rep)
    assert len(f) == 2 and rep.skipped_total() == 1
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_scoring_in_chunks_equals_scoring_at_once(tmp_path):
    from threatml.fraud.run import score_fraud, train_fraud

    f = generate_transactions(cards=80, days=10, seed=6)
    f.to_csv(tmp_path / "t.csv", index=False)
    card, _ = train_fraud(tmp_path / "t.csv", "is_fraud", tmp_path / "m", cv=0, time_column=None)
    assert "vel.count_1h" not in card.features
    a = score_fraud(tmp_path / "m", tmp_path / "t.csv", tmp_path / "a.csv")
    b = score_fraud(tmp_path / "m", tmp_path / "t.csv", tmp_path / "b.csv", chunk_rows=700)
    sa, sb = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert a["rows"] == b["rows"] == len(f) and sb["row"].tolist() == list(range(2, len(f) + 2))
    assert np.allclose(sa["fraud_score"], sb["fraud_score"]) and a["flagged"] == b["flagged"]


def test_time_column_alone_adds_hour_and_weekday():
    f = generate_transactions(cards=60, days=10, seed=7)
    m = FraudModel(time_column="timestamp", n_estimators=30, iforest_trees=10).fit(f.drop(columns="is_fraud"),
                                                                                    f["is_fraud"])
    assert {"time.hour", "time.weekday"} <= set(m.features_) and "vel.count_1h" not in m.features_


def test_model_without_the_anomaly_score(tmp_path):
    from threatml.fraud.run import evaluate_fraud, score_fraud, train_fraud

    generate_transactions(cards=60, days=10, seed=8).to_csv(tmp_path / "t.csv", index=False)
    card, _ = train_fraud(tmp_path / "t.csv", "is_fraud", tmp_path / "m", cv=0, anomaly_trees=0,
                          entity_column="card_id", time_column="timestamp", amount_column="amount")
    assert set(card.artifacts) == {"model.txt", "fraud.json"} and "anomaly.iforest" not in card.features
    m = evaluate_fraud(tmp_path / "m", tmp_path / "t.csv", "is_fraud")
    assert "anomaly_roc_auc" not in m and m["roc_auc"] > 0.9
    score_fraud(tmp_path / "m", tmp_path / "t.csv", tmp_path / "s.csv")
    assert pd.read_csv(tmp_path / "s.csv")["anomaly_score"].isna().all()
