"""Zeek logs (conn, dns, http, ssl) in TSV or JSON-lines form -> flow/dns/http/tls batches.

TSV logs are parsed with pyarrow's multithreaded CSV parser, one large block of
lines at a time; ``#`` header lines are cut out of each block by us (pyarrow
has no comment skipping), so several header blocks in one file (rotated logs
concatenated together), ``#close`` trailers and reordered ``#fields`` all work:
columns are always mapped by name. JSON logs (``LogAscii::use_json``) are
parsed with ``pyarrow.json`` in blocks of lines as well.

What is mapped where (see ``threatml/events/schema.py``):

* ``conn`` -> ``flow``, ``dns`` -> ``dns``, ``http`` -> ``http``, ``ssl`` -> ``tls``.
* Every other column of those logs is kept as ``zeek.<field>`` (a float when
  Zeek types it as a number or bool, so ``zeek.orig_ip_bytes`` or
  ``zeek.local_orig`` are ready for detectors).
* Stratosphere ``label`` / ``detailedlabel``: ``Malicious`` -> ``malicious``,
  ``Benign`` -> ``benign``, anything else (``Background``, missing) -> ``""``.
  The legacy layout whose last ``#fields`` entry reads
  ``tunnel_parents   label   detailedlabel`` (three names, and three values,
  joined by runs of spaces inside one tab column) is split back into columns:
  in such files every run of 2+ spaces is read as a column break, so a free
  text value holding two spaces (an http user agent, say) makes its row the
  wrong length, and it is skipped and counted like any other bad row.
* Other Zeek logs (weird, notice, files, ...) are recognised but yield nothing;
  each file is counted once in the report as
  ``unsupported zeek log path '<path>'`` with its number of lines.

Robustness choices:

* A file without ``#fields`` whose first line has 21 tab-separated columns
  (23 with Stratosphere labels) is read with Zeek's default conn layout, and
  the report says so under the reason ``no #fields header: assumed the default
  zeek conn layout`` (a note in the report: nothing is lost); any other headerless
  file is an :class:`InputError` naming the file.
* Lines with the wrong number of fields are skipped and counted with the line
  number of the first one; text in a number column becomes NaN (row kept,
  noted in the report); bytes that are not UTF-8 are replaced by U+FFFD (the
  fast path lets pyarrow check UTF-8 and repairs a block only when it fails).
* Unset ``-`` and empty ``(empty)`` values become NaN / ``""``. Set and vector
  fields stay text, joined by ``,`` (JSON arrays are joined the same way).
* A headerless or mislabelled file takes its log path from ``#path``, else the
  file name (``conn.log``, ``conn.log.labeled``, ``labeled-conn.log``,
  ``conn.10:00:00-11:00:00.log.gz``), else the column names.
* An empty file is an ``InputError("empty file")``; a file with only headers
  yields nothing.

>>> from threatml.errors import ReadReport
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "conn.log"
>>> _ = p.write_text("#separator \\\\x09\\n#path\\tconn\\n#fields\\tts\\tuid\\tid.orig_h\\tproto\\n"
...                  "1.5\\tCx1\\t10.0.0.1\\ttcp\\n")
>>> b = next(ZeekReader().read(p, ReadReport()))
>>> b.kind, b.frame["source.ip"].tolist(), b.frame["@timestamp"].tolist()
('flow', ['10.0.0.1'], [1.5])
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson

from threatml.errors import InputError, ReadReport
from threatml.events import SCHEMAS, EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary
from threatml.readers.blocks import (
    CHUNK_BYTES,
    as_utf8,
    concat,
    iso_to_epoch,
    json_objects,
    line_chunks,
    line_of,
    text_to_float,
)


#: Zeek log path -> event kind
SUPPORTED_PATHS = {"conn": "flow", "dns": "dns", "http": "http", "ssl": "tls"}

_COMMON_RENAMES = {
    "ts": "@timestamp",
    "uid": "event.id",
    "id.orig_h": "source.ip",
    "id.orig_p": "source.port",
    "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port",
    "proto": "network.transport",
}

RENAMES: dict[str, dict[str, str]] = {
    "conn": {
        **_COMMON_RENAMES,
        "service": "network.protocol",
        "duration": "flow.duration",
        "orig_bytes": "source.bytes",
        "resp_bytes": "destination.bytes",
        "orig_pkts": "source.packets",
        "resp_pkts": "destination.packets",
        "conn_state": "flow.state",
        "history": "flow.history",
    },
    "dns": {
        **_COMMON_RENAMES,
        "trans_id": "dns.id",
        "query": "dns.question.name",
        "qtype_name": "dns.question.type",
        "rcode_name": "dns.response_code",
        "answers": "dns.answers",
    },
    "http": {
        **_COMMON_RENAMES,
        "method": "http.request.method",
        "host": "url.domain",
        "uri": "url.original",
        "status_code": "http.response.status_code",
        "user_agent": "user_agent.original",
        "referrer": "http.request.referrer",
        "request_body_len": "http.request.body.bytes",
        "response_body_len": "http.response.body.bytes",
    },
    "ssl": {
        **_COMMON_RENAMES,
        "version": "tls.version",
        "server_name": "tls.client.server_name",
        "established": "tls.established",
        "ja3": "tls.client.ja3",
        "ja3s": "tls.server.ja3s",
        "subject": "tls.server.subject",
        "issuer": "tls.server.issuer",
    },
}

_NUMERIC_TYPES = {"time", "interval", "double", "count", "int", "port"}
# Used when a file has no (or a short) #types line.
_NUMERIC_FIELDS = {
    "ts", "id.orig_p", "id.resp_p", "duration", "orig_bytes", "resp_bytes", "missed_bytes",
    "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "trans_id", "rtt", "qclass",
    "qtype", "rcode", "Z", "trans_depth", "request_body_len", "response_body_len",
    "status_code", "info_code",
}
_BOOL_FIELDS = {"local_orig", "local_resp", "AA", "TC", "RD", "RA", "rejected", "established", "resumed"}

#: Zeek's conn.log columns (Zeek 2.6 .. 6.x) for files that lost their header
DEFAULT_CONN_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes "
    "conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts "
    "resp_ip_bytes tunnel_parents"
).split()
DEFAULT_CONN_TYPES = (
    "time string addr port addr port enum string interval count count string bool bool count "
    "string count count count count set[string]"
).split()
_LABEL_FIELDS = ("label", "detailedlabel")
_KNOWN_LOG_NAMES = {
    "conn", "dns", "http", "ssl", "weird", "notice", "files", "x509", "ssh", "smtp", "ftp", "dhcp",
    "sip", "snmp", "tunnel", "known_hosts", "known_services", "known_certs", "software",
    "dpd", "analyzer", "pe", "ntp", "rdp", "smb_files", "smb_mapping", "dce_rpc", "kerberos",
    "ntlm", "radius", "irc", "mysql", "socks", "syslog", "capture_loss", "stats", "reporter",
    "loaded_scripts", "packet_filter", "ocsp", "signatures", "intel", "modbus", "dnp3", "quic",
}
_EMPTY = pa.scalar("", pa.large_string())
_NO_FIELDS_NOTE = "no #fields header: assumed the default zeek conn layout"


# ---------------------------------------------------------------------------
# shared helpers


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def map_label(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Stratosphere label -> ``malicious`` / ``benign`` / ``""`` (worked out once per distinct value)."""
    enc = pc.dictionary_encode(col if _is_text(col.type) else pc.cast(col, pa.string()))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    low = pc.utf8_lower(pc.utf8_trim_whitespace(enc.dictionary))
    vals = pc.if_else(pc.equal(low, "malicious"), "malicious", pc.if_else(pc.equal(low, "benign"), "benign", ""))
    return pc.fill_null(pc.take(vals, enc.indices), "")


def _clean_detail(col) -> pa.Array:
    s = col if _is_text(col.type) else pc.cast(col, pa.string())
    s = pc.if_else(pc.is_in(s, pa.array(["-", "(empty)"], s.type)), pa.scalar(None, s.type), s)
    return pc.fill_null(s, "")


def _to_float(col, zeek_type: str | None = None, name: str = ""):
    """A Zeek column as float64: numbers as they are, bools T/F/true/false as 1/0."""
    t = col.type
    if pa.types.is_float64(t):
        return col  # already parsed as a number (TSV): no cast, no copy
    if pa.types.is_boolean(t):
        return pc.cast(col, pa.float64())
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t):
        return pc.cast(col, pa.float64())
    if _is_text(t):
        if zeek_type == "bool" or name in _BOOL_FIELDS:
            return pc.cast(pc.equal(col, "T"), pa.float64())
        if name == "ts":  # JSON logs written with ISO-8601 timestamps
            return iso_to_epoch(col)
        return text_to_float(col)
    return col


def _join_list(col) -> pa.Array:
    """A list column (JSON arrays) -> strings joined by ','."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    vals = pc.cast(col, pa.list_(pa.string()))
    return pc.fill_null(pc.binary_join(vals, ","), "")


# ---------------------------------------------------------------------------
# mapping raw Zeek tables to event tables


def zeek_to_events(table: pa.Table, log_path: str, types: dict[str, str] | None = None) -> pa.Table:
    """Rename and convert one raw Zeek table (columns named as in Zeek) to schema columns."""
    types = types or {}
    renames = RENAMES[log_path]
    n = table.num_rows
    cols: dict[str, pa.Array] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            col = _join_list(col)
        if pa.types.is_null(col.type):
            col = pa.nulls(n, pa.float64() if name in _NUMERIC_FIELDS or name in _BOOL_FIELDS else pa.string())
        if name == "label":
            cols["label"] = map_label(col)
            continue
        if name == "detailedlabel":
            cols["label.detail"] = _clean_detail(col)
            continue
        zt = types.get(name)
        numeric = (zt in _NUMERIC_TYPES or zt == "bool") if zt else (name in _NUMERIC_FIELDS or name in _BOOL_FIELDS)
        if numeric or pa.types.is_boolean(col.type) or (
            not zt and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type))
        ):
            col = _to_float(col, zt, name)
        elif not _is_text(col.type):
            col = pc.cast(col, pa.string())
        if _is_text(col.type):
            col = pc.fill_null(col, "")  # unset '-' and '(empty)' -> "" as the schema wants
        cols[renames.get(name, f"zeek.{name}")] = col
    cols["event.dataset"] = pa.repeat(pa.scalar(f"zeek.{log_path}", pa.large_string()), n)
    for f in SCHEMAS[SUPPORTED_PATHS[log_path]]:  # absent schema columns, made cheaply here
        if f.name not in cols:
            cols[f.name] = pa.nulls(n, pa.float64()) if f.dtype == "float" else pa.repeat(_EMPTY, n)
    return pa.table(cols)


def _emit(tables: list[pa.Table], kind: str, path: Path, batch_size: int) -> Iterator[EventBatch]:
    tbl = concat(tables)
    for off in range(0, tbl.num_rows, batch_size):
        yield EventBatch.of(kind, tbl.slice(off, batch_size).to_pandas(split_blocks=True), source=str(path))


class _Batcher:
    """Collects event tables of one kind and releases them in slices of ``batch_size`` rows."""

    def __init__(self, kind: str, path: Path, batch_size: int):
        self.kind, self.path, self.batch_size = kind, path, batch_size
        self.tables: list[pa.Table] = []
        self.rows = 0

    def add(self, tbl: pa.Table) -> Iterator[EventBatch]:
        if tbl.num_rows == 0:
            return
        self.tables.append(tbl)
        self.rows += tbl.num_rows
        if self.rows >= self.batch_size:
            whole = concat(self.tables)
            full = (self.rows // self.batch_size) * self.batch_size
            yield from _emit([whole.slice(0, full)], self.kind, self.path, self.batch_size)
            rest = whole.slice(full)
            self.tables, self.rows = ([rest] if rest.num_rows else []), rest.num_rows

    def flush(self) -> Iterator[EventBatch]:
        if self.rows:
            yield from _emit(self.tables, self.kind, self.path, self.batch_size)
        self.tables, self.rows = [], 0


# ---------------------------------------------------------------------------
# TSV


@dataclass
class _Layout:
    """What the last header block said."""

    separator: bytes = b"\t"
    unset: str = "-"
    empty: str = "(empty)"
    path: str = ""
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    spaced: bool = False  # legacy 'tunnel_parents   label   detailedlabel' column

    def type_map(self) -> dict[str, str]:
        return dict(zip(self.fields, self.types)) if len(self.types) == len(self.fields) else {}


def _unescape(value: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value)


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (a repeated name gets a ``.2``, ``.3`` ... suffix)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}.{seen[n]}")
    return out


def _apply_header(layout: _Layout, line: str) -> _Layout:
    """Update ``layout`` from one ``#`` line; a new ``#fields`` starts a new layout."""
    line = line.rstrip("\r\n")
    if line.startswith("#separator"):
        sep = _unescape(line[len("#separator") :].strip()) or "\t"
        layout.separator = sep.encode("utf-8")[:1]
        return layout
    sep = layout.separator.decode("utf-8", errors="replace")
    key, _, rest = line.partition(sep)
    values = rest.split(sep) if rest else []
    if key == "#fields":
        spaced = any(re.search(r"\s", v) for v in values)
        names = [w for v in values for w in v.split()] if spaced else values
        layout.fields, layout.types, layout.spaced = _unique(names), [], spaced
    elif key == "#types":
        layout.types = [w for v in values for w in v.split()] if layout.spaced else values
    elif key == "#path":
        layout.path = rest.strip()
    elif key == "#unset_field":
        layout.unset = rest
    elif key == "#empty_field":
        layout.empty = rest
    return layout


def _path_from_name(path: Path) -> str:
    """``conn`` for conn.log, conn.log.labeled, conn.09:00:00-10:00:00.log.gz, labeled-conn.log ..."""
    name = path.name.lower()
    first = re.split(r"[.\-_]", name, maxsplit=1)[0]
    if first in _KNOWN_LOG_NAMES:
        return first
    for part in re.split(r"[.\-]", name):
        if part in _KNOWN_LOG_NAMES:
            return part
    return ""


def _parse_tsv_block(
    block: bytes, first_line: int, layout: _Layout, path: Path, report: ReadReport
) -> pa.Table:
    """One block of data lines (no '#' lines) -> raw table with Zeek column names."""
    names = layout.fields
    types = layout.type_map()
    numeric = {n for n in names if ((types[n] in _NUMERIC_TYPES) if n in types else (n in _NUMERIC_FIELDS))}
    if layout.spaced:  # legacy Stratosphere: label columns joined by runs of spaces
        block = re.sub(rb" {2,}", b"\t", block)
    bad: list[tuple[int, str]] = []

    def on_bad(row) -> str:
        bad.append((row.actual_columns, row.text))
        return "skip"

    def parse(col_types: dict) -> pa.Table:
        bad.clear()
        return pcsv.read_csv(
            pa.BufferReader(block),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=True, block_size=4 << 20),
            parse_options=pcsv.ParseOptions(
                delimiter=layout.separator.decode("latin-1"),
                quote_char=False,
                double_quote=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
                invalid_row_handler=on_bad,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=col_types,
                null_values=[layout.unset, layout.empty, "-", "(empty)", ""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )

    # large_string: what pandas' str dtype holds, so to_pandas() need not convert
    typed = {n: (pa.float64() if n in numeric else pa.large_string()) for n in names}
    try:
        try:
            tbl = parse(typed)
        except pa.ArrowInvalid:
            fixed = as_utf8(block)  # pyarrow checks UTF-8 itself; repair only when needed
            if fixed is block:
                raise
            block = fixed
            tbl = parse(typed)
    except pa.ArrowInvalid:
        # Some number column holds text: read all as text, turn bad numbers into NaN.
        tbl = parse({n: pa.large_string() for n in names})
        for n in numeric:
            col = tbl.column(n)
            num = text_to_float(col)
            lost = pc.sum(pc.and_(pc.is_null(num, nan_is_null=True), pc.is_valid(col))).as_py() or 0
            if lost:
                report.note(str(path), f"non-numeric values in column '{n}' read as NaN (rows kept)",
                            where=f"lines {first_line}+", n=int(lost))
            tbl = tbl.set_column(tbl.column_names.index(n), n, num)
    if bad:
        by_count: dict[int, list[str]] = {}
        for actual, text in bad:
            by_count.setdefault(actual, []).append(text)
        for actual, texts in by_count.items():
            where = line_of(block, first_line, texts[0])
            report.skip(
                str(path),
                f"wrong number of fields: {actual}, expected {len(names)}",
                where=f"line {where}" if where else None,
                n=len(texts),
            )
    return tbl


def _has_header_line(block: bytes) -> bool:
    """True if some line of ``block`` starts with '#'. memchr for '#' first: most blocks have none."""
    if block.startswith(b"#"):
        return True
    pos = block.find(b"#")
    for _ in range(16):
        if pos < 0:
            return False
        if block[pos - 1] == 0x0A:  # preceded by '\n'
            return True
        pos = block.find(b"#", pos + 1)
    return b"\n#" in block  # many '#' inside values (URLs): one substring search instead


def _tsv_pieces(fh: BinaryIO) -> Iterator[tuple[str, bytes, int]]:
    """Split the file into ('header', line, line_no) and ('data', block, first_line_no)."""
    for block, first in line_chunks(fh):
        if not _has_header_line(block):
            yield "data", block, first
            continue
        pos, line_no, end = 0, first, len(block)
        while pos < end:
            if block.startswith(b"#", pos):
                nl = block.find(b"\n", pos)
                nl = end if nl < 0 else nl
                yield "header", block[pos:nl], line_no
                pos, line_no = nl + 1, line_no + 1
                continue
            nxt = block.find(b"\n#", pos)
            stop = end if nxt < 0 else nxt + 1
            piece = block[pos:stop]
            yield "data", piece, line_no
            line_no += piece.count(b"\n")
            pos = stop


def _first_data_fields(block: bytes, sep: bytes) -> int:
    line = block.split(b"\n", 1)[0].rstrip(b"\r")
    return len(line.split(sep))


class ZeekReader(Reader):
    """Zeek TSV and JSON logs; see the module docstring for the mapping and choices."""

    name = "zeek"
    kinds = ("flow", "dns", "http", "tls")

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if text.startswith(b"#separator") or text.startswith(b"#fields"):
            return True
        first = text.split(b"\n", 1)[0].rstrip(b"\r")
        if first.startswith(b"{"):
            return _looks_like_zeek_json(first)
        return _looks_like_headerless_conn(first)

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        with open_binary(path, report) as fh:
            try:
                head = fh.read(64 * 1024)
            except (OSError, EOFError) as exc:
                raise InputError(path, f"cannot read: {exc}") from None
            if not head.strip():
                raise InputError(path, "empty file")
            fh.seek(0)
            if head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
                yield from self._read_json(fh, head, path, report, batch_size)
            else:
                yield from self._read_tsv(fh, path, report, batch_size)

    # -- TSV --------------------------------------------------------------
    def _read_tsv(self, fh: BinaryIO, path: Path, report: ReadReport, batch_size: int) -> Iterator[EventBatch]:
        layout = _Layout()
        batchers: dict[str, _Batcher] = {}
        unsupported: dict[str, list[int]] = {}  # log path -> [lines, first line]
        name_hint = _path_from_name(path)
        try:
            for what, data, line_no in _tsv_pieces(fh):
                if what == "header":
                    if data.startswith(b"#separator"):  # a new header block (rotated logs concatenated)
                        layout = _Layout()
                    layout = _apply_header(layout, data.decode("utf-8", errors="replace"))
                    continue
                if len(data) < 4096 and not data.strip():  # blank lines only (cheap test)
                    continue
                if not layout.fields:
                    layout = self._assume_default(layout, data, line_no, path, report)
                log_path = layout.path or name_hint or _path_from_fields(layout.fields)
                if log_path not in SUPPORTED_PATHS:
                    count = unsupported.setdefault(log_path or "unknown", [0, line_no])
                    count[0] += data.count(b"\n")
                    continue
                raw = _parse_tsv_block(data, line_no, layout, path, report)
                if raw.num_rows == 0:
                    continue
                events = zeek_to_events(raw, log_path, layout.type_map())
                kind = SUPPORTED_PATHS[log_path]
                b = batchers.setdefault(kind, _Batcher(kind, path, batch_size))
                yield from b.add(events)
        except (OSError, EOFError) as exc:
            raise InputError(path, f"read failed (truncated or corrupt file?): {exc}") from None
        for b in batchers.values():
            yield from b.flush()
        for log_path, (n, first) in unsupported.items():
            report.skip(str(path), f"unsupported zeek log path '{log_path}'", where=f"line {first}", n=n)

    @staticmethod
    def _assume_default(layout: _Layout, data: bytes, line_no: int, path: Path, report: ReadReport) -> _Layout:
        ncols = _first_data_fields(data, layout.separator)
        if ncols == len(DEFAULT_CONN_FIELDS):
            fields, types = list(DEFAULT_CONN_FIELDS), list(DEFAULT_CONN_TYPES)
        elif ncols == len(DEFAULT_CONN_FIELDS) + 2:
            fields = list(DEFAULT_CONN_FIELDS) + list(_LABEL_FIELDS)
            types = list(DEFAULT_CONN_TYPES) + ["string", "string"]
        else:
            raise InputError(
                path,
                f"no #fields header before the first data line, and its {ncols} columns do not match "
                f"the default zeek conn layout ({len(DEFAULT_CONN_FIELDS)} columns)",
                where=f"line {line_no}",
            )
        report.note(str(path), _NO_FIELDS_NOTE, where=f"line {line_no}", n=0)
        return _Layout(separator=layout.separator, unset=layout.unset, empty=layout.empty,
                       path=layout.path or "conn", fields=fields, types=types)

    # -- JSON -------------------------------------------------------------
    def _read_json(
        self, fh: BinaryIO, head: bytes, path: Path, report: ReadReport, batch_size: int
    ) -> Iterator[EventBatch]:
        log_path = _json_log_path(head, path)
        batchers: dict[str, _Batcher] = {}
        unsupported: dict[str, int] = {}
        try:
            if log_path not in SUPPORTED_PATHS and b'"_path"' not in head:
                # Not a log we map: count its lines without parsing them.
                n = sum(block.count(b"\n") for block, _ in line_chunks(fh))
                unsupported[log_path or "unknown"] = n
            else:
                for block, line_no in line_chunks(fh, CHUNK_BYTES // 2 or 1):
                    raw = read_json_block(block, line_no, path, report)
                    if raw is None or raw.num_rows == 0:
                        continue
                    for lp, part in _split_by_path(raw, log_path):
                        if lp not in SUPPORTED_PATHS:
                            unsupported[lp or "unknown"] = unsupported.get(lp or "unknown", 0) + part.num_rows
                            continue
                        kind = SUPPORTED_PATHS[lp]
                        b = batchers.setdefault(kind, _Batcher(kind, path, batch_size))
                        yield from b.add(zeek_to_events(part, lp))
        except (OSError, EOFError) as exc:
            raise InputError(path, f"read failed (truncated or corrupt file?): {exc}") from None
        for b in batchers.values():
            yield from b.flush()
        for lp, n in unsupported.items():
            report.skip(str(path), f"unsupported zeek log path '{lp}'", n=n)


def _split_by_path(raw: pa.Table, default: str) -> Iterator[tuple[str, pa.Table]]:
    """Rows grouped by their ``_path`` key (json-streaming logs mix paths), else all as ``default``."""
    if "_path" not in raw.column_names:
        yield default, raw
        return
    paths = pc.fill_null(pc.cast(raw.column("_path"), pa.string()), default)
    raw = raw.drop_columns(["_path"])
    kinds = pc.unique(paths).to_pylist()
    if len(kinds) == 1:
        yield kinds[0], raw
        return
    for lp in kinds:
        part = raw.filter(pc.equal(paths, lp))
        # columns that only other logs have are all null here: leave them out
        empty = [c for c in part.column_names if part.column(c).null_count == part.num_rows]
        yield lp, part.drop_columns(empty)


def _path_from_fields(fields: list[str]) -> str:
    return _path_from_keys(set(fields))


def _path_from_keys(keys: set[str]) -> str:
    if "_path" in keys:
        return ""
    if "conn_state" in keys or "orig_pkts" in keys:
        return "conn"
    if keys & {"call_id", "request_from", "request_to"}:
        return "sip"
    if keys & {"auth_attempts", "hassh", "auth_success"}:
        return "ssh"
    if keys & {"query", "qtype_name", "rcode_name", "trans_id"}:
        return "dns"
    if keys & {"method", "uri", "status_code", "trans_depth", "user_agent"}:
        return "http"
    if keys & {"server_name", "cipher", "established", "ja3", "resumed"}:
        return "ssl"
    return ""


def _json_log_path(head: bytes, path: Path) -> str:
    """Which Zeek log a JSON file is: its ``_path`` key, else the keys seen, else the file name."""
    keys: set[str] = set()
    for line in head.split(b"\n")[:50]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            if isinstance(rec.get("_path"), str):
                return rec["_path"]
            keys.update(rec)
            if isinstance(rec.get("id"), dict):
                keys.update(f"id.{k}" for k in rec["id"])
    return _path_from_keys(keys) or _path_from_name(path)


def _flatten(tbl: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(t) for t in tbl.schema.types):
        tbl = tbl.flatten()
    for drop in ("_write_ts", "_system_name"):  # json-streaming bookkeeping
        if drop in tbl.column_names:
            tbl = tbl.drop_columns([drop])
    return tbl


def read_json_block(block: bytes, first_line: int, path: Path, report: ReadReport) -> pa.Table | None:
    """JSON lines -> flat table; invalid lines are skipped and counted with their line number."""
    opts = pjson.ParseOptions(newlines_in_values=False)
    try:
        tbl = _flatten(pjson.read_json(pa.BufferReader(block), parse_options=opts))
        tbl.validate(full=True)  # pyarrow.json does not check UTF-8 itself
        return tbl
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        block = as_utf8(block)
        try:  # bad bytes were the only problem?
            return _flatten(pjson.read_json(pa.BufferReader(block), parse_options=opts))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    parsed = json_objects(block, first_line, path, report)
    good = [line for line, _ in parsed]
    records = [rec for _, rec in parsed]
    if not good:
        return None
    try:
        return _flatten(pjson.read_json(pa.BufferReader(b"\n".join(good)), parse_options=opts))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Types change between lines: fall back to text for anything not a plain number.
        cols: dict[str, list] = {}
        for j, rec in enumerate(records):
            for k, v in _flat_items(rec):
                cols.setdefault(k, [None] * len(records))[j] = v
        out = {}
        for k, vals in cols.items():
            if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in vals):
                out[k] = pa.array(vals, type=pa.float64())
            else:
                out[k] = pa.array([None if v is None else _as_text(v) for v in vals], type=pa.string())
        return pa.table(out)


def _flat_items(rec: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    for k, v in rec.items():
        if isinstance(v, dict):
            yield from _flat_items(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _as_text(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, list):
        return ",".join(_as_text(x) for x in v)
    return json.dumps(v)


def _looks_like_zeek_json(first: bytes) -> bool:
    try:
        rec = json.loads(first)
    except ValueError:
        # a first line longer than the sniffed head: judge by its keys
        return b'"ts":' in first and (b'"uid":' in first or b'"id.orig_h":' in first) and b'"event_type"' not in first
    if not isinstance(rec, dict) or "ts" not in rec or "event_type" in rec:
        return False
    return bool({"uid", "id.orig_h", "_path", "fuid", "id"} & set(rec))


def _looks_like_headerless_conn(first: bytes) -> bool:
    cols = first.split(b"\t")
    if len(cols) not in (len(DEFAULT_CONN_FIELDS), len(DEFAULT_CONN_FIELDS) + 2):
        return False
    try:
        float(cols[0])
    except ValueError:
        return False
    return (b"." in cols[2] or b":" in cols[2]) and cols[6] in (b"tcp", b"udp", b"icmp", b"unknown_transport")
