"""Mask the variable parts of log messages (addresses, ids, numbers) before mining.

The default patterns are joined into one compiled alternation and applied to
whitespace-separated tokens through a bounded token -> masked-token cache: the
words of a log repeat, so most tokens cost one dictionary lookup and only new
tokens (fresh numbers, ids) run the regex. Extra (system-specific) regexes may
span spaces, so they run over the whole line first. :meth:`Masker.mask_many`
does this for a whole chunk of lines. The order of the default patterns
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

WILDCARD = "<*>"

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

    def mask(self, text: str) -> str:
        return self.mask_many([text])[0]

    def _token(self, tok: str) -> str:
        out = WILDCARD if tok.isdigit() else self._rx.sub(WILDCARD, tok)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()  # bounded: new ids would otherwise grow it forever
        self._cache[tok] = out
        return out

    def mask_many(self, texts: Iterable[str]) -> list[str]:
        if self._extra_rx is not None:
            sub = self._extra_rx.sub
            texts = [sub(WILDCARD, t) for t in texts]
        if self._rx is None:
            return list(texts)
        get, tok = self._cache.get, self._token
        return [" ".join([get(w) or tok(w) for w in t.split()]) for t in texts]

    def to_dict(self) -> dict:
        return {"patterns": self.patterns, "extra": self.extra, "cache_size": self.cache_size}

    @classmethod
    def from_dict(cls, d: dict) -> "Masker":
        return cls(patterns=d.get("patterns"), extra=d.get("extra", ()), cache_size=d.get("cache_size", 100_000))
