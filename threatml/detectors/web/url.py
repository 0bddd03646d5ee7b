"""Visits to phishing or malicious URLs, from HTTP events that carry a host.

The URL is rebuilt from the Host header and the request target
(``url.domain`` + ``url.original``) and scored by the URL classifier
(default: the shipped ``url-classifier``, loaded on the first batch). HTTP
events without a host are skipped: web-server access logs (``apache.access``
and friends) hold local paths of *our* site, which are the web-log
detectors' business. Two more cuts keep precision on real traffic, where most
HTTP is machines talking (measured on the Stratosphere Zeek logs: every alert
before these cuts was an anti-virus updater, OCSP/CRL fetch, connectivity
check, or an Internet scanner hitting a server by its address):

* requests whose User-Agent is present but not a browser's (``EES Update``,
  ``Microsoft-CryptoAPI``, ``Microsoft NCSI``...) are not phishing visits;
* a URL whose host is an IP address is scored only when the client is a
  private address (a user inside clicking it); from outside it is a probe of
  our own server.

* a registered domain that :data:`POPULAR_CLIENTS` or more different clients
  requested flagged URLs on is part of this network's normal (an update
  service, a CDN the model mistakes), not a phishing site: phishing links
  reach a few users, a site everybody uses is not one. Its visits are dropped
  at the end of the scan and counted in ``dropped_popular``.

Distinct URLs are scored once; a finding is one client and one registered
domain, with the URLs that scored above the model's alert threshold
(ATT&CK T1204.001, T1566.002).

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> det = UrlDetector(score_fn=lambda urls: [0.95 if "login" in u else 0.02 for u in urls], threshold=0.5)
>>> fr = pd.DataFrame({"source.ip": ["10.0.0.3", "10.0.0.3", "10.0.0.4"], "@timestamp": [1.0, 2.0, 3.0],
...     "url.domain": ["paypal.com-x.tk", "paypal.com-x.tk", ""], "url.original": ["/login.php", "/a", "/login"],
...     "event.id": ["a", "b", "c"]})
>>> [(f.entity, f.related["url"]) for f in det.process(EventBatch.of("http", fr)) + det.flush()]
[('10.0.0.3', ['http://paypal.com-x.tk/login.php'])]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.detectors.web.names import ScoreCache, names_of
from threatml.events import EventBatch
from threatml.findings import Finding


_BROWSER_RE = r"(?i)mozilla|opera|chrome|safari|firefox|edg/|msie|trident"
_PRIVATE_RE = r"^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|fd|fc|fe80)"


def urls_of(frame: pd.DataFrame, browsers_only: bool = True) -> pd.Series:
    """``http://host/target`` per event worth scoring (see the module text), ``""`` otherwise."""
    host = names_of(frame, "http")
    ip_host = frame["url.domain"].fillna("").astype("str").str.strip().str.lower() if "url.domain" in frame else host
    # an address literal is a host too (and a phishing sign) when an inside client visits it
    src = frame["source.ip"].fillna("").astype("str") if "source.ip" in frame else host.map(lambda _: "")
    ip_ok = ip_host.str.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?") & src.str.match(_PRIVATE_RE)
    host = host.where(host != "", ip_host.where(ip_ok, ""))
    if browsers_only and "user_agent.original" in frame:
        ua = frame["user_agent.original"].fillna("").astype("str").str.strip()
        host = host.where((ua == "") | (ua == "-") | ua.str.contains(_BROWSER_RE, regex=True), "")
    orig = frame["url.original"].fillna("").astype("str").str.strip() if "url.original" in frame else host.map(lambda _: "")
    absolute = orig.str.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
    path = orig.where(orig.str.startswith("/"), "/" + orig)
    url = ("http://" + host + path).where(~absolute, orig)
    web = ~absolute | orig.str.match(r"(?i)^https?://")
    return url.where((host != "") & web, "")


@dataclass
class _Visit:
    first: float = np.inf
    last: float = -np.inf
    urls: dict = field(default_factory=dict)  # url -> score
    evidence: list = field(default_factory=list)
    sources: set = field(default_factory=set)
    hits: int = 0


#: distinct clients flagged on one registered domain that make it this network's normal
POPULAR_CLIENTS = 10


class UrlDetector(Detector):
    """Clients requesting URLs the URL classifier scores as phishing or malicious.

    Parameters
    ----------
    model: URL model folder or name (default: the shipped ``url-classifier``).
    threshold: score above which a URL counts (default: the model's alert threshold).
    max_open: (client, domain) pairs kept before the oldest are reported.
    browsers_only: skip requests whose User-Agent is present and not a browser's.
    score_fn: a replacement scoring function (urls -> scores), for tests and other models.
    """

    name = "web.url"
    version = "1"
    kinds = frozenset({"http"})

    def __init__(self, model=None, threshold: float | None = None, max_open: int = 20_000, browsers_only: bool = True,
                 score_fn=None, popular_clients: int | None = None):
        self.model_ref, self.threshold, self.max_open, self.browsers_only = model, threshold, max_open, browsers_only
        self.popular_clients = POPULAR_CLIENTS if popular_clients is None else popular_clients
        self.dropped_popular: dict[str, int] = {}
        self._score_fn, self._model = score_fn, None
        self._cache = ScoreCache()
        self._open: dict[tuple[str, str], _Visit] = {}

    def _load(self) -> None:
        if self._score_fn is None and self._model is None:
            from threatml.web.url_model import UrlModel

            self._model = UrlModel.load(self.model_ref)
            self._score_fn = self._model.score_samples
        if self.threshold is None:
            self.threshold = float(self._model.alert_threshold_) if self._model is not None else 0.5

    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        urls = urls_of(fr, self.browsers_only)
        keep = (urls != "").to_numpy()
        if not keep.any():
            return []
        self._load()
        from threatml.web.tld import split_hosts

        u = urls[keep].reset_index(drop=True)
        sub = fr.loc[keep].reset_index(drop=True)
        scores = self._cache.scores(u.to_numpy(dtype=object), lambda items: self._score_fn(list(items)))
        hit = np.flatnonzero(scores >= self.threshold)
        if not len(hit):
            return []
        hosts = u.iloc[hit].str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#]*)", expand=False).fillna("")
        reg = split_hosts(hosts.tolist())["registered"].to_numpy(dtype=object)
        src = sub["source.ip"].astype("str").to_numpy()[hit]
        ts = sub["@timestamp"].to_numpy(dtype=float)[hit]
        ids = sub["event.id"].astype("str").to_numpy()[hit]
        out = []
        for k, i in enumerate(hit):
            key = (src[k] or "unknown", reg[k] or hosts.iloc[k])
            v = self._open.get(key)
            if v is None:
                if len(self._open) >= self.max_open:
                    out.extend(self._emit([next(iter(self._open))]))
                v = self._open[key] = _Visit()
            if np.isfinite(ts[k]):
                v.first, v.last = min(v.first, ts[k]), max(v.last, ts[k])
            v.hits += 1
            if len(v.urls) < 20:
                v.urls[u.iloc[i]] = float(scores[i])
            if len(v.evidence) < 100:
                v.evidence.append(ids[k])
            v.sources.add(batch.source)
        return out

    def flush(self) -> list[Finding]:
        clients: dict[str, int] = {}
        for _, domain in self._open:
            clients[domain] = clients.get(domain, 0) + 1
        popular = {d for d, n in clients.items() if self.popular_clients and n >= self.popular_clients}
        for key in [k for k in self._open if k[1] in popular]:
            del self._open[key]
        self.dropped_popular.update({d: clients[d] for d in popular})
        return self._emit(list(self._open))

    def _emit(self, keys) -> list[Finding]:
        out = []
        for key in keys:
            client, domain = key
            v = self._open.pop(key)
            urls = sorted(v.urls, key=lambda x: -v.urls[x])
            best = v.urls[urls[0]]
            expl = [f"{client} requested {v.hits} URL(s) on {domain} that the URL model scores as phishing or "
                    f"malicious (best {best:.2f}, alert threshold {self.threshold:.2f}): {urls[0]}"]
            if self._model is not None:
                expl.extend(self._model.explain(urls[0])[:3])
            t0 = v.first if np.isfinite(v.first) else 0.0
            out.append(Finding.make(
                detector=self.name, detector_version=self.version, title=f"Malicious URL visited on {domain}",
                start=t0, end=v.last if np.isfinite(v.last) else t0, entity_type="host", entity=client, score=best,
                attack=["T1204.001", "T1566.002"], evidence=v.evidence, explanation=expl,
                related={"url": urls, "domain": [domain], "source.ip": [client]}, source_files=sorted(v.sources),
                attributes={"urls": len(urls), "requests": v.hits, "top_score": round(best, 4)}))
        return out
