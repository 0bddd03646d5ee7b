"""URLs found in a message, with the lexical facts that mark phishing links.

Nothing here resolves or fetches anything: every fact comes from the URL's text
(and the anchor text it was shown under).

>>> u = url_facts("http://192.168.4.7:8080/paypal/login.php", anchor="https://www.paypal.com")
>>> u.ip_host, u.unusual_port, u.brand_outside_domain, u.anchor_mismatch
(True, True, True, True)
>>> url_facts("https://bit.ly/3xYz").shortener
True
>>> find_urls("see http://example.com/a?b=1, or www.test.org.")
['http://example.com/a?b=1', 'www.test.org']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from threatml.email.domains import BRAND_WORDS, has_non_ascii, is_ip, listed_domain, registered_domain, split_host

SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly",
    "tiny.cc", "shorturl.at", "rb.gy", "bit.do", "lnkd.in", "s.id", "t.ly", "v.gd", "qrco.de", "shorte.st",
    "adf.ly", "bl.ink", "tr.im", "x.co", "urlz.fr", "short.io", "1url.com", "clck.ru", "u.to", "snip.ly",
})
#: TLDs that carry far more abuse than their share of registrations (cheap or free registration)
SUSPICIOUS_TLDS = frozenset({
    "tk", "ml", "ga", "cf", "gq", "xyz", "top", "club", "work", "zip", "mov", "click", "link", "country",
    "kim", "science", "party", "review", "loan", "date", "win", "bid", "stream", "download", "racing",
    "online", "site", "icu", "buzz", "rest", "fit", "cam", "monster", "su", "ru", "cn", "ws", "pw", "cc",
})
_URL_RE = re.compile(r"""(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>"'`{}|\\^\[\]]+""", re.I)
_DOMAINISH = re.compile(r"\b(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})\b", re.I)
_TRAILING = ".,;:!?)'\">"


@dataclass
class UrlFacts:
    url: str
    host: str = ""
    domain: str = ""
    anchor: str = ""
    ip_host: bool = False
    shortener: bool = False
    unusual_port: bool = False
    at_sign: bool = False
    punycode: bool = False
    suspicious_tld: bool = False
    brand_outside_domain: bool = False
    anchor_mismatch: bool = False
    https: bool = False
    length: int = 0
    subdomain_depth: int = 0
    malformed: bool = False


def find_urls(text: str, limit: int = 500) -> list[str]:
    """URLs written in plain text (http, https, ftp, or starting with ``www.``), in order, at most ``limit``."""
    out = []
    for m in _URL_RE.finditer(text):
        out.append(m.group(0).rstrip(_TRAILING))
        if len(out) >= limit:
            break
    return out


_BRAND_RE = re.compile("|".join(sorted(map(re.escape, BRAND_WORDS), key=len, reverse=True)))


@lru_cache(maxsize=32768)
def url_facts(url: str, anchor: str = "") -> UrlFacts:
    """Lexical facts of one URL; ``anchor`` is the text it was shown under (HTML links).

    Cached: footers and list links repeat from message to message. Treat the result as read-only.
    """
    url = url.strip()
    f = UrlFacts(url=url[:2000], anchor=anchor[:200], length=len(url))
    target = url if "://" in url[:12] else "http://" + url
    try:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:  # bad port, broken IPv6 literal
        f.malformed = True
        return f
    f.host = host
    f.https = parts.scheme.lower() == "https"
    f.at_sign = "@" in parts.netloc
    f.ip_host = is_ip(host)
    f.domain = host if f.ip_host else registered_domain(host)
    f.shortener = f.domain in SHORTENERS or host in SHORTENERS
    f.unusual_port = port is not None and port not in (80, 443)
    f.punycode = has_non_ascii(host)
    sub, label, suffix = split_host(host) if not f.ip_host else ("", "", "")
    f.suspicious_tld = suffix.rsplit(".", 1)[-1] in SUSPICIOUS_TLDS if suffix else False
    f.subdomain_depth = len(sub.split(".")) if sub else 0
    # a brand named in the subdomain or path of a domain that is not the brand's
    rest = (sub + "/" + unquote(parts.path or "") + "?" + (parts.query or "")).lower()
    f.brand_outside_domain = label not in BRAND_WORDS and _BRAND_RE.search(rest) is not None
    if anchor:
        f.anchor_mismatch = anchor_mismatch(anchor, f.domain)
    return f


def anchor_mismatch(anchor: str, target_domain: str) -> bool:
    """True when the link text shows a domain other than the one the link goes to.

    >>> anchor_mismatch("www.paypal.com/login", "evil.example"), anchor_mismatch("Click here", "evil.example")
    (True, False)
    >>> anchor_mismatch("invoice.pdf", "evil.example")
    False
    """
    if not target_domain:
        return False
    for m in _DOMAINISH.finditer(anchor[:300]):
        shown = listed_domain(m.group(1))
        if shown and shown != target_domain:
            return True
    return False
