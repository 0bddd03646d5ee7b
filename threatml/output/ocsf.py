"""Findings as OCSF 1.1 Detection Findings (class_uid 2004), one JSON object per line.

Times are epoch milliseconds; ``time`` is the first event's time (as ECS
``@timestamp``). Fields OCSF has no place for (evidence event ids, the
explanation sentences, the raw score) go under ``unmapped``.

>>> from threatml.findings import Finding
>>> f = Finding.make(detector="network.bruteforce", detector_version="1", title="SSH brute force",
...     start=1.5, end=60, entity="10.0.0.5", score=0.75, attack=["T1110.001"])
>>> d = finding_to_ocsf(f)
>>> d["class_uid"], d["type_uid"], d["severity_id"], d["time"], d["finding_info"]["attacks"][0]["technique"]["uid"]
(2004, 200401, 4, 1500, 'T1110')
"""

from __future__ import annotations

import math
from typing import IO, Iterable

from threatml import __version__
from threatml.findings.schema import Finding
from threatml.output import (
    SEVERITY_NUMBER,
    endpoints,
    is_ip,
    jsonable,
    message,
    related_ips,
    write_json_lines,
)
from threatml.findings.attack import ATTACK_VERSION, activity, technique

OCSF_VERSION = "1.1.0"
_SEVERITY_NAME = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
_RISK_LEVEL = {"info": (0, "Info"), "low": (1, "Low"), "medium": (2, "Medium"), "high": (3, "High"),
               "critical": (4, "Critical")}
# detectors whose verdict comes from a trained model
_LEARNING_WORDS = ("model", "classifier", "anomaly", "baseline")
_RULE_WORDS = ("signature", "sigma", "yara", "ioc", "intel")
# observable type ids by entity type (OCSF observable.type_id)
_OBSERVABLE_TYPES = {"user": (4, "User Name"), "mailbox": (5, "Email Address"), "url": (6, "URL String"),
                     "file": (8, "Hash"), "domain": (1, "Hostname"), "host": (1, "Hostname")}


def _ms(t: float) -> int | None:
    return int(round(t * 1000)) if t is not None and math.isfinite(t) else None


def analytic_type(f: Finding) -> tuple[int, str]:
    """OCSF analytic type of the detector: 4 Learning (ML/DL), 1 Rule or 2 Behavioral."""
    name = f.detector.lower().replace("-", ".").replace("_", ".")
    parts = set(name.split("."))
    if "model" in f.attributes or "ml" in parts or any(w in name for w in _LEARNING_WORDS):
        return 4, "Learning (ML/DL)"
    if any(w in name for w in _RULE_WORDS):
        return 1, "Rule"
    return 2, "Behavioral"


def _attacks(attack: list[str]) -> list[dict]:
    out = []
    for tid in dict.fromkeys(attack):
        t = technique(tid)
        parent = technique(t.parent) if t.parent else t
        item: dict = {"technique": {"uid": parent.id, "src_url": parent.reference}, "version": ATTACK_VERSION}
        if parent.name:
            item["technique"]["name"] = parent.name
        if t.parent:
            item["sub_technique"] = {"uid": t.id, "src_url": t.reference}
            if t.name:
                item["sub_technique"]["name"] = t.name
        if t.tactic_id:
            item["tactic"] = {"uid": t.tactic_id, "name": t.tactic_name}
        out.append(item)
    return out


def _observables(f: Finding, src: list[str], dst: list[str]) -> list[dict]:
    obs = []
    for ip in src[:50]:
        obs.append({"name": "src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip})
    for ip in dst[:50]:
        obs.append({"name": "dst_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip})
    seen = {o["value"] for o in obs}
    for ip in related_ips(f):
        if ip not in seen:
            obs.append({"name": "unmapped.related", "type_id": 2, "type": "IP Address", "value": ip})
    if f.entity and f.entity not in seen and not is_ip(f.entity):
        tid, tname = _OBSERVABLE_TYPES.get(f.entity_type, (99, "Other"))
        obs.append({"name": "unmapped.entity", "type_id": tid, "type": tname, "value": f.entity})
    return obs


def _evidences(src: list[str], dst: list[str], limit: int = 20) -> list[dict]:
    """One evidence artifact per (source, destination) pair the finding names, capped."""
    if not src and not dst:
        return []
    if len(src) <= 1:
        pairs = [(src[0] if src else None, d) for d in dst] or [(src[0], None)]
    else:  # many sources against one (or no) destination, e.g. a distributed flood
        pairs = [(s, dst[0] if dst else None) for s in src]
    out = []
    for s, d in pairs[:limit]:
        ev: dict = {}
        if s:
            ev["src_endpoint"] = {"ip": s}
        if d:
            ev["dst_endpoint"] = {"ip": d}
        out.append(ev)
    return out


def finding_to_ocsf(f: Finding) -> dict:
    """One finding as an OCSF Detection Finding (plain dict, JSON-ready)."""
    sev = SEVERITY_NUMBER[f.severity]
    risk_id, risk_name = _RISK_LEVEL[f.severity]
    type_id, type_name = analytic_type(f)
    src, dst = endpoints(f) if f.entity_type == "host" else ([], [])
    start, end = _ms(f.start), _ms(f.end)
    conf = int(round(f.score * 100))
    kinds = list(dict.fromkeys(a for a in (activity(t) for t in f.attack) if a))
    info: dict = {
        "uid": f.id,
        "title": f.title,
        "desc": " ".join(f.explanation) if f.explanation else f.title,
        "types": kinds or [f.detector],
        "analytic": {"uid": f.detector, "name": f.detector, "type_id": type_id, "type": type_name,
                     "version": f.detector_version},
        "first_seen_time": start,
        "last_seen_time": end,
        "data_sources": list(f.source_files),
    }
    attacks = _attacks(f.attack)
    if attacks:
        info["attacks"] = attacks
    doc: dict = {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": start if start is not None else end,
        "start_time": start,
        "end_time": end,
        "severity_id": sev,
        "severity": _SEVERITY_NAME[sev],
        "status_id": 1,
        "status": "New",
        "confidence_score": conf,
        "confidence_id": 3 if f.score >= 0.7 else (2 if f.score >= 0.4 else 1),
        "risk_score": conf,
        "risk_level_id": risk_id,
        "risk_level": risk_name,
        "count": max(f.evidence_count, len(f.evidence)),
        "message": message(f),
        "finding_info": info,
        "metadata": {
            "product": {"name": "ThreatML", "vendor_name": "ThreatML", "version": __version__},
            "version": OCSF_VERSION,
            "log_name": "threatml.findings",
        },
        "observables": _observables(f, src, dst),
        "unmapped": {
            "entity": f.entity,
            "entity_type": f.entity_type,
            "score": f.score,
            "evidence": list(f.evidence),
            "evidence_count": max(f.evidence_count, len(f.evidence)),
            "explanation": list(f.explanation),
            "related": {k: list(v) for k, v in f.related.items()},
            "attributes": jsonable(dict(f.attributes)),
            "detector_version": f.detector_version,
        },
    }
    ev = _evidences(src, dst)
    if ev:
        doc["evidences"] = ev
    if start is not None and end is not None and end >= start:
        doc["duration"] = end - start
    return {k: v for k, v in doc.items() if v is not None}


def write_ocsf(findings: Iterable[Finding], fh: IO[str]) -> int:
    """Write findings as OCSF JSON lines to a text stream; returns how many were written."""
    return write_json_lines(findings, fh, finding_to_ocsf)
