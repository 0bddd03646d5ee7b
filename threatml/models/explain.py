"""Feature contributions (LightGBM ``pred_contrib``, baseline z-scores) as sentences.

>>> explain_sentences([("state_S0", 1.7, 1.0), ("log_dst_bytes", 0.9, 0.0)])
['connection state S0 (connection attempt, no reply) pushed the score up (+1.70 log-odds)', 'destination bytes = 0 B pushed the score up (+0.90 log-odds)']
>>> print(explain_sentences([("log_src_pkts", 6.2, math.log1p(100))], kind="baseline")[0])
source packets unusually high (100 pkts; 6.2 standard deviations from this network's median)
>>> describe_value("log_src_bytes", float("nan"))
'source bytes not reported by the source'
"""

from __future__ import annotations

import math

_STATE_WORDS = {
    "S0": "connection attempt, no reply",
    "S1": "established, not closed",
    "SF": "normal establish and close",
    "REJ": "attempt rejected",
    "S2": "established, only originator closed",
    "S3": "established, only responder closed",
    "RSTO": "originator aborted",
    "RSTR": "responder aborted",
    "RSTOS0": "originator sent SYN then RST, no reply",
    "RSTRH": "responder sent SYN-ACK then RST",
    "SH": "originator sent SYN then FIN, no reply",
    "SHR": "responder sent SYN-ACK then FIN",
    "OTH": "no SYN seen, midstream traffic",
}

# feature -> (words, unit, value transform)
_LOG = math.expm1
_DESCR: dict[str, tuple[str, str, object]] = {
    "duration": ("flow duration", "s", None),
    "log_duration": ("flow duration", "s", _LOG),
    "log_src_bytes": ("source bytes", "B", _LOG),
    "log_dst_bytes": ("destination bytes", "B", _LOG),
    "log_src_pkts": ("source packets", "pkts", _LOG),
    "log_dst_pkts": ("destination packets", "pkts", _LOG),
    "src_bytes_per_pkt": ("source bytes per packet", "B", None),
    "dst_bytes_per_pkt": ("destination bytes per packet", "B", None),
    "byte_ratio": ("destination share of bytes", "", None),
    "pkt_ratio": ("destination share of packets", "", None),
    "log_pkt_rate": ("packet rate", "pkt/s", _LOG),
    "dst_port": ("destination port", "", None),
    "dst_port_bucket": ("destination port range", "", None),
    "src_port_bucket": ("source port range", "", None),
}
_FLAGS = {
    "no_reply": ("the destination never replied", "the destination replied"),
    "dst_port_login": ("a login service port (ssh, telnet, ftp, rdp, smb, mail, database)", "not a login service port"),
    "dst_port_web": ("a web port", "not a web port"),
    "dst_port_dns": ("the DNS port", "not the DNS port"),
}
_BUCKETS = {0.0: "well-known (<1024)", 1.0: "registered (1024-49151)", 2.0: "ephemeral (>=49152)"}


def _fmt(v: float, unit: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "unknown"
    if unit in ("", "pkts", "B") and abs(v - round(v)) < 1e-6:
        s = f"{int(round(v)):,}"
    elif abs(v) >= 100:
        s = f"{v:,.0f}"
    else:
        s = f"{v:.3g}"
    return f"{s} {unit}".strip()


def describe_value(feature: str, value: float) -> str:
    """``feature`` and its value in words, e.g. ``destination bytes = 0 B``."""
    nan = value is None or (isinstance(value, float) and math.isnan(value))
    if feature.startswith("state_"):
        st = feature[6:]
        if nan:
            return f"connection state unknown (not {st})"
        return f"connection state {st} ({_STATE_WORDS.get(st, st)})" if value >= 0.5 else f"connection state not {st}"
    if feature.startswith("is_"):
        return f"transport {feature[3:]}" if not nan and value >= 0.5 else f"transport not {feature[3:]}"
    if feature.startswith("proto_"):
        return f"application protocol {feature[6:]}" if not nan and value >= 0.5 else f"application protocol not {feature[6:]}"
    if feature in _FLAGS:
        yes, no = _FLAGS[feature]
        if nan:
            return "no port (e.g. ICMP)" if feature.startswith("dst_port") else "unknown whether the destination replied"
        return yes if value >= 0.5 else no
    if feature.endswith("_bucket") and feature in _DESCR:
        return f"{_DESCR[feature][0]} {_BUCKETS[value]}" if value in _BUCKETS else f"no {_DESCR[feature][0].split()[0]} port (e.g. ICMP)"
    if feature in _DESCR:
        words, unit, tf = _DESCR[feature]
        if nan:
            return f"{words} not reported by the source"
        v = value if tf is None else tf(value)
        return f"{words} = {_fmt(v, unit)}"
    name = feature[5:] if feature.startswith("orig.") else feature
    return f"{name} = {_fmt(value, '')}"


def explain_sentences(items: list[tuple[str, float, float]], kind: str = "classifier") -> list[str]:
    """Sentences for (feature, contribution, value) triples, most important first.

    ``kind="classifier"``: contributions are LightGBM log-odds; ``"baseline"``:
    they are z-scores against the baseline (signed distance from its median).
    """
    out = []
    for feat, c, v in items:
        if kind == "baseline":
            if feat in _DESCR and not feat.endswith("_bucket"):
                words, unit, tf = _DESCR[feat]
                shown = v if tf is None or math.isnan(v) else tf(v)
                direction = "high" if c > 0 else "low"
                out.append(f"{words} unusually {direction} ({_fmt(shown, unit)}; {abs(c):.1f} standard deviations from this network's median)")
            else:
                out.append(f"{describe_value(feat, v)} is rare in this network ({abs(c):.1f} standard deviations from its median)")
        else:
            out.append(f"{describe_value(feat, v)} pushed the score {'up' if c >= 0 else 'down'} ({c:+.2f} log-odds)")
    return out
