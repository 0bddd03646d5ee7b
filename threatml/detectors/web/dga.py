"""Hosts that look up machine-generated (DGA) domain names.

Names come from DNS questions, TLS SNI and HTTP Host headers. Each distinct
registered domain is scored once by the DGA classifier (default: the shipped
``dga-classifier``, loaded on the first batch); a client is reported when it
touched at least ``min_domains`` distinct registered domains scoring above the
model's alert threshold, one finding per client and likely family, not one per
query. Requiring several names is what keeps precision on real traffic: a
lone odd-looking CDN or cloud host name is common, a host resolving a batch of
generated names is the DGA behaviour (ATT&CK T1568.002). Most names a DGA
tries are never registered, so when none of a client's flagged names answered
NXDOMAIN (they all resolved, or the events carry no answer: TLS SNI, HTTP
Host) it takes ``min_domains_resolved`` of them first looked up within
``burst`` seconds: long-tail legitimate sites made of several words are what
a word-list prior flags now and then, and those resolve, one now and then.

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> det = DgaDetector(score_fn=lambda names: [0.99 if "qx" in n else 0.01 for n in names], threshold=0.5)
>>> fr = pd.DataFrame({"source.ip": ["10.0.0.7"] * 4, "@timestamp": [1.0, 2.0, 3.0, 4.0],
...     "dns.question.name": ["qxa1.com", "qxb2.net", "qxc3.org", "www.python.org"], "event.id": list("abcd"),
...     "dns.response_code": ["NXDOMAIN", "NXDOMAIN", "NOERROR", "NOERROR"]})
>>> [(f.entity, f.attributes["domains"]) for f in det.process(EventBatch.of("dns", fr)) + det.flush()]
[('10.0.0.7', 3)]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from threatml.detectors.base import Detector
from threatml.detectors.web.names import ScoreCache, names_of
from threatml.events import EventBatch
from threatml.findings import Finding


@dataclass
class _Campaign:
    first: float = np.inf
    last: float = -np.inf
    domains: dict = field(default_factory=dict)  # registered -> (score, family, nxdomain, name)
    evidence: list = field(default_factory=list)
    queries: int = 0
    sources: set = field(default_factory=set)


class DgaDetector(Detector):
    """Per client host, distinct registered domains the DGA model flags.

    Parameters
    ----------
    model: DGA model folder or name (default: the shipped ``dga-classifier``).
    min_domains: distinct flagged registered domains before a client is reported.
    min_domains_resolved, burst: when none of them answered NXDOMAIN, this many first looked up
        within ``burst`` seconds (a DGA tries its candidates in a burst; a browsing user meets an
        odd-looking legitimate site now and then).
    threshold: score above which a name counts (default: the model's alert threshold).
    gap: quiet seconds after which a client's campaign is closed and reported.
    max_clients, max_domains: bounds on the state kept.
    score_fn: a replacement scoring function (names -> scores), for tests and other models.
    """

    name = "web.dga"
    version = "2"
    kinds = frozenset({"dns", "tls", "http"})

    def __init__(self, model=None, min_domains: int = 3, threshold: float | None = None, gap: float = 3600.0,
                 max_clients: int = 50_000, max_domains: int = 200, score_fn=None, min_domains_resolved: int = 8,
                 burst: float = 600.0):
        self.model_ref, self.min_domains, self.threshold, self.gap = model, min_domains, threshold, gap
        self.min_domains_resolved, self.burst = max(min_domains, min_domains_resolved), burst
        self.max_clients, self.max_domains = max_clients, max_domains
        self._score_fn, self._model = score_fn, None
        self._cache = ScoreCache()
        self._open: dict[str, _Campaign] = {}
        self._now = -np.inf

    def _load(self) -> None:
        if self._score_fn is None and self._model is None:
            from threatml.web.dga_model import DgaModel

            self._model = DgaModel.load(self.model_ref)
            self._score_fn = self._model.score_samples
        if self.threshold is None:
            self.threshold = max(0.5, float(self._model.threshold_)) if self._model is not None else 0.5

    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        names = names_of(fr, batch.kind)
        keep = (names != "").to_numpy()
        if not keep.any():
            return []
        self._load()
        from threatml.web.domains import registered_labels

        names = names[keep].reset_index(drop=True)
        sub = fr.loc[keep].reset_index(drop=True)
        rl = registered_labels(names.tolist())
        reg = rl["registered"].to_numpy(dtype=object)
        scores = self._cache.scores(reg, lambda items: self._score_fn(list(items)))
        hit = scores >= self.threshold
        ts = sub["@timestamp"].to_numpy(dtype=float)
        if len(ts) and np.isfinite(ts).any():
            self._now = max(self._now, float(np.nanmax(ts)))
        if hit.any():
            rc = sub["dns.response_code"].astype("str").to_numpy() if "dns.response_code" in sub else np.full(len(sub), "")
            src = sub["source.ip"].astype("str").to_numpy()
            ids = sub["event.id"].astype("str").to_numpy()
            for i in np.flatnonzero(hit):
                self._add(src[i] or "unknown", reg[i], names.iloc[i], float(scores[i]), ts[i], ids[i],
                          rc[i].upper() == "NXDOMAIN", batch.source)
        return self._expire()

    def _add(self, client, reg, name, score, t, eid, nx, source) -> None:
        c = self._open.get(client)
        if c is None:
            if len(self._open) >= self.max_clients:
                return
            c = self._open[client] = _Campaign()
        if np.isfinite(t):
            c.first, c.last = min(c.first, t), max(c.last, t)
        c.queries += 1
        c.sources.add(source)
        if reg not in c.domains and len(c.domains) < self.max_domains:
            c.domains[reg] = (score, nx, name, t)
        elif reg in c.domains and nx and not c.domains[reg][1]:
            c.domains[reg] = (c.domains[reg][0], True, *c.domains[reg][2:])
        if len(c.evidence) < 100:
            c.evidence.append(eid)

    def _expire(self) -> list[Finding]:
        if not np.isfinite(self._now):
            return []
        done = [k for k, c in self._open.items() if np.isfinite(c.last) and c.last < self._now - self.gap]
        return self._emit(done)

    def flush(self) -> list[Finding]:
        return self._emit(list(self._open))

    def _densest(self, times: list[float]) -> int:
        """Most first sightings within any ``burst`` seconds (all of them when times are unknown)."""
        t = np.sort(np.asarray(times, dtype=float))
        if not len(t) or not np.isfinite(t).all():
            return len(t)
        return int((np.searchsorted(t, t + self.burst, side="right") - np.arange(len(t))).max())

    def _families(self, regs: list[str]) -> tuple[str, float]:
        if self._model is None or self._model.family_booster_ is None:
            return "", 0.0
        fam, p = self._model.predict_family(regs)
        votes = Counter(f for f, q in zip(fam, p) if q >= 0.6)
        if not votes:
            return "", 0.0
        f, n = votes.most_common(1)[0]
        return self._model.family_text(str(f)), n / len(regs)

    def _emit(self, clients: list[str]) -> list[Finding]:
        out = []
        for client in clients:
            c = self._open.pop(client)
            nx = sum(1 for v in c.domains.values() if v[1])
            if len(c.domains) < self.min_domains or (not nx and self._densest([v[3] for v in c.domains.values()])
                                                     < self.min_domains_resolved):
                continue
            regs = sorted(c.domains, key=lambda r: -c.domains[r][0])
            top = [c.domains[r][0] for r in regs]
            family, share = self._families(regs)
            score = float(np.mean(top[:5])) * min(1.0, 0.7 + 0.1 * len(regs))
            fam_txt = f" (likely {family})" if family else ""
            expl = [
                f"{client} looked up {len(regs)} distinct registered domains that the DGA model scores above "
                f"{self.threshold:.2f}{fam_txt}; examples: "
                + ", ".join(f"{r} ({c.domains[r][0]:.2f})" for r in regs[:5]),
            ]
            if family:
                expl.append(f"{share:.0%} of them resemble {family if family.startswith('unknown') else 'the ' + family + ' family seen in training'}")
            if nx:
                expl.append(f"{nx} of them answered NXDOMAIN, as most names of a DGA are never registered")
            if self._model is not None:
                expl.extend(self._model.explain(regs[0])[:2])
            t0 = c.first if np.isfinite(c.first) else 0.0
            t1 = c.last if np.isfinite(c.last) else t0
            out.append(Finding.make(
                detector=self.name, detector_version=self.version,
                title=f"DGA domain look-ups{fam_txt}", start=t0, end=t1, entity_type="host", entity=client,
                score=score, attack=["T1568.002"], evidence=c.evidence, explanation=expl,
                related={"domain": regs[:50], "source.ip": [client]}, source_files=sorted(c.sources),
                attributes={"domains": len(regs), "queries": c.queries, "nxdomain": nx, "family": family or "unknown",
                            "top_score": round(top[0], 4)}))
        return out
