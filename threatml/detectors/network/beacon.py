"""Command-and-control beaconing: one source calling one destination on a clock.

Per pair (source, destination, destination port, transport) the detector
keeps the ``history`` most recent connection times and sent sizes in fixed
ring buffers (numpy matrices, one row per pair; pairs idle for ``idle_timeout``
are recycled and at most ``max_pairs`` are kept, least recent out first), so
state is bounded and batches may split a beacon anywhere. Whenever a pair got
new connections and has at least ``min_count`` with a span of ``min_span``
seconds, its intervals are scored with robust statistics, all pairs at once:

* intervals shorter than ``min_gap`` seconds are bursts of one check-in and
  are dropped, so parallel connections do not count as a period;
* ``within`` = share of intervals within ``tolerance`` (e.g. ±25%) of the
  median interval — tolerant of jitter;
* ``jitter`` = median absolute deviation of intervals / median interval;
* ``size`` = share of sent sizes within ``tolerance`` of their median (0.5 when
  the source has no byte counts).

Score in [0, 0.85]: ``0.85 * (0.5 * within + 0.2 * (1 - min(1, jitter / tolerance)) +
0.15 * size + 0.15 * min(1, intervals / (2 * (min_count - 1))))`` — at most
"high": software updaters and telemetry phone home on a clock too. A pair is
reported when the score is >= ``min_score``, ``within`` >= ``min_within`` and
the median interval lies in [``min_interval``, ``max_interval``]. Known benign
periodic services are ignored by ``(transport, port)`` in ``ignore_services``
(NTP, DNS, mDNS, NetBIOS, SSDP, DHCP, LLMNR by default) and by address in
``ignore_destinations`` (e.g. the resolver); broadcast and multicast too.

**Only external destinations** are judged by default: C2 servers sit on the
internet, while internal servers are polled on a clock all day long by
monitoring, backup and management agents. A destination is internal when
:class:`AddressClassifier` says so (RFC 1918, shared space, loopback,
link-local, IPv6 ULA, plus ``internal_networks``); ``internal_destinations=True``
judges every pair (labs, or C2 relayed through an internal pivot).

**Prevalence** (as RITA and Slips do it): a destination that many internal
hosts call is common software (telemetry, update checks, push services), not
C2. The ring-buffer table already holds every recently active pair, so for a
destination ``(ip, port, transport)`` its *sources* are the tracked pairs that
lead to it and its *prevalence* is ``sources / distinct active internal
sources`` (both over the pairs still tracked, i.e. active within
``idle_timeout``, bounded by ``max_pairs``; a capture with public addresses
only counts all its sources). Prevalence is often known only after a pair
looks periodic, so each time a pair is judged periodic the incident keeps the
highest prevalence seen so far; the finding is only emitted when the incident
closes (quiet for three periods) or at flush, and is suppressed when ``prevalence >= max_prevalence`` **and** ``sources >=
prevalence_min_sources``. The source minimum (4 by default) keeps a C2 server
reached by two or three infected hosts reportable even in a small network;
below the threshold, sharing the destination with other hosts is stated in
the explanation (several infected hosts is worse, not better).

Needs ``@timestamp``, ``source.ip``, ``destination.ip``; uses
``destination.port`` and ``source.bytes`` when present. ATT&CK T1071 (+ .001
for web ports/protocols) and T1573 for TLS.

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> fr = pd.DataFrame({"@timestamp": [60.0 * i + (i % 3) for i in range(30)], "source.ip": ["10.0.0.5"] * 30,
...     "destination.ip": ["203.0.113.7"] * 30, "destination.port": [443.0] * 30, "network.transport": ["tcp"] * 30,
...     "source.bytes": [310.0] * 30, "event.id": [str(i) for i in range(30)]})
>>> det = BeaconDetector()
>>> [(f.title, f.entity) for f in det.process(EventBatch.of("flow", fr)) + det.flush()]
[('Beaconing from 10.0.0.5 to 203.0.113.7:443', '10.0.0.5')]
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from threatml.detectors.network.window import (
    AddressClassifier,
    Incident,
    WindowedDetector,
    as_key,
    combine,
    human_bytes,
    human_span,
)
from threatml.events import EventBatch
from threatml.findings import Finding

DEFAULT_IGNORE = (
    ("udp", 123), ("udp", 53), ("tcp", 53), ("udp", 5353), ("udp", 137), ("udp", 138), ("udp", 1900),
    ("udp", 67), ("udp", 68), ("udp", 5355), ("udp", 3702),
)
_META = ("src", "dst", "port", "proto", "app")
_WEB_PORTS = {80, 443, 8000, 8080, 8443, 8888}
_WEB_APPS = {"http", "ssl", "tls", "https", "quic", "http2"}
_TLS = {"ssl", "tls", "https", "quic"}


class BeaconDetector(WindowedDetector):
    """Periodic connections per (source, destination, port), one finding per beaconing pair and incident.

    Parameters
    ----------
    min_count: connections (after folding bursts) before a pair is scored.
    min_span: seconds the connections must cover.
    min_interval, max_interval: range of median periods considered (seconds).
    tolerance: relative distance from the median that still counts as "on time".
    min_within: share of intervals that must be on time.
    min_score: score threshold.
    min_gap: intervals shorter than this are one check-in (burst), not a period.
    history: timestamps kept per pair (ring buffer length).
    max_pairs: pairs tracked at once.
    idle_timeout: seconds without a connection after which a pair is forgotten
        (default ``3 * max_interval``).
    ignore_services: ``(transport, port)`` never scored.
    ignore_destinations: addresses never scored (resolvers, update servers, ...).
    internal_destinations: also judge pairs whose destination is internal (default: external only).
    internal_networks: extra CIDRs counted as internal.
    max_prevalence: share of active sources calling the same destination at which a beacon
        counts as common software and is not reported (``None`` turns the rule off).
    prevalence_min_sources: distinct sources a destination needs before prevalence can suppress it.
    gap: quiet seconds that close an incident (at least three periods).
    """

    name = "network.beacon"
    version = "2"

    def __init__(
        self,
        min_count: int = 8,
        min_span: float = 300.0,
        min_interval: float = 5.0,
        max_interval: float = 3600.0,
        tolerance: float = 0.25,
        min_within: float = 0.6,
        min_score: float = 0.6,
        min_gap: float = 1.0,
        history: int = 32,
        max_pairs: int = 100_000,
        idle_timeout: float | None = None,
        ignore_services: tuple[tuple[str, int], ...] = DEFAULT_IGNORE,
        ignore_destinations: tuple[str, ...] = (),
        internal_destinations: bool = False,
        internal_networks: tuple[str, ...] = (),
        max_prevalence: float | None = 0.2,
        prevalence_min_sources: int = 4,
        gap: float | None = None,
        max_open: int = 50_000,
    ):
        super().__init__(window=max_interval, gap=gap if gap is not None else 3.0 * max_interval, max_open=max_open,
                         max_duration=7 * 86_400.0)
        if min_count < 3:
            raise ValueError("min_count must be at least 3 (two intervals)")
        self.min_count, self.min_span = int(min_count), float(min_span)
        self.min_interval, self.max_interval = float(min_interval), float(max_interval)
        self.tolerance, self.min_within, self.min_score = float(tolerance), float(min_within), float(min_score)
        self.min_gap = float(min_gap)
        self.K = max(int(history), self.min_count)
        self.max_pairs = int(max_pairs)
        self.idle_timeout = float(idle_timeout) if idle_timeout is not None else 3.0 * self.max_interval
        self.ignore_services = frozenset((t.lower(), float(p)) for t, p in ignore_services)
        self.ignore_destinations = frozenset(ignore_destinations)
        self.internal_destinations = bool(internal_destinations)
        self.nets = AddressClassifier(extra=internal_networks)
        self.max_prevalence = float(max_prevalence) if max_prevalence is not None else np.inf
        self.prevalence_min_sources = max(1, int(prevalence_min_sources))
        svc = sorted(self.ignore_services)
        self._ignore_keys = combine(as_key(pd.Series([t for t, _ in svc], dtype="str")), np.array([p for _, p in svc], dtype="float64"))
        self._alloc(min(4096, self.max_pairs))

    # -- ring buffers -------------------------------------------------------
    # One row per tracked pair; rows of forgotten pairs are reused in place, so nothing is
    # ever copied wholesale. ``rowmap`` maps a pair key to its row.
    def _alloc(self, cap: int) -> None:
        self.rowmap: dict[int, int] = {}
        self.rowkey = np.zeros(cap, dtype="int64")
        self.used = np.zeros(cap, dtype=bool)
        self.ts = np.full((cap, self.K), np.nan)
        self.sb = np.full((cap, self.K), np.nan)
        self.ids = np.full((cap, self.K), None, dtype=object)
        self.head = np.zeros(cap, dtype="int64")
        self.total = np.zeros(cap, dtype="int64")
        self.last = np.full(cap, -np.inf)
        #: per row: source key and destination key (ip, port, transport), for prevalence
        self.skey = np.zeros(cap, dtype="int64")
        self.dkey = np.zeros(cap, dtype="int64")
        self.sint = np.zeros(cap, dtype=bool)  # source is internal
        #: per row: source, destination, port, transport, app protocol
        self.meta = {c: np.full(cap, None, dtype=object) for c in _META}

    def _grow(self, cap: int) -> None:
        old = len(self.head)
        extra = cap - old
        self.rowkey = np.concatenate([self.rowkey, np.zeros(extra, dtype="int64")])
        self.used = np.concatenate([self.used, np.zeros(extra, dtype=bool)])
        self.ts = np.vstack([self.ts, np.full((extra, self.K), np.nan)])
        self.sb = np.vstack([self.sb, np.full((extra, self.K), np.nan)])
        self.ids = np.vstack([self.ids, np.full((extra, self.K), None, dtype=object)])
        self.head = np.concatenate([self.head, np.zeros(extra, dtype="int64")])
        self.total = np.concatenate([self.total, np.zeros(extra, dtype="int64")])
        self.last = np.concatenate([self.last, np.full(extra, -np.inf)])
        self.skey = np.concatenate([self.skey, np.zeros(extra, dtype="int64")])
        self.dkey = np.concatenate([self.dkey, np.zeros(extra, dtype="int64")])
        self.sint = np.concatenate([self.sint, np.zeros(extra, dtype=bool)])
        for c in _META:
            self.meta[c] = np.concatenate([self.meta[c], np.full(extra, None, dtype=object)])

    def _free(self, rows: np.ndarray) -> None:
        for k in self.rowkey[rows].tolist():
            self.rowmap.pop(k, None)
        self.used[rows] = False
        self.ts[rows] = np.nan
        self.sb[rows] = np.nan
        self.ids[rows] = None
        self.head[rows] = 0
        self.total[rows] = 0
        self.last[rows] = -np.inf

    def _rows_for(self, uniq: np.ndarray, meta: dict) -> np.ndarray:
        """Row of each pair key; new pairs get free rows (idle, then least recent, pairs make room)."""
        get = self.rowmap.get
        rows = np.fromiter((get(k, -1) for k in uniq.tolist()), dtype="int64", count=len(uniq))
        new = np.flatnonzero(rows < 0)
        if not len(new):
            return rows
        free = np.flatnonzero(~self.used)
        if len(free) < len(new) and len(self.head) < self.max_pairs:
            self._grow(min(self.max_pairs, max(2 * len(self.head), int(self.used.sum()) + len(new))))
            free = np.flatnonzero(~self.used)
        if len(free) < len(new):
            idle = np.flatnonzero(self.used & (self.last < self.now - self.idle_timeout))
            if len(idle):
                self._free(idle)
                free = np.flatnonzero(~self.used)
        if len(free) < len(new):
            busy = np.zeros(len(self.head), dtype=bool)
            busy[rows[rows >= 0]] = True  # pairs active in this batch stay
            victims = np.flatnonzero(self.used & ~busy)
            want = min(len(new) - len(free), len(victims))
            if want:
                self._free(victims[np.argpartition(self.last[victims], want - 1)[:want]])
            free = np.flatnonzero(~self.used)
        new = new[: len(free)]  # beyond max_pairs, the rest of the new pairs wait for a later batch
        slots = free[: len(new)]
        rows[new] = slots
        self.used[slots] = True
        self.rowkey[slots] = uniq[new]
        self.rowmap.update(zip(uniq[new].tolist(), slots.tolist()))
        self.skey[slots] = np.asarray(meta["skey"], dtype="int64")[new]
        self.dkey[slots] = np.asarray(meta["dkey"], dtype="int64")[new]
        self.sint[slots] = self.nets.internal(pd.Series(meta["src"][new], dtype=object),
                                               np.asarray(meta["skey"], dtype="int64")[new].view("uint64"))
        for c in _META:
            self.meta[c][slots] = np.asarray(meta[c], dtype=object)[new]
        return rows

    def _prune(self) -> None:
        idle = np.flatnonzero(self.used & (self.last < self.now - self.idle_timeout))
        if len(idle):
            self._free(idle)

    # -- batches --------------------------------------------------------------
    def _select(self, fv: pd.DataFrame) -> np.ndarray:
        """Indices of the flows worth timing (external unless asked, not ignored services, resolvers, broadcast or multicast)."""
        keep = fv["pair_ok"].to_numpy().copy()
        # broadcast and multicast are announcements, not check-ins (tested once per distinct address)
        codes, _ = pd.factorize(fv["dst_h"].to_numpy())
        if len(codes):
            _, first = np.unique(codes, return_index=True)
            u = pd.Series(fv["dst"].to_numpy()[first], dtype="str")
            noise = (u.str.endswith(".255") | u.str.match(r"^(22[4-9]|23\d)\.") | u.str.startswith("ff")).to_numpy(dtype=bool)
            if not self.internal_destinations:  # classified once per distinct address (and cached)
                noise = noise | self.nets.internal(u, fv["dst_h"].to_numpy()[first])
            keep &= ~noise[codes]
        if self.ignore_destinations:
            keep &= ~fv["dst"].isin(self.ignore_destinations).to_numpy()
        if self.ignore_services:
            keep &= ~np.isin(combine(fv["proto_h"].to_numpy(), fv["dport"].to_numpy()), self._ignore_keys)
        return np.flatnonzero(keep)

    def _consume(self, fv: pd.DataFrame, source: str) -> None:
        idx = self._select(fv)
        if not len(idx):
            return
        col = {c: fv[c].to_numpy()[idx] for c in ("src_h", "dst_h", "proto_h", "ts", "sb", "id", "src", "dst", "proto")}
        port = np.nan_to_num(fv["dport"].to_numpy()[idx], nan=-1.0)
        dkey = combine(col["dst_h"], port, col["proto_h"])
        key = combine(col["src_h"], dkey)
        codes, uniq = pd.factorize(key)
        top = np.maximum.accumulate(codes)  # factorize numbers pairs in order of first appearance
        first = np.flatnonzero(np.concatenate([[True], top[1:] > top[:-1]]))
        meta = {"src": col["src"][first], "dst": col["dst"][first], "port": port[first], "proto": col["proto"][first],
                "app": fv["app"].to_numpy(dtype=object)[idx[first]],
                "skey": col["src_h"][first].view("int64"), "dkey": dkey[first]}
        rows = self._rows_for(np.asarray(uniq, dtype="int64"), meta)[codes]
        ts, sb, ids = col["ts"], col["sb"], col["id"]
        if (rows < 0).any():  # no room for some new pairs (max_pairs reached)
            ok = rows >= 0
            rows, ts, sb, ids = rows[ok], ts[ok], sb[ok], ids[ok]
        # insert into the ring buffers: per row, the newest K of this batch in time order
        order = np.lexsort((ts, rows))
        r, t = rows[order], ts[order]
        cnt = np.bincount(r, minlength=len(self.head))
        starts = np.concatenate([[0], np.cumsum(cnt)])[r]
        rank = np.arange(len(r)) - starts
        keep = rank >= cnt[r] - self.K
        r, t, rank, src_idx = r[keep], t[keep], rank[keep], order[keep]
        rank = rank - np.maximum(cnt[r] - self.K, 0)
        pos = (self.head[r] + rank) % self.K
        self.ts[r, pos] = t
        self.sb[r, pos] = sb[src_idx]
        self.ids[r, pos] = ids[src_idx]
        touched = np.flatnonzero(cnt)
        self.head[touched] = (self.head[touched] + np.minimum(cnt[touched], self.K)) % self.K
        self.total += cnt
        np.maximum.at(self.last, r, t)
        cand = touched[self.total[touched] >= self.min_count]
        if len(cand):
            self._score(cand, source)
        self._prune()

    def _score(self, cand: np.ndarray, source: str) -> None:
        T = np.sort(self.ts[cand], axis=1)  # NaN (empty slots) sort last
        span = np.nanmax(T, axis=1) - np.nanmin(T, axis=1)
        ok = span >= self.min_span
        if not ok.any():
            return
        cand, T = cand[ok], T[ok]
        d = np.diff(T, axis=1)
        d[d < self.min_gap] = np.nan  # bursts fold into one check-in
        m = np.sum(~np.isnan(d), axis=1)
        ok = m >= self.min_count - 1
        if not ok.any():
            return
        cand, d, m = cand[ok], d[ok], m[ok]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(d, axis=1)
            dev = np.abs(d - med[:, None])
            mad = np.nanmedian(dev, axis=1)
            within = np.nansum(dev <= self.tolerance * med[:, None], axis=1) / m
            B = self.sb[cand]
            bmed = np.nanmedian(B, axis=1)
            bn = np.sum(~np.isnan(B), axis=1)
            bwithin = np.nansum(np.abs(B - bmed[:, None]) <= np.maximum(self.tolerance * bmed[:, None], 16.0), axis=1)
            size = np.where(bn > 0, bwithin / np.maximum(bn, 1), 0.5)
        jitter = np.divide(mad, med, out=np.full_like(med, np.inf), where=med > 0)
        nfac = np.minimum(1.0, m / (2.0 * (self.min_count - 1)))
        # capped at 0.85 ("high"): a clock-like pair is worth a look, but plenty of software phones home
        score = 0.85 * (0.5 * within + 0.2 * (1 - np.minimum(1.0, jitter / self.tolerance)) + 0.15 * size + 0.15 * nfac)
        hit = (score >= self.min_score) & (within >= self.min_within) & (med >= self.min_interval) & (med <= self.max_interval)
        hits = np.flatnonzero(hit)
        if not len(hits):
            return
        nsrc, active = self._prevalence(self.dkey[cand[hits]])
        for j, i in enumerate(hits):
            row = cand[i]
            src, dst, port, proto, app = (self.meta[c][row] for c in _META)
            tsrow = self.ts[row]
            valid = ~np.isnan(tsrow)
            order = np.argsort(tsrow[valid])
            ids = [x for x in self.ids[row][valid][order] if x is not None]
            self.book.observe(
                int(self.rowkey[row]), float(np.nanmin(tsrow)), float(np.nanmax(tsrow)),
                counts={0: int(self.total[row])},
                ids=ids,
                peaks={"score": float(score[i]), "connections": float(self.total[row]),
                       "dest_sources": float(nsrc[j]), "prevalence": min(1.0, float(nsrc[j]) / active)},
                latest={"src": src, "dst": dst, "port": port, "proto": proto, "app": app, "median": float(med[i]),
                        "dkey": int(self.dkey[row]),
                        "mad": float(mad[i]), "within": float(within[i]), "size": float(size[i]),
                        "bytes": float(bmed[i]), "intervals": int(m[i])},
                source=source, gap=3.0 * float(med[i]),
            )

    # -- prevalence -----------------------------------------------------------
    def _prevalence(self, dkeys: np.ndarray) -> tuple[np.ndarray, int]:
        """(distinct tracked sources per destination key, distinct active internal sources).

        Each row is one (source, destination) pair, so counting rows per destination counts its sources.
        The population is the internal sources (internet clients of a public server say nothing about
        what the own hosts run); a capture with public addresses only counts all of them.
        """
        used = np.flatnonzero(self.used)
        per = self.dkey[used]
        mask = np.isin(per, dkeys)
        ukeys, counts = np.unique(per[mask], return_counts=True)
        nsrc = np.zeros(len(dkeys), dtype="int64")  # 0: the pair was already forgotten
        if len(ukeys):
            pos = np.minimum(np.searchsorted(ukeys, dkeys), len(ukeys) - 1)
            found = ukeys[pos] == dkeys
            nsrc[found] = counts[pos[found]]
        inside = used[self.sint[used]]
        return nsrc, max(1, len(pd.unique(self.skey[inside if len(inside) else used])))

    def _common(self, inc: Incident) -> tuple[int, float]:
        """(sources, prevalence) of the incident's destination: the highest seen while it beaconed or now."""
        nsrc, active = self._prevalence(np.array([inc.latest["dkey"]], dtype="int64"))
        return (int(max(nsrc[0], inc.peaks.get("dest_sources", 1))),
                float(max(min(1.0, nsrc[0] / active), inc.peaks.get("prevalence", 0.0))))

    def process(self, batch: EventBatch) -> list[Finding]:
        return [f for f in super().process(batch) if f is not None]

    def flush(self) -> list[Finding]:
        return [f for f in super().flush() if f is not None]

    def _finding(self, inc: Incident) -> Finding | None:
        """One finding per incident, or None when prevalence says the destination is common software."""
        nsrc, prev = self._common(inc)
        if nsrc >= self.prevalence_min_sources and prev >= self.max_prevalence:
            return None  # called by many of the active hosts: common software
        lt = inc.latest
        src, dst, port, proto, app = lt["src"], lt["dst"], lt["port"], lt["proto"], str(lt["app"]).lower()
        where = f"{dst}:{int(port)}" if port >= 0 else dst
        med, mad = lt["median"], lt["mad"]
        expl = [
            f"{src} connected to {where}/{proto or '?'} {inc.count:,} times over {human_span(inc.end - inc.start)}, "
            f"about every {human_span(med)} (jitter {mad:,.1f} s median deviation).",
            f"{lt['within']:.0%} of the intervals were within ±{self.tolerance:.0%} of the median.",
        ]
        if nsrc > 1:
            why = ": too few to be common software" if np.isfinite(self.max_prevalence) else ""
            expl.append(f"{nsrc - 1} other host{'s' if nsrc > 2 else ''} also called {where} "
                        f"({prev:.0%} of the active hosts){why}.")
        if not np.isnan(lt["bytes"]):
            expl.append(f"Sent sizes were {'regular' if lt['size'] >= 0.6 else 'varied'} "
                        f"(median {human_bytes(lt['bytes'])}, {lt['size']:.0%} within tolerance).")
        attack = ["T1071"]
        if app in _WEB_APPS or int(port) in _WEB_PORTS:
            attack.append("T1071.001")
        if app in _TLS or int(port) in (443, 8443):
            attack.append("T1573")
        return self._make(
            inc, title=f"Beaconing from {src} to {where}", entity=src,
            score=min(1.0, inc.peaks.get("score", 0.5)), attack=attack, explanation=expl,
            related={"destinations": [dst], "ports": [str(int(port))] if port >= 0 else []},
            attributes={"median_interval_s": round(med, 3), "interval_mad_s": round(mad, 3),
                        "on_time_share": round(lt["within"], 4), "size_regularity": round(lt["size"], 4),
                        "connections": inc.count, "transport": proto, "destination_sources": nsrc,
                        "destination_prevalence": round(prev, 4)},
        )
