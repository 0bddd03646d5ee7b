"""A linear model over request targets: hashed character n-grams plus lexical counts.

Features of the *normalised* target (:func:`threatml.detectors.weblog.signatures.normalise`):
character 2- to 4-grams hashed into ``2**n_bits`` columns (scikit-learn's
``HashingVectorizer``, so there is no vocabulary to store and unseen
n-grams cost nothing), and a few lexical counts that generalise across
payload shapes (length, share of punctuation, quotes, brackets, how many
decoding rounds the raw target needed, percent signs). A logistic
regression turns them into a probability that the request is an attack.

Saved as JSON (parameters, coefficients, intercept) in a model folder with
its card; never pickled.

>>> import random
>>> from threatml.detectors.weblog.synthetic import request_examples
>>> X, y, _ = request_examples(random.Random(0), 400, 200)
>>> m = RequestModel(n_bits=12).fit(X, y)
>>> s = m.score_samples(["/index.html?id=1%27%20union%20select%20password%20from%20users--", "/about"])
>>> bool(s[0] > 0.5 > s[1])
True
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from threatml.detectors.weblog.signatures import normalise_many

LEXICAL = ("log_length", "punct_share", "quotes", "brackets", "angle", "semicolons", "decode_rounds", "percent_share",
           "spaces", "digits_share")


def lexical(raw: pd.Series, norm: pd.Series) -> np.ndarray:
    """The :data:`LEXICAL` features, one row per request (RE2 counts over whole columns)."""
    r = pa.array(raw.to_numpy(dtype=object), type=pa.string())
    n = pa.array(norm.to_numpy(dtype=object), type=pa.string())

    def count(a: pa.Array, pat: str) -> np.ndarray:
        return pc.count_substring_regex(a, pat).to_numpy(zero_copy_only=False).astype("float64")

    def has(a: pa.Array, lit: str) -> np.ndarray:
        return pc.match_substring(a, lit).to_numpy(zero_copy_only=False).astype("float64")

    ln = pc.utf8_length(n).to_numpy(zero_copy_only=False).astype("float64")
    safe = np.maximum(ln, 1.0)
    raw_len = np.maximum(pc.utf8_length(r).to_numpy(zero_copy_only=False).astype("float64"), 1.0)
    # decoding rounds needed: one for any escape, one more per level of escaped '%' (%25, %2525)
    rounds = has(r, "%") + has(r, "%25") + has(r, "%2525")
    return np.column_stack([
        np.log1p(ln),
        count(n, r"[^\w/.\-?=&]") / safe,
        np.minimum(count(n, r"['\"`]"), 10),
        np.minimum(count(n, r"[(){}\[\]]"), 10),
        np.minimum(count(n, r"[<>]"), 10),
        np.minimum(count(n, r";"), 10),
        rounds,
        count(r, "%") / raw_len,
        np.minimum(count(n, " "), 20),
        count(n, r"\d") / safe,
    ])


class RequestModel:
    """Logistic regression on hashed char n-grams + lexical features; ``score_samples`` is P(attack)."""

    def __init__(self, n_bits: int = 16, ngram: tuple[int, int] = (2, 4), C: float = 4.0, seed: int = 0):
        self.n_bits, self.ngram, self.C, self.seed = n_bits, tuple(ngram), C, seed
        self.coef_: np.ndarray | None = None
        self.intercept_: float = 0.0
        self.threshold: float = 0.5

    def _vec(self) -> HashingVectorizer:
        return HashingVectorizer(analyzer="char", ngram_range=self.ngram, n_features=2 ** self.n_bits,
                                 alternate_sign=False, norm="l2", lowercase=False)

    def features(self, targets) -> sp.csr_matrix:
        raw = pd.Series(list(targets), dtype="str")
        codes, uniq = pd.factorize(raw, sort=False)
        u_raw = pd.Series(uniq, dtype="str")
        u_norm = normalise_many(u_raw)
        x = sp.hstack([self._vec().transform(u_norm), sp.csr_matrix(lexical(u_raw, u_norm))], format="csr")
        return x[codes]

    def fit(self, targets, y) -> "RequestModel":
        lr = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed, solver="liblinear")
        lr.fit(self.features(targets), np.asarray(y))
        self.coef_ = lr.coef_.ravel().astype("float64")
        self.intercept_ = float(lr.intercept_[0])
        return self

    def score_samples(self, targets) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("model is not fitted")
        z = self.features(targets) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.asarray(z).ravel()))

    def predict(self, targets) -> np.ndarray:
        return (self.score_samples(targets) >= self.threshold).astype(int)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        nz = np.flatnonzero(np.abs(self.coef_) > 1e-6)
        (folder / "model.json").write_text(json.dumps({
            "type": "weblog.request_model", "n_bits": self.n_bits, "ngram": list(self.ngram), "C": self.C,
            "seed": self.seed, "threshold": self.threshold, "intercept": self.intercept_, "n_coef": len(self.coef_),
            "index": nz.tolist(), "coef": [round(float(v), 5) for v in self.coef_[nz]]}))

    @classmethod
    def load(cls, folder: Path) -> "RequestModel":
        d = json.loads((Path(folder) / "model.json").read_text())
        if d.get("type") != "weblog.request_model":
            raise ValueError(f"{folder}: not a weblog request model")
        m = cls(n_bits=int(d["n_bits"]), ngram=tuple(d["ngram"]), C=float(d["C"]), seed=int(d["seed"]))
        coef = np.zeros(int(d["n_coef"]))
        coef[np.asarray(d["index"], dtype="int64")] = np.asarray(d["coef"], dtype="float64")
        m.coef_, m.intercept_, m.threshold = coef, float(d["intercept"]), float(d["threshold"])
        return m
