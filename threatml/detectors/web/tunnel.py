"""DNS tunneling and exfiltration: many unique, long, random subdomains of one registered domain.

A tunnel (iodine, dnscat2, dns2tcp, DNSExfiltrator, Cobalt Strike DNS)
carries data in the query name, so within a time window one registered
domain sees many *distinct* subdomains that are long and high in entropy,
often with TXT/NULL queries to carry the answers back. Ordinary names repeat
(caching) and are short. Per registered domain and ``window`` seconds this
detector counts queries, distinct subdomains, their mean length, longest
label, mean per-query entropy and the share of TXT/NULL/ANY/PRIVATE types; a
window is flagged when

* distinct subdomains >= ``min_unique`` and mean subdomain length >= ``min_mean_len``
  and mean entropy >= ``min_entropy``, or
* distinct subdomains >= ``min_unique`` and TXT/NULL-type share >= 0.5 and
  mean length >= ``min_mean_len`` / 2.

One finding per registered domain (flagged windows merged), naming the client
hosts. Services that legitimately encode data in names (DNS block lists,
anti-virus reputation look-ups) are in ``allow`` (ATT&CK T1071.004, T1048.003).

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> names = [f"{i:04x}a9f3c2e7b1d0{i * 7919 % 65536:04x}e5c8b2a7f1d3.t.evil-tunnel.com" for i in range(300)]
>>> fr = pd.DataFrame({"@timestamp": [float(i) for i in range(300)], "source.ip": ["10.0.0.8"] * 300,
...                    "dns.question.name": names, "dns.question.type": ["TXT"] * 300})
>>> det = DnsTunnelDetector()
>>> [(f.entity, f.attributes["unique_subdomains"]) for f in det.process(EventBatch.of("dns", fr)) + det.flush()]
[('evil-tunnel.com', 300)]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.web.textvec import as_arrow, byte_histograms, entropy_from_hist, longest_run
from threatml.web.tld import split_hosts

TUNNEL_TYPES = frozenset({"TXT", "NULL", "ANY", "PRIVATE", "KEY", "10", "16", "255", "65399"})

#: services that put hashes or addresses in query names by design
DEFAULT_ALLOW = frozenset("""
spamhaus.org spamcop.net sorbs.net surbl.org uribl.com barracudacentral.org senderbase.org dnswl.org
mailspike.net abuseat.org sophosxl.net mcafee.com trendmicro.com e5.sk avast.com avcdn.net
cymru.com team-cymru.org shadowserver.org dnsbl.info junkemailfilter.com msftncsi.com
""".split())


@dataclass
class _Window:
    n: int = 0
    subs: set = field(default_factory=set)
    overflow: int = 0
    total_len: float = 0.0
    max_label: float = 0.0
    entropy_sum: float = 0.0
    tunnel_types: int = 0
    clients: Counter = field(default_factory=Counter)
    first: float = np.inf
    last: float = -np.inf
    evidence: list = field(default_factory=list)
    sources: set = field(default_factory=set)
    examples: list = field(default_factory=list)


@dataclass
class _Incident:
    windows: list = field(default_factory=list)  # (stats dict, score)
    clients: Counter = field(default_factory=Counter)
    evidence: list = field(default_factory=list)
    sources: set = field(default_factory=set)
    examples: list = field(default_factory=list)
    first: float = np.inf
    last: float = -np.inf


class DnsTunnelDetector(Detector):
    """Windows per registered domain with many unique, long, random subdomains."""

    name = "web.dns-tunnel"
    version = "1"
    kinds = frozenset({"dns"})

    def __init__(self, window: float = 600.0, min_unique: int = 40, min_mean_len: float = 20.0,
                 min_entropy: float = 3.0, min_sub_len: int = 8, allow: frozenset[str] | None = None,
                 max_windows: int = 20_000, max_subs: int = 5000):
        self.window, self.min_unique, self.min_mean_len = window, min_unique, min_mean_len
        self.min_entropy, self.min_sub_len = min_entropy, min_sub_len
        self.allow = DEFAULT_ALLOW if allow is None else frozenset(allow)
        self.max_windows, self.max_subs = max_windows, max_subs
        self._win: dict[tuple[str, int], _Window] = {}
        self._inc: dict[str, _Incident] = {}
        self._bucket = -(10**12)

    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        if "dns.question.name" not in fr.columns or not len(fr):
            return []
        q = fr["dns.question.name"].fillna("").astype("str").str.lower().str.rstrip(".")
        hs = split_hosts(q)
        sub = hs["subdomain"].astype("str")
        reg = hs["registered"].astype("str")
        long_sub = (sub.str.len() >= self.min_sub_len) & (hs["suffix"] != "") & ~reg.isin(self.allow)
        if not long_sub.any():
            return self._close_old(fr)
        idx = np.flatnonzero(long_sub.to_numpy())
        s = sub.iloc[idx].reset_index(drop=True)
        flat = s.str.replace(".", "", regex=False)
        arr = as_arrow(flat)
        ent = entropy_from_hist(byte_histograms(arr))
        lab = longest_run(as_arrow(s), b".")
        ts = fr["@timestamp"].to_numpy(dtype=float)[idx]
        ts0 = np.where(np.isfinite(ts), ts, 0.0)
        bucket = np.floor(ts0 / self.window).astype(np.int64)
        qt = fr["dns.question.type"].fillna("").astype("str").str.upper().to_numpy()[idx] \
            if "dns.question.type" in fr.columns else np.full(len(idx), "")
        tt = np.isin(qt, list(TUNNEL_TYPES))
        d = pd.DataFrame({"reg": reg.iloc[idx].to_numpy(), "b": bucket, "sub": s.to_numpy(), "len": flat.str.len().to_numpy(),
                          "lab": lab, "ent": ent, "tt": tt, "t": ts0,
                          "src": fr["source.ip"].astype("str").to_numpy()[idx],
                          "id": fr["event.id"].astype("str").to_numpy()[idx]})
        for (r, b), g in d.groupby(["reg", "b"], sort=False):
            w = self._win.get((r, b))
            if w is None:
                if len(self._win) >= self.max_windows:
                    continue
                w = self._win[(r, b)] = _Window()
            w.n += len(g)
            new = set(g["sub"].unique()) - w.subs
            room = self.max_subs - len(w.subs)
            if len(new) > room:
                w.overflow += len(new) - max(room, 0)
                new = set(list(new)[:max(room, 0)])
            w.subs |= new
            w.total_len += float(g["len"].sum())
            w.max_label = max(w.max_label, float(g["lab"].max()))
            w.entropy_sum += float(g["ent"].sum())
            w.tunnel_types += int(g["tt"].sum())
            w.clients.update(g["src"].value_counts().head(20).to_dict())
            w.first, w.last = min(w.first, float(g["t"].min())), max(w.last, float(g["t"].max()))
            if len(w.evidence) < 100:
                w.evidence.extend(g["id"].head(100 - len(w.evidence)).tolist())
            if len(w.examples) < 3:
                w.examples.extend(g["sub"].head(3 - len(w.examples)).map(lambda x: f"{x}.{r}").tolist())
            w.sources.add(batch.source)
        return self._close_old(fr)

    def _close_old(self, fr: pd.DataFrame) -> list[Finding]:
        ts = fr["@timestamp"].to_numpy(dtype=float) if "@timestamp" in fr.columns else np.zeros(0)
        if len(ts) and np.isfinite(ts).any():
            self._bucket = max(self._bucket, int(np.floor(np.nanmax(ts) / self.window)))
        # a window is final once time is two windows past it (late records still land)
        for key in [k for k in self._win if k[1] < self._bucket - 1]:
            self._judge(key)
        done = [r for r, inc in self._inc.items() if inc.last < (self._bucket - 2) * self.window]
        return self._emit(done)

    def window_stats(self, w: _Window) -> dict:
        unique = len(w.subs) + w.overflow
        return {"queries": w.n, "unique_subdomains": unique, "mean_length": w.total_len / max(w.n, 1),
                "longest_label": w.max_label, "mean_entropy": w.entropy_sum / max(w.n, 1),
                "tunnel_type_share": w.tunnel_types / max(w.n, 1)}

    def _judge(self, key: tuple[str, int]) -> None:
        w = self._win.pop(key)
        st = self.window_stats(w)
        enough = st["unique_subdomains"] >= self.min_unique
        shape = st["mean_length"] >= self.min_mean_len and st["mean_entropy"] >= self.min_entropy
        typed = st["tunnel_type_share"] >= 0.5 and st["mean_length"] >= self.min_mean_len / 2
        if not (enough and (shape or typed)):
            return
        score = (0.5 + 0.2 * min(1.0, st["unique_subdomains"] / 200) + 0.2 * min(1.0, st["mean_length"] / 60)
                 + 0.1 * st["tunnel_type_share"])
        inc = self._inc.setdefault(key[0], _Incident())
        inc.windows.append((st, score))
        inc.clients.update(w.clients)
        inc.sources |= w.sources
        inc.first, inc.last = min(inc.first, w.first), max(inc.last, w.last)
        inc.evidence.extend(w.evidence[:max(0, 100 - len(inc.evidence))])
        if len(inc.examples) < 3:
            inc.examples.extend(w.examples[:3 - len(inc.examples)])

    def flush(self) -> list[Finding]:
        for key in list(self._win):
            self._judge(key)
        return self._emit(list(self._inc))

    def _emit(self, regs: list[str]) -> list[Finding]:
        out = []
        for r in regs:
            inc = self._inc.pop(r)
            best, score = max(inc.windows, key=lambda ws: ws[1])
            q = sum(st["queries"] for st, _ in inc.windows)
            uniq = sum(st["unique_subdomains"] for st, _ in inc.windows)
            clients = [c for c, _ in inc.clients.most_common(20)]
            expl = [
                f"{uniq} distinct subdomains of {r} in {len(inc.windows)} window(s) of {self.window:g} s "
                f"({q} queries), mean length {best['mean_length']:.0f} characters, mean entropy "
                f"{best['mean_entropy']:.2f} bits per character: data carried in DNS names",
                f"longest label {best['longest_label']:.0f} characters; TXT/NULL-type share "
                f"{best['tunnel_type_share']:.0%}",
                f"queried by {', '.join(clients[:5])}" + (" and others" if len(clients) > 5 else ""),
                "examples: " + ", ".join(inc.examples),
            ]
            out.append(Finding.make(
                detector=self.name, detector_version=self.version, title=f"DNS tunneling via {r}",
                start=inc.first, end=inc.last, entity_type="domain", entity=r, score=min(score, 1.0),
                attack=["T1071.004", "T1048.003"], evidence=inc.evidence, explanation=expl,
                related={"source.ip": clients, "host": clients, "domain": [r]}, source_files=sorted(inc.sources),
                attributes={"queries": q, "unique_subdomains": uniq, "windows": len(inc.windows),
                            "mean_length": round(best["mean_length"], 1), "mean_entropy": round(best["mean_entropy"], 3),
                            "tunnel_type_share": round(best["tunnel_type_share"], 3)}))
        return out
