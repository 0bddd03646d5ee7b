"""Signature alerts from an IDS (Suricata EVE ``alert``/``anomaly``) as findings.

Raw IDS alerts repeat: one scanner trips the same rule thousands of times. This
detector folds them into one finding per source address and rule per incident
(alerts closer than ``gap`` seconds belong together), keeping the rule name,
category and targets, so the signature layer sits beside the models with the
same finding schema.

An exposed host also collects low-severity alerts (reputation lists, scanner
fingerprints) from hundreds of internet addresses, each firing once. When at
least ``fold_sources`` sources' incidents that close together are all
low-severity (Suricata severity 2 or lower) and aimed at one single target,
they become one finding about that target, with the sources in ``related``:
one thing for the analyst to look at instead of hundreds. Severity-1 alerts
are never folded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from threatml.detectors.base import Detector
from threatml.events import EventBatch
from threatml.findings import MAX_EVIDENCE, Finding

# Suricata severity 1 is the highest; anything else (anomaly events) is low.
_SEVERITY_SCORE = {1.0: 0.85, 2.0: 0.6, 3.0: 0.35, 4.0: 0.15}


@dataclass
class _Open:
    start: float
    end: float
    count: int = 0
    evidence: list = field(default_factory=list)
    targets: set = field(default_factory=set)
    score: float = 0.0
    name: str = ""
    category: str = ""
    files: set = field(default_factory=set)


class SignatureAlertDetector(Detector):
    """One finding per (source, rule) incident from IDS alert events.

    >>> import pandas as pd
    >>> from threatml.events import EventBatch
    >>> rows = pd.DataFrame({"@timestamp": [0.0, 5.0], "source.ip": ["1.2.3.4"] * 2,
    ...     "destination.ip": ["10.0.0.1", "10.0.0.2"], "rule.id": ["2001"] * 2,
    ...     "rule.name": ["ET SCAN x"] * 2, "event.severity": [2, 2], "event.id": ["a", "b"]})
    >>> det = SignatureAlertDetector()
    >>> found = det.process(EventBatch.of("alert", rows)) + det.flush()
    >>> [(f.entity, f.evidence_count, f.related["destinations"]) for f in found]
    [('1.2.3.4', 2, ['10.0.0.1', '10.0.0.2'])]
    """

    name = "network.signature"
    version = "2"
    kinds = frozenset({"alert"})

    def __init__(self, gap: float = 3600.0, max_open: int = 100_000, fold_sources: int = 10):
        self.gap = gap
        self.max_open = max_open
        self.fold_sources = fold_sources
        self._open: dict[tuple[str, str], _Open] = {}
        self._now = -np.inf

    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        if fr.empty:
            return []
        fr = fr.sort_values("@timestamp", kind="stable")
        sev = fr["event.severity"].map(_SEVERITY_SCORE).fillna(0.15).to_numpy()
        closed: list[tuple[tuple[str, str], _Open]] = []
        for (src, rid), idx in fr.groupby(["source.ip", "rule.id"], sort=False).indices.items():
            ts = fr["@timestamp"].to_numpy()[idx]
            ids = fr["event.id"].to_numpy()[idx]
            dst = fr["destination.ip"].to_numpy()[idx]
            key = (src, rid)
            # split this group's alerts into incidents on gaps larger than self.gap
            t_valid = np.where(np.isnan(ts), self._now if np.isfinite(self._now) else 0.0, ts)
            cuts = np.flatnonzero(np.diff(t_valid) > self.gap) + 1
            for part in np.split(np.arange(len(idx)), cuts):
                t0, t1 = float(t_valid[part[0]]), float(t_valid[part[-1]])
                cur = self._open.get(key)
                if cur is not None and t0 - cur.end > self.gap:
                    closed.append((key, cur))
                    cur = None
                if cur is None:
                    cur = self._open[key] = _Open(start=t0, end=t1)
                    cur.name = str(fr["rule.name"].iat[idx[0]])
                    cur.category = str(fr["rule.category"].iat[idx[0]])
                cur.end = max(cur.end, t1)
                cur.count += len(part)
                room = MAX_EVIDENCE - len(cur.evidence)
                if room > 0:
                    cur.evidence.extend(ids[part[:room]].tolist())
                if len(cur.targets) < 1000:
                    cur.targets.update(dst[part].tolist())
                cur.score = max(cur.score, float(sev[idx[part]].max()))
                cur.files.add(batch.source)
        self._now = max(self._now, float(np.nanmax(fr["@timestamp"].to_numpy())) if fr["@timestamp"].notna().any() else self._now)
        return self._close(closed + self._expire())

    def _expire(self) -> list[tuple[tuple[str, str], _Open]]:
        stale = [k for k, v in self._open.items() if self._now - v.end > self.gap]
        if len(self._open) - len(stale) > self.max_open:  # bound memory: close the oldest
            rest = sorted((k for k in self._open if k not in set(stale)), key=lambda k: self._open[k].end)
            stale += rest[: len(self._open) - len(stale) - self.max_open]
        return [(k, self._open.pop(k)) for k in stale]

    def flush(self) -> list[Finding]:
        closing = list(self._open.items())
        self._open.clear()
        return self._close(closing)

    def _close(self, closing: list[tuple[tuple[str, str], _Open]]) -> list[Finding]:
        """Findings for incidents that close now, folding low-severity noise per target."""
        by_target: dict[str, list[tuple[tuple[str, str], _Open]]] = {}
        out = []
        for key, inc in closing:
            targets = [t for t in inc.targets if t]
            if inc.score < _SEVERITY_SCORE[1.0] and len(targets) == 1:
                by_target.setdefault(targets[0], []).append((key, inc))
            else:
                out.append(self._finding(key, inc))
        for target, group in by_target.items():
            sources = {src for (src, _), _ in group}
            if self.fold_sources and len(sources) >= self.fold_sources:
                out.append(self._folded(target, group))
            else:
                out.extend(self._finding(k, v) for k, v in group)
        return out

    def _folded(self, target: str, group: list[tuple[tuple[str, str], _Open]]) -> Finding:
        alerts = sum(inc.count for _, inc in group)
        sources = sorted({src for (src, _), _ in group})
        rules: dict[str, int] = {}
        for (_, rid), inc in group:
            rules[inc.name or rid] = rules.get(inc.name or rid, 0) + inc.count
        top = sorted(rules.items(), key=lambda kv: -kv[1])
        named = ", ".join(f"'{name}' ({n:,})" for name, n in top[:3]) + (f" and {len(top) - 3} more rules" if len(top) > 3 else "")
        evidence: list[str] = []
        for _, inc in group:
            evidence.extend(inc.evidence[: MAX_EVIDENCE - len(evidence)])
        return Finding.make(
            detector=self.name,
            detector_version=self.version,
            title=f"IDS alerts from {len(sources):,} sources against {target}",
            start=min(inc.start for _, inc in group),
            end=max(inc.end for _, inc in group),
            entity=target,
            score=max(inc.score for _, inc in group),
            evidence=evidence,
            evidence_count=alerts,
            explanation=[
                f"{alerts:,} low-severity IDS alerts from {len(sources):,} source addresses, all aimed at {target}.",
                f"Rules: {named}.",
                "Typical of an exposed host probed from the internet; each source alone fired only a few alerts.",
            ],
            related={"sources": sources[:50], "rule": [rid for (_, rid), _ in group][:50]},
            source_files=sorted({f for _, inc in group for f in inc.files if f}),
            attributes={"alerts": alerts, "source_hosts": len(sources), "rules": len(top)},
        )

    def _finding(self, key: tuple[str, str], o: _Open) -> Finding:
        src, rid = key
        targets = sorted(t for t in o.targets if t)
        few = ", ".join(targets[:3]) + (f" and {len(targets) - 3} more" if len(targets) > 3 else "")
        expl = [f"IDS rule {rid} '{o.name}' fired {o.count:,} times for {src}" + (f" against {few}." if few else ".")]
        if o.category:
            expl.append(f"Rule category: {o.category}.")
        return Finding.make(
            detector=self.name,
            detector_version=self.version,
            title=o.name or f"IDS rule {rid}",
            start=o.start,
            end=o.end,
            entity=src,
            score=o.score,
            evidence=o.evidence,
            evidence_count=o.count,
            explanation=expl,
            related={"destinations": targets[:50], "rule": [rid]},
            source_files=sorted(f for f in o.files if f),
            attributes={"alerts": o.count, "rule.category": o.category},
        )
