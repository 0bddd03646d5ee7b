"""One finding per suspicious message: the email model's verdict plus rule signals.

Messages are scored in groups (up to ``buffer`` rows, across batches) because
a folder of single-message files arrives one event per batch, and scoring one
row at a time costs most of the time. State is that buffer only; findings come
out when it fills and at ``flush``.

A message becomes a finding when the model's verdict is spam or phishing (its
score passed the model's threshold) or a rule signal scores at least
``rule_min``. The finding's score is the larger of the two; its explanation
starts with the verdict, then the features and words that weighed most, then
the rule signals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.detectors.email.rules import COLUMNS as RULE_COLUMNS
from threatml.detectors.email.rules import rule_signals
from threatml.errors import ThreatMLError
from threatml.events import EventBatch
from threatml.findings import Finding

DEFAULT_MODEL = "email-classifier"


def _split(value: str, sep: str = ",", limit: int = 20) -> list[str]:
    return [v for v in str(value or "").split(sep) if v][:limit]


class EmailMessageDetector(Detector):
    name = "email.message"
    version = "1"
    kinds = frozenset({"email"})

    def __init__(self, model: str | Path | None = None, protected_domains: tuple[str, ...] = (),
                 use_model: bool = True, buffer: int = 256, rule_min: float = 0.6):
        self.model_ref = model or DEFAULT_MODEL
        self.protected = tuple(d.lower().strip(".") for d in protected_domains)
        self.use_model = use_model
        self.buffer = max(1, int(buffer))
        self.rule_min = float(rule_min)
        self._clf = None
        self.model_error: str | None = None
        self._pending: list[tuple[pd.DataFrame, str]] = []
        self._n = 0

    def _model(self):
        if self._clf is None and self.use_model and self.model_error is None:
            from threatml.email.classifier import EmailClassifier
            from threatml.models.registry import resolve

            try:
                self._clf = EmailClassifier.load(resolve(self.model_ref))
            except ThreatMLError as exc:  # rules still run; every finding says the model was missing
                self.model_error = str(exc)
        return self._clf

    def process(self, batch: EventBatch) -> list[Finding]:
        self._pending.append((batch.frame, batch.source))
        self._n += len(batch)
        return self._score() if self._n >= self.buffer else []

    def flush(self) -> list[Finding]:
        return self._score()

    def _score(self) -> list[Finding]:
        if not self._pending:
            return []
        parts = self._pending
        self._pending, self._n = [], 0
        frame = pd.concat([f for f, _ in parts], ignore_index=True) if len(parts) > 1 else parts[0][0].reset_index(drop=True)
        sources = [s for f, s in parts for _ in range(len(f))]
        clf = self._model()
        if clf is not None:
            proba, X, T, texts = clf.score_frame(frame)
            verdicts = clf.verdicts(proba, frame)
            limits = clf.thresholds(frame, len(frame))
            scores = 1.0 - proba[:, 0]
        else:
            verdicts, scores, limits = ["ham"] * len(frame), np.zeros(len(frame)), np.ones(len(frame))
        cols = [c for c in RULE_COLUMNS if c in frame]
        keep = []
        for i, row in enumerate(frame[cols].to_dict("records")):
            signals = rule_signals(row, self.protected)
            if verdicts[i] != "ham" or (signals and signals[0][0] >= self.rule_min):
                keep.append((i, signals))
        flagged = [i for i, _ in keep if verdicts[i] != "ham"]
        why = dict(zip(flagged, clf.explain_rows(X, T, texts, flagged, [verdicts[i] for i in flagged]))) if flagged else {}
        rows = frame.iloc[[i for i, _ in keep]].to_dict("records") if keep else []  # one conversion, not one per row
        return [self._finding(row, verdicts[i], float(scores[i]), signals, sources[i], float(limits[i]), why.get(i, []))
                for row, (i, signals) in zip(rows, keep)]

    def _finding(self, row, verdict, model_score, signals, source, threshold, reasons) -> Finding:
        is_model = verdict != "ham"
        imitates = any("imitates" in s for _, s in signals)  # a lookalike of your own domain is phishing, whatever the words
        kind = "phishing" if imitates else (verdict if is_model else "suspicious")
        subject = str(row.get("email.subject", ""))[:120]
        sender = str(row.get("email.from.address", ""))
        explanation = []
        if is_model:
            explanation.append(f"the email model rates this message {verdict} (score {model_score:.3f}, "
                               f"threshold {threshold:.3f})")
            explanation += reasons
        elif self.model_error:
            explanation.append(f"email model unavailable ({self.model_error}); rule signals only")
        explanation += [s for _, s in signals]
        recipients = _split(row.get("email.to.address", ""))
        entity = recipients[0] if recipients else (str(row.get("email.message_id", "")) or str(row.get("event.id", "")))
        urls = _split(row.get("email.urls", ""), " ")
        has_att = bool(str(row.get("email.attachments.file.hash.sha256", "")))
        attack = []
        if kind in ("phishing", "suspicious") or any(sc >= self.rule_min for sc, _ in signals):
            attack = ["T1566"] + (["T1566.001"] if has_att else []) + (["T1566.002"] if urls else [])
        t = float(row.get("@timestamp", float("nan")))
        t = 0.0 if t != t else t
        related = {
            "mailbox": [a for a in [sender, *recipients[1:]] if a],
            "domain": list(dict.fromkeys(d for d in [str(row.get("email.sender.domain", "")),
                                                     *_split(row.get("email.url.domains", ""))] if d))[:20],
            "url": urls,
            "file.sha256": _split(row.get("email.attachments.file.hash.sha256", "")),
            "source.ip": _split(row.get("source.ip", "")),
        }
        return Finding.make(
            detector=self.name,
            detector_version=self.version,
            title=f"{kind.capitalize()} email from {sender or 'unknown sender'}: {subject or '(no subject)'}",
            start=t,
            end=t,
            entity_type="mailbox",
            entity=entity,
            score=max(model_score if is_model else 0.0, signals[0][0] if signals else 0.0),
            attack=attack,
            evidence=[str(row.get("event.id", ""))],
            explanation=explanation,
            related={k: v for k, v in related.items() if v},
            source_files=[source] if source else [],
            attributes={"verdict": kind, "model_score": round(model_score, 6), "subject": subject,
                        "from": sender, "message_id": str(row.get("email.message_id", ""))[:200]},
        )
