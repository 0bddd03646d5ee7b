"""Apache and Nginx access logs (combined, common, vhost_combined) -> ``http`` events.

Lines are parsed in blocks of whole lines by one RE2 regular expression
(``pyarrow.compute.extract_regex``), with no Python loop per line. The
formats, with Apache's names::

    common          %h %l %u %t "%r" %>s %b
    combined        %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
    vhost_combined  %v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"

Nginx's default ``combined`` is Apache's combined; anything after the user
agent (Nginx ``$http_x_forwarded_for``, request time, ...) is kept as
``weblog.extra``. Quotes inside quoted fields are read escaped (``\\"``), as
both servers write them.

Mapping: ``%h`` -> ``source.ip``; ``%u`` -> ``user.name``; the request line
``%r`` is split into ``http.request.method``, ``url.original`` and
``http.version`` (a request line that is not ``METHOD TARGET [HTTP/x]``,
such as TLS bytes sent to a plain port, keeps its text in ``url.original``
with an empty method); ``%>s`` -> ``http.response.status_code``; ``%b``/``%O``
-> ``http.response.body.bytes``; ``%v:%p`` -> ``url.domain`` and
``destination.port``; ``url.path`` and ``url.query`` are split off the target.
``event.dataset`` is ``nginx.access`` when the file name says nginx or the
lines carry Nginx's extra quoted fields, ``apache.access`` otherwise (the two
formats are otherwise the same). ``event.id`` is ``file:line``.

Lines that do not parse are skipped and counted per reason (not an access-log
line, binary data, longer than ``MAX_LINE`` bytes) with the first line number;
an unreadable timestamp keeps the line with ``@timestamp`` NaN and is noted.

>>> from threatml.errors import ReadReport
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "access.log"
>>> _ = p.write_text('203.0.113.5 - bob [10/Oct/2023:13:55:36 -0700] "GET /a?id=1 HTTP/1.1" 200 2326 '
...                  '"http://example.com/" "Mozilla/5.0"\\nnot a log line\\n')
>>> rep = ReadReport()
>>> fr = next(AccessLogReader().read(p, rep)).frame
>>> fr[["source.ip", "http.request.method", "url.path", "http.response.status_code"]].values.tolist()
[['203.0.113.5', 'GET', '/a', 200.0]]
>>> fr["@timestamp"].tolist(), rep.skipped_total()
([1696971336.0], 1)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary
from threatml.readers.blocks import as_utf8, line_chunks

#: lines longer than this are skipped (an access-log line is rarely over a few KB)
MAX_LINE = 64 * 1024

_Q = r'"((?:[^"\\]|\\.)*)"'
#: one expression for common, combined and vhost_combined; groups are named for extract_regex
LINE_RE = (
    r"^(?:(?P<vhost>[^\s:]+):(?P<vport>\d+) )?"
    r"(?P<ip>[0-9A-Fa-f.:]+|[\w.-]+) (?P<ident>\S+) (?P<user>\S+|\"[^\"]*\") "
    r"\[(?P<time>\d{1,2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?)\] "
    + _Q.replace("(", "(?P<req>", 1)
    + r" (?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r"(?: " + _Q.replace("(", "(?P<ref>", 1) + r" " + _Q.replace("(", "(?P<ua>", 1) + r")?"
    r"(?P<rest>.*)$"
)
_LINE_PY = re.compile(LINE_RE.replace("(?P<", "(?P<"))
_REQ_SIMPLE = r"^(?P<method>[A-Za-z][A-Za-z_-]{0,19}) (?P<target>\S+) (?P<proto>[A-Za-z]+/[\d.]+)$"
_REQ_RE = r"^(?P<method>[A-Za-z][A-Za-z_-]{0,19}) (?P<target>.+?)(?: (?P<proto>[A-Za-z]+/[\d.]+))?$"


_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_PATH_RE = r"^(?P<path>[^?]*)(?:\?(?P<query>.*))?$"
_TS_RE = (r"^(?P<d>\d{1,2})/(?P<mon>\w{3})/(?P<y>\d{4}):(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
          r"(?: (?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2}))?$")


def _unescape(arr: pa.Array) -> pa.Array:
    """Undo the ``\\"`` and ``\\\\`` escapes servers write inside quoted fields."""
    return pc.replace_substring_regex(arr, r'\\(["\\])', r"\1")


def _num(arr: pa.Array) -> np.ndarray:
    """Digit strings -> float64; '-' and '' -> NaN."""
    return pc.cast(pc.if_else(pc.match_substring_regex(arr, r"^\d+$"), arr, pa.scalar(None, pa.string())),
                   pa.float64()).to_numpy(zero_copy_only=False).copy()


def parse_times(text: pa.Array) -> np.ndarray:
    """``10/Oct/2000:13:55:36 -0700`` -> epoch seconds (NaN when unreadable); no offset means UTC.

    >>> parse_times(pa.array(["01/Jan/1970:00:00:10 +0000", "01/Jan/1970:01:00:00 +0100", "bad"])).tolist()
    [10.0, 0.0, nan]
    """
    if len(text) and pc.all(pc.match_substring_regex(text, _TS_FIXED)).as_py():
        return _fixed_times(text)
    p = pc.extract_regex(text, _TS_RE)
    ok = p.is_valid().to_numpy(zero_copy_only=False)
    out = np.full(len(text), np.nan)
    if not ok.any():
        return out
    p = p.filter(pa.array(ok))
    num = lambda k: pc.cast(p.field(k), pa.int64()).to_numpy(zero_copy_only=False)  # noqa: E731
    mon = pd.Series(pc.utf8_lower(p.field("mon")).to_numpy(zero_copy_only=False)).map(_MONTHS).to_numpy(dtype="float64")
    y, m = num("y"), np.nan_to_num(mon, nan=0).astype("int64")
    days = (np.array([f"{a:04d}-{b + 1:02d}" for a, b in zip(y, m)], dtype="datetime64[M]").astype("datetime64[D]")
            if len(y) < 64 else _month_starts(y, m))
    secs = days.astype("int64") * 86400 + (num("d") - 1) * 86400 + num("H") * 3600 + num("M") * 60 + num("S")
    oh = pc.fill_null(pc.cast(pc.if_else(pc.equal(p.field("oh"), ""), "0", p.field("oh")), pa.int64()), 0).to_numpy(zero_copy_only=False)
    om = pc.fill_null(pc.cast(pc.if_else(pc.equal(p.field("om"), ""), "0", p.field("om")), pa.int64()), 0).to_numpy(zero_copy_only=False)
    sign = np.where(p.field("sign").to_numpy(zero_copy_only=False) == "-", -1, 1)
    val = secs.astype("float64") - sign * (oh * 3600 + om * 60)
    val[np.isnan(mon)] = np.nan
    out[ok] = val
    return out


_TS_FIXED = r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$"


def _fixed_times(text: pa.Array) -> np.ndarray:
    """The common case: every value is ``dd/Mon/yyyy:HH:MM:SS +zzzz`` (26 characters), cut by position."""
    cut = lambda a, b: pc.utf8_slice_codeunits(text, a, b)  # noqa: E731
    num = lambda a, b: pc.cast(cut(a, b), pa.int64()).to_numpy(zero_copy_only=False)  # noqa: E731
    mon = pd.Series(pc.utf8_lower(cut(3, 6)).to_numpy(zero_copy_only=False)).map(_MONTHS).to_numpy(dtype="float64")
    y, m = num(7, 11), np.nan_to_num(mon, nan=0).astype("int64")
    days = _month_starts(y, m).astype("int64")
    secs = (days + num(0, 2) - 1) * 86400 + num(12, 14) * 3600 + num(15, 17) * 60 + num(18, 20)
    sign = np.where(cut(21, 22).to_numpy(zero_copy_only=False) == "-", -1, 1)
    val = secs.astype("float64") - sign * (num(22, 24) * 3600 + num(24, 26) * 60)
    val[np.isnan(mon)] = np.nan
    return val


def _month_starts(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """First day of each (year, month) as datetime64[D], computed once per distinct pair."""
    key = y * 12 + m
    uniq, inv = np.unique(key, return_inverse=True)
    firsts = np.array([f"{k // 12:04d}-{k % 12 + 1:02d}" for k in uniq], dtype="datetime64[M]").astype("datetime64[D]")
    return firsts[inv]


_FIELDS = ("vhost", "vport", "ip", "user", "time", "req", "status", "bytes", "ref", "ua", "rest")
_HEAD_RE = (r"^(?:(?P<vhost>[^\s:]+):(?P<vport>\d+) )?(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) "
            r"\[(?P<time>[^\]]+)\] $")
_MID_RE = r"^ (?P<status>\d{3}|-) (?P<bytes>\d+|-) ?$"
_REST_RE = r'^(?:[^"]*"){6}(?P<rest>.*)$'


def split_request(req: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Request lines -> (method, target, protocol); a line that is no request keeps its text as target.

    The usual ``METHOD /target HTTP/x`` goes through a simple expression; only the rest (spaces in
    the target, no protocol, garbage) through the general one.
    """
    rp = pc.extract_regex(req, _REQ_SIMPLE)
    ok = rp.is_valid()
    method, target, proto = (pc.fill_null(rp.field(k), "") for k in ("method", "target", "proto"))
    bad = pc.invert(ok)
    if pc.any(bad).as_py():
        other = pc.extract_regex(req.filter(bad), _REQ_RE)
        v = other.is_valid()
        method = pc.replace_with_mask(method, bad, pc.if_else(v, other.field("method"), ""))
        target = pc.replace_with_mask(target, bad, pc.if_else(v, other.field("target"), req.filter(bad)))
        proto = pc.replace_with_mask(proto, bad, pc.if_else(v, other.field("proto"), ""))
    return method, target, proto


def split_fields(lines: pa.Array, escapes: bool = True) -> dict[str, pa.Array]:
    """The fields of lines that already matched :data:`LINE_RE`.

    Capturing with the full expression costs RE2 about 7 us a line, so lines
    without escaped quotes are cut at their quotes instead (``split_pattern``)
    and only the short pieces go through small expressions; lines with
    escaped quotes, quoted user names and other rarities take the full
    expression.
    """
    n = len(lines)
    plain = pc.invert(pc.match_substring(lines, '\\"')).to_numpy(zero_copy_only=False) if escapes else np.ones(n, bool)
    parts = pc.split_pattern(pc.binary_join_element_wise(lines, pa.scalar('""""""""'), ""), '"')
    real = pc.subtract(pc.list_value_length(parts), 8).to_numpy(zero_copy_only=False)
    el = lambda i: pc.list_element(parts, i)  # noqa: E731
    head = pc.extract_regex(el(0), _HEAD_RE)
    mid = pc.extract_regex(el(2), _MID_RE)
    shape = ((real == 3) | ((real >= 7) & pc.equal(el(4), " ").to_numpy(zero_copy_only=False)))
    ok = plain & shape & head.is_valid().to_numpy(zero_copy_only=False) & mid.is_valid().to_numpy(zero_copy_only=False)
    combined = real >= 7
    empty = pa.scalar("", pa.string())
    out = {
        "vhost": head.field("vhost"), "vport": head.field("vport"), "ip": head.field("ip"), "user": head.field("user"),
        "time": head.field("time"), "req": el(1), "status": mid.field("status"), "bytes": mid.field("bytes"),
        "ref": pc.if_else(pa.array(combined), el(3), empty), "ua": pc.if_else(pa.array(combined), el(5), empty),
        "rest": pc.if_else(pa.array(real == 7), el(6), pc.if_else(pa.array(real == 3), el(2), empty)),
    }
    out["rest"] = pc.if_else(pa.array(real == 3), empty, out["rest"])
    many = ok & (real > 7)
    if many.any():
        extra = pc.extract_regex(lines.filter(pa.array(many)), _REST_RE).field("rest")
        out["rest"] = pc.replace_with_mask(out["rest"], pa.array(many), extra)
    if not ok.all():
        bad = pa.array(~ok)
        slow = pc.extract_regex(lines.filter(bad), LINE_RE)
        for k in _FIELDS:
            out[k] = pc.replace_with_mask(pc.fill_null(out[k], ""), bad, pc.fill_null(slow.field(k), ""))
    return {k: pc.fill_null(v, "") if n else v for k, v in out.items()}


class AccessLogReader(Reader):
    """Apache/Nginx access logs; see the module docstring for formats and mapping."""

    name = "weblog"
    kinds = ("http",)

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        lines = [ln for ln in head.split(b"\n")[:-1] if ln.strip()][:20] if b"\n" in head else [head]
        if not lines:
            return False
        ok = 0
        for ln in lines:
            if len(ln) > MAX_LINE:
                continue
            if _LINE_PY.match(ln.decode("utf-8", errors="replace").rstrip("\r")):
                ok += 1
        return ok >= max(1, int(0.6 * len(lines) + 0.999))

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        name_hint = "nginx" if "nginx" in path.name.lower() or "nginx" in str(path.parent).lower() else ""
        pending: list[pd.DataFrame] = []
        n_pending = 0
        with open_binary(path, report) as fh:
            try:
                for block, first in line_chunks(fh, 8 * 1024 * 1024):
                    fr = self._parse_block(block, first, path, report, name_hint)
                    if fr is None or fr.empty:
                        continue
                    pending.append(fr)
                    n_pending += len(fr)
                    while n_pending >= batch_size:
                        whole = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
                        out, rest = whole.iloc[:batch_size], whole.iloc[batch_size:]
                        report.read(str(path), len(out))
                        yield EventBatch.of("http", out.reset_index(drop=True), source=str(path))
                        pending, n_pending = ([rest.reset_index(drop=True)] if len(rest) else []), len(rest)
            except OSError as exc:
                raise InputError(path, f"cannot read: {exc}") from None
        if pending:
            whole = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            report.read(str(path), len(whole))
            yield EventBatch.of("http", whole, source=str(path))

    # -- one block of whole lines -----------------------------------------
    def _parse_block(self, block: bytes, first: int, path: Path, report: ReadReport, hint: str) -> pd.DataFrame | None:
        text = as_utf8(block).decode("utf-8")
        # split inside Arrow: no Python string object per line
        lines = pc.cast(pc.list_flatten(pc.split_pattern(pa.array([text], type=pa.large_string()), "\n")), pa.string())
        if len(lines) and text.endswith("\n"):
            lines = lines.slice(0, len(lines) - 1)
        lines = pc.utf8_rtrim(lines, characters="\r")
        line_no = np.arange(first, first + len(lines), dtype="int64")
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(lines)), 0).to_numpy(zero_copy_only=False)
        too_long = pc.greater(pc.binary_length(lines), MAX_LINE).to_numpy(zero_copy_only=False)
        binary = pc.match_substring_regex(lines, r"[\x00-\x08\x0e-\x1f]").to_numpy(zero_copy_only=False)
        safe = pc.if_else(pa.array(too_long), pa.scalar("", pa.string()), lines)
        valid = pc.match_substring_regex(safe, LINE_RE).to_numpy(zero_copy_only=False)
        bad_binary = binary & ~blank
        for mask, reason in ((too_long, f"line longer than {MAX_LINE:,} bytes"),
                             (bad_binary & ~too_long, "binary data (control bytes) in line"),
                             (~valid & ~blank & ~too_long & ~binary, "not an access-log line (common/combined)")):
            if mask.any():
                report.skip(str(path), reason, where=f"line {int(line_no[mask.argmax()])}", n=int(mask.sum()))
        keep = valid & ~blank & ~too_long & ~binary
        if not keep.any():
            return None
        nos = line_no[keep]
        fields = split_fields(lines.filter(pa.array(keep)), escapes=b'\\"' in block)
        f = fields.__getitem__
        esc = b"\\" in block
        unesc = _unescape if esc else (lambda a: a)
        req = unesc(f("req"))
        method, target, proto = split_request(req)
        pq = pc.extract_regex(target, _PATH_RE)
        ts = parse_times(f("time"))
        bad_ts = np.isnan(ts)
        if bad_ts.any():
            report.note(str(path), "unreadable timestamp (kept, @timestamp NaN)", where=f"line {int(nos[bad_ts.argmax()])}",
                        n=int(bad_ts.sum()))
        rest = pc.utf8_trim_whitespace(f("rest"))
        nginx_like = pc.starts_with(rest, '"').to_numpy(zero_copy_only=False)
        dataset = np.where(nginx_like | (hint == "nginx"), "nginx.access", "apache.access")
        user = pc.utf8_trim(f("user"), '"')
        user = pc.if_else(pc.equal(user, "-"), "", user)
        ref = unesc(f("ref"))
        ref = pc.if_else(pc.equal(ref, "-"), "", ref)
        ua = unesc(f("ua"))
        size = _num(f("bytes"))
        size[pc.equal(f("bytes"), "-").to_numpy(zero_copy_only=False)] = 0.0
        tbl = pa.table({
            "event.id": pc.binary_join_element_wise(pa.scalar(f"{path}:"), pc.cast(pa.array(nos), pa.string()), ""),
            "event.dataset": pa.array(dataset, type=pa.string()),
            "@timestamp": pa.array(ts),
            "source.ip": f("ip"),
            "user.name": user,
            "http.request.method": method,
            "url.original": target,
            "url.path": pc.fill_null(pq.field("path"), ""),
            "url.query": pc.fill_null(pq.field("query"), ""),
            "http.version": proto,
            "http.response.status_code": pa.array(_num(f("status"))),
            "http.response.body.bytes": pa.array(size),
            "http.request.referrer": ref,
            "user_agent.original": pc.if_else(pc.equal(ua, "-"), "", ua),
            "url.domain": f("vhost"),
            "destination.port": pa.array(_num(f("vport"))),
            "weblog.extra": rest,
        })
        return tbl.to_pandas()
