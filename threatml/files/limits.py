"""Limits that keep file analysis bounded in memory and time, whatever the input.

Every limit is a plain module constant so a deployment can tune them; each
place that hits one says so in the read report (file and reason).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

#: bytes of a file read into memory for features and YARA (the rest is not looked at)
MAX_ANALYSIS_BYTES = 64 * 1024 * 1024
#: files larger than this are not hashed (hashing a multi-GB file would stall a scan)
MAX_HASH_BYTES = 1024 * 1024 * 1024
#: bytes used for histograms and string statistics (a prefix of the analysed bytes)
MAX_FEATURE_BYTES = 16 * 1024 * 1024
#: seconds allowed for parsing one PE file with pefile before it is abandoned
PARSE_SECONDS = 5.0

# ---- archives ----
MAX_ARCHIVE_DEPTH = 3          # zip in zip in zip
MAX_ARCHIVE_MEMBERS = 2000     # members looked at per archive
MAX_MEMBER_BYTES = 32 * 1024 * 1024     # uncompressed bytes read per member
MAX_ARCHIVE_TOTAL = 256 * 1024 * 1024   # uncompressed bytes read per outer archive
MAX_RATIO = 200.0              # declared uncompressed / compressed size beyond which a member is a bomb

# ---- PE structure counts beyond which the rest is ignored ----
MAX_SECTIONS = 96          # Windows loads at most 96 sections
MAX_IMPORT_FUNCS = 10_000
MAX_EXPORTS = 10_000
MAX_STRINGS = 200_000


class ParseTimeout(Exception):
    """Parsing took longer than its budget."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`ParseTimeout` inside the block after ``seconds`` (main thread only).

    Outside the main thread signals cannot be used; the block then runs
    unbounded in time, which the structural limits above still keep short.

    >>> with time_limit(1.0):
    ...     x = sum(range(10))
    >>> x
    45
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum, frame):
        raise ParseTimeout(f"parsing took longer than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
