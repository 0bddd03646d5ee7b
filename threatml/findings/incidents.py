"""Incidents: findings about the same entity, close in time, told as one story.

Detectors each see one behaviour; an analyst wants "10.0.0.5 scanned, then
brute-forced SSH, then started beaconing". :func:`group_incidents` merges the
findings about one entity whose time spans lie within ``gap_seconds`` of each
other, scores the incident from the independent detectors that agree, and
ranks the incidents.

Rules (also in docs/outputs.md):

* **Entity.** A finding joins the incidents of its ``(entity_type, entity)``.
  Denial-of-service findings (ATT&CK T1498/T1499) are grouped under their
  *victim*: a finding whose ``related`` lists ``sources`` already has the
  victim as its entity (``network.dos``); one about an attacker (e.g. the flow
  model) whose ``related`` names exactly one victim/target/destination is keyed
  on that address; otherwise the finding's own entity is the key. Findings are not
  chained through other ``related`` entities: one scanner touching a thousand
  hosts would otherwise glue unrelated incidents together.
* **Time.** Findings sorted by start merge while ``start <= incident end +
  gap_seconds``.
* **Across domains.** Entity incidents that share an *identity link* and lie
  within ``link_seconds`` of each other merge into one incident: a phishing
  mail to ``alice@corp.example``, then a logon by ``alice`` from a rare
  address, then beaconing from the host she logged on to tell one story. Links
  are the finding's own entity plus the ``related`` values under
  :data:`LINK_KEYS` (user, host, mailbox, source.ip ...), and a mailbox links to
  the user named by its local part. A ``related`` list with more than
  :data:`MAX_LINK_VALUES` values describes a broad campaign, not an identity,
  and links nothing (the scanner-touching-a-thousand-hosts rule again).
  The merged incident is about the entity of its strongest member and lists
  every entity in ``entities``.
* **Story.** Techniques are listed in kill-chain order of their ATT&CK
  tactics (reconnaissance first, impact last); ``tactics`` names them.
* **Score.** The best score per detector, combined as independent evidence:
  ``1 - prod(1 - s_d)``. The combination alone is capped at
  :data:`COMBINED_CAP` (0.99) so that agreement of several weak signals never
  reads as certainty; a single finding that is already above the cap keeps its
  own score.
* **Severity.** The highest finding severity, raised one level (up to
  critical) when :data:`AGREEMENT_DETECTORS` (3) or more distinct detectors
  with at least ``low`` severity agree.
* **Rank.** Score, then severity, then earliest start (descending, descending,
  ascending).

Sorting dominates: O(n log n) for n findings.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from threatml.findings.schema import SEVERITY_RANK, Finding, Severity
from threatml.findings.attack import activity, is_denial_of_service, tactic_rank, technique

#: upper bound of the combined (noisy-OR) score of several detectors
COMBINED_CAP = 0.99
#: distinct agreeing detectors that raise severity one level
AGREEMENT_DETECTORS = 3
#: related entities kept per key on an incident
MAX_RELATED = 50
#: ``related`` keys that name the same actor or asset in another domain -> entity type
LINK_KEYS: dict[str, str] = {
    "user": "user", "users": "user", "user.name": "user", "account": "user",
    "host": "host", "host.name": "host", "source.ip": "host", "client": "host",
    "mailbox": "mailbox", "recipient": "mailbox", "recipients": "mailbox",
}
#: a related list longer than this is a campaign's reach, not an identity link
MAX_LINK_VALUES = 3

_SEVERITIES: list[Severity] = ["info", "low", "medium", "high", "critical"]
_VICTIM_KEYS = ("victim", "victims", "target", "targets", "destination", "destinations")
_ACTOR_KEYS = ("sources", "source", "attackers", "attacker")


class Incident(BaseModel):
    """Findings about one entity close in time, ranked and summarised for an analyst."""

    id: str
    entity_type: str
    entity: str
    start: float = Field(description="earliest finding start, epoch seconds")
    end: float = Field(description="latest finding end, epoch seconds")
    score: float = Field(ge=0.0, le=1.0)
    severity: Severity
    detectors: list[str] = Field(default_factory=list, description="distinct detectors, in order of first finding")
    attack: list[str] = Field(default_factory=list, description="union of ATT&CK technique ids, in order of first use")
    finding_ids: list[str] = Field(default_factory=list, description="member findings, by start time")
    title: str
    tactics: list[str] = Field(default_factory=list, description="ATT&CK tactic names, in kill-chain order")
    entities: list[str] = Field(default_factory=list, description="every entity as type:value, merged across domains")
    summary: list[str] = Field(default_factory=list, description="sentences for an analyst, most important first")
    role: str = Field("source", description="source, victim or mixed: how the entity takes part")
    related: dict[str, list[str]] = Field(default_factory=dict)
    evidence_count: int = 0


def group_incidents(findings: list[Finding], gap_seconds: float = 3600.0,
                    link_seconds: float = 86400.0) -> list[Incident]:
    """Group findings into ranked incidents (see the module docstring for the rules).

    >>> mk = lambda det, t, s: Finding.make(detector=det, detector_version="1", title=det,
    ...     start=t, end=t + 60, entity="10.0.0.5", score=s, attack=[])
    >>> inc = group_incidents([mk("a", 0, 0.5), mk("b", 600, 0.5), mk("c", 90000, 0.2)])
    >>> [(len(i.finding_ids), round(i.score, 2)) for i in inc]
    [(2, 0.75), (1, 0.2)]
    """
    if not findings:
        return []
    keyed = [(_group_key(f), _start(f), i) for i, f in enumerate(findings)]
    keyed.sort(key=lambda k: (k[0][0], k[0][1], k[1], k[2]))

    # 1. per entity, split by time gaps
    groups: list[tuple[tuple[str, str], list[int], list[bool]]] = []
    cur: tuple[str, str] | None = None
    cur_end = -math.inf
    for (etype, ent, victim), start, i in keyed:
        if (etype, ent) != cur or start > cur_end + gap_seconds:
            groups.append(((etype, ent), [], []))
            cur_end = -math.inf
        cur = (etype, ent)
        groups[-1][1].append(i)
        groups[-1][2].append(victim)
        cur_end = max(cur_end, _end(findings[i]))

    # 2. across domains: merge groups that share an identity link and are close in time
    parent = list(range(len(groups)))

    def root(g: int) -> int:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    spans = [(min(_start(findings[i]) for i in m), max(_end(findings[i]) for i in m)) for _, m, _ in groups]
    by_link: dict[tuple[str, str], list[int]] = {}
    for g, (key, members, _) in enumerate(groups):
        for link in _links(key, [findings[i] for i in members]):
            by_link.setdefault(link, []).append(g)
    for gs in by_link.values():
        # only groups of *other* entities join through a link; one entity's own
        # episodes stay apart when the time gap separates them
        gs.sort(key=lambda g: spans[g][0])
        latest: dict[tuple[str, str], tuple[float, int]] = {}  # entity -> (end, group) of its latest episode
        for g in gs:
            start, end = spans[g]
            for key, (other_end, other) in latest.items():
                if key != groups[g][0] and start <= other_end + link_seconds:
                    parent[root(g)] = root(other)
            prev = latest.get(groups[g][0])
            if prev is None or end >= prev[0]:
                latest[groups[g][0]] = (end, g)

    merged: dict[int, list[int]] = {}
    for g in range(len(groups)):
        merged.setdefault(root(g), []).append(g)
    incidents = []
    for gs in merged.values():
        if len(gs) == 1:
            key, members, victim = groups[gs[0]]
            incidents.append(_build(key, [findings[j] for j in members], victim))
            continue
        # about the strongest member group's entity; every entity is listed
        lead = max(gs, key=lambda g: (max(findings[i].score for i in groups[g][1]), -spans[g][0]))
        members = [i for g in gs for i in groups[g][1]]
        victim = [v if g == lead else False for g in gs for v in groups[g][2]]
        incidents.append(_build(groups[lead][0], [findings[j] for j in members], victim,
                                entities=[f"{groups[g][0][0]}:{groups[g][0][1]}" for g in gs]))

    incidents.sort(key=lambda x: (-x.score, -SEVERITY_RANK[x.severity], x.start, x.id))
    return incidents


def combined_score(best_per_detector: list[float]) -> float:
    """Noisy-OR of independent detectors' scores, capped (see :data:`COMBINED_CAP`).

    >>> round(combined_score([0.5, 0.5]), 2), combined_score([0.999]), combined_score([0.9, 0.9, 0.9])
    (0.75, 0.999, 0.99)
    """
    if not best_per_detector:
        return 0.0
    miss = 1.0
    for s in best_per_detector:
        miss *= 1.0 - min(1.0, max(0.0, s))
    best = max(best_per_detector)
    return float(min(1.0, max(best, min(COMBINED_CAP, 1.0 - miss))))


# --- helpers -----------------------------------------------------------------


def _start(f: Finding) -> float:
    if math.isfinite(f.start):
        return f.start
    return f.end if math.isfinite(f.end) else 0.0


def _end(f: Finding) -> float:
    return f.end if math.isfinite(f.end) else _start(f)


def _acts_on_entity(f: Finding) -> bool:
    """True when ``related`` names who acted on the entity (it is then the target, e.g. of a flood)."""
    return any(f.related.get(k) for k in _ACTOR_KEYS)


def _group_key(f: Finding) -> tuple[str, str, bool]:
    """(entity type, entity, entity-is-the-target) for one finding."""
    if is_denial_of_service(f.attack) and not _acts_on_entity(f):
        for k in _VICTIM_KEYS:
            vals = [v for v in f.related.get(k, []) if v]
            if len(set(vals)) == 1:
                return ("host", vals[0], True)
    return (f.entity_type, f.entity, _acts_on_entity(f))


def _links(key: tuple[str, str], members: list[Finding]) -> set[tuple[str, str]]:
    """Identity links of an entity group: its own entity and narrow ``related`` identities."""
    out = {key}
    for f in members:
        for k, vals in f.related.items():
            etype = LINK_KEYS.get(k)
            if etype is None:
                continue
            vals = [str(v).lower() for v in vals if v]
            if 0 < len(set(vals)) <= MAX_LINK_VALUES:
                out.update((etype, v) for v in vals)
    for etype, v in list(out):
        if etype == "mailbox" and "@" in v:
            out.add(("user", v.split("@", 1)[0]))
    return {(t, v.lower()) if t in ("user", "mailbox") else (t, v) for t, v in out}


def _build(key: tuple[str, str] | None, group: list[Finding], victim: list[bool],
           entities: list[str] | None = None) -> Incident:
    assert key is not None
    etype, entity = key
    order = sorted(range(len(group)), key=lambda i: (_start(group[i]), group[i].detector))
    group = [group[i] for i in order]
    victim = [victim[i] for i in order]

    best: dict[str, float] = {}
    agreeing: set[str] = set()
    attack: dict[str, None] = {}  # first use order; re-ordered by tactic below
    related: dict[str, dict[str, None]] = {}
    for f in group:
        best[f.detector] = max(best.get(f.detector, 0.0), f.score)
        if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["low"]:
            agreeing.add(f.detector)
        for t in f.attack:
            attack.setdefault(t, None)
        for k, vals in f.related.items():
            bucket = related.setdefault(k, {})
            for v in vals:
                if len(bucket) >= MAX_RELATED:
                    break
                if v and v != entity:
                    bucket.setdefault(v, None)

    sev_rank = max(SEVERITY_RANK[f.severity] for f in group)
    bumped = len(agreeing) >= AGREEMENT_DETECTORS and sev_rank < SEVERITY_RANK["critical"]
    if bumped:
        sev_rank += 1
    role = "victim" if all(victim) else ("source" if not any(victim) else "mixed")
    ids = [f.id for f in group]
    inc_id = hashlib.sha1("|".join(sorted(ids)).encode()).hexdigest()[:16]
    start = min(_start(f) for f in group)
    end = max(_end(f) for f in group)
    score = combined_score(list(best.values()))
    title = _title(group, etype, entity, role)
    order = {t: i for i, t in enumerate(attack)}
    techniques = sorted(attack, key=lambda t: (tactic_rank(t), order[t]))
    tactics = list(dict.fromkeys(tn for tn in (technique(t).tactic_name for t in techniques) if tn))
    return Incident(
        id=inc_id,
        entity_type=etype,
        entity=entity,
        start=start,
        end=end,
        score=score,
        severity=_SEVERITIES[sev_rank],
        detectors=list(best),
        attack=techniques,
        finding_ids=ids,
        title=title,
        tactics=tactics,
        entities=entities or [f"{etype}:{entity}"],
        summary=_summary(group, entity, role, start, end, len(agreeing) if bumped else 0, entities or [], tactics),
        role=role,
        related={k: list(v) for k, v in related.items() if v},
        evidence_count=sum(max(f.evidence_count, len(f.evidence)) for f in group),
    )


def _activity_of(f: Finding) -> str:
    """What the finding is about, as a short lower-case phrase."""
    for t in f.attack:
        phrase = activity(t)
        if phrase:
            return phrase
    family = f.attributes.get("family")
    if isinstance(family, str) and family:  # a model's finding without a known technique
        return f"{family} flows (flow model)" if family != "malicious" else "malicious flows (flow model)"
    tokens = re.split(r"[._\-]", f.detector.lower())
    for prefix, phrase in (
        ("portscan", "port scan"), ("scan", "port scan"), ("brute", "brute force"), ("beacon", "C2 beaconing"),
        ("exfil", "data exfiltration"), ("dos", "denial of service"), ("ddos", "denial of service"),
        ("signature", "IDS alerts"), ("anomal", "anomalous flows"), ("baseline", "anomalous flows"),
    ):
        if any(t.startswith(prefix) for t in tokens):
            return phrase
    # unknown detector: its title, without the entity it names
    title = f.title.replace(f.entity, "").strip()
    for tail in (" from", " on", " against", " by", " for", " to", " at", ":"):
        if title.endswith(tail):
            title = title[: -len(tail)].strip()
    return title or f.detector


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _title(group: list[Finding], entity_type: str, entity: str, role: str) -> str:
    phrases = list(dict.fromkeys(_activity_of(f) for f in group))
    shown = phrases[:3]
    if len(phrases) > 3:
        shown = phrases[:3] + [f"{len(phrases) - 3} more"]
    what = _join(shown)
    what = what[:1].upper() + what[1:]
    if entity_type != "host":
        prep = "for"  # users, mailboxes, files: who did what to whom is not known in general
    else:
        prep = {"victim": "against", "source": "from", "mixed": "involving"}[role]
    return f"{what} {prep} {entity}"


def utc_text(t: float, missing: str | None = None) -> str:
    """``YYYY-mm-dd HH:MM:SS`` (UTC) of epoch seconds; ``missing`` (default: the number) when ``t`` is no time.

    >>> utc_text(0.0), utc_text(float("nan"), "?")
    ('1970-01-01 00:00:00', '?')
    """
    try:
        return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(t) if missing is None else missing


def duration_text(seconds: float) -> str:
    """Human duration: ``"45 s"``, ``"12 min"``, ``"3.5 h"``, ``"2.1 d"``.

    >>> duration_text(30), duration_text(720), duration_text(12600)
    ('30 s', '12 min', '3.5 h')
    """
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _summary(group: list[Finding], entity: str, role: str, start: float, end: float, agreeing: int,
             entities: list[str], tactics: list[str]) -> list[str]:
    dets = list(dict.fromkeys(f.detector for f in group))
    lead = (
        f"{len(group)} finding{'s' if len(group) != 1 else ''} from {len(dets)} detector{'s' if len(dets) != 1 else ''} "
        f"about {entity} between {utc_text(start)} and {utc_text(end)} UTC ({duration_text(end - start)})."
    )
    out = [lead]
    if role == "victim":
        out.append(f"{entity} is the target: the findings name the sources that acted on it.")
    elif role == "mixed":
        out.append(f"{entity} is both a source of activity and a target in these findings.")
    if len(entities) > 1:
        out.append(f"Joined across {len(entities)} linked entities: {_join(entities[:6])}"
                   + (f" and {len(entities) - 6} more" if len(entities) > 6 else "") + ".")
    if len(tactics) > 1:
        out.append("Kill chain: " + " → ".join(tactics) + ".")
    if agreeing:
        out.append(f"Severity raised one level: {agreeing} independent detectors agree.")
    ranked = sorted(group, key=lambda f: -f.score)
    top = ranked[0]
    first = f" {top.explanation[0].rstrip('.')}." if top.explanation else ""
    out.append(f"Strongest signal: {top.detector} (score {top.score:.2f}), {top.title.rstrip('.')}.{first}")
    others: dict[str, float] = {}
    for f in ranked[1:]:
        if f.detector != top.detector:
            others.setdefault(f.detector, f.score)
    if others:
        out.append("Also seen by " + _join([f"{d} ({s:.2f})" for d, s in others.items()]) + ".")
    return out
