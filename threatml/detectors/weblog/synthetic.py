"""Generated web requests and access logs with ground truth, for training, tests and the benchmark.

Benign request targets come from real benign URLs when a list is given (the
path and query of each URL; e.g. the benign half of the ISCX-URL2016 list in
``datasets/url/phishtank_unb_urls``), else from a small built-in site map.
Attacks put a payload from :mod:`threatml.detectors.weblog.payloads` into a query
parameter or path segment, encoded the way real tools send them (plain,
percent-encoded, ``+`` for spaces, double-encoded, mixed case).

>>> import random
>>> reqs = benign_targets(random.Random(0), 3)
>>> all(t.startswith("/") for t in reqs)
True
>>> lines, labels = access_log(random.Random(0), 200)
>>> len(lines) == len(labels), lines[0].count('"') >= 6
(True, True)
"""

from __future__ import annotations

import random
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

from threatml.detectors.weblog.payloads import FAMILIES, attack_payload

SITE = ["/", "/index.html", "/about", "/contact", "/products", "/products/{n}", "/blog/{y}/{m}/post-{n}.html",
        "/search?q={w}", "/search?q={w}+{w}&page={d}", "/static/css/site.{h}.css", "/static/js/app.{h}.js",
        "/images/{w}-{n}.jpg", "/api/v1/items?limit={d}0&offset={n}", "/account", "/cart?item={n}&qty={d}",
        "/docs/{w}/{w}.html", "/favicon.ico", "/robots.txt", "/news?id={n}", "/category/{w}?sort=price&order=asc"]
WORDS = ["shoes", "laptop", "garden", "coffee", "travel", "music", "books", "camera", "winter", "sale", "news",
         "guide", "review", "kitchen", "bike", "phone", "blue", "summer", "deal", "howto"]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
]
SCANNER_UAS = ["Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)", "sqlmap/1.7.2#stable (https://sqlmap.org)",
               "gobuster/3.6", "Mozilla/5.0 zgrab/0.x", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
               "WPScan v3.8.24 (https://wpscan.com/wordpress-security-scanner)", "masscan/1.3"]
SCAN_PATHS = ["/admin", "/wp-admin/", "/phpmyadmin/", "/.env", "/.git/config", "/backup.zip", "/config.php.bak",
              "/server-status", "/wp-config.php.old", "/administrator/", "/cgi-bin/test.cgi", "/.aws/credentials",
              "/actuator/env", "/console", "/solr/admin", "/manager/html", "/db.sql", "/old/", "/test.php", "/info.php"]
LOGIN_URLS = ["/login", "/wp-login.php", "/user/login", "/account/signin", "/api/auth/login"]


def load_benign_urls(path: Path, limit: int = 50_000) -> list[str]:
    """Request targets (path?query) of the URLs in a one-URL-per-line file."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            u = line.strip().split(",")[0]
            if not u:
                continue
            try:
                parts = urlsplit(u if "://" in u else "http://" + u)
            except ValueError:
                continue
            t = quote(parts.path or "/", safe="/%:@&=+$,;~!*'()-._") + ("?" + parts.query if parts.query else "")
            out.append(t)
            if len(out) >= limit:
                break
    return out


def _fill(r: random.Random, t: str) -> str:
    while "{" in t:
        t = (t.replace("{n}", str(r.randint(1, 99999)), 1).replace("{d}", str(r.randint(1, 9)), 1)
             .replace("{w}", r.choice(WORDS), 1).replace("{y}", str(r.randint(2015, 2024)), 1)
             .replace("{m}", f"{r.randint(1, 12):02d}", 1).replace("{h}", f"{r.getrandbits(32):08x}", 1))
    return t


def benign_targets(r: random.Random, n: int, urls: list[str] | None = None) -> list[str]:
    return [r.choice(urls) if urls and r.random() < 0.7 else _fill(r, r.choice(SITE)) for _ in range(n)]


def encode(r: random.Random, payload: str) -> str:
    """A payload as a client would put it in a URL."""
    how = r.random()
    if how < 0.35:
        return quote(payload, safe="")
    if how < 0.6:
        return quote_plus(payload)
    if how < 0.7:
        return quote(quote(payload, safe=""), safe="")
    if how < 0.85:  # only what must be encoded
        return payload.replace(" ", "%20").replace("#", "%23").replace("\n", "%0a").replace('"', "%22")
    return "".join(quote(c, safe="") if r.random() < 0.5 else c.replace(" ", "+") for c in payload)


def attack_target(r: random.Random, payload: str, urls: list[str] | None = None) -> str:
    """A benign-looking target with ``payload`` placed in a parameter or the path."""
    base = benign_targets(r, 1, urls)[0].split("?")[0]
    enc = encode(r, payload)
    if r.random() < 0.8:
        param = r.choice(["id", "q", "page", "file", "name", "cat", "item", "search", "url", "path", "lang"])
        return f"{base}?{param}={enc}" if r.random() < 0.6 else f"{base}?sort=asc&{param}={enc}"
    return base.rstrip("/") + "/" + enc


def request_examples(r: random.Random, n_benign: int, n_attack: int, urls: list[str] | None = None,
                     subfamilies: set[str] | None = None) -> tuple[list[str], list[int], list[str]]:
    """Request targets, labels (1 attack) and family names ('' benign), shuffled."""
    items = [(t, 0, "") for t in benign_targets(r, n_benign, urls)]
    for _ in range(n_attack):
        fam, sub, p = attack_payload(r, subfamilies=subfamilies)
        items.append((attack_target(r, p, urls), 1, f"{fam}.{sub}"))
    r.shuffle(items)
    return [t for t, _, _ in items], [y for _, y, _ in items], [f for _, _, f in items]


def _line(ip: str, ts: float, method: str, target: str, status: int, size: int, ua: str, ref: str = "-") -> str:
    import time as _t

    stamp = _t.strftime("%d/%b/%Y:%H:%M:%S +0000", _t.gmtime(ts))
    target = target.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "%0a").replace(" ", "%20")
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {size} "{ref}" "{ua}"'


def access_log(r: random.Random, n: int, urls: list[str] | None = None, start: float = 1.7e9,
               attack_share: float = 0.05) -> tuple[list[str], list[str]]:
    """``n`` combined-format lines over one day and a label per line: '' benign, else the campaign kind
    (sqli, xss, traversal, cmdi, scanner, credential-stuffing: one attacking client per campaign;
    distributed-stuffing: 40 clients against ``/wp-login.php`` in one hour)."""
    span = 86_400.0
    rows: list[tuple[float, str, str]] = []
    n_attack = int(n * attack_share)
    kinds = list(FAMILIES) + ["scanner", "credential-stuffing", "distributed-stuffing"]
    per = max(30, n_attack // (len(kinds) * 3))
    made = 0
    c = 0
    while made < n_attack:
        kind = kinds[c % len(kinds)]
        c += 1
        ip = f"198.51.{r.randint(0, 255)}.{r.randint(1, 254)}"
        t0 = start + r.random() * (span - 3600)
        if kind == "distributed-stuffing":  # many addresses, two or three tries each, inside one clock hour
            t0 = (t0 // 3600) * 3600 + 60
            bots = [f"203.0.{r.randint(0, 255)}.{r.randint(1, 254)}" for _ in range(40)]
            for b in bots:
                for _ in range(r.randint(2, 3)):
                    ts = t0 + r.random() * 3000
                    rows.append((ts, _line(b, ts, "POST", "/wp-login.php", r.choice([401, 200, 403]), 1100,
                                           r.choice(BROWSERS)), kind))
                    made += 1
            continue
        m = min(per, n_attack - made) if n_attack - made >= 30 else n_attack - made
        ua = r.choice(SCANNER_UAS) if kind == "scanner" else r.choice(BROWSERS)
        for k in range(m):
            ts = t0 + k * r.uniform(0.2, 3.0)
            if kind in FAMILIES:
                _, _, p = attack_payload(r, families=(kind,))
                rows.append((ts, _line(ip, ts, "GET", attack_target(r, p, urls), r.choice([200, 500, 403, 400]),
                                       r.randint(200, 5000), ua), kind))
            elif kind == "scanner":
                path = r.choice(SCAN_PATHS) + (f"{r.randint(0, 999)}" if r.random() < 0.5 else "")
                rows.append((ts, _line(ip, ts, r.choice(["GET", "HEAD"]), path, 404 if r.random() < 0.9 else 403, 0, ua), kind))
            else:
                rows.append((ts, _line(ip, ts, "POST", r.choice(LOGIN_URLS[:2]), r.choice([401, 200, 200, 403]),
                                       r.randint(900, 1300), ua, "-"), kind))
        made += m
    clients = [f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}" for _ in range(max(10, n // 200))]
    for _ in range(n - len(rows)):
        ip = r.choice(clients)
        ts = start + r.random() * span
        roll = r.random()
        if roll < 0.02:  # real users mistype passwords sometimes
            rows.append((ts, _line(ip, ts, "POST", "/login", r.choice([200, 302, 302, 302, 302]), 1200, r.choice(BROWSERS)), ""))
        elif roll < 0.05:
            rows.append((ts, _line(ip, ts, "GET", _fill(r, r.choice(SITE)) + "x", 404, 150, r.choice(BROWSERS)), ""))
        else:
            t = benign_targets(r, 1, urls)[0]
            rows.append((ts, _line(ip, ts, "GET", t, 200 if r.random() < 0.95 else 304, r.randint(100, 90_000),
                                   r.choice(BROWSERS), "https://www.example.com/"), ""))
    rows.sort(key=lambda x: x[0])
    return [x[1] for x in rows], [x[2] for x in rows]
