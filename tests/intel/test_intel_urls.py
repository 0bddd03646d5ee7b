"""The vectorised URL normaliser gives exactly what the one-by-one stdlib normaliser gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from threatml.intel import normalise_url, normalise_urls

CASES = [
    "HTTP://Evil.COM:80/Path?q=1#frag", "https://evil.com:443", "https://evil.com:8443/a", "http://evil.com./a",
    "http://[2001:DB8::1]:80/x", "http://evil.com:99999/", "not a url", "", "http://evil.com?x=1", "http://evil.com/x?",
    "http://evil.com/x#", "http://evil.com#top", "ftp://Files.example:21/pub", "ws://a.example:80/s", "wss://a.example:443",
    "http://user:pw@evil.com/a", "http://evil.com:0080/a", "http://evil.com:/a", "http://evil.com/a b", "http://%41.com/",
    "hxxp://evil.com/x", "http://evil.com/a?b=c&d=%20e", "HTTPS://EVIL.COM/UPPER/Path", "http://1.2.3.4:8080/x",
    "http://evil.com\\\\x", "http://.example/", "http://evil.com//double//slash", "custom+scheme://Host/x",
    "http://evil.com:65535/", "http://evil.com:65536/", "http://exa mple.com/", "http://evil.com/\tx",
]


def test_vectorised_matches_scalar_on_tricky_cases():
    got = normalise_urls(pd.Series(CASES, dtype="str")).tolist()
    want = [normalise_url(u) or "" for u in CASES]
    assert got == want


def test_vectorised_matches_scalar_on_random_urls():
    rng = np.random.default_rng(3)
    parts = {
        "scheme": ["http", "HTTP", "https", "ftp", "Https"],
        "host": ["evil.com", "Evil.COM.", "a.b.example", "10.0.0.1", "xn--bcher-kva.example", "[::1]", "h_st.example"],
        "port": ["", ":80", ":443", ":8080", ":21", ":0", ":65536"],
        "path": ["", "/", "/a", "/A/b.php", "?x=1", "/p?q=1&r=2", "/x?", "/#f", "/a#b?c"],
    }
    urls = ["".join([rng.choice(parts["scheme"]), "://", rng.choice(parts["host"]), rng.choice(parts["port"]),
                     rng.choice(parts["path"])]) for _ in range(2000)]
    got = normalise_urls(pd.Series(urls, dtype="str")).tolist()
    want = [normalise_url(u) or "" for u in urls]
    assert got == want


def test_url_matching_through_the_host_prefilter():
    from threatml.intel import IndicatorMatcher, IndicatorSet, classify

    t, v, _ = classify(pd.Series(["http://[2001:db8::1]/x", "http://evil.com/a", "https://evil.com:8443/b"]))
    m = IndicatorMatcher(IndicatorSet(pd.DataFrame({"type": t, "value": v, "sources": "f", "confidence": 50.0,
                                                    "first_seen": np.nan, "valid_until": np.nan, "tags": "",
                                                    "description": ""})))
    events = ["http://user@EVIL.com./a", "http://[2001:DB8::1]:80/x", "https://evil.com:8443/b#z", "http://evil.com/b",
              "http://other.example/a", "", "evil.com/a"]
    got = m.match_urls(pd.Series(events, dtype="str"))
    assert list(zip(got.rows.tolist(), got.indicators.tolist())) == [(0, 1), (1, 0), (2, 2)]
