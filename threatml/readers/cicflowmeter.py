"""CICFlowMeter CSV: CIC-IDS2017/2018 feature files and the tool's own output.

Understood header families (matched on names reduced to letters and digits):

* CIC-IDS2017 ``MachineLearningCVE`` / ``TrafficLabelling`` (`` Flow Duration``,
  `` Total Fwd Packets``, ... with leading spaces, `` Label``);
* the corrected re-extraction (Engelen et al.; ``Total Fwd Packet``,
  ``Total Length of Fwd Packet``, ``Attempted Category``, ...);
* CICFlowMeter-V4 / CSE-CIC-IDS2018 (``Tot Fwd Pkts``, ``TotLen Fwd Pkts``);
* the Python ``cicflowmeter`` package (``tot_fwd_pkts``, ``totlen_fwd_pkts``).

>>> from threatml.readers.cicflowmeter import CICFlowMeterReader
>>> CICFlowMeterReader.sniff(b" Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets\\n", None)
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import ReadReport
from threatml.readers.tabular import (
    Chunk,
    Layout,
    TabularFlowReader,
    clean_labels,
    headed_layout,
    header_layout,
    parse_ports,
    parse_times,
    role_numbers,
    transport_names,
)

ALIASES = {
    "src": ("sourceip", "srcip"),
    "sport": ("sourceport", "srcport"),
    "dst": ("destinationip", "dstip"),
    "dport": ("destinationport", "dstport"),
    "proto": ("protocol",),
    "timestamp": ("timestamp",),
    "duration": ("flowduration",),
    "fwd_pkts": ("totalfwdpackets", "totalfwdpacket", "totfwdpkts"),
    "bwd_pkts": ("totalbackwardpackets", "totalbwdpackets", "totalbwdpacket", "totbwdpkts"),
    "fwd_bytes": ("totallengthoffwdpackets", "totallengthoffwdpacket", "totlenfwdpkts"),
    "bwd_bytes": ("totallengthofbwdpackets", "totallengthofbwdpacket", "totlenbwdpkts"),
    "fin": ("finflagcount", "finflagcnt"),
    "syn": ("synflagcount", "synflagcnt"),
    "rst": ("rstflagcount", "rstflagcnt"),
    "ack": ("ackflagcount", "ackflagcnt"),
    "fwd_rst": ("fwdrstflags",),
    "bwd_rst": ("bwdrstflags",),
    "icmp_type": ("icmptype",),
    "label": ("label",),
}
REQUIRED = {"duration": "Flow Duration", "fwd_pkts": "Total Fwd Packets", "bwd_pkts": "Total Backward Packets",
            "fwd_bytes": "Total Length of Fwd Packets", "bwd_bytes": "Total Length of Bwd Packets"}
_FWD = set(ALIASES["fwd_pkts"])
_BWD = set(ALIASES["bwd_pkts"])
#: ISO (re-extraction, Python tool), then day-first (CIC-IDS2017 TrafficLabelling, V4 tool, CSE-CIC-IDS2018)
TIME_FORMATS = ("ISO8601", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p",
                "epoch")


def flag_states(transport: pd.Series, syn: np.ndarray, fin: np.ndarray, rst: np.ndarray,
                fwd_pkts: np.ndarray, bwd_pkts: np.ndarray,
                fwd_rst: np.ndarray | None = None, bwd_rst: np.ndarray | None = None) -> np.ndarray:
    """Approximate Zeek conn_state from CICFlowMeter flag counts (both directions summed).

    Two SYNs (SYN and SYN-ACK) mean the handshake completed; one SYN with a
    reply and a RST is a rejection; FINs from both sides close normally.

    >>> t = pd.Series(["tcp"] * 4 + ["udp", "udp"])
    >>> z = np.zeros(6)
    >>> flag_states(t, np.array([1, 1, 2, 2, 0, 0.]), np.array([0, 0, 2, 0, 0, 0.]), np.array([0, 1, 0, 0, 0, 0.]),
    ...             np.ones(6), np.array([0, 1, 3, 3, 1, 0.])).tolist()
    ['S0', 'REJ', 'SF', 'S1', 'SF', 'S0']
    """
    tcp = (transport == "tcp").to_numpy()
    udp = (transport == "udp").to_numpy()
    handshake = syn >= 2
    reset = rst > 0
    if fwd_rst is not None and bwd_rst is not None:
        reset_state = np.where(bwd_rst > fwd_rst, "RSTR", "RSTO")
    else:
        reset_state = np.full(len(tcp), "RSTO")
    tcp_state = np.select(
        [
            (syn > 0) & (bwd_pkts == 0) & reset,
            (syn > 0) & (bwd_pkts == 0),
            (syn > 0) & ~handshake & (bwd_pkts > 0) & reset,
            handshake & reset,
            handshake & (fin >= 2),
            handshake & (fin == 1),
            handshake,
        ],
        ["RSTOS0", "S0", "REJ", reset_state, "SF", "S2", "S1"],
        default="OTH",
    )
    known = ~np.isnan(syn) & ~np.isnan(bwd_pkts)
    out = np.where(tcp & known, tcp_state, "")
    out = np.where(udp & (bwd_pkts > 0), "SF", np.where(udp & (bwd_pkts == 0), "S0", out))
    other = ~tcp & ~udp & (transport != "").to_numpy()
    return np.where(other, "OTH", out).astype(object)


def cic_label(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(label, label.detail): BENIGN -> benign, empty -> unknown, anything else -> malicious + its name."""
    detail = clean_labels(values)
    up = detail.str.upper()
    label = np.where(up == "BENIGN", "benign", np.where(detail == "", "", "malicious"))
    detail = detail.where(up != "BENIGN", "")
    return pd.Series(label, index=values.index, dtype="str"), detail


class CICFlowMeterReader(TabularFlowReader):
    name = "cicflowmeter"
    aliases = ALIASES
    required = REQUIRED
    dataset = "cicflowmeter"
    string_cols = ("Flow ID", "Source IP", "Src IP", "Destination IP", "Dst IP", "Timestamp", "Label",
                   "src_ip", "dst_ip", "timestamp", "src_mac", "dst_mac", "flow_id")

    @classmethod
    def sniff(cls, head: bytes, path: Path | None) -> bool:
        layout = header_layout(head)
        if layout is None:
            return False
        keys = set(layout.keys)
        return "flowduration" in keys and bool(keys & _FWD) and bool(keys & _BWD)

    def layout(self, path: Path, head: bytes) -> Layout:
        return headed_layout(path, head, ("flowduration",), "CICFlowMeter")

    def to_flow(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> dict[str, object]:
        fr = chunk.columns
        n = chunk.rows

        def num(role: str) -> np.ndarray | None:
            return role_numbers(chunk, cols, role, missing_as_nan=False)

        nan = np.full(n, np.nan)
        syn, fin, rst, ack = num("syn"), num("fin"), num("rst"), num("ack")
        if "proto" in cols:
            transport = transport_names(fr[cols["proto"]])
        else:
            transport = pd.Series([""] * n, dtype="str")
        if syn is not None:
            # MachineLearningCVE has no protocol column; any TCP flag means TCP
            flagged = (np.nan_to_num(syn) + np.nan_to_num(fin if fin is not None else nan)
                       + np.nan_to_num(rst if rst is not None else nan)
                       + np.nan_to_num(ack if ack is not None else nan)) > 0
            transport = transport.where(~(flagged & (transport == "").to_numpy()), "tcp")
        fwd_pkts, bwd_pkts = num("fwd_pkts"), num("bwd_pkts")
        dport = parse_ports(fr[cols["dport"]]) if "dport" in cols else nan
        sport = parse_ports(fr[cols["sport"]]) if "sport" in cols else nan
        icmp = transport.isin(["icmp", "ipv6-icmp"]).to_numpy()
        icmp_type = num("icmp_type")
        icmp_port = np.where(icmp_type >= 0, icmp_type, np.nan) if icmp_type is not None else nan
        out: dict[str, object] = {
            "source.port": np.where(icmp, np.nan, sport),
            "destination.port": np.where(icmp, icmp_port, dport),
            "network.transport": transport,
            "flow.duration": num("duration") / 1e6,  # CICFlowMeter durations are microseconds
            "source.bytes": num("fwd_bytes"),
            "destination.bytes": num("bwd_bytes"),
            "source.packets": fwd_pkts,
            "destination.packets": bwd_pkts,
        }
        if "src" in cols:
            out["source.ip"] = fr[cols["src"]]
        if "dst" in cols:
            out["destination.ip"] = fr[cols["dst"]]
        if "timestamp" in cols:
            out["@timestamp"] = parse_times(fr[cols["timestamp"]], TIME_FORMATS, path, report, chunk.lines,
                                            cols["timestamp"])
        if syn is not None and fin is not None and rst is not None:
            out["flow.state"] = flag_states(transport, syn, fin, rst, fwd_pkts, bwd_pkts,
                                            num("fwd_rst"), num("bwd_rst"))
        else:
            out["flow.state"] = flag_states(transport, nan, nan, nan, fwd_pkts, bwd_pkts)
        if "label" in cols:
            out["label"], out["label.detail"] = cic_label(fr[cols["label"]])
        return out
