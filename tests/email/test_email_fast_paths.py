"""The speed-ups must not change results: cached n-gram hashing, map-built word n-grams, one-regex address
parsing and path contributions are checked against the slow reference they replace (inputs built here)."""

from __future__ import annotations

import email.utils
import random

import lightgbm as lgb
import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from threatml.email.char_hash import CharWbHasher
from threatml.email.headers import all_addresses, decode_value, parse_address
from threatml.email.text_model import TOKEN, HashedTextModel, _column, _unigrams_bigrams
from threatml.email.tree_paths import PathContributions

WORDS = ["Verify", "your", "PayPal", "account", "now!!", "naïve", "café", "ÉLAN", "straße", "İstanbul", "x",
         "ab", "$500", "http://10.0.0.1/login", "V1agra", "\u200bhidden", "a-b_c", "日本語", "e-mail", "mañana"]


def _docs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    seps = [" ", "  ", "\n", "\t", " \r\n "]
    return ["".join(rng.choice(WORDS) + rng.choice(seps) for _ in range(rng.randrange(0, 60))) for _ in range(n)]


def test_char_hasher_equals_sklearn_char_wb_even_when_its_cache_is_cleared():
    docs = _docs(300, 1) + ["", "   ", "a"]
    ref = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**16, alternate_sign=False,
                            norm=None, dtype=np.float32).transform(docs)
    for max_cache in (100_000, 7):  # 7: the cache empties again and again mid-stream
        h = CharWbHasher((3, 5), 2**16, max_cache=max_cache)
        got = [h.transform(docs[i:i + 37]) for i in range(0, len(docs), 37)]
        from scipy import sparse

        X = sparse.vstack(got).tocsr()
        assert X.shape == ref.shape
        assert (X != ref).nnz == 0
        assert len(h._rows) <= max_cache


def test_word_ngrams_and_gram_columns_equal_sklearn():
    v = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=TOKEN).build_analyzer()
    for d in _docs(50, 2):
        assert _unigrams_bigrams(d) == v(d)
    m = HashedTextModel(n_features=2**12)
    grams = list(dict.fromkeys(v(" ".join(_docs(20, 3)))))
    assert m._gram_columns(grams).tolist() == [_column(g, 2**12) for g in grams]
    assert m._gram_columns(grams).tolist() == [_column(g, 2**12) for g in grams]  # second time from its cache


def _slow_address(raw: str) -> tuple[str, str]:
    for name, addr in email.utils.getaddresses([decode_value(raw)]):
        if addr and "@" in addr:
            return name.strip().strip('"'), addr.strip().strip("<>").lower()
    return ("", "")


def test_one_regex_address_parsing_agrees_with_getaddresses():
    headers = ['"Doe, John" <John.Doe@Example.org>', "Jane   Smith <jane@x.example>", "plain@y.example",
               "<angle@z.example>", "=?utf-8?q?Caf=C3=A9_Team?= <team@cafe.example>", "Bob.Jr <b@c.example>",
               '"support@paypal.com" <no-reply@evil.example>', "x (comment) <a@b.example>",
               "Group: a@b.example, c@d.example;", "Name <a@b.example> trailing"]
    for h in headers:
        assert parse_address(h) == _slow_address(h), h
    to = ["a@b.example, Bob <c@d.example>", '"Last, First" <e@f.example>']
    assert all_addresses(to) == ["a@b.example", "c@d.example", "e@f.example"]


def test_path_contributions_add_up_to_the_raw_score_of_each_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values take the default branch
    y = np.digitize(X[:, 0] + X[:, 3], [-0.5, 0.5])
    y[np.isnan(X[:, 0]) | np.isnan(X[:, 3])] = 0
    b = lgb.train({"objective": "multiclass", "num_class": 3, "verbosity": -1, "num_threads": 1, "num_leaves": 7},
                  lgb.Dataset(X, y), 30)
    c = PathContributions(b).predict(b, X[:50]).reshape(50, 3, 6)
    assert np.allclose(c.sum(axis=2), b.predict(X[:50], raw_score=True), atol=1e-4)
    # the features the classes depend on carry most of the credit
    assert set(np.abs(c[:, 2, :5]).sum(axis=0).argsort()[-2:]) == {0, 3}
