"""Canonical flow features: the same numbers from pcap, Zeek, Suricata, Argus, CIC, ...

Only the flow schema is used (never the ``orig.*`` columns), so a model trained
on one source scores another. Addresses and absolute times are left out on
purpose: they identify a capture, not a behaviour, and do not generalise.
A missing input stays NaN; LightGBM routes NaN down its own learned branch.

Ports are kept coarse on purpose (well-known / registered / ephemeral). With
the exact port number or per-service port flags, a model trained on a handful
of networks memorised which ports its attacks used (993, 3389, 8443 ...) and
flagged ordinary IMAPS or RDP traffic elsewhere; the behaviour (bytes,
packets, their ratios, duration, state, whether anyone replied) transfers.
The application protocol is left out for the same reason: whether it is
known at all depends on the source (Zeek names some, a pcap engine or
CICFlowMeter none), so it marks the capture more than the behaviour.
``service=True`` appends both (:data:`SERVICE_FEATURES`) for models of one
network's own normal, where that network's services are informative.

>>> import pandas as pd
>>> fr = pd.DataFrame({"flow.duration": [1.0], "source.bytes": [100.0], "destination.bytes": [0.0],
...     "source.packets": [2.0], "destination.packets": [0.0], "network.transport": ["tcp"],
...     "destination.port": [22.0], "flow.state": ["S0"], "network.protocol": [""]})
>>> f = canonical_features(fr)
>>> f.loc[0, ["no_reply", "state_S0", "dst_port_bucket", "is_tcp"]].tolist()
[1.0, 1.0, 0.0, 1.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Zeek conn_state vocabulary (the schema's flow.state)
STATES = ("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH")

#: application protocols folded into a few families; Zeek service, nDPI names, Suricata app_proto
_PROTO_GROUPS = {
    "http": ("http", "http-proxy", "http_proxy"),
    "tls": ("ssl", "tls", "https", "quic", "dtls"),
    "dns": ("dns", "mdns", "llmnr", "nbns", "netbios"),
    "ssh": ("ssh",),
    "ftp": ("ftp", "ftp-data", "ftp_data", "ftp_control"),
    "mail": ("smtp", "pop3", "imap", "smtps", "pop3s", "imaps"),
    "remote": ("rdp", "vnc", "telnet", "smb", "dce_rpc", "krb", "kerberos", "ntlm"),
}
PROTO_GROUPS = tuple(_PROTO_GROUPS) + ("other",)

TRANSPORTS = ("tcp", "udp", "icmp")

#: services where repeated failed logins are the attack (brute force)
LOGIN_PORTS = (21, 22, 23, 25, 110, 143, 139, 445, 465, 587, 993, 995, 1433, 3306, 3389, 5432, 5900)
WEB_PORTS = (80, 443, 8000, 8008, 8080, 8443, 8888)
#: service-identity columns, only with ``service=True``: right for a model of ONE network's own
#: normal (the baseline), wrong for a model meant to transfer (the shipped classifier memorised ports)
SERVICE_FEATURES = ["dst_port_login", "dst_port_web", "dst_port_dns"] + [f"proto_{p}" for p in PROTO_GROUPS]

_NUMERIC = [
    ("log_duration", "log1p of the flow duration"),
    ("log_src_bytes", "log1p of bytes sent by the source"),
    ("log_dst_bytes", "log1p of bytes sent by the destination"),
    ("log_src_pkts", "log1p of packets sent by the source"),
    ("log_dst_pkts", "log1p of packets sent by the destination"),
    ("src_bytes_per_pkt", "source bytes per source packet"),
    ("dst_bytes_per_pkt", "destination bytes per destination packet"),
    ("byte_ratio", "destination share of all bytes (0 = one-way from source)"),
    ("pkt_ratio", "destination share of all packets"),
    ("log_pkt_rate", "log1p of packets per second"),
    ("no_reply", "1 when the destination sent no packet"),
    ("dst_port_bucket", "0 well-known (<1024), 1 registered (<49152), 2 ephemeral"),
    ("src_port_bucket", "source port bucket, same scale as dst_port_bucket"),
]
FEATURE_DOCS: dict[str, str] = dict(_NUMERIC)
FEATURE_DOCS.update({f"is_{t}": f"1 when the transport is {t}" for t in TRANSPORTS})
FEATURE_DOCS.update({f"proto_{p}": f"1 when the application protocol is {p}" for p in PROTO_GROUPS})
FEATURE_DOCS.update({f"state_{s}": f"1 when the connection state is {s}" for s in STATES})
FEATURE_DOCS.update({
    "dst_port_login": "1 for login services (ssh, telnet, ftp, rdp, smb, mail, db); service=True only",
    "dst_port_web": "1 for web ports; service=True only",
    "dst_port_dns": "1 for port 53; service=True only",
})

CANONICAL_FEATURES: list[str] = (
    [n for n, _ in _NUMERIC]
    + [f"is_{t}" for t in TRANSPORTS]
    + [f"state_{s}" for s in STATES]
)


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _one_hot(frame: pd.DataFrame, col: str, vocab: dict[str, int], width: int, other: str) -> np.ndarray:
    """One-hot of a string column via factorize (one pass, not per-row Python).

    A value outside ``vocab`` gives: ``other="slot"`` a 1 in the last column
    (an "other" slot), ``"zeros"`` all zeros, ``"nan"`` NaN (unknown). An empty
    string always gives NaN in every column: the source did not say.
    """
    n = len(frame)
    out = np.zeros((n, width), dtype="float64")
    if col not in frame.columns:
        out[:] = np.nan
        return out
    codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
    slot = np.array([vocab.get(str(u).strip().lower(), -2 if str(u).strip() in ("", "-") else -1) for u in uniques] + [-2])
    idx = slot[codes]  # code -1 (NA) picks the trailing -2
    known = idx >= 0
    out[np.flatnonzero(known), idx[known]] = 1.0
    unknown = idx == -1
    if other == "slot":
        out[unknown, width - 1] = 1.0
    elif other == "nan":
        out[unknown] = np.nan
    out[idx == -2] = np.nan
    return out


def _bucket(port: np.ndarray) -> np.ndarray:
    b = np.where(port < 1024, 0.0, np.where(port < 49152, 1.0, 2.0))
    return np.where(np.isnan(port), np.nan, b)


def canonical_features(frame: pd.DataFrame, service: bool = False) -> pd.DataFrame:
    """Feature matrix (float64, columns :data:`CANONICAL_FEATURES`) for a flow frame.

    ``service`` appends :data:`SERVICE_FEATURES` (port-identity flags, application protocol).
    """
    dur = _num(frame, "flow.duration")
    sb, db = _num(frame, "source.bytes"), _num(frame, "destination.bytes")
    sp, dp = _num(frame, "source.packets"), _num(frame, "destination.packets")
    dport, sport = _num(frame, "destination.port"), _num(frame, "source.port")
    with np.errstate(divide="ignore", invalid="ignore"):
        tot_b, tot_p = sb + db, sp + dp
        cols: dict[str, np.ndarray] = {
            "log_duration": np.log1p(np.clip(dur, 0, None)),
            "log_src_bytes": np.log1p(np.clip(sb, 0, None)),
            "log_dst_bytes": np.log1p(np.clip(db, 0, None)),
            "log_src_pkts": np.log1p(np.clip(sp, 0, None)),
            "log_dst_pkts": np.log1p(np.clip(dp, 0, None)),
            "src_bytes_per_pkt": np.where(sp > 0, sb / sp, np.where(sp == 0, 0.0, np.nan)),
            "dst_bytes_per_pkt": np.where(dp > 0, db / dp, np.where(dp == 0, 0.0, np.nan)),
            "byte_ratio": np.where(tot_b > 0, db / tot_b, np.where(tot_b == 0, 0.0, np.nan)),
            "pkt_ratio": np.where(tot_p > 0, dp / tot_p, np.where(tot_p == 0, 0.0, np.nan)),
            # a floor of 1 ms keeps single-packet flows (duration 0) finite
            "log_pkt_rate": np.log1p(tot_p / np.maximum(dur, 1e-3)),
            "no_reply": np.where(np.isnan(dp), np.nan, (dp == 0).astype("float64")),
            "dst_port_bucket": _bucket(dport),
            "src_port_bucket": _bucket(sport),
        }
    tr = _one_hot(frame, "network.transport", {t: i for i, t in enumerate(TRANSPORTS)}, len(TRANSPORTS), other="zeros")
    svocab = {s.lower(): i for i, s in enumerate(STATES)}
    st = _one_hot(frame, "flow.state", svocab, len(STATES), other="nan")
    # ICMP has no ports: its "destination.port" is the ICMP type, so port buckets say nothing
    icmp = tr[:, 2] == 1
    for c in ("dst_port_bucket", "src_port_bucket"):
        cols[c] = np.where(icmp, np.nan, cols[c])
    names = list(CANONICAL_FEATURES)
    blocks = [tr, st]
    if service:
        known = ~np.isnan(dport) & ~icmp
        flags = np.column_stack([np.where(known, v.astype("float64"), np.nan)
                                 for v in (np.isin(dport, LOGIN_PORTS), np.isin(dport, WEB_PORTS), dport == 53)])
        pvocab = {name: i for i, grp in enumerate(_PROTO_GROUPS.values()) for name in grp}
        blocks += [flags.reshape(len(frame), 3), _one_hot(frame, "network.protocol", pvocab, len(PROTO_GROUPS), other="slot")]
        names += SERVICE_FEATURES
    # one row-major block: the DataFrame wraps it without a copy and LightGBM reads it as is
    mat = np.empty((len(frame), len(names)), dtype="float64", order="C")
    for j, v in enumerate(cols.values()):
        mat[:, j] = v
    k = len(cols)
    for block in blocks:
        mat[:, k : k + block.shape[1]] = block
        k += block.shape[1]
    return pd.DataFrame(mat, columns=names, index=frame.index, copy=False)
