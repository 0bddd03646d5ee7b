"""Registered domains (offline public-suffix list) and lookalikes of protected or brand domains.

A lookalike is a domain that is not the protected one but reads like it:

* **homoglyphs / punycode**: ``xn--pypal-4ve.com`` (``pаypal`` with a Cyrillic
  ``а``) or ``paypa1.com`` map to the same *skeleton* as ``paypal.com``;
* **typos**: a small edit distance between the registrable labels
  (``paypl.com``, ``micros0ft.com``);
* **combos**: the brand label inside a longer label (``paypal-secure.com``) or
  in a subdomain of someone else's domain (``paypal.com.login.example.ru``).

>>> registered_domain("Mail.Example.co.uk")
'example.co.uk'
>>> lookalike_of("xn--pypal-4ve.com", ("paypal.com",))
('paypal.com', 'homoglyph')
>>> lookalike_of("paypa1.com", ("paypal.com",))
('paypal.com', 'homoglyph')
>>> lookalike_of("paypl.com", ("paypal.com",))
('paypal.com', 'typo')
>>> lookalike_of("secure-paypal.net", ("paypal.com",))
('paypal.com', 'combo')
>>> lookalike_of("paypal.com", ("paypal.com",)) is None
True
"""

from __future__ import annotations

import ipaddress
import unicodedata
from functools import lru_cache

from threatml.web.tld import extractor  # the one offline public-suffix extractor (never a network call)

#: brands phishers imitate most; their domains count as protected for the model's features
BRAND_DOMAINS: tuple[str, ...] = (
    "paypal.com", "ebay.com", "amazon.com", "apple.com", "icloud.com", "microsoft.com", "office.com",
    "outlook.com", "live.com", "hotmail.com", "google.com", "gmail.com", "yahoo.com", "facebook.com",
    "instagram.com", "linkedin.com", "netflix.com", "dropbox.com", "docusign.com", "adobe.com",
    "bankofamerica.com", "chase.com", "wellsfargo.com", "citibank.com", "citi.com", "usbank.com",
    "hsbc.com", "barclays.co.uk", "lloydsbank.co.uk", "natwest.com", "americanexpress.com", "visa.com",
    "mastercard.com", "capitalone.com", "suntrust.com", "washingtonmutual.com", "fifththird.com",
    "dhl.com", "fedex.com", "ups.com", "usps.com", "irs.gov", "gov.uk", "coinbase.com", "binance.com",
    "blockchain.com", "steamcommunity.com", "whatsapp.com", "twitter.com", "x.com", "wetransfer.com",
    "sharepoint.com", "onedrive.com", "att.com", "verizon.com", "comcast.net", "aol.com",
)
#: brand names seen in display names, URLs or text of imitations (label of the brand domain)
BRAND_WORDS: frozenset[str] = frozenset(
    d.split(".")[0] for d in BRAND_DOMAINS if len(d.split(".")[0]) >= 4
) | {"microsoft", "office365", "wellsfargo", "bankofamerica", "itunes", "appleid", "amazon", "paypal"}

# characters drawn to look like latin letters or digits; mapped to the letter they imitate
_GLYPHS = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "к": "k", "м": "m", "н": "h", "т": "t", "в": "b", "ո": "n",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "μ": "u", "ω": "w",
    "0": "o", "1": "l", "3": "e", "5": "s", "@": "a", "$": "s", "|": "l", "!": "i",
}


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """Registrable domain of ``host`` (lower case); the host itself for IPs and bare names."""
    host = (host or "").strip().strip(".").lower()
    if not host:
        return ""
    if is_ip(host):
        return host
    _, label, suffix = split_host(host)
    return f"{label}.{suffix}" if label and suffix else host


def listed_domain(host: str) -> str:
    """Registrable domain only when the suffix is on the public-suffix list, else '' (``invoice.pdf`` is no domain).

    >>> listed_domain("www.paypal.com"), listed_domain("invoice.pdf")
    ('paypal.com', '')
    """
    ex = extractor()((host or "").lower())
    return f"{ex.domain}.{ex.suffix}" if ex.domain and ex.suffix else ""


@lru_cache(maxsize=65536)
def split_host(host: str) -> tuple[str, str, str]:
    """(subdomain, registrable label, suffix) of ``host``; an unknown suffix is taken to be the last label.

    >>> split_host("a.b.example.co.uk"), split_host("login.paypa1-help.internal")
    (('a.b', 'example', 'co.uk'), ('login', 'paypa1-help', 'internal'))
    """
    host = (host or "").lower().strip(".")
    ex = extractor()(host)
    if not ex.suffix and "." in host and not is_ip(host):
        parts = host.split(".")
        return ".".join(parts[:-2]), parts[-2], parts[-1]
    return ex.subdomain, ex.domain, ex.suffix


def is_ip(host: str) -> bool:
    """True for dotted IPv4, IPv6 (bracketed or not) and all-digit or hex integer hosts.

    >>> is_ip("10.1.2.3"), is_ip("[::1]"), is_ip("3232235777"), is_ip("0xC0A80001"), is_ip("example.com")
    (True, True, True, True, False)
    """
    h = (host or "").strip("[]")
    if not h:
        return False
    if h[-1].isalpha() and ":" not in h and not h.lower().startswith("0x"):
        return False  # names end in a letter; addresses do not (cheap test first: this runs per URL)
    try:
        ipaddress.ip_address(h)
        return True
    except ValueError:
        pass
    if h.isdigit() and len(h) >= 8:
        return True
    return h.lower().startswith("0x") and all(c in "0123456789abcdef" for c in h[2:].lower()) and len(h) > 2


def to_unicode(label: str) -> str:
    """Punycode labels decoded (``xn--...``); anything undecodable is returned as is."""
    if "xn--" not in label:
        return label
    try:
        return ".".join(p.encode("ascii").decode("idna") if p.startswith("xn--") else p for p in label.split("."))
    except (UnicodeError, ValueError):
        return label


@lru_cache(maxsize=65536)
def skeleton(label: str) -> str:
    """Letters a reader sees: homoglyphs and look-alike digits mapped to latin, ``rn`` read as ``m``.

    >>> skeleton("pаypa1"), skeleton("rnicrosoft")
    ('paypal', 'microsoft')
    """
    s = unicodedata.normalize("NFKC", to_unicode(label.lower()))
    s = "".join(_GLYPHS.get(c, c) for c in s)
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return s.replace("rn", "m").replace("vv", "w").replace("-", "")


def edit_distance(a: str, b: str, cap: int = 3) -> int:
    """Edit distance with adjacent swaps counting one (optimal string alignment), stopping early at ``cap``.

    >>> edit_distance("paypal", "paypl"), edit_distance("example", "exampel"), edit_distance("kitten", "sitting")
    (1, 1, 3)
    """
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, prev2[j - 2] + 1)
            cur.append(v)
        if min(cur) >= cap:
            return cap
        prev2, prev = prev, cur
    return min(prev[-1], cap)


@lru_cache(maxsize=65536)
def _lookalike(domain: str, protected: tuple[str, ...]) -> tuple[str, str] | None:
    domain = domain.lower().strip(".")
    if not domain or is_ip(domain):
        return None
    reg = registered_domain(domain)
    sub, label, _ = split_host(domain)
    uni = to_unicode(label)
    sk = skeleton(label)
    for p in protected:
        p = p.lower().strip(".")
        if reg == p or domain == p or domain.endswith("." + p):
            return None  # it is (a subdomain of) the protected domain itself
    for p in protected:
        p = p.lower().strip(".")
        _, plabel, _ = split_host(p)
        if not plabel or len(plabel) < 3:
            continue
        if sk == skeleton(plabel) and (uni != plabel or label != plabel):
            return p, "homoglyph"
        if label == plabel:
            return p, "other-suffix"  # paypal.co vs paypal.com: same name, someone else's registration
        if len(plabel) >= 5:
            limit = 1 if len(plabel) < 9 else 2
            if edit_distance(sk, skeleton(plabel), limit + 1) <= limit:
                return p, "typo"
        if len(plabel) >= 4 and plabel in sk:
            return p, "combo"
        if len(plabel) >= 4 and sub and any(plabel in skeleton(x) for x in sub.split(".")):
            return p, "subdomain"
    return None


def lookalike_of(domain: str, protected: tuple[str, ...] | list[str]) -> tuple[str, str] | None:
    """``(protected domain, how)`` when ``domain`` imitates one of ``protected``, else None.

    ``how`` is homoglyph, typo, combo, subdomain or other-suffix.
    """
    if not domain or not protected:
        return None
    return _lookalike(domain, tuple(protected))


def has_non_ascii(host: str) -> bool:
    """True for punycode or non-ASCII host names (the raw material of homoglyph attacks)."""
    return "xn--" in host.lower() or any(ord(c) > 127 for c in host)
