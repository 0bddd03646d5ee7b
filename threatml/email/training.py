"""``threatml train email`` / ``evaluate email`` / ``email-filter``: the library side of the commands."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from threatml.email.classifier import HAM, EmailClassifier
from threatml.email.dataset import load_labeled
from threatml.errors import ReadReport, ThreatMLError
from threatml.models.card import ModelCard, library_versions
from threatml.pipeline.metrics import binary_report

DEFAULT_MODEL = "email-classifier"


def _report(y: np.ndarray, score: np.ndarray, pred: list[str], threshold: float) -> dict:
    pred_a = np.asarray(pred, dtype=object)
    out = binary_report(y != HAM, score, threshold, y_pred_multiclass=np.where(pred_a == HAM, "benign", pred_a),
                        classes=y)
    out["classes"] = {c: int((y == c).sum()) for c in sorted(set(y.tolist()))}
    out["verdicts"] = {c: int((pred_a == c).sum()) for c in sorted(set(pred_a.tolist()))}
    out["ham_flagged"] = out["benign_fpr"]
    return out


def train_email(data: list[str], out: Path, seed: int = 0, target_fpr: float = 0.003,
                report: ReadReport | None = None) -> ModelCard:
    """Fit an :class:`EmailClassifier` on labeled mail and write the model folder (card metrics: out-of-fold)."""
    report = report if report is not None else ReadReport()
    frame, y, files = load_labeled(data, report)
    if HAM not in set(y.tolist()) or len(set(y.tolist())) < 2:
        raise ThreatMLError(f"training needs ham and spam or phishing; found only {sorted(set(y.tolist()))}")
    clf = EmailClassifier(target_fpr=target_fpr, seed=seed).fit(frame, y)
    oof = clf.oof_score_
    bad = np.where(oof >= clf.thresholds(frame, len(oof)), "spam", HAM)  # out-of-fold scores: binary verdicts only
    metrics = _report(y, oof, bad.tolist(), clf.threshold_)
    metrics.pop("multiclass_accuracy", None)
    metrics["measured_on"] = "out-of-fold scores of the training data (5-fold)"
    card = ModelCard(name=Path(out).name or "email-model", version="1", domain="email", kind="email-classifier",
                     description="ham/spam/phishing: hashed n-gram text model stacked with structured features (LightGBM)",
                     training_data=files, feature_set="email-structured+hashed-text",
                     parameters={"train_rows": int(len(y)), "seed": seed}, metrics=metrics,
                     libraries=library_versions(),
                     notes=[f"{p}: {r} ({c})" for (p, r), c in list(report.skipped.items())[:10]])
    clf.save(Path(out), card)
    return card


def load_email_model(model: str | Path | None = None) -> EmailClassifier:
    from threatml.models.registry import resolve

    return EmailClassifier.load(resolve(model or DEFAULT_MODEL))


def evaluate_email(model: str | Path | None, data: list[str], report: ReadReport | None = None) -> dict:
    """Metrics of a model on labeled mail: the common binary keys (malicious = spam or phishing) plus classes."""
    clf = load_email_model(model)
    frame, y, _ = load_labeled(data, report)
    proba = clf.predict_proba(frame)
    return _report(y, 1.0 - proba[:, 0], clf.verdicts(proba, frame), clf.threshold_)


# ---- mail filter ----
_HDR_SAFE = re.compile(r"[^\x20-\x7e]")


def _header_value(s: str, limit: int = 900) -> str:
    return _HDR_SAFE.sub("?", " ".join(s.split()))[:limit]


def add_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """``raw`` with ``headers`` added at the top (after an mbox ``From `` line); the rest byte for byte.

    >>> add_headers(b"From: a@b.c\\r\\n\\r\\nhi", [("X-T", "ok")])
    b'X-T: ok\\r\\nFrom: a@b.c\\r\\n\\r\\nhi'
    """
    first_end = raw.find(b"\n")
    eol = b"\r\n" if first_end > 0 and raw[first_end - 1: first_end] == b"\r" else b"\n"
    block = b"".join(f"{k}: {_header_value(v)}".encode("ascii") + eol for k, v in headers)
    if raw.startswith(b"From ") and first_end >= 0:
        return raw[: first_end + 1] + block + raw[first_end + 1:]
    return block + raw


def filter_message(raw: bytes, clf: EmailClassifier | None, protected: tuple[str, ...] = (),
                   model_error: str = "") -> tuple[bytes, str]:
    """(message with X-ThreatML-* headers, verdict). Never raises; unparseable mail passes through with a note."""
    from threatml.detectors.email.rules import rule_signals
    from threatml.email.parse import parse_message
    from threatml.email.record import to_row
    from threatml.events import EventBatch
    import pandas as pd

    try:
        p = parse_message(raw)
        if not p.has_headers or p.unparseable:
            return add_headers(raw, [("X-ThreatML-Verdict", "unscanned; not a parseable mail message")]), "unscanned"
        row = to_row(p, "stdin", "eml")
        frame = EventBatch.of("email", pd.DataFrame([row])).frame
        signals = rule_signals(frame.iloc[0].to_dict(), protected)
        reasons: list[str] = []
        if clf is None:
            verdict, score = ("suspicious" if signals and signals[0][0] >= 0.6 else "unscanned"), 0.0
            reasons.append(f"model unavailable: {model_error}")
        else:
            proba = clf.predict_proba(frame)
            verdict, score = clf.verdicts(proba, frame)[0], float(1.0 - proba[0, 0])
            if verdict != HAM:
                reasons += clf.explain(frame, 0, verdict)
            if verdict == HAM and signals and signals[0][0] >= 0.6:
                verdict = "suspicious"
        reasons += [s for _, s in signals]
        if signals:
            score = max(score, signals[0][0]) if verdict != HAM else score
        headers = [("X-ThreatML-Verdict", verdict), ("X-ThreatML-Score", f"{score:.4f}"),
                   ("X-ThreatML-Reasons", "; ".join(reasons) or "nothing suspicious found")]
        return add_headers(raw, headers), verdict
    except Exception as exc:  # noqa: BLE001 - a mail filter must never lose or block mail
        return add_headers(raw, [("X-ThreatML-Verdict", f"unscanned; internal error {type(exc).__name__}")]), "unscanned"
