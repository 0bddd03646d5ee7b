"""Alert budgets: per-detector score thresholds learned from a baseline period.

A fixed cut-off (alert at score 0.5) means something different for every
detector and every network. A budget instead asks how many alerts a team can
work, or how many false alarms it accepts, and sets each detector's threshold
from the findings it produced on a baseline period:

* ``alerts_per_day``: the baseline period is taken as normal, so every finding
  in it is an alert the team would not have wanted; each detector keeps at most
  that many findings per day of the period (ties at the threshold are dropped,
  so a detector whose findings all share one score is silenced rather than let
  through).
* ``max_fpr``: uses analyst verdicts (:mod:`threatml.triage.feedback`): of the
  findings marked ``fp`` or ``btp`` (the negatives), at most this share may
  still alert; the recall kept on ``tp`` findings is reported beside it.

The budget is a JSON file that ``threatml scan --budget`` applies: findings
scoring at or below their detector's threshold are dropped and counted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from threatml.errors import ThreatMLError
from threatml.findings import Finding
from threatml.store import Store

DAY = 86400.0


def fit_alerts_per_day(findings: list[Finding], alerts_per_day: float) -> dict[str, dict]:
    """Per-detector thresholds that keep at most ``alerts_per_day`` findings a day on ``findings``.

    >>> mk = lambda s, t: Finding.make(detector="d", detector_version="1", title="x", start=t, end=t,
    ...                                entity=str(t), score=s)
    >>> fs = [mk(s, i * 3600.0) for i, s in enumerate([0.1, 0.2, 0.3, 0.9] * 12)]  # 47 h, 48 findings
    >>> b = fit_alerts_per_day(fs, alerts_per_day=12)  # 23 allowed: the twelve 0.9s pass, the 0.3s would overrun
    >>> b["d"]["threshold"], b["d"]["kept_per_day"]
    (0.3, 6.128)
    """
    if alerts_per_day < 0:
        raise ThreatMLError("--alerts-per-day must be 0 or more")
    if not findings:
        raise ThreatMLError("the baseline period has no findings to learn a budget from")
    starts = [f.start for f in findings if math.isfinite(f.start)]
    ends = [f.end for f in findings if math.isfinite(f.end)]
    days = max((max(ends + starts) - min(starts + ends)) / DAY, 1.0) if starts or ends else 1.0
    by_det: dict[str, list[float]] = {}
    for f in findings:
        by_det.setdefault(f.detector, []).append(f.score)
    out = {}
    allowed = int(math.floor(alerts_per_day * days))
    for det, scores in sorted(by_det.items()):
        s = np.sort(np.asarray(scores))[::-1]
        thr = float(s[allowed]) if allowed < len(s) else 0.0
        kept = int((s > thr).sum()) if allowed < len(s) else len(s)
        out[det] = {"threshold": round(thr, 6), "baseline_findings": len(s), "baseline_days": round(days, 3),
                    "kept_per_day": round(kept / days, 3)}
    return out


def fit_max_fpr(store: Store, max_fpr: float) -> dict[str, dict]:
    """Per-detector thresholds letting at most ``max_fpr`` of analyst-marked negatives alert."""
    if not 0 <= max_fpr <= 1:
        raise ThreatMLError("--max-fpr must be between 0 and 1")
    rows = store.con.execute("SELECT detector, verdict, score FROM feedback WHERE score IS NOT NULL").fetchall()
    if not rows:
        raise ThreatMLError(f"{store.path}: no analyst verdicts yet (mark findings with `threatml triage mark`)")
    by_det: dict[str, tuple[list[float], list[float]]] = {}
    for det, verdict, score in rows:
        pos, neg = by_det.setdefault(det, ([], []))
        (pos if verdict == "tp" else neg).append(float(score))
    out = {}
    for det, (pos, neg) in sorted(by_det.items()):
        if not neg:
            thr = 0.0  # nothing marked false yet: no reason to raise the bar
        else:
            s = np.sort(np.asarray(neg))[::-1]
            k = int(math.floor(max_fpr * len(s)))
            thr = float(s[k]) if k < len(s) else 0.0
        p = np.asarray(pos)
        out[det] = {"threshold": round(thr, 6), "negatives": len(neg), "positives": len(pos),
                    "fpr": round(float((np.asarray(neg) > thr).mean()), 6) if neg else None,
                    "recall": round(float((p > thr).mean()), 6) if len(p) else None}
    return out


def save(path: Path, thresholds: dict[str, dict], how: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"kind": "alert-budget", "fitted": how, "detectors": thresholds}, indent=2) + "\n")


def load(path: Path) -> dict[str, float]:
    """detector -> threshold from a budget file; a clear error for anything else."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("kind") != "alert-budget":
            raise ValueError("not an alert budget (kind != alert-budget)")
        return {str(d): float(v["threshold"]) for d, v in doc["detectors"].items()}
    except FileNotFoundError:
        raise ThreatMLError(f"{path}: no such budget file") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ThreatMLError(f"{path}: not a readable alert budget ({exc})") from None


def apply(findings: list[Finding], thresholds: dict[str, float]) -> tuple[list[Finding], dict[str, int]]:
    """(findings above their detector's threshold, {detector: findings dropped}); unknown detectors pass."""
    kept, dropped = [], {}
    for f in findings:
        thr = thresholds.get(f.detector)
        if thr is not None and f.score <= thr:
            dropped[f.detector] = dropped.get(f.detector, 0) + 1
        else:
            kept.append(f)
    return kept, dropped
