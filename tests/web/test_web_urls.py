"""URL parsing, lexical features, vectorised kernels and the offline public-suffix list."""

import socket

import numpy as np
import pandas as pd
import pytest

from threatml.web import tld
from threatml.web.textvec import as_arrow, class_counts, ngram_linear_score, ngram_matrix
from threatml.web.urls import UNRANKED, URL_FEATURES, entropy, ngram_text, normalize_urls, popular_ranks, url_features


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
    assert f["brand_in_subdomain"].tolist() == [1, 0, 0, 0, 0]
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


def test_corpus_marks_do_not_change_features_or_ngrams():
    # scheme, a leading www. and a trailing slash separate public corpora, not phishing: they must not matter
    same = ["http://example.org/", "https://www.example.org", "HTTPS://WWW.EXAMPLE.ORG/"]
    f = url_features(same)
    assert (f.nunique() == 1).all()
    assert ngram_text(normalize_urls(same), "url").to_pylist() == ["example.org"] * 3
    deep = url_features(["http://shop.example.org/a/b/", "https://www.shop.example.org/a/b"])
    assert (deep.nunique() == 1).all() and deep["path_depth"].iloc[0] == 2


def test_popular_prior_and_hosting_providers():
    pop = pd.Series({"example.org": 10.0, "weebly.com": 3.0})
    f = url_features(["http://news.example.org/x", "http://paypal-login.weebly.com/", "http://unknown-shop.net/"], popular=pop)
    assert f["popular_rank"].tolist() == [1.0, UNRANKED, UNRANKED]  # anyone can publish under a hosting provider
    assert f["hosting_provider"].tolist() == [0.0, 1.0, 0.0]
    assert f["brand_in_subdomain"].tolist() == [0.0, 1.0, 0.0]
    assert popular_ranks(["example.org", "", "10.0.0.1"], None).tolist() == [UNRANKED] * 3


def test_path_signs_and_the_brands_own_site():
    f = url_features(["http://shop.example.com/wp-content/plugins/x/paypal/login.php?email=bob@mail.com&u=http%3A%2F%2Fa",
                      "https://www.paypal.com/signin?returnUri=paypal"])
    assert f["wp_path"].tolist() == [1.0, 0.0] and f["php"].tolist() == [1.0, 0.0]
    assert f["email_in_query"].tolist() == [1.0, 0.0] and f["url_in_query"].tolist() == [1.0, 0.0]
    assert f["brand_in_path"].tolist() == [1.0, 0.0]  # "paypal" in PayPal's own paths is normal


def test_ngram_score_in_small_chunks_equals_the_sparse_product():
    rng = np.random.default_rng(1)
    alpha = np.array(list("abcdefghij./-?=0123"))
    texts = as_arrow(["".join(rng.choice(alpha, rng.integers(0, 40))) for _ in range(300)])
    w = rng.normal(size=1000).astype(np.float64)  # not a power of two: the modulo path
    X = ngram_matrix(texts, (2, 3, 5), 1000)
    np.testing.assert_allclose(ngram_linear_score(texts, (2, 3, 5), w, -0.5, chunk_bytes=64), X @ w - 0.5)
    assert class_counts(texts, b"./").tolist() == [sum(c in "./" for c in t) for t in texts.to_pylist()]


def test_ngram_text_parts():
    p = normalize_urls(["https://www.Shop.example.com/A/b/?q=1"])
    assert [ngram_text(p, w).to_pylist()[0] for w in ("url", "host_path", "host")] == [
        "shop.example.com/a/b?q=1", "shop.example.com/a/b", "shop.example.com"]
    with pytest.raises(ValueError, match="ngram parts"):
        ngram_text(p, "path")


def test_ngrams_of_parts_never_span_the_boundary():
    p = normalize_urls(["http://ab.com/cd?e=1", "x.org", "http://paypal.com-x.tk/login.php"])
    host, path = ngram_text(p, "host+path")
    assert path.to_pylist() == ["/cd?e=1", "", "/login.php"]
    w = np.random.default_rng(2).normal(size=2**9)
    X = ngram_matrix([host, path], (3, 4), 2**9)
    np.testing.assert_allclose(ngram_linear_score([host, path], (3, 4), w, 0.1), X @ w + 0.1)
    # the joined text has n-grams across "com/" that the two parts do not
    assert ngram_matrix(ngram_text(p, "url"), (3, 4), 2**9)[0].sum() != X[0].sum()
