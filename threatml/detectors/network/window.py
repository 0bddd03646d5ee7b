"""Shared machinery of the behavioural flow detectors: windows, incidents, evidence.

Every behavioural detector (port scan, DoS, brute force, beaconing, exfiltration)
follows the same loop per batch, fully vectorised:

1. :func:`flow_view` turns the batch into short, typed columns (computed once per
   batch and shared by all detectors through ``batch.meta``).
2. The detector reduces the batch to a few rows per entity and time bucket and
   merges them into a :class:`WindowTable` that carries those rows across
   batches for the last ``keep`` buckets only (bounded state).
3. It computes per-entity statistics over every window the batch touched with
   group-bys on hashed integer keys (:func:`agg_by`) and picks the entities
   that cross its thresholds.
4. Only for those entities (a Python loop per *suspicious entity*, never per
   flow) it calls :meth:`IncidentBook.observe`; an entity that stays active over
   consecutive windows extends one open incident.
5. :meth:`IncidentBook.expire` closes incidents that were quiet for ``gap``
   seconds; the detector turns each into exactly one :class:`Finding`.

Time only moves forward, by the largest ``@timestamp`` seen, so rows may arrive
out of order inside a batch and across batches: a late row is still judged in
its own window, then forgotten with its bucket once that bucket falls behind
the newest window. One batch may span hours (a whole file); every window in it
is evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Iterable

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.events import EventBatch
from threatml.findings import MAX_EVIDENCE, Finding

#: Zeek conn_state values where the connection attempt got nowhere
FAIL_STATES = frozenset({"S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR"})
#: states where the originator's SYN was never answered (SYN-flood sign)
HALF_OPEN_STATES = frozenset({"S0", "RSTOS0", "SH"})

_CACHE_KEY = "_threatml_flow_view"

#: flow schema column -> short name used inside the detectors
_COLUMNS = {
    "@timestamp": "ts",
    "source.ip": "src",
    "source.port": "sport",
    "destination.ip": "dst",
    "destination.port": "dport",
    "network.transport": "proto",
    "network.protocol": "app",
    "flow.duration": "dur",
    "source.bytes": "sb",
    "destination.bytes": "db",
    "source.packets": "sp",
    "destination.packets": "dp",
    "flow.state": "state",
    "event.id": "id",
}
_STR_COLS = {"src", "dst", "proto", "app", "state", "id"}


def flow_view(batch: EventBatch) -> pd.DataFrame:
    """Short-named, typed columns of a flow batch plus derived ``failed`` and ``half_open``.

    ``failed`` is 1.0 when the attempt got no useful answer (refused, unanswered,
    reset without data), 0.0 when it did, NaN when the source tells neither
    (no ``flow.state``, no responder packets or bytes). ``half_open`` is the same
    for "SYN never answered". The result is cached on the batch, so five
    detectors pay for it once.

    >>> import pandas as pd
    >>> fr = pd.DataFrame({"source.ip": ["a", "a", "a"], "flow.state": ["S0", "SF", ""],
    ...                    "destination.packets": [0, 5, float("nan")]})
    >>> flow_view(EventBatch.of("flow", fr))["failed"].tolist()
    [1.0, 0.0, nan]
    """
    cached = batch.meta.get(_CACHE_KEY)
    if cached is not None and cached[0] is batch.frame:
        return cached[1]
    fr = batch.frame
    n = len(fr)
    cols: dict[str, object] = {}
    for long, short in _COLUMNS.items():
        if long in fr.columns:
            col = fr[long]
            if short in _STR_COLS:
                col = col.fillna("").astype("str")
            else:
                col = pd.to_numeric(col, errors="coerce").astype("float64")
            cols[short] = col.reset_index(drop=True)
        elif short in _STR_COLS:
            cols[short] = pd.Series(np.full(n, "", dtype=object), dtype=object)
        else:
            cols[short] = pd.Series(np.full(n, np.nan))
    cols["proto"] = cols["proto"].astype("str").str.lower()
    state = cols["state"] = cols["state"].astype("str").str.upper()
    ids = cols["id"].astype("str")
    if n and (ids == "").any():
        # evidence must point somewhere: fall back to "<file>:<row>" like the readers do
        fallback = pd.Series(np.arange(n), dtype="int64").astype("str")
        ids = ids.where(ids != "", (batch.source + ":" if batch.source else "row:") + fallback)
    cols["id"] = ids

    proto = cols["proto"]
    has_state = (state != "").to_numpy()
    sb, db, dp = (cols[c].to_numpy() for c in ("sb", "db", "dp"))
    fail_state = state.isin(FAIL_STATES).to_numpy()
    # a reset with no payload either way is a half-open probe of an open port
    empty_reset = state.isin(("RSTO", "RSTR")).to_numpy() & (sb <= 0) & (db <= 0)
    no_reply = np.where(~np.isnan(dp), dp <= 0, np.where(~np.isnan(db), db <= 0, np.nan))
    failed = np.where(has_state, (fail_state | empty_reset).astype("float64"), no_reply)
    # ICMP has no handshake: Zeek calls every ICMP flow OTH, so only a reply tells
    is_icmp = proto.str.startswith("icmp").to_numpy(dtype=bool)
    is_tcp = (proto == "tcp").to_numpy(dtype=bool)
    failed = np.where(is_icmp & ~np.isnan(no_reply), no_reply, failed)
    half = state.isin(HALF_OPEN_STATES).to_numpy().astype("float64")
    half = np.where(has_state, half, np.where(is_tcp, no_reply, np.where(np.isnan(no_reply), np.nan, 0.0)))
    cols.update(failed=failed, half_open=half, is_icmp=is_icmp, is_tcp=is_tcp,
                is_udp=(proto == "udp").to_numpy(dtype=bool))
    cols["pair_ok"] = (cols["src"].astype("str") != "").to_numpy() & (cols["dst"].astype("str") != "").to_numpy()
    # group-bys run on hashed integer keys (hashed while the strings are still Arrow-backed: fast);
    # the strings detectors carry through aggregations become plain objects, which pandas moves cheaply
    for c in ("src", "dst", "proto"):
        cols[c + "_h"] = as_key(cols[c].astype("str"))
    for c in ("src", "dst", "proto", "id"):
        cols[c] = objs(cols[c])
    cols = {c: (v.to_numpy() if isinstance(v, pd.Series) and v.dtype.kind in "fiub" else v) for c, v in cols.items()}
    fv = pd.DataFrame(cols)
    batch.meta[_CACHE_KEY] = (batch.frame, fv)
    return fv


_MIX = np.uint64(0x9E3779B97F4A7C15)


def objs(values) -> pd.Series:
    """Strings as an object-dtype Series (pandas would otherwise re-infer its Arrow string type)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def as_key(values) -> np.ndarray:
    """Stable 64-bit key per value (same value, same key, in every batch); NaN -> -1."""
    if isinstance(values, pd.Series) and values.dtype.kind not in "iufb":
        codes, uniq = pd.factorize(values)
        if not len(codes):
            return np.zeros(0, dtype="uint64")
        return pd.util.hash_array(np.asarray(uniq, dtype=object), categorize=False)[codes]
    a = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if a.dtype.kind == "f":
        a = np.where(np.isnan(a), -1.0, a).astype("int64")
    if a.dtype.kind in "iub":
        return a.astype("int64").view("uint64")
    if not len(a):
        return np.zeros(0, dtype="uint64")
    codes, uniq = pd.factorize(a)
    return pd.util.hash_array(np.asarray(uniq, dtype=object), categorize=False)[codes]


def combine(*cols) -> np.ndarray:
    """One int64 key for several columns (hash mixing; collisions are vanishingly rare).

    >>> a = combine(np.array([1, 1, 2]), np.array(["x", "y", "x"]))
    >>> bool(a[0] != a[1] and a[0] != a[2]), a.dtype.name
    (True, 'int64')
    """
    h = as_key(cols[0]).copy()
    with np.errstate(over="ignore"):
        for c in cols[1:]:
            h = h * _MIX + as_key(c)
            h ^= h >> np.uint64(29)
    return h.view("int64")


def group_codes(*cols) -> tuple[np.ndarray, np.ndarray]:
    """(group code per row, index of each group's first row); codes follow first appearance."""
    codes, _ = pd.factorize(combine(*cols))
    if not len(codes):
        return codes, np.zeros(0, dtype="int64")
    top = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.concatenate([[True], top[1:] > top[:-1]]))
    return codes, first


def agg_by(frame: pd.DataFrame | dict[str, np.ndarray], keys: list[str], spec: dict[str, str]) -> pd.DataFrame:
    """``frame.groupby(keys).agg(spec)`` on one hashed key, several times faster than pandas' own.

    Reducers: ``first``, ``sum``, ``size``, ``min``, ``max``. Key columns come
    back as columns (their first value per group); groups keep the order of
    their first row. Sums come back as float64.

    >>> agg_by(pd.DataFrame({"a": ["x", "x", "y"], "n": [1, 2, 3]}), ["a"], {"n": "sum"}).values.tolist()
    [['x', 3.0], ['y', 3.0]]
    """
    full = {c: "first" for c in keys}
    full.update(spec)
    if isinstance(frame, dict):  # plain arrays: saves building a DataFrame that is about to be reduced
        frame = {c: (v.to_numpy() if isinstance(v, pd.Series) else np.asarray(v)) for c, v in frame.items()}
        col = frame.__getitem__
        n = len(next(iter(frame.values()))) if frame else 0
    else:
        col = lambda c: frame[c].to_numpy()  # noqa: E731
        n = len(frame)
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=col(c).dtype if c in frame else "float64") for c in full})
    codes, first = group_codes(*(col(c) for c in keys))
    ng = len(first)
    out: dict[str, object] = {}
    for c, fn in full.items():
        if fn in ("min", "max"):
            v = np.asarray(col(c), dtype="float64")
            acc = v[first].copy()
            (np.minimum if fn == "min" else np.maximum).at(acc, codes, v)
            out[c] = acc
        elif fn == "first":
            v = col(c)[first]
            out[c] = objs(v) if v.dtype == object else v
        elif fn == "sum":
            out[c] = np.bincount(codes, weights=np.asarray(col(c), dtype="float64"), minlength=ng)
        elif fn == "size":
            out[c] = np.bincount(codes, minlength=ng)
        else:
            raise ValueError(f"unsupported reducer {fn!r}")
    return pd.DataFrame({c: out[c] for c in full})


def group_size(*cols) -> np.ndarray:
    """Per row, how many rows share its key (a fast ``transform('size')``)."""
    codes, _ = pd.factorize(combine(*cols))
    return np.bincount(codes)[codes] if len(codes) else np.zeros(0, dtype="int64")


def group_sum(values: np.ndarray, *cols) -> np.ndarray:
    """Per row, the sum of ``values`` over rows sharing its key (a fast ``transform('sum')``)."""
    codes, _ = pd.factorize(combine(*cols))
    return np.bincount(codes, weights=values)[codes] if len(codes) else np.zeros(0)


def saturate(value: float | np.ndarray, threshold: float) -> float | np.ndarray:
    """How far ``value`` is past ``threshold`` on a 0..1 scale: ``1 - threshold / value``.

    0 at the threshold, 0.5 at twice it, 0.9 at ten times it.

    >>> saturate(200, 100), saturate(50, 100)
    (0.5, 0.0)
    """
    v = np.maximum(np.asarray(value, dtype="float64"), 1e-12)
    out = np.clip(1.0 - threshold / v, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def human_span(seconds: float) -> str:
    """Analyst-friendly duration: ``45 seconds``, ``3 minutes``, ``2.5 hours``.

    >>> human_span(45), human_span(180), human_span(9000)
    ('45 seconds', '3 minutes', '2.5 hours')
    """
    s = max(0.0, float(seconds))
    if s < 90:
        return f"{s:.0f} seconds"
    if s < 5400:
        return f"{s / 60:.0f} minutes"
    if s < 172800:
        return f"{s / 3600:.1f} hours"
    return f"{s / 86400:.1f} days"


def human_bytes(n: float) -> str:
    """Analyst-friendly byte count.

    >>> human_bytes(1536), human_bytes(3.2e9)
    ('1.5 KB', '3.0 GB')
    """
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def few(items: Iterable[str], shown: int = 3) -> str:
    """``a, b, c and 4 more`` for explanations."""
    items = list(items)
    head = ", ".join(items[:shown])
    return head + (f" and {len(items) - shown:,} more" if len(items) > shown else "")


def port_label(port: float) -> str:
    return "?" if port is None or (isinstance(port, float) and math.isnan(port)) else str(int(port))


def bucket_of(ts: np.ndarray | pd.Series, window: float) -> np.ndarray:
    """Tumbling-window index of each timestamp (windows aligned on the epoch)."""
    return np.floor(np.asarray(ts, dtype="float64") / window).astype("int64")


class WindowTable:
    """Reduced rows (one per ``key`` and ``bucket``) merged across batches, last ``keep`` buckets only.

    ``key`` is an int64 column the detector builds with :func:`combine` from
    the columns that identify a row (e.g. source, destination, port); those
    columns ride along with the ``first`` reducer.

    A *window* is ``keep`` consecutive buckets and is named by its last bucket
    (column ``win``); windows slide by one bucket, so an attack that straddles a
    bucket boundary is still seen whole. One batch may span many windows (a
    whole file): :meth:`windows` returns, for every window that this batch
    touched, the rows inside it, so detectors evaluate each window in one
    group-by.

    ``agg`` maps a column to a pandas reducer (``sum``, ``min``, ``max``,
    ``first``); merging is exact for those, so statistics over the table equal
    statistics over the raw flows of the window. ``cap_by``/``cap`` bound the
    rows per entity and bucket (e.g. at most 20,000 distinct targets per
    source), ``max_rows`` bounds the whole table (the most recent rows stay).

    >>> t = WindowTable({"n": "sum"}, window=60)
    >>> t.update(pd.DataFrame({"bucket": [0], "key": [7], "n": [2]}))
    >>> t.update(pd.DataFrame({"bucket": [0, 1], "key": [7, 7], "n": [3, 1]}))
    >>> sorted(t.windows()[["win", "bucket", "n"]].values.tolist())
    [[0.0, 0.0, 5.0], [1.0, 0.0, 5.0], [1.0, 1.0, 1.0]]
    """

    def __init__(
        self,
        agg: dict[str, str],
        window: float,
        keep: int = 2,
        cap_by: str | None = None,
        cap: int = 0,
        max_rows: int = 2_000_000,
    ):
        self.agg = agg
        self.window = float(window)
        self.keep = max(1, int(keep))
        self.cap_by, self.cap = cap_by, int(cap)
        self.max_rows = int(max_rows)
        self.state: pd.DataFrame | None = None
        self._touched = np.zeros(0, dtype="int64")

    def update(self, reduced: pd.DataFrame) -> None:
        """Merge this batch's reduced rows (columns ``bucket``, keys, ``agg`` columns)."""
        if reduced is None or reduced.empty:
            self._touched = np.zeros(0, dtype="int64")
            return
        self._touched = np.unique(reduced["bucket"].to_numpy())
        fresh = reduced.reset_index(drop=True)
        if self.state is not None and len(self.state):
            # only buckets this batch falls into need merging; the others are kept as they are
            hit = np.isin(self.state["bucket"].to_numpy(), self._touched)
            if hit.any():
                fresh = agg_by(pd.concat([self.state[hit], reduced], ignore_index=True), ["bucket", "key"], self.agg)
            rest = self.state[~hit] if not hit.all() else None
        else:
            rest = None
        if self.cap_by and self.cap and len(fresh) > self.cap:
            codes, _ = pd.factorize(combine(fresh["bucket"], fresh[self.cap_by]))
            if np.bincount(codes).max() > self.cap:  # rare: only then pay for the ranking
                rank = pd.Series(codes).groupby(codes, sort=False).cumcount().to_numpy()
                fresh = fresh[rank < self.cap]
        merged = fresh if rest is None or rest.empty else pd.concat([rest, fresh], ignore_index=True)
        if len(merged) > self.max_rows:
            merged = merged.iloc[np.argsort(merged["bucket"].to_numpy(), kind="stable")[-self.max_rows :]]
        self.state = merged.reset_index(drop=True)

    def windows(self, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        """Rows of every window touched by the last update, with a ``win`` column.

        A row of bucket ``b`` belongs to windows ``b .. b + keep - 1``; only
        windows that contain a touched bucket and do not end past the newest
        bucket are returned. ``rows`` restricts to a subset of the state.
        """
        st = self.state if rows is None else rows
        if st is None or not len(st) or not len(self._touched):
            cols = [] if st is None else list(st.columns)
            return pd.DataFrame(columns=["win", *cols])
        newest = int(self.state["bucket"].max())
        wanted = np.unique(np.concatenate([self._touched + k for k in range(self.keep)]))
        wanted = wanted[wanted <= newest]
        b = st["bucket"].to_numpy()
        parts = []
        for k in range(self.keep):
            m = np.isin(b + k, wanted)
            if m.any():
                parts.append(st[m].assign(win=b[m] + k))
        out = pd.concat(parts, ignore_index=True) if parts else st.iloc[:0].assign(win=np.zeros(0, "int64"))
        return out.reset_index(drop=True)

    def prune(self, now: float) -> None:
        """Forget buckets that can no longer be part of a window ending now or later."""
        if self.state is not None and len(self.state):
            lo = math.floor(now / self.window) - self.keep + 1
            b = self.state["bucket"].to_numpy()
            if (b < lo).any():
                self.state = self.state[b >= lo].reset_index(drop=True)

    def __len__(self) -> int:
        return 0 if self.state is None else len(self.state)


@dataclass
class Incident:
    """One ongoing attack by (or on) one entity, grown across batches and windows."""

    key: Hashable
    start: float
    end: float
    gap: float
    #: flows per time bucket (or per (bucket, part)); re-observing keeps the larger count, so overlapping windows never double count
    counts: dict[Hashable, int] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    _seen: set = field(default_factory=set, repr=False)
    #: e.g. {"targets": {"10.0.0.9": 1024}}; merged by max value, capped in size
    related: dict[str, dict[str, float]] = field(default_factory=dict)
    #: numbers merged by max (peak rate, distinct ports, score, ...)
    peaks: dict[str, float] = field(default_factory=dict)
    #: values replaced by the latest observation (kind of attack, ...)
    latest: dict[str, object] = field(default_factory=dict)
    files: set = field(default_factory=set)

    @property
    def count(self) -> int:
        return int(sum(self.counts.values()))

    def top(self, name: str, n: int = 50) -> list[str]:
        """Related entities of one role, most active first."""
        d = self.related.get(name, {})
        return [k for k, _ in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


class IncidentBook:
    """Open incidents per entity key, closed after ``gap`` quiet seconds.

    ``max_open`` bounds memory (the stalest incidents are closed early, still
    reported); ``max_duration`` closes very long incidents so that a stream
    reports them at least that often.

    >>> book = IncidentBook(gap=120)
    >>> _ = book.observe("a", 0, 10, counts={0: 5}, ids=["x"])
    >>> _ = book.observe("a", 50, 60, counts={0: 7}, ids=["y"])
    >>> [(i.key, i.count, i.evidence) for i in book.expire(now=500)]
    [('a', 7, ['x', 'y'])]
    """

    def __init__(self, gap: float, max_open: int = 50_000, max_duration: float = 86_400.0, max_related: int = 500):
        self.gap = float(gap)
        self.max_open = int(max_open)
        self.max_duration = float(max_duration)
        self.max_related = int(max_related)
        self.open: dict[Hashable, Incident] = {}
        self._closed: list[Incident] = []

    def observe(
        self,
        key: Hashable,
        start: float,
        end: float,
        counts: dict[Hashable, int] | None = None,
        ids: Iterable[str] = (),
        related: dict[str, dict[str, float]] | None = None,
        peaks: dict[str, float] | None = None,
        latest: dict[str, object] | None = None,
        source: str = "",
        gap: float | None = None,
    ) -> Incident:
        """Open or extend the incident of ``key`` with one window's worth of activity."""
        inc = self.open.get(key)
        if inc is not None and (start - inc.end > inc.gap or end - inc.start > self.max_duration):
            self._closed.append(self.open.pop(key))
            inc = None
        if inc is None:
            inc = self.open[key] = Incident(key=key, start=float(start), end=float(end), gap=self.gap)
        inc.start, inc.end = min(inc.start, float(start)), max(inc.end, float(end))
        if gap is not None:
            inc.gap = max(self.gap, float(gap))
        for b, c in (counts or {}).items():
            inc.counts[b] = max(int(c), inc.counts.get(b, 0))
        room = MAX_EVIDENCE - len(inc.evidence)
        if room > 0:
            for i in ids:
                if i not in inc._seen:
                    inc._seen.add(i)
                    inc.evidence.append(i)
                    room -= 1
                    if room == 0:
                        break
        for role, values in (related or {}).items():
            d = inc.related.setdefault(role, {})
            for k, v in values.items():
                if k and v >= d.get(k, -np.inf):
                    d[k] = float(v)
            if len(d) > 2 * self.max_related:  # keep the most active ones
                keep = sorted(d.items(), key=lambda kv: -kv[1])[: self.max_related]
                inc.related[role] = dict(keep)
        for k, v in (peaks or {}).items():
            if not (isinstance(v, float) and math.isnan(v)):
                inc.peaks[k] = max(float(v), inc.peaks.get(k, -np.inf))
        inc.latest.update(latest or {})
        if source:
            inc.files.add(source)
        return inc

    def expire(self, now: float) -> list[Incident]:
        """Incidents closed since the last call: quiet for their gap, too long, or over ``max_open``."""
        out, self._closed = self._closed, []
        stale = [k for k, inc in self.open.items() if now - inc.end > inc.gap]
        out.extend(self.open.pop(k) for k in stale)
        if len(self.open) > self.max_open:
            oldest = sorted(self.open, key=lambda k: self.open[k].end)[: len(self.open) - self.max_open]
            out.extend(self.open.pop(k) for k in oldest)
        return sorted(out, key=lambda i: i.start)

    def flush(self) -> list[Incident]:
        out = self._closed + list(self.open.values())
        self._closed, self.open = [], {}
        return sorted(out, key=lambda i: i.start)


def ids_by_key(keys: pd.Series, ids: pd.Series, wanted: Iterable[Hashable], limit: int = MAX_EVIDENCE) -> dict:
    """Up to ``limit`` ids per wanted key, in row order (one vectorised pass).

    >>> ids_by_key(pd.Series(["a", "b", "a"]), pd.Series(["1", "2", "3"]), ["a"])
    {'a': ['1', '3']}
    """
    wanted = list(wanted)
    if not wanted or not len(keys):
        return {}
    mask = keys.isin(wanted).to_numpy()
    if not mask.any():
        return {}
    sub = pd.DataFrame({"k": keys[mask].to_numpy(), "i": ids[mask].to_numpy()})
    sub = sub[sub.groupby("k", sort=False).cumcount().to_numpy() < limit]
    return {k: g.tolist() for k, g in sub.groupby("k", sort=False)["i"]}


class WindowedDetector(Detector):
    """Base of the behavioural flow detectors: clock, incident book, flush.

    Subclasses implement :meth:`_consume` (update windows, observe incidents)
    and :meth:`_finding` (one incident -> one finding).
    """

    kinds = frozenset({"flow"})

    def __init__(self, window: float, gap: float | None, max_open: int = 50_000, max_duration: float = 86_400.0):
        if window <= 0:
            raise ValueError("window must be positive seconds")
        self.window = float(window)
        self.gap = float(gap) if gap is not None else 2.0 * self.window
        self.book = IncidentBook(gap=self.gap, max_open=max_open, max_duration=max_duration)
        self.now = -np.inf

    def process(self, batch: EventBatch) -> list[Finding]:
        if len(batch) == 0:
            return []
        fv = flow_view(batch)
        ts = fv["ts"].to_numpy()
        if np.isnan(ts).all():
            fill = self.now if np.isfinite(self.now) else 0.0
        else:
            fill = float(np.nanmax(ts))
        if np.isnan(ts).any():
            # a flow without a time still counts, placed at the latest time known
            fv = fv.assign(ts=np.where(np.isnan(ts), fill, ts))
        self.now = max(self.now, float(fv["ts"].max()))
        self._consume(fv, batch.source)
        return [self._finding(inc) for inc in self.book.expire(self.now)]

    def flush(self) -> list[Finding]:
        return [self._finding(inc) for inc in self.book.flush()]

    def _consume(self, fv: pd.DataFrame, source: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _finding(self, inc: Incident) -> Finding:  # pragma: no cover - abstract
        raise NotImplementedError

    def _make(self, inc: Incident, **kw) -> Finding:
        """Finding with the fields every incident shares filled in."""
        kw.setdefault("entity_type", "host")
        return Finding.make(
            detector=self.name,
            detector_version=self.version,
            start=inc.start,
            end=inc.end,
            evidence=inc.evidence,
            evidence_count=max(inc.count, len(inc.evidence)),
            source_files=sorted(f for f in inc.files if f),
            **kw,
        )


class AddressClassifier:
    """Vectorised "is this address internal?" with a bounded per-address cache.

    Internal by default: RFC 1918, RFC 6598 shared space, loopback, link-local,
    IPv6 ULA and link-local; ``extra`` adds CIDRs (e.g. an organisation's public
    ranges). Unparseable or empty strings count as internal so they never look
    like the outside world.

    >>> AddressClassifier(extra=("198.51.100.0/24",)).internal(pd.Series(["10.1.2.3", "8.8.8.8", "198.51.100.7"])).tolist()
    [True, False, True]
    """

    DEFAULT = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
               "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128")

    def __init__(self, extra: Iterable[str] = (), include_default: bool = True, cache_size: int = 1_000_000):
        import ipaddress

        nets = (list(self.DEFAULT) if include_default else []) + list(extra)
        self._nets = [ipaddress.ip_network(n, strict=False) for n in nets]
        self._parse = ipaddress.ip_address
        self._known = pd.Series(dtype=object)  # address key -> internal?
        self.cache_size = cache_size

    def _one(self, text: str) -> bool:
        try:
            ip = self._parse(text)
        except ValueError:
            return True
        mapped = getattr(ip, "ipv4_mapped", None)
        ip = mapped or ip
        return any(ip.version == n.version and ip in n for n in self._nets)

    def _classify(self, uniq: np.ndarray) -> np.ndarray:
        """Dotted-quad IPv4 vectorised (pyarrow split + integer masks); anything else one by one."""
        import pyarrow as pa
        import pyarrow.compute as pc

        out = np.empty(len(uniq), dtype=bool)
        arr = pa.array(uniq.astype(object), type=pa.string())
        is4 = pc.match_substring_regex(arr, r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$").to_numpy(zero_copy_only=False)
        if is4.any():
            quads = pc.cast(pc.list_flatten(pc.split_pattern(arr.filter(pa.array(is4)), ".")), pa.int64())
            q = quads.to_numpy().reshape(-1, 4)
            ok = (q <= 255).all(axis=1)
            val = (q[:, 0] << 24) | (q[:, 1] << 16) | (q[:, 2] << 8) | q[:, 3]
            hit = np.zeros(len(val), dtype=bool)
            for net in self._nets:
                if net.version == 4:
                    mask = (0xFFFFFFFF << (32 - net.prefixlen)) & 0xFFFFFFFF
                    hit |= (val & mask) == int(net.network_address)
            out[is4] = np.where(ok, hit, True)
        for i in np.flatnonzero(~is4):
            out[i] = self._one(uniq[i])
        return out

    def internal(self, values: pd.Series, keys: np.ndarray | None = None) -> np.ndarray:
        """Boolean array; each distinct address is classified once (vectorised) and cached by its key.

        ``keys`` (the :func:`as_key` hashes of ``values``) save hashing them again.
        """
        if keys is None:
            keys = as_key(values if isinstance(values, pd.Series) else pd.Series(values, dtype=object))
        if not len(keys):
            return np.zeros(0, dtype=bool)
        codes, uniq_k = pd.factorize(keys)
        known = self._known.reindex(uniq_k).to_numpy(dtype=object, copy=True)
        todo = np.flatnonzero(pd.isna(known))
        if len(todo):
            _, first = np.unique(codes, return_index=True)
            texts = np.asarray(values, dtype=object)[first[todo]]
            flags = self._classify(texts)
            if len(self._known) + len(todo) > self.cache_size:
                self._known = self._known.iloc[:0]
            self._known = pd.concat([self._known, pd.Series(flags, index=uniq_k[todo])])
            known[todo] = flags
        return known.astype(bool)[codes]
