"""Shared machinery for the tabular flow readers (Argus, nfdump, CICFlowMeter, UNSW-NB15, KDD).

All five formats are delimited text with one flow per row. This module reads
them in bounded chunks with pyarrow's streaming CSV reader, counts every row
it drops (wrong field count, empty row, repeated header) with its line number,
and gives the readers vectorised helpers for the parts they share: header
sniffing, column aliases, timestamps, ports, transports, connection states and
labels. A reader only says how its columns map onto the flow schema.

Every original column is carried along as ``orig.<name>`` (numeric where the
column is numeric) so that a model trained on a benchmark's native features can
score the batches, while the schema columns serve the canonical-feature models.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary, read_head

# --------------------------------------------------------------------------- text


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as Windows-1252.

    Why: the original CIC-IDS2017 CSVs were written on Windows, so the dash in
    "Web Attack – Brute Force" is the single byte 0x96. Reading it as cp1252
    gives the dash back instead of a replacement character.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


codecs.register_error("threatml.cp1252", _cp1252_fallback)


class Utf8Repair(io.RawIOBase):
    """A binary stream that re-emits its input as valid UTF-8.

    Valid UTF-8 passes through unchanged; stray bytes are read as cp1252, so the
    CSV parser never sees invalid text and no row is lost to an encoding error.
    """

    def __init__(self, raw: io.BufferedIOBase, chunk: int = 1 << 20):
        self._raw, self._chunk = raw, chunk
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="threatml.cp1252")
        self._buf, self._eof = b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self._buf and not self._eof:
            data = self._raw.read(self._chunk)
            self._eof = not data
            text = self._decoder.decode(data, final=self._eof)
            self._buf = text.encode("utf-8")
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def decode_head(head: bytes) -> str:
    return head.decode("utf-8", errors="threatml.cp1252")


def norm_key(name: str) -> str:
    """Header name reduced to lower-case letters and digits, for alias matching.

    >>> norm_key(" Total Fwd Packets"), norm_key("tot_fwd_pkts"), norm_key("\\ufeffid")
    ('totalfwdpackets', 'totfwdpkts', 'id')
    """
    return re.sub(r"[^0-9a-z]", "", name.lower())


def clean_name(name: str) -> str:
    """An original column name as used in ``orig.<name>``: BOM and outer spaces removed."""
    return name.replace("\ufeff", "").strip()


# --------------------------------------------------------------------------- layout

DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True)
class Layout:
    """How a tabular file is laid out: delimiter, column names, whether line 1 is a header."""

    delimiter: str
    names: tuple[str, ...]  # cleaned, de-duplicated column names
    header: bool = True

    @property
    def keys(self) -> dict[str, str]:
        """norm_key -> column name (first occurrence wins)."""
        out: dict[str, str] = {}
        for n in self.names:
            out.setdefault(norm_key(n), n)
        return out


def first_line(head: bytes) -> str:
    """The first non-empty line of ``head``, decoded, without BOM."""
    for line in decode_head(head).splitlines():
        line = line.replace("\ufeff", "")
        if line.strip():
            return line
    return ""


def split_fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def header_layout(head: bytes, needles: Iterable[str] = ()) -> Layout | None:
    """Guess the delimiter of a headed file from its first line.

    The delimiter is the candidate giving the most fields; with ``needles`` (norm
    keys) it must also produce every needle as a column.
    """
    line = first_line(head)
    if not line or line.startswith("#") or line.lstrip().startswith("{"):
        return None
    best: Layout | None = None
    for d in DELIMITERS:
        names = [clean_name(x) for x in split_fields(line, d)]
        if len(names) < 3:
            continue
        keys = {norm_key(n) for n in names}
        if not set(needles) <= keys:
            continue
        if best is None or len(names) > len(best.names):
            best = Layout(d, tuple(dedupe(names)), True)
    return best


def dedupe(names: Sequence[str]) -> list[str]:
    """Make names unique the way pandas does (``x``, ``x.1``, ...); empty names become ``col<i>``."""
    seen: dict[str, int] = {}
    out = []
    for i, n in enumerate(names):
        n = n or f"col{i}"
        if n in seen:
            seen[n] += 1
            n = f"{n}.{seen[n]}"
        else:
            seen[n] = 0
        out.append(n)
    return out


def resolve(layout: Layout, aliases: dict[str, Sequence[str]]) -> dict[str, str]:
    """role -> actual column name, for each role whose alias (norm key) is present."""
    keys = layout.keys
    out = {}
    for role, names in aliases.items():
        for a in names:
            if a in keys:
                out[role] = keys[a]
                break
    return out


def require(path: Path, cols: dict[str, str], required: dict[str, str]) -> None:
    """Raise InputError naming the file and every missing required column.

    ``required`` maps role -> the column name to cite in the message.
    """
    missing = [label for role, label in required.items() if role not in cols]
    if missing:
        raise InputError(path, f"missing required column(s): {', '.join(missing)}", "header")


# --------------------------------------------------------------------------- chunked reading


@dataclass
class Chunk:
    """A block of rows: typed columns by original (cleaned) name, and their file line numbers.

    Columns are kept in a dict rather than a DataFrame: building a DataFrame
    copies every column into one block, and the batch is built once, at the end.
    """

    columns: dict[str, pd.Series]
    lines: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.lines)

    def take(self, mask: np.ndarray) -> "Chunk":
        cols = {k: v[mask].reset_index(drop=True) for k, v in self.columns.items()}
        return Chunk(cols, self.lines[mask])


@dataclass
class _RowAccount:
    """Collects the lines the CSV parser set aside, so record line numbers stay exact."""

    path: Path
    report: ReadReport
    trailer: Callable[[str], bool] | None
    nonrecord: list[int] = field(default_factory=list)
    trailer_line: int | None = None
    passed: int = 0  # set-aside lines already behind every record still to come
    last_line: int = 0

    def handle(self, row) -> str:
        num = row.number if row.number is not None else -1
        self.nonrecord.append(num)
        text = row.text or ""
        if self.trailer_line is not None:
            return "skip"
        if self.trailer is not None and self.trailer(text):
            self.trailer_line = num
            return "skip"
        if not text.strip():
            return "skip"  # a blank line is not a record
        self.report.skip(
            self.path, f"{row.actual_columns} fields, expected {row.expected_columns}", where=f"line {num}"
        )
        return "skip"

    def line_numbers(self, first_ordinal: int, n: int, header_lines: int) -> np.ndarray:
        """File line numbers of parsed rows ``first_ordinal .. first_ordinal+n-1`` (0-based)."""
        v = np.arange(first_ordinal, first_ordinal + n, dtype=np.int64)
        bad = np.sort(np.asarray(self.nonrecord, dtype=np.int64))
        # records before the i-th set-aside line = its line - header - 1 - (set-aside lines before it)
        before = bad - header_lines - 1 - (self.passed + np.arange(len(bad)))
        lines = v + 1 + header_lines + self.passed + np.searchsorted(before, v, side="right")
        # forget the lines that precede every later record, so memory stays bounded
        k = int(np.searchsorted(before, first_ordinal + n, side="right"))
        self.passed += k
        self.nonrecord = bad[k:].tolist()
        if n:
            self.last_line = int(lines[-1])
        return lines


def _try_float(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Arrow's fast string -> float64 cast, retried on trimmed text; None when some value is not a number."""
    for attempt in (col, None):
        try:
            return pc.cast(attempt if attempt is not None else pc.utf8_trim_whitespace(col), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def _numeric(col: pa.ChunkedArray) -> np.ndarray:
    """float64 values of a string column; unparseable -> NaN, +-Infinity -> NaN."""
    fast = _try_float(col)
    if fast is not None:
        arr = fast.to_numpy(zero_copy_only=False)
    else:
        text = pd.Series(pc.utf8_trim_whitespace(col).to_pandas(), dtype="object")
        arr = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    arr = np.array(arr, dtype="float64")  # a writable copy (arrow buffers are read-only)
    arr[np.isinf(arr)] = np.nan
    return arr


def _is_numeric_column(col: pa.ChunkedArray) -> bool:
    """True when every non-empty value of the column parses as a number."""
    if _try_float(col) is not None:
        return True
    s = pd.Series(pc.utf8_trim_whitespace(col).to_pandas(), dtype="object").replace("", None).dropna()
    return bool(pd.to_numeric(s, errors="coerce").notna().all())


def _strings(col: pa.ChunkedArray) -> pd.Series:
    return pc.utf8_trim_whitespace(col).fill_null("").to_pandas()


def iter_chunks(
    path: Path,
    report: ReadReport,
    layout: Layout,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    string_cols: Iterable[str] = (),
    numeric_cols: Iterable[str] = (),
    trailer: Callable[[str], bool] | None = None,
) -> Iterator[Chunk]:
    """Stream ``path`` as typed chunks of at most ``batch_size`` rows.

    Columns in ``string_cols`` stay text, those in ``numeric_cols`` become
    float64; any other column is numeric when all its non-empty values in the
    first chunk are numbers (decided once per file so every batch has the same
    dtypes). Rows with the wrong number of fields, empty rows and repeated
    header lines are skipped and counted in ``report``. Lines from the one that
    makes ``trailer`` true onwards (e.g. nfdump's ``Summary`` block) are ignored.
    """
    path = Path(path)
    names = list(layout.names)
    account = _RowAccount(path, report, trailer)
    header_lines = 1 if layout.header else 0
    kinds: dict[str, str] = {n: "str" for n in string_cols if n in names}
    kinds.update({n: "num" for n in numeric_cols if n in names})
    read_opts = pacsv.ReadOptions(column_names=names, skip_rows=header_lines, use_threads=False, block_size=1 << 20)
    parse_opts = pacsv.ParseOptions(delimiter=layout.delimiter, invalid_row_handler=account.handle,
                                    ignore_empty_lines=False, newlines_in_values=False)
    conv_opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                                     null_values=[""], quoted_strings_can_be_null=True)
    stream = io.BufferedReader(Utf8Repair(open_binary(path, report)), buffer_size=1 << 20)
    ordinal = 0
    try:
        reader = pacsv.open_csv(stream, read_options=read_opts, parse_options=parse_opts, convert_options=conv_opts)
        pending: list[pa.RecordBatch] = []
        rows = 0
        done = False
        while not done:
            try:
                rb = reader.read_next_batch()
            except StopIteration:
                done = True
            else:
                if rb.num_rows:
                    pending.append(rb)
                    rows += rb.num_rows
            while pending and (rows >= batch_size or done):
                table = pa.Table.from_batches(pending)
                take = min(batch_size, table.num_rows)
                head, rest = table.slice(0, take), table.slice(take)
                pending = rest.to_batches() if rest.num_rows else []
                rows = rest.num_rows
                chunk = _to_chunk(head, names, kinds, account, ordinal, header_lines, layout, path, report)
                ordinal += take
                if chunk is not None and chunk.rows:
                    yield chunk
                if done and not pending:
                    break
    except (pa.ArrowInvalid, pa.ArrowException, OSError, EOFError) as exc:
        where = f"after line {account.last_line}" if account.last_line else None
        raise InputError(path, f"unreadable or truncated: {_short(exc)}", where) from None
    finally:
        stream.close()


def _short(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()
    return msg[0][:200] if msg else type(exc).__name__


def _to_chunk(table: pa.Table, names: list[str], kinds: dict[str, str], account: _RowAccount, ordinal: int,
              header_lines: int, layout: Layout, path: Path, report: ReadReport) -> Chunk | None:
    n = table.num_rows
    lines = account.line_numbers(ordinal, n, header_lines)
    cols = [table.column(i) for i in range(table.num_columns)]
    keep = np.ones(n, dtype=bool)
    if account.trailer_line is not None:
        keep &= lines < account.trailer_line
    # empty fields are null (ConvertOptions.null_values); a row of only nulls is no record
    empty = np.ones(n, dtype=bool)
    for c in cols:
        if c.null_count == 0:  # a fully filled column: no row can be empty
            empty[:] = False
            break
        empty &= pc.is_null(c).to_numpy(zero_copy_only=False)
    _count(report, path, empty & keep, lines, "empty row")
    keep &= ~empty
    if layout.header and len(names) >= 2:
        hdr = pc.and_(pc.equal(pc.utf8_trim_whitespace(cols[0]), names[0]),
                      pc.equal(pc.utf8_trim_whitespace(cols[1]), names[1])).fill_null(False)
        hdr = hdr.to_numpy(zero_copy_only=False)
        _count(report, path, hdr & keep, lines, "repeated header line")
        keep &= ~hdr
    if not keep.all():
        mask = pa.array(keep)
        cols = [c.filter(mask) for c in cols]
        lines = lines[keep]
    data: dict[str, pd.Series] = {}
    for name, col in zip(names, cols):
        kind = kinds.get(name)
        if kind is None:
            kind = kinds[name] = "num" if _is_numeric_column(col) else "str"
        data[name] = pd.Series(_numeric(col), copy=False) if kind == "num" else _strings(col)
    return Chunk(data, lines)


def _count(report: ReadReport, path: Path, mask: np.ndarray, lines: np.ndarray, reason: str) -> None:
    k = int(mask.sum())
    if k:
        report.skip(path, reason, where=f"line {int(lines[mask][0])}", n=k)


# --------------------------------------------------------------------------- values


def event_ids(path: Path, lines: np.ndarray) -> pd.Series:
    """``file:line`` ids, the record's place in its source file."""
    return pd.Series(lines.astype(str), dtype="object").radd(f"{Path(path).name}:").astype("str")


def parse_ports(values: pd.Series) -> np.ndarray:
    """Port numbers from decimal or hex (``0x0303``) text; anything else -> NaN.

    >>> parse_ports(pd.Series(["80", "0x0303", "", "-"])).tolist()
    [80.0, 771.0, nan, nan]
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    s = values.astype("str").str.strip()
    out = np.array(pd.to_numeric(s, errors="coerce"), dtype="float64")
    hexed = s.str.match(r"^0[xX][0-9a-fA-F]+$").to_numpy(dtype=bool, na_value=False)
    if hexed.any():
        # hex ports are rare (ICMP in Argus, a few UNSW rows): decode only those
        out[hexed] = [int(x, 16) for x in s[hexed]]
    return out


_PROTO_NUMBERS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre", 50: "esp", 51: "ah",
                  58: "ipv6-icmp", 89: "ospf", 132: "sctp"}


def transport_names(values: pd.Series) -> pd.Series:
    """Lower-case transport names from names or IANA protocol numbers.

    >>> transport_names(pd.Series(["6", "UDP", "1", "", "igmp"])).tolist()
    ['tcp', 'udp', 'icmp', '', 'igmp']
    """
    return map_unique(values, _transport_name)


def _transport_name(value: str) -> str:
    v = value.strip().lower()
    if v.isdigit():
        return _PROTO_NUMBERS.get(int(v), v)
    try:
        f = float(v)
    except ValueError:
        return {"icmp6": "ipv6-icmp", "nan": ""}.get(v, v)
    return _PROTO_NUMBERS.get(int(f), str(int(f))) if f == f and f.is_integer() else v


def map_unique(values: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """Apply ``fn`` once per distinct value (states, protocols and labels have few).

    >>> map_unique(pd.Series(["a", "b", "a"]), str.upper).tolist()
    ['A', 'B', 'A']
    """
    s = values.astype("str")
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    mapped = np.array([fn(u) for u in uniq], dtype=object)
    return pd.Series(mapped[codes] if len(codes) else [], index=values.index, dtype="str")


_EPOCH = pd.Timestamp(0, tz="UTC")


def parse_times(values: pd.Series, formats: Sequence[str], path: Path | None = None,
                report: ReadReport | None = None, lines: np.ndarray | None = None,
                column: str = "timestamp") -> np.ndarray:
    """Epoch seconds from text timestamps, trying ``formats`` in order (vectorised).

    ``"epoch"`` accepts plain numbers (seconds; milliseconds when above 1e11).
    Times without zone are taken as UTC. Non-empty values that no format parses
    become NaN and are counted in ``report`` (the record itself is kept).

    >>> parse_times(pd.Series(["2017-07-07 03:59:45.5", "7/7/2017 3:59", "", "x"]),
    ...             ["ISO8601", "%d/%m/%Y %H:%M"]).tolist()
    [1499399985.5, 1499399940.0, nan, nan]
    """
    s = values.astype("str").str.strip()
    out = np.full(len(s), np.nan)
    todo = np.array(s != "", dtype=bool)
    for fmt in formats:
        if not todo.any():
            break
        part = s[todo]
        if fmt == "epoch":
            sec = pd.to_numeric(part, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            sec = np.where(sec > 1e11, sec / 1000.0, sec)
        else:
            dt = pd.to_datetime(part, format=fmt, errors="coerce", utc=True)
            sec = ((dt - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype="float64", na_value=np.nan)
        idx = np.flatnonzero(todo)
        ok = ~np.isnan(sec)
        out[idx[ok]] = sec[ok]
        todo[idx[ok]] = False
    if report is not None and path is not None and todo.any():
        where = f"line {int(lines[todo][0])}" if lines is not None else None
        report.note(path, f"unparseable {column}: record kept with @timestamp NaN", where=where, n=int(todo.sum()))
    return out


def clean_labels(values: pd.Series) -> pd.Series:
    """Readable ground-truth text: mis-decoded dashes fixed, whitespace collapsed.

    >>> clean_labels(pd.Series(["Web Attack \\ufffd Brute Force", " DoS  Hulk "])).tolist()
    ['Web Attack – Brute Force', 'DoS Hulk']
    """
    return map_unique(values, _clean_label)


def _clean_label(text: str) -> str:
    text = text.replace("\ufffd", "–").replace("\u00e2\u20ac\u201c", "–")  # lost / double-decoded en dash
    return " ".join(text.split())


# --------------------------------------------------------------------------- connection states

ZEEK_STATES = frozenset(("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"))

#: Argus/UNSW one-word states -> Zeek conn_state, per transport. Approximate: the
#: one-word states do not say which side reset or closed.
_WORD_STATES_TCP = {"REQ": "S0", "INT": "S0", "ACC": "S1", "EST": "S1", "CON": "S1", "FIN": "SF", "CLO": "SF",
                    "RST": "RSTO"}
_WORD_STATES_UDP = {"INT": "S0", "REQ": "S0", "CON": "SF", "ACC": "SF", "EST": "SF", "FIN": "SF", "CLO": "SF"}


def _tcp_flag_state(src: str, dst: str) -> str:
    """Zeek conn_state from Argus per-side TCP flag sets ("S", "RA", "FSPA", ...)."""
    if "S" not in src:
        return "OTH"  # no SYN from the originator: mid-stream or responder-only
    if not dst:
        if "R" in src:
            return "RSTOS0"
        return "SH" if "F" in src else "S0"
    if "S" not in dst:
        return "REJ" if "R" in dst else "OTH"
    if "R" in src:
        return "RSTO"
    if "R" in dst:
        return "RSTR"
    if "F" in src and "F" in dst:
        return "SF"
    if "F" in src:
        return "S2"
    if "F" in dst:
        return "S3"
    return "S1"


def argus_state(state: str, transport: str) -> str:
    """One Argus/UNSW state to the Zeek conn_state vocabulary ('OTH' when it cannot be inferred).

    >>> [argus_state(s, "tcp") for s in ("S_", "S_RA", "FSPA_FSPA", "SPA_SPA", "PA_PA", "CON")]
    ['S0', 'REJ', 'SF', 'S1', 'OTH', 'S1']
    >>> argus_state("CON", "udp"), argus_state("INT", "udp"), argus_state("ECO", "icmp"), argus_state("SF", "tcp")
    ('SF', 'S0', 'OTH', 'SF')
    """
    st = state.strip()
    if not st or st == "-":
        return ""
    if st in ZEEK_STATES:
        return st
    up = st.upper()
    if transport == "tcp" and up.count("_") == 1 and re.fullmatch(r"[A-Z]*_[A-Z]*", up):
        src, dst = up.split("_")
        return _tcp_flag_state(src, dst)
    if transport == "tcp":
        return _WORD_STATES_TCP.get(up, "OTH")
    if transport in ("udp", "sctp"):
        return _WORD_STATES_UDP.get(up, "OTH")
    return "OTH"


def argus_states(states: pd.Series, transports: pd.Series) -> pd.Series:
    """Vectorised :func:`argus_state`: computed once per distinct (state, transport) pair."""
    key = states.astype("str") + "\x00" + transports.astype("str")
    return map_unique(key, lambda k: argus_state(*k.split("\x00", 1)))


# --------------------------------------------------------------------------- base reader


def orig_columns(columns: dict[str, pd.Series]) -> dict[str, pd.Series]:
    return {f"orig.{c}": v for c, v in columns.items()}


class TabularFlowReader(Reader):
    """Skeleton for the tabular formats: layout -> column roles -> chunks -> flow batches.

    Subclasses give ``layout`` (how the file is laid out), ``columns`` (role ->
    column name, raising InputError when required ones are missing) and
    ``to_flow`` (schema columns from one chunk). The base adds ``event.id``,
    ``event.dataset`` and the ``orig.*`` copies of every original column.
    """

    kinds: ClassVar[tuple[str, ...]] = ("flow",)
    dataset: ClassVar[str] = ""
    string_cols: ClassVar[tuple[str, ...]] = ()
    numeric_cols: ClassVar[tuple[str, ...]] = ()
    #: role -> accepted column names, and the roles a file must have (role -> name for the error)
    aliases: ClassVar[dict[str, tuple[str, ...]]] = {}
    required: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def layout(self, path: Path, head: bytes) -> Layout: ...

    def columns(self, path: Path, layout: Layout) -> dict[str, str]:
        """Role -> column name in this file; InputError naming the missing required ones."""
        cols = resolve(layout, self.aliases)
        require(path, cols, self.required)
        return cols

    @abstractmethod
    def to_flow(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> dict[str, object]: ...

    def trailer(self, text: str) -> bool:
        return False

    def records(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> np.ndarray | None:
        """Mask of the rows that are flow records (None: all); dropped rows must be counted."""
        return None

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        head = read_head(path)
        if not head.strip():
            raise InputError(path, "empty file")
        layout = self.layout(path, head)
        cols = self.columns(path, layout)
        for chunk in iter_chunks(path, report, layout, batch_size, string_cols=self.string_cols,
                                 numeric_cols=self.numeric_cols, trailer=self.trailer):
            keep = self.records(chunk, cols, path, report)
            if keep is not None and not keep.all():
                chunk = chunk.take(keep)
                if not chunk.rows:
                    continue
            flow = self.to_flow(chunk, cols, path, report)
            flow.setdefault("event.id", event_ids(path, chunk.lines))
            flow.setdefault("event.dataset", self.dataset)
            flow.update(orig_columns(chunk.columns))
            frame = pd.DataFrame(flow, index=pd.RangeIndex(chunk.rows))
            yield EventBatch.of("flow", frame, source=str(path))


def role_numbers(chunk: Chunk, cols: dict[str, str], role: str, missing_as_nan: bool = True) -> np.ndarray | None:
    """The column playing ``role`` as float64 (bad values NaN); when the file lacks it,
    all NaN (or None with ``missing_as_nan=False``, to tell "absent" from "unknown")."""
    if role not in cols:
        return np.full(chunk.rows, np.nan) if missing_as_nan else None
    return pd.to_numeric(chunk.columns[cols[role]], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def headed_layout(path: Path, head: bytes, needles: Iterable[str], fmt: str) -> Layout:
    """The header layout, or InputError when the first line is not a header of this format."""
    layout = header_layout(head, needles)
    if layout is None:
        layout = header_layout(head)
        if layout is None:
            raise InputError(path, f"no {fmt} header line found", "line 1")
    return layout
