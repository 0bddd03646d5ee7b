"""Registered domains from the public-suffix list bundled with tldextract, offline.

``tldextract.TLDExtract()`` fetches the live list on first use; here the
extractor is built with no list URLs and no cache directory, so it only ever
reads the snapshot shipped inside the package and never touches the network.

Work is per *unique* host (pandas factorize), so a batch of a million URLs
from a few thousand hosts costs a few thousand look-ups.

>>> split_hosts(["www.Example.co.uk", "10.0.0.1", ""]).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
{'subdomain': ['www', '', ''], 'domain': ['example', '10.0.0.1', ''], 'suffix': ['co.uk', '', ''],
 'registered': ['example.co.uk', '10.0.0.1', '']}
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd


@lru_cache(maxsize=2)
def extractor(private: bool = False):
    """The offline extractor; ``private`` also treats PSL private suffixes (ddns.net, ...) as suffixes."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True,
                                 include_psl_private_domains=private)


def split_hosts(hosts, private: bool = False) -> pd.DataFrame:
    """subdomain / domain (the label left of the suffix) / suffix / registered domain per host.

    Hosts without a known suffix (bare names, IP addresses) give their whole
    text as ``domain`` and ``registered``, an empty suffix.
    """
    ser = pd.Series(hosts, dtype="object").fillna("").astype(str).str.strip().str.lower().str.rstrip(".")
    codes, uniq = pd.factorize(ser, sort=False)
    ex = extractor(private)
    sub, dom, suf = [], [], []
    for h in uniq:
        if not h:
            sub.append(""), dom.append(""), suf.append("")
            continue
        r = ex(h)
        sub.append(r.subdomain), dom.append(r.domain), suf.append(r.suffix)
    sub_a, dom_a, suf_a = (np.array(x, dtype=object) for x in (sub, dom, suf))
    reg = np.where(suf_a != "", dom_a + "." + suf_a, dom_a) if len(uniq) else np.array([], dtype=object)
    take = codes if len(codes) else np.array([], dtype=int)
    return pd.DataFrame({
        "subdomain": sub_a[take] if len(uniq) else np.array([], dtype=object),
        "domain": dom_a[take] if len(uniq) else np.array([], dtype=object),
        "suffix": suf_a[take] if len(uniq) else np.array([], dtype=object),
        "registered": reg[take] if len(uniq) else np.array([], dtype=object),
    })
