"""Confirmed incidents out as threat intelligence: a STIX 2.1 bundle or a MISP event.

Both take the incident's :class:`~threatml.findings.Finding` objects and pull
out what others can match on (:func:`observables`):

* the entity of a ``host`` finding that acted (not one that names the sources
  acting on it), when it is an outside address;
* the indicator an ``intel.ioc`` finding matched (its ``indicator.type`` /
  ``indicator.value`` attributes);
* values under the ``related`` keys ``domain``, ``url``, ``file.sha256``,
  ``file.sha1``, ``file.md5``, ``sender``, ``destination.ip`` and ``source.ip``,
  and the entity of ``domain`` / ``url`` / ``file`` findings;
* addresses only outside :data:`INTERNAL_NETWORKS` (RFC 1918, CGNAT, loopback,
  link-local, multicast, ULA): internal hosts are the victims, not indicators.

STIX (:func:`to_stix_bundle`): one ``identity`` (ThreatML, the sighter), one
``indicator`` per observable (pattern, ``valid_from`` = first sighting,
confidence = highest finding score x 100, ATT&CK ids as ``external_references``),
one ``sighting`` per (finding, indicator) with the finding's time span and event
count, and a ``grouping`` naming the incident. Ids are UUIDv5 of their content,
so exporting the same incident twice gives the same ids. Built with ``stix2``,
so the bundle is valid STIX 2.1 without custom properties.

MISP (:func:`to_misp_event`): one event (info = the incident title, threat
level from the highest score, analysis "completed"), one ``to_ids`` attribute
per observable (``ip-dst``/``ip-src``, ``domain``, ``url``, ``md5``/``sha1``/``sha256``,
``email-src``) with a sighting per finding, a ``comment`` attribute per finding
(title and explanation, not for detection), ATT&CK ids as ``mitre-attack:T...``
tags. Built with ``pymisp``.

>>> from threatml.findings import Finding
>>> f = Finding.make(detector="intel.ioc", detector_version="1", title="Contact with listed ipv4 203.0.113.9",
...     start=1767225600.0, end=1767229200.0, entity="10.0.0.5", score=0.9, attack=["T1071"], evidence=["e1"],
...     attributes={"indicator.type": "ipv4", "indicator.value": "203.0.113.9", "direction": "outbound"})
>>> b = to_stix_bundle([f], incident_id="inc-1")
>>> sorted(o["type"] for o in b["objects"])
['grouping', 'identity', 'indicator', 'sighting']
>>> [a["type"] for a in to_misp_event([f])["Event"]["Attribute"]]
['ip-dst', 'comment']
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import NamedTuple

from threatml.findings import Finding
from threatml.intel.indicators import classify

#: namespace of the UUIDv5 ids this module gives STIX objects and MISP events
NAMESPACE = uuid.UUID("5c8a8a4e-2f0a-4c52-9a1f-6f1d0a7e11b7")
IDENTITY_NAME = "ThreatML"

#: related key -> family its values belong to (addresses are checked to be global)
RELATED_KEYS = {"domain": "domain", "url": "url", "file.sha256": "sha256", "file.sha1": "sha1", "file.md5": "md5",
                "sender": "email", "destination.ip": "ip", "source.ip": "ip"}
_FAMILY = {"ipv4": "ip", "ipv6": "ip", "cidr": "ip", "domain": "domain", "url": "url", "md5": "md5",
           "sha1": "sha1", "sha256": "sha256", "email": "email"}
_STIX_PATH = {"ipv4": "ipv4-addr:value", "ipv6": "ipv6-addr:value", "domain": "domain-name:value",
              "url": "url:value", "md5": "file:hashes.MD5", "sha1": "file:hashes.'SHA-1'",
              "sha256": "file:hashes.'SHA-256'", "email": "email-addr:value"}
_MISP_TYPE = {"domain": "domain", "url": "url", "md5": "md5", "sha1": "sha1", "sha256": "sha256", "email": "email-src"}
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


class Observable(NamedTuple):
    """One thing to share: normalised ``type`` (``ipv4``, ``cidr``, ``domain``, ...) and ``value``;
    ``inbound`` is True for an address that connected in (MISP ``ip-src``)."""

    type: str
    value: str
    inbound: bool = False


def observables(finding: Finding) -> list[Observable]:
    """What of one finding can be shared as an indicator (see the module docstring)."""
    raw: list[tuple[str, str, bool]] = []  # (value, expected family, inbound)
    attrs = finding.attributes
    inbound = attrs.get("direction") == "inbound"
    if attrs.get("indicator.value") and attrs.get("indicator.type") in _FAMILY:
        raw.append((str(attrs["indicator.value"]), _FAMILY[str(attrs["indicator.type"])], inbound))
    for key, fam in RELATED_KEYS.items():
        for v in finding.related.get(key, []):
            raw.append((str(v), fam, key == "source.ip"))
    if finding.entity_type in ("domain", "url", "file") and finding.entity:
        raw.append((finding.entity, "", False))
    # a host finding is about what the host did unless it names who acted on it; an
    # outside address that acted (scanned, guessed passwords) came in: ip-src
    if finding.entity_type == "host" and finding.entity and not any(
            finding.related.get(k) for k in ("sources", "source", "attackers", "attacker")):
        raw.append((finding.entity, "ip", True))
    if not raw:
        return []
    import pandas as pd

    types, values, _ = classify(pd.Series([r[0] for r in raw], dtype="str"))
    out: dict[tuple[str, str], Observable] = {}
    for (_, fam, inb), t, v in zip(raw, types, values):
        if not t or t not in _FAMILY or (fam and _FAMILY[t] != fam):
            continue
        if _FAMILY[t] == "ip" and not _is_global(v):
            continue
        key = (t, v)
        if key not in out or inb and not out[key].inbound:
            out[key] = Observable(t, v, inb)
    return list(out.values())


def stix_pattern(obs: Observable) -> str:
    """A STIX pattern for one observable (quotes and backslashes escaped).

    >>> stix_pattern(Observable("url", "http://evil.example/a'b"))
    "[url:value = 'http://evil.example/a\\\\'b']"
    """
    path = _STIX_PATH["ipv6" if obs.type == "cidr" and ":" in obs.value else
                      "ipv4" if obs.type == "cidr" else obs.type]
    value = obs.value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{path} = '{value}']"


def to_stix_bundle(findings: Iterable[Finding], incident_id: str | None = None, title: str | None = None,
                   now: datetime | None = None) -> dict:
    """STIX 2.1 bundle (dict) of identity, indicators, sightings and a grouping for one incident."""
    import stix2

    findings = list(findings)
    now = now or datetime.now(timezone.utc)
    identity = stix2.Identity(id=_sid("identity", IDENTITY_NAME), name=IDENTITY_NAME, identity_class="system",
                              created=_EPOCH0, modified=_EPOCH0,
                              description="ThreatML detection platform (the sighter of the exported sightings)")
    indicators: dict[tuple[str, str], dict] = {}
    per_finding: list[tuple[Finding, list[Observable]]] = []
    for f in findings:
        obs = observables(f)
        per_finding.append((f, obs))
        for o in obs:
            d = indicators.setdefault((o.type, o.value), {"obs": o, "start": f.start, "score": f.score,
                                                          "attack": set(), "titles": []})
            d["start"], d["score"] = min(d["start"], f.start), max(d["score"], f.score)
            d["attack"].update(a for a in f.attack if _TECHNIQUE.match(a))
            if f.title not in d["titles"]:
                d["titles"].append(f.title)
    objects: list = [identity]
    ind_ids: dict[tuple[str, str], str] = {}
    for key, d in indicators.items():
        o = d["obs"]
        ind = stix2.Indicator(
            id=_sid("indicator", f"{o.type}|{o.value}"), created_by_ref=identity.id, created=now, modified=now,
            name=f"{o.type} {o.value}", pattern=stix_pattern(o), pattern_type="stix", pattern_version="2.1",
            valid_from=_dt(d["start"]), indicator_types=["malicious-activity"],
            confidence=int(round(100 * d["score"])),
            description="Seen in a confirmed ThreatML incident: " + "; ".join(d["titles"][:5]),
            external_references=[{"source_name": "mitre-attack", "external_id": t,
                                  "url": f"https://attack.mitre.org/techniques/{t.replace('.', '/')}/"}
                                 for t in sorted(d["attack"])] or None,
        )
        ind_ids[key] = ind.id
        objects.append(ind)
    sightings = []
    for f, obs in per_finding:
        for o in obs:
            start, end = _dt(f.start), _dt(max(f.end, f.start))
            sightings.append(stix2.Sighting(
                id=_sid("sighting", f"{f.id}|{o.type}|{o.value}"), created_by_ref=identity.id, created=now,
                modified=now, sighting_of_ref=ind_ids[(o.type, o.value)], first_seen=start, last_seen=end,
                count=min(max(int(f.evidence_count), 1), 999_999_999), where_sighted_refs=[identity.id],
                description=f"{f.title} (entity {f.entity_type} {f.entity}; detector {f.detector}; "
                            f"severity {f.severity}, score {f.score:.2f})",
            ))
    objects.extend(sightings)
    if incident_id is not None or title is not None:
        refs = [o.id for o in objects[1:]] or [identity.id]
        objects.append(stix2.Grouping(
            id=_sid("grouping", str(incident_id or title)), created_by_ref=identity.id, created=now, modified=now,
            name=title or f"ThreatML incident {incident_id}", context="suspicious-activity", object_refs=refs,
            description=f"Confirmed incident {incident_id or ''} with {len(findings)} finding(s).".replace("  ", " "),
        ))
    bundle = stix2.Bundle(objects=objects, id=_sid("bundle", f"{incident_id}|{title}|{now.isoformat()}"))
    return json.loads(bundle.serialize())


def to_misp_event(findings: Iterable[Finding], incident_id: str | None = None, title: str | None = None,
                  now: datetime | None = None) -> dict:
    """MISP event JSON (``{"Event": {...}}``) for one incident."""
    from pymisp import MISPEvent

    findings = list(findings)
    now = now or datetime.now(timezone.utc)
    ev = MISPEvent()
    ev.uuid = str(uuid.uuid5(NAMESPACE, f"misp-event|{incident_id or title or now.isoformat()}"))
    ev.info = title or (f"ThreatML incident {incident_id}" if incident_id else "ThreatML incident")
    top = max((f.score for f in findings), default=0.0)
    ev.threat_level_id = 1 if top >= 0.7 else 2 if top >= 0.4 else 3
    ev.analysis = 2  # completed: the incident was confirmed
    ev.distribution = 0  # this organisation only; the analyst decides to share further
    first = min((f.start for f in findings), default=now.timestamp())
    ev.date = _dt(first).date()
    ev.add_tag("tlp:amber")
    for t in sorted({a for f in findings for a in f.attack if _TECHNIQUE.match(a)}):
        ev.add_tag(f"mitre-attack:{t}")
    attrs: dict[tuple[str, str], object] = {}
    for f in findings:
        for o in observables(f):
            key = (o.type, o.value)
            a = attrs.get(key)
            if a is None:
                mtype = ("ip-src" if o.inbound else "ip-dst") if o.type in ("ipv4", "ipv6", "cidr") else _MISP_TYPE[o.type]
                a = attrs[key] = ev.add_attribute(mtype, o.value, to_ids=True, comment=f.title[:250],
                                                  first_seen=_dt(f.start), last_seen=_dt(max(f.end, f.start)))
                for t in sorted(a_ for a_ in f.attack if _TECHNIQUE.match(a_)):
                    a.add_tag(f"mitre-attack:{t}")
            a.add_sighting({"type": "0", "source": IDENTITY_NAME, "date_sighting": int(max(f.end, f.start))})
    for f in findings:
        text = f"{f.title} [{f.detector}, {f.severity}, entity {f.entity_type} {f.entity}]: " + " ".join(f.explanation)
        ev.add_attribute("comment", text[:65_000], to_ids=False, disable_correlation=True,
                         comment=f"finding {f.id}")
    return {"Event": json.loads(ev.to_json())}


_EPOCH0 = datetime(2026, 1, 1, tzinfo=timezone.utc)  # fixed creation time: the identity never changes


def _sid(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}|{key}')}"


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), tz=timezone.utc)


#: address ranges of the reporting organisation's own hosts (never exported as indicators)
INTERNAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "fc00::/7", "fe80::/10", "::1/128", "::/128", "ff00::/8"))


def _is_global(value: str) -> bool:
    """Not one of :data:`INTERNAL_NETWORKS` (documentation ranges count as external, as in examples)."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return not any(net.version == n.version and net.subnet_of(n) for n in INTERNAL_NETWORKS)
