"""The nfstream engine: nDPI application names, at nfstream's speed (10-50k packets/s here).

nfstream runs its meter in a child process; if that ever stalls (some
sandboxes forbid the shared memory or fork it relies on) the call is guarded by
a watchdog thread and turned into an :class:`InputError` instead of a hang.

Byte counts: NFStreamer is run with ``accounting_mode=3`` (payload bytes), so
``source.bytes``/``destination.bytes`` mean the same as in the fast engine.
nfstream's default mode 0 would count whole frames (link layer); IP-level
bytes (mode 1) are not exported. nfstream has no TCP flag counters without
statistical analysis, so ``flow.state``/``flow.history`` stay empty.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError
from threatml.readers.pcapflow.flows import TRANSPORTS

_COLUMNS = [
    "id", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "ip_version", "vlan_id",
    "bidirectional_first_seen_ms", "bidirectional_duration_ms", "src2dst_packets", "src2dst_bytes",
    "dst2src_packets", "dst2src_bytes", "application_name", "application_category_name",
    "requested_server_name", "expiration_id",
]


def nfstream_available() -> bool:
    try:
        import nfstream  # noqa: F401
    except ImportError:
        return False
    return True


def run_nfstream(path: Path, idle_timeout: float, active_timeout: float, n_dissections: int = 20,
                 timeout_s: float | None = None) -> pd.DataFrame:
    """NFStreamer over ``path`` as a DataFrame of nfstream's own columns."""
    try:
        from nfstream import NFStreamer
    except ImportError:
        raise InputError(path, "the nfstream engine needs the 'nfstream' package (pip install nfstream)") from None
    if timeout_s is None:  # generous: nfstream manages ~50k packets/s, ~1 MB/s worst case here
        timeout_s = 120.0 + os.path.getsize(path) / 200_000
    result: dict = {}

    def work() -> None:
        try:
            streamer = NFStreamer(
                source=str(path), statistical_analysis=False, n_dissections=n_dissections,
                idle_timeout=int(idle_timeout), active_timeout=int(active_timeout),
                accounting_mode=3, n_meters=1, decode_tunnels=False,
            )
            result["df"] = streamer.to_pandas(columns_to_anonymize=())
        except BaseException as exc:  # reported to the caller's thread below
            result["error"] = exc

    th = threading.Thread(target=work, name="nfstream", daemon=True)
    th.start()
    th.join(timeout_s)
    if th.is_alive():
        raise InputError(path, f"nfstream did not finish within {timeout_s:.0f} s (use engine='fast')")
    if "error" in result:
        exc = result["error"]
        raise InputError(path, f"nfstream failed: {type(exc).__name__}: {exc}") from None
    df = result.get("df")
    return df if df is not None else pd.DataFrame(columns=_COLUMNS)


def nfstream_to_flows(df: pd.DataFrame, basename: str) -> pd.DataFrame:
    """Map nfstream columns to the flow schema; nDPI names go to ``network.protocol``."""
    if df is None or len(df) == 0:
        return pd.DataFrame()
    proto = df["protocol"].astype("int64")
    ported = proto.isin([6, 17]).to_numpy()
    app = df["application_name"].fillna("").astype(str)
    master = app.str.split(".", n=1).str[0].str.lower()
    master = master.where(master != "unknown", "")
    sport = df["src_port"].astype("float64").to_numpy()
    dport = df["dst_port"].astype("float64").to_numpy()
    vlan = df["vlan_id"].astype("float64").to_numpy()
    return pd.DataFrame(
        {
            "event.id": (basename + ":nfs" + df["id"].astype(str)).to_numpy(dtype=object),
            "event.dataset": "pcap",
            "@timestamp": df["bidirectional_first_seen_ms"].to_numpy(dtype=np.float64) / 1000.0,
            "source.ip": df["src_ip"].astype(str).to_numpy(),
            "source.port": np.where(ported, sport, np.nan),
            "destination.ip": df["dst_ip"].astype(str).to_numpy(),
            "destination.port": np.where(ported, dport, np.nan),
            "network.transport": proto.map(lambda p: TRANSPORTS.get(int(p), str(p))).to_numpy(),
            "network.protocol": master.to_numpy(),
            "flow.duration": df["bidirectional_duration_ms"].to_numpy(dtype=np.float64) / 1000.0,
            "source.bytes": df["src2dst_bytes"].to_numpy(dtype=np.float64),
            "destination.bytes": df["dst2src_bytes"].to_numpy(dtype=np.float64),
            "source.packets": df["src2dst_packets"].to_numpy(dtype=np.float64),
            "destination.packets": df["dst2src_packets"].to_numpy(dtype=np.float64),
            "flow.state": "",
            "flow.history": "",
            "network.type": np.where(df["ip_version"].to_numpy() == 4, "ipv4", "ipv6"),
            "network.vlan.id": np.where(vlan > 0, vlan, np.nan),
            "nfstream.application_name": app.to_numpy(),
            "nfstream.application_category": df["application_category_name"].fillna("").astype(str).to_numpy(),
            "nfstream.requested_server_name": df["requested_server_name"].fillna("").astype(str).to_numpy(),
        }
    )
