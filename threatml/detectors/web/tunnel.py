"""DNS tunneling and exfiltration: many unique, long, random subdomains of one registered domain.

A tunnel (iodine, dnscat2, dns2tcp, DNSExfiltrator, Cobalt Strike DNS)
carries data in the query name, so within a time window one registered
domain sees many *distinct* subdomains that are long and high in entropy,
often with TXT/NULL queries to carry the answers back. Ordinary names repeat
(caching) and are short. Per registered domain and ``window`` seconds this
detector counts queries, distinct subdomains, their mean length, longest
label, mean per-query entropy, the share of TXT/NULL/ANY/PRIVATE types and
how many distinct subdomains *look like encoded data* on their own
(:func:`encoded_query_scores`: long, far from English under a character
model, base32/base64/hex/base128 alphabets); a window is flagged when

* distinct subdomains >= ``min_unique`` and mean subdomain length >= ``min_mean_len``
  and mean entropy >= ``min_entropy``, or
* distinct subdomains >= ``min_unique`` and TXT/NULL-type share >= 0.5 and
  mean length >= ``min_mean_len`` / 2, or
* encoded distinct subdomains >= ``min_encoded`` (a lower volume than ``min_unique``).

Low-and-slow tunnels spread their queries so no window is flagged; a
registered domain whose windows hold ``slow_min_encoded`` encoded distinct
subdomains within ``slow_horizon`` (a day), at least half of its long
subdomains, is flagged too. One finding per registered domain (flagged
windows merged), naming the client hosts. Services that legitimately encode
data in names (DNS block lists, anti-virus reputation look-ups) are in
``allow`` (ATT&CK T1071.004, T1048.003).

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
from functools import lru_cache

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.web.textvec import as_arrow, byte_histograms, class_counts, entropy_from_hist, longest_run
from threatml.web.tld import split_hosts
from threatml.web.words import CharTrigramLM

TUNNEL_TYPES = frozenset({"TXT", "NULL", "ANY", "PRIVATE", "KEY", "10", "16", "255", "65399"})

#: services that put hashes or addresses in query names by design
DEFAULT_ALLOW = frozenset("""
spamhaus.org spamcop.net sorbs.net surbl.org uribl.com barracudacentral.org senderbase.org dnswl.org
mailspike.net abuseat.org sophosxl.net mcafee.com trendmicro.com e5.sk avast.com avcdn.net
cymru.com team-cymru.org shadowserver.org dnsbl.info junkemailfilter.com msftncsi.com
uceprotect.net manitu.net spameatingmonkey.net psbl.org blocklist.de abuse.ch invaluement.com spamrats.com
senderscore.com s5h.net nether.net bitdefender.net kaspersky-labs.com sophos.com webroot.com brightcloud.com
eset.com symantec.com norton.com f-secure.com fsapi.com zvelo.com
""".split())


@lru_cache(maxsize=1)
def english_lm() -> CharTrigramLM:
    """The English character model of the shipped ``dga-classifier`` (Python's pydoc text if it is missing)."""
    from threatml.errors import ThreatMLError
    from threatml.web.dga_model import DgaModel

    try:
        return DgaModel.english_lm()
    except (ThreatMLError, OSError):
        from threatml.web.words import count_words, stdlib_text

        counts = count_words(stdlib_text())
        words = list(counts)
        return CharTrigramLM.fit(words, np.log1p([counts[w] for w in words]))


_UPPER, _LOWER = bytes(range(65, 91)), bytes(range(97, 123))
#: bytes no host name label holds but base64/base128 encoders emit
_ODD = bytes(c for c in range(256) if not (chr(c).isascii() and (chr(c).isalnum() or chr(c) in "-_.")))
_HEX_RE = r"^[0-9a-f]{16,}$"


def encoded_query_scores(names, lm: CharTrigramLM | None = None) -> np.ndarray:
    """Per query, 0..1: how much its data part (left of the registered domain) looks like encoded bytes.

    ``length * clip(foreignness + alphabet)``: the data part must be long
    enough to carry data (0 at 16 characters, full from 32); foreignness is how
    far its characters fall below English under the character trigram model
    (0 at a mean log-probability of -3.3 per character, 1 at -4.1: English-like
    host names sit near -2.8, base32/base64 data near -4.6, hex near -4.0); the
    alphabet adds 0.6 for what encoders emit and names do not: mixed case in
    the data while the zone is not (base64; DNS 0x20 case randomisation mixes
    the whole name), ``+ / =`` or non-ASCII bytes (base64, base128), or hex
    only. Each hyphen takes a quarter off (encoders never emit one; machine
    host names such as ``ec2-1-2-3-4`` or GUIDs do). Work is vectorised over
    the batch, per unique name.

    >>> encoded_query_scores(["mail.google.com", "mx7f2kq4d3xjwb5nq2zs6vhk3pqarlte4b.t.example.net"]).round(2).tolist()
    [0.0, 1.0]
    """
    raw = pd.Series(list(names), dtype="object").fillna("").astype(str).str.strip().str.rstrip(".")
    codes, uniq = pd.factorize(raw)
    if not len(uniq):
        return np.zeros(len(raw))
    u = pd.Series(uniq, dtype="object")
    low = u.str.lower()
    hs = split_hosts(_splittable(low), private=True)
    return data_part_scores(*_data_and_zone(u, low, hs["subdomain"]), lm)[codes]


def _splittable(names: pd.Series) -> pd.Series:
    """Names the suffix splitter reads as host names: base64 data holds ``/``, which it takes for a path."""
    return names.str.replace(r"[/\\?#@:]", "_", regex=True)


def _data_and_zone(raw: pd.Series, low: pd.Series, sub: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The data part of each name in its own case, and whether its zone mixes case."""
    k = sub.str.len().to_numpy()
    same = (raw.str.len() == low.str.len()).to_numpy()  # lower-casing kept the length: slice the original
    data = pd.Series([r[:j] if ok else lw[:j] for r, lw, j, ok in zip(raw, low, k, same)], dtype="object")
    zone = pd.Series([r[j:] for r, j in zip(raw, k)], dtype="object")
    zone_mixed = (zone.str.contains("[A-Z]", regex=True) & zone.str.contains("[a-z]", regex=True)).to_numpy()
    return data, zone_mixed


def data_part_scores(data: pd.Series, zone_mixed: np.ndarray, lm: CharTrigramLM | None = None) -> np.ndarray:
    """:func:`encoded_query_scores` of data parts (the labels left of the registered domain, original case)."""
    flat = data.str.replace(".", "", regex=False)
    arr = as_arrow(flat)
    n = class_counts(arr, bytes(range(256)))
    up, lo = class_counts(arr, _UPPER), class_counts(arr, _LOWER)
    odd = class_counts(arr, _ODD)
    hyph = class_counts(arr, b"-")
    mixed = (up >= 2) & (lo >= 2) & ~zone_mixed
    low = flat.str.lower()
    hexy = low.str.contains(_HEX_RE, regex=True).to_numpy()
    alpha = 0.6 * (mixed | (odd > 0) | hexy)
    lm = lm if lm is not None else english_lm()
    mean = lm.score(as_arrow(low))["lm_mean"]
    foreign = np.clip((-mean - 3.3) / 0.8, 0.0, 1.0)
    length = np.clip((n - 16.0) / 16.0, 0.0, 1.0)
    return length * np.clip(foreign + alpha, 0.0, 1.0) * np.clip(1.0 - 0.25 * hyph, 0.0, 1.0)


@dataclass
class _Window:
    n: int = 0
    subs: set = field(default_factory=set)
    overflow: int = 0
    encoded: int = 0
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
    slow: bool = False

    def add(self, st: dict, score: float, w: _Window) -> None:
        self.windows.append((st, score))
        self.clients.update(w.clients)
        self.sources |= w.sources
        self.first, self.last = min(self.first, w.first), max(self.last, w.last)
        self.evidence.extend(w.evidence[:max(0, 100 - len(self.evidence))])
        if len(self.examples) < 3:
            self.examples.extend(w.examples[:3 - len(self.examples)])


class DnsTunnelDetector(Detector):
    """Windows per registered domain with many unique, long, random subdomains.

    Parameters (besides the window rule of the module text)
    ----------
    min_encoded: distinct subdomains scored as encoded data (:func:`encoded_query_scores`
        >= ``encoded_threshold``) that flag one window on their own.
    slow_min_encoded, slow_horizon: low-and-slow tunnels: a registered domain whose
        windows hold at least this many encoded distinct subdomains within
        ``slow_horizon`` seconds, at least half of its long subdomains, is flagged
        even when no single window is.
    lm: the English character model for the lexical score (default: the shipped DGA model's).
    """

    name = "web.dns-tunnel"
    version = "2"
    kinds = frozenset({"dns"})

    def __init__(self, window: float = 600.0, min_unique: int = 40, min_mean_len: float = 20.0,
                 min_entropy: float = 3.0, min_sub_len: int = 8, allow: frozenset[str] | None = None,
                 max_windows: int = 20_000, max_subs: int = 5000, min_encoded: int = 15,
                 encoded_threshold: float = 0.5, slow_min_encoded: int = 30, slow_horizon: float = 86_400.0,
                 max_slow: int = 20_000, lm: CharTrigramLM | None = None):
        self.window, self.min_unique, self.min_mean_len = window, min_unique, min_mean_len
        self.min_entropy, self.min_sub_len = min_entropy, min_sub_len
        self.allow = DEFAULT_ALLOW if allow is None else frozenset(allow)
        self.max_windows, self.max_subs = max_windows, max_subs
        self.min_encoded, self.encoded_threshold = min_encoded, encoded_threshold
        self.slow_min_encoded, self.slow_horizon, self.max_slow = slow_min_encoded, slow_horizon, max_slow
        self._lm = lm
        self._win: dict[tuple[str, int], _Window] = {}
        self._inc: dict[str, _Incident] = {}
        # registered domain -> windows below the window rule that held encoded names, (stats, window)
        self._slow: dict[str, list[tuple[dict, _Window, int]]] = {}
        self._bucket = -(10**12)

    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        if "dns.question.name" not in fr.columns or not len(fr):
            return []
        raw = fr["dns.question.name"].fillna("").astype("str").str.strip().str.rstrip(".")
        q = raw.str.lower()
        hs = split_hosts(_splittable(q), private=True)
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
        if self._lm is None:
            self._lm = english_lm()
        ri = raw.iloc[idx].reset_index(drop=True)
        enc = data_part_scores(*_data_and_zone(ri, q.iloc[idx].reset_index(drop=True), s), self._lm) \
            >= self.encoded_threshold
        ts = fr["@timestamp"].to_numpy(dtype=float)[idx]
        ts0 = np.where(np.isfinite(ts), ts, 0.0)
        bucket = np.floor(ts0 / self.window).astype(np.int64)
        qt = fr["dns.question.type"].fillna("").astype("str").str.upper().to_numpy()[idx] \
            if "dns.question.type" in fr.columns else np.full(len(idx), "")
        tt = np.isin(qt, list(TUNNEL_TYPES))
        d = pd.DataFrame({"reg": reg.iloc[idx].to_numpy(), "b": bucket, "sub": s.to_numpy(), "len": flat.str.len().to_numpy(),
                          "lab": lab, "ent": ent, "tt": tt, "t": ts0, "enc": enc,
                          "src": fr["source.ip"].astype("str").to_numpy()[idx],
                          "id": fr["event.id"].astype("str").to_numpy()[idx]})
        # one vectorised aggregation per batch; the loop below only merges per-window results
        keys = ["reg", "b"]
        agg = d.groupby(keys, sort=False).agg(n=("len", "size"), total=("len", "sum"), lab=("lab", "max"),
                                              ent=("ent", "sum"), tt=("tt", "sum"), t0=("t", "min"), t1=("t", "max"))
        rows = d.groupby(keys, sort=False).indices
        firsts = d.drop_duplicates(["reg", "b", "sub"])
        first_rows = firsts.groupby(keys, sort=False).indices
        f_sub, f_enc = firsts["sub"].to_numpy(), firsts["enc"].to_numpy()
        ids, subs, encs = d["id"].to_numpy(), d["sub"].to_numpy(), d["enc"].to_numpy()
        clients = d.groupby(["reg", "b", "src"], sort=False).size()
        touched = {}
        for (r, b), st in zip(agg.index, agg.itertuples(index=False)):
            w = self._win.get((r, b))
            if w is None:
                if len(self._win) >= self.max_windows:
                    continue
                w = self._win[(r, b)] = _Window()
            touched[(r, b)] = w
            w.n += int(st.n)
            pos = first_rows[(r, b)]
            cand = f_sub[pos]
            fresh = np.fromiter((x not in w.subs for x in cand), dtype=bool, count=len(cand))
            w.encoded += int(f_enc[pos][fresh].sum())
            new = cand[fresh]
            room = max(self.max_subs - len(w.subs), 0)
            if len(new) > room:
                w.overflow += len(new) - room
                new = new[:room]
            w.subs.update(new.tolist())
            w.total_len += float(st.total)
            w.max_label = max(w.max_label, float(st.lab))
            w.entropy_sum += float(st.ent)
            w.tunnel_types += int(st.tt)
            w.first, w.last = min(w.first, float(st.t0)), max(w.last, float(st.t1))
            if len(w.evidence) < 100 or len(w.examples) < 3:
                idx_w = rows[(r, b)]
                w.evidence.extend(ids[idx_w[:max(0, 100 - len(w.evidence))]].tolist())
                # encoded-looking names first: they are what the finding is about
                order = idx_w[np.argsort(~encs[idx_w], kind="stable")][:max(0, 3 - len(w.examples))]
                w.examples.extend(f"{x}.{r}" for x in subs[order])
            w.sources.add(batch.source)
        for (r, b, src), c in clients.items():
            w = touched.get((r, b))
            if w is not None and (src in w.clients or len(w.clients) < 50):
                w.clients[src] += int(c)
        return self._close_old(fr)

    def _close_old(self, fr: pd.DataFrame) -> list[Finding]:
        ts = fr["@timestamp"].to_numpy(dtype=float) if "@timestamp" in fr.columns else np.zeros(0)
        if len(ts) and np.isfinite(ts).any():
            self._bucket = max(self._bucket, int(np.floor(np.nanmax(ts) / self.window)))
        # a window is final once time is two windows past it (late records still land)
        for key in sorted(k for k in self._win if k[1] < self._bucket - 1):
            self._judge(key)
        horizon = self.slow_horizon / self.window
        for r in [r for r, ws in self._slow.items() if ws[-1][2] < self._bucket - horizon]:
            del self._slow[r]
        done = [r for r, inc in self._inc.items() if inc.last < (self._bucket - 2) * self.window]
        return self._emit(done)

    def window_stats(self, w: _Window) -> dict:
        unique = len(w.subs) + w.overflow
        return {"queries": w.n, "unique_subdomains": unique, "encoded_unique": w.encoded,
                "mean_length": w.total_len / max(w.n, 1), "longest_label": w.max_label,
                "mean_entropy": w.entropy_sum / max(w.n, 1), "tunnel_type_share": w.tunnel_types / max(w.n, 1)}

    @staticmethod
    def _score(st: dict) -> float:
        volume = max(min(1.0, st["unique_subdomains"] / 200), min(1.0, st["encoded_unique"] / 100))
        return 0.5 + 0.2 * volume + 0.2 * min(1.0, st["mean_length"] / 60) + 0.1 * st["tunnel_type_share"]

    def _judge(self, key: tuple[str, int]) -> None:
        w = self._win.pop(key)
        st = self.window_stats(w)
        enough = st["unique_subdomains"] >= self.min_unique
        shape = st["mean_length"] >= self.min_mean_len and st["mean_entropy"] >= self.min_entropy
        typed = st["tunnel_type_share"] >= 0.5 and st["mean_length"] >= self.min_mean_len / 2
        encoded = st["encoded_unique"] >= self.min_encoded
        inc = self._inc.get(key[0])
        if (enough and (shape or typed)) or encoded or (inc is not None and st["encoded_unique"]):
            # a domain already reported keeps collecting its encoded windows into the same finding
            self._inc.setdefault(key[0], _Incident()).add(st, self._score(st), w)
            return
        if st["encoded_unique"]:
            self._slow_add(key, st, w)

    def _slow_add(self, key: tuple[str, int], st: dict, w: _Window) -> None:
        r, b = key
        ws = self._slow.get(r)
        if ws is None:
            if len(self._slow) >= self.max_slow:
                return
            ws = self._slow[r] = []
        horizon = self.slow_horizon / self.window
        ws[:] = [x for x in ws if x[2] >= b - horizon][-int(horizon) - 1:]
        ws.append((st, w, b))
        enc = sum(x[0]["encoded_unique"] for x in ws)
        uniq = sum(x[0]["unique_subdomains"] for x in ws)
        if enc >= self.slow_min_encoded and enc >= 0.5 * uniq:
            inc = self._inc.setdefault(r, _Incident())
            inc.slow = True
            for st_i, w_i, _ in ws:
                inc.add(st_i, 0.5 + 0.2 * min(1.0, enc / 100) + 0.2 * min(1.0, st_i["mean_length"] / 60), w_i)
            del self._slow[r]

    def flush(self) -> list[Finding]:
        for key in sorted(self._win):
            self._judge(key)
        self._slow.clear()
        return self._emit(list(self._inc))

    def _emit(self, regs: list[str]) -> list[Finding]:
        out = []
        for r in regs:
            inc = self._inc.pop(r)
            best, score = max(inc.windows, key=lambda ws: ws[1])
            q = sum(st["queries"] for st, _ in inc.windows)
            uniq = sum(st["unique_subdomains"] for st, _ in inc.windows)
            enc = sum(st["encoded_unique"] for st, _ in inc.windows)
            clients = [c for c, _ in inc.clients.most_common(20)]
            expl = [
                f"{uniq} distinct subdomains of {r} in {len(inc.windows)} window(s) of {self.window:g} s "
                f"({q} queries), mean length {best['mean_length']:.0f} characters, mean entropy "
                f"{best['mean_entropy']:.2f} bits per character: data carried in DNS names",
                f"{enc} of them look like encoded data (long, unlike English, base32/base64/hex alphabets)"
                + (f", spread thinly over up to {self.slow_horizon / 3600:g} h: a low-and-slow tunnel" if inc.slow else ""),
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
                attributes={"queries": q, "unique_subdomains": uniq, "encoded_subdomains": enc,
                            "windows": len(inc.windows), "low_and_slow": inc.slow,
                            "mean_length": round(best["mean_length"], 1), "mean_entropy": round(best["mean_entropy"], 3),
                            "tunnel_type_share": round(best["tunnel_type_share"], 3)}))
        return out
