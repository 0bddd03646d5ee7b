"""Group template ids into sessions (by an identifier regex or time windows) and vectorise them.

A session is the ordered list of template ids of one identifier (an HDFS
block, a request id, a pid) or of one time window. :class:`EventCounter` turns
sessions into count vectors over a fixed vocabulary, optionally TF-IDF weighted
(the weights are learnt at ``fit`` and saved with the model), and keeps one
extra column for templates outside the vocabulary.

>>> keys = session_keys(["open blk_1", "close blk_1", "open blk_2"], r"(blk_-?\\d+)")
>>> keys
['blk_1', 'blk_1', 'blk_2']
>>> s = build_sessions(keys, [5, 6, 5])
>>> [(x.key, x.events) for x in s]
[('blk_1', [5, 6]), ('blk_2', [5])]
>>> EventCounter().fit([[5, 6], [5]]).transform([[5, 5, 9]]).tolist()
[[2.0, 0.0, 1.0]]
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.errors import InputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> float:
    """``"5m"`` -> 300.0 seconds (units s, m, h, d; a bare number is seconds)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"bad window {text!r}: expected a duration like 30s, 5m, 1h")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def parse_window_spec(text: str) -> tuple[float, float | None]:
    """``"5m"`` -> (300, None) fixed windows; ``"5m/1m"`` -> (300, 60) sliding windows every minute.

    >>> parse_window_spec("10m/2m")
    (600.0, 120.0)
    """
    size, _, step = str(text).partition("/")
    seconds = parse_window(size)
    if not step:
        return seconds, None
    every = parse_window(step)
    if every > seconds:
        raise ValueError(f"bad window {text!r}: the step is longer than the window")
    return seconds, every


def session_keys(messages: Sequence[str], regex: str) -> list[str]:
    """The first group (or whole match) of ``regex`` in each message; "" when absent.

    Runs in Arrow's RE2 engine over the whole batch when the regex is RE2
    syntax (the usual ``(blk_-?\\d+)``); otherwise (look-arounds, back
    references, named groups) Python's ``re`` per message. RE2's ``\\d`` and
    ``\\w`` are ASCII, which is what log identifiers are.
    """
    rx = re.compile(regex)
    named = _re2_first_group(regex, rx)
    if named is not None:
        try:
            arr = pa.array(messages) if hasattr(messages, "dtype") else pa.array(list(messages), type=pa.large_string())
            got = pc.extract_regex(arr, pattern=named)
            return pc.fill_null(pc.struct_field(got, [0]), "").to_pylist()
        except (pa.ArrowException, TypeError):
            pass  # not RE2 syntax: Python below
    s = pd.Series(list(messages), dtype="object").astype(str)
    if rx.groups:
        got = s.str.extract(rx, expand=True).iloc[:, 0]
    else:
        got = s.str.extract(f"({regex})", expand=True).iloc[:, 0]
    return got.fillna("").tolist()


def _re2_first_group(regex: str, rx: re.Pattern) -> str | None:
    """``regex`` with its first capturing group named ``k`` and the others made non-capturing
    (Arrow wants named groups only); None when that rewrite is not safe."""
    if rx.groupindex or re.search(r"\\[1-9]", regex):
        return None
    if not rx.groups:
        return f"(?P<k>{regex})"
    out, i, in_class, first = [], 0, False, True
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            out.append(regex[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]" or (out and out[-1] in ("[", "[^"))
        elif ch == "[":
            in_class = True
            if regex[i + 1:i + 2] == "^":
                out.append("[^")
                i += 2
                continue
        elif ch == "(" and regex[i + 1:i + 2] != "?":
            out.append("(?P<k>" if first else "(?:")
            first = False
            i += 1
            continue
        out.append(ch)
        i += 1
    new = "".join(out)
    try:
        return new if re.compile(new).groups == 1 else None
    except re.error:
        return None


def window_indices(ts: np.ndarray, seconds: float, step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, window numbers) of every (line, window) pair; window ``k`` starts at ``k * step``
    (``step`` = ``seconds`` for fixed windows). Lines without a finite time are in none.

    >>> window_indices(np.array([0.0, 61.0, np.nan]), 60.0)
    (array([0, 1]), array([0, 1]))
    >>> window_indices(np.array([65.0]), 120.0, 60.0)
    (array([0, 0]), array([0, 1]))
    """
    ts = np.asarray(ts, dtype="float64")
    ok = np.flatnonzero(np.isfinite(ts))
    if step is None or step >= seconds:
        return ok, np.floor(ts[ok] / seconds).astype(np.int64)
    per = int(np.ceil(seconds / step))
    last = np.floor(ts[ok] / step).astype(np.int64)
    # (lines x per) grid, row-major: pairs come out in line order, windows ascending within a line
    wins = last[:, None] - np.arange(per - 1, -1, -1)[None, :]
    hold = wins * step + seconds > ts[ok][:, None]  # a window that ends after t holds t
    return np.broadcast_to(ok[:, None], wins.shape)[hold], wins[hold]


def window_keys(ts: np.ndarray, seconds: float, step: float | None = None) -> list[list[str]]:
    """Window labels of each timestamp: one fixed window, or every sliding window (``step``) holding it."""
    ts = np.asarray(ts, dtype="float64")
    rows, wins = window_indices(ts, seconds, step)
    width = seconds if step is None or step >= seconds else step
    out: list[list[str]] = [[] for _ in range(len(ts))]
    for r, w in zip(rows.tolist(), wins.tolist()):
        out[r].append(f"{int(w * width)}")
    return out


@dataclass
class Session:
    key: str
    events: list[int] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    start: float = float("nan")
    end: float = float("nan")
    label: int = 0


def build_sessions(keys: Sequence[str | list[str]], templates: Sequence[int], event_ids: Sequence[str] | None = None,
                   ts: Sequence[float] | None = None, labels: Sequence[int] | None = None) -> list[Session]:
    """Sessions in order of first appearance; a key may be a list (sliding windows); "" is dropped."""
    out: dict[str, Session] = {}
    for i, key in enumerate(keys):
        for k in key if isinstance(key, list) else [key]:
            if not k:
                continue
            s = out.get(k)
            if s is None:
                s = out[k] = Session(k)
            s.events.append(int(templates[i]))
            if event_ids is not None:
                s.event_ids.append(str(event_ids[i]))
            if ts is not None and np.isfinite(ts[i]):
                t = float(ts[i])
                s.start = t if not np.isfinite(s.start) else min(s.start, t)
                s.end = t if not np.isfinite(s.end) else max(s.end, t)
            if labels is not None and labels[i]:
                s.label = 1
    return list(out.values())


class EventCounter:
    """Count vectors over a learnt vocabulary of template ids (+1 column: unseen), optional TF-IDF."""

    def __init__(self, tfidf: bool = False):
        self.tfidf = tfidf
        self.vocab: list[int] = []
        self.idf: np.ndarray = np.zeros(0)
        self._index: dict[int, int] = {}

    def fit(self, sequences: Iterable[Sequence[int]]) -> "EventCounter":
        seqs = [list(s) for s in sequences]
        self.vocab = sorted({int(e) for s in seqs for e in s})
        self._index = {e: i for i, e in enumerate(self.vocab)}
        df = np.zeros(len(self.vocab) + 1)
        for s in seqs:
            for e in set(s):
                df[self._index[int(e)]] += 1
        n = max(len(seqs), 1)
        self.idf = np.log((n + 1) / (df + 1)) + 1.0
        return self

    def counts(self, sequences: Iterable[Sequence[int]]) -> np.ndarray:
        seqs = list(sequences)
        X = np.zeros((len(seqs), len(self.vocab) + 1))
        unseen = len(self.vocab)
        for r, s in enumerate(seqs):
            for e in s:
                X[r, self._index.get(int(e), unseen)] += 1
        return X

    def transform_counts(self, counts: Iterable[dict[int, int]]) -> np.ndarray:
        """Like :meth:`transform` from per-session template counts (no event lists needed).

        >>> c = EventCounter().fit([[5, 6], [5]])
        >>> c.transform_counts([{5: 2, 9: 1}]).tolist() == c.transform([[5, 5, 9]]).tolist()
        True
        """
        rows = list(counts)
        X = np.zeros((len(rows), len(self.vocab) + 1))
        unseen = len(self.vocab)
        for r, c in enumerate(rows):
            for e, k in c.items():
                X[r, self._index.get(int(e), unseen)] += k
        return X * self.idf if self.tfidf else X

    def transform(self, sequences: Iterable[Sequence[int]]) -> np.ndarray:
        X = self.counts(sequences)
        return X * self.idf if self.tfidf else X

    def to_dict(self) -> dict:
        return {"tfidf": self.tfidf, "vocab": self.vocab, "idf": self.idf.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "EventCounter":
        c = cls(tfidf=bool(d["tfidf"]))
        c.vocab = [int(x) for x in d["vocab"]]
        c._index = {e: i for i, e in enumerate(c.vocab)}
        c.idf = np.asarray(d["idf"], dtype="float64")
        return c


def read_session_csv(path: Path, max_rows: int = 5_000_000) -> pd.DataFrame:
    """A session CSV (key column, optional ``Label``, ``EventSequence`` of space-separated ids).

    Event ids like ``E12`` become the integer 12. Returns columns key, label, events.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        head = next(csv.reader(fh), [])
    if "EventSequence" not in head:
        raise InputError(path, "not a session CSV: no EventSequence column", "line 1")
    df = pd.read_csv(path, nrows=max_rows, dtype=str, keep_default_na=False)
    key_col = head[0] if head[0] != "EventSequence" else None
    events = df["EventSequence"].str.findall(r"-?\d+").map(lambda xs: [int(x) for x in xs])
    label = pd.to_numeric(df["Label"], errors="coerce").fillna(0).astype(int) if "Label" in df else 0
    return pd.DataFrame({
        "key": df[key_col] if key_col else df.index.astype(str),
        "label": label,
        "events": events,
    })
