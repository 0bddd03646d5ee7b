"""English word knowledge for domain names, learned offline from plain text.

Two things come out of a text corpus (the builder uses the SpamAssassin and
SMS mail text of the shared datasets, or Python's own documentation when those
are absent; nothing is downloaded):

* a vocabulary of frequent words, for segmenting a label into words
  (``heavenshake`` -> ``heaven shake``), and
* a character trigram language model of English words, whose likelihood tells
  pronounceable labels from random ones.

Both serialise to plain JSON.

>>> lm = CharTrigramLM.fit(["hello", "help", "yellow", "below"] * 3)
>>> s = lm.score(["hello", "xqzv"])
>>> bool(s["lm_mean"][0] > s["lm_mean"][1])
True
>>> segment("heavenshake", {"heaven", "shake", "have"})
['heaven', 'shake']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pyarrow.compute as pc

from threatml.web.textvec import as_arrow, flat_bytes, row_ids

_WORD_RE = re.compile(r"(?<![a-z0-9_@./=%+-])[a-z]{3,15}(?![a-z0-9_@=%+])")

#: alphabet of the language model: 0 = boundary, 1..26 letters, 27 digit, 28 hyphen, 29 other
ALPHABET = 30


def count_words(texts: Iterable[str]) -> Counter:
    """Lower-case alphabetic tokens of 3 to 15 letters not glued to digits or address characters."""
    c: Counter = Counter()
    for t in texts:
        c.update(_WORD_RE.findall(t.lower()))
    return c


def vocabulary(counts: Counter, min_count: int = 3, max_words: int = 30000) -> list[str]:
    """The most frequent words seen at least ``min_count`` times, most frequent first."""
    return [w for w, n in counts.most_common(max_words) if n >= min_count]


def stdlib_text() -> list[str]:
    """English prose that ships with Python (the pydoc topic help), the fallback corpus."""
    import pydoc_data.topics as topics

    return list(topics.topics.values())


def segment(label: str, vocab: set[str] | frozenset[str], max_word: int = 15) -> list[str]:
    """Split ``label`` into vocabulary words covering the most letters (then: fewest pieces).

    Letters no word covers come out as single-character pieces.
    """
    n = len(label)
    # best[i] = (covered letters, -pieces) of label[:i]; back[i] = start of the last piece
    best = [(0, 0)] * (n + 1)
    back = [0] * (n + 1)
    for i in range(1, n + 1):
        cand = (best[i - 1][0], best[i - 1][1] - 1)
        bj = i - 1
        for j in range(max(0, i - max_word), i - 2):
            if label[j:i] in vocab:
                c = (best[j][0] + i - j, best[j][1] - 1)
                if c > cand:
                    cand, bj = c, j
        best[i], back[i] = cand, bj
    out, i = [], n
    while i > 0:
        out.append(label[back[i]:i])
        i = back[i]
    return out[::-1]


def segment_features(labels: list[str], vocab: frozenset[str]) -> np.ndarray:
    """Per label: covered share, words, mean and longest word length, uncovered letters, words per 10 letters."""
    out = np.zeros((len(labels), 6))
    cache: dict[str, tuple] = {}
    for k, lab in enumerate(labels):
        r = cache.get(lab)
        if r is None:
            core = lab.replace("-", "")
            pieces = segment(core, vocab) if core else []
            words = [p for p in pieces if len(p) >= 3 and p in vocab]
            covered = sum(len(w) for w in words)
            n = max(len(core), 1)
            r = (covered / n, float(len(words)), float(np.mean([len(w) for w in words])) if words else 0.0,
                 float(max((len(w) for w in words), default=0)), float(len(core) - covered), 10.0 * len(words) / n)
            cache[lab] = r
        out[k] = r
    return out


def _codes(arr) -> tuple[np.ndarray, np.ndarray]:
    """Alphabet codes of every byte of ``^^label$`` per label, and offsets."""
    padded = pc.binary_join_element_wise("\x01\x01", pc.utf8_lower(as_arrow(arr)), "\x02", "")
    data, off = flat_bytes(as_arrow(padded))
    table = np.full(256, 29, dtype=np.int64)
    table[1] = table[2] = 0
    table[ord("a"):ord("z") + 1] = np.arange(1, 27)
    table[ord("0"):ord("9") + 1] = 27
    table[ord("-")] = 28
    return table[data], off


class CharTrigramLM:
    """Add-k smoothed character trigram model; ``score`` is vectorised over a batch."""

    def __init__(self, logp: np.ndarray | None = None, k: float = 0.1):
        self.k = k
        self.logp = logp

    @classmethod
    def fit(cls, words: Iterable[str], weights: Iterable[float] | None = None, k: float = 0.1) -> "CharTrigramLM":
        words = list(words)
        w = np.ones(len(words)) if weights is None else np.asarray(list(weights), dtype=np.float64)
        codes, off = _codes(words)
        tri, rows = cls._trigrams(codes, off)
        counts = np.bincount(tri, weights=w[rows], minlength=ALPHABET ** 3).reshape(ALPHABET ** 2, ALPHABET)
        counts = counts + k
        logp = np.log(counts / counts.sum(1, keepdims=True))
        return cls(logp.ravel().astype("<f2").astype(np.float64), k)  # what is saved is what is used

    @staticmethod
    def _trigrams(codes: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = len(codes) - 2
        if m <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        rid = row_ids(off)
        ok = np.arange(m) + 3 <= off[1:][rid[:m]]
        tri = (codes[:m] * ALPHABET + codes[1:m + 1]) * ALPHABET + codes[2:m + 2]
        return tri[ok], rid[:m][ok]

    def score(self, labels) -> dict[str, np.ndarray]:
        """Mean and minimum log-probability per character, and the share of rare trigrams."""
        codes, off = _codes(labels)
        tri, rows = self._trigrams(codes, off)
        n = len(off) - 1
        lp = self.logp[tri]
        cnt = np.maximum(np.bincount(rows, minlength=n), 1)
        mean = np.bincount(rows, weights=lp, minlength=n) / cnt
        low = np.full(n, 0.0)
        np.minimum.at(low, rows, lp)
        rare = np.bincount(rows, weights=(lp < np.log(1e-3)).astype(np.float64), minlength=n) / cnt
        return {"lm_mean": mean, "lm_min": low, "lm_rare": rare}

    def to_json(self) -> dict:
        # float16 keeps the file small; log-probabilities need no more precision
        import base64

        return {"k": self.k, "alphabet": ALPHABET,
                "logp_f16_b64": base64.b64encode(self.logp.astype("<f2").tobytes()).decode("ascii")}

    @classmethod
    def from_json(cls, d: dict) -> "CharTrigramLM":
        import base64

        if d.get("alphabet") != ALPHABET:
            raise ValueError("language model alphabet differs from this version's")
        logp = np.frombuffer(base64.b64decode(d["logp_f16_b64"]), dtype="<f2").astype(np.float64)
        if len(logp) != ALPHABET ** 3:
            raise ValueError("language model table has the wrong size")
        return cls(logp, d.get("k", 0.1))
