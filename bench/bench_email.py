"""Email targets (issue 3) and speed: spam and phishing on later unseen mail, SMS 5-fold, emails/s, peak memory.

    .venv/bin/python bench/bench_email.py [--data ../shared/datasets] [--skip-sms] [--extra /tmp/email_extra] [--json bench/results/email.json]

What is measured, on the shipped ``email-classifier`` (built by
``threatml/shipped/build_email.py`` from the *earlier* 70% of each corpus):

* **SpamAssassin, later unseen mail**: the latest 30% (by arrival time) of
  easy_ham, hard_ham and spam: accuracy, ham flagged, spam caught (target:
  accuracy >= 0.98 with ham flagged <= 0.5%).
* **Phishing never seen in training**: the latest 30% of the Nazario mbox,
  against the same unseen ham: phishing caught at the model's threshold and
  at 0.5% ham flagged (target: >= 0.99 at <= 0.5%).
* **Evaluation-only corpora** (``--extra DIR``, e.g. ``/tmp/email_extra``; never
  used in training, skipped when absent): every sub-folder is a set labelled by
  its names (``phishing_pot/`` 2019+ .eml, ``nazario_text/phishing*/`` header-less
  text, ``enron/ham`` + ``enron/spam`` Enron-Spam text): phishing caught at the
  threshold and at 0.5% of SpamAssassin held-out ham flagged; for sets with ham
  and spam, spam caught at 1% of their own ham flagged (cross-corpus target >= 0.8).
* **Header-less view** of the held-out mail: the same later messages read as
  text only (subject + visible body, as the plain-text reader gives them).
* **SMS Spam Collection**: 5-fold stratified cross-validation accuracy of the
  same classifier trained on SMS (target >= 0.985).
* **Speed**: all 3,250 SpamAssassin messages (in memory, shuffled with seed 0)
  parsed, turned into events and scored by the detector (findings with
  explanations included), in batches of 256: the whole pass (every cache empty
  at the start) and its second half (caches filled by the first half's other
  messages: a long-running scan or filter), wall and CPU seconds; and the mbox
  read path (``EmailReader``). Peak RSS of this process (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.email.classifier import EmailClassifier, structured_of
from threatml.email.dataset import load_labeled
from threatml.email.features import COLUMNS, FEATURES, headerless_features
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
    pred = np.array(clf.verdicts(proba, te))
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
    # the same later messages as header-less text (what a text-only corpus such as Enron-Spam gives)
    hl = te.copy()
    hl[COLUMNS] = np.array([[headerless_features(a, b)[k] for k in FEATURES]
                            for a, b in zip(te["email.subject"].astype(str), te["email.body"].astype(str))])
    sh = clf.score_samples(hl)
    bad = ~ham
    th = clf.thresholds(hl, len(hl))
    out["headerless_later"] = {"ham_flagged": _r(np.mean(sh[ham] >= th[ham])),
                               "spam_caught": _r(np.mean(sh[yt == "spam"] >= th[yt == "spam"])),
                               "phishing_caught": _r(np.mean(sh[ph] >= th[ph])),
                               "bad_caught_at_1pct_ham": _r(detection_rate_at_fpr(bad, sh, 0.01)),
                               "phishing_caught_at_0.5pct_ham": _r(detection_rate_at_fpr(ph[both], sh[both], 0.005)),
                               "note": "held-out mail read as subject + visible text only, header features unknown"}
    return te[ham].reset_index(drop=True)


EXTRA_SKIP = {"READY", "SOURCE.md", "NOT_AVAILABLE.md", "README.md"}


def _extra_files(folder: Path) -> list[Path]:
    """Message files under ``folder``: helper folders (``_*``), notes and marker files left out."""
    out = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).parts
        if f.is_file() and not any(p.startswith((".", "_")) for p in rel) and f.name not in EXTRA_SKIP \
                and f.suffix.lower() not in (".md", ".json", ".tsv", ".py", ".csv"):
            out.append(f)
    return out


def extra_corpora(folder: Path, clf: EmailClassifier, ham_frame: pd.DataFrame, out: dict) -> None:
    """Evaluation-only corpora under ``folder`` (never used in training), read with the product's readers.

    Each sub-folder is one set, labelled by its names as in ``train email`` (``phish*`` -> phishing,
    ``ham``, ``spam``): ``.eml`` / mbox files go through the mail reader, header-less text files through
    the plain-text reader (a first ``Subject:`` line becomes the subject). Sets holding ham and spam
    (Enron-Spam) give spam caught at 1% of their own ham flagged; phishing-only sets give phishing caught
    at the model's threshold and at 0.5% of the SpamAssassin held-out ham flagged.
    """
    if not folder.is_dir():
        out["extra"] = f"absent ({folder})"
        return
    ham_score = clf.score_samples(ham_frame)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        files = _extra_files(sub)
        if not files:
            out[f"extra:{sub.name}"] = "empty"
            continue
        rep = ReadReport()
        t = time.perf_counter()
        try:
            fr, y, _ = load_labeled([str(f) for f in files], rep)
        except Exception as exc:  # noqa: BLE001 - a bench reports, it does not stop
            out[f"extra:{sub.name}"] = f"unreadable: {exc}"
            continue
        s = clf.score_samples(fr)
        th = clf.thresholds(fr, len(fr))
        res: dict = {"n": int(len(fr)), "labels": {k: int((y == k).sum()) for k in sorted(set(y.tolist()))},
                     "with_headers": int(np.isfinite(structured_of(fr)[:, 0]).sum()),
                     "skipped": rep.skipped_total(),
                     "seconds": round(time.perf_counter() - t, 1)}
        ham, bad = y == "ham", y != "ham"
        if bad.any():
            res["caught_at_threshold"] = _r(np.mean(s[bad] >= th[bad]))
            res["called_phishing"] = _r(np.mean(np.array(clf.verdicts(clf.predict_proba(fr), fr))[bad] == "phishing"))
        if ham.any():
            res["ham_flagged_at_threshold"] = _r(np.mean(s[ham] >= th[ham]))
        if ham.any() and bad.any():
            res["bad_caught_at_1pct_own_ham"] = _r(detection_rate_at_fpr(bad, s, 0.01))
            res["roc_auc"] = binary_report(bad, s, clf.threshold_)["roc_auc"]
        elif bad.any():
            yy = np.r_[np.zeros(len(ham_score)), np.ones(int(bad.sum()))]
            res["caught_at_0.5pct_spamassassin_ham"] = _r(detection_rate_at_fpr(yy, np.r_[ham_score, s[bad]], 0.005))
        out[f"extra:{sub.name}"] = res


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
    random.Random(0).shuffle(raws)  # a mixed stream (the tarball holds easy_ham, then hard_ham, then spam)
    det = EmailMessageDetector(buffer=batch)
    det._model()  # load once, outside the timing
    t, c = time.perf_counter(), time.process_time()
    findings = 0
    half_t = half_c = 0.0
    half = (len(raws) // 2 // batch) * batch
    for i in range(0, len(raws), batch):
        if i == half:
            half_t, half_c = time.perf_counter(), time.process_time()
        rows = [to_row(parse_message(r), f"m{i + j}", "eml") for j, r in enumerate(raws[i:i + batch])]
        findings += len(det.process(EventBatch.of("email", pd.DataFrame(rows))))
    findings += len(det.flush())
    el, cpu = time.perf_counter() - t, time.process_time() - c
    el2, cpu2 = time.perf_counter() - half_t, time.process_time() - half_c
    # wall time on a shared machine counts other people's work too; CPU seconds are what this process used.
    # The second half runs with the word / n-gram / URL caches filled by the first half's (different) messages:
    # the steady state of a long scan or a mail filter process.
    out["speed_parse_and_score"] = {"messages": len(raws), "seconds": _r(el), "emails_per_s": round(len(raws) / el, 1),
                                    "cpu_seconds": _r(cpu), "emails_per_cpu_s": round(len(raws) / cpu, 1),
                                    "second_half_emails_per_s": round((len(raws) - half) / el2, 1),
                                    "second_half_emails_per_cpu_s": round((len(raws) - half) / cpu2, 1),
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
    ap.add_argument("--skip-speed", action="store_true", help="accuracy only")
    ap.add_argument("--extra", default=None, help="folder of evaluation-only corpora (phishing_pot/, enron/ham|spam, "
                                                  "nazario_text/...): measured when present, skipped when absent")
    a = ap.parse_args()
    root = Path(a.data)
    if not (root / SPAMASSASSIN).exists():
        sys.exit(f"no email data under {root}")
    clf = EmailClassifier.load(resolve(a.model))
    out: dict = {"model": str(resolve(a.model)), "threshold": _r(clf.threshold_),
                 "threshold_text_only": _r(clf.threshold_text_)}
    t = time.perf_counter()
    if not a.speed_only:
        ham = targets(root, clf, out)
        if a.extra:
            extra_corpora(Path(a.extra), clf, ham, out)
        out["targets_seconds"] = round(time.perf_counter() - t, 1)
    if not a.skip_sms and not a.speed_only:
        sms_cv(root, out)
    if not a.skip_speed:
        speed(root, out)
    out["peak_rss_mib"] = round(_peak_mib(), 1)
    for k, v in out.items():
        print(f"{k:32s} {json.dumps(v)}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
