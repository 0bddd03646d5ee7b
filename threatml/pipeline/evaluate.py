"""``threatml evaluate network``: a model folder and labeled data in, the metrics dict out."""

from __future__ import annotations

from pathlib import Path


from threatml.errors import ThreatMLError
from threatml.models.card import read_card
from threatml.models.registry import resolve
from threatml.pipeline.dataset import BENIGN, family_labels, load_labeled, split_indices
from threatml.pipeline.metrics import binary_report

DEFAULT_MODEL = "network-flow"


def load_network_model(model: str | Path | None = None):
    """(model object, card) for a folder, a model name, or None (the shipped default)."""
    from threatml.models.flow_baseline import FlowBaseline
    from threatml.models.flow_classifier import FlowClassifier

    folder = resolve(model or DEFAULT_MODEL)
    card = read_card(folder, verify=True)
    if card.kind == "flow-classifier":
        return FlowClassifier.load(folder), card
    if card.kind == "flow-baseline":
        return FlowBaseline.load(folder), card
    raise ThreatMLError(f"{folder}: a {card.kind!r} model is not a network flow model")


def evaluate_network(model: str | Path | None, data: list[str] | str, label_column: str | None = None,
                     split: str | None = None) -> dict:
    """Metrics of ``model`` on ``data`` (labeled; unknown labels left out).

    ``split`` (``random`` / ``time``) evaluates only on the held-out part of
    the same split the training used (same seed), for data the model was
    trained on; None evaluates on everything.
    """
    clf, card = load_network_model(model)
    paths = [data] if isinstance(data, str) else list(data)
    frame, _ = load_labeled(paths, label_column)
    y = family_labels(frame)
    known = y != ""
    frame, y = frame[known].reset_index(drop=True), y[known]
    if len(frame) == 0:
        raise ThreatMLError("no labeled flows to evaluate (all labels unknown)")
    if split:
        _, te, _ = split_indices(frame, y, split, seed=int(card.parameters.get("seed", 0)))
        frame, y = frame.iloc[te].reset_index(drop=True), y[te]
    attack = y != BENIGN
    if card.kind == "flow-classifier":
        score = clf.score_samples(frame)
        rep = binary_report(attack, score, clf.threshold_, y_pred_multiclass=clf.predict(frame), classes=y)
        alert = clf.alert_threshold_
    else:
        score = clf.score_samples(frame)
        rep = binary_report(attack, score, clf.threshold_, classes=y)
        alert = clf.threshold_
    pred = score >= alert
    rep["at_alert_threshold"] = {
        "threshold": round(float(alert), 6),
        "recall": round(float(pred[attack].mean()), 6) if attack.any() else None,
        "benign_fpr": round(float(pred[~attack].mean()), 6) if (~attack).any() else None,
    }
    rep["model"] = f"{card.name}@{card.version}"
    rep["read_report"] = frame.attrs.get("read_report", {})
    return rep
