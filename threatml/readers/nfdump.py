"""nfdump CSV (``nfdump -o csv``): NetFlow/IPFIX records, one direction per record.

Both header generations are understood: nfdump 1.6 (``ts,te,td,sa,da,sp,dp,pr,...``)
and the 1.7 names (``firstSeen,lastSeen,duration,proto,srcAddr,...``, also the
``csv:fast`` variant with millisecond epoch times). The ``Summary`` block that
nfdump appends is ignored.

>>> from threatml.readers.nfdump import NfdumpReader
>>> NfdumpReader.sniff(b"ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\\n", None)
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from threatml.errors import ReadReport
from threatml.readers.tabular import (
    Chunk,
    Layout,
    TabularFlowReader,
    headed_layout,
    header_layout,
    parse_ports,
    parse_times,
    role_numbers,
    transport_names,
)

ALIASES = {
    "start": ("ts", "firstseen", "tfs"),
    "end": ("te", "lastseen"),
    "duration": ("td", "duration"),
    "src": ("sa", "srcaddr"),
    "dst": ("da", "dstaddr"),
    "sport": ("sp", "srcport"),
    "dport": ("dp", "dstport"),
    "proto": ("pr", "proto"),
    "flags": ("flg", "flags"),
    "in_pkts": ("ipkt", "inpackets", "packets", "pkt"),
    "in_bytes": ("ibyt", "inbytes", "bytes", "byt"),
    "out_pkts": ("opkt", "outpackets"),
    "out_bytes": ("obyt", "outbytes"),
}
REQUIRED = {"start": "ts/firstSeen", "src": "sa/srcAddr", "dst": "da/dstAddr", "proto": "pr/proto",
            "in_bytes": "ibyt/inBytes"}
TIME_FORMATS = ("ISO8601", "%Y-%m-%d %H:%M:%S.%f", "epoch")


class NfdumpReader(TabularFlowReader):
    name = "nfdump"
    aliases = ALIASES
    required = REQUIRED
    dataset = "nfdump"
    string_cols = ("ts", "te", "sa", "da", "pr", "flg", "firstSeen", "lastSeen", "srcAddr", "dstAddr", "proto",
                   "flags", "sp", "dp", "srcPort", "dstPort", "dir", "nh", "nhb", "ra", "ismc", "odmc", "idmc",
                   "osmc")

    @classmethod
    def sniff(cls, head: bytes, path: Path | None) -> bool:
        layout = header_layout(head)
        if layout is None:
            return False
        keys = set(layout.keys)
        old = {"ts", "te", "td", "sa", "da"} <= keys and bool(keys & {"ibyt", "byt"})
        new = {"firstseen", "srcaddr", "dstaddr"} <= keys and bool(keys & {"inbytes", "bytes"})
        return old or new

    def layout(self, path: Path, head: bytes) -> Layout:
        self._bidirectional = False
        return headed_layout(path, head, (), "nfdump CSV")

    def trailer(self, text: str) -> bool:
        # nfdump ends its csv with "Summary" and a flows,bytes,packets,... block
        return text.strip() == "Summary" or text.startswith("No matched flows")

    def to_flow(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> dict[str, object]:
        fr = chunk.columns
        n = chunk.rows

        def num(role: str) -> np.ndarray:
            return role_numbers(chunk, cols, role)

        transport = transport_names(fr[cols["proto"]])
        sport = parse_ports(fr[cols["sport"]]) if "sport" in cols else np.full(n, np.nan)
        dport = parse_ports(fr[cols["dport"]]) if "dport" in cols else np.full(n, np.nan)
        icmp = transport.isin(["icmp", "ipv6-icmp"]).to_numpy()
        # nfdump prints ICMP as "type.code" in the destination port: keep the type
        dport = np.where(icmp, np.floor(dport), dport)
        start = parse_times(fr[cols["start"]], TIME_FORMATS, path, report, chunk.lines, cols["start"])
        duration = num("duration")
        if "duration" not in cols and "end" in cols:
            duration = parse_times(fr[cols["end"]], TIME_FORMATS) - start
        out_bytes, out_pkts = num("out_bytes"), num("out_pkts")
        # unidirectional exporters still print opkt/obyt, as 0: that means "not measured",
        # not "no reply". Once a record of the file has reverse traffic, zeros are real.
        self._bidirectional = self._bidirectional or bool(np.nansum(out_pkts) > 0 or np.nansum(out_bytes) > 0)
        if not self._bidirectional:
            out_bytes, out_pkts = np.full(n, np.nan), np.full(n, np.nan)
        return {
            "@timestamp": start,
            "source.ip": fr[cols["src"]],
            "destination.ip": fr[cols["dst"]],
            "source.port": np.where(icmp, np.nan, sport),
            "destination.port": dport,
            "network.transport": transport,
            "flow.duration": duration,
            "source.bytes": num("in_bytes"),
            "source.packets": num("in_pkts"),
            # only bidirectional records (NSEL, nfpcapd biflows) carry the reverse counters
            "destination.bytes": out_bytes,
            "destination.packets": out_pkts,
        }
