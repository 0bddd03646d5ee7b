"""URL normalisation and lexical features, vectorised over a batch.

Parsing is one RE2 regular expression over an Arrow array
(``pyarrow.compute.extract_regex``); counts and entropies come from per-string
byte histograms (:mod:`threatml.web.textvec`); the only per-item Python work
is per *unique host* (registered-domain look-up).

The scheme is parsed but kept out of the features: in the public corpora
benign URLs are nearly all ``http`` and phishing ones half ``https``, so a
model would learn the corpus, not the threat.

>>> f = url_features(["http://paypal.com.secure-login.tk/webscr?cmd=_login", "https://www.example.org/"])
>>> f["brand_outside_domain"].tolist(), f["suspicious_tld"].tolist(), f["path_depth"].tolist()
([1.0, 0.0], [1.0, 0.0], [1.0, 1.0])
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.web.textvec import as_arrow, byte_histograms, entropy_from_hist, longest_run
from threatml.web.tld import split_hosts

_URL_RE = (
    r"^(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]{0,15})://)?"
    r"(?:(?P<userinfo>[^@/?#\s]*)@)?"
    r"(?P<host>\[[0-9a-fA-F:.]*\]|[^:/?#\s]*)"
    r"(?::(?P<port>\d{1,5}))?"
    r"(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?"
    r"(?:#(?P<fragment>.*))?$"
)

#: brands that phishing pages imitate most (lower case, as they appear in host names and paths)
BRANDS = (
    "paypal", "apple", "appleid", "icloud", "microsoft", "office365", "outlook", "hotmail", "onedrive",
    "sharepoint", "google", "gmail", "facebook", "instagram", "whatsapp", "amazon", "netflix", "ebay", "chase",
    "wellsfargo", "bankofamerica", "citibank", "hsbc", "barclays", "santander", "natwest", "lloyds", "dropbox",
    "docusign", "adobe", "linkedin", "yahoo", "dhl", "fedex", "usps", "hmrc", "steamcommunity", "coinbase",
    "binance", "blockchain", "metamask", "mastercard", "americanexpress", "twitter", "tiktok", "roblox",
    "runescape", "alibaba", "bradesco", "verizon", "webmail", "zimbra", "usaa", "westpac", "interac",
    "mercadolibre", "itunes", "office", "outlook", "wechat", "aliexpress",
)
_BRAND_RE = r"(?:" + "|".join(sorted(set(BRANDS), key=len, reverse=True)) + r")"

#: words that credential-phishing URLs carry in host or path
SENSITIVE_WORDS = (
    "login", "logon", "signin", "sign-in", "verify", "verification", "account", "update", "secure", "security",
    "banking", "confirm", "password", "webscr", "billing", "unlock", "suspend", "recover", "wallet",
    "authenticate", "validate", "invoice", "support", "customer", "limited", "alert",
)
_SENSITIVE_RE = r"(?:" + "|".join(re.escape(w) for w in SENSITIVE_WORDS) + r")"

#: TLDs that abuse reports rank high (cheap or free registrations)
SUSPICIOUS_TLDS = frozenset((
    "tk ml ga cf gq xyz top club online site website work click link pw cc su buzz rest fit icu cam monster "
    "live space today support country kim men loan download racing review stream gdn bid win date party trade "
    "science accountant cricket faith zip mov info biz ws cyou sbs cfd bond quest").split())

SHORTENERS = frozenset((
    "bit.ly bitly.com goo.gl tinyurl.com ow.ly t.co is.gd buff.ly adf.ly cutt.ly rb.gy shorturl.at tiny.cc "
    "rebrand.ly x.co lnkd.in db.tt qr.net v.gd tr.im s.id t.ly shorte.st bc.vc po.st soo.gd clck.ru u.to "
    "tiny.one bl.ink urlz.fr 2.gy").split())

_IP_HOST_RE = r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:.]*|0x[0-9a-f]+|\d{8,10})$"

_DIGITS = np.arange(ord("0"), ord("9") + 1)
_SPECIAL = np.array([ord(c) for c in "~_!*'();:$,[]|"])


def normalize_urls(urls) -> pd.DataFrame:
    """Split URLs into parts, lower-casing scheme and host and undoing HTML escapes.

    A URL without a scheme (``www.x.com/a``) is read host-first. Returns the
    columns ``url`` (normalised, without scheme), ``scheme``, ``userinfo``,
    ``host``, ``port`` (float, NaN when absent), ``path``, ``query``.

    >>> normalize_urls([" HTTP://User@WWW.Ex.COM:8080/a?b=1&amp;c=2 "]).iloc[0].to_dict()["url"]
    'User@www.ex.com:8080/a?b=1&c=2'
    """
    a = pc.utf8_trim_whitespace(as_arrow(urls))
    esc = pc.match_substring(a, "&", ignore_case=False)
    if pc.any(esc).as_py():  # HTML-escaped URLs from mail bodies and PhishTank exports
        s = pd.Series(a.to_pylist(), dtype="object")
        m = np.asarray(esc)
        s[m] = s[m].map(html.unescape)
        a = as_arrow(s)
    st = pc.extract_regex(a, _URL_RE)
    nulls = st.is_null()
    get = {name: pc.if_else(nulls, "", pc.fill_null(st.field(name), "")) for name in
           ("scheme", "userinfo", "host", "port", "path", "query")}
    # something the regex cannot take (a space in the host...) is kept whole as the path
    get["path"] = pc.if_else(nulls, a, get["path"])
    host = pc.utf8_trim(pc.utf8_lower(get["host"]), ".[]")
    userinfo, port_s, path, query = get["userinfo"], get["port"], get["path"], get["query"]
    url = pc.binary_join_element_wise(
        pc.if_else(pc.equal(userinfo, ""), "", pc.binary_join_element_wise(userinfo, "@", "")),
        host,
        pc.if_else(pc.equal(port_s, ""), "", pc.binary_join_element_wise(":", port_s, "")),
        path,
        pc.if_else(pc.equal(query, ""), "", pc.binary_join_element_wise("?", query, "")),
        "",
    )
    port = pd.to_numeric(pd.Series(port_s.to_numpy(zero_copy_only=False)).replace("", np.nan), errors="coerce")
    return pd.DataFrame({
        "url": pd.Series(url, dtype="str"), "scheme": pd.Series(pc.utf8_lower(get["scheme"]), dtype="str"),
        "userinfo": pd.Series(userinfo, dtype="str"), "host": pd.Series(host, dtype="str"),
        "port": port.astype("float64"), "path": pd.Series(path, dtype="str"), "query": pd.Series(query, dtype="str"),
    })


def entropy(strings) -> np.ndarray:
    """Shannon entropy (bits per byte) of each string.

    >>> entropy(["aaaa", "abcd", ""]).round(2).tolist()
    [0.0, 2.0, 0.0]
    """
    return entropy_from_hist(byte_histograms(as_arrow(strings)))


#: the lexical feature names, in model order
URL_FEATURES = (
    "url_len", "host_len", "path_len", "query_len", "host_dots", "host_hyphens", "host_digits", "subdomain_labels",
    "path_depth", "query_params", "at_signs", "has_userinfo", "nonstandard_port", "ip_host", "host_entropy",
    "url_entropy", "path_entropy", "digit_ratio", "special_chars", "double_slash_in_path", "punycode",
    "suspicious_tld", "shortener", "brand_outside_domain", "brand_in_domain_label", "sensitive_words",
    "exec_extension", "php_or_html", "longest_token", "domain_label_len", "domain_label_digits", "tld_len",
    "percent_escapes", "www", "upper_ratio",
)


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def url_features(urls, parts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Lexical features of each URL (one row per input, columns :data:`URL_FEATURES`)."""
    p = normalize_urls(urls) if parts is None else parts
    url, host, path, query = (as_arrow(p[c]) for c in ("url", "host", "path", "query"))
    low = pc.utf8_lower(url)
    hu, hh, hp = byte_histograms(url), byte_histograms(host), byte_histograms(path)
    url_len = hu.sum(1).astype("float64")
    hs = split_hosts(p["host"])
    dom, suf, sub = (as_arrow(hs[c]) for c in ("domain", "suffix", "subdomain"))
    tld = pc.extract_regex(pc.binary_join_element_wise(".", suf, ""), r"\.(?P<t>[^.]*)$").field("t")
    rest = pc.utf8_lower(pc.binary_join_element_wise(sub, "/", p["path"].astype("str").tolist(), "?",
                                                     p["query"].astype("str").tolist(), ""))
    dom_is_brand = pc.match_substring_regex(dom, "^" + _BRAND_RE + "$")
    upper = hu[:, ord("A"):ord("Z") + 1].sum(1)
    f = {
        "url_len": url_len,
        "host_len": hh.sum(1).astype("float64"),
        "path_len": hp.sum(1).astype("float64"),
        "query_len": _f(pc.utf8_length(query)),
        "host_dots": _f(hh[:, ord(".")]),
        "host_hyphens": _f(hh[:, ord("-")]),
        "host_digits": _f(hh[:, _DIGITS].sum(1)),
        "subdomain_labels": np.where(_f(pc.utf8_length(sub)) > 0, _f(pc.count_substring(sub, ".")) + 1.0, 0.0),
        "path_depth": _f(hp[:, ord("/")]),
        "query_params": np.where(_f(pc.utf8_length(query)) > 0, _f(pc.count_substring(query, "&")) + 1.0, 0.0),
        "at_signs": _f(hu[:, ord("@")]),
        "has_userinfo": _f(p["userinfo"] != ""),
        "nonstandard_port": _f(p["port"].notna() & ~p["port"].isin([80.0, 443.0])),
        "ip_host": _f(pc.match_substring_regex(host, _IP_HOST_RE)),
        "host_entropy": entropy_from_hist(hh),
        "url_entropy": entropy_from_hist(hu),
        "path_entropy": entropy_from_hist(hp),
        "digit_ratio": hu[:, _DIGITS].sum(1) / np.maximum(url_len, 1.0),
        "special_chars": _f(hu[:, _SPECIAL].sum(1)),
        "double_slash_in_path": _f(pc.match_substring(path, "//")),
        "punycode": _f(pc.match_substring(host, "xn--")),
        "suspicious_tld": _f(pc.is_in(pc.fill_null(tld, ""), value_set=pa.array(sorted(SUSPICIOUS_TLDS)))),
        "shortener": _f(pc.is_in(as_arrow(hs["registered"]), value_set=pa.array(sorted(SHORTENERS)))),
        # a brand named in the subdomain, path or query while the registered domain is not the brand's
        "brand_outside_domain": _f(pc.and_(pc.match_substring_regex(rest, _BRAND_RE), pc.invert(dom_is_brand))),
        "brand_in_domain_label": _f(pc.and_(pc.match_substring_regex(dom, _BRAND_RE), pc.invert(dom_is_brand))),
        "sensitive_words": _f(pc.count_substring_regex(low, _SENSITIVE_RE)),
        "exec_extension": _f(pc.match_substring_regex(
            pc.utf8_lower(path), r"\.(?:exe|scr|zip|rar|apk|jar|js|vbs|bat|msi|dll|bin|sh)$")),
        "php_or_html": _f(pc.match_substring_regex(pc.utf8_lower(path), r"\.(?:php|html?|aspx?)")),
        "longest_token": longest_run(low, b"/.?=&_-"),
        "domain_label_len": _f(pc.utf8_length(dom)),
        "domain_label_digits": _f(pc.count_substring_regex(dom, r"\d")),
        "tld_len": _f(pc.utf8_length(suf)),
        "percent_escapes": _f(hu[:, ord("%")]),
        "www": _f(pc.starts_with(host, "www.")),
        "upper_ratio": upper / np.maximum(url_len, 1.0),
    }
    return pd.DataFrame({k: f[k] for k in URL_FEATURES})


def ngram_text(parts: pd.DataFrame) -> pa.StringArray:
    """The text the character n-gram model reads: lower-cased normalised URL without ``www.``, at most 300 bytes."""
    low = pc.utf8_lower(as_arrow(parts["url"]))
    low = pc.replace_substring_regex(low, r"^www\.", "")
    return as_arrow(pc.utf8_slice_codeunits(low, 0, 300))
