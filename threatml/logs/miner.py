"""A streaming log template miner in the Drain family, with bounded state saved as JSON.

Each message is masked (:mod:`threatml.logs.masking`), split into tokens and
routed down a fixed-depth tree: first by token count, then by its first
``depth - 2`` tokens (a token holding a digit or a masked part, or a level
already full, goes to
the ``<*>`` branch). The leaf holds candidate clusters; the message joins the
most similar one (share of positions with the same token, wildcards ignored)
when that share reaches ``sim_threshold``, turning differing positions into
``<*>``, or starts a new cluster.

Why it is fast: most lines of a log repeat a masked message seen before, so a
bounded dictionary from masked text to cluster answers them without walking
the tree; masking runs one compiled regex over a whole chunk.

Why memory is bounded: at most ``max_clusters`` clusters are kept (the least
recently matched are evicted, their ids never reused), a tree level has at most
``max_children`` branches, and the cache is cleared when it reaches
``cache_size``.

>>> m = TemplateMiner()
>>> ids = m.add_many(["login failed for alice from 10.0.0.1", "login failed for bob from 10.0.0.2", "disk full"])
>>> bool(ids[0] == ids[1] != ids[2])
True
>>> m.template(ids[0])
'login failed for <*> from <*>'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa

from threatml.logs.masking import WILDCARD, Masker

STATE_VERSION = 1


@dataclass
class Cluster:
    id: int
    tokens: list[str]
    size: int = 0
    last: int = 0  # add() counter when last matched (for LRU eviction)

    @property
    def template(self) -> str:
        return " ".join(self.tokens)


_ASCII_DIGIT = re.compile(r"[0-9]")


def _is_variable(tok: str) -> bool:
    """Route by a token only when it looks constant: no digit and nothing masked inside."""
    if WILDCARD in tok:
        return True
    if tok.isascii():
        return _ASCII_DIGIT.search(tok) is not None
    return any(c.isdigit() for c in tok)


class TemplateMiner:
    """Drain-style online template miner (see module doc).

    Parameters: ``depth`` (tree depth, >= 3), ``sim_threshold`` (0..1),
    ``max_children`` per tree node, ``max_clusters`` kept, ``extra_regexes``
    masked before the default patterns, ``patterns`` (None = defaults, {} =
    no default masking), ``delimiters`` (extra characters treated as spaces),
    ``cache_size`` (masked-text -> cluster entries), ``masked_same`` (a
    template wildcard facing a masked token counts as a match: right when the
    masking is broad, as with the defaults; classic Drain counts it as a miss).
    """

    def __init__(
        self,
        depth: int = 4,
        sim_threshold: float = 0.5,
        max_children: int = 100,
        max_clusters: int = 20_000,
        extra_regexes: Sequence[str] = (),
        patterns: dict[str, str] | None = None,
        delimiters: str = "",
        cache_size: int = 200_000,
        masked_same: bool = True,
    ):
        if depth < 3:
            raise ValueError("depth must be >= 3")
        self.depth, self.sim_threshold = depth, sim_threshold
        self.max_children, self.max_clusters = max_children, max_clusters
        self.delimiters, self.cache_size = delimiters, cache_size
        self.masked_same = masked_same
        self.masker = Masker(patterns=patterns, extra=extra_regexes)
        self._trans = str.maketrans({c: " " for c in delimiters}) if delimiters else None
        self.clusters: dict[int, Cluster] = {}
        self._tree: dict = {}
        self._cache: dict[str, int] = {}
        self._next_id = 1
        self._clock = 0
        self.lines = 0

    # ---- mining ----------------------------------------------------------
    def add(self, message: str) -> int:
        """Mine one message; return its cluster id."""
        return int(self.add_many([message])[0])

    def add_many(self, messages: Iterable[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Mine a chunk of messages (list, pandas Series or Arrow strings); return cluster ids (int64).

        Each distinct masked text of the chunk is looked up once, in order of
        first appearance, which is what line-by-line mining would do: a text
        seen before in the chunk always hits the masked-text cache.
        """
        codes, texts = self.masker.mask_codes(messages)
        n = len(codes)
        if not n:
            return np.empty(0, dtype=np.int64)
        counts = np.bincount(codes, minlength=len(texts))
        last = n - 1 - np.unique(codes[::-1], return_index=True)[1]  # line of each text's last use
        ids = np.empty(len(texts), dtype=np.int64)
        cache, clusters, base = self._cache, self.clusters, self._clock
        for j, text in enumerate(texts):
            cid = cache.get(text)
            c = clusters.get(cid) if cid is not None else None
            extra = int(counts[j])
            if c is None:
                cid = self._add_masked(text)
                c, extra = clusters[cid], extra - 1
                if len(cache) >= self.cache_size:
                    cache.clear()
                cache[text] = cid
            c.size += extra
            c.last = max(c.last, base + 1 + int(last[j]))
            ids[j] = cid
        self._clock = base + n
        self.lines += n
        if len(clusters) > self.max_clusters:
            self._evict()
        return ids[codes]

    def match(self, message: str) -> int | None:
        """The cluster id ``message`` would join, without changing any state (None: new)."""
        text = self.masker.mask(message)
        cid = self._cache.get(text)
        if cid is not None and cid in self.clusters:
            return cid
        tokens = self._tokens(text)
        leaf = self._leaf(tokens, create=False)
        if leaf is None:
            return None
        best = self._best(leaf, tokens)
        return best.id if best is not None else None

    def _tokens(self, text: str) -> list[str]:
        if self._trans is not None:
            text = text.translate(self._trans)
        return text.split()

    def _leaf(self, tokens: list[str], create: bool) -> list[int] | None:
        """The leaf for ``tokens``: searching falls back to the ``<*>`` branch;
        creating adds a branch for the token while the level has room."""
        node = self._tree.get(len(tokens))
        if node is None:
            if not create:
                return None
            node = self._tree[len(tokens)] = {}
        for k in range(min(self.depth - 2, len(tokens))):
            tok = tokens[k]
            key = WILDCARD if _is_variable(tok) else tok
            nxt = node.get(key)
            if nxt is None and not create:
                nxt = node.get(WILDCARD)
                if nxt is None:
                    return None
            elif nxt is None:
                if len(node) >= self.max_children - (0 if WILDCARD in node else 1):
                    key = WILDCARD
                nxt = node.setdefault(key, {})
            node = nxt
        if create:
            return node.setdefault("", [])
        return node.get("")

    def _best(self, leaf: list[int], tokens: list[str]) -> Cluster | None:
        best, best_sim, best_par = None, -1.0, -1
        n, masked_same = len(tokens), self.masked_same
        for cid in leaf:
            c = self.clusters[cid]
            same = par = 0
            for a, b in zip(c.tokens, tokens):
                if a == WILDCARD:
                    par += 1
                    same += masked_same and b == WILDCARD
                elif a == b:
                    same += 1
            sim = same / n if n else 1.0
            if sim > best_sim or (sim == best_sim and par > best_par):
                best, best_sim, best_par = c, sim, par
        return best if best is not None and best_sim >= self.sim_threshold else None

    def _add_masked(self, text: str) -> int:
        tokens = self._tokens(text)
        leaf = self._leaf(tokens, create=False)
        c = self._best(leaf, tokens) if leaf else None
        if c is None:
            c = Cluster(self._next_id, tokens)
            self._next_id += 1
            self.clusters[c.id] = c
            self._leaf(tokens, create=True).append(c.id)
        else:
            c.tokens = [a if a == b else WILDCARD for a, b in zip(c.tokens, tokens)]
        c.size += 1
        c.last = self._clock
        return c.id

    def _evict(self) -> None:
        """Drop the least recently matched tenth of the clusters (amortised)."""
        keep = int(self.max_clusters * 0.9)
        order = sorted(self.clusters.values(), key=lambda c: c.last)
        gone = {c.id for c in order[: len(order) - keep]}
        for cid in gone:
            del self.clusters[cid]
        self._prune(self._tree, gone)
        self._cache = {k: v for k, v in self._cache.items() if v not in gone}

    def _prune(self, node: dict, gone: set[int]) -> None:
        for key, child in node.items():
            if key == "":
                child[:] = [c for c in child if c not in gone]
            else:
                self._prune(child, gone)

    # ---- reading results -------------------------------------------------
    def template(self, cid: int) -> str:
        c = self.clusters.get(int(cid))
        return c.template if c is not None else ""

    def templates(self) -> list[tuple[int, str, int]]:
        """(id, template, count), most frequent first."""
        return sorted(((c.id, c.template, c.size) for c in self.clusters.values()), key=lambda t: (-t[2], t[0]))

    # ---- persistence -----------------------------------------------------
    def params(self) -> dict:
        return {
            "depth": self.depth, "sim_threshold": self.sim_threshold, "max_children": self.max_children,
            "max_clusters": self.max_clusters, "delimiters": self.delimiters, "cache_size": self.cache_size,
            "masked_same": self.masked_same,
        }

    def to_dict(self) -> dict:
        return {
            "format": "threatml.template-miner", "version": STATE_VERSION, "params": self.params(),
            "masking": self.masker.to_dict(), "next_id": self._next_id, "clock": self._clock, "lines": self.lines,
            "clusters": [[c.id, c.template, c.size, c.last] for c in self.clusters.values()],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TemplateMiner":
        if d.get("format") != "threatml.template-miner":
            raise ValueError("not a template-miner state")
        m = cls(**d["params"], extra_regexes=d["masking"].get("extra", ()), patterns=d["masking"].get("patterns"))
        m._next_id, m._clock, m.lines = int(d["next_id"]), int(d["clock"]), int(d["lines"])
        for cid, template, size, last in d["clusters"]:
            tokens = template.split()
            c = Cluster(int(cid), tokens, int(size), int(last))
            m.clusters[c.id] = c
            m._place(c)
        return m

    def _place(self, c: Cluster) -> None:
        """Put a reloaded cluster back in the tree under its template's own path."""
        self._leaf(c.tokens, create=True).append(c.id)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> "TemplateMiner":
        return cls.from_dict(json.loads(Path(path).read_text()))
