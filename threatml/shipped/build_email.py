"""Build the shipped ``email-classifier`` from the shared datasets (``threatml/shipped/email/classifier/``).

    .venv/bin/python -m threatml.shipped.build --only email

Data (read in place: the SpamAssassin tarball member by member, never unpacked):

* ``email/spamassassin-easy_ham-hard_ham-spam.tar.gz``: easy_ham, hard_ham (ham) and spam of the
  SpamAssassin 2002 public corpus;
* ``email/nazario-phishing-20051114.mbox``: Jose Nazario's phishing mbox (2005).

**Time split, so the targets are measured on mail the model has never seen
and that came later.** Each corpus (easy_ham, hard_ham, spam, nazario) is
ordered by arrival time (the newest Received hop, else Date); its earliest
``1 - TEST_SHARE`` trains the model and its latest ``TEST_SHARE`` is the
test set. The shipped model is the one trained on the early part only, so the
bench (``bench/bench_email.py``) can measure it on the later part without any
leak. The test messages' event ids are listed in the card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.email.classifier import EmailClassifier
from threatml.email.dataset import load_labeled
from threatml.errors import ReadReport
from threatml.models.card import ModelCard, library_versions, read_card, relative_to_root, write_model
from threatml.pipeline.metrics import binary_report

HERE = Path(__file__).resolve().parent
OUT = HERE / "email" / "classifier"
SPAMASSASSIN = "email/spamassassin-easy_ham-hard_ham-spam.tar.gz"
NAZARIO = "email/nazario-phishing-20051114.mbox"
TEST_SHARE = 0.3
#: shipped size: fewer hashed n-gram weights and trees than the defaults
SHIPPED = {"text_params": {"keep": 15000}, "n_estimators": 250, "num_leaves": 15, "target_fpr": 0.002}


def time_split(frame: pd.DataFrame, test_share: float = TEST_SHARE) -> np.ndarray:
    """True for test rows: the latest ``test_share`` of each corpus (``label.detail``) by time.

    >>> f = pd.DataFrame({"label.detail": ["a"] * 4 + ["b"] * 2, "@timestamp": [4, 1, 3, 2, 9, 8], "event.id": list("uvwxyz")})
    >>> time_split(f, 0.5).tolist()
    [True, False, True, False, True, False]
    """
    test = np.zeros(len(frame), dtype=bool)
    t = frame["@timestamp"].to_numpy(dtype="float64")
    for _, idx in frame.groupby("label.detail", sort=True).indices.items():
        # messages without a time sort first (into training); ties broken by event id for determinism
        order = sorted(idx, key=lambda i: (t[i] if t[i] == t[i] else -np.inf, frame["event.id"].iat[i]))
        k = int(round(len(order) * test_share))
        if k:
            test[order[-k:]] = True
    return test


def load_corpus(root: Path, report: ReadReport | None = None) -> tuple[pd.DataFrame, np.ndarray, list]:
    specs = [str(root / rel) for rel in (SPAMASSASSIN, NAZARIO) if (root / rel).exists()]
    if not specs:
        raise SystemExit(f"no email data under {root} (expected {SPAMASSASSIN} and {NAZARIO})")
    return load_labeled(specs, report)


def build(root: Path, out: Path = OUT, seed: int = 0) -> str:
    root = Path(root)
    report = ReadReport()
    frame, y, files = load_corpus(root, report)
    test = time_split(frame)
    tr = frame[~test].reset_index(drop=True)
    te = frame[test].reset_index(drop=True)
    clf = EmailClassifier(seed=seed, **SHIPPED).fit(tr, y[~test])
    proba = clf.predict_proba(te)
    score = 1.0 - proba[:, 0]
    pred = clf.verdicts(proba, te)
    yt = y[test]
    metrics = binary_report(yt != "ham", score, clf.threshold_, y_pred_multiclass=np.where(np.array(pred) == "ham", "benign", pred),
                            classes=yt)
    metrics["split"] = f"per corpus, latest {TEST_SHARE:.0%} by arrival time held out"
    metrics["composition"] = {
        d: {"train": int(((frame["label.detail"] == d) & ~test).sum()), "test": int(((frame["label.detail"] == d) & test).sum()),
            "train_until": str(pd.to_datetime(frame.loc[(frame["label.detail"] == d) & ~test, "@timestamp"].max(), unit="s")),
            "test_from": str(pd.to_datetime(frame.loc[(frame["label.detail"] == d) & test, "@timestamp"].min(), unit="s"))}
        for d in sorted(frame["label.detail"].unique())
    }
    relative_to_root(files, root)
    card = ModelCard(
        name="email-classifier",
        version="1",
        domain="email",
        kind="email-classifier",
        description=("Ham/spam/phishing: hashed word+char n-gram logistic regression (whole text and subject "
                     "line) stacked with structured header/URL/attachment/lure-language features in LightGBM, also "
                     "trained on a header-less copy of every message (own threshold for text without headers); "
                     "trained on the earlier 70% (by arrival time) of SpamAssassin 2002 easy_ham, hard_ham, spam "
                     "and the Nazario 2005 phishing mbox"),
        training_data=files,
        feature_set="email-structured+hashed-text",
        parameters={"train_rows": int((~test).sum()), "test_rows": int(test.sum()), "seed": seed, **SHIPPED},
        metrics=metrics,
        libraries=library_versions(),
        notes=[f"skipped {Path(str(p).rsplit('!', 1)[-1]).name!r} in {Path(str(p).split('!', 1)[0]).name} ({r}; {c})"
               for (p, r), c in report.skipped.items()][:10]
        + ["test set = the latest 30% of each corpus; its event ids are in test_ids.json",
           f"thresholds: {clf.threshold_:.4f} with headers, {clf.threshold_text_:.4f} for text without headers",
           "Nazario's mbox is anonymised (username@domain.com recipients); the text model reads only subject and body"],
    )
    clf.save(out, card)
    (out / "test_ids.json").write_text(pd.Series(te["event.id"].map(lambda s: str(s).replace(str(root) + "/", ""))).to_json(orient="values"))
    card = read_card(out, verify=False)
    card.artifacts["test_ids.json"] = ""
    write_model(out, card)
    size = sum(f.stat().st_size for f in out.iterdir())
    m = metrics
    return (f"email-classifier: {out} ({size / 1e6:.2f} MB), time-split test n={m['n']} accuracy={m['accuracy']} "
            f"ham_flagged={m['benign_fpr']} recall={m['recall']} roc_auc={m['roc_auc']} "
            f"phishing_caught={m['per_class'].get('phishing', {}).get('detection_rate')} threshold={clf.threshold_:.4f} (text only {clf.threshold_text_:.4f})")
