"""Denial of service against one target: floods of flows far above its normal rate.

Per destination host and sliding window (current plus previous ``window``),
counts flows, packets and distinct sources, and the share of *bad* flows:
half-open (SYN never answered), refused, unanswered. A target is flooded when

* it received at least ``min_flows`` flows in the window, and
* that is ``rate_factor`` times its own usual rate (an EWMA of past windows,
  used once ``min_history`` windows were seen; before that the absolute
  threshold alone applies), and
* it is not a port scan (a few sources, about one flow per port) unless it
  arrives at ``min_flood_rate`` flows/s or more, and
* most flows were bad (``min_bad_share``) — or, when the source tells nothing
  about answers (no ``flow.state``, packets or bytes), the volume reached
  ``unknown_factor`` times ``min_flows``; a complete-connection flood (e.g. an
  HTTP flood) is caught the same way by volume.

The kind is named from the dominant transport and half-open share (SYN, UDP,
ICMP or connection flood); ``min_ddos_sources`` distinct sources make it a
DDoS. The finding's entity is the **target**; attackers are in
``related["sources"]`` (most active first). Needs ``destination.ip`` and
``@timestamp``; packets are counted as one per flow when unknown.

Score: ``0.35 + 0.35 * saturate(flows / min_flows) + 0.3 * bad_share``
(bad share 0.5 when unknown). ATT&CK: T1498/T1498.001 for network floods,
T1499/T1499.002 for complete-connection floods.

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> n = 3000
>>> fr = pd.DataFrame({"@timestamp": [i / 100 for i in range(n)], "source.ip": [f"198.51.100.{i % 200}" for i in range(n)],
...     "destination.ip": ["10.0.0.80"] * n, "destination.port": [80.0] * n, "network.transport": ["tcp"] * n,
...     "flow.state": ["S0"] * n, "event.id": [str(i) for i in range(n)]})
>>> det = DoSDetector()
>>> [(f.title, f.entity, len(f.related["sources"])) for f in det.process(EventBatch.of("flow", fr)) + det.flush()]
[('DDoS SYN flood against 10.0.0.80', '10.0.0.80', 50)]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from threatml.detectors.network.window import (
    Incident,
    WindowedDetector,
    WindowTable,
    agg_by,
    as_key,
    bucket_of,
    combine,
    group_sum,
    few,
    human_span,
    port_label,
    saturate,
)
from threatml.findings import Finding

_DETAIL = {"dst_h": "first", "src_h": "first", "src": "first", "port": "first", "n": "sum", "id": "first"}
_AGG = {"dst_h": "first", "dst": "first", "n": "sum", "pk": "sum", "by": "sum", "h": "sum", "hk": "sum", "f": "sum", "k": "sum",
        "tcp": "sum", "udp": "sum", "icmp": "sum", "t0": "min", "t1": "max"}


class DoSDetector(WindowedDetector):
    """Per-target flood detection (DoS and DDoS), one finding per target and incident.

    Parameters
    ----------
    window: seconds per window (rates are judged over the current plus previous window).
    min_flows: flows to one target within a window before anything is considered.
    rate_factor: how many times the target's usual per-window rate counts as "far above".
    min_history: windows of history before the usual rate is trusted.
    alpha: EWMA weight of the newest window in the usual rate.
    min_bad_share: share of half-open/refused/unanswered flows for a flood.
    unknown_factor: volume multiplier that stands in for an unknown or low bad share.
    min_ddos_sources: distinct sources that make it a distributed attack.
    min_flood_rate: flows per second at which a scan-shaped burst (one source, many ports)
        counts as a flood too.
    max_sources_per_target: distinct sources kept per target and window (memory bound).
    max_baseline: targets whose usual rate is remembered (the quietest are forgotten first).
    gap: quiet seconds that close an incident (default two windows).
    """

    name = "network.dos"
    version = "1"

    def __init__(
        self,
        window: float = 60.0,
        min_flows: int = 1000,
        rate_factor: float = 10.0,
        min_history: int = 3,
        alpha: float = 0.2,
        min_bad_share: float = 0.5,
        unknown_factor: float = 10.0,
        min_ddos_sources: int = 20,
        min_flood_rate: float = 1000.0,
        max_sources_per_target: int = 20_000,
        max_baseline: int = 200_000,
        gap: float | None = None,
        max_open: int = 10_000,
    ):
        super().__init__(window=window, gap=gap, max_open=max_open)
        self.min_flows, self.rate_factor = int(min_flows), float(rate_factor)
        self.min_history, self.alpha = int(min_history), float(alpha)
        self.min_bad_share, self.unknown_factor = float(min_bad_share), float(unknown_factor)
        self.min_ddos_sources = int(min_ddos_sources)
        self.min_flood_rate = float(min_flood_rate)
        self.max_baseline = int(max_baseline)
        self.table = WindowTable(_AGG, window=self.window)
        self.detail = WindowTable(_DETAIL, window=self.window, cap_by="dst_h", cap=max_sources_per_target)
        #: per target: usual flows per bucket (EWMA) and buckets seen
        self.baseline = pd.DataFrame({"mean": pd.Series(dtype="float64"), "nb": pd.Series(dtype="float64")})
        self._folded = None  # last bucket folded into the baseline

    def _reduce(self, fv: pd.DataFrame) -> None:
        """Per-target totals for every flow; per-(target, source, port) detail only for hot targets."""
        keep = (fv["dst"] != "").to_numpy()
        if not keep.any():
            self.table.update(None)
            self.detail.update(None)
            return
        if not keep.all():
            fv = fv[keep]
        pk = fv["sp"].to_numpy() + np.nan_to_num(fv["dp"].to_numpy())
        failed, half = fv["failed"].to_numpy(), fv["half_open"].to_numpy()
        ts = fv["ts"].to_numpy()
        bucket = bucket_of(ts, self.window)
        dst_h = fv["dst_h"].to_numpy()
        red = {
            "bucket": bucket, "key": dst_h.view("int64"), "dst_h": dst_h, "dst": fv["dst"].to_numpy(),
            "n": np.ones(len(fv), dtype="int64"),
            "pk": np.where(np.isnan(pk), 1.0, pk),
            "by": np.nan_to_num(fv["sb"].to_numpy()) + np.nan_to_num(fv["db"].to_numpy()),
            "h": np.nan_to_num(half), "hk": (~np.isnan(half)).astype("float64"),
            "f": np.nan_to_num(failed), "k": (~np.isnan(failed)).astype("float64"),
            "tcp": fv["is_tcp"].to_numpy(), "udp": fv["is_udp"].to_numpy(), "icmp": fv["is_icmp"].to_numpy(),
            "t0": ts, "t1": ts,
        }
        self.table.update(agg_by(red, ["bucket", "key"], _AGG))
        # a target becomes "hot" once its flows in the table reach a quarter of min_flows; from then on
        # sources and ports are tracked for it (for the DDoS verdict, top sources and evidence)
        st = self.table.state
        hot_rows = group_sum(st["n"].to_numpy(dtype="float64"), st["dst_h"]) >= 0.25 * self.min_flows
        hot = np.unique(st["dst_h"].to_numpy()[hot_rows])
        m = np.isin(dst_h, hot)
        if not m.any():
            self.detail.update(None)
            return
        port = fv["dport"].fillna(-1.0).to_numpy()[m]
        det = {"bucket": bucket[m], "dst_h": dst_h[m], "src_h": fv["src_h"].to_numpy()[m],
               "src": fv["src"].to_numpy()[m], "port": port, "n": np.ones(int(m.sum()), dtype="int64"),
               "id": fv["id"].to_numpy()[m]}
        det["key"] = combine(det["dst_h"], det["src_h"], port)
        self.detail.update(agg_by(det, ["bucket", "key"], _DETAIL))

    def _fold_baseline(self) -> None:
        """Fold completed buckets into each target's usual rate (targets under attack are frozen)."""
        st = self.table.state
        if st is None or not len(st):
            return
        newest = int(st["bucket"].max())
        oldest = int(st["bucket"].min())
        start = oldest - 1 if self._folded is None else max(self._folded, oldest - 1)
        # a long first batch folds at most its last 60 buckets: enough for the EWMA to settle
        done = list(range(max(start + 1, newest - 60), newest))
        if not done:
            return
        under_attack = set(as_key(pd.Series(list(self.book.open), dtype=object)).tolist()) if self.book.open else set()
        sel = np.isin(st["bucket"].to_numpy(), done)
        per = agg_by({"bucket": st["bucket"].to_numpy()[sel], "dst_h": st["dst_h"].to_numpy()[sel],
                      "n": st["n"].to_numpy()[sel]}, ["bucket", "dst_h"], {"n": "sum"})
        for b in done:
            rows = per[per["bucket"].to_numpy() == b]
            x = pd.Series(rows["n"].to_numpy(), index=rows["dst_h"].to_numpy())
            if under_attack:
                x = x[~x.index.isin(under_attack)]
            base = self.baseline
            idx = base.index.union(x.index)
            old = base.reindex(idx)
            xv = x.reindex(idx).fillna(0.0).to_numpy()
            frozen = idx.isin(under_attack)
            mean = np.where(old["mean"].isna(), xv, (1 - self.alpha) * old["mean"].fillna(0) + self.alpha * xv)
            mean = np.where(frozen & old["mean"].notna(), old["mean"].fillna(0), mean)
            nb = old["nb"].fillna(0).to_numpy() + 1
            self.baseline = pd.DataFrame({"mean": mean, "nb": nb}, index=idx)
        self._folded = newest - 1
        if len(self.baseline) > self.max_baseline:
            self.baseline = self.baseline.nlargest(self.max_baseline, "mean")

    def _consume(self, fv: pd.DataFrame, source: str) -> None:
        self._reduce(fv)
        st = self.table.state
        # pre-filter on the whole table: a target needs min_flows flows in it to be flooded in any window
        if st is not None and len(st):
            cand = group_sum(st["n"].to_numpy(dtype="float64"), st["dst_h"]) >= self.min_flows
            if cand.any():
                self._evaluate(self.table.windows(st[cand]), source)
        self._fold_baseline()
        self.table.prune(self.now)
        self.detail.prune(self.now)

    def _evaluate(self, win: pd.DataFrame, source: str) -> None:
        if win.empty:
            return
        win = win.assign(wd=combine(win["win"], win["dst_h"]))
        spec = {c: "sum" for c in ("n", "pk", "by", "h", "hk", "f", "k", "tcp", "udp", "icmp")}
        per = agg_by(win, ["wd"], {"win": "first", "dst": "first", "dst_h": "first", **spec, "t0": "min", "t1": "max"})
        per = per[per["n"].to_numpy() >= self.min_flows]
        if per.empty:
            return
        dst_state = self.detail.state
        dm = np.isin(dst_state["dst_h"].to_numpy(), per["dst_h"].to_numpy()) if dst_state is not None and len(dst_state) else None
        dwin = self.detail.windows(dst_state[dm]) if dm is not None and dm.any() else pd.DataFrame(
            {c: [] for c in ("win", "bucket", "dst_h", "src_h", "src", "port", "n", "id")})
        dwin = dwin.assign(wd=combine(dwin["win"], dwin["dst_h"])) if len(dwin) else dwin.assign(wd=np.zeros(0, "int64"))
        per = per.set_index("wd")
        per["nsrc"] = agg_by(dwin, ["wd", "src_h"], {}).groupby("wd").size().reindex(per.index).fillna(0).to_numpy()
        per["nports"] = agg_by(dwin, ["wd", "port"], {}).groupby("wd").size().reindex(per.index).fillna(0).to_numpy()
        # flows seen in detail (a target is tracked in detail only once it is hot)
        per["dn"] = dwin.groupby("wd")["n"].sum().reindex(per.index).fillna(0).to_numpy()
        base = self.baseline.reindex(per["dst_h"].to_numpy())
        usual = base["mean"].to_numpy()
        trusted = base["nb"].fillna(0).to_numpy() >= self.min_history
        per_bucket = per["n"].to_numpy() / self.table.keep
        above = ~trusted | (per_bucket >= self.rate_factor * np.maximum(np.nan_to_num(usual), 1.0))
        k, f = per["k"].to_numpy(), per["f"].to_numpy()
        bad = np.divide(f, k, out=np.full(len(per), np.nan), where=k > 0)
        huge = (per["n"].to_numpy() >= self.unknown_factor * self.min_flows) & (trusted | np.isnan(bad))
        signs = (bad >= self.min_bad_share) | huge
        # one or a few sources spreading over many ports is a port scan (network.portscan), not a flood
        # ... unless it comes so fast that the target drowns anyway (random-port SYN floods look like scans)
        nports = per["nports"].to_numpy()
        scan_like = ((nports >= 0.5 * per["dn"].to_numpy()) | (nports >= 100)) & (per["nsrc"].to_numpy() < self.min_ddos_sources)
        rate = per["n"].to_numpy() / np.maximum(per["t1"].to_numpy() - per["t0"].to_numpy(), 1.0)
        ok = above & signs & ~(scan_like & ~huge & (rate < self.min_flood_rate))
        if not ok.any():
            return
        per["usual"] = np.where(trusted, usual, np.nan)
        hit = per[ok].sort_values(["win", "t0"])
        rows_of = dwin.groupby("wd", sort=False).indices if len(dwin) else {}
        win_of = win.groupby("wd", sort=False).indices
        for wd, row in hit.iterrows():
            rows = dwin.iloc[rows_of[wd]] if wd in rows_of else dwin.iloc[:0]
            buckets = win.iloc[win_of[wd]]
            self._observe(row["dst"], row, rows, buckets, row["usual"], source)

    def _observe(self, dst: str, row: pd.Series, rows: pd.DataFrame, buckets: pd.DataFrame, usual: float, source: str) -> None:
        n = float(row["n"])
        bad = row["f"] / row["k"] if row["k"] > 0 else np.nan
        half = row["h"] / row["hk"] if row["hk"] > 0 else np.nan
        if row["tcp"] >= 0.5 * n and not np.isnan(half) and half >= 0.5:
            kind, tech = "SYN flood", ("T1498", "T1498.001")
        elif row["udp"] >= 0.5 * n:
            kind, tech = "UDP flood", ("T1498", "T1498.001")
        elif row["icmp"] >= 0.5 * n:
            kind, tech = "ICMP flood", ("T1498", "T1498.001")
        else:
            kind, tech = "connection flood", ("T1499", "T1499.002")
        score = 0.35 + 0.35 * saturate(n / self.min_flows, 1.0) + 0.3 * (0.5 if np.isnan(bad) else bad)
        srcs = rows.groupby("src", sort=False)["n"].sum().nlargest(200)
        ports = rows.groupby("port", sort=False)["n"].sum().nlargest(20)
        ev = rows.sort_values("n", ascending=False)["id"].tolist()
        span = max(1.0, float(row["t1"] - row["t0"]))
        self.book.observe(
            dst, float(row["t0"]), float(row["t1"]),
            counts={int(b): int(c) for b, c in zip(buckets["bucket"], buckets["n"])},
            ids=ev,
            related={"sources": {str(k): float(v) for k, v in srcs.items()},
                     "ports": {port_label(p): float(v) for p, v in ports.items()}},
            peaks={"score": score, "flows": n, "rate": n / span, "pps": float(row["pk"]) / span,
                   "sources": float(row["nsrc"]), "bad": bad, "half_open": half},
            latest={"kind": kind, "tech": tech, "usual": usual, "window_flows": n, "window_span": span,
                    "bad_now": bad},
            source=source,
        )

    def _finding(self, inc: Incident) -> Finding:
        dst = str(inc.key)
        p, lt = inc.peaks, inc.latest
        nsrc = int(p.get("sources", 0))
        ddos = nsrc >= self.min_ddos_sources
        kind = str(lt.get("kind", "flood"))
        title = f"{'DDoS' if ddos else 'DoS'} {kind} against {dst}"
        srcs = inc.top("sources", 50)
        ports = [x for x in inc.top("ports", 10) if x != "?"]
        on = f" on port{'s' if len(ports) > 1 else ''} {few(ports, 3)}" if ports else ""
        bad = lt.get("bad_now", np.nan)
        expl = [f"{dst} received {inc.count:,} flows{on} from {nsrc:,}{'+' if nsrc >= self.detail.cap else ''} "
                f"source{'s' if nsrc != 1 else ''} in {human_span(inc.end - inc.start)}, "
                f"peaking at {p.get('rate', 0):,.0f} flows/s."]
        if not np.isnan(bad):
            what = "half-open SYNs that were never answered" if kind == "SYN flood" else "refused or unanswered"
            share = p.get("half_open", bad) if kind == "SYN flood" else bad
            expl.append(f"{share:.0%} of them were {what}.")
        usual = lt.get("usual", np.nan)
        if isinstance(usual, float) and not np.isnan(usual):
            per_min = usual * 60.0 / self.window
            expl.append(f"Its usual rate is about {per_min:,.1f} flows per minute.")
        expl.append(f"Top sources: {few(srcs, 3)}.")
        return self._make(
            inc, title=title, entity=dst, score=min(1.0, p.get("score", 0.5)), attack=list(lt.get("tech", ("T1498",))),
            explanation=expl,
            related={"sources": srcs, "ports": ports},
            attributes={"kind": kind, "distributed": int(ddos), "sources": nsrc,
                        "peak_flows_per_s": round(p.get("rate", 0.0), 2),
                        "peak_packets_per_s": round(p.get("pps", 0.0), 2),
                        "bad_share": round(float(bad), 4) if not np.isnan(bad) else "unknown"},
        )
