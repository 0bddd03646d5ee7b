"""KDD Cup 99 and NSL-KDD connection records (headerless CSV text).

Each line holds the 41 standard features and the label; NSL-KDD adds a 43rd
column, the difficulty level. KDD Cup 99 labels end with a dot (``smurf.``).
The records have no addresses and no times: those schema fields stay empty.

>>> from threatml.readers.kdd import KDDReader
>>> KDDReader.sniff(b"0,tcp,http,SF,181,5450" + b",0" * 35 + b",normal.\\n", None)
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from threatml.errors import InputError, ReadReport
from threatml.readers.tabular import Chunk, Layout, TabularFlowReader, first_line, map_unique, split_fields

#: the 41 features in file order (KDD Cup 99 task description / NSL-KDD Field Names)
FEATURES = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment", "urgent",
    "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted", "num_root",
    "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds", "is_host_login",
    "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count", "dst_host_srv_count",
    "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
)
KDD99_COLUMNS = FEATURES + ("label",)
NSL_COLUMNS = FEATURES + ("label", "difficulty")

#: connection flags used by KDD: Bro's conn_state names, which Zeek still uses
FLAGS = {"SF", "S0", "S1", "S2", "S3", "REJ", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"}

_CATEGORIES = {
    "dos": "back land neptune pod smurf teardrop apache2 mailbomb processtable udpstorm",
    "probe": "ipsweep nmap portsweep satan mscan saint",
    "r2l": "ftp_write guess_passwd imap multihop phf spy warezclient warezmaster named sendmail snmpgetattack "
    "snmpguess worm xlock xsnoop",
    "u2r": "buffer_overflow loadmodule perl rootkit httptunnel ps sqlattack xterm",
}
#: attack name -> the standard 5-way category (normal, dos, probe, r2l, u2r), test-only attacks included.
#: httptunnel is filed under u2r as in the common NSL-KDD mapping (DARPA 1999 called it r2l).
ATTACK_CATEGORY = {a: cat for cat, names in _CATEGORIES.items() for a in names.split()} | {"normal": "normal"}


def attack_category(name: str) -> str:
    """5-way category of a KDD label; ``unknown`` for a name outside the standard lists.

    >>> attack_category("smurf."), attack_category("normal"), attack_category("snmpguess"), attack_category("x")
    ('dos', 'normal', 'r2l', 'unknown')
    """
    n = name.strip().rstrip(".").lower()
    return ATTACK_CATEGORY.get(n, "unknown" if n else "")


def _kdd_fields(line: str) -> list[str] | None:
    f = [x.strip() for x in split_fields(line, ",")]
    if len(f) not in (42, 43) or f[1] not in ("tcp", "udp", "icmp") or f[3] not in FLAGS:
        return None
    try:
        float(f[0]), float(f[4]), float(f[5])
    except ValueError:
        return None
    return f


class KDDReader(TabularFlowReader):
    name = "kdd"
    dataset = "kdd"
    string_cols = ("protocol_type", "service", "flag", "label")
    numeric_cols = tuple(c for c in FEATURES if c not in ("protocol_type", "service", "flag")) + ("difficulty",)

    @classmethod
    def sniff(cls, head: bytes, path: Path | None) -> bool:
        return _kdd_fields(first_line(head)) is not None

    def layout(self, path: Path, head: bytes) -> Layout:
        f = _kdd_fields(first_line(head))
        if f is None:
            raise InputError(path, "not a KDD record: expected 42 or 43 comma-separated fields "
                                   "with protocol_type and flag in columns 2 and 4", "line 1")
        return Layout(",", NSL_COLUMNS if len(f) == 43 else KDD99_COLUMNS, header=False)

    def columns(self, path: Path, layout: Layout) -> dict[str, str]:
        return {c: c for c in layout.names}

    def to_flow(self, chunk: Chunk, cols: dict[str, str], path: Path, report: ReadReport) -> dict[str, object]:
        fr = chunk.columns
        raw = fr["label"].str.strip()
        name = raw.str.rstrip(".")
        fr["label"] = name  # orig.label without KDD'99's trailing dot
        normal = np.array(name.str.lower() == "normal", dtype=bool)
        flag = fr["flag"].str.upper()
        return {
            "network.transport": fr["protocol_type"].str.lower(),
            "network.protocol": fr["service"],
            "flow.duration": fr["duration"],
            "source.bytes": fr["src_bytes"],
            "destination.bytes": fr["dst_bytes"],
            "flow.state": flag.where(flag.isin(FLAGS), "OTH"),
            "label": np.where(normal, "benign", np.where(name == "", "", "malicious")),
            "label.detail": name.where(~normal, ""),
            "orig.attack_category": map_unique(name, attack_category),
        }
