"""URL normalisation and lexical features, vectorised over a batch.

Parsing is one RE2 regular expression over an Arrow array
(``pyarrow.compute.extract_regex``); counts come from prefix sums over the
batch's bytes (:mod:`threatml.web.textvec`). Host features are computed once
per *distinct* host (the registered-domain look-up is the only per-item Python
work) and broadcast back.

Features are chosen to carry the *threat*, not the corpus they were measured
on. Left out on purpose, because they separate the public corpora rather than
phishing from benign: the scheme (benign lists are nearly all ``http``,
phishing feeds half ``https``), a leading ``www.`` and a trailing ``/`` (home-page
lists have one or the other), the whole URL's length and entropy (one benign
list is deep news paths of 310 sites).

>>> f = url_features(["http://paypal.com.secure-login.tk/webscr?cmd=_login", "https://www.example.org/"])
>>> f["brand_in_subdomain"].tolist(), f["suspicious_tld"].tolist(), f["path_depth"].tolist()
([1.0, 0.0], [1.0, 0.0], [1.0, 0.0])
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.web.textvec import as_arrow, byte_histograms, class_count_matrix, entropy_from_hist, longest_run
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

#: registered domains where anyone can publish a page (free hosting, site builders, cloud storage, forms):
#: their popularity says nothing about the page, and phishing kits favour them
HOSTING_PROVIDERS = frozenset((
    "000webhostapp.com 000webhost.com weebly.com wixsite.com wix.com firebaseapp.com web.app github.io "
    "githubusercontent.com blogspot.com sharepoint.com googleapis.com appspot.com herokuapp.com netlify.app "
    "vercel.app glitch.me repl.co wordpress.com godaddysites.com square.site webflow.io yolasite.com jimdo.com "
    "jimdosite.com ipfs.io dweb.link ngrok.io duckdns.org azurewebsites.net windows.net r2.dev pages.dev "
    "workers.dev translate.goog sites.google.com forms.gle typeform.com formstack.com jotform.com "
    "surveymonkey.com wufoo.com myshopify.com tripod.com angelfire.com free.fr altervista.org hpage.com "
    "webnode.com ucoz.ru narod.ru byethost.com x10host.com rf.gd epizy.com infinityfreeapp.com "
    "mybluehost.me bitbucket.io gitlab.io codepen.io notion.site canva.site wixstudio.io ddns.net "
    "no-ip.org hopto.org zapto.org servehttp.com dropboxusercontent.com onedrive.live.com 1drv.ms "
    "docs.google.com drive.google.com storage.googleapis.com firebasestorage.googleapis.com "
    "storage.cloud.google.com amazonaws.com cloudfront.net myfreesites.net hyperphp.com synology.me at.ua").split())

_IP_HOST_RE = r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:.]*|0x[0-9a-f]+|\d{8,10})$"
_ENTITY_RE = r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]{1,7});"

_DIGITS = b"0123456789"
_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_SPECIAL = b"~_!*'();:$,[]|"
#: rank given to a registered domain outside the popular list (log10 of the rank otherwise)
UNRANKED = 7.0


def normalize_urls(urls) -> pd.DataFrame:
    """Split URLs into parts, lower-casing scheme and host and undoing HTML escapes.

    A URL without a scheme (``www.x.com/a``) is read host-first. Returns the
    columns ``url`` (normalised, without scheme), ``scheme``, ``userinfo``,
    ``host``, ``port`` (float, NaN when absent), ``path``, ``query``.

    >>> normalize_urls([" HTTP://User@WWW.Ex.COM:8080/a?b=1&amp;c=2 "]).iloc[0].to_dict()["url"]
    'User@www.ex.com:8080/a?b=1&c=2'
    """
    a = pc.utf8_trim_whitespace(as_arrow(urls))
    if pc.any(pc.match_substring(a, "&amp;")).as_py():  # HTML-escaped URLs from mail bodies and PhishTank exports
        a = pc.replace_substring(a, "&amp;", "&")
    esc = pc.match_substring_regex(a, _ENTITY_RE)
    if pc.any(esc).as_py():  # rarer escapes: undone per URL, only where present
        s = pd.Series(a.to_pylist(), dtype="object")
        m = np.asarray(esc.fill_null(False))
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
    port = pc.cast(pc.if_else(pc.equal(port_s, ""), None, port_s), pa.float64())
    return pd.DataFrame({
        "url": pd.Series(url, dtype="str"), "scheme": pd.Series(pc.utf8_lower(get["scheme"]), dtype="str"),
        "userinfo": pd.Series(userinfo, dtype="str"), "host": pd.Series(host, dtype="str"),
        "port": port.to_numpy(zero_copy_only=False).astype("float64"), "path": pd.Series(path, dtype="str"),
        "query": pd.Series(query, dtype="str"),
    })


def entropy(strings) -> np.ndarray:
    """Shannon entropy (bits per byte) of each string.

    >>> entropy(["aaaa", "abcd", ""]).round(2).tolist()
    [0.0, 2.0, 0.0]
    """
    return entropy_from_hist(byte_histograms(as_arrow(strings)))


#: host features (one value per distinct host; a leading ``www.`` is ignored)
HOST_FEATURES = (
    "host_len", "host_labels", "host_hyphens", "host_digits", "host_entropy", "ip_host", "punycode",
    "suspicious_tld", "shortener", "hosting_provider", "popular_rank", "domain_label_len", "domain_label_digits",
    "domain_label_hyphens", "subdomain_labels", "subdomain_len", "brand_in_domain_label", "brand_in_subdomain",
    "sensitive_in_host",
)
#: path, query and authority features (a trailing ``/`` is ignored)
PATH_FEATURES = (
    "nonstandard_port", "has_userinfo", "path_len", "path_depth", "query_len", "query_params", "at_signs",
    "double_slash_in_path", "sensitive_words", "brand_in_path", "exec_extension", "php", "html", "wp_path",
    "tilde", "path_digit_ratio", "path_upper_ratio", "percent_escapes", "special_chars", "longest_token",
    "email_in_query", "url_in_query",
)
#: the lexical feature names, in model order
URL_FEATURES = HOST_FEATURES + PATH_FEATURES

#: features whose effect can only *raise* the score (what phishing reports agree on). Stage 2 is
#: held to these directions, so a corpus quirk cannot flip them (in ISCX-URL2016, the benign
#: list is deep news paths, which would otherwise teach "a long path is benign").
RISING = frozenset((
    "host_len", "host_labels", "host_hyphens", "host_digits", "ip_host", "punycode", "suspicious_tld", "shortener",
    "hosting_provider", "popular_rank", "domain_label_digits", "domain_label_hyphens", "subdomain_labels",
    "subdomain_len", "brand_in_domain_label", "brand_in_subdomain", "sensitive_in_host", "nonstandard_port",
    "has_userinfo", "path_len", "path_depth", "at_signs", "double_slash_in_path", "sensitive_words", "brand_in_path",
    "exec_extension", "php", "wp_path", "tilde", "percent_escapes", "special_chars", "longest_token",
    "email_in_query", "url_in_query",
))


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def strip_www(host) -> pa.StringArray:
    """Host names without a leading ``www.`` / ``www2.`` (the same site either way)."""
    return pc.replace_substring_regex(as_arrow(host), r"^www\d{0,2}\.", "")


def popular_ranks(registered, popular: pd.Series | None) -> np.ndarray:
    """log10(rank) of each registered domain in ``popular`` (registered domain -> rank), else :data:`UNRANKED`.

    Hosting providers (:data:`HOSTING_PROVIDERS`) are never ranked: anyone can publish under them.
    """
    reg = pd.Index(pd.Series(registered, dtype="object"))
    out = np.full(len(reg), UNRANKED)
    if popular is not None and len(popular):
        pos = pd.Index(popular.index).get_indexer(reg)
        hit = pos >= 0
        out[hit] = np.log10(np.maximum(popular.to_numpy(dtype="float64")[pos[hit]], 1.0))
    out[reg.isin(HOSTING_PROVIDERS)] = UNRANKED
    return out


def host_features(hosts, popular: pd.Series | None = None) -> pd.DataFrame:
    """:data:`HOST_FEATURES` of each host (already lower-cased, ``www.`` stripped), plus ``own_brand``
    (the registered domain is a brand's: ``paypal.com``, ``mail.paypal.co.uk``)."""
    host = as_arrow(hosts)
    hs = split_hosts(host.to_numpy(zero_copy_only=False))
    dom, suf, sub, reg = (as_arrow(hs[c]) for c in ("domain", "suffix", "subdomain", "registered"))
    tld = pc.fill_null(pc.extract_regex(pc.binary_join_element_wise(".", suf, ""), r"\.(?P<t>[^.]*)$").field("t"), "")
    dom_is_brand = pc.match_substring_regex(dom, "^" + _BRAND_RE + "$")
    not_brand = pc.invert(dom_is_brand)
    ip = pc.match_substring_regex(host, _IP_HOST_RE)
    hh = byte_histograms(host)
    sub_len = _f(pc.utf8_length(sub))
    f = {
        "host_len": _f(pc.utf8_length(host)),
        "host_labels": _f(hh[:, ord(".")]) + (sub_len + _f(pc.utf8_length(dom)) > 0),
        "host_hyphens": _f(hh[:, ord("-")]),
        "host_digits": _f(hh[:, ord("0"):ord("9") + 1].sum(1)),
        "host_entropy": entropy_from_hist(hh),
        "ip_host": _f(ip),
        "punycode": _f(pc.match_substring(host, "xn--")),
        "suspicious_tld": _f(pc.is_in(tld, value_set=pa.array(sorted(SUSPICIOUS_TLDS)))),
        "shortener": _f(pc.is_in(reg, value_set=pa.array(sorted(SHORTENERS)))),
        "hosting_provider": _f(pc.or_(pc.is_in(reg, value_set=pa.array(sorted(HOSTING_PROVIDERS))),
                                      pc.is_in(host, value_set=pa.array(sorted(HOSTING_PROVIDERS))))),
        "popular_rank": popular_ranks(hs["registered"], popular),
        "domain_label_len": _f(pc.utf8_length(dom)),
        "domain_label_digits": _f(pc.count_substring_regex(dom, r"\d")),
        "domain_label_hyphens": _f(pc.count_substring(dom, "-")),
        "subdomain_labels": np.where(sub_len > 0, _f(pc.count_substring(sub, ".")) + 1.0, 0.0),
        "subdomain_len": sub_len,
        "brand_in_domain_label": _f(pc.and_(pc.match_substring_regex(dom, _BRAND_RE), not_brand)),
        "brand_in_subdomain": _f(pc.and_(pc.match_substring_regex(sub, _BRAND_RE), not_brand)),
        "sensitive_in_host": _f(pc.count_substring_regex(host, _SENSITIVE_RE)),
    }
    out = pd.DataFrame({k: f[k] for k in HOST_FEATURES})
    # a popular name lends no reputation to an address, nor to a page anyone could publish under it
    out.loc[(_f(ip) > 0) | (f["hosting_provider"] > 0), ["popular_rank"]] = UNRANKED
    out["own_brand"] = _f(dom_is_brand)  # not a model feature: lets path features know the brand's own site
    return out


def url_features(urls, parts: pd.DataFrame | None = None, popular: pd.Series | None = None) -> pd.DataFrame:
    """Lexical features of each URL (one row per input, columns :data:`URL_FEATURES`).

    ``popular``: registered domain -> popularity rank (a reputation prior); without it every
    domain is :data:`UNRANKED`.
    """
    p = normalize_urls(urls) if parts is None else parts
    host = strip_www(p["host"])
    enc = pc.dictionary_encode(host)
    codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    hf = host_features(enc.dictionary, popular)
    H = hf[list(HOST_FEATURES)].to_numpy()[codes]
    own_brand = hf["own_brand"].to_numpy()[codes] > 0  # brand words in the path of the brand's own site are normal
    path = pc.replace_substring_regex(as_arrow(p["path"]), r"/+$", "")
    query = as_arrow(p["query"])
    lpath, lquery = pc.utf8_lower(path), pc.utf8_lower(query)
    rest = pc.binary_join_element_wise(lpath, lquery, "?")
    path_len = _f(pc.utf8_length(path))
    port = p["port"].to_numpy(dtype="float64")
    slashes, digits, upper = class_count_matrix(path, [b"/", _DIGITS, _UPPER]).T
    ats, pct, special = class_count_matrix(rest, [b"@", b"%", _SPECIAL]).T
    amps = class_count_matrix(query, [b"&;"])[:, 0]
    f = {
        "nonstandard_port": _f(~np.isnan(port) & ~np.isin(port, (80.0, 443.0))),
        "has_userinfo": _f(pc.not_equal(as_arrow(p["userinfo"]), "")),
        "path_len": path_len,
        "path_depth": slashes,
        "query_len": _f(pc.utf8_length(query)),
        "query_params": np.where(_f(pc.utf8_length(query)) > 0, amps + 1.0, 0.0),
        "at_signs": ats,
        "double_slash_in_path": _f(pc.match_substring(path, "//")),
        "sensitive_words": _f(pc.count_substring_regex(rest, _SENSITIVE_RE)),
        "brand_in_path": _f(pc.match_substring_regex(rest, _BRAND_RE)) * ~own_brand,
        "exec_extension": _f(pc.match_substring_regex(lpath, r"\.(?:exe|scr|zip|rar|apk|jar|js|vbs|bat|msi|dll|bin|sh)$")),
        "php": _f(pc.match_substring(lpath, ".php")),
        "html": _f(pc.match_substring_regex(lpath, r"\.(?:html?|aspx?|jsp)")),
        "wp_path": _f(pc.match_substring_regex(lpath, r"/wp-(?:content|includes|admin)|/wp/")),
        "tilde": _f(pc.match_substring(path, "~")),
        "path_digit_ratio": digits / np.maximum(path_len, 1.0),
        "path_upper_ratio": upper / np.maximum(path_len, 1.0),
        "percent_escapes": pct,
        "special_chars": special,
        "longest_token": longest_run(rest, b"/.?=&_-+%;,"),
        "email_in_query": _f(pc.match_substring_regex(lquery, r"[a-z0-9._-](?:@|%40)[a-z0-9-]+\.")),
        "url_in_query": _f(pc.match_substring_regex(lquery, r"(?:https?|www)(?:%3a|:|\.)")),
    }
    return pd.DataFrame(np.column_stack([H] + [f[k] for k in PATH_FEATURES]), columns=list(URL_FEATURES))


#: what the character n-grams read: ``url`` (host/path?query), ``host_path``, ``host``, or
#: ``host+path`` (host and path?query as two parts: no n-gram spans the host/path boundary)
NGRAM_PARTS = ("url", "host_path", "host", "host+path")


def ngram_text(parts: pd.DataFrame, which: str = "url"):
    """The text the character n-gram model reads, lower-cased, without ``www.`` or a trailing ``/``,
    cut at 300 bytes: ``host/path?query`` (``which="url"``), ``host/path``, ``host``, or for
    ``host+path`` a list of two arrays (host; path and query).

    >>> ngram_text(normalize_urls(["https://WWW.Ex.com/A/?q=1"]), "host_path").to_pylist()
    ['ex.com/a']
    >>> [a.to_pylist() for a in ngram_text(normalize_urls(["https://WWW.Ex.com/A/?q=1"]), "host+path")]
    [['ex.com'], ['/a?q=1']]
    """
    if which not in NGRAM_PARTS:
        raise ValueError(f"ngram parts {which!r}: expected one of {', '.join(NGRAM_PARTS)}")
    host = strip_www(parts["host"])
    path = pc.replace_substring_regex(pc.utf8_lower(as_arrow(parts["path"])), r"/+$", "")
    q = as_arrow(parts["query"])
    q = pc.if_else(pc.equal(q, ""), "", pc.binary_join_element_wise("?", pc.utf8_lower(q), ""))

    def cut(a):
        return as_arrow(pc.utf8_slice_codeunits(a, 0, 300))

    if which == "host":
        return cut(host)
    if which == "host_path":
        return cut(pc.binary_join_element_wise(host, path, ""))
    if which == "url":
        return cut(pc.binary_join_element_wise(host, path, q, ""))
    return [cut(host), cut(pc.binary_join_element_wise(path, q, ""))]
