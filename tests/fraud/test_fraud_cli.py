"""`threatml train|evaluate|score fraud` end to end on generated transactions (and the Ethereum data when present)."""

import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from shared_data import DATASETS
from threatml.cli import app
from threatml.errors import ThreatMLError
from threatml.fraud.synthetic import generate_transactions

runner = CliRunner()
VEL = ["--entity-column", "card_id", "--time-column", "timestamp", "--amount-column", "amount"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


def run_main(capsys, monkeypatch, *args) -> tuple[int, str]:
    """The entry point in-process: a user error prints one line and exits 2."""
    from threatml.cli import main

    monkeypatch.setattr(sys, "argv", ["threatml", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out + out.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fraud")
    generate_transactions(cards=150, days=20, seed=1).to_csv(d / "train.csv", index=False)
    te = generate_transactions(cards=150, days=20, seed=2)
    te.to_csv(d / "test.csv", index=False)
    te.drop(columns="is_fraud").to_csv(d / "unlabeled.csv", index=False)
    res = run("train", "fraud", "--data", d / "train.csv", "--label-column", "is_fraud", "--out", d / "model",
              "--cv", "2", *VEL)
    assert res.exit_code == 0, res.output
    return d, res.output


def test_train_writes_card_with_cross_validation(files):
    d, output = files
    card = json.loads((d / "model" / "card.json").read_text())
    assert card["domain"] == "fraud" and card["kind"] == "fraud-classifier"
    assert set(card["artifacts"]) == {"model.txt", "fraud.json", "iforest.json"}
    cvm = card["metrics"]["cross_validation"]
    assert cvm["folds"] == 2 and len(cvm["roc_auc"]["folds"]) == 2 and cvm["roc_auc"]["mean"] > 0.85
    assert "baseline_pr_auc" in cvm and "vel.count_1h" in card["features"]
    assert "cross-validation" in output and "tx_id" in output  # the dropped identifier is named


def test_evaluate_json_has_common_keys_and_pr_auc(files):
    d, _ = files
    res = run("evaluate", "fraud", "--model", d / "model", "--data", d / "test.csv", "--label-column", "is_fraud",
              "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    for k in ("n", "n_malicious", "roc_auc", "pr_auc", "precision", "recall", "confusion_matrix",
              "detection_rate_at_fpr_1pct", "anomaly_roc_auc", "rows_per_s"):
        assert k in m
    assert m["roc_auc"] > 0.9 and m["pr_auc"] > 0.4


def test_score_writes_explained_scores(files):
    d, _ = files
    out = d / "scores.csv"
    res = run("score", "fraud", "--model", d / "model", "--data", d / "unlabeled.csv", "--out", out)
    assert res.exit_code == 0, res.output
    s = pd.read_csv(out, keep_default_na=False)
    assert list(s.columns) == ["row", "entity", "fraud_score", "anomaly_score", "flagged", "explanation"]
    assert len(s) == len(pd.read_csv(d / "unlabeled.csv"))
    flagged = s[s["flagged"] == 1]
    assert len(flagged) and (flagged["explanation"].str.contains(r"= .*log-odds")).all()
    assert (s.loc[s["flagged"] == 0, "explanation"] == "").all()
    truth = pd.read_csv(d / "test.csv")["is_fraud"].to_numpy()
    top = s.nlargest(int(truth.sum()), "fraud_score")["row"].to_numpy() - 2
    assert truth[top].mean() > 0.5  # most of the top-ranked rows are the planted fraud


def test_bad_input_gives_one_clear_line(files, tmp_path, capsys, monkeypatch):
    d, _ = files
    code, output = run_main(capsys, monkeypatch, "train", "fraud", "--data", d / "train.csv", "--label-column", "nope",
                            "--out", tmp_path / "m")
    assert code == 2 and "Traceback" not in output
    assert "train.csv" in output and "no label column 'nope'" in output


def user_error(*args) -> str:
    """The ThreatMLError message a command stops with (the entry point prints it and exits 2)."""
    res = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert isinstance(res.exception, ThreatMLError), res.output
    return str(res.exception)


def test_user_errors_are_named(files, tmp_path):
    d, _ = files
    assert "--time-column" in user_error("train", "fraud", "--data", d / "train.csv", "--label-column", "is_fraud",
                                         "--out", tmp_path / "m", "--entity-column", "card_id")
    assert "no entity column 'nope'" in user_error("train", "fraud", "--data", d / "train.csv", "--label-column",
                                                   "is_fraud", "--out", tmp_path / "m", "--entity-column", "nope",
                                                   "--time-column", "timestamp")
    assert "not a model folder" in user_error("evaluate", "fraud", "--model", tmp_path, "--data", d / "test.csv",
                                              "--label-column", "is_fraud")
    assert "no such file" in user_error("score", "fraud", "--model", d / "model", "--data", tmp_path / "none.csv",
                                        "--out", tmp_path / "s.csv")
    # a swapped artifact is refused before anything is loaded
    m2 = tmp_path / "copy"
    m2.mkdir()
    for f in (d / "model").iterdir():
        (m2 / f.name).write_bytes(f.read_bytes())
    (m2 / "fraud.json").write_text((m2 / "fraud.json").read_text().replace('"threshold": ', '"threshold": 0.0 + '))
    assert "SHA-256" in user_error("score", "fraud", "--model", m2, "--data", d / "unlabeled.csv",
                                   "--out", tmp_path / "s.csv")


def test_rows_without_label_are_skipped_and_counted(tmp_path):
    f = generate_transactions(cards=60, days=10, seed=5)
    f["is_fraud"] = f["is_fraud"].astype(object)
    f.loc[f.index[:7], "is_fraud"] = ""
    p = tmp_path / "t.csv"
    f.to_csv(p, index=False)
    res = run("train", "fraud", "--data", p, "--label-column", "is_fraud", "--out", tmp_path / "m", "--cv", "0")
    assert res.exit_code == 0, res.output
    assert "skipped 7" in res.output and "without a is_fraud value" in res.output


ETH = DATASETS / "fraud" / "ethereum_fraud_accounts" / "transaction_dataset_31col_with_address.csv"


@pytest.mark.skipif(not ETH.exists(), reason=f"Ethereum fraud accounts not present at {ETH}")
def test_ethereum_accounts_held_out_roc_auc(tmp_path):
    from sklearn.model_selection import train_test_split

    data = pd.read_csv(ETH)
    tr, te = train_test_split(data, test_size=0.3, stratify=data["FLAG"], random_state=0)
    tr.to_csv(tmp_path / "tr.csv", index=False)
    te.to_csv(tmp_path / "te.csv", index=False)
    res = run("train", "fraud", "--data", tmp_path / "tr.csv", "--label-column", "FLAG", "--out", tmp_path / "m",
              "--cv", "0")
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert not {"Index", "Address", "Unnamed: 0"} & set(card["features"])  # leakage columns left out
    res = run("evaluate", "fraud", "--model", tmp_path / "m", "--data", tmp_path / "te.csv", "--label-column", "FLAG",
              "--json")
    assert json.loads(res.output)["roc_auc"] >= 0.95
