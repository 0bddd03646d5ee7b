"""Indicator-of-compromise detector: events that touch a listed address, domain, URL or hash.

Per batch the columns of each kind are matched at once with
:class:`~threatml.intel.matcher.IndicatorMatcher`:

========  ==============================================================
flow      ``destination.ip`` (outbound: entity = ``source.ip``) and
alert     ``source.ip`` (inbound from a listed address: entity = that address)
dns       ``dns.question.name`` (domain), ``dns.answers`` (address or name)
http      ``url.domain`` (domain or address), ``url.original`` (URL; joined
          with the host when it is only a path), entity = ``source.ip``
tls       ``tls.client.server_name`` (domain), ``tls.client.ja3`` (MD5
          fingerprints, e.g. abuse.ch SSLBL), entity = ``source.ip``
========  ==============================================================

One incident per (entity, indicator): evidence = event ids, score = the
indicator's confidence after decay (:func:`~threatml.intel.indicators.decay`,
at the time of the first matching event) / 100. An incident is emitted once it
has been idle for ``idle_timeout`` seconds of event time or when more than
``max_open`` are open (oldest first); ``flush`` emits the rest. ATT&CK ids come
only from the indicator's tags (:data:`TAG_ATTACK`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.findings.schema import MAX_EVIDENCE
from threatml.errors import InputError, ReadReport
from threatml.intel.indicators import DEFAULT_HALF_LIFE_DAYS, IndicatorSet, decay, load_feeds
from threatml.intel.matcher import IndicatorMatcher, Matches

#: indicator tag -> ATT&CK technique (only what a tag really says)
TAG_ATTACK: dict[str, str] = {
    "c2": "T1071", "cc": "T1071", "botnet_cc": "T1071", "c&c": "T1071", "command-and-control": "T1071",
    "phishing": "T1566", "malware_download": "T1105", "payload_delivery": "T1105",
    "scanner": "T1595", "scan": "T1595", "bruteforce": "T1110", "brute-force": "T1110",
    "exfiltration": "T1041", "tor": "T1090.003", "proxy": "T1090", "miner": "T1496", "cryptomining": "T1496",
}

_MAX_VALUES = 20  # distinct matched values / peers kept per incident


def _capped_lists(hits: pd.DataFrame, keys: list[str], col: str, cap: int) -> list[list]:
    """Per group (in first-appearance order of ``keys``), the first ``cap`` distinct ``col`` values."""
    d = hits[keys + [col]].drop_duplicates()
    d = d.groupby(keys, sort=False).head(cap)
    codes = d.groupby(keys, sort=False).ngroup().to_numpy()
    vals = d[col].to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(codes.max(initial=-1) + 2))
    sorted_vals = vals[order].tolist()
    return [sorted_vals[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


@dataclass
class _Incident:
    start: float
    end: float
    seen: float  # latest event time, for idling out
    fields: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    peers: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)
    count: int = 0
    files: set[str] = field(default_factory=set)
    inbound: bool = False


class IntelDetector(Detector):
    """Findings for events that match loaded indicators of compromise.

    >>> import pandas as pd
    >>> from threatml.intel.indicators import IndicatorSet, classify
    >>> t, v, _ = classify(pd.Series(["203.0.113.9"]))
    >>> iocs = IndicatorSet(pd.DataFrame({"type": t, "value": v, "sources": "feodo.csv", "confidence": 80.0,
    ...     "first_seen": float("nan"), "valid_until": float("nan"), "tags": "c2", "description": ""}))
    >>> d = IntelDetector(iocs)
    >>> b = EventBatch.of("flow", pd.DataFrame({"event.id": ["a", "b"], "@timestamp": [1.0, 2.0],
    ...     "source.ip": ["10.0.0.5", "10.0.0.5"], "destination.ip": ["203.0.113.9", "203.0.113.9"]}))
    >>> _ = d.process(b); [(f.entity, f.evidence, f.attack) for f in d.flush()]
    [('10.0.0.5', ['a', 'b'], ['T1071'])]
    """

    name = "intel.ioc"
    version = "1"
    kinds = frozenset({"flow", "dns", "http", "tls", "alert"})

    def __init__(self, indicators: IndicatorSet, half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
                 min_score: float = 0.0, idle_timeout: float = 3600.0, max_open: int = 100_000,
                 fold_sources: int = 10):
        self.indicators = indicators
        # An exposed host is reached by many listed scanners; ``fold_sources`` or more of
        # them closing together against one host become one finding about that host.
        self.fold_sources = fold_sources
        self.matcher = IndicatorMatcher(indicators)
        self.half_life_days = half_life_days
        self.min_score = min_score
        self.idle_timeout = idle_timeout
        self.max_open = max_open
        f = indicators.frame
        self._conf = f["confidence"].to_numpy(dtype=float)
        self._first = f["first_seen"].to_numpy(dtype=float)
        self._open: dict[tuple[str, int], _Incident] = {}
        self._ready: list[Finding] = []  # closed early by the max_open bound
        self._clock = -np.inf

    # ------------------------------------------------------------------ contract

    def process(self, batch: EventBatch) -> list[Finding]:
        frame = batch.frame
        if not len(frame) or not len(self.indicators):
            return []
        hits = self._hits(batch.kind, frame)
        if len(hits):
            self._absorb(hits, frame, batch.source)
        ts = frame["@timestamp"].to_numpy(dtype=float)
        if np.isfinite(ts).any():
            self._clock = max(self._clock, float(np.nanmax(ts)))
        return self._close(idle_only=True)

    def flush(self) -> list[Finding]:
        return self._close(idle_only=False)

    # ------------------------------------------------------------------ matching

    def _hits(self, kind: str, frame: pd.DataFrame) -> pd.DataFrame:
        """All (row, indicator, field, entity, peer, inbound) hits of one batch."""
        m = self.matcher
        parts: list[pd.DataFrame] = []
        src, dst = frame["source.ip"], frame["destination.ip"]

        def add(matches: Matches, fld: str, values: pd.Series, entity: pd.Series, peer: pd.Series,
                inbound: bool = False, rows: np.ndarray | None = None) -> None:
            """``values`` is the matched column; ``rows`` maps its positions to frame rows."""
            if not len(matches):
                return
            r = matches.rows if rows is None else rows[matches.rows]
            parts.append(pd.DataFrame({
                "row": r, "ind": matches.indicators, "field": fld, "value": values.to_numpy()[matches.rows],
                "entity": entity.to_numpy()[r], "peer": peer.to_numpy()[r], "inbound": inbound}))

        if kind in ("flow", "alert"):
            add(m.match_ips(dst), "destination.ip", dst, src, dst)
            # inbound from a listed address: the listed address is the entity (the attacker)
            add(m.match_ips(src), "source.ip", src, src, dst, inbound=True)
        elif kind == "dns":
            q = frame["dns.question.name"]
            add(m.match_domains(q), "dns.question.name", q, src, q)
            ans = frame["dns.answers"]
            has = (ans != "").to_numpy()
            if has.any():
                exploded = ans[has].str.split(",").explode().str.strip()
                rows = exploded.index.to_numpy()  # frame has a RangeIndex (EventBatch.of conforms it)
                vals = exploded.reset_index(drop=True)
                add(m.match_ips(vals), "dns.answers", vals, src, q, rows=rows)
                add(m.match_domains(vals), "dns.answers", vals, src, q, rows=rows)
        elif kind == "http":
            host = frame["url.domain"]
            add(m.match_domains(host), "url.domain", host, src, dst)
            add(m.match_ips(host), "url.domain", host, src, dst)
            add(m.match_ips(dst), "destination.ip", dst, src, dst)
            orig = frame["url.original"]
            path_only = orig.str.startswith("/").to_numpy(dtype=bool)
            full = orig.where(~path_only, "http://" + host + orig)
            full = full.where(host.ne("").to_numpy() | ~path_only, "")
            add(m.match_urls(full), "url.original", full, src, dst)
        elif kind == "tls":
            sni = frame["tls.client.server_name"]
            add(m.match_domains(sni), "tls.client.server_name", sni, src, dst)
            ja3 = frame["tls.client.ja3"]
            add(m.match_hashes(ja3), "tls.client.ja3", ja3, src, dst)
            add(m.match_ips(dst), "destination.ip", dst, src, dst)
        if not parts:
            return pd.DataFrame()
        hits = pd.concat(parts, ignore_index=True)
        return hits[hits["entity"] != ""]

    def _absorb(self, hits: pd.DataFrame, frame: pd.DataFrame, source: str) -> None:
        """Fold one batch's hits into open incidents: aggregates per (entity, indicator)
        are computed with groupby, leaving one cheap dict update per incident."""
        rows = hits["row"].to_numpy()
        hits = hits.assign(ts=frame["@timestamp"].to_numpy(dtype=float)[rows], eid=frame["event.id"].to_numpy()[rows])
        keys = ["entity", "ind"]
        per_event = hits.drop_duplicates(keys + ["row"])
        g = per_event.groupby(keys, sort=False)
        summary = g.agg(lo=("ts", "min"), hi=("ts", "max"), n=("row", "size"), inbound=("inbound", "max"))
        fields = _capped_lists(hits, keys, "field", _MAX_VALUES)
        values = _capped_lists(hits, keys, "value", _MAX_VALUES)
        peers = _capped_lists(hits, keys, "peer", _MAX_VALUES)
        eids = _capped_lists(per_event, keys, "eid", MAX_EVIDENCE)
        for (entity, ind), lo, hi, n, inbound, fl, vl, pl, el in zip(
                summary.index, summary["lo"].to_numpy(), summary["hi"].to_numpy(), summary["n"].to_numpy(),
                summary["inbound"].to_numpy(), fields, values, peers, eids):
            key = (str(entity), int(ind))
            inc = self._open.get(key)
            if inc is None:
                if len(self._open) >= self.max_open:
                    self._evict_oldest()
                inc = self._open[key] = _Incident(start=lo, end=hi, seen=hi)
            else:
                inc.start, inc.end, inc.seen = np.fmin(inc.start, lo), np.fmax(inc.end, hi), np.fmax(inc.seen, hi)
            inc.fields.update(fl)
            inc.inbound = inc.inbound or bool(inbound)
            for bag, new in ((inc.values, vl), (inc.peers, pl)):
                if len(bag) < _MAX_VALUES:
                    bag.update(v for v in new[: _MAX_VALUES - len(bag)] if v)
            room = MAX_EVIDENCE - len(inc.evidence)
            if room > 0:
                inc.evidence.extend(str(e) for e in el[:room] if e != "")
            inc.count += int(n)
            if source:
                inc.files.add(source)

    # ------------------------------------------------------------------ output

    def _close(self, idle_only: bool) -> list[Finding]:
        if idle_only:
            done = [k for k, inc in self._open.items()
                    if np.isfinite(inc.seen) and inc.seen < self._clock - self.idle_timeout]
        else:
            done = list(self._open)
        out, self._ready = self._ready, []
        for key in done:
            f = self._finding(key, self._open.pop(key))
            if f is not None:
                out.append(f)
        return self._fold_inbound(out)

    def _fold_inbound(self, found: list[Finding]) -> list[Finding]:
        """Inbound findings from many listed sources against one host -> one finding about the host."""
        by_target: dict[str, list[Finding]] = {}
        out = []
        for f in found:
            peers = f.related.get("peers", [])
            if f.attributes.get("direction") == "inbound" and len(peers) == 1:
                by_target.setdefault(peers[0], []).append(f)
            else:
                out.append(f)
        for target, group in by_target.items():
            if not self.fold_sources or len({f.entity for f in group}) < self.fold_sources:
                out.extend(group)
                continue
            sources = sorted({f.entity for f in group})
            feeds = sorted({x for f in group for x in f.related.get("feeds", [])})
            events = sum(f.evidence_count for f in group)
            evidence = [e for f in group for e in f.evidence]
            out.append(Finding.make(
                detector=self.name, detector_version=self.version,
                title=f"Connections from {len(sources):,} listed addresses to {target}",
                start=min(f.start for f in group), end=max(f.end for f in group), entity=target,
                score=max(f.score for f in group), attack=sorted({t for f in group for t in f.attack}),
                evidence=evidence, evidence_count=events,
                explanation=[
                    f"{len(sources):,} addresses listed by threat-intelligence feeds connected in to {target} "
                    f"({events:,} events).",
                    f"Feeds: {', '.join(feeds[:5])}{' and more' if len(feeds) > 5 else ''}.",
                    "Typical of an exposed host probed from the internet; check whether any of them got an answer "
                    "beyond the handshake.",
                ],
                related={"sources": sources[:50], "feeds": feeds[:50]},
                source_files=sorted({x for f in group for x in f.source_files}),
                attributes={"direction": "inbound", "source_hosts": len(sources)},
            ))
        return out

    def _evict_oldest(self) -> None:
        """Close the least recently seen incident now (returned by the next process/flush)."""
        key = min(self._open, key=lambda k: self._open[k].seen if np.isfinite(self._open[k].seen) else -np.inf)
        f = self._finding(key, self._open.pop(key))
        if f is not None:
            self._ready.append(f)

    def _finding(self, key: tuple[str, int], inc: _Incident) -> Finding | None:
        entity, ind = key
        row = self.indicators.frame.iloc[ind]
        at = inc.start if np.isfinite(inc.start) else float("nan")
        conf = float(decay(np.array([self._conf[ind]]), np.array([self._first[ind]]),
                           at if np.isfinite(at) else np.nan, self.half_life_days)[0])
        if np.isnan(conf):  # no event time: no ageing to apply
            conf = float(self._conf[ind])
        score = conf / 100.0
        if score < self.min_score:
            return None
        tags = [t for t in str(row["tags"]).split(",") if t]
        attack = sorted({TAG_ATTACK[t] for t in tags if t in TAG_ATTACK})
        kind, value = str(row["type"]), str(row["value"])
        if inc.inbound:
            title = f"Connections from listed address {value}"
            first = f"{entity} is listed as {kind} indicator {value} and connected in to {', '.join(sorted(inc.peers)[:5])}."
        else:
            title = f"Contact with listed {kind} {value}"
            first = f"{entity} contacted {kind} indicator {value} ({inc.count:,} events)."
        expl = [
            first,
            f"Matched field(s): {', '.join(sorted(inc.fields))}; matched value(s): {', '.join(sorted(inc.values)[:5])}.",
            f"Listed by {row['sources']} with confidence {self._conf[ind]:.0f}"
            + (f", {conf:.0f} after ageing since first seen" if conf != self._conf[ind] else "") + ".",
        ]
        if tags:
            expl.append(f"Indicator tags: {', '.join(tags)}.")
        if row["description"]:
            expl.append(f"Feed note: {row['description']}.")
        start = inc.start if np.isfinite(inc.start) else 0.0
        end = inc.end if np.isfinite(inc.end) else start
        return Finding.make(
            detector=self.name, detector_version=self.version, title=title, start=start, end=end,
            entity=entity, score=score, attack=attack, evidence=inc.evidence, evidence_count=inc.count,
            explanation=expl,
            related={"indicator": [value], "peers": sorted(inc.peers)[:50], "feeds": str(row["sources"]).split(",")},
            source_files=sorted(inc.files),
            attributes={"indicator.type": kind, "indicator.value": value, "indicator.confidence": float(self._conf[ind]),
                        "indicator.tags": str(row["tags"]), "direction": "inbound" if inc.inbound else "outbound",
                        "matched_fields": ",".join(sorted(inc.fields))},
        )


def intel_detector(paths: list[str] | tuple[str, ...], now: float | None = None,
                   half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> tuple[IntelDetector, ReadReport]:
    """Load feed files/folders (``threatml scan --intel PATH``) into a detector.

    Returns the detector and the load report (indicators read, skipped per file
    and reason). Raises :class:`~threatml.errors.InputError` when nothing loads.
    """
    report = ReadReport()
    iocs = load_feeds(paths, now=now, report=report)
    if not len(iocs):
        why = "; ".join(m for _, m in report.errors) or "no valid indicators in the given feeds"
        raise InputError(", ".join(map(str, paths)), why)
    return IntelDetector(iocs, half_life_days=half_life_days), report
