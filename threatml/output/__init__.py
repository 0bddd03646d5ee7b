"""Every way findings leave ThreatML: terminal, ECS and OCSF JSON lines, the HTML report.

Shared helpers for the exporters live here: UTC time formatting, the
severity scale as numbers, JSON-safe values and which addresses a finding
names as source and destination.
"""

from __future__ import annotations

import ipaddress
import json
import math
from functools import lru_cache
from datetime import datetime, timezone
from typing import IO, Any, Callable, Iterable

from threatml.findings.schema import Finding

#: our severity as a 1-5 number (OCSF severity_id; ECS event.severity uses the same)
SEVERITY_NUMBER: dict[str, int] = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

# related keys that name the other side of what the entity did
_PEER_KEYS = ("destinations", "destination", "targets", "target", "victims", "victim")
# related keys that name who acted on the entity (the entity is then the victim)
_ACTOR_KEYS = ("sources", "source", "attackers", "attacker", "clients")


def iso_utc(t: float) -> str | None:
    """Epoch seconds -> ``2024-01-02T03:04:05.678Z`` (None when unknown).

    >>> iso_utc(0.5)
    '1970-01-01T00:00:00.500Z'
    """
    if t is None or not math.isfinite(t):
        return None
    try:
        d = datetime.fromtimestamp(t, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


@lru_cache(maxsize=1 << 16)
def is_ip(value: str) -> bool:
    """True for a valid IPv4/IPv6 address (cached: the same addresses recur in every finding)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def jsonable(obj: Any) -> Any:
    """Non-finite floats (not valid JSON) become None, recursively.

    Only free-form values (``attributes``) need this; everything else a
    finding holds is a string, a bounded score or a list of strings.
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def endpoints(f: Finding) -> tuple[list[str], list[str]]:
    """(source addresses, destination addresses) a network finding names.

    The entity is the source unless ``related`` lists sources/attackers, in
    which case it is the destination (e.g. the victim of a flood). Only valid
    IP addresses are returned.

    >>> f = Finding.make(detector="d", detector_version="1", title="t", start=0, end=1,
    ...     entity="10.0.0.5", score=0.5, related={"destinations": ["10.0.0.9", "x"]})
    >>> endpoints(f)
    (['10.0.0.5'], ['10.0.0.9'])
    """
    ent = [f.entity] if f.entity_type == "host" and is_ip(f.entity) else []
    actors = [v for k in _ACTOR_KEYS for v in f.related.get(k, []) if is_ip(v)]
    if actors:
        return list(dict.fromkeys(actors)), ent
    peers = [v for k in _PEER_KEYS for v in f.related.get(k, []) if is_ip(v)]
    return ent, list(dict.fromkeys(peers))


def related_ips(f: Finding, limit: int = 100) -> list[str]:
    """Every valid IP address in the entity and ``related`` (entity first), capped."""
    vals = [f.entity] + [v for vs in f.related.values() for v in vs]
    return [v for v in dict.fromkeys(vals) if is_ip(v)][:limit]


def message(f: Finding) -> str:
    """Title and explanation as one line."""
    text = f.title.rstrip(".") + "."
    if f.explanation:
        text += " " + " ".join(s if s.endswith((".", "!", "?")) else s + "." for s in f.explanation)
    return text


def write_json_lines(findings: Iterable[Finding], fh: IO[str], convert: Callable[[Finding], dict]) -> int:
    """Write ``convert(finding)`` as one compact JSON line each; returns how many were written."""
    n = 0
    for f in findings:
        fh.write(json.dumps(convert(f), allow_nan=False, separators=(",", ":")) + "\n")
        n += 1
    return n
