"""Event schemas: stable, explicit field names and types per event kind.

Every reader turns its source into pandas DataFrames whose columns follow one of
these schemas. Names follow the Elastic Common Schema where ECS has the field;
the few ThreatML-specific fields live under ``flow.*`` and ``label*``.

Conventions that every kind shares:

* ``@timestamp`` is float64 seconds since the epoch (UTC). Exports convert it.
* Numbers are float64 so that a missing value is NaN, which LightGBM and the
  behavioural detectors treat as "unknown" rather than zero.
* Strings are pandas ``str`` columns; a missing string is ``""``.
* ``event.id`` identifies the record inside its source (Zeek ``uid``, Suricata
  ``flow_id`` or ``file:line``); findings cite these ids as evidence.
* ``label`` / ``label.detail`` carry ground truth when the source has it
  (Stratosphere, CIC, UNSW, KDD). ``label`` is ``benign``, ``malicious`` or
  ``""`` (unknown, e.g. Stratosphere ``Background``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["flow", "dns", "http", "tls", "alert"]
DType = Literal["float", "str"]


@dataclass(frozen=True)
class Field:
    name: str
    dtype: DType
    doc: str


_COMMON = (
    Field("event.id", "str", "record id inside its source (Zeek uid, Suricata flow_id, file:line)"),
    Field("event.dataset", "str", "source format, e.g. zeek.conn, suricata.flow, pcap"),
    Field("@timestamp", "float", "start time, seconds since the epoch (UTC)"),
    Field("source.ip", "str", "originator address"),
    Field("source.port", "float", "originator port (NaN for ICMP and unknown)"),
    Field("destination.ip", "str", "responder address"),
    Field("destination.port", "float", "responder port; ICMP type for ICMP"),
    Field("network.transport", "str", "tcp, udp, icmp, ... (lower case)"),
    Field("label", "str", "ground truth: benign, malicious or '' (unknown)"),
    Field("label.detail", "str", "ground-truth attack family or description, if any"),
)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "flow": _COMMON
    + (
        Field("network.protocol", "str", "application protocol (Zeek service, nDPI name), '' unknown"),
        Field("flow.duration", "float", "seconds from first to last packet"),
        Field("source.bytes", "float", "payload bytes sent by the originator"),
        Field("destination.bytes", "float", "payload bytes sent by the responder"),
        Field("source.packets", "float", "packets sent by the originator"),
        Field("destination.packets", "float", "packets sent by the responder"),
        Field("flow.state", "str", "Zeek conn_state vocabulary: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH"),
        Field("flow.history", "str", "Zeek history string when the source has it"),
    ),
    "dns": _COMMON
    + (
        Field("dns.id", "float", "DNS transaction id"),
        Field("dns.question.name", "str", "queried name"),
        Field("dns.question.type", "str", "query type name, e.g. A, AAAA, TXT"),
        Field("dns.response_code", "str", "rcode name, e.g. NOERROR, NXDOMAIN"),
        Field("dns.answers", "str", "answers joined by ','"),
    ),
    "http": _COMMON
    + (
        Field("http.request.method", "str", "GET, POST, ..."),
        Field("url.domain", "str", "Host header"),
        Field("url.original", "str", "request target as sent"),
        Field("http.response.status_code", "float", "status code"),
        Field("user_agent.original", "str", "User-Agent header"),
        Field("http.request.referrer", "str", "Referer header"),
        Field("http.request.body.bytes", "float", "request body length"),
        Field("http.response.body.bytes", "float", "response body length"),
    ),
    "tls": _COMMON
    + (
        Field("tls.version", "str", "negotiated version, e.g. TLSv12"),
        Field("tls.client.server_name", "str", "SNI"),
        Field("tls.established", "float", "1 if the handshake completed, 0 if not, NaN unknown"),
        Field("tls.client.ja3", "str", "JA3 hash"),
        Field("tls.server.ja3s", "str", "JA3S hash"),
        Field("tls.server.subject", "str", "certificate subject"),
        Field("tls.server.issuer", "str", "certificate issuer"),
    ),
    "alert": _COMMON
    + (
        Field("rule.id", "str", "signature id (Suricata sid) or anomaly type"),
        Field("rule.name", "str", "signature message or anomaly event name"),
        Field("rule.category", "str", "signature category"),
        Field("event.severity", "float", "source severity (Suricata: 1 high .. 4 low)"),
    ),
}


def field_names(kind: str) -> list[str]:
    return [f.name for f in SCHEMAS[kind]]


def conform(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with every schema column present and of the schema's type.

    Missing schema columns are added (NaN or ""); columns already of the right
    type are not copied; extra columns are kept so that benchmark readers can
    carry native features. Column order is not part of the contract.
    """
    out = frame.copy(deep=False)
    if not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)
    n = len(out)
    for f in SCHEMAS[kind]:
        if f.name not in out.columns:
            out[f.name] = np.full(n, np.nan) if f.dtype == "float" else pd.Series([""] * n, dtype="str")
            continue
        col = out[f.name]
        if f.dtype == "float":
            if col.dtype != np.float64:
                out[f.name] = pd.to_numeric(col, errors="coerce").astype("float64")
        elif not (pd.api.types.is_string_dtype(col.dtype) and not col.hasnans):
            out[f.name] = col.fillna("").astype("str")
    return out
