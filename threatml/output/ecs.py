"""Findings as Elastic Common Schema (ECS 8.x) alerts, one JSON document per line.

Nested objects (``{"event": {"kind": ...}}``), as Elastic ingests them.
ThreatML-specific values (score, evidence ids, explanation, detector version)
live under the custom ``threatml.*`` field set.

>>> from threatml.findings import Finding
>>> f = Finding.make(detector="network.portscan", detector_version="1", title="Port scan from 10.0.0.5",
...     start=0, end=60, entity="10.0.0.5", score=0.8, attack=["T1046"])
>>> doc = finding_to_ecs(f)
>>> doc["event"]["kind"], doc["threat"]["technique"]["name"], doc["source"]["ip"]
('alert', ['Network Service Discovery'], '10.0.0.5')
"""

from __future__ import annotations

from typing import IO, Iterable

from threatml.findings.schema import Finding
from threatml.output import (
    SEVERITY_NUMBER,
    endpoints,
    iso_utc,
    jsonable,
    message,
    related_ips,
    write_json_lines,
)
from threatml.findings.attack import technique

ECS_VERSION = "8.11.0"


def _threat(attack: list[str]) -> dict | None:
    """ECS threat.*: parent techniques in technique.*, sub-techniques in technique.subtechnique.*."""
    if not attack:
        return None
    tech: dict[str, list] = {"id": [], "name": [], "reference": []}
    sub: dict[str, list] = {"id": [], "name": [], "reference": []}
    tactic: dict[str, list] = {"id": [], "name": [], "reference": []}
    for tid in dict.fromkeys(attack):
        t = technique(tid)
        parent = technique(t.parent) if t.parent else t
        if parent.id not in tech["id"]:
            tech["id"].append(parent.id)
            tech["reference"].append(parent.reference)
            if parent.name:
                tech["name"].append(parent.name)
        if t.parent:
            sub["id"].append(t.id)
            sub["reference"].append(t.reference)
            if t.name:
                sub["name"].append(t.name)
        if t.tactic_id and t.tactic_id not in tactic["id"]:
            tactic["id"].append(t.tactic_id)
            tactic["name"].append(t.tactic_name)
            tactic["reference"].append(f"https://attack.mitre.org/tactics/{t.tactic_id}/")
    out: dict = {"framework": "MITRE ATT&CK", "technique": {k: v for k, v in tech.items() if v}}
    if sub["id"]:
        out["technique"]["subtechnique"] = {k: v for k, v in sub.items() if v}
    if tactic["id"]:
        out["tactic"] = tactic
    return out


def _entity_fields(f: Finding) -> dict:
    """source/destination/host/user/... fields that locate the finding's entity."""
    out: dict = {}
    if f.entity_type == "host":
        src, dst = endpoints(f)
        if len(src) == 1:
            out["source"] = {"ip": src[0]}
        if len(dst) == 1:
            out["destination"] = {"ip": dst[0]}
        if f.entity in src or f.entity in dst:
            out["host"] = {"ip": [f.entity]}
        elif f.entity:
            out["host"] = {"name": f.entity}
    elif f.entity_type == "user":
        out["user"] = {"name": f.entity}
    elif f.entity_type == "mailbox":
        out["email"] = {"to": {"address": [f.entity]}}
    elif f.entity_type == "domain":
        out["destination"] = {"domain": f.entity}
    elif f.entity_type == "url":
        out["url"] = {"original": f.entity}
    elif f.entity_type == "file":
        h = f.entity.lower()
        kind = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(h))
        is_hex = all(c in "0123456789abcdef" for c in h)
        out["file"] = {"hash": {kind: h}} if kind and is_hex else {"name": f.entity}
    return out


def finding_to_ecs(f: Finding) -> dict:
    """One finding as an ECS alert document (plain dict, JSON-ready)."""
    start, end = iso_utc(f.start), iso_utc(f.end)
    duration_ns = int(round((f.end - f.start) * 1e9)) if start and end and f.end >= f.start else None
    event = {
        "kind": "alert",
        "category": ["intrusion_detection", "network"] if f.detector.startswith("network.") else ["intrusion_detection"],
        "type": ["info"],
        "id": f.id,
        "module": "threatml",
        "dataset": "threatml.finding",
        "provider": f.detector,
        "severity": SEVERITY_NUMBER[f.severity],
        "risk_score": round(f.score * 100, 1),
        "risk_score_norm": round(f.score * 100, 1),
        "start": start,
        "end": end,
        "duration": duration_ns,
        "reason": f.explanation[0] if f.explanation else f.title,
    }
    doc: dict = {
        "@timestamp": start or end,
        "ecs": {"version": ECS_VERSION},
        "event": {k: v for k, v in event.items() if v is not None},
        "rule": {"id": f.detector, "name": f.detector, "version": f.detector_version, "ruleset": "threatml",
                 "description": f.title},
        "message": message(f),
        "labels": {"severity": f.severity, "entity_type": f.entity_type},
        "tags": ["threatml", f.detector, f"severity:{f.severity}"],
    }
    threat = _threat(f.attack)
    if threat:
        doc["threat"] = threat
    doc.update(_entity_fields(f))
    ips = related_ips(f)
    rel: dict = {}
    if ips:
        rel["ip"] = ips
    if f.entity_type == "user":
        rel["user"] = [f.entity]
    if f.entity_type == "file" and "hash" in doc.get("file", {}):
        rel["hash"] = [f.entity.lower()]
    if rel:
        doc["related"] = rel
    doc["threatml"] = {
        "finding_id": f.id,
        "entity": f.entity,
        "entity_type": f.entity_type,
        "score": f.score,
        "severity": f.severity,
        "detector": {"name": f.detector, "version": f.detector_version},
        "evidence": {"ids": list(f.evidence), "count": max(f.evidence_count, len(f.evidence))},
        "explanation": list(f.explanation),
        "related": {k: list(v) for k, v in f.related.items()},
        "attributes": jsonable(dict(f.attributes)),
        "source_files": list(f.source_files),
    }
    return doc


def write_ecs(findings: Iterable[Finding], fh: IO[str]) -> int:
    """Write findings as ECS JSON lines to a text stream; returns how many were written."""
    return write_json_lines(findings, fh, finding_to_ecs)
