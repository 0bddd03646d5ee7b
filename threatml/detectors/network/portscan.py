"""Port scans and host sweeps: one source probing many (host, port) pairs.

Three shapes, told apart by counting distinct probe targets per source within
a sliding window (the current and the previous ``window``):

* **vertical** — one source, one destination, many ports (``min_ports``);
* **horizontal** — one source, one port, many destinations (``min_hosts``);
* **sweep** — one source, many destinations by ICMP echo/timestamp requests,
  or by any mix of ports when most attempts failed.

Failure (refused, unanswered, reset without data; see :func:`flow_view`) is what
separates a scan from a busy client: browsers reach many hosts on 443 but get
answers. Needs ``source.ip``, ``destination.ip``, ``destination.port``,
``network.transport``; uses ``flow.state`` or, without it, responder
packets/bytes for failure. When a source tells neither, the failure share is
unknown and a shape must reach ``unknown_factor`` times its threshold.

Score: ``0.3 + 0.4 * saturate(breadth) + 0.3 * failure_share`` where breadth
is the largest ratio of a distinct count to its threshold and an unknown
failure share counts 0.5. ATT&CK T1046; T1595/T1595.001 added when the scanner
is outside the internal networks.

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> fr = pd.DataFrame({"@timestamp": [float(i) for i in range(100)], "source.ip": ["10.0.0.5"] * 100,
...     "destination.ip": ["10.0.0.9"] * 100, "destination.port": [float(p) for p in range(1, 101)],
...     "network.transport": ["tcp"] * 100, "flow.state": ["REJ"] * 100, "event.id": [str(i) for i in range(100)]})
>>> det = PortScanDetector()
>>> [(f.title, f.entity) for f in det.process(EventBatch.of("flow", fr)) + det.flush()]
[('Vertical port scan of 10.0.0.9', '10.0.0.5')]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from threatml.detectors.network.window import (
    AddressClassifier,
    Incident,
    WindowedDetector,
    WindowTable,
    agg_by,
    as_key,
    bucket_of,
    combine,
    group_size,
    group_sum,
    few,
    human_span,
    saturate,
)
from threatml.findings import Finding

#: ICMP types that are requests a scanner sends (echo, timestamp, information, address mask)
ICMP_PROBE_TYPES = (8.0, 13.0, 15.0, 17.0, 128.0)
ICMP_KEY = as_key(pd.Series(["icmp"], dtype="str"))[0]

_AGG = {"src_h": "first", "dst_h": "first", "src": "first", "dst": "first", "port": "first", "proto": "first",
        "proto_h": "first",
        "n": "sum", "f": "sum", "k": "sum", "t0": "min", "t1": "max", "id": "first"}


class PortScanDetector(WindowedDetector):
    """Vertical and horizontal port scans and host sweeps, one finding per scanning incident.

    Parameters
    ----------
    window: seconds per window; thresholds apply to the current plus previous window.
    min_ports: distinct ports on one host for a vertical scan.
    min_hosts: distinct hosts on one port (horizontal) or overall (sweep).
    min_fail: share of failed attempts a scan must show (when the source tells).
    unknown_factor: threshold multiplier when the failure share is unknown.
    gap: quiet seconds that close an incident (default two windows).
    max_targets_per_source: distinct (host, port, transport) rows kept per source and window.
    internal_networks: extra CIDRs counted as internal (for the T1595 tag).
    ignore_sources: addresses never reported (e.g. the vulnerability scanner).
    """

    name = "network.portscan"
    version = "1"

    def __init__(
        self,
        window: float = 300.0,
        min_ports: int = 25,
        min_hosts: int = 20,
        min_fail: float = 0.6,
        unknown_factor: float = 3.0,
        gap: float | None = None,
        max_targets_per_source: int = 20_000,
        internal_networks: tuple[str, ...] = (),
        ignore_sources: tuple[str, ...] = (),
        max_open: int = 50_000,
    ):
        super().__init__(window=window, gap=gap, max_open=max_open)
        self.book.max_related = 5_000
        self.min_ports, self.min_hosts = int(min_ports), int(min_hosts)
        self.min_fail, self.unknown_factor = float(min_fail), float(unknown_factor)
        self.ignore_sources = frozenset(ignore_sources)
        self.nets = AddressClassifier(extra=internal_networks)
        self.table = WindowTable(_AGG, window=self.window, cap_by="src_h", cap=max_targets_per_source)

    # -- batch -> window ---------------------------------------------------
    def _reduce(self, fv: pd.DataFrame) -> pd.DataFrame | None:
        is_icmp = fv["is_icmp"].to_numpy()
        dport, sport = fv["dport"].to_numpy(), fv["sport"].to_numpy()
        # ICMP: the type may sit in either port column depending on the source; replies are not probes
        icmp_probe = is_icmp & (np.isin(dport, ICMP_PROBE_TYPES) | np.isin(sport, ICMP_PROBE_TYPES)
                                | (np.isnan(dport) & np.isnan(sport)))
        keep = fv["pair_ok"].to_numpy() & np.where(is_icmp, icmp_probe, ~np.isnan(dport))
        if self.ignore_sources:
            keep &= ~fv["src"].isin(self.ignore_sources).to_numpy()
        if not keep.any():
            return None
        failed = fv["failed"].to_numpy()[keep]
        ts = fv["ts"].to_numpy()[keep]
        red = {
            "bucket": bucket_of(ts, self.window),
            "src_h": fv["src_h"].to_numpy()[keep], "dst_h": fv["dst_h"].to_numpy()[keep],
            "src": fv["src"].to_numpy()[keep], "dst": fv["dst"].to_numpy()[keep],
            "port": np.where(is_icmp, -1.0, dport)[keep],
            "proto": np.where(is_icmp, "icmp", fv["proto"].to_numpy())[keep].astype(object),
            "proto_h": np.where(is_icmp, ICMP_KEY, fv["proto_h"].to_numpy())[keep],
            "n": np.ones(int(keep.sum()), dtype="int64"),
            "f": np.nan_to_num(failed, nan=0.0), "k": (~np.isnan(failed)).astype("float64"),
            "t0": ts, "t1": ts, "id": fv["id"].to_numpy()[keep],
        }
        red["key"] = combine(red["src_h"], red["dst_h"], red["port"], red["proto_h"])
        return agg_by(red, ["bucket", "key"], _AGG)

    def _passes(self, count: np.ndarray, f: np.ndarray, k: np.ndarray, threshold: float) -> np.ndarray:
        share = np.divide(f, k, out=np.zeros_like(f, dtype="float64"), where=k > 0)
        return (count >= threshold) & np.where(k > 0, share >= self.min_fail, count >= threshold * self.unknown_factor)

    def _consume(self, fv: pd.DataFrame, source: str) -> None:
        self.table.update(self._reduce(fv))
        st = self.table.state
        if st is None or st.empty:
            return
        # pre-filter on the whole table: a source can only pass with enough failed (or unknown, or
        # ICMP) probe rows; busy but healthy clients stop here
        sus = ((st["f"].to_numpy() > 0) | (st["k"].to_numpy() == 0) | (st["port"].to_numpy() < 0)).astype("float64")
        need = min(self.min_fail, 1.0) * min(self.min_ports, self.min_hosts)
        cand = group_sum(sus, st["src_h"]) >= need
        win = self.table.windows(st[cand]) if cand.any() else st.iloc[:0]
        self.table.prune(self.now)
        if win.empty:
            return
        # cheap pre-filter: a source needs at least min(min_ports, min_hosts) distinct rows in a window
        size = group_size(win["win"], win["src_h"])
        sub = win[size >= min(self.min_ports, self.min_hosts)]
        if sub.empty:
            return
        pairs = agg_by(sub, ["win", "key"], {c: v for c, v in _AGG.items() if c != "key"})
        pairs["ws"] = combine(pairs["win"], pairs["src_h"])
        ports = pairs[pairs["port"].to_numpy() >= 0]
        sums = {"n": "size", "f": "sum", "k": "sum"}
        by_host = agg_by(ports, ["ws", "dst_h"], {"dst": "first", **sums})
        vertical = by_host[self._passes(by_host["n"].to_numpy(), by_host["f"].to_numpy(), by_host["k"].to_numpy(), self.min_ports)]
        by_port = agg_by(ports, ["ws", "port", "proto_h"], {"proto": "first", **sums})
        horizontal = by_port[self._passes(by_port["n"].to_numpy(), by_port["f"].to_numpy(), by_port["k"].to_numpy(), self.min_hosts)]

        nh = agg_by(pairs, ["ws", "dst_h"], {}).groupby("ws", sort=False).size()
        icmp_h = agg_by(pairs[pairs["proto"] == "icmp"], ["ws", "dst_h"], {}).groupby("ws", sort=False).size()
        per_src = pairs.groupby("ws", sort=False).agg(win=("win", "first"), src=("src", "first"), f=("f", "sum"),
                                                      k=("k", "sum"), t0=("t0", "min"), t1=("t1", "max"))
        per_src["nh"] = nh.reindex(per_src.index).fillna(0).to_numpy()
        per_src["icmp_hosts"] = icmp_h.reindex(per_src.index).fillna(0).to_numpy()
        s_ok = (per_src["icmp_hosts"].to_numpy() >= self.min_hosts) | self._passes(
            per_src["nh"].to_numpy(), per_src["f"].to_numpy(), per_src["k"].to_numpy(), self.min_hosts)
        v_set, h_set = set(vertical["ws"]), set(horizontal["ws"])
        s_set = set(per_src.index[s_ok])
        flagged = v_set | h_set | s_set
        if not flagged:
            return
        per_src = per_src.loc[list(flagged)].sort_values(["win", "t0"])  # incidents grow forward in time
        sub_ws = combine(sub["win"], sub["src_h"])
        mask = np.isin(sub_ws, list(flagged))
        counts = pd.DataFrame({"ws": sub_ws[mask], "b": sub["bucket"].to_numpy()[mask], "n": sub["n"].to_numpy()[mask]})
        counts = counts.groupby(["ws", "b"])["n"].sum()
        rows_of = pairs.groupby("ws", sort=False).indices
        v_of = vertical.groupby("ws", sort=False).indices
        h_of = horizontal.groupby("ws", sort=False).indices
        for ws, tot in per_src.iterrows():
            self._observe(tot["src"], pairs.iloc[rows_of[ws]], tot, counts.loc[ws],
                          vertical.iloc[v_of[ws]] if ws in v_set else None,
                          horizontal.iloc[h_of[ws]] if ws in h_set else None, ws in s_set, source)

    def _observe(self, src: str, rows: pd.DataFrame, tot: pd.Series, counts: pd.Series,
                 vertical: pd.DataFrame | None, horizontal: pd.DataFrame | None, sweep: bool, source: str) -> None:
        fail = tot["f"] / tot["k"] if tot["k"] > 0 else np.nan
        ratios = [tot["nh"] / self.min_hosts if sweep else 0.0]
        if vertical is not None:
            ratios.append(vertical["n"].max() / self.min_ports)
        if horizontal is not None:
            ratios.append(horizontal["n"].max() / self.min_hosts)
        score = 0.3 + 0.4 * saturate(max(ratios), 1.0) + 0.3 * (0.5 if np.isnan(fail) else fail)
        tcpudp = rows[rows["port"].to_numpy() >= 0]
        targets = rows.groupby("dst", sort=False)["n"].size()
        port_hosts = tcpudp.groupby(["port", "proto"], sort=False)["dst"].size()
        peaks = {
            "score": score,
            "pairs": float(len(tcpudp)),
            "hosts": float(tot["nh"]),
            "ports": float(tcpudp["port"].nunique()),
            "icmp_hosts": float(tot["icmp_hosts"]),
            "vertical": 1.0 if vertical is not None else 0.0,
            "horizontal": 1.0 if horizontal is not None else 0.0,
            "sweep": 1.0 if sweep else 0.0,
        }
        latest = {"fail": fail, "f": float(tot["f"]), "k": float(tot["k"])}
        if vertical is not None:
            top = vertical.loc[vertical["n"].idxmax()]
            latest["v_host"] = str(top["dst"])
            peaks["max_ports_one_host"] = float(top["n"])
        if horizontal is not None:
            top = horizontal.loc[horizontal["n"].idxmax()]
            latest["h_port"] = f"{int(top['port'])}/{top['proto']}"
            peaks["max_hosts_one_port"] = float(top["n"])
        # failed probes are the most telling evidence, so they go first
        ev = rows.sort_values("f", ascending=False)["id"].tolist()
        self.book.observe(
            src, float(tot["t0"]), float(tot["t1"]),
            counts={int(b): int(c) for b, c in counts.items()},
            ids=ev,
            related={"targets": {str(k): float(v) for k, v in targets.items()},
                     "ports": {f"{int(p)}/{pr}": float(v) for (p, pr), v in port_hosts.items()}},
            peaks=peaks, latest=latest, source=source,
        )

    # -- incident -> finding ----------------------------------------------
    def _finding(self, inc: Incident) -> Finding:
        src = str(inc.key)
        p, lt = inc.peaks, inc.latest
        hosts = inc.top("targets", 5_000)
        ports = inc.top("ports", 5_000)
        n_hosts = max(len(hosts), int(p.get("hosts", 0)))
        n_ports = max(len(ports), int(p.get("ports", 0)))
        span = human_span(inc.end - inc.start)
        fail = lt.get("fail", np.nan)
        fail_txt = "" if np.isnan(fail) else f"; {fail:.0%} were refused or unanswered"
        shapes = [s for s in ("vertical", "horizontal", "sweep") if p.get(s)]
        expl: list[str] = []
        if p.get("vertical") and p.get("horizontal"):
            title = f"Port scan of {n_hosts:,} hosts and {n_ports:,} ports"
            expl.append(f"{src} probed {int(p['pairs']):,} host/port pairs ({n_ports:,} ports on {n_hosts:,} hosts) in {span}{fail_txt}.")
        elif p.get("vertical"):
            host = lt.get("v_host") or hosts[0]
            title = f"Vertical port scan of {host}" if n_hosts == 1 else f"Vertical port scan of {host} and {n_hosts - 1:,} more hosts"
            expl.append(f"{src} tried {int(p.get('max_ports_one_host', n_ports)):,} ports on {host} in {span}{fail_txt}.")
        elif p.get("horizontal"):
            title = f"Horizontal scan of port {lt.get('h_port', '?')}"
            expl.append(f"{src} probed port {lt.get('h_port', '?')} on {int(p.get('max_hosts_one_port', n_hosts)):,} hosts in {span}{fail_txt}.")
        else:
            how = "ICMP echo" if p.get("icmp_hosts", 0) >= self.min_hosts else "connection attempts"
            title = f"Host sweep of {n_hosts:,} hosts"
            expl.append(f"{src} swept {n_hosts:,} hosts with {how} in {span}{fail_txt}.")
        expl.append(f"Targets include {few(hosts)}." if len(hosts) > 1 else f"Ports include {few(ports, 8)}.")
        if len(hosts) > 1 and ports:
            expl.append(f"Ports include {few(ports, 8)}.")
        external = not self.nets.internal(pd.Series([src]))[0]
        attack = ["T1046"] + (["T1595", "T1595.001"] if external else [])
        return self._make(
            inc, title=title, entity=src, score=min(1.0, p.get("score", 0.5)), attack=attack,
            explanation=expl,
            related={"targets": hosts[:100], "ports": ports[:100]},
            attributes={"shape": "+".join(shapes), "hosts": n_hosts, "ports": n_ports,
                        "host_port_pairs": int(p.get("pairs", 0)),
                        "failed_share": round(float(fail), 4) if not np.isnan(fail) else "unknown"},
        )
