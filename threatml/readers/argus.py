"""Argus bidirectional flow text (``ra`` output; Stratosphere/CTU-13 ``.binetflow``).

>>> from threatml.readers.argus import ArgusReader
>>> ArgusReader.sniff(b"StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,TotPkts,TotBytes\\n", None)
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
    argus_states,
    clean_labels,
    headed_layout,
    header_layout,
    map_unique,
    parse_ports,
    parse_times,
    role_numbers,
    transport_names,
)

ALIASES = {
    "start": ("starttime", "stime"),
    "duration": ("dur",),
    "proto": ("proto",),
    "src": ("srcaddr", "saddr"),
    "sport": ("sport",),
    "dst": ("dstaddr", "daddr"),
    "dport": ("dport",),
    "state": ("state",),
    "tot_pkts": ("totpkts",),
    "tot_bytes": ("totbytes",),
    "src_bytes": ("srcbytes", "sbytes"),
    "dst_bytes": ("dstbytes", "dbytes"),
    "src_pkts": ("srcpkts", "spkts"),
    "dst_pkts": ("dstpkts", "dpkts"),
    "label": ("label",),
}
REQUIRED = {"start": "StartTime", "proto": "Proto", "src": "SrcAddr", "dst": "DstAddr"}
#: Argus prints times as configured in .rarc; these cover ra's common settings
TIME_FORMATS = ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "ISO8601", "epoch")


def stratosphere_label(text: str) -> str:
    """Ground truth from a Stratosphere label: Botnet/Malware -> malicious, Normal -> benign, else unknown.

    >>> [stratosphere_label(x) for x in ("From-Botnet-V42-TCP-CC", "To-Normal-V42-Grill", "Background-UDP", "")]
    ['malicious', 'benign', '', '']
    """
    t = text.lower()
    if any(w in t for w in ("botnet", "malware", "attack", "c&c")):
        return "malicious"
    if "normal" in t:
        return "benign"
    return ""


class ArgusReader(TabularFlowReader):
    name = "argus"
    aliases = ALIASES
    required = REQUIRED
    dataset = "argus"
    string_cols = ("StartTime", "LastTime", "Proto", "SrcAddr", "Sport", "Dir", "DstAddr", "Dport", "State",
                   "Label", "SrcMac", "DstMac", "Flgs")

    @classmethod
    def sniff(cls, head: bytes, path: Path | None) -> bool:
        layout = header_layout(head)
        if layout is None:
            return False
        keys = set(layout.keys)
        return "starttime" in keys and len(keys & {"srcaddr", "dstaddr", "sport", "dport", "dir", "proto",
                                                    "totpkts", "totbytes", "srcbytes", "dur"}) >= 3

    def layout(self, path: Path, head: bytes) -> Layout:
        return headed_layout(path, head, ("starttime",), "Argus")

    def records(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> np.ndarray:
        """Argus "man" records are the probe's own status reports, not flows: counted and dropped."""
        man = np.array(chunk.columns[cols["proto"]].str.lower() == "man", dtype=bool)
        if man.any():
            report.skip(path, "argus management record (not a flow)", where=f"line {int(chunk.lines[man][0])}",
                        n=int(man.sum()))
        return ~man

    def to_flow(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> dict[str, object]:
        fr = chunk.columns
        n = chunk.rows

        def num(role: str) -> np.ndarray:
            return role_numbers(chunk, cols, role)

        transport = transport_names(fr[cols["proto"]])
        sport = parse_ports(fr[cols["sport"]]) if "sport" in cols else np.full(n, np.nan)
        dport = parse_ports(fr[cols["dport"]]) if "dport" in cols else np.full(n, np.nan)
        # keep the decoded (hex -> number) ports in orig.* too, so native models see numbers
        for role, values in (("sport", sport), ("dport", dport)):
            if role in cols:
                fr[cols[role]] = pd.Series(values)
        icmp = transport.isin(["icmp", "ipv6-icmp"]).to_numpy()
        # Argus prints the ICMP type in the source-port field
        dst_port = np.where(icmp, sport, dport)
        src_port = np.where(icmp, np.nan, sport)

        src_bytes, tot_bytes = num("src_bytes"), num("tot_bytes")
        dst_bytes = num("dst_bytes") if "dst_bytes" in cols else tot_bytes - src_bytes
        src_pkts, tot_pkts = num("src_pkts"), num("tot_pkts")
        dst_pkts = num("dst_pkts") if "dst_pkts" in cols else tot_pkts - src_pkts

        out: dict[str, object] = {
            "@timestamp": parse_times(fr[cols["start"]], TIME_FORMATS, path, report, chunk.lines, "StartTime"),
            "source.ip": fr[cols["src"]],
            "destination.ip": fr[cols["dst"]],
            "source.port": src_port,
            "destination.port": dst_port,
            "network.transport": transport,
            "flow.duration": num("duration"),
            "source.bytes": src_bytes,
            "destination.bytes": dst_bytes,
            "source.packets": src_pkts,
            "destination.packets": dst_pkts,
        }
        if "state" in cols:
            out["flow.state"] = argus_states(fr[cols["state"]], transport)
        if "label" in cols:
            detail = clean_labels(fr[cols["label"]].str.replace(r"^flow=", "", regex=True))
            out["label"] = map_unique(detail, stratosphere_label)
            out["label.detail"] = detail
        return out
