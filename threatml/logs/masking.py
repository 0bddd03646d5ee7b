"""Mask the variable parts of log messages (addresses, ids, numbers) before mining.

The default patterns are joined into one compiled alternation and applied to
whitespace-separated tokens through a bounded token -> masked-token cache: the
words of a log repeat, so most tokens cost one dictionary lookup and only new
tokens (fresh numbers, ids) run the regex. Extra (system-specific) regexes may
span spaces, so they run over the whole line first. :meth:`Masker.mask_many`
does this for a whole chunk of lines.

Why a chunk is fast: the default patterns only ask whether a character is a
digit, never which one (except the ``0`` of ``0x``), so a line's *shape*
(ASCII digits 2-9 written as ``1``, one C-level byte translation over the
whole chunk) is masked exactly like the line itself at the same places. Only
the distinct shapes of a chunk are masked in Python (a log repeats a handful
of shapes: ``pid 1111``, ``10.11.1.111``); when a masked shape is free of the
digits 1-9 every changed digit sat inside a masked span, so it *is* the masked
line. The few lines where a digit survives (``ext4``) are masked one by one.
Patterns with a literal digit 1-9 turn this off (checked at construction). The order of the default patterns
matters: the most specific (UUIDs, dates, addresses) come first so a date is
not eaten as three numbers. Masked output has single spaces between tokens.

>>> Masker().mask("conn from 10.1.2.3:22 id=0x1f at /var/log/x.log took 12 ms")
'conn from <*> id=<*> at <*> took <*> ms'
>>> Masker().mask("job 3f2c1a9e-0b7d-4c1e-9a3b-5d6e7f8a9b0c done 2024-05-01T10:00:00Z")
'job <*> done <*>'
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WILDCARD = "<*>"
_SHAPE = bytes.maketrans(b"23456789", b"11111111")
_KEPT_DIGIT = re.compile(r"[1-9]")

#: name -> regex. Numbers and hex are masked only as whole tokens (between
#: non-word characters) so that "sshd2" or "ext4" stay part of the template.
DEFAULT_PATTERNS: dict[str, str] = {
    "uuid": r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    "datetime": r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
    "time": r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
    "ipv4": r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])",
    "ipv6": r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])",
    "mac": r"\b(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}\b",
    "hex": r"\b0[xX][0-9a-fA-F]+\b|(?<![\w-])(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}(?![\w-])",
    "path": r"(?<![\w<>*/])(?:/[\w.\-~@+]+){2,}/?",
    "number": r"(?<![\w.<>*-])[-+]?\d+(?:\.\d+)?(?![\w.]*\w)",
}


class Masker:
    """Replace every match of a set of regexes by ``<*>`` in one pass.

    ``patterns`` defaults to :data:`DEFAULT_PATTERNS`; ``extra`` are applied
    first (system-specific ids such as HDFS ``blk_-?\\d+``).
    """

    def __init__(self, patterns: dict[str, str] | None = None, extra: Sequence[str] = (),
                 cache_size: int = 100_000):
        self.patterns = dict(DEFAULT_PATTERNS if patterns is None else patterns)
        self.extra = list(extra)
        self.cache_size = cache_size
        self._extra_rx = re.compile("|".join(f"(?:{p})" for p in self.extra)) if self.extra else None
        parts = [f"(?:{p})" for p in self.patterns.values()]
        self._rx = re.compile("|".join(parts)) if parts else None
        self._cache: dict[str, str] = {}
        self._shape_ok = self._rx is not None and shape_safe(self._rx.pattern)

    def mask(self, text: str) -> str:
        return self.mask_many([text])[0]

    def _token(self, tok: str) -> str:
        out = WILDCARD if tok.isdigit() else self._rx.sub(WILDCARD, tok)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()  # bounded: new ids would otherwise grow it forever
        self._cache[tok] = out
        return out

    def mask_many(self, texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> list[str]:
        """Masked text of each message (a list, pandas Series or Arrow string array)."""
        codes, uniques = self.mask_codes(texts)
        return np.asarray(uniques, dtype=object)[codes].tolist() if len(codes) else []

    def mask_codes(self, texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
        """``(codes, uniques)``: message ``i`` masks to ``uniques[codes[i]]``; uniques in order of first use.

        >>> Masker().mask_codes(["pid 42 up", "pid 7 up", "ext4 ok"])
        (array([0, 0, 1]), ['pid <*> up', 'ext4 ok'])
        """
        arr = None
        if self._extra_rx is None and self._shape_ok:
            try:
                arr = _as_large_string(texts)
            except (pa.ArrowException, UnicodeError, TypeError):
                arr = None  # e.g. lone surrogates: the line-by-line path below copes
        if arr is None:
            if isinstance(texts, (pa.Array, pa.ChunkedArray)):
                texts = texts.to_pylist()
            elif not isinstance(texts, list):
                texts = list(texts)
            if self._extra_rx is not None:
                sub = self._extra_rx.sub
                texts = [sub(WILDCARD, t) for t in texts]
            if self._rx is not None:
                texts = self._mask_each(texts)
            return _factorize_list(texts)
        codes, shapes = _factorize(_shape(arr))
        shape_list = shapes.to_pylist()
        masked = self._mask_each(shape_list)
        kept = [j for j, m in enumerate(masked) if _KEPT_DIGIT.search(m)]
        if kept:  # a digit outside every masked span: these lines differ from their shape, mask them one by one
            rows = np.flatnonzero(np.isin(codes, kept))
            own = self._mask_kept(arr.take(pa.array(rows)).to_pylist(), codes[rows], shape_list, masked)
            codes = codes.copy()
            codes[rows] = len(masked) + np.arange(len(rows))
            masked = masked + own
        # distinct shapes can mask to the same text: merge them, keeping the order of first use
        codes2, uniques = _factorize_list(masked)
        return _by_first_use(codes2[codes], uniques)

    def _mask_kept(self, texts: list[str], codes: np.ndarray, shapes: list[str], masked: list[str]) -> list[str]:
        """Mask lines whose masked shape keeps a digit 1-9 (``veth3``, ``req-4711-9``).

        Per shape, once: which tokens kept a digit and the spans masked inside
        them (the same in every line of that shape); per line, only those
        tokens are taken from the line itself, so fresh ids cost no regex run.
        """
        plans: dict[int, tuple[list[str], list[tuple[int, tuple]]]] = {}
        out = []
        for text, j in zip(texts, codes.tolist()):
            plan = plans.get(j)
            if plan is None:
                fixed = masked[j].split(" ")
                swaps = [(k, tuple(m.span() for m in self._rx.finditer(tok)))
                         for k, tok in enumerate(shapes[j].split()) if _KEPT_DIGIT.search(fixed[k])]
                plan = plans[j] = (fixed, swaps)
            fixed, swaps = plan
            toks, line = fixed.copy(), text.split()
            for k, spans in swaps:
                toks[k] = _splice(line[k], spans) if spans else line[k]
            out.append(" ".join(toks))
        return out

    def _mask_each(self, texts: list[str]) -> list[str]:
        get, tok = self._cache.get, self._token
        return [" ".join([get(w) or tok(w) for w in t.split()]) for t in texts]

    def to_dict(self) -> dict:
        return {"patterns": self.patterns, "extra": self.extra, "cache_size": self.cache_size}

    @classmethod
    def from_dict(cls, d: dict) -> "Masker":
        return cls(patterns=d.get("patterns"), extra=d.get("extra", ()), cache_size=d.get("cache_size", 100_000))


def shape_safe(pattern: str) -> bool:
    """True when ``pattern`` cannot tell the digits 1-9 apart (no literal 1-9 outside ``{m,n}`` and ``0-9``)."""
    bare = re.sub(r"\{\d+(?:,\d*)?\}|0-9", "", pattern)
    return not re.search(r"[1-9]", bare)


def _as_large_string(texts) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    elif isinstance(texts, list):
        texts = pa.array(texts, type=pa.large_string())
    elif not isinstance(texts, pa.Array):  # a pandas Series (zero-copy when Arrow-backed) or any iterable
        texts = pa.array(texts) if hasattr(texts, "dtype") else pa.array(list(texts), type=pa.large_string())
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if texts.type != pa.large_string():
        texts = texts.cast(pa.large_string())
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    return texts


def _shape(arr: pa.Array) -> pa.Array:
    """The same strings with ASCII digits 2-9 as 1 (one translation of the data buffer; UTF-8 safe:
    multi-byte sequences hold no ASCII bytes)."""
    validity, offsets, data = arr.buffers()
    if data is None:
        return arr
    return pa.LargeStringArray.from_buffers(len(arr), offsets, pa.py_buffer(data.to_pybytes().translate(_SHAPE)),
                                            validity, arr.null_count, arr.offset)


def _factorize(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes (int64) and distinct values in order of first appearance (Arrow's hash encoder)."""
    enc = pc.dictionary_encode(arr)
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary


def _factorize_list(texts: list[str]) -> tuple[np.ndarray, list[str]]:
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
    return codes, list(index)


def _by_first_use(codes: np.ndarray, uniques: list[str]) -> tuple[np.ndarray, list[str]]:
    """Drop unused values and number the rest in order of first use."""
    if not len(codes):
        return codes, []
    vals, first = np.unique(codes, return_index=True)
    used = vals[np.argsort(first, kind="stable")]
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[used] = np.arange(len(used))
    return rank[codes], [uniques[j] for j in used]


def _splice(tok: str, spans: tuple) -> str:
    parts, at = [], 0
    for a, b in spans:
        parts.append(tok[at:a])
        parts.append(WILDCARD)
        at = b
    parts.append(tok[at:])
    return "".join(parts)
