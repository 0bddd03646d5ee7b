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
auth      ``source.ip`` (logon from a listed address), entity = the user
          (``user.name``; else ``host.name``)
process   ``process.hash.sha256``, ``destination.ip``, entity = ``host.name``
file      ``file.hash.md5`` / ``sha1`` / ``sha256``, entity = the file
email     ``email.from.address``, ``email.reply_to.address``,
          ``email.return_path`` (addresses) and the URLs of ``email.urls`` /
          ``url.original`` (whitespace/comma separated; URL and its host),
          entity = the first recipient mailbox
activity  ``url.original`` (URL and its host), entity = ``user.name``
========  ==============================================================

One incident per (entity, indicator): evidence = event ids, score = the
indicator's confidence after decay (:func:`~threatml.intel.indicators.decay`,
at the time of the first matching event) / 100. An incident is emitted once it
has been idle for ``idle_timeout`` seconds of event time or when more than
``max_open`` are open (oldest first); ``flush`` emits the rest. ATT&CK ids come
only from the indicator's tags (:data:`TAG_ATTACK`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from threatml.detectors.base import Detector
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.findings.schema import MAX_EVIDENCE
from threatml.errors import InputError, ReadReport
from threatml.intel.indicators import DEFAULT_HALF_LIFE_DAYS, IndicatorSet, as_arrow, decay, load_feeds, split_explode
from threatml.intel.matcher import Encoded, IndicatorMatcher, Matches, encode, url_hosts

#: indicator tag -> ATT&CK technique (only what a tag really says)
TAG_ATTACK: dict[str, str] = {
    "c2": "T1071", "cc": "T1071", "botnet_cc": "T1071", "c&c": "T1071", "command-and-control": "T1071",
    "phishing": "T1566", "malware_download": "T1105", "payload_delivery": "T1105",
    "scanner": "T1595", "scan": "T1595", "bruteforce": "T1110", "brute-force": "T1110",
    "exfiltration": "T1041", "tor": "T1090.003", "proxy": "T1090", "miner": "T1496", "cryptomining": "T1496",
}

#: indicator type -> ``related`` key carrying its value
_INDICATOR_RELATED = {"domain": "domain", "url": "url", "sha256": "file.sha256", "sha1": "file.sha1",
                      "md5": "file.md5", "email": "sender"}
_MAX_VALUES = 20  # distinct matched values / peers kept per incident
_ATTACK_ID = re.compile(r"\bt(\d{4}(?:\.\d{3})?)\b")  # ATT&CK ids inside tags (MISP galaxies, STIX labels)

#: per kind, frame columns named in ``related`` (key -> column; comma-separated values split)
RELATED_FIELDS: dict[str, dict[str, str]] = {
    "auth": {"user": "user.name", "host": "host.name", "source.ip": "source.ip"},
    "process": {"host": "host.name", "user": "user.name", "file.sha256": "process.hash.sha256",
                "process.executable": "process.executable"},
    "file": {"file.path": "file.path", "file.sha256": "file.hash.sha256"},
    "email": {"mailbox": "email.to.address", "sender": "email.from.address"},
    "activity": {"user": "user.name", "host": "host.name"},
}
_CASELESS_RELATED = {"mailbox", "sender", "file.sha256", "file.sha1", "file.md5"}
#: what the first explanation sentence says the entity did, per kind
_VERB = {"auth": "logged on from", "process": "ran or contacted", "file": "has", "email": "received mail with",
         "activity": "visited"}


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
    kind: str = "flow"
    related: dict[str, set] = field(default_factory=dict)
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
    version = "2"  # 2: every event kind, entity types, join keys in related
    kinds = frozenset({"flow", "dns", "http", "tls", "alert", "auth", "process", "file", "email", "activity"})

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
        self._open: dict[tuple[str, str, int], _Incident] = {}
        self._ready: list[Finding] = []  # closed early by the max_open bound
        self._clock = -np.inf

    # ------------------------------------------------------------------ contract

    def process(self, batch: EventBatch) -> list[Finding]:
        frame = batch.frame
        if not len(frame) or not len(self.indicators):
            return []
        hits = self._hits(batch.kind, frame)
        if len(hits):
            self._absorb(hits, frame, batch.source, batch.kind)
        ts = frame["@timestamp"].to_numpy(dtype=float)
        if np.isfinite(ts).any():
            self._clock = max(self._clock, float(np.nanmax(ts)))
        return self._close(idle_only=True)

    def flush(self) -> list[Finding]:
        return self._close(idle_only=False)

    # ------------------------------------------------------------------ matching

    def _hits(self, kind: str, frame: pd.DataFrame) -> pd.DataFrame:
        """All (row, indicator, field, value, entity, etype, peer, inbound) hits of one batch."""
        m = self.matcher
        parts: list[pd.DataFrame] = []
        n = len(frame)
        blank: list[pd.Series] = []

        def col(name: str) -> pd.Series:
            """A column, or "" everywhere when this source does not have it (built once per batch)."""
            if name in frame.columns:
                return frame[name]
            if not blank:
                blank.append(pd.Series(np.full(n, "", dtype=object), dtype="str"))
            return blank[0]

        def add(matches: Matches, fld: str, values: pd.Series, entity: pd.Series, peer: pd.Series,
                inbound: bool = False, rows: np.ndarray | None = None, etype: str = "host") -> None:
            """``values`` is the matched column; ``rows`` maps its positions to frame rows."""
            if not len(matches):
                return
            r = matches.rows if rows is None else rows[matches.rows]
            # take() the few hit rows: converting whole columns to Python objects costs more than matching
            parts.append(pd.DataFrame({
                "row": r, "ind": matches.indicators, "field": fld, "value": values.take(matches.rows).to_numpy(),
                "entity": entity.take(r).to_numpy(), "etype": etype, "peer": peer.take(r).to_numpy(),
                "inbound": inbound}))

        def add_urls(fld: str, urls: pd.Series, entity: pd.Series, etype: str) -> None:
            """A column of URL lists (whitespace or comma separated): URLs, then their hosts."""
            if not (urls != "").any():
                return
            if pc.any(pc.match_substring_regex(pc.fill_null(as_arrow(urls), ""), r"[\s,]")).as_py():
                rows, vals = split_explode(urls, r"[\s,]+", regex=True)
            else:  # one URL per event (web activity): no need to split
                rows, vals = np.arange(len(urls)), urls.reset_index(drop=True)
            enc = encode(vals)  # URLs repeat: their hosts are found once per distinct URL
            hosts = url_hosts(enc.uniq)
            add(m.match_urls(enc, hosts=hosts), fld, vals, entity, vals, rows=rows, etype=etype)
            if m._domains is not None or m.has_ip:
                host_col = Encoded(enc.codes, hosts)
                add(m.match_domains(host_col), fld, vals, entity, vals, rows=rows, etype=etype)
                add(m.match_ips(host_col), fld, vals, entity, vals, rows=rows, etype=etype)

        src, dst = col("source.ip"), col("destination.ip")
        if kind in ("flow", "alert"):
            add(m.match_ips(dst), "destination.ip", dst, src, dst)
            # inbound from a listed address: the listed address is the entity (the attacker)
            add(m.match_ips(src), "source.ip", src, src, dst, inbound=True)
        elif kind == "dns":
            q = frame["dns.question.name"]
            add(m.match_domains(q), "dns.question.name", q, src, q)
            ans = frame["dns.answers"]
            if (ans != "").any():
                if pc.any(pc.match_substring(pc.fill_null(as_arrow(ans), ""), ",")).as_py():
                    rows, vals = split_explode(ans, ",")
                else:  # one answer per event: no need to split
                    rows, vals = np.arange(len(ans)), ans.str.strip().reset_index(drop=True)
                enc = encode(vals)
                add(m.match_ips(enc), "dns.answers", vals, src, q, rows=rows)
                add(m.match_domains(enc), "dns.answers", vals, src, q, rows=rows)
        elif kind == "http":
            host = frame["url.domain"]
            enc = encode(host)
            add(m.match_domains(enc), "url.domain", host, src, dst)
            add(m.match_ips(enc), "url.domain", host, src, dst)
            add(m.match_ips(dst), "destination.ip", dst, src, dst)
            if m._urls is not None:
                # a request target that is only a path can match only if its Host is the host of
                # some URL indicator: build and normalise full URLs for those rows alone
                orig = frame["url.original"]
                path_only = orig.str.startswith("/").to_numpy(dtype=bool)
                low = pc.utf8_rtrim(pc.utf8_lower(as_arrow(host)), characters=".")
                listed_host = pc.is_in(low, value_set=m._url_hosts).to_numpy(zero_copy_only=False)
                idx = np.flatnonzero((~path_only | listed_host) & (orig != "").to_numpy(dtype=bool))
                if len(idx):
                    sub, sub_host = orig.take(idx).reset_index(drop=True), host.take(idx).reset_index(drop=True)
                    full = sub.where(~path_only[idx], "http://" + sub_host + sub)
                    add(m.match_urls(full), "url.original", full, src, dst, rows=idx)
        elif kind == "tls":
            sni = frame["tls.client.server_name"]
            add(m.match_domains(sni), "tls.client.server_name", sni, src, dst)
            ja3 = frame["tls.client.ja3"]
            add(m.match_hashes(ja3), "tls.client.ja3", ja3, src, dst)
            add(m.match_ips(dst), "destination.ip", dst, src, dst)
        elif kind == "auth":
            user, host = col("user.name"), col("host.name")
            who = user.where(user != "", host)
            etype = "user"
            add(m.match_ips(src), "source.ip", src, who, src, inbound=True, etype=etype)
        elif kind == "process":
            host = col("host.name")
            who = host.where(host != "", src)
            sha = col("process.hash.sha256")
            add(m.match_hashes(sha), "process.hash.sha256", sha, who, col("process.executable"))
            add(m.match_ips(dst), "destination.ip", dst, who, dst)
        elif kind == "file":
            sha, path = col("file.hash.sha256"), col("file.path")
            who = sha.where(sha != "", path.where(path != "", col("event.id")))
            for name in ("file.hash.md5", "file.hash.sha1", "file.hash.sha256"):
                h = col(name)
                add(m.match_hashes(h), name, h, who, path, etype="file")
        elif kind == "email":
            to, sender = col("email.to.address"), col("email.from.address")
            first_to = to.str.replace(r",.*$", "", regex=True).str.strip()
            who = first_to.where(first_to != "", sender)
            for name in ("email.from.address", "email.reply_to.address", "email.return_path"):
                a = col(name)
                add(m.match_emails(a), name, a, who, sender, etype="mailbox")
            for name in ("email.urls", "url.original"):
                if name in frame.columns:
                    add_urls(name, frame[name], who, "mailbox")
        elif kind == "activity":
            add_urls("url.original", col("url.original"), col("user.name"), "user")
        if not parts:
            return pd.DataFrame()
        hits = pd.concat(parts, ignore_index=True)
        return hits[hits["entity"] != ""]

    def _absorb(self, hits: pd.DataFrame, frame: pd.DataFrame, source: str, kind: str = "flow") -> None:
        """Fold one batch's hits into open incidents: aggregates per (entity, indicator)
        are computed with groupby, leaving one cheap dict update per incident."""
        rows = hits["row"].to_numpy()
        hits = hits.assign(ts=frame["@timestamp"].to_numpy(dtype=float)[rows], eid=frame["event.id"].to_numpy()[rows])
        keys = ["etype", "entity", "ind"]
        rel_fields = {k: c for k, c in RELATED_FIELDS.get(kind, {}).items() if c in frame.columns}
        for k, c in rel_fields.items():
            hits[f"rel:{k}"] = frame[c].to_numpy()[rows]
        rel_lists = {k: _capped_lists(hits, keys, f"rel:{k}", _MAX_VALUES) for k in rel_fields}
        per_event = hits.drop_duplicates(keys + ["row"])
        g = per_event.groupby(keys, sort=False)
        summary = g.agg(lo=("ts", "min"), hi=("ts", "max"), n=("row", "size"), inbound=("inbound", "max"))
        fields = _capped_lists(hits, keys, "field", _MAX_VALUES)
        values = _capped_lists(hits, keys, "value", _MAX_VALUES)
        peers = _capped_lists(hits, keys, "peer", _MAX_VALUES)
        eids = _capped_lists(per_event, keys, "eid", MAX_EVIDENCE)
        for g, ((etype, entity, ind), lo, hi, n, inbound, fl, vl, pl, el) in enumerate(zip(
                summary.index, summary["lo"].to_numpy(), summary["hi"].to_numpy(), summary["n"].to_numpy(),
                summary["inbound"].to_numpy(), fields, values, peers, eids)):
            key = (str(etype), str(entity), int(ind))
            inc = self._open.get(key)
            if inc is None:
                if len(self._open) >= self.max_open:
                    self._evict_oldest()
                inc = self._open[key] = _Incident(start=lo, end=hi, seen=hi, kind=kind)
            for k, lists in rel_lists.items():
                bag = inc.related.setdefault(k, set())
                if len(bag) < _MAX_VALUES:
                    low = k in _CASELESS_RELATED
                    bag.update((x.strip().lower() if low else x.strip()) for v in lists[g] for x in str(v).split(",")
                               if x.strip())
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
            if (f.attributes.get("direction") == "inbound" and len(peers) == 1
                    and f.attributes.get("event.kind") in ("flow", "alert")):
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

    def _finding(self, key: tuple[str, str, int], inc: _Incident) -> Finding | None:
        etype, entity, ind = key
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
        attack = sorted({TAG_ATTACK[t] for t in tags if t in TAG_ATTACK}
                        | {f"T{m}" for t in tags for m in _ATTACK_ID.findall(t)})
        kind, value = str(row["type"]), str(row["value"])
        if inc.kind in _VERB:
            title = (f"Logon from listed address {value}" if inc.kind == "auth"
                     else f"{inc.kind.capitalize()} event matches listed {kind} {value}")
            first = f"{entity} {_VERB[inc.kind]} {kind} indicator {value} ({inc.count:,} events)."
        elif inc.inbound:
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
        related = {"indicator": [value], "peers": sorted(inc.peers)[:50], "feeds": str(row["sources"]).split(",")}
        related.update({k: sorted(v)[:50] for k, v in inc.related.items() if v})
        rel_key = _INDICATOR_RELATED.get(kind)
        if kind in ("ipv4", "ipv6", "cidr"):
            rel_key = "source.ip" if inc.inbound else "destination.ip"
        if rel_key:  # the indicator's value under the entity key incidents join on
            related.setdefault(rel_key, [])
            matched = sorted(inc.values) if kind == "cidr" else [value]
            related[rel_key] = sorted(set(related[rel_key]) | set(matched[:_MAX_VALUES]))
        return Finding.make(
            detector=self.name, detector_version=self.version, title=title, start=start, end=end,
            entity_type=etype, entity=entity, score=score, attack=attack, evidence=inc.evidence,
            evidence_count=inc.count, explanation=expl, related=related, source_files=sorted(inc.files),
            attributes={"indicator.type": kind, "indicator.value": value, "indicator.confidence": float(self._conf[ind]),
                        "indicator.tags": str(row["tags"]), "indicator.sources": str(row["sources"]),
                        "indicator.refs": str(row.get("refs", "")),
                        "indicator.first_seen": float(self._first[ind]) if np.isfinite(self._first[ind]) else "",
                        "indicator.description": str(row["description"])[:500],
                        "direction": "inbound" if inc.inbound else "outbound",
                        "matched_fields": ",".join(sorted(inc.fields)), "event.kind": inc.kind},
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
