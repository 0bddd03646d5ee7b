"""The fast engine: capture file -> record chunks -> decoded packets -> flow frames.

>>> import io, struct
>>> from threatml.errors import ReadReport
>>> hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
>>> list(fast_flows(io.BytesIO(hdr), "empty.pcap", ReadReport()))
[]
"""

from __future__ import annotations

import os
from typing import BinaryIO, Iterator

import pandas as pd

from threatml.errors import ReadReport
from threatml.readers.pcapflow.decode import decode
from threatml.readers.pcapflow.flows import FlowTable, agg_len, to_frame
from threatml.readers.pcapflow.records import CHUNK_BYTES, iter_chunks


def fast_flows(
    fh: BinaryIO,
    path: str,
    report: ReadReport,
    idle_timeout: float = 120.0,
    active_timeout: float = 1800.0,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[pd.DataFrame]:
    """Yield flow-schema frames (unbounded length; the reader slices them)."""
    base = os.path.basename(str(path))
    table = FlowTable(idle_timeout, active_timeout)
    skips: list = []

    def drain() -> None:
        for reason, where, count in skips:
            report.skip(path, reason, where=where, n=count)
        skips.clear()

    try:
        for chunk in iter_chunks(fh, path, skips, chunk_bytes):
            pk = decode(chunk)
            del chunk
            skips.extend(pk.skips)
            done = table.add(pk)
            del pk
            drain()
            if agg_len(done):
                yield to_frame(done, base)
    finally:
        drain()
    rest = table.flush()
    if agg_len(rest):
        yield to_frame(rest, base)
