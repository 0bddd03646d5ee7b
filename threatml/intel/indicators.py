"""Indicators of compromise: one columnar table, and loaders for common feed formats.

An :class:`IndicatorSet` holds one row per indicator in a pandas DataFrame
(columns in :data:`COLUMNS`) so that a million indicators load and merge with
vectorised work instead of a million Python objects. Loaders:

* :func:`load_plain` - one indicator per line, type inferred; ``#`` and ``;``
  comment lines skipped; ``VALUE;COMMENT`` / ``VALUE;SCORE`` lines (LOKI IOC
  lists) keep the comment as description and the score as confidence.
* :func:`load_csv` - CSV with a header, columns found by common names; the
  abuse.ch exports (Feodo, URLhaus, ThreatFox) whose header is a ``#`` comment
  line are handled.
* :func:`load_ipsum` - the IPsum ``IP<TAB>count`` feed; confidence grows with
  the number of blocklists that list the address.
* :func:`load_loki_filenames` - LOKI ``REGEX;SCORE`` file-name IOCs (kept as
  ``filename`` indicators; no event kind carries file names yet).
* STIX 2.1 bundles (:mod:`threatml.intel.stix`), MISP events and feeds
  (:mod:`threatml.intel.misp`) and TAXII 2.1 collections
  (:mod:`threatml.intel.taxii`) build the same table.
* :func:`load_file` picks one of these by content; :func:`load_feeds` loads
  many files, folders and ``taxii+https://`` collection URLs, merges duplicates
  and drops expired indicators.

Invalid entries are skipped and counted in a :class:`~threatml.errors.ReadReport`
per file and reason, never raised.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "bad.txt"
>>> _ = p.write_text("# c2\\nEvil.COM.\\n10.0.0.300\\n192.0.2.0/24\\n")
>>> s = load_plain(p)
>>> s.frame[["type", "value"]].values.tolist()
[['domain', 'evil.com'], ['cidr', '192.0.2.0/24']]
>>> s.report.skipped_total()
1
"""

from __future__ import annotations

import csv
import io
import ipaddress
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.errors import InputError, ReadReport

TYPES = ("ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email", "filename")
COLUMNS = ("type", "value", "sources", "confidence", "first_seen", "valid_until", "tags", "description", "refs")
#: indicator type -> family that a STIX / MISP field may promise (see ``_build(expect=...)``)
FAMILY = {"ipv4": "ip", "ipv6": "ip", "cidr": "ip", "domain": "domain", "url": "url", "md5": "md5",
          "sha1": "sha1", "sha256": "sha256", "email": "email", "filename": "filename"}
_STR_COLS = ("type", "value", "sources", "tags", "description", "refs")

#: confidence given to entries of feeds that do not state one
DEFAULT_CONFIDENCE = 50.0
#: confidence halves every this many days after ``first_seen`` (see :func:`decay`)
DEFAULT_HALF_LIFE_DAYS = 90.0

_IPV4 = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
_IPV4_CIDR = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/\d{1,2}$"
_IPV4_PORT = r"^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}):\d{1,5}$"
_HASH = {32: "md5", 40: "sha1", 64: "sha256"}
_DOMAIN = r"^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+(xn--[a-z0-9-]{1,59}|[a-z][a-z0-9-]{0,61}[a-z0-9]|[a-z])$"
_EMAIL = r"^[a-z0-9._%+'-]+@([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]*$"
_URL = r"^[a-zA-Z][a-zA-Z0-9+.-]*://"
#: ``--intel`` values starting like this are TAXII 2.1 collection URLs, not paths
TAXII_SCHEMES = ("taxii+https://", "taxii+http://", "taxii://")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}


def ipv4_to_int(values: pd.Series | Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Dotted quads to uint32, vectorised: returns ``(ints, valid)``; invalid -> 0, False.

    >>> ipv4_to_int(["10.0.0.1", "x", "1.2.3.256"])
    (array([167772161,         0,         0], dtype=uint32), array([ True, False, False]))
    """
    arr = pa.array(values, type=pa.string(), from_pandas=True) if not isinstance(values, pa.Array) else values
    n = len(arr)
    ok = pc.fill_null(pc.match_substring_regex(arr, _IPV4), False).to_numpy(zero_copy_only=False)
    ints = np.zeros(n, dtype=np.uint32)
    if not ok.any():
        return ints, ok
    good = pc.filter(arr, pa.array(ok))
    octets = pc.list_flatten(pc.split_pattern(good, ".")).cast(pa.uint32()).to_numpy().reshape(-1, 4)
    in_range = (octets <= 255).all(axis=1)
    packed = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
    idx = np.flatnonzero(ok)
    ints[idx] = np.where(in_range, packed, 0).astype(np.uint32)
    ok[idx] = in_range
    return ints, ok


def int_to_ipv4(ints: np.ndarray) -> pd.Series:
    """uint32 to dotted quads (vectorised string building)."""
    ints = np.asarray(ints, dtype=np.uint32)
    parts = [pd.Series((ints >> s) & 255).astype(str) for s in (24, 16, 8, 0)]
    return parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3]


def normalise_domain(name: str) -> str:
    """Lower case, no trailing dot, no leading ``*.`` wildcard.

    >>> normalise_domain("*.Evil.COM.")
    'evil.com'
    """
    name = name.strip().lower().rstrip(".")
    return name[2:] if name.startswith("*.") else name


def normalise_url(url: str) -> str | None:
    """Canonical form for exact URL matching, or None if it is not a URL with a host.

    Scheme and host lower-cased, trailing host dot and default port dropped,
    fragment dropped, empty path -> ``/``; path and query are kept as written.

    >>> normalise_url("HTTP://Evil.COM:80/a/B?x=1#frag")
    'http://evil.com/a/B?x=1'
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:  # bad port, bad IPv6 literal
        return None
    if not parts.scheme or not host or any(c.isspace() for c in url.strip()):
        return None
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


_STR_DTYPE = pd.Series([], dtype="str").dtype


def as_arrow(values) -> pa.Array:
    """A column of strings as one Arrow string array; Arrow-backed Series are not copied.

    >>> as_arrow(pd.Series(["a", None])).to_pylist()
    ['a', None]
    """
    if isinstance(values, pd.Series) and hasattr(values.array, "__arrow_array__"):
        arr = pa.array(values.array)
    elif isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    else:
        seq = values if isinstance(values, (np.ndarray, pd.Series)) else list(values)
        arr = pa.array(np.asarray(seq, dtype=object), type=pa.string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def from_arrow(arr: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string array as a pandas ``str`` Series without converting to Python objects."""
    from pandas.arrays import ArrowStringArray

    return pd.Series(ArrowStringArray(as_arrow(arr), dtype=_STR_DTYPE), index=index)


def extract(values, regex: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Named groups of ``regex`` (RE2 syntax) per value, in Arrow (no per-row Python).

    Returns the groups as string columns (``""`` for a group that took no part
    or a row that did not match) and a bool array of the rows that matched.

    >>> f, ok = extract(pd.Series(["a=1", "b"]), r"^(?P<k>\\w+)=(?P<v>\\d+)$")
    >>> f.values.tolist(), ok.tolist()
    ([['a', '1'], ['', '']], [True, False])
    """
    st = pc.extract_regex(as_arrow(values), regex)
    ok = st.is_valid().to_numpy(zero_copy_only=False)
    index = values.index if isinstance(values, pd.Series) else None
    cols = {st.type.field(i).name: from_arrow(pc.fill_null(st.field(i), ""), index)
            for i in range(st.type.num_fields)}
    return pd.DataFrame(cols, index=index), ok


def split_explode(values, pattern: str, regex: bool = False) -> tuple[np.ndarray, pd.Series]:
    """Split each value and flatten: ``(positions of the source rows, parts)``; parts trimmed, empty ones dropped.

    >>> rows, parts = split_explode(pd.Series(["a, b", "", "c"]), r"[\\s,]+", regex=True)
    >>> rows.tolist(), parts.tolist()
    ([0, 0, 2], ['a', 'b', 'c'])
    """
    arr = pc.fill_null(as_arrow(values), "")
    lists = pc.split_pattern_regex(arr, pattern) if regex else pc.split_pattern(arr, pattern)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    rows = pc.list_parent_indices(lists).to_numpy()
    keep = pc.not_equal(flat, "")
    return rows[keep.to_numpy(zero_copy_only=False)].astype(np.int64), from_arrow(pc.filter(flat, keep))


_URL_PARTS = (r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/?#:@\[\]\s\\%]+)(?::(?P<port>\d{1,5}))?"
              r"(?P<rest>[/?][^#\s]*)?(?:#\S*)?$")


def normalise_urls(values) -> pd.Series:
    """:func:`normalise_url` over a column, vectorised; ``""`` where it gives None.

    The common shape (``scheme://host[:port][/path][?query][#frag]``, no user
    info, IPv6 literal or whitespace) is handled with Arrow kernels; the rest
    goes through :func:`normalise_url` one by one.

    >>> normalise_urls(pd.Series(["HTTP://Evil.COM:80/a?x=1#f", "https://a.example:8443", "http://[::1]/x", "junk"])).tolist()
    ['http://evil.com/a?x=1', 'https://a.example:8443/', 'http://[::1]/x', '']
    """
    index = values.index if isinstance(values, pd.Series) else None
    return from_arrow(normalise_urls_arrow(as_arrow(values)), index)


def normalise_urls_arrow(arr: pa.Array) -> pa.Array:
    """:func:`normalise_urls` on an Arrow string array, returning one."""
    arr = pc.fill_null(arr, "")
    st = pc.extract_regex(arr, _URL_PARTS)
    fast = st.is_valid()
    f = {st.type.field(i).name: pc.fill_null(st.field(i), "") for i in range(st.type.num_fields)}
    scheme = pc.utf8_lower(f["scheme"])
    host = pc.utf8_rtrim(pc.utf8_lower(f["host"]), characters=".")
    has_port = pc.not_equal(f["port"], "")
    port = pc.cast(pc.if_else(has_port, f["port"], "0"), pa.int64())
    default = pc.or_(pc.or_(pc.and_(pc.is_in(scheme, pa.array(["http", "ws"])), pc.equal(port, 80)),
                            pc.and_(pc.is_in(scheme, pa.array(["https", "wss"])), pc.equal(port, 443))),
                     pc.and_(pc.equal(scheme, "ftp"), pc.equal(port, 21)))
    keep_port = pc.and_(has_port, pc.invert(default))
    port_txt = pc.if_else(keep_port, pc.binary_join_element_wise(":", pc.cast(port, pa.string()), ""), "")
    rest = f["rest"]
    rest = pc.if_else(pc.starts_with(rest, "?"), pc.binary_join_element_wise("/", rest, ""), rest)
    rest = pc.replace_substring_regex(rest, r"\?$", "")  # an empty query is dropped
    rest = pc.if_else(pc.equal(rest, ""), "/", rest)
    norm = pc.binary_join_element_wise(scheme, "://", host, port_txt, rest, "")
    bad = pc.or_(pc.greater(port, 65535), pc.equal(host, ""))
    norm = pc.if_else(pc.and_(fast, pc.invert(bad)), norm, "")
    slow = np.flatnonzero(~fast.to_numpy(zero_copy_only=False))
    if len(slow):  # unusual shapes: the stdlib parser decides
        vals = norm.to_numpy(zero_copy_only=False).astype(object)
        raw = pc.take(arr, pa.array(slow)).to_pylist()
        vals[slow] = [normalise_url(u) or "" for u in raw]
        norm = pa.array(vals, type=pa.string())
    return norm


def classify(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Infer each value's indicator type and normalise it.

    Returns ``(types, normalised, reasons)`` aligned with ``values``; a value
    that is no indicator has type ``""`` and a skip reason.

    >>> t, v, r = classify(pd.Series(["1.2.3.4", "a.B.com", "d41d8cd98f00b204e9800998ecf8427e", "???"]))
    >>> t.tolist(), v.tolist()[:2], r.tolist()[3]
    (['ipv4', 'domain', 'md5', ''], ['1.2.3.4', 'a.b.com'], 'not a recognised indicator')
    """
    s = values.astype("str").str.strip()
    n = len(s)
    types = np.full(n, "", dtype=object)
    out = s.to_numpy(dtype=object, copy=True)  # numpy, not the arrow-backed Series: per-item writes are cheap
    reasons = np.full(n, "", dtype=object)
    todo = np.ones(n, dtype=bool)

    def take(mask: np.ndarray, kind: str) -> None:
        types[mask & todo] = kind
        todo[mask] = False

    # addresses with a port (ThreatFox "ip:port") count as the address
    has_port = s.str.match(_IPV4_PORT).to_numpy(dtype=bool)
    if has_port.any():
        port = s[has_port].str.extract(_IPV4_PORT, expand=False)
        s = s.copy()
        s[has_port] = port
        out[has_port] = port.to_numpy()
    ints, ok4 = ipv4_to_int(s)
    looks4 = s.str.fullmatch(_IPV4.strip("^$")).to_numpy(dtype=bool)
    take(ok4, "ipv4")
    out[ok4] = int_to_ipv4(ints[ok4]).to_numpy()
    reasons[looks4 & ~ok4] = "bad IPv4 address"
    todo[looks4] = False

    cidr4 = s.str.fullmatch(_IPV4_CIDR.strip("^$")).to_numpy(dtype=bool) & todo
    if cidr4.any():
        parts = s[cidr4].str.split("/", n=1, expand=True)
        base, okb = ipv4_to_int(parts[0])
        plen = parts[1].astype(int).to_numpy()
        okc = okb & (plen <= 32)
        mask = np.where(plen >= 32, 0xFFFFFFFF, (0xFFFFFFFF << (32 - np.minimum(plen, 32))) & 0xFFFFFFFF).astype(np.uint32)
        norm = int_to_ipv4(base & mask) + "/" + pd.Series(plen).astype(str)
        idx = np.flatnonzero(cidr4)
        out[idx[okc]] = norm[okc].to_numpy()
        types[idx[okc]] = "cidr"
        reasons[idx[~okc]] = "bad IPv4 CIDR"
        todo[idx] = False

    low = s.str.lower()
    hexlen = low.str.len().to_numpy()
    is_hex = low.str.fullmatch(r"[0-9a-f]+").to_numpy(dtype=bool) & todo
    for length, kind in _HASH.items():
        m = is_hex & (hexlen == length)
        out[m] = low[m].to_numpy()
        take(m, kind)

    is_url = s.str.match(_URL).to_numpy(dtype=bool) & todo
    if is_url.any():
        norm = normalise_urls(s[is_url]).to_numpy(dtype=object)
        idx = np.flatnonzero(is_url)
        good = norm != ""
        out[idx[good]], types[idx[good]] = norm[good], "url"
        reasons[idx[~good]] = "bad URL"
    todo[is_url] = False

    maybe6 = s.str.contains(":", regex=False).to_numpy(dtype=bool) & todo & ~s.str.contains("@", regex=False).to_numpy(dtype=bool)
    for i in np.flatnonzero(maybe6):  # IPv6 is rare in feeds: the stdlib parser is fine
        v = s.iat[i]
        try:
            if "/" in v:
                net = ipaddress.ip_network(v, strict=False)
                ok = net.version == 6
                out[i], types[i] = str(net), "cidr"
            else:
                addr = ipaddress.ip_address(v)
                ok = addr.version == 6
                out[i], types[i] = str(addr), "ipv6"
            if not ok:
                types[i], reasons[i] = "", "bad IPv6 address"
        except ValueError:
            # short colon-separated groups look like an address; "privilege::debug" does not
            looks6 = v.count(":") >= 2 and all(len(g) <= 4 and g.isalnum() or not g for g in v.split("/")[0].split(":")[:-1])
            reasons[i] = "bad IPv6 address or CIDR" if looks6 else "not a recognised indicator"
    todo[maybe6] = False

    dom = low.str.rstrip(".").str.replace(r"^\*\.", "", regex=True)
    is_mail = dom.str.fullmatch(_EMAIL.strip("^$")).to_numpy(dtype=bool) & todo
    out[is_mail] = dom[is_mail].to_numpy()
    take(is_mail, "email")
    is_dom = dom.str.fullmatch(_DOMAIN.strip("^$")).to_numpy(dtype=bool) & todo & (dom.str.len().to_numpy() <= 253)
    out[is_dom] = dom[is_dom].to_numpy()
    take(is_dom, "domain")
    reasons[todo & (reasons == "")] = "not a recognised indicator"
    return (pd.Series(types, index=values.index, dtype="str"), pd.Series(out, index=values.index, dtype="str"),
            pd.Series(reasons, index=values.index, dtype="str"))


@dataclass
class IndicatorSet:
    """Indicators as one DataFrame (columns :data:`COLUMNS`) plus what loading skipped.

    ``sources``, ``tags`` and ``refs`` (ids of the feed's own objects: STIX
    indicator ids, MISP attribute uuids) are comma-joined strings (sorted,
    unique); ``confidence`` is 0-100; ``first_seen`` / ``valid_until`` are epoch
    seconds or NaN when the feed does not say.
    """

    frame: pd.DataFrame = field(default_factory=lambda: _empty())
    report: ReadReport = field(default_factory=ReadReport)

    def __post_init__(self) -> None:
        missing = [c for c in COLUMNS if c not in self.frame.columns]
        if missing:  # frames built by hand (tests, callers) may leave optional columns out
            self.frame = self.frame.assign(**{c: "" for c in missing})

    def __len__(self) -> int:
        return len(self.frame)

    def counts(self) -> dict[str, int]:
        """Indicators per type."""
        return {str(k): int(v) for k, v in self.frame["type"].value_counts().items()}

    @classmethod
    def concat(cls, sets: Iterable["IndicatorSet"]) -> "IndicatorSet":
        """Join sets and merge duplicates (see :meth:`deduplicate`)."""
        sets = list(sets)
        report = ReadReport()
        for s in sets:
            report.merge(s.report)
        frames = [s.frame for s in sets if len(s.frame)]
        frame = pd.concat(frames, ignore_index=True) if frames else _empty()
        return cls(frame, report).deduplicate()

    def deduplicate(self, where: str = "(all feeds)") -> "IndicatorSet":
        """One row per (type, value): all sources and tags kept, maximum confidence,
        earliest first_seen, latest valid_until (no expiry wins over any date)."""
        f = self.frame
        dup = f.duplicated(["type", "value"], keep=False).to_numpy()
        if not dup.any():
            return IndicatorSet(f.reset_index(drop=True), self.report)
        d = f[dup].copy()
        d["valid_until"] = d["valid_until"].fillna(np.inf)
        g = d.groupby(["type", "value"], sort=False)
        merged = g.agg(
            confidence=("confidence", "max"),
            first_seen=("first_seen", "min"),
            valid_until=("valid_until", "max"),
            sources=("sources", _join_unique),
            tags=("tags", _join_unique),
            description=("description", _join_unique),
            refs=("refs", _join_unique),
        ).reset_index()
        merged["valid_until"] = merged["valid_until"].replace(np.inf, np.nan)
        self.report.note(where, "duplicate indicators merged", n=int(dup.sum() - len(merged)))
        out = pd.concat([f[~dup], merged[list(COLUMNS)]], ignore_index=True)
        return IndicatorSet(out, self.report)

    def drop_expired(self, now: float | None = None) -> "IndicatorSet":
        """Skip indicators whose ``valid_until`` is before ``now``, counted per source."""
        now = time.time() if now is None else now
        exp = (self.frame["valid_until"] < now).to_numpy()
        for src, n in self.frame.loc[exp, "sources"].value_counts().items():
            self.report.skip(str(src), "expired (valid_until in the past)", n=int(n))
        return IndicatorSet(self.frame[~exp].reset_index(drop=True), self.report)


def decay(confidence: np.ndarray, first_seen: np.ndarray, at: np.ndarray | float,
          half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> np.ndarray:
    """Confidence after ageing: halves every ``half_life_days`` since ``first_seen``.

    Unknown ``first_seen`` (NaN) or a time before it leaves confidence as is;
    ``half_life_days <= 0`` or ``inf`` turns decay off.

    >>> decay(np.array([80.0, 80.0]), np.array([0.0, np.nan]), 90 * 86400.0).tolist()
    [40.0, 80.0]
    """
    conf = np.asarray(confidence, dtype=float)
    if not half_life_days or half_life_days <= 0 or math.isinf(half_life_days):
        return conf.copy()
    age = np.maximum(np.asarray(at, dtype=float) - np.asarray(first_seen, dtype=float), 0.0)
    factor = np.where(np.isnan(age), 1.0, np.exp2(-age / (half_life_days * 86400.0)))
    return conf * factor


# --------------------------------------------------------------------------- loaders


def load_plain(path: str | Path, source: str | None = None, report: ReadReport | None = None,
               confidence: float = DEFAULT_CONFIDENCE, tags: Iterable[str] = ()) -> IndicatorSet:
    """One indicator per line; ``#``/``;`` comments; optional ``;COMMENT`` or ``;SCORE``."""
    path, report = Path(path), report if report is not None else ReadReport()
    lines = _lines(path, report)
    body = lines[~lines.str.match(r"^\s*([#;]|$)")]
    values, extra = body, pd.Series("", index=body.index, dtype="str")
    semi = body.str.contains(";", regex=False).to_numpy(dtype=bool)
    if semi.any():  # split only where needed: most lists have no comments
        split = body[semi].str.split(";", n=1, expand=True)
        values = body.copy()
        values[semi] = split[0]
        extra[semi] = split[1].fillna("").str.strip()
    score = pd.to_numeric(extra.where(extra.str.fullmatch(r"\d{1,3}")), errors="coerce").clip(0, 100)
    desc = extra.where(score.isna(), "")
    conf = score.fillna(confidence)
    return _build(path, source, report, values, conf, np.nan, np.nan, _tag_str(tags), desc, "plain")


def load_ipsum(path: str | Path, source: str | None = None, report: ReadReport | None = None,
               per_list: float = 20.0) -> IndicatorSet:
    """IPsum feed: ``IP<TAB>count``; confidence = ``min(100, per_list * count)``
    (one list 20, three lists 60, five or more 100)."""
    path, report = Path(path), report if report is not None else ReadReport()
    lines = _lines(path, report)
    body = lines[~lines.str.match(r"^\s*(#|$)")]
    split = body.str.split(r"\s+", n=1, expand=True, regex=True) if len(body) else pd.DataFrame({0: body, 1: body})
    count = pd.to_numeric(split[1] if 1 in split.columns else None, errors="coerce")
    bad = count.isna().to_numpy()
    _skip_rows(report, path, body.index[bad], "no list count after the address")
    conf = (count[~bad] * per_list).clip(0, 100)
    return _build(path, source, report, split[0][~bad], conf, np.nan, np.nan, "", "", "ipsum")


def load_loki_filenames(path: str | Path, source: str | None = None, report: ReadReport | None = None) -> IndicatorSet:
    """LOKI file-name IOCs ``REGEX;SCORE[;FP-REGEX]`` kept as ``filename`` indicators."""
    path, report = Path(path), report if report is not None else ReadReport()
    lines = _lines(path, report)
    body = lines[~lines.str.match(r"^\s*(#|$)")]
    parts = body.str.rsplit(";", n=2, expand=True) if len(body) else pd.DataFrame({0: body})
    # the regex itself may contain ';' rarely; LOKI puts the score right after it
    score = pd.to_numeric(parts[1] if 1 in parts.columns else None, errors="coerce")
    ok = score.notna().to_numpy() & (parts[0].str.len() > 0).to_numpy()
    _skip_rows(report, path, body.index[~ok], "file-name IOC without REGEX;SCORE")
    frame = pd.DataFrame({
        "type": "filename", "value": parts[0][ok].to_numpy(), "sources": source or path.name,
        "confidence": score[ok].clip(0, 100).to_numpy(dtype=float), "first_seen": np.nan,
        "valid_until": np.nan, "tags": "filename", "description": "", "refs": "",
    })
    report.read(str(path), int(ok.sum()))
    report.formats[str(path)] = "loki-filename"
    frame = frame.astype({c: "str" for c in _STR_COLS})
    return IndicatorSet(frame, report).deduplicate(str(path))


_VALUE_COLS = ("indicator", "ioc", "ioc_value", "value", "dst_ip", "ip", "ip_address", "ipaddress", "address",
               "domain", "hostname", "host", "url", "sha256_hash", "sha1_hash", "md5_hash", "hash", "sha256",
               "sha1", "md5", "email")
_CONF_COLS = ("confidence", "confidence_level", "score")
_TAG_COLS = ("tags", "tag", "threat", "threat_type", "malware", "malware_printable", "category")
_FIRST_COLS = ("first_seen", "first_seen_utc", "firstseen", "dateadded", "date_added", "created")
_UNTIL_COLS = ("valid_until", "expiration", "expires", "expiry")
_DESC_COLS = ("description", "comment", "reference")


def load_csv(path: str | Path, source: str | None = None, report: ReadReport | None = None,
             confidence: float = DEFAULT_CONFIDENCE, tags: Iterable[str] = ()) -> IndicatorSet:
    """CSV with a header line (possibly a ``#`` comment line, as abuse.ch writes it)."""
    path, report = Path(path), report if report is not None else ReadReport()
    lines = _lines(path, report)
    header_at, names = _find_header(lines)
    if header_at is None:
        raise InputError(str(path), "no CSV header naming an indicator column "
                         f"(expected one of: {', '.join(_VALUE_COLS[:8])}, ...)")
    rows = lines[(lines.index > header_at) & ~lines.str.match(r"^\s*(#|$)").to_numpy()]
    text = "\n".join(rows.tolist())
    try:
        data = pd.read_csv(io.StringIO(text), header=None, names=names, dtype=str, keep_default_na=False,
                           skipinitialspace=True, on_bad_lines="skip", engine="c", index_col=False)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InputError(str(path), f"cannot parse CSV: {exc}", f"line {header_at + 2}") from None
    if len(data) < len(rows):
        report.skip(str(path), "CSV row with the wrong number of fields", n=len(rows) - len(data))
    data.index = rows.index[: len(data)]
    col = {c.lower().strip(): c for c in data.columns}
    value_col = next(col[c] for c in _VALUE_COLS if c in col)
    conf = pd.Series(confidence, index=data.index, dtype=float)
    for c in _CONF_COLS:
        if c in col:
            conf = pd.to_numeric(data[col[c]], errors="coerce").clip(0, 100).fillna(confidence)
            break
    tag_parts = [data[col[c]].str.replace(r"\s*[,|;]\s*", ",", regex=True) for c in _TAG_COLS if c in col]
    tag_str = _tag_str(tags)
    tag_series = pd.Series(tag_str, index=data.index, dtype="str")
    for part in tag_parts:
        tag_series = tag_series + "," + part.str.lower()
    codes, uniq = pd.factorize(tag_series)  # feeds repeat a few tag sets: tidy each once
    tidy = np.array([",".join(sorted({x for x in t.split(",") if x and x not in ("none", "n/a")})) for t in uniq], dtype=object)
    tag_series = pd.Series(tidy[codes] if len(uniq) else [], index=data.index, dtype="str")
    first = _dates(data, col, _FIRST_COLS, path, report)
    until = _dates(data, col, _UNTIL_COLS, path, report)
    desc = next((data[col[c]] for c in _DESC_COLS if c in col), "")
    return _build(path, source, report, data[value_col], conf, first, until, tag_series, desc, "csv")


def load_file(path: str | Path, source: str | None = None, report: ReadReport | None = None,
              observables: bool = False) -> IndicatorSet:
    """Load one feed file, choosing the loader from its name and first lines.

    JSON files are STIX 2.1 bundles or MISP events (told apart by structure, see
    :func:`threatml.intel.jsonfeed.load_json`); ``observables`` also loads STIX
    cyber-observable objects as indicators.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    if not path.is_file():
        raise InputError(str(path), "no such indicator file")
    with path.open("rb") as fh:
        head = fh.read(8192).decode("utf-8", errors="replace")
    if head.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        from threatml.intel.jsonfeed import load_json

        return load_json(path, source, report, observables=observables)
    name = path.name.lower()
    head_lines = [ln for ln in head.splitlines() if ln.strip()]
    if "ipsum" in head.lower()[:300] or "ipsum" in name:
        return load_ipsum(path, source, report)
    if "filename" in name and any(";" in ln for ln in head_lines if not ln.startswith("#")):
        return load_loki_filenames(path, source, report)
    if name.endswith((".csv", ".csv.txt")) or _find_header(pd.Series(head_lines[:60], dtype="str"))[0] is not None:
        return load_csv(path, source, report)
    tags = ("c2",) if "c2" in name else ()
    return load_plain(path, source, report, tags=tags)


def load_feeds(paths: Iterable[str | Path], now: float | None = None,
               report: ReadReport | None = None, observables: bool = False) -> IndicatorSet:
    """Load several feeds, merge duplicates across them and drop expired ones.

    A path is a feed file, a folder (the files in it, ``README*`` / ``LICENSE*``
    aside; a folder with a ``manifest.json`` is a MISP feed) or a TAXII 2.1
    collection URL ``taxii+https://host/api-root/collections/ID/`` (see
    :func:`threatml.intel.taxii.load_taxii`). A feed that cannot be read at all
    is recorded in ``report.errors`` and the others still load.
    """
    report = report if report is not None else ReadReport()
    sets = []
    todo: list[Path | str] = []
    for raw in paths:
        if isinstance(raw, str) and raw.lower().startswith(TAXII_SCHEMES):
            todo.append(raw)
            continue
        p = Path(raw)
        if p.is_dir() and not (p / "manifest.json").is_file():
            todo.extend(sorted(f for f in p.iterdir()
                               if f.is_file() and not f.name.lower().startswith(("readme", "license"))))
        else:
            todo.append(p)
    for p in todo:
        try:
            if isinstance(p, str):
                from threatml.intel.taxii import load_taxii

                sets.append(load_taxii(p, observables=observables))
            elif p.is_dir():
                from threatml.intel.misp import load_misp_feed

                sets.append(load_misp_feed(p))
            else:
                sets.append(load_file(p, observables=observables))
        except InputError as exc:
            report.error(exc.path, str(exc))
    merged = IndicatorSet.concat(sets).drop_expired(now)
    report.merge(merged.report)
    merged.report = report
    return merged


# --------------------------------------------------------------------------- helpers


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("confidence", "first_seen", "valid_until") else "str")
                         for c in COLUMNS})


def _join_unique(values: pd.Series) -> str:
    return ",".join(sorted({x for v in values for x in str(v).split(",") if x}))


def _tag_str(tags: Iterable[str]) -> str:
    return ",".join(sorted({t.strip().lower() for t in tags if t.strip()}))


def _lines(path: Path, report: ReadReport) -> pd.Series:
    """The file's lines indexed by line number (0-based); undecodable lines skipped and counted."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = pd.Series(text.splitlines(), dtype="str")
    bad = lines.str.contains("\ufffd", regex=False).to_numpy()
    if bad.any():
        _skip_rows(report, path, lines.index[bad], "line is not UTF-8")
        lines = lines[~bad]
    return lines


def _skip_rows(report: ReadReport, path: Path | str, index: pd.Index, reason: str, unit: str = "line") -> None:
    if len(index):
        report.skip(str(path), reason, f"{unit} {int(index[0]) + 1}", n=len(index))


def _find_header(lines: pd.Series) -> tuple[int | None, list[str]]:
    """The line holding the CSV header (maybe behind '#'), and its column names."""
    for i, line in lines.items():
        text = line.lstrip("#").strip()
        if "," not in text:
            if text.strip('"').strip().lower() in _VALUE_COLS:  # a one-column CSV
                return int(i), [text.strip('"').strip()]
            if not line.lstrip().startswith("#") and text:
                return None, []  # first data line without a header
            continue
        names = next(csv.reader([text], skipinitialspace=True))
        low = [n.strip().lower() for n in names]
        if any(c in low for c in _VALUE_COLS):
            return int(i), [n.strip() for n in names]
        if not line.lstrip().startswith("#"):
            return None, []
    return None, []


def _dates(data: pd.DataFrame, col: dict, names: tuple[str, ...], path: Path, report: ReadReport) -> pd.Series | float:
    for c in names:
        if c in col:
            raw = data[col[c]].str.strip()
            ts = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
            bad = ts.isna().to_numpy() & (raw != "").to_numpy()
            if bad.any():
                report.note(str(path), f"unparseable {c} date (kept without it)", n=int(bad.sum()))
            # epoch seconds whatever the datetime resolution pandas picked
            secs = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
            return secs.astype(float)
    return np.nan


def _build(path: Path | str, source: str | None, report: ReadReport, values: pd.Series, conf, first, until,
           tags, desc, fmt: str, refs="", expect: pd.Series | None = None, unit: str = "line") -> IndicatorSet:
    """Classify ``values`` and assemble the table; drop and count what is no indicator.

    ``expect`` (optional, aligned with ``values``) is the family a structured feed
    promises per row (``ip``, ``domain``, ``url``, ``md5``, ``sha1``, ``sha256``,
    ``email``); a value of another family is skipped, not re-typed. ``unit`` names
    the position in skip examples (``line 3``, ``object 7``).
    """
    types, norm, reasons = classify(values)
    if expect is not None:
        fam = types.map(FAMILY).fillna("")
        exp = expect.reindex(values.index).fillna("")
        wrong = ((types != "") & (exp != "") & (fam != exp)).to_numpy()
        if wrong.any():
            reasons = reasons.copy()
            reasons[wrong] = "value does not fit its field: " + exp[wrong] + " expected, " + types[wrong] + " found"
            types = types.where(~wrong, "")
        bad = (types == "").to_numpy() & (exp != "").to_numpy() & ~wrong
        if bad.any():  # say what the value should have been
            reasons = reasons.copy()
            why = reasons[bad].where(reasons[bad] != "not a recognised indicator", "")
            reasons[bad] = "bad " + exp[bad] + " value" + why.where(why == "", " (" + why + ")")
    ok = (types != "").to_numpy()
    bad = reasons[~ok]
    for reason, idx in bad.groupby(bad, sort=False).groups.items():
        _skip_rows(report, path, pd.Index(idx), str(reason), unit)

    def col(x, dtype):
        s = x if isinstance(x, pd.Series) else pd.Series(x, index=values.index)
        if not s.index.equals(values.index):  # structured feeds pass aligned columns (their index may repeat)
            s = s.reindex(values.index)
        return s[ok].to_numpy(dtype=dtype) if dtype is float else s[ok].astype("str").to_numpy()

    frame = pd.DataFrame({
        "type": types[ok].to_numpy(), "value": norm[ok].astype("str").to_numpy(),
        "sources": col(source, str) if isinstance(source, pd.Series) else (source or Path(path).name),
        "confidence": col(conf, float), "first_seen": col(first, float), "valid_until": col(until, float),
        "tags": col(tags, str), "description": col(desc, str), "refs": col(refs, str),
    })
    frame = frame.astype({c: "str" for c in _STR_COLS})
    report.read(str(path), int(ok.sum()))
    report.formats[str(path)] = fmt
    return IndicatorSet(frame, report).deduplicate(str(path))  # the same value twice in one file
