"""pcap / pcapng captures -> bidirectional flows (event kind ``flow``).

Two engines sit behind :class:`PcapReader`:

* ``"fast"`` (used by ``"auto"``): ThreatML's own engine in
  :mod:`threatml.readers.pcapflow`. A tight loop only records where each
  packet is; headers (Ethernet/802.1Q/Linux cooked/raw IP, IPv4/IPv6,
  TCP/UDP/ICMP) are decoded with numpy gathers and flows aggregated with
  reductions, chunk by chunk, so memory stays bounded on captures of hundreds
  of MB. It gives Zeek-style ``flow.state``/``flow.history`` and guesses
  ``network.protocol`` from a short list of well-known ports
  (:data:`~threatml.readers.pcapflow.flows.WELL_KNOWN_PORTS`, only for flows
  that carried payload). Measured here: ~500k packets/s of CPU time on a SYN
  flood mix, against 10-50k for nfstream (see bench/bench_pcap.py).
* ``"nfstream"``: NFStreamer with nDPI, for real application names
  (``network.protocol`` = lower-case nDPI master protocol, the full name such
  as ``TLS.Google`` in ``nfstream.application_name``). Much slower and
  without TCP state (flow.state/history stay empty), so it is used only when
  asked for. nfstream cannot read gzipped files; the fast engine can.

``"auto"`` means the fast engine, or nfstream when ``dpi=True``: detection
models need throughput and TCP state first; DPI names are an opt-in extra.

Both engines use the same idle (120 s) and active (1800 s) timeouts as
nfstream's defaults. Bytes are L4 payload bytes in both engines (nfstream runs
with ``accounting_mode=3``); the fast engine also exports IP-level bytes as
``source.ip_bytes``/``destination.ip_bytes``. ``event.id`` is
``"<file name>:<index of the flow's first packet>"`` for the fast engine (stable
whatever the chunking) and ``"<file name>:nfs<nfstream id>"`` for nfstream.

Per-packet problems (non-IP frames such as ARP, IP fragments after the first,
headers cut by the snapshot length, unsupported link types) and a cut or
garbled end of capture are counted with ``report.skip``; the flows from the
readable part are still returned.

>>> PcapReader.sniff(bytes.fromhex("d4c3b2a1") + bytes(20), None)
True
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Iterator, Literal

import pandas as pd

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary
from threatml.readers.pcapflow.engine import fast_flows
from threatml.readers.pcapflow.records import CHUNK_BYTES, iter_chunks, sniff_capture

Engine = Literal["auto", "fast", "nfstream"]


class PcapReader(Reader):
    """Bidirectional flows from pcap or pcapng files (optionally gzipped for the fast engine).

    ``PcapReader()`` is the fast engine; ``PcapReader(engine="nfstream")`` or
    ``PcapReader(dpi=True)`` gives nDPI application names.
    """

    name: ClassVar[str] = "pcap"
    kinds: ClassVar[tuple[str, ...]] = ("flow",)

    def __init__(
        self,
        engine: Engine = "auto",
        dpi: bool = False,
        idle_timeout: float = 120.0,
        active_timeout: float = 1800.0,
        n_dissections: int = 20,
        chunk_bytes: int = CHUNK_BYTES,
        nfstream_timeout_s: float | None = None,
    ):
        if engine not in ("auto", "fast", "nfstream"):
            raise ValueError(f"engine must be 'auto', 'fast' or 'nfstream', not {engine!r}")
        self.engine: Engine = engine
        self.dpi = dpi
        self.idle_timeout = idle_timeout
        self.active_timeout = active_timeout
        self.n_dissections = n_dissections
        self.chunk_bytes = chunk_bytes
        self.nfstream_timeout_s = nfstream_timeout_s

    @property
    def resolved_engine(self) -> str:
        if self.engine == "auto":
            return "nfstream" if self.dpi else "fast"
        return self.engine

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return sniff_capture(head) is not None

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        frames = self._nfstream(path, report) if self.resolved_engine == "nfstream" else self._fast(path, report)
        for frame in frames:
            for start in range(0, len(frame), batch_size):
                yield EventBatch.of("flow", frame.iloc[start : start + batch_size], source=str(path))

    def _fast(self, path: Path, report: ReadReport) -> Iterator[pd.DataFrame]:
        with open_binary(path) as fh:
            yield from fast_flows(fh, str(path), report, self.idle_timeout, self.active_timeout, self.chunk_bytes)

    def _nfstream(self, path: Path, report: ReadReport) -> Iterator[pd.DataFrame]:
        from threatml.readers.pcapflow.nfstream_engine import nfstream_to_flows, run_nfstream

        with open(path, "rb") as fh:
            head = fh.read(4)
        if not head:
            raise InputError(path, "empty file")
        if head[:2] == b"\x1f\x8b":
            raise InputError(path, "the nfstream engine cannot read gzipped captures; gunzip it or use engine='fast'")
        # nfstream (libpcap) silently stops at a cut or garbled record: walk the record
        # structure first (cheap next to nfstream) so that such files are reported alike
        skips: list = []
        with open(path, "rb") as fh:
            for _ in iter_chunks(fh, str(path), skips, self.chunk_bytes):
                pass
        for reason, where, count in skips:
            report.skip(path, reason, where=where, n=count)
        df = run_nfstream(path, self.idle_timeout, self.active_timeout, self.n_dissections, self.nfstream_timeout_s)
        out = nfstream_to_flows(df, path.name)
        if len(out):
            yield out
