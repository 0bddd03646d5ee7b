"""Email targets (issue 3) and speed: spam and phishing on later unseen mail, SMS 5-fold, emails/s, peak memory.

    .venv/bin/python bench/bench_email.py [--data ../shared/datasets] [--skip-sms] [--json bench/results/email.json]

What is measured, on the shipped ``email-classifier`` (built by
``threatml/shipped/build_email.py`` from the *earlier* 70% of each corpus):

* **SpamAssassin, later unseen mail**: the latest 30% (by arrival time) of
  easy_ham, hard_ham and spam: accuracy, ham flagged, spam caught (target:
  accuracy >= 0.98 with ham flagged <= 0.5%).
* **Phishing never seen in training**: the latest 30% of the Nazario mbox,
  against the same unseen ham: phishing caught at the model's threshold and
  at 0.5% ham flagged (target: >= 0.99 at <= 0.5%). When more corpora sit in
  ``email/`` (``phishing_pot/`` 2019+ .eml, ``nazario_phishing_mbox/``,
  ``enron_spam_preprocessed/``), they are measured too: phishing caught at the
  threshold, and Enron spam caught at 1% Enron ham flagged (cross-corpus).
* **SMS Spam Collection**: 5-fold stratified cross-validation accuracy of the
  same classifier trained on SMS (target >= 0.985).
* **Speed**: raw messages (the SpamAssassin test part, in memory) parsed,
  turned into events and scored by the detector (findings with explanations
  included), in batches of 256; and the mbox read path (``EmailReader``).
  Peak RSS of this process (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.email.classifier import EmailClassifier
from threatml.email.dataset import load_labeled
from threatml.email.parse import parse_message
from threatml.email.record import to_row
from threatml.errors import ReadReport
from threatml.events import EventBatch
from threatml.models.registry import resolve
from threatml.pipeline.metrics import binary_report, detection_rate_at_fpr
from threatml.shipped.build_email import NAZARIO, SPAMASSASSIN, time_split


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def _r(x):
    return None if x is None else round(float(x), 4)


def targets(root: Path, clf: EmailClassifier, out: dict) -> pd.DataFrame:
    frame, y, _ = load_labeled([str(root / SPAMASSASSIN), str(root / NAZARIO)], ReadReport())
    test = time_split(frame)
    te, yt = frame[test].reset_index(drop=True), y[test]
    proba = clf.predict_proba(te)
    score = 1.0 - proba[:, 0]
    pred = np.array(clf.verdicts(proba))
    ham = yt == "ham"
    sa = yt != "phishing"
    acc_sa = float(np.mean((pred[sa] != "ham") == (yt[sa] != "ham")))
    ham_flagged = float(np.mean(pred[ham] != "ham"))
    spam_caught = float(np.mean(pred[yt == "spam"] != "ham"))
    r = binary_report(yt[sa] != "ham", score[sa], clf.threshold_)
    out["spamassassin_later"] = {"n_ham": int(ham.sum()), "n_spam": int((yt == "spam").sum()), "accuracy": _r(acc_sa),
                                 "ham_flagged": _r(ham_flagged), "spam_caught": _r(spam_caught), "roc_auc": r["roc_auc"],
                                 "spam_caught_at_0.5pct_ham": _r(detection_rate_at_fpr(yt[sa] != "ham", score[sa], 0.005)),
                                 "target": "accuracy >= 0.98 with ham flagged <= 0.005"}
    ph = yt == "phishing"
    both = ham | ph
    out["phishing_later"] = {"n_phishing": int(ph.sum()), "n_ham": int(ham.sum()),
                             "caught_at_threshold": _r(np.mean(pred[ph] != "ham")),
                             "called_phishing": _r(np.mean(pred[ph] == "phishing")),
                             "caught_at_0.5pct_ham": _r(detection_rate_at_fpr(ph[both], score[both], 0.005)),
                             "ham_flagged": _r(ham_flagged), "target": ">= 0.99 caught at <= 0.005 ham flagged"}
    three = np.mean(pred == yt)
    out["three_class_accuracy_later"] = _r(three)
    return te[ham].reset_index(drop=True)


def other_corpora(root: Path, clf: EmailClassifier, ham_frame: pd.DataFrame, out: dict) -> None:
    """Corpora beyond the shipped data, when present (never used in training)."""
    ham_score = clf.score_samples(ham_frame)
    extra = {
        "phishing_pot": root / "email" / "phishing_pot",
        "nazario_phishing_mbox": root / "email" / "nazario_phishing_mbox",
        "nazario_phishing_text": root / "email" / "nazario_phishing_text",
    }
    for name, path in extra.items():
        if not path.exists():
            out[name] = "absent"
            continue
        fr, _, _ = load_labeled([f"phishing={path}"], ReadReport())
        s = clf.score_samples(fr)
        y = np.r_[np.zeros(len(ham_score)), np.ones(len(s))]
        out[name] = {"n": len(fr), "caught_at_threshold": _r(np.mean(s >= clf.threshold_)),
                     "caught_at_0.5pct_ham": _r(detection_rate_at_fpr(y, np.r_[ham_score, s], 0.005))}
    enron = root / "email" / "enron_spam_preprocessed"
    if enron.exists():
        fr, y, _ = load_labeled([str(enron)], ReadReport())
        s = clf.score_samples(fr)
        out["enron_spam_cross_corpus"] = {"n": len(fr), "spam_caught_at_1pct_enron_ham": _r(detection_rate_at_fpr(y != "ham", s, 0.01)),
                                          "target": ">= 0.8"}
    else:
        out["enron_spam_cross_corpus"] = "absent"


def sms_cv(root: Path, out: dict, folds: int = 5) -> None:
    from sklearn.model_selection import StratifiedKFold

    path = root / "email" / "sms_spam_collection" / "SMSSpamCollection"
    if not path.exists():
        out["sms_5fold"] = "absent"
        return
    fr, y, _ = load_labeled([str(path)], ReadReport())
    accs = []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(fr, y):
        m = EmailClassifier(seed=0).fit(fr.iloc[tr].reset_index(drop=True), y[tr])
        accs.append(float(np.mean(np.array(m.predict(fr.iloc[te].reset_index(drop=True))) == y[te])))
    out["sms_5fold"] = {"n": len(fr), "accuracy": _r(np.mean(accs)), "folds": [_r(a) for a in accs],
                        "target": ">= 0.985 (linear SVM baseline 0.982)"}


def speed(root: Path, out: dict, batch: int = 256) -> None:
    from threatml.detectors.email.message import EmailMessageDetector

    raws = []
    with tarfile.open(root / SPAMASSASSIN, "r:*") as tf:
        for m in tf:
            if m.isfile() and not m.name.endswith("cmds"):
                raws.append(tf.extractfile(m).read())
    det = EmailMessageDetector(buffer=batch)
    det._model()  # load once, outside the timing
    t, c = time.perf_counter(), time.process_time()
    findings = 0
    for i in range(0, len(raws), batch):
        rows = [to_row(parse_message(r), f"m{i + j}", "eml") for j, r in enumerate(raws[i:i + batch])]
        findings += len(det.process(EventBatch.of("email", pd.DataFrame(rows))))
    findings += len(det.flush())
    el, cpu = time.perf_counter() - t, time.process_time() - c
    # wall time on a shared machine counts other people's work too; CPU seconds are what this process used
    out["speed_parse_and_score"] = {"messages": len(raws), "seconds": _r(el), "emails_per_s": round(len(raws) / el, 1),
                                    "cpu_seconds": _r(cpu), "emails_per_cpu_s": round(len(raws) / cpu, 1),
                                    "findings": findings, "target": ">= 500 emails/s"}
    from threatml.readers.email import EmailReader

    t, c = time.perf_counter(), time.process_time()
    n = 0
    det2 = EmailMessageDetector()
    for b in EmailReader().read(root / NAZARIO, ReadReport()):
        n += len(b)
        det2.process(b)
    det2.flush()
    el, cpu = time.perf_counter() - t, time.process_time() - c
    out["speed_mbox_read_and_detect"] = {"messages": n, "emails_per_s": round(n / el, 1), "emails_per_cpu_s": round(n / cpu, 1),
                                         "note": "Nazario mbox: HTML-heavy, almost every message flagged and explained"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    ap.add_argument("--model", default="email-classifier")
    ap.add_argument("--skip-sms", action="store_true", help="skip the SMS 5-fold cross-validation (a minute or two)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--speed-only", action="store_true", help="only the speed measurements")
    a = ap.parse_args()
    root = Path(a.data)
    if not (root / SPAMASSASSIN).exists():
        sys.exit(f"no email data under {root}")
    clf = EmailClassifier.load(resolve(a.model))
    out: dict = {"model": str(resolve(a.model)), "threshold": _r(clf.threshold_)}
    t = time.perf_counter()
    if not a.speed_only:
        ham = targets(root, clf, out)
        other_corpora(root, clf, ham, out)
        out["targets_seconds"] = round(time.perf_counter() - t, 1)
    if not a.skip_sms and not a.speed_only:
        sms_cv(root, out)
    speed(root, out)
    out["peak_rss_mib"] = round(_peak_mib(), 1)
    for k, v in out.items():
        print(f"{k:32s} {json.dumps(v)}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
