"""MD5, SHA-1 and SHA-256 in one pass over bytes or a file (bounded by a size cap).

>>> file_hashes(b"abc")["md5"]
'900150983cd24fb0d6963f7d28e17f72'
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO


def file_hashes(data: bytes) -> dict[str, str]:
    return {"md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest()}


def stream_hashes(fh: BinaryIO, first: bytes = b"", chunk: int = 1 << 20,
                  limit: int | None = None) -> tuple[dict[str, str], int]:
    """Hashes of ``first`` followed by the rest of ``fh``; returns (hashes, total bytes).

    Past ``limit`` bytes it stops and returns empty hashes (and the bytes read so far):
    a compressed stream can expand without end.
    """
    hs = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()]
    n = 0
    for block in ([first] if first else []):
        for h in hs:
            h.update(block)
        n += len(block)
    while True:
        if limit is not None and n > limit:
            return {}, n
        block = fh.read(chunk)
        if not block:
            break
        for h in hs:
            h.update(block)
        n += len(block)
    return {"md5": hs[0].hexdigest(), "sha1": hs[1].hexdigest(), "sha256": hs[2].hexdigest()}, n


def hash_path(path: Path) -> dict[str, str]:
    with open(path, "rb") as fh:
        return stream_hashes(fh)[0]
