"""Analyst verdicts on findings, and the labels they become for retraining.

A verdict is one of ``tp`` (true positive: malicious and worth the alert),
``fp`` (false positive: not what the detector claims) or ``btp`` (benign true
positive: the detector is right, but the activity is allowed, e.g. a
sanctioned vulnerability scanner). Finding ids are stable across scans, so a
verdict follows the same finding when a later scan sees it again.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

from threatml.errors import ThreatMLError
from threatml.store import Store

VERDICTS: dict[str, str] = {
    "tp": "true positive",
    "fp": "false positive",
    "btp": "benign true positive",
}
#: retraining label of each verdict: only a true positive is an attack
LABELS: dict[str, str] = {"tp": "malicious", "fp": "benign", "btp": "benign"}

_EXPORT_COLUMNS = ["finding_id", "verdict", "label", "detector", "entity_type", "entity", "title", "score",
                   "start", "end", "attack", "evidence", "source_files", "comment", "analyst", "marked"]


def resolve_finding(store: Store, ref: str) -> dict:
    """The latest stored row of the finding whose id is ``ref`` or starts with it (6+ characters)."""
    ref = ref.strip().lower()
    if len(ref) < 6:
        raise ThreatMLError(f"finding id {ref!r} is too short: give at least 6 characters")
    rows = store.con.execute(
        """SELECT id, detector, entity_type, entity, title, score FROM findings
           WHERE id LIKE ? || '%' ORDER BY scan_id DESC""", [ref]).fetchall()
    ids = {r[0] for r in rows}
    if not ids:
        raise ThreatMLError(f"no finding {ref!r} in {store.path} (see `threatml triage list`)")
    if len(ids) > 1:
        raise ThreatMLError(f"finding id {ref!r} is ambiguous: {', '.join(sorted(ids)[:5])}")
    fid, detector, etype, entity, title, score = rows[0]
    return {"id": fid, "detector": detector, "entity_type": etype, "entity": entity, "title": title, "score": score}


def mark(store: Store, ref: str, verdict: str, comment: str = "", analyst: str = "") -> dict:
    """Record ``verdict`` for the finding ``ref`` (replacing an earlier one); returns the finding row."""
    verdict = verdict.lower()
    if verdict not in VERDICTS:
        raise ThreatMLError(f"unknown verdict {verdict!r}; use one of {', '.join(VERDICTS)}")
    f = resolve_finding(store, ref)
    store.con.execute(
        "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [f["id"], verdict, comment, analyst, f["detector"], f["entity_type"], f["entity"], f["title"], f["score"],
         datetime.now(timezone.utc).replace(tzinfo=None)])
    return f


def verdicts(store: Store) -> dict[str, str]:
    """finding id -> verdict, for every finding an analyst has marked."""
    return dict(store.con.execute("SELECT finding_id, verdict FROM feedback").fetchall())


def export_labels(store: Store, out: Path) -> int:
    """Write every verdict with its finding as labeled rows (CSV, or JSON lines for ``.jsonl``); returns rows."""
    rows = store.con.execute(
        """SELECT fb.finding_id, fb.verdict, fb.detector, fb.entity_type, fb.entity, fb.title, fb.score,
                  f.start_epoch, f.end_epoch, f.attack, f.evidence, f.source_files, fb.comment, fb.analyst,
                  fb.marked
           FROM feedback fb
           LEFT JOIN (SELECT * FROM findings QUALIFY row_number() OVER (PARTITION BY id ORDER BY scan_id DESC) = 1) f
             ON f.id = fb.finding_id
           ORDER BY fb.marked, fb.finding_id""").fetchall()
    records = []
    for (fid, verdict, det, etype, ent, title, score, start, end, attack, evidence, files, comment, analyst,
         marked) in rows:
        records.append({
            "finding_id": fid, "verdict": verdict, "label": LABELS[verdict], "detector": det, "entity_type": etype,
            "entity": ent, "title": title, "score": score, "start": start, "end": end,
            "attack": list(attack or []), "evidence": list(evidence or []), "source_files": list(files or []),
            "comment": comment or "", "analyst": analyst or "", "marked": marked.isoformat() if marked else "",
        })
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        if out.suffix.lower() in (".jsonl", ".json", ".ndjson"):
            for r in records:
                fh.write(json.dumps(r) + "\n")
        else:
            w = csv.DictWriter(fh, fieldnames=_EXPORT_COLUMNS)
            w.writeheader()
            for r in records:
                w.writerow({k: (" ".join(v) if isinstance(v, list) else v) for k, v in r.items()})
    return len(records)
