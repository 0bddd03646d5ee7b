"""Throughput and peak memory of ZeekReader on a generated 1,000,000-line conn.log.

Run: ``.venv/bin/python bench/bench_zeek_read.py [--rows N] [--batch-size B] [--repeat R] [--gzip]``

The log is generated (seeded, vectorised with numpy) in a temporary folder with a
realistic mix: internal clients talking to many servers, common services and
ports, Zeek connection states with matching histories, unset ('-') values for
failed connections, a Stratosphere-style label pair and a ``#close`` trailer.
Each timed read runs in a fresh process and prints rows/s, the process' CPU
seconds (on a busy machine wall time also counts waiting for other processes;
pyarrow parses on two threads, so CPU can exceed wall) and its peak RSS in MB
(resource.getrusage ru_maxrss, interpreter and libraries included).
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threatml.errors import ReadReport  # noqa: E402
from threatml.readers.zeek import ZeekReader  # noqa: E402

HEADER = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2024-01-01-00-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tlabel\tdetailedlabel
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring\tstring
"""

_SERVICES = [("tcp", 443, "ssl"), ("tcp", 80, "http"), ("udp", 53, "dns"), ("tcp", 22, "ssh"),
             ("tcp", 445, "-"), ("udp", 123, "ntp"), ("tcp", 8080, "http"), ("tcp", 3389, "-"),
             ("icmp", 0, "-"), ("tcp", 25, "smtp")]
_STATES = [("SF", "ShADadFf"), ("S0", "S"), ("REJ", "Sr"), ("S1", "ShAD"), ("RSTO", "ShADR"),
           ("RSTR", "ShADr"), ("SH", "SF"), ("OTH", "Cc"), ("S3", "ShADadf"), ("RSTOS0", "SR")]


def _ips(rng: np.random.Generator, n: int, prefix: str, hosts: int) -> np.ndarray:
    a = rng.integers(0, hosts, n)
    return (prefix + pd.Series(a // 254 % 254 + 1).astype(str) + "." + pd.Series(a % 254 + 1).astype(str)).to_numpy()


def generate(path: Path, rows: int, seed: int = 7, compress: bool = False) -> None:
    rng = np.random.default_rng(seed)
    chunk = 250_000
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as fh:
        fh.write(HEADER)
        t0 = 1_700_000_000.0
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            svc = rng.choice(len(_SERVICES), n, p=[.35, .15, .25, .05, .04, .04, .04, .02, .03, .03])
            st = rng.choice(len(_STATES), n, p=[.55, .15, .08, .05, .04, .04, .02, .03, .02, .02])
            proto = np.array([s[0] for s in _SERVICES])[svc]
            port = np.array([s[1] for s in _SERVICES])[svc]
            service = np.array([s[2] for s in _SERVICES])[svc]
            state = np.array([s[0] for s in _STATES])[st]
            hist = np.array([s[1] for s in _STATES])[st]
            failed = np.isin(state, ["S0", "REJ", "RSTOS0", "SH"])
            ob = rng.lognormal(6, 2, n).astype(np.int64)
            rb = np.where(failed, 0, rng.lognormal(8, 2.5, n).astype(np.int64))
            op = np.maximum(1, ob // 1400 + rng.integers(1, 6, n))
            rp = np.where(failed, 0, rb // 1400 + rng.integers(1, 6, n))
            dur = rng.exponential(5, n)
            malicious = rng.random(n) < 0.1
            df = pd.DataFrame({
                "ts": np.round(t0 + (start + np.arange(n)) * 0.01 + rng.random(n) * 0.01, 6),
                "uid": "C" + pd.Series(rng.integers(10**15, 10**16, n)).astype(str),
                "oh": _ips(rng, n, "10.0.", 2000),
                "op": rng.integers(1024, 65536, n),
                "rh": _ips(rng, n, "93.184.", 30000),
                "rp": port,
                "proto": proto,
                "service": service,
                "duration": np.where(failed & (rng.random(n) < .5), "-", np.char.mod("%.6f", dur)),
                "ob": np.where(failed, "-", ob.astype(str)),
                "rb": np.where(failed, "-", rb.astype(str)),
                "state": state,
                "lo": "T", "lr": "F", "mb": 0,
                "history": hist,
                "opk": op, "oib": ob + 40 * op, "rpk": rp, "rib": rb + 40 * rp,
                "tp": "(empty)",
                "label": np.where(malicious, "Malicious", np.where(rng.random(n) < .5, "Benign", "Background")),
                "dl": np.where(malicious, "C&C-HeartBeat", "-"),
            })
            df.to_csv(fh, sep="\t", header=False, index=False)
        fh.write("#close\t2024-01-02-00-00-00\n")


def read_once(path: Path, batch_size: int) -> None:
    """Read ``path`` in this process and print rows/s and this process' peak RSS."""
    report = ReadReport()
    rows = batches = 0
    t, c = time.perf_counter(), time.process_time()
    for b in ZeekReader().read(path, report, batch_size=batch_size):
        rows += len(b)
        batches += 1
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"read: {rows} rows in {batches} batches, {dt:.2f}s wall ({cpu:.2f}s CPU) -> {rows / dt:,.0f} rows/s; "
          f"peak RSS {peak:.0f} MB; skipped {report.skipped_total()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3, help="timed reads, each in a fresh process")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--read-only", type=Path, help=argparse.SUPPRESS)  # internal: one timed read
    args = ap.parse_args()
    if args.read_only:
        read_once(args.read_only, args.batch_size)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("conn.log.gz" if args.gzip else "conn.log")
        t = time.perf_counter()
        generate(path, args.rows, compress=args.gzip)
        print(f"file: {path.name} {path.stat().st_size / 1e6:.1f} MB, {args.rows} rows "
              f"(generated in {time.perf_counter() - t:.1f}s)")
        os.sync()  # let writeback of the new file finish so that it does not slow the timed reads
        # Each read runs in its own process so that its peak RSS is the reader's alone.
        for _ in range(args.repeat):
            subprocess.run([sys.executable, __file__, "--read-only", str(path),
                            "--batch-size", str(args.batch_size)], check=True)


if __name__ == "__main__":
    main()
