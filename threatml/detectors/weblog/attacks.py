"""Attacks in web server access logs, one finding per client and campaign.

Consumes ``http`` events whose ``event.dataset`` ends with ``.access``
(Apache/Nginx access logs; HTTP events from Zeek or Suricata are left to the
web domain). Per batch, all work is vectorised over rows or over distinct
request targets; per client only aggregates are merged:

* **Injection and traversal signatures** (:mod:`threatml.detectors.weblog.signatures`)
  on the decoded, normalised target: SQL injection, XSS, path traversal,
  command injection. One matching request is enough (signatures are
  specific); every matched signature name is listed.
* **Request model** (:class:`threatml.detectors.weblog.model.RequestModel`, when a
  model folder is given or the shipped ``weblog-request`` model exists):
  requests the rules miss but the model scores at or above ``model_threshold``;
  ``min_model_hits`` such requests make a campaign on their own.
* **Scanners and crawlers**: a scanner user agent (Nikto, sqlmap, Nuclei, ...)
  or many requests with a high share of 404s over many distinct paths.
* **Credential stuffing**: many POSTs to login URLs with failure-looking
  answers (401/403/429, or 200 -- a failed form login usually re-renders the
  page while a success redirects) from one client, at least
  ``stuffing_min_posts`` of them and at that many per hour, with a failure
  share of ``stuffing_min_fail_share``; or, distributed, at least
  ``stuffing_min_total`` failures from ``stuffing_min_clients`` or more
  clients against one login URL in one clock hour, none of them heavy.

A campaign is a client's activity until it has been quiet for ``gap``
seconds; it is reported when it closes (or at ``flush``). State is bounded:
at most ``max_clients`` clients are tracked (the longest idle are closed first).
ATT&CK: T1190 (injection, traversal), T1595.002/T1595.003 (scanning),
T1110.004 (credential stuffing).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.detectors.weblog.signatures import match_signatures, normalise_many

SCANNER_UA = re.compile(
    r"nikto|sqlmap|nmap|masscan|zgrab|gobuster|dirbuster|\bdirb\b|wfuzz|ffuf|nuclei|wpscan|acunetix|nessus|openvas|"
    r"w3af|hydra|feroxbuster|whatweb|netsparker|appscan|jaeles|arachni|skipfish|zap/|commix|xsstrike", re.I)
CRAWLER_UA = re.compile(r"bot\b|crawl|spider|slurp|scrapy|python-requests|go-http-client|curl/|wget/|libwww", re.I)
LOGIN_PATH = re.compile(r"login|logon|signin|sign-in|sign_in|/auth|session|wp-login\.php|xmlrpc\.php|/token|j_security_check",
                        re.I)
FAMILY_NAMES = {"sqli": "SQL injection", "xss": "cross-site scripting", "traversal": "path traversal",
                "cmdi": "command injection", "model": "suspicious requests (model)", "scanner": "scanning",
                "crawler": "aggressive crawling", "stuffing": "credential stuffing"}
FAMILY_ATTACK = {"sqli": ["T1190"], "xss": ["T1190"], "traversal": ["T1190"], "cmdi": ["T1190", "T1059"],
                 "model": ["T1190"], "scanner": ["T1595.002", "T1595.003"], "crawler": ["T1595.003"],
                 "stuffing": ["T1110.004"]}
_FAMS = ("sqli", "xss", "traversal", "cmdi")
_MAX_IDS = 100
_MAX_EXAMPLES = 5
_MAX_PATHS = 2000


@dataclass
class _Client:
    ip: str
    start: float
    end: float
    n: int = 0
    n404: int = 0
    login_posts: int = 0
    login_fail: int = 0
    model_hits: int = 0
    model_max: float = 0.0
    scanner_ua: str = ""
    crawler_ua: str = ""
    fam: Counter = field(default_factory=Counter)
    sigs: Counter = field(default_factory=Counter)
    paths: set = field(default_factory=set)
    paths_over: int = 0
    ids: list = field(default_factory=list)
    examples: list = field(default_factory=list)
    login_urls: Counter = field(default_factory=Counter)
    domains: set = field(default_factory=set)
    files: set = field(default_factory=set)


class WebAttackDetector(Detector):
    """See the module docstring. ``model`` is a model folder or name (None: the shipped one if present,
    ``False``: rules only)."""

    name = "weblog.attacks"
    version = "1"
    kinds = frozenset({"http"})

    def __init__(self, model=None, model_threshold: float = 0.9, min_model_hits: int = 3, gap: float = 1800.0,
                 scan_min_requests: int = 20, scan_min_404_share: float = 0.5, scan_min_paths: int = 15,
                 crawl_min_requests: int = 2000, stuffing_min_posts: int = 10, stuffing_min_fail_share: float = 0.6,
                 stuffing_min_clients: int = 10, stuffing_min_total: int = 50, max_clients: int = 200_000):
        self.model_ref = model
        self.model_threshold, self.min_model_hits, self.gap = model_threshold, min_model_hits, gap
        self.scan_min_requests, self.scan_min_404_share, self.scan_min_paths = scan_min_requests, scan_min_404_share, scan_min_paths
        self.crawl_min_requests = crawl_min_requests
        self.stuffing_min_posts, self.stuffing_min_fail_share = stuffing_min_posts, stuffing_min_fail_share
        self.stuffing_min_clients, self.stuffing_min_total = stuffing_min_clients, stuffing_min_total
        self.max_clients = max_clients
        self._model = None
        self._model_loaded = False
        self._clients: dict[str, _Client] = {}
        self._logins: dict[tuple[str, int], dict] = {}

    # -- model --------------------------------------------------------------
    def _get_model(self):
        if not self._model_loaded:
            self._model_loaded = True
            if self.model_ref is not False:
                from threatml.models.registry import resolve
                from threatml.detectors.weblog.train import load_request_model

                ref = self.model_ref or "weblog-request"
                try:
                    self._model = load_request_model(resolve(ref))
                except Exception:  # no shipped model: rules only (said in the findings' attributes)
                    if self.model_ref:
                        raise
                    self._model = None
        return self._model

    def _model_scores(self, targets: pd.Series, norm: pd.Series) -> np.ndarray:
        m = self._get_model()
        out = np.zeros(len(targets))
        if m is None or not len(targets):
            return out
        # plain static paths carry nothing the model can use; score the rest once per distinct target
        worth = norm.str.contains(r"[^\w/.\-]|\.\.", regex=True).to_numpy(dtype=bool)
        if worth.any():
            sub = targets[worth]
            codes, uniq = pd.factorize(sub, sort=False)
            out[worth] = m.score_samples(list(uniq))[codes]
        return out

    # -- per batch --------------------------------------------------------------
    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        if fr.empty:
            return []
        fr = fr[fr["event.dataset"].str.endswith(".access").to_numpy(dtype=bool)]
        if fr.empty:
            return []
        fr = fr.reset_index(drop=True)
        target = fr["url.original"]
        norm = normalise_many(target)
        sigs = match_signatures(norm)
        fam_hit = {f: np.zeros(len(fr), dtype=bool) for f in _FAMS}
        for k, v in sigs.items():
            fam_hit[k.split(":")[0]] |= v
        any_sig = np.logical_or.reduce(list(fam_hit.values()))
        score = self._model_scores(target, norm)
        model_hit = (score >= self.model_threshold) & ~any_sig
        ua = fr["user_agent.original"]
        codes, uniq_ua = pd.factorize(ua, sort=False)
        scan_u = np.array([bool(SCANNER_UA.search(u)) for u in uniq_ua], dtype=bool)
        crawl_u = np.array([bool(CRAWLER_UA.search(u)) for u in uniq_ua], dtype=bool)
        is_scan_ua = scan_u[codes] if len(uniq_ua) else np.zeros(len(fr), dtype=bool)
        is_crawl_ua = crawl_u[codes] if len(uniq_ua) else np.zeros(len(fr), dtype=bool)
        status = fr["http.response.status_code"].to_numpy(dtype="float64")
        path = fr["url.path"] if "url.path" in fr.columns else target.str.split("?").str[0]
        login = (fr["http.request.method"].str.upper() == "POST").to_numpy() & path.str.contains(LOGIN_PATH).to_numpy(dtype=bool)
        fail = login & np.isin(status, [200.0, 401.0, 403.0, 429.0])
        ts = fr["@timestamp"].to_numpy(dtype="float64")
        ts = np.where(np.isnan(ts), np.nanmax(ts) if not np.isnan(ts).all() else 0.0, ts)
        ip = fr["source.ip"]
        # campaigns: a client's requests split where it was quiet for more than ``gap``
        ipc, _ = pd.factorize(ip, sort=False)
        order = np.lexsort((ts, ipc))
        new = np.ones(len(order), dtype=bool)
        new[1:] = (ipc[order][1:] != ipc[order][:-1]) | (np.diff(ts[order]) > self.gap)
        seg = np.empty(len(order), dtype="int64")
        seg[order] = np.cumsum(new) - 1
        agg = pd.DataFrame({"seg": seg, "ip": ip, "t0": ts, "t1": ts, "n": 1, "n404": (status == 404).astype(int),
                            "lp": login.astype(int), "lf": fail.astype(int), "mh": model_hit.astype(int), "mx": score,
                            **{f: fam_hit[f].astype(int) for f in _FAMS}})
        g = agg.groupby("seg", sort=True).agg(ip=("ip", "first"), t0=("t0", "min"), t1=("t1", "max"), n=("n", "sum"),
                                              n404=("n404", "sum"), lp=("lp", "sum"), lf=("lf", "sum"), mh=("mh", "sum"),
                                              mx=("mx", "max"), **{f: (f, "sum") for f in _FAMS})
        ended: list[_Client] = []
        seg_client: list[_Client] = []
        for row in g.itertuples():
            c = self._clients.get(row.ip)
            if c is not None and row.t0 - c.end > self.gap:
                ended.append(self._clients.pop(row.ip))
                c = None
            if c is None:
                c = self._clients[row.ip] = _Client(str(row.ip), float(row.t0), float(row.t1))
            seg_client.append(c)
            c.start, c.end = min(c.start, row.t0), max(c.end, row.t1)
            c.n += int(row.n)
            c.n404 += int(row.n404)
            c.login_posts += int(row.lp)
            c.login_fail += int(row.lf)
            c.model_hits += int(row.mh)
            c.model_max = max(c.model_max, float(row.mx))
            for f in _FAMS:
                if getattr(row, f):
                    c.fam[f] += int(getattr(row, f))
            c.files.add(batch.source)
        # details (signature names, example requests, evidence ids) only for rows that matter
        flagged = any_sig | model_hit | fail | (status == 404) | is_scan_ua
        if flagged.any():
            idx = np.flatnonzero(flagged)
            sig_names = np.array(list(sigs.keys()))
            sig_mat = np.column_stack([sigs[k][idx] for k in sig_names]) if len(sig_names) else np.zeros((len(idx), 0), bool)
            ids = fr["event.id"].to_numpy()[idx]
            tg = target.to_numpy()[idx]
            pth = path.to_numpy()[idx]
            meth = fr["http.request.method"].to_numpy()[idx]
            st = status[idx]
            uas = ua.to_numpy()[idx]
            dom = fr["url.domain"].to_numpy()[idx]
            strong = (any_sig | model_hit)[idx]
            segs = seg[idx]
            for j in range(len(idx)):
                c = seg_client[segs[j]]
                if is_scan_ua[idx[j]] and not c.scanner_ua:
                    c.scanner_ua = str(uas[j])
                if strong[j]:
                    for k in sig_names[sig_mat[j]]:
                        c.sigs[str(k)] += 1
                    if len(c.examples) < _MAX_EXAMPLES:
                        c.examples.append(f"{meth[j]} {tg[j][:300]} -> {int(st[j]) if st[j] == st[j] else '-'}")
                if login[idx[j]]:
                    c.login_urls[str(pth[j])] += 1
                if st[j] == 404:
                    if len(c.paths) < _MAX_PATHS:
                        c.paths.add(str(pth[j]))
                    else:
                        c.paths_over += 1
                if len(c.ids) < _MAX_IDS and (strong[j] or len(c.ids) < _MAX_IDS // 2):
                    c.ids.append(str(ids[j]))
                if dom[j] and len(c.domains) < 10:
                    c.domains.add(str(dom[j]))
        # crawler user agents: remembered per client (cheap: one per client)
        if is_crawl_ua.any():
            first = pd.Series(ua.to_numpy()[is_crawl_ua], index=ip.to_numpy()[is_crawl_ua])
            for k, v in first.groupby(level=0).first().items():
                if k in self._clients and not self._clients[k].crawler_ua:
                    self._clients[k].crawler_ua = str(v)
        self._count_logins(ip.to_numpy()[login], path.to_numpy()[login], ts[login], fail[login])
        now = float(ts.max())
        return [f for f in map(self._client_finding, ended) if f is not None] + self._close(now)

    def _count_logins(self, ips, paths, ts, fails) -> None:
        for p, t, ipa, f in zip(paths, (ts // 3600).astype("int64"), ips, fails):
            s = self._logins.setdefault((str(p), int(t)), {"clients": Counter(), "fails": Counter()})
            if len(s["clients"]) < 50_000 or ipa in s["clients"]:
                s["clients"][ipa] += 1
                s["fails"][ipa] += int(f)

    # -- closing --------------------------------------------------------------
    def _close(self, now: float | None) -> list[Finding]:
        out: list[Finding] = []
        stale = [k for k, c in self._clients.items() if now is None or c.end < now - self.gap]
        if now is not None and len(self._clients) - len(stale) > self.max_clients:
            rest = sorted((c.end, k) for k, c in self._clients.items() if c.end >= now - self.gap)
            stale += [k for _, k in rest[: len(self._clients) - len(stale) - self.max_clients]]
        for k in stale:
            f = self._client_finding(self._clients.pop(k))
            if f is not None:
                out.append(f)
        for key in [k for k in self._logins if now is None or (k[1] + 2) * 3600 <= now]:
            f = self._distributed_finding(key, self._logins.pop(key))
            if f is not None:
                out.append(f)
        return out

    def flush(self) -> list[Finding]:
        return self._close(None)

    def _client_finding(self, c: _Client) -> Finding | None:
        kinds: list[str] = [f for f in _FAMS if c.fam[f]]
        if c.model_hits >= self.min_model_hits:
            kinds.append("model")
        distinct = len(c.paths) + c.paths_over
        share404 = c.n404 / max(c.n, 1)
        scan_behaviour = c.n >= self.scan_min_requests and share404 >= self.scan_min_404_share and distinct >= self.scan_min_paths
        if (c.scanner_ua and c.n >= 5) or scan_behaviour:
            kinds.append("crawler" if (c.crawler_ua and not c.scanner_ua and not kinds) else "scanner")
        elif c.crawler_ua and c.n >= self.crawl_min_requests:
            kinds.append("crawler")
        per_hour = c.login_posts / max((c.end - c.start) / 3600.0, 1.0)
        stuffing = (c.login_posts >= self.stuffing_min_posts and per_hour >= self.stuffing_min_posts
                    and c.login_fail / max(c.login_posts, 1) >= self.stuffing_min_fail_share)
        if stuffing:
            kinds.append("stuffing")
        if not kinds:
            return None
        names = [FAMILY_NAMES[k] for k in kinds]
        attack = sorted({t for k in kinds for t in FAMILY_ATTACK[k]})
        inj = sum(c.fam.values())
        score = 0.5
        if any(k in _FAMS for k in kinds):
            score = 0.75 + 0.2 * min(1.0, inj / 20)
        elif "stuffing" in kinds:
            score = 0.6 + 0.3 * min(1.0, c.login_fail / (5 * self.stuffing_min_posts))
        elif "model" in kinds:
            score = 0.55 + 0.3 * min(1.0, c.model_hits / 20)
        elif "scanner" in kinds:
            score = 0.45 + 0.3 * min(1.0, distinct / 200)
        else:
            score = 0.3
        expl = [f"{c.ip} sent {c.n:,} requests: {', '.join(names)}."]
        if inj:
            expl.append(f"{inj:,} requests matched injection/traversal signatures: "
                        + ", ".join(f"{k} ({v})" for k, v in c.sigs.most_common(8)) + ".")
        if c.model_hits:
            expl.append(f"{c.model_hits:,} further requests scored >= {self.model_threshold} by the request model "
                        f"(max {c.model_max:.2f}).")
        if "scanner" in kinds or "crawler" in kinds:
            expl.append(f"{c.n404:,} answers were 404 ({share404:.0%}) over {distinct:,} distinct missing paths"
                        + (f"; scanner user agent {c.scanner_ua[:80]!r}" if c.scanner_ua else "")
                        + (f"; crawler user agent {c.crawler_ua[:80]!r}" if c.crawler_ua and not c.scanner_ua else "") + ".")
        if stuffing:
            top = ", ".join(f"{u} ({n})" for u, n in c.login_urls.most_common(3))
            expl.append(f"{c.login_posts:,} login POSTs, {c.login_fail:,} with failure-looking answers, to {top}.")
        expl += [f"Example: {e}" for e in c.examples]
        related = {"source.ip": [c.ip]}
        if c.domains:
            related["host"] = sorted(c.domains)
        if c.login_urls:
            related["url"] = [u for u, _ in c.login_urls.most_common(5)]
        title = f"Web {' and '.join(names[:3])} from {c.ip}"
        return Finding.make(
            detector=self.name, detector_version=self.version, title=title, start=c.start, end=c.end,
            entity_type="host", entity=c.ip, score=score, attack=attack, evidence=c.ids, explanation=expl,
            related=related, source_files=sorted(f for f in c.files if f),
            attributes={"campaign": ",".join(kinds), "requests": c.n, "injection_requests": inj,
                        "signatures": ",".join(k for k, _ in c.sigs.most_common()), "model_hits": c.model_hits,
                        "model": "on" if self._model is not None else "off (rules only)", "share_404": round(share404, 3),
                        "distinct_404_paths": distinct, "login_posts": c.login_posts, "login_failures": c.login_fail})

    def _distributed_finding(self, key, s: dict) -> Finding | None:
        path, hour = key
        # heavy clients get their own findings; the distributed pattern is many light ones failing
        clients = Counter({k: v for k, v in s["clients"].items() if v < self.stuffing_min_posts})
        posts = sum(clients.values())
        fails = sum(s["fails"][k] for k in clients)
        if (len(clients) < self.stuffing_min_clients or fails < self.stuffing_min_total
                or fails / max(posts, 1) < self.stuffing_min_fail_share):
            return None
        fails_of = s["fails"]
        s = {"posts": posts, "fails": fails}
        start = hour * 3600.0
        return Finding.make(
            detector=self.name, detector_version=self.version, title=f"Distributed credential stuffing against {path}",
            start=start, end=start + 3600.0, entity_type="url", entity=path,
            score=0.6 + 0.3 * min(1.0, s["fails"] / (4 * self.stuffing_min_total)), attack=["T1110.004"],
            explanation=[f"{s['posts']:,} login POSTs to {path} from {len(clients):,} clients in one hour, "
                         f"{s['fails']:,} with failure-looking answers; no single client sent many."],
            related={"source.ip": [k for k, _ in clients.most_common(500) if fails_of[k]], "url": [path]},
            attributes={"campaign": "stuffing-distributed", "login_posts": s["posts"], "login_failures": s["fails"],
                        "clients": len(clients)})
