"""Commands end to end on generated mail: train/evaluate email, email-filter, and `threatml scan` of a mail folder."""

from __future__ import annotations

import json
import random

import pytest
from email_samples import corpus_message, message, write_corpus, zip_bytes
from typer.testing import CliRunner

from threatml.cli import app

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False, env={"COLUMNS": "160"})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = write_corpus(tmp_path_factory.mktemp("corpus"), per_class=25, seed=1)
    other = root / "misc"
    other.mkdir()
    for i in range(10):  # a folder whose name says nothing, labeled on the command line
        (other / f"{i}.eml").write_bytes(corpus_message("spam", 100 + i, random.Random(i)))
    out = tmp_path_factory.mktemp("m") / "mail-model"
    res = run("train", "email", "--data", root / "easy_ham", "--data", root / "spam", "--data", root / "phish_2024",
              "--data", f"spam={other}", "--out", out)
    assert res.exit_code == 0, res.output
    return out


def test_train_writes_a_model_card_with_three_classes(model_dir):
    card = json.loads((model_dir / "card.json").read_text())
    assert card["domain"] == "email" and card["classes"] == ["ham", "phishing", "spam"]
    assert card["metrics"]["n"] == 85 and "roc_auc" in card["metrics"]
    assert {d["label"] for d in card["training_data"]} == {None, "spam"}


def test_evaluate_json_has_the_common_keys(model_dir, tmp_path):
    test_root = write_corpus(tmp_path, per_class=12, seed=7)
    res = run("evaluate", "email", "--model", model_dir, "--data", test_root, "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    for k in ("n", "accuracy", "precision", "recall", "f1", "roc_auc", "benign_fpr", "confusion_matrix",
              "detection_rate_at_fpr_1pct", "per_class", "multiclass_accuracy", "classes", "ham_flagged"):
        assert k in m, k
    assert m["n"] == 36 and m["classes"] == {"ham": 12, "phishing": 12, "spam": 12}
    assert m["accuracy"] >= 0.9 and m["per_class"]["phishing"]["detection_rate"] >= 0.9


def test_unlabeled_data_is_one_clear_error(tmp_path):
    d = tmp_path / "inbox"
    d.mkdir()
    (d / "a.eml").write_bytes(message())
    res = runner.invoke(app, ["train", "email", "--data", str(d), "--out", str(tmp_path / "m")])
    assert res.exit_code != 0
    assert "no labeled messages" in str(res.exception) or "no labeled messages" in res.output


def test_email_filter_adds_headers_and_keeps_every_byte(model_dir):
    raw = corpus_message("phishing", 3, random.Random(5))
    res = run("email-filter", "--model", model_dir, input=raw)
    assert res.exit_code == 0
    out = res.stdout_bytes
    assert out.endswith(raw)
    added = out[: len(out) - len(raw)].decode("ascii")
    lines = added.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["X-ThreatML-Verdict", "X-ThreatML-Score", "X-ThreatML-Reasons"]
    assert lines[0] == "X-ThreatML-Verdict: phishing"
    assert 0.0 <= float(lines[1].split(": ")[1]) <= 1.0
    assert "log-odds" in lines[2]
    assert added.endswith("\r\n") == raw.split(b"\n", 1)[0].endswith(b"\r")  # the message's own line ending


def test_email_filter_passes_garbage_through_with_a_verdict(model_dir):
    junk = b"\x00\x01 this is not an e-mail at all \xff\xfe"
    res = run("email-filter", "--model", model_dir, input=junk)
    assert res.exit_code == 0
    assert res.stdout_bytes.endswith(junk)
    assert res.stdout_bytes.startswith(b"X-ThreatML-Verdict: unscanned")


def test_email_filter_without_a_model_still_passes_mail(tmp_path):
    raw = message()
    res = run("email-filter", "--model", tmp_path / "no-such-model", input=raw)
    assert res.exit_code == 0 and res.stdout_bytes.endswith(raw)
    assert b"model unavailable" in res.stdout_bytes


def test_scan_finds_lookalike_and_malware_mail_in_a_folder(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "cur").mkdir(parents=True)
    (inbox / "cur" / "1.host:2,S").write_bytes(message(
        sender="IT Desk <it@examp1e.com>", to="carol@example.com", subject="Password expiry",
        text="Your password expires today, keep it at http://examp1e.com/reset"))
    (inbox / "cur" / "2.host:2,S").write_bytes(message(
        sender="Billing <billing@vendor.example>", to="dave@example.com", subject="Invoice",
        attachments=[("invoice.pdf.exe", b"MZ" + b"\0" * 100, "application/octet-stream"),
                     ("docs.zip", zip_bytes({"run.js": b"WScript.Shell"}), "application/zip")]))
    (inbox / "cur" / "3.host:2,S").write_bytes(message(
        sender="Erin <erin@example.com>", to="carol@example.com", subject="Lunch", text="Lunch at noon?"))
    res = run("scan", inbox, "--no-store", "--no-report", "--protected-domain", "example.com", "--out", tmp_path / "f.jsonl")
    assert res.exit_code == 0, res.output
    found = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    mail = [f for f in found if f["rule"]["name"] == "email.message"]
    assert mail and all(f["labels"]["entity_type"] == "mailbox" for f in mail)
    text = json.dumps(mail)
    assert "examp1e.com imitates your domain example.com" in text
    assert "executable" in text and "dave@example.com" in text
    assert any("T1566" in json.dumps(f.get("threat", {})) for f in mail)
