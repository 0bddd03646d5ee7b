"""Suricata EVE JSON -> flow, alert, dns, http and tls batches.

Lines are parsed in large blocks by ``pyarrow.json`` against an explicit schema
of only the fields we map (everything else is ignored, which also keeps odd
nested fields from breaking type inference). A block that pyarrow refuses
(a line that is not JSON, or a field whose type differs from the schema) is
re-read line by line with :func:`json.loads`: bad lines are skipped and counted
with their line number, the rest is coerced to the schema. A file mixing event
types yields separate batches per kind.

Mapping (see ``threatml/events/schema.py``):

* ``flow`` / ``netflow`` -> ``flow``. ``@timestamp`` is ``flow.start`` and
  ``flow.duration`` is ``end - start``. Suricata counts **IP-level bytes**
  (headers included) where Zeek's ``orig_bytes``/``resp_bytes`` count payload:
  ``source.bytes``/``destination.bytes`` hold Suricata's numbers anyway (the
  closest there is), and the same values are also kept as
  ``suricata.bytes_toserver``/``suricata.bytes_toclient`` so that models can
  tell. ``flow.state`` is derived in Zeek's ``conn_state`` vocabulary from the
  TCP flags seen in each direction (see :func:`zeek_conn_state`);
  ``flow.history`` stays empty (Suricata does not log packet order).
  ``app_proto`` ``failed`` (detection failed) becomes ``""``.
* ``alert`` -> ``alert`` (sid -> ``rule.id``, signature, category, severity).
* ``anomaly`` -> ``alert`` with ``rule.id`` ``anomaly:<event>`` and
  ``rule.category`` ``anomaly``.
* ``dns`` (EVE v1, v2 and v3 layouts) -> ``dns``. Queries and answers are
  separate EVE records and stay separate rows; ``suricata.dns.type`` says which.
* ``http`` -> ``http``; ``tls`` -> ``tls`` (``TLS 1.2`` is written ``TLSv12``
  as Zeek does).
* Every other event type is counted once per file as skipped.

``event.id`` is the ``flow_id`` (as text), so alerts and flows of the same
connection share it. Timestamps with any UTC offset become epoch seconds.

>>> from threatml.errors import ReadReport
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "eve.json"
>>> _ = p.write_text('{"timestamp":"2021-06-06T15:59:46.5+0200","flow_id":7,"event_type":"alert",'
...                  '"src_ip":"1.2.3.4","alert":{"signature_id":2001,"signature":"X","severity":2}}\\n')
>>> b = next(SuricataReader().read(p, ReadReport()))
>>> b.kind, b.frame["rule.id"].tolist(), b.frame["@timestamp"].tolist()
('alert', ['2001'], [1622987986.5])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pjson

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary
from threatml.readers.blocks import as_utf8, concat, iso_to_epoch, json_objects, line_chunks

#: bytes of EVE text parsed at once
CHUNK_BYTES = 8 * 1024 * 1024

_S, _I, _B = pa.string(), pa.int64(), pa.bool_()


def _st(**fields: pa.DataType) -> pa.DataType:
    return pa.struct(list(fields.items()))


#: the EVE fields we read; anything else in a record is ignored. Keep it short:
#: pyarrow's cost grows with the number of fields kept, not with the line length.
EVE_SCHEMA = pa.schema([
    ("timestamp", _S), ("flow_id", _I), ("event_type", _S), ("src_ip", _S), ("src_port", _I),
    ("dest_ip", _S), ("dest_port", _I), ("proto", _S), ("app_proto", _S),
    ("flow", _st(pkts_toserver=_I, pkts_toclient=_I, bytes_toserver=_I, bytes_toclient=_I,
                 start=_S, end=_S, state=_S, reason=_S, alerted=_B)),
    ("netflow", _st(pkts=_I, bytes=_I, start=_S, end=_S)),
    ("tcp", _st(tcp_flags_ts=_S, tcp_flags_tc=_S, state=_S)),
    ("alert", _st(signature_id=_I, signature=_S, category=_S, severity=_I, action=_S)),
    ("anomaly", _st(type=_S, event=_S, layer=_S)),
    ("dns", _st(type=_S, id=_I, rrname=_S, rrtype=_S, rcode=_S, rdata=_S,
                queries=pa.list_(_st(rrname=_S, rrtype=_S)),
                answers=pa.list_(_st(rrname=_S, rrtype=_S, rdata=_S)))),
    ("http", _st(hostname=_S, url=_S, http_method=_S, status=_I, http_user_agent=_S, http_refer=_S,
                 length=_I, protocol=_S)),
    ("tls", _st(version=_S, sni=_S, subject=_S, issuerdn=_S, ja3=_st(hash=_S), ja3s=_st(hash=_S))),
])

KIND_OF = {"flow": "flow", "netflow": "flow", "alert": "alert", "anomaly": "alert",
           "dns": "dns", "http": "http", "tls": "tls"}

# TCP flag bits as Suricata prints them (hex of the OR of all flags seen)
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


# ---------------------------------------------------------------------------
# parsing


def _flatten(tbl: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(t) for t in tbl.schema.types):
        tbl = tbl.flatten()
    return tbl


def _coerce(value: object, typ: pa.DataType) -> object:
    """One JSON value -> a Python value of arrow type ``typ`` (None when it cannot be)."""
    if value is None:
        return None
    if pa.types.is_struct(typ):
        if not isinstance(value, dict):
            return None
        return {f.name: _coerce(value.get(f.name), f.type) for f in typ}
    if pa.types.is_list(typ):
        if not isinstance(value, list):
            return None
        return [_coerce(v, typ.value_type) for v in value]
    if pa.types.is_string(typ):
        return value if isinstance(value, str) else json.dumps(value)
    if pa.types.is_boolean(typ):
        return value if isinstance(value, bool) else None
    if pa.types.is_integer(typ):
        try:
            return int(value)  # numbers written as text by some versions
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def parse_eve_block(block: bytes, first_line: int, path: Path, report: ReadReport) -> pa.Table | None:
    """EVE lines -> flat table of :data:`EVE_SCHEMA` columns; bad lines counted and skipped."""
    opts = pjson.ParseOptions(explicit_schema=EVE_SCHEMA, unexpected_field_behavior="ignore",
                              newlines_in_values=False)
    try:
        tbl = _flatten(pjson.read_json(pa.BufferReader(block), parse_options=opts))
        tbl.validate(full=True)  # pyarrow.json does not check UTF-8; this checks only the kept strings
        return tbl
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        block = as_utf8(block)
        try:  # bad bytes were the only problem?
            return _flatten(pjson.read_json(pa.BufferReader(block), parse_options=opts))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    records = [rec for _, rec in json_objects(block, first_line, path, report)]
    if not records:
        return None
    cols = {f.name: pa.array([_coerce(r.get(f.name), f.type) for r in records], type=f.type) for f in EVE_SCHEMA}
    return _flatten(pa.table(cols))


# ---------------------------------------------------------------------------
# mapping


def _objects(col) -> np.ndarray:
    """A string column as a numpy object array ("" for missing), for element-wise comparisons."""
    return np.asarray(pc.fill_null(col, "").to_numpy(zero_copy_only=False), dtype=object)


def _num(tbl: pa.Table, name: str) -> np.ndarray:
    return pc.cast(tbl.column(name), pa.float64()).to_numpy(zero_copy_only=False).astype("float64")


def _id_text(tbl: pa.Table, name: str) -> pa.Array:
    return pc.fill_null(pc.cast(tbl.column(name), pa.string()), "")


def _common(tbl: pa.Table, event_type: str) -> dict[str, object]:
    return {
        "event.id": _id_text(tbl, "flow_id"),
        "event.dataset": pa.repeat(f"suricata.{event_type}", tbl.num_rows),
        "@timestamp": iso_to_epoch(tbl.column("timestamp")),
        "source.ip": pc.fill_null(tbl.column("src_ip"), ""),
        "source.port": pc.cast(tbl.column("src_port"), pa.float64()),
        "destination.ip": pc.fill_null(tbl.column("dest_ip"), ""),
        "destination.port": pc.cast(tbl.column("dest_port"), pa.float64()),
        "network.transport": pc.fill_null(pc.utf8_lower(tbl.column("proto")), ""),
    }


def _hex_flags(col: pa.ChunkedArray) -> np.ndarray:
    """Hex flag strings ("1b") -> int array, -1 where missing; parsed once per distinct value."""
    enc = pc.dictionary_encode(col)
    enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
    lookup = []
    for s in enc.dictionary.to_pylist():
        try:
            lookup.append(int(s, 16))
        except (TypeError, ValueError):
            lookup.append(-1)
    idx = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    table = np.array(lookup + [-1], dtype=np.int64)
    return table[np.where(idx < 0, len(lookup), idx)]


def zeek_conn_state(
    proto: np.ndarray, flags_ts: np.ndarray, flags_tc: np.ndarray,
    pkts_ts: np.ndarray, pkts_tc: np.ndarray, sur_state: np.ndarray,
) -> np.ndarray:
    """Zeek ``conn_state`` from Suricata's per-direction TCP flags and packet counts.

    ``flags_*`` are the OR of TCP flags seen toserver (originator) / toclient
    (responder), -1 when unknown. Without ordering information the mapping is
    approximate: e.g. SYN then RST from the responder is REJ, a completed
    handshake with FIN both ways is SF, a lone SYN is S0 (see Zeek's conn.log
    documentation for the codes).

    >>> zeek_conn_state(np.array(["tcp", "tcp", "udp"]), np.array([0x02, 0x1b, -1]), np.array([0x14, 0x1b, -1]),
    ...                 np.array([1., 5, 1]), np.array([1., 4, 0]), np.array(["closed", "closed", "new"])).tolist()
    ['REJ', 'SF', 'S0']
    """
    ts = np.where(flags_ts < 0, 0, flags_ts)
    tc = np.where(flags_tc < 0, 0, flags_tc)
    known = (flags_ts >= 0) | (flags_tc >= 0)
    o_syn, o_fin, o_rst = ts & SYN > 0, ts & FIN > 0, ts & RST > 0
    r_syn, r_fin, r_rst = tc & SYN > 0, tc & FIN > 0, tc & RST > 0
    r_none = ~(pkts_tc > 0)
    tcp = proto == "tcp"
    icmp = np.isin(proto, ["icmp", "ipv6-icmp", "icmpv6"])
    conds = [
        tcp & ~known & (sur_state == "new") & r_none,
        tcp & ~known & (sur_state == "established"),
        tcp & ~known & (sur_state == "closed"),
        tcp & ~known,
        # originator SYN, no SYN-ACK
        tcp & o_syn & ~r_syn & r_rst,
        tcp & o_syn & ~r_syn & o_rst,
        tcp & o_syn & ~r_syn & o_fin,
        tcp & o_syn & ~r_syn & r_none,
        tcp & o_syn & ~r_syn,
        # handshake seen
        tcp & o_syn & r_syn & o_rst,
        tcp & o_syn & r_syn & r_rst,
        tcp & o_syn & r_syn & o_fin & r_fin,
        tcp & o_syn & r_syn & o_fin,
        tcp & o_syn & r_syn & r_fin,
        tcp & o_syn & r_syn,
        # no SYN from the originator
        tcp & ~o_syn & r_syn & r_rst,
        tcp & ~o_syn & r_syn & r_fin,
        tcp,
        icmp,
        (pkts_ts > 0) & ~r_none,
        (pkts_ts > 0),
        ~r_none,
    ]
    choices = np.array(["S0", "S1", "SF", "OTH",
                        "REJ", "RSTOS0", "SH", "S0", "OTH",
                        "RSTO", "RSTR", "SF", "S2", "S3", "S1",
                        "RSTRH", "SHR", "OTH",
                        "OTH", "SF", "S0", "SHR", ""], dtype=object)
    # pick by index into a small object array: no per-row string building
    return choices[np.select(conds, np.arange(len(conds)), default=len(conds))]


def _span_and_protocol(out: dict, tbl: pa.Table, prefix: str) -> pa.ChunkedArray:
    """Start time and duration from ``<prefix>.start/end``, and the application protocol
    ("failed" detection means unknown); returns the raw ``app_proto`` column."""
    start = iso_to_epoch(tbl.column(f"{prefix}.start")).to_numpy(zero_copy_only=False)
    end = iso_to_epoch(tbl.column(f"{prefix}.end")).to_numpy(zero_copy_only=False)
    ts = np.asarray(out["@timestamp"].to_numpy(zero_copy_only=False))
    out["@timestamp"] = np.where(np.isnan(start), ts, start)
    out["flow.duration"] = end - start
    app = pc.fill_null(tbl.column("app_proto"), "")
    out["network.protocol"] = pc.if_else(pc.equal(app, "failed"), "", app)
    return app


def map_flow(tbl: pa.Table) -> pd.DataFrame:
    out = _common(tbl, "flow")
    app = _span_and_protocol(out, tbl, "flow")
    pkts_ts, pkts_tc = _num(tbl, "flow.pkts_toserver"), _num(tbl, "flow.pkts_toclient")
    bytes_ts, bytes_tc = _num(tbl, "flow.bytes_toserver"), _num(tbl, "flow.bytes_toclient")
    out.update({"source.packets": pkts_ts, "destination.packets": pkts_tc,
                "source.bytes": bytes_ts, "destination.bytes": bytes_tc})
    sur_state = pc.fill_null(tbl.column("flow.state"), "")
    out["flow.state"] = zeek_conn_state(
        _objects(out["network.transport"]), _hex_flags(tbl.column("tcp.tcp_flags_ts")),
        _hex_flags(tbl.column("tcp.tcp_flags_tc")), pkts_ts, pkts_tc, _objects(sur_state))
    out.update({
        "suricata.bytes_toserver": bytes_ts,
        "suricata.bytes_toclient": bytes_tc,
        "suricata.flow_state": sur_state,
        "suricata.flow_reason": pc.fill_null(tbl.column("flow.reason"), ""),
        "suricata.tcp_flags_ts": pc.fill_null(tbl.column("tcp.tcp_flags_ts"), ""),
        "suricata.tcp_flags_tc": pc.fill_null(tbl.column("tcp.tcp_flags_tc"), ""),
        "suricata.tcp_state": pc.fill_null(tbl.column("tcp.state"), ""),
        "suricata.app_proto": app,
        "suricata.alerted": _num(tbl, "flow.alerted"),
    })
    return _frame(out)


def map_netflow(tbl: pa.Table) -> pd.DataFrame:
    out = _common(tbl, "netflow")
    app = _span_and_protocol(out, tbl, "netflow")
    out["source.packets"] = _num(tbl, "netflow.pkts")
    out["source.bytes"] = _num(tbl, "netflow.bytes")
    out["suricata.bytes_toserver"] = out["source.bytes"]
    out["suricata.app_proto"] = app
    return _frame(out)


def map_alert(tbl: pa.Table) -> pd.DataFrame:
    out = _common(tbl, "alert")
    out["rule.id"] = _id_text(tbl, "alert.signature_id")
    out["rule.name"] = pc.fill_null(tbl.column("alert.signature"), "")
    out["rule.category"] = pc.fill_null(tbl.column("alert.category"), "")
    out["event.severity"] = pc.cast(tbl.column("alert.severity"), pa.float64())
    out["suricata.alert.action"] = pc.fill_null(tbl.column("alert.action"), "")
    out["network.protocol"] = pc.fill_null(tbl.column("app_proto"), "")
    return _frame(out)


def map_anomaly(tbl: pa.Table) -> pd.DataFrame:
    out = _common(tbl, "anomaly")
    name = pc.coalesce(tbl.column("anomaly.event"), tbl.column("anomaly.type"), pa.scalar("unknown"))
    out["rule.id"] = pc.binary_join_element_wise("anomaly:", name, "")
    out["rule.name"] = name
    out["rule.category"] = pa.repeat("anomaly", tbl.num_rows)
    out["suricata.anomaly.type"] = pc.fill_null(tbl.column("anomaly.type"), "")
    out["suricata.anomaly.layer"] = pc.fill_null(tbl.column("anomaly.layer"), "")
    return _frame(out)


def _first_of_list(col: pa.ChunkedArray, field: str) -> pa.Array:
    """``col[i][0][field]`` for a list<struct> column; null where the list is empty or missing."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    offs = arr.offsets.to_numpy()
    lens = offs[1:] - offs[:-1]
    values = pc.struct_field(arr.values, field)
    if len(values) == 0:
        return pa.nulls(len(arr), pa.string())
    picked = pc.take(values, pa.array(np.where(lens > 0, offs[:-1], 0)))
    return pc.if_else(pa.array(lens > 0), picked, pa.scalar(None, pa.string()))


def _joined_list(col: pa.ChunkedArray, field: str) -> pa.Array:
    """``",".join(x[field] for x in col[i])`` for a list<struct> column."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    inner = pa.ListArray.from_arrays(arr.offsets, pc.fill_null(pc.struct_field(arr.values, field), ""))
    return pc.fill_null(pc.binary_join(inner, ","), "")


def map_dns(tbl: pa.Table) -> pd.DataFrame:
    out = _common(tbl, "dns")
    queries = tbl.column("dns.queries")
    answers = tbl.column("dns.answers")
    out["dns.question.name"] = pc.fill_null(
        pc.coalesce(tbl.column("dns.rrname"), _first_of_list(queries, "rrname")), "")
    out["dns.question.type"] = pc.fill_null(
        pc.coalesce(tbl.column("dns.rrtype"), _first_of_list(queries, "rrtype")), "")
    out["dns.response_code"] = pc.fill_null(tbl.column("dns.rcode"), "")
    joined = _joined_list(answers, "rdata")
    out["dns.answers"] = pc.if_else(pc.equal(joined, ""), pc.fill_null(tbl.column("dns.rdata"), ""), joined)
    out["dns.id"] = pc.cast(tbl.column("dns.id"), pa.float64())
    out["suricata.dns.type"] = pc.fill_null(tbl.column("dns.type"), "")
    return _frame(out)


def map_http(tbl: pa.Table) -> pd.DataFrame:
    out = _common(tbl, "http")
    out.update({
        "http.request.method": pc.fill_null(tbl.column("http.http_method"), ""),
        "url.domain": pc.fill_null(tbl.column("http.hostname"), ""),
        "url.original": pc.fill_null(tbl.column("http.url"), ""),
        "http.response.status_code": pc.cast(tbl.column("http.status"), pa.float64()),
        "user_agent.original": pc.fill_null(tbl.column("http.http_user_agent"), ""),
        "http.request.referrer": pc.fill_null(tbl.column("http.http_refer"), ""),
        "http.response.body.bytes": pc.cast(tbl.column("http.length"), pa.float64()),
        "suricata.http.protocol": pc.fill_null(tbl.column("http.protocol"), ""),
    })
    return _frame(out)


def map_tls(tbl: pa.Table) -> pd.DataFrame:
    out = _common(tbl, "tls")
    version = pc.fill_null(tbl.column("tls.version"), "")
    out.update({
        "tls.version": pc.replace_substring_regex(version, r"^TLS ?(\d)\.(\d)$", r"TLSv\1\2"),
        "tls.client.server_name": pc.fill_null(tbl.column("tls.sni"), ""),
        "tls.client.ja3": pc.fill_null(tbl.column("tls.ja3.hash"), ""),
        "tls.server.ja3s": pc.fill_null(tbl.column("tls.ja3s.hash"), ""),
        "tls.server.subject": pc.fill_null(tbl.column("tls.subject"), ""),
        "tls.server.issuer": pc.fill_null(tbl.column("tls.issuerdn"), ""),
    })
    return _frame(out)


_COMMON_COLUMNS = ("timestamp", "flow_id", "event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto",
                   "app_proto")
_PREFIXES = {"flow": ("flow.", "tcp."), "netflow": ("netflow.",), "alert": ("alert.",),
             "anomaly": ("anomaly.",), "dns": ("dns.",), "http": ("http.",), "tls": ("tls.",)}


def _columns_for(event_type: str, names: list[str]) -> list[str]:
    prefixes = _PREFIXES[event_type]
    return [c for c in names if c in _COMMON_COLUMNS or c.startswith(prefixes)]


MAPPERS = {"flow": map_flow, "netflow": map_netflow, "alert": map_alert, "anomaly": map_anomaly,
           "dns": map_dns, "http": map_http, "tls": map_tls}


def _frame(cols: dict[str, object]) -> pd.DataFrame:
    """Columns (arrow arrays or numpy arrays) -> DataFrame; text goes through arrow large_string,
    the layout of pandas' str dtype, so pandas neither copies nor re-validates it."""
    out = {}
    for k, v in cols.items():
        if isinstance(v, np.ndarray) and v.dtype == object:
            v = pa.array(v, type=pa.large_string())
        if isinstance(v, (pa.Array, pa.ChunkedArray)):
            if pa.types.is_string(v.type):
                v = pc.cast(v, pa.large_string())
            v = v.to_pandas()
        out[k] = v
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------


class SuricataReader(Reader):
    """Suricata EVE JSON lines; see the module docstring for the mapping."""

    name = "suricata"
    kinds = ("flow", "alert", "dns", "http", "tls")

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if not text.startswith(b"{"):
            return False
        first = text.split(b"\n", 1)[0].rstrip(b"\r")
        try:
            rec = json.loads(first)
        except ValueError:  # first line longer than the sniffed head
            return b'"event_type"' in first and b'"timestamp"' in first
        return isinstance(rec, dict) and "event_type" in rec and "timestamp" in rec

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        pending: dict[str, list[pa.Table]] = {}  # event_type -> flat tables not yet emitted
        rows: dict[str, int] = {}
        skipped: dict[str, int] = {}
        seen_any = False
        with open_binary(path, report) as fh:
            try:
                for block, first_line in line_chunks(fh, CHUNK_BYTES):
                    if not seen_any and block.strip():
                        seen_any = True
                    tbl = parse_eve_block(block, first_line, path, report)
                    if tbl is None or tbl.num_rows == 0:
                        continue
                    types = pc.fill_null(tbl.column("event_type"), "")
                    counts = pc.value_counts(types)
                    for et, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
                        if et not in MAPPERS:
                            skipped[et] = skipped.get(et, 0) + n
                            continue
                        # only the columns this event type maps: filtering is the costly part
                        part = tbl.select(_columns_for(et, tbl.column_names))
                        if n < tbl.num_rows:
                            part = part.filter(pc.equal(types, et))
                        pending.setdefault(et, []).append(part)
                        rows[et] = rows.get(et, 0) + part.num_rows
                        if rows[et] >= batch_size:
                            yield from self._emit(et, pending.pop(et), path, batch_size, keep_rest=pending)
                            rows[et] = sum(t.num_rows for t in pending.get(et, []))
            except (OSError, EOFError) as exc:
                raise InputError(path, f"read failed (truncated or corrupt file?): {exc}") from None
        if not seen_any:
            raise InputError(path, "empty file")
        for et, tables in pending.items():
            yield from self._emit(et, tables, path, batch_size)
        for et, n in skipped.items():
            reason = f"unsupported suricata event_type '{et}'" if et else "record without event_type"
            report.skip(str(path), reason, n=n)

    @staticmethod
    def _emit(et: str, tables: list[pa.Table], path: Path, batch_size: int,
              keep_rest: dict | None = None) -> Iterator[EventBatch]:
        whole = concat(tables)
        n = whole.num_rows
        full = n if keep_rest is None else (n // batch_size) * batch_size
        for off in range(0, full, batch_size):
            frame = MAPPERS[et](whole.slice(off, min(batch_size, full - off)))
            yield EventBatch.of(KIND_OF[et], frame, source=str(path))
        if keep_rest is not None and full < n:
            keep_rest[et] = [whole.slice(full)]
