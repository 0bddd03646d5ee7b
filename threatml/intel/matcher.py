"""Match event columns against an :class:`~threatml.intel.indicators.IndicatorSet`, vectorised.

Built once per indicator set; each ``match_*`` call takes a column of event
values and returns :class:`Matches` - parallel arrays of event row positions
and indicator row positions (one pair per hit, so a value inside two listed
CIDRs and listed itself gives three pairs).

Work is done on the column's unique values (Arrow ``dictionary_encode``; the
strings stay in Arrow, never become Python objects), then mapped back:

* IPv4: exact addresses and CIDRs as uint32; per prefix length the sorted
  network numbers are searched with ``np.searchsorted`` (at most 33 passes).
* IPv6: the stdlib ``ipaddress`` on the (few) unique IPv6 values.
* domains: exact and parent domains - each unique name whose last two labels
  are those of some listed domain, and its suffixes (``a.b.evil.com``,
  ``b.evil.com``, ``evil.com``), looked up with ``index_in``.
* URLs: only values whose host is the host of some URL indicator are
  normalised (:func:`~threatml.intel.indicators.normalise_urls`, Arrow kernels),
  then looked up exactly.
* hashes, e-mail addresses: lower-cased, exact.

>>> import pandas as pd
>>> from threatml.intel.indicators import IndicatorSet, classify
>>> t, v, _ = classify(pd.Series(["10.1.0.0/16", "evil.com"]))
>>> s = IndicatorSet(pd.DataFrame({"type": t, "value": v, "sources": "x", "confidence": 50.0,
...     "first_seen": float("nan"), "valid_until": float("nan"), "tags": "", "description": ""}))
>>> m = IndicatorMatcher(s)
>>> m.match_ips(["10.1.2.3", "10.2.0.1"]).rows.tolist(), m.match_domains(["www.Evil.com."]).indicators.tolist()
([0], [1])
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.intel.indicators import IndicatorSet, as_arrow, ipv4_to_int, normalise_urls_arrow

_EMPTY = np.zeros(0, dtype=np.int64)


class Matches(NamedTuple):
    """Hits: ``rows[i]`` (position in the matched column) hit indicator ``indicators[i]``."""

    rows: np.ndarray
    indicators: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


class Encoded(NamedTuple):
    """A column encoded once (row codes + distinct values) for several ``match_*`` calls."""

    codes: np.ndarray
    uniq: pa.Array

    def __len__(self) -> int:
        return len(self.codes)


def encode(column) -> Encoded:
    """Encode a column once when it is matched as more than one indicator family (domain and address)."""
    return Encoded(*_factorize(column))


class _ExactIndex:
    """Sorted keys -> indicator positions, looked up with searchsorted (keys may repeat)."""

    def __init__(self, keys: np.ndarray, ids: np.ndarray):
        order = np.argsort(keys, kind="stable")
        self.keys, self.ids = keys[order], ids[order]

    def lookup(self, values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (value position, indicator id) for every equal key."""
        if not len(self.keys):
            return _EMPTY, _EMPTY
        lo = np.searchsorted(self.keys, values, side="left")
        found = valid & (self.keys[np.minimum(lo, len(self.keys) - 1)] == values)
        # the right edge only where there is a hit: most values are not listed
        n = np.zeros(len(values), dtype=np.int64)
        if found.any():
            n[found] = np.searchsorted(self.keys, values[found], side="right") - lo[found]
        pos = np.repeat(np.arange(len(values)), n)
        if not len(pos):
            return _EMPTY, _EMPTY
        # offset of each hit inside its run of equal keys
        starts = np.repeat(lo, n)
        within = np.arange(len(pos)) - np.repeat(np.cumsum(n) - n, n)
        return pos, self.ids[starts + within]


class IndicatorMatcher:
    """Match columns of event values against a fixed indicator set."""

    def __init__(self, indicators: IndicatorSet):
        self.indicators = indicators
        f = indicators.frame
        types = f["type"].to_numpy(dtype=object)
        values = f["value"]
        ids = np.arange(len(f), dtype=np.int64)

        is4 = types == "ipv4"
        ints, ok = ipv4_to_int(values[is4])
        self._v4 = _ExactIndex(ints[ok].astype(np.uint32), ids[is4][ok])

        # IPv4 CIDRs grouped by prefix length: network & mask == event & mask
        self._cidr4: list[tuple[np.uint32, _ExactIndex]] = []
        self._cidr6: list[tuple[ipaddress.IPv6Network, int]] = []
        is_cidr = types == "cidr"
        cidr_vals = values[is_cidr]
        v6c = cidr_vals.str.contains(":", regex=False).to_numpy(dtype=bool)
        for v, i in zip(cidr_vals[v6c], ids[is_cidr][v6c]):
            self._cidr6.append((ipaddress.ip_network(v), int(i)))
        if (~v6c).any():
            parts = cidr_vals[~v6c].str.split("/", n=1, expand=True)
            nets, okn = ipv4_to_int(parts[0])
            plen = parts[1].astype(int).to_numpy()
            cids = ids[is_cidr][~v6c]
            for p in np.unique(plen[okn]):
                sel = okn & (plen == p)
                self._cidr4.append((_mask(int(p)), _ExactIndex(nets[sel], cids[sel])))

        self._v6: dict[str, list[int]] = {}
        for v, i in zip(values[types == "ipv6"], ids[types == "ipv6"]):
            self._v6.setdefault(v, []).append(int(i))
        self._domains = _key_index(values, types, ids, "domain")
        tails = values[types == "domain"].str.extract(r"([^.]+\.[^.]+)$", expand=False)
        self._domain_tails = pa.array(tails.dropna().unique().tolist(), type=pa.string())
        self._urls = _key_index(values, types, ids, "url")
        self._url_hosts = pc.unique(url_hosts(values[types == "url"]))
        self._hashes = _key_index(values, types, ids, ("md5", "sha1", "sha256"))
        self._emails = _key_index(values, types, ids, "email")
        self.has_ip = bool(len(self._v4.keys) or self._cidr4 or self._cidr6 or self._v6)

    # ------------------------------------------------------------------ public

    def match_ips(self, column: pd.Series | Iterable[str]) -> Matches:
        """Addresses (IPv4 and IPv6, exact and inside listed CIDRs)."""
        if not self.has_ip:
            return Matches(_EMPTY, _EMPTY)
        codes, uniq = _factorize(column)
        ints, ok = ipv4_to_int(uniq)
        pos_list, ind_list = [], []
        p, i = self._v4.lookup(ints, ok)
        pos_list.append(p), ind_list.append(i)
        for mask, index in self._cidr4:
            p, i = index.lookup(ints & mask, ok)
            pos_list.append(p), ind_list.append(i)
        if self._v6 or self._cidr6:
            p, i = self._match_v6(uniq, ok)
            pos_list.append(p), ind_list.append(i)
        return _expand(codes, np.concatenate(pos_list), np.concatenate(ind_list))

    def match_domains(self, column: pd.Series | Iterable[str]) -> Matches:
        """Names equal to a listed domain or below one (``a.evil.com`` hits ``evil.com``)."""
        if self._domains is None:
            return Matches(_EMPTY, _EMPTY)
        codes, uniq = _factorize(column)
        current = pc.utf8_rtrim(pc.utf8_lower(pc.utf8_trim_whitespace(uniq)), characters=".")
        pos_list, ind_list = [], []
        # a listed domain ends in a letter label: addresses and numeric names never match; and a
        # name can only be at or below a listed domain if its last two labels are those of one
        last2 = pc.fill_null(pc.extract_regex(current, r"(?P<s>[^.]+\.[^.]+)$").field("s"), "")
        alive = (pc.is_in(last2, value_set=self._domain_tails).to_numpy(zero_copy_only=False)
                 & ~pc.match_substring_regex(current, r"(^|\.)[0-9]+$").to_numpy(zero_copy_only=False))
        while alive.any():
            p, i = _lookup_keys(self._domains, current, alive)
            pos_list.append(p), ind_list.append(i)
            alive &= _has_dot(current)
            current = pc.replace_substring_regex(current, r"^[^.]*\.", "", max_replacements=1)  # drop the first label
            # a bare top-level label is never a listed indicator worth matching
            alive &= _has_dot(current)
        if not pos_list:
            return Matches(_EMPTY, _EMPTY)
        return _expand(codes, np.concatenate(pos_list), np.concatenate(ind_list))

    def match_urls(self, column: "pd.Series | Iterable[str] | Encoded", hosts: pa.Array | None = None) -> Matches:
        """Full URLs, normalised first (scheme/host case, default port, fragment).

        ``hosts`` (optional) is :func:`url_hosts` of the column's distinct values when
        the caller has it already (an :class:`Encoded` column), to skip extracting it twice.
        """
        if self._urls is None:
            return Matches(_EMPTY, _EMPTY)
        codes, uniq = _factorize(column)
        # only URLs on a host that some URL indicator names can match: normalise just those
        host = url_hosts(uniq) if hosts is None else hosts
        cand = np.flatnonzero(pc.is_in(host, value_set=self._url_hosts).to_numpy(zero_copy_only=False))
        if not len(cand):
            return Matches(_EMPTY, _EMPTY)
        norm = normalise_urls_arrow(pc.take(uniq, pa.array(cand)))
        p, i = _lookup_keys(self._urls, norm, pc.not_equal(norm, "").to_numpy(zero_copy_only=False))
        return _expand(codes, cand[p], i)

    def match_hashes(self, column: pd.Series | Iterable[str]) -> Matches:
        """MD5 / SHA-1 / SHA-256 values, case-insensitive."""
        return self._match_lower(self._hashes, column)

    def match_emails(self, column: pd.Series | Iterable[str]) -> Matches:
        """E-mail addresses, case-insensitive."""
        return self._match_lower(self._emails, column)

    # ------------------------------------------------------------------ internals

    def _match_lower(self, index: "_KeyIndex | None", column) -> Matches:
        if index is None:
            return Matches(_EMPTY, _EMPTY)
        codes, uniq = _factorize(column)
        low = pc.utf8_lower(pc.utf8_trim_whitespace(uniq))
        return _expand(codes, *_lookup_keys(index, low, np.ones(len(low), dtype=bool)))

    def _match_v6(self, uniq: pa.Array, ok4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, ind = [], []
        cand = np.flatnonzero(~ok4 & pc.match_substring(uniq, ":").to_numpy(zero_copy_only=False))
        texts = pc.take(uniq, pa.array(cand, type=pa.int64())).to_pylist() if len(cand) else []
        for k, text in zip(cand, texts):
            try:
                addr = ipaddress.ip_address(str(text).strip("[]"))
            except ValueError:
                continue
            if addr.version != 6:
                continue
            for i in self._v6.get(str(addr), ()):
                pos.append(k), ind.append(i)
            for net, i in self._cidr6:
                if addr in net:
                    pos.append(k), ind.append(i)
        return np.asarray(pos, dtype=np.int64), np.asarray(ind, dtype=np.int64)


def _mask(prefix: int) -> np.uint32:
    return np.uint32((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0)


class _KeyIndex(NamedTuple):
    """Distinct indicator values as an Arrow array (hash lookups in C) and their indicator ids."""

    keys: pa.Array
    ids: np.ndarray


def _key_index(values: pd.Series, types: np.ndarray, ids: np.ndarray, kind) -> _KeyIndex | None:
    """Index of one indicator family; values are unique per family after deduplication."""
    sel = np.isin(types, kind if isinstance(kind, tuple) else (kind,))
    if not sel.any():
        return None
    return _KeyIndex(pa.array(values[sel].to_numpy(dtype=object), type=pa.string()), ids[sel])


_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(?P<h>\[[^\]]*\]|[^:/?#]*)"


def url_hosts(urls) -> pa.Array:
    """The host of each URL: lower case, no trailing dot, IPv6 without brackets ("" when none).

    >>> url_hosts(["HTTP://user@Evil.COM.:80/x", "http://[2001:DB8::1]/", "nope"]).to_pylist()
    ['evil.com', '2001:db8::1', '']
    """
    h = pc.fill_null(pc.extract_regex(pc.fill_null(as_arrow(urls), ""), _HOST).field("h"), "")
    return pc.utf8_rtrim(pc.utf8_lower(pc.utf8_trim(h, characters="[]")), characters=".")


def _has_dot(arr: pa.Array) -> np.ndarray:
    return pc.match_substring(arr, ".").to_numpy(zero_copy_only=False)


def _lookup_keys(index: _KeyIndex, keys: pa.Array, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    at = pc.index_in(keys, value_set=index.keys)
    found = at.is_valid().to_numpy(zero_copy_only=False) & alive
    pos = np.flatnonzero(found)
    if not len(pos):
        return _EMPTY, _EMPTY
    slot = pc.fill_null(at, 0).to_numpy(zero_copy_only=False)[pos]
    return pos.astype(np.int64), index.ids[slot]


def _factorize(column) -> tuple[np.ndarray, pa.Array]:
    """Row codes and the distinct values (an Arrow string array; missing values become "")."""
    if isinstance(column, Encoded):
        return column.codes, column.uniq
    arr = pc.fill_null(as_arrow(column), "")
    enc = arr.dictionary_encode()
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary


def _expand(codes: np.ndarray, upos: np.ndarray, uind: np.ndarray) -> Matches:
    """Unique-value hits -> event-row hits."""
    if not len(upos):
        return Matches(_EMPTY, _EMPTY)
    hit = np.zeros(int(codes.max(initial=-1)) + 1 if len(codes) else 0, dtype=bool)
    hit[upos] = True
    rows = np.flatnonzero(hit[codes] & (codes >= 0))
    pairs = pd.DataFrame({"code": upos, "ind": uind})
    ev = pd.DataFrame({"row": rows, "code": codes[rows]})
    j = ev.merge(pairs, on="code", sort=False).sort_values(["row", "ind"], kind="stable")
    return Matches(j["row"].to_numpy(dtype=np.int64), j["ind"].to_numpy(dtype=np.int64))
