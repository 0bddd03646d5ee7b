"""Linear text model over hashed word and character n-grams, saved as JSON (no pickle).

Words (1-2 grams, first 10,000 characters) and characters (3-5 grams inside
word boundaries, first 1,500 characters: they survive obfuscations like
``V1agra``; hashed once per distinct word by :mod:`threatml.email.char_hash`) are hashed into a
fixed space (the columns of scikit-learn's ``HashingVectorizer``), log-scaled and L2-normalised per block, and fed to a one-vs-rest
logistic regression. Only the ``keep`` hashed columns with the largest
weights are kept (the model is refitted on them), so the saved model is a
short list of (column, weights) and stays small. Explanations re-hash the
document's own n-grams to name the words behind the heaviest columns.

>>> m = HashedTextModel(keep=500).fit(["win cash now", "free prize claim", "lunch at noon", "see you at the meeting"] * 5,
...                                  ["spam", "spam", "ham", "ham"] * 5)
>>> m.classes_, m.predict(["claim your free cash prize"])
(['ham', 'spam'], ['spam'])
>>> m.top_terms("claim your free cash prize", "spam", 2)[0][1] > 0
True
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np
from scipy import sparse
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from threatml.email.char_hash import CharWbHasher

TOKEN = r"(?u)\b\w\w+\b|[$€£!]"
_DIGITS = str.maketrans("123456789", "000000000")


_TOKEN_RE = re.compile(TOKEN)


def _unigrams_bigrams(doc: str) -> list[str]:
    """Word 1- and 2-grams exactly as ``HashingVectorizer(analyzer="word", ngram_range=(1, 2))`` with
    :data:`TOKEN` cuts them, built by C-level ``map`` instead of a Python loop per n-gram.

    >>> v = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=TOKEN)
    >>> _unigrams_bigrams("Win $500 NOW!") == v.build_analyzer()("Win $500 NOW!")
    True
    """
    toks = _TOKEN_RE.findall(doc.lower())
    return toks + list(map(" ".join, zip(toks, toks[1:])))


def _column(gram: str, n_features: int) -> int:
    """The column ``HashingVectorizer`` gives ``gram`` (signed MurmurHash3 of its UTF-8, seed 0).

    >>> v = HashingVectorizer(analyzer=lambda d: d, n_features=2**10, alternate_sign=False, norm=None)
    >>> int(v.transform([["prize"]]).indices[0]) == _column("prize", 2**10)
    True
    """
    h = murmurhash3_32(gram, seed=0, positive=False)
    if h == -(2**31):
        return (2**31 - 1 - (n_features - 1)) % n_features
    return abs(h) % n_features


class HashedTextModel:
    def __init__(self, n_features: int = 2**20, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (3, 5), max_chars: int = 1500, max_word_chars: int = 10000,
                 C: float = 8.0, keep: int = 20000, fold_digits: bool = False, seed: int = 0):
        self.n_features = int(n_features)
        self.word_ngrams = tuple(word_ngrams)
        self.char_ngrams = tuple(char_ngrams)
        self.max_chars = int(max_chars)
        self.max_word_chars = int(max_word_chars)
        self.C = float(C)
        self.keep = int(keep)
        self.fold_digits = bool(fold_digits)
        self.seed = int(seed)
        self.classes_: list[str] = []
        self.columns_: np.ndarray = np.empty(0, dtype=np.int64)
        self.coef_: np.ndarray = np.empty((0, 0))
        self.intercept_: np.ndarray = np.empty(0)
        self._lookup: np.ndarray | None = None
        self._chars: CharWbHasher | None = None
        self._gram_cache: dict[str, int] = {}

    # ---- features ----
    def _word_counts(self, texts: list[str]) -> sparse.csr_matrix:
        """Hashed word 1-2-gram counts, the same matrix as the word ``HashingVectorizer`` of :meth:`_vectorizers`,
        fed as (gram, 1) pairs built by C-level ``zip`` (no Python generator per n-gram)."""
        if self.word_ngrams != (1, 2):
            return self._vectorizers()[0].transform(texts)
        fh = FeatureHasher(n_features=self.n_features, input_type="pair", alternate_sign=False, dtype=np.float32)
        return fh.transform(zip(_unigrams_bigrams(t), repeat(1)) for t in texts)

    def _vectorizers(self) -> tuple[HashingVectorizer, HashingVectorizer]:
        common = dict(n_features=self.n_features, alternate_sign=False, norm=None, lowercase=True, dtype=np.float32)
        words = (HashingVectorizer(analyzer=_unigrams_bigrams, n_features=self.n_features, alternate_sign=False,
                                   norm=None, dtype=np.float32)
                 if self.word_ngrams == (1, 2) else
                 HashingVectorizer(analyzer="word", ngram_range=self.word_ngrams, token_pattern=TOKEN, **common))
        return words, HashingVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams, **common)

    def normalize(self, text: str) -> str:
        """What the n-grams are cut from: with ``fold_digits`` every digit reads 0 (years, prices, ids
        change from one era and sender to the next; their shape stays)."""
        return text.translate(_DIGITS) if self.fold_digits else text

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        """Hashed, log-scaled, block-normalised n-gram counts (n_docs x 2*n_features)."""
        texts = [self.normalize(t) for t in texts] if self.fold_digits else texts
        if self._chars is None:  # same columns as the char_wb HashingVectorizer, each distinct word hashed once
            self._chars = CharWbHasher(self.char_ngrams, self.n_features)
        blocks = []
        for fn, cap in ((self._word_counts, self.max_word_chars), (self._chars.transform, self.max_chars)):
            X = fn([t[:cap] for t in texts])
            X.data = np.log1p(X.data)
            blocks.append(normalize(X, copy=False))
        return sparse.hstack(blocks, format="csr")

    # ---- fit / predict ----
    def _fit_linear(self, X, y: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One-vs-rest L2 logistic regressions; solved in the dual (far fewer documents than n-grams)."""
        k = len(self.classes_)
        targets = [y == self.classes_[1]] if k == 2 else [y == c for c in self.classes_]
        active = np.unique(X.indices)  # columns no document uses keep a zero weight
        Xa = X[:, active]
        coefs = np.zeros((len(targets), X.shape[1]))
        icpt = np.zeros(len(targets))
        for r, t in enumerate(targets):
            lr = LogisticRegression(C=self.C, solver="liblinear", dual=True, max_iter=1000, random_state=self.seed)
            lr.fit(Xa, t.astype(int), sample_weight=w)
            coefs[r, active] = lr.coef_[0]
            icpt[r] = lr.intercept_[0]
        return coefs, icpt

    def fit(self, texts: list[str], y, sample_weight=None) -> "HashedTextModel":
        y = np.asarray(y, dtype=object)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype="float64")
        self.classes_ = sorted(set(y.tolist()), key=lambda c: (c != "ham", c))
        if len(self.classes_) < 2:
            raise ValueError("the text model needs at least two classes")
        X = self.transform(list(texts))
        coef, _ = self._fit_linear(X, y, w)
        weight = np.abs(coef).max(axis=0)
        cols = np.flatnonzero(weight)
        cols = cols[np.argsort(-weight[cols], kind="stable")[: self.keep]]
        self.columns_ = np.sort(cols).astype(np.int64)
        self.coef_, self.intercept_ = self._fit_linear(X[:, self.columns_], y, w)
        self._lookup = None
        return self

    def _dense(self) -> np.ndarray:
        if self._lookup is None:
            w = np.zeros((2 * self.n_features, self.coef_.shape[0]), dtype=np.float32)
            w[self.columns_] = self.coef_.T
            self._lookup = w
        return self._lookup

    def decision_function(self, texts: list[str]) -> np.ndarray:
        """Margins, one column per one-vs-rest target (one column for two classes)."""
        return self.decision_from_matrix(self.transform(list(texts)))

    def decision_from_matrix(self, X) -> np.ndarray:
        """Margins of documents already transformed by :meth:`transform`."""
        return np.asarray(X @ self._dense(), dtype="float64") + self.intercept_

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        m = 1.0 / (1.0 + np.exp(-self.decision_function(texts)))
        if m.shape[1] == 1:
            return np.hstack([1 - m, m])
        return m / m.sum(axis=1, keepdims=True)

    def predict(self, texts: list[str]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def score_samples(self, texts: list[str]) -> np.ndarray:
        """Probability of not being ham (higher = more malicious)."""
        return 1.0 - self.predict_proba(texts)[:, 0]

    # ---- explanation ----
    def _gram_columns(self, grams: list[str]) -> np.ndarray:
        """The hashed column of each n-gram (same hash as :func:`_column`); remembered, since flagged
        mail repeats its words, and new ones hashed in one vectorised call.

        >>> HashedTextModel(n_features=2**10)._gram_columns(["prize", "free cash"]).tolist() == [
        ...     _column("prize", 2**10), _column("free cash", 2**10)]
        True
        """
        if not grams:
            return np.empty(0, dtype=np.int64)
        cache = self._gram_cache
        cols = list(map(cache.get, grams))
        missing = [g for g, c in zip(grams, cols) if c is None]
        if missing:
            fh = FeatureHasher(n_features=self.n_features, input_type="pair", alternate_sign=False)
            got = fh.transform(zip(zip(missing, repeat(1)))).indices.tolist()  # one n-gram per row: row order = gram order
            new = dict(zip(missing, got))
            if len(cache) + len(new) > 200_000:
                cache.clear()  # bounded memory
            cache.update(new)
            cols = [c if c is not None else new[g] for g, c in zip(grams, cols)]
        return np.asarray(cols, dtype=np.int64)

    def top_terms(self, text: str, cls: str, n: int = 6, row=None) -> list[tuple[str, float]]:
        """The document's n-grams that weigh most towards ``cls`` (for two classes: towards the non-ham class).

        Weight = the n-gram's normalised value in this document times its coefficient. ``row`` is
        the document's row of :meth:`transform` when the caller has it already.
        """
        if cls not in self.classes_:
            return []
        k = 0 if len(self.classes_) == 2 else self.classes_.index(cls)
        sign = -1.0 if len(self.classes_) == 2 and cls == self.classes_[0] else 1.0
        X = self.transform([text]) if row is None else row
        idx = np.asarray(X.indices, dtype=np.int64)
        contrib = np.asarray(X.data, dtype="float64") * self._dense()[idx, k] * sign
        top = np.argsort(-contrib, kind="stable")[: n * 3]
        best = [(int(idx[t]), float(contrib[t])) for t in top if contrib[t] > 0]
        if not best:
            return []
        wanted = {j for j, c in best if c > 0}
        names: dict[int, str] = {}
        wv, cv = self._vectorizers()
        for offset, vec, cap in ((0, wv, self.max_word_chars), (self.n_features, cv, self.max_chars)):
            if offset and sum(1 for j in wanted if j < self.n_features and j in names) >= n:
                break  # enough words: character n-grams would not be shown
            grams = list(dict.fromkeys(vec.build_analyzer()(self.normalize(text)[:cap])))
            for g, j in zip(grams, (self._gram_columns(grams) + offset).tolist()):
                if j in wanted and (j not in names or (offset == 0 and " " in g)):
                    names.setdefault(j, g.strip())
        out, seen = [], set()
        for j, c in best:  # word n-grams first: they read better than character n-grams
            if c > 0 and j in names and names[j] not in seen and j < self.n_features:
                seen.add(names[j])
                out.append((names[j], round(c, 4)))
        for j, c in best:
            if c > 0 and j in names and j >= self.n_features and not any(names[j] in w for w in seen):
                seen.add(names[j])
                out.append((names[j], round(c, 4)))
        return out[:n]

    # ---- persistence ----
    def to_dict(self) -> dict:
        return {
            "format": "threatml-hashed-text-1",
            "params": {"n_features": self.n_features, "word_ngrams": list(self.word_ngrams),
                       "char_ngrams": list(self.char_ngrams), "max_chars": self.max_chars,
                       "max_word_chars": self.max_word_chars, "C": self.C, "keep": self.keep,
                       "fold_digits": self.fold_digits, "seed": self.seed},
            "token_pattern": TOKEN,
            "classes": self.classes_,
            "columns": self.columns_.tolist(),
            "coef": np.round(self.coef_, 5).tolist(),
            "intercept": np.round(self.intercept_, 6).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "HashedTextModel":
        if d.get("format") != "threatml-hashed-text-1":
            raise ValueError(f"not a hashed text model (format {d.get('format')!r})")
        p = d["params"]
        m = cls(n_features=p["n_features"], word_ngrams=tuple(p["word_ngrams"]), char_ngrams=tuple(p["char_ngrams"]),
                max_chars=p["max_chars"], max_word_chars=p["max_word_chars"], C=p["C"], keep=p["keep"],
                fold_digits=p.get("fold_digits", False), seed=p["seed"])
        m.classes_ = list(d["classes"])
        m.columns_ = np.asarray(d["columns"], dtype=np.int64)
        m.coef_ = np.asarray(d["coef"], dtype="float64").reshape(-1, len(m.columns_))
        m.intercept_ = np.asarray(d["intercept"], dtype="float64")
        return m
