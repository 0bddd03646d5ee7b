"""URL parsing, lexical features, vectorised kernels and the offline public-suffix list."""

import socket

import numpy as np
import pytest

from threatml.web import tld
from threatml.web.textvec import as_arrow, ngram_linear_score, ngram_matrix
from threatml.web.urls import URL_FEATURES, entropy, normalize_urls, url_features


def test_normalize_splits_parts_and_unescapes():
    p = normalize_urls(["HTTP://Bob@WWW.Paypal.COM.evil.tk:8080/a/b?x=1&amp;y=2", "www.x.org/p", "", "10.1.2.3/x"])
    assert p["host"].tolist() == ["www.paypal.com.evil.tk", "www.x.org", "", "10.1.2.3"]
    assert p["userinfo"].iloc[0] == "Bob" and p["port"].iloc[0] == 8080.0 and np.isnan(p["port"].iloc[1])
    assert p["query"].iloc[0] == "x=1&y=2"
    assert p["url"].iloc[1] == "www.x.org/p"


def test_lexical_features_flag_the_phishing_signs():
    f = url_features([
        "http://paypal.com.secure-login.tk/webscr/login.php",  # brand outside the registered domain, bad TLD
        "http://192.168.10.5/bank/verify",                     # IP host
        "https://www.paypal.com/signin",                       # the brand's own domain
        "http://xn--pypal-4ve.com/",                            # punycode
        "https://bit.ly/3abc",                                  # shortener
    ])
    assert list(f.columns) == list(URL_FEATURES)
    assert f["brand_outside_domain"].tolist() == [1, 0, 0, 0, 0]
    assert f["suspicious_tld"].tolist()[0] == 1 and f["ip_host"].tolist()[1] == 1
    assert f["punycode"].tolist()[3] == 1 and f["shortener"].tolist()[4] == 1
    assert f["sensitive_words"].iloc[0] >= 1 and f["sensitive_words"].iloc[3] == 0


def test_entropy_matches_the_definition():
    got = entropy(["aabb", "abcdefgh", "", "é"])
    assert got[:3].round(6).tolist() == [1.0, 3.0, 0.0]
    assert got[3] == pytest.approx(1.0)  # two UTF-8 bytes, each once


def test_ngram_linear_score_equals_the_sparse_product():
    texts = as_arrow(["paypal.com-login.tk/x", "ab", "", "news.example.org/story/1"])
    X = ngram_matrix(texts, (3, 4, 5), 2**10)
    w = np.random.default_rng(0).normal(size=2**10)
    np.testing.assert_allclose(ngram_linear_score(texts, (3, 4, 5), w, 0.25), X @ w + 0.25)
    assert X[1].nnz == 0 and X[2].nnz == 0  # shorter than every n


def test_registered_domain_is_offline(monkeypatch):
    tld.extractor.cache_clear()

    def no_network(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    ex = tld.extractor()
    assert tuple(ex.suffix_list_urls) == ()
    got = tld.split_hosts(["a.b.example.co.uk", "x.github.io", "localhost"])
    assert got["registered"].tolist() == ["example.co.uk", "github.io", "localhost"]
    tld.extractor.cache_clear()
