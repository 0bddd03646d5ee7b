"""UNSW-NB15: the partitioned training/testing CSVs and the original headerless UNSW-NB15_1..4 files.

The partitioned sets have a header (first name ``id``, often behind a UTF-8
BOM) and no addresses or times. The original four files have no header: 49
columns in the order of ``UNSW-NB15_features.csv`` (hard-coded below), with
addresses, ports and start/end times.

>>> from threatml.readers.unsw import UNSWReader
>>> UNSWReader.sniff("\\ufeffid,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,sttl,dttl\\n".encode(), None)
True
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport
from threatml.readers.tabular import (
    Chunk,
    Layout,
    TabularFlowReader,
    argus_states,
    clean_labels,
    first_line,
    header_layout,
    map_unique,
    parse_ports,
    role_numbers,
    split_fields,
    transport_names,
)

#: the 49 columns of UNSW-NB15_1..4.csv, as named in UNSW-NB15_features.csv
ORIGINAL_COLUMNS = (
    "srcip", "sport", "dstip", "dsport", "proto", "state", "dur", "sbytes", "dbytes", "sttl", "dttl", "sloss",
    "dloss", "service", "Sload", "Dload", "Spkts", "Dpkts", "swin", "dwin", "stcpb", "dtcpb", "smeansz",
    "dmeansz", "trans_depth", "res_bdy_len", "Sjit", "Djit", "Stime", "Ltime", "Sintpkt", "Dintpkt", "tcprtt",
    "synack", "ackdat", "is_sm_ips_ports", "ct_state_ttl", "ct_flw_http_mthd", "is_ftp_login", "ct_ftp_cmd",
    "ct_srv_src", "ct_srv_dst", "ct_dst_ltm", "ct_src_ltm", "ct_src_dport_ltm", "ct_dst_sport_ltm",
    "ct_dst_src_ltm", "attack_cat", "Label",
)
ALIASES = {
    "src": ("srcip",),
    "sport": ("sport",),
    "dst": ("dstip",),
    "dport": ("dsport",),
    "proto": ("proto",),
    "state": ("state",),
    "duration": ("dur",),
    "src_bytes": ("sbytes",),
    "dst_bytes": ("dbytes",),
    "src_pkts": ("spkts",),
    "dst_pkts": ("dpkts",),
    "service": ("service",),
    "start": ("stime",),
    "attack_cat": ("attackcat",),
    "label": ("label",),
}
REQUIRED = {"proto": "proto", "state": "state", "duration": "dur", "src_bytes": "sbytes", "dst_bytes": "dbytes",
            "src_pkts": "spkts", "dst_pkts": "dpkts"}
_HEADER_KEYS = {"sbytes", "dbytes", "spkts", "dpkts", "sttl", "dttl"}
_STATES = {"FIN", "INT", "CON", "REQ", "RST", "ECO", "ECR", "CLO", "ACC", "PAR", "URN", "NO", "TST", "MAS", "TXD",
           "URH", "URP", "-"}
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _headerless(line: str) -> bool:
    """A row of the original files: 49 fields, an address first, a UNSW state sixth, 0/1 last."""
    f = [x.strip() for x in split_fields(line, ",")]
    return (len(f) == 49 and bool(_IPV4.match(f[0]) or ":" in f[0]) and f[5].upper() in _STATES
            and f[48] in ("0", "1"))


def attack_category(value: str) -> str:
    """Readable attack category: spaces trimmed, plural 'Backdoors' folded into 'Backdoor'.

    >>> attack_category(" Fuzzers "), attack_category("Backdoors"), attack_category("Normal")
    ('Fuzzers', 'Backdoor', '')
    """
    v = value.strip()
    if v.lower() in ("", "normal", "-"):
        return ""
    return "Backdoor" if v == "Backdoors" else v


class UNSWReader(TabularFlowReader):
    name = "unsw-nb15"
    aliases = ALIASES
    required = REQUIRED
    dataset = "unsw-nb15"
    string_cols = ("srcip", "dstip", "sport", "dsport", "proto", "state", "service", "attack_cat")

    @classmethod
    def sniff(cls, head: bytes, path: Path | None) -> bool:
        layout = header_layout(head)
        if layout is not None and _HEADER_KEYS <= set(layout.keys):
            return True
        return _headerless(first_line(head))

    def layout(self, path: Path, head: bytes) -> Layout:
        if _headerless(first_line(head)):
            return Layout(",", ORIGINAL_COLUMNS, header=False)
        layout = header_layout(head)
        if layout is None:
            raise InputError(path, "neither a UNSW-NB15 header nor a 49-field UNSW-NB15 record", "line 1")
        return layout

    def to_flow(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> dict[str, object]:
        fr = chunk.columns

        def num(role: str) -> np.ndarray:
            return role_numbers(chunk, cols, role)

        transport = transport_names(fr[cols["proto"]])
        out: dict[str, object] = {
            "network.transport": transport,
            "flow.duration": num("duration"),
            # Argus-derived transaction bytes (IP level), as the dataset defines sbytes/dbytes
            "source.bytes": num("src_bytes"),
            "destination.bytes": num("dst_bytes"),
            "source.packets": num("src_pkts"),
            "destination.packets": num("dst_pkts"),
            "flow.state": argus_states(fr[cols["state"]], transport),
        }
        if "service" in cols:
            out["network.protocol"] = fr[cols["service"]].str.strip().replace("-", "").str.lower()
        for role in ("sport", "dport"):
            if role in cols:
                fr[cols[role]] = pd.Series(parse_ports(fr[cols[role]]))  # hex ports in the original files; "-" -> NaN
        if "src" in cols:
            out["source.ip"] = fr[cols["src"]]
            out["destination.ip"] = fr[cols["dst"]] if "dst" in cols else ""
            out["source.port"] = fr[cols["sport"]] if "sport" in cols else np.nan
            out["destination.port"] = fr[cols["dport"]] if "dport" in cols else np.nan
        if "start" in cols:
            out["@timestamp"] = num("start")  # Stime is epoch seconds
        if "label" in cols:
            lab = num("label")
            out["label"] = np.where(lab == 1, "malicious", np.where(lab == 0, "benign", ""))
        if "attack_cat" in cols:
            cat = map_unique(clean_labels(fr[cols["attack_cat"]]), attack_category)
            if "label" in cols:
                cat = cat.where(out["label"] != "benign", "")
            out["label.detail"] = cat
        return out
