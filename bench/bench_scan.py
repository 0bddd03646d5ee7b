"""End-to-end scan throughput: a >= 1,000,000-flow Zeek conn.log through `threatml scan`.

The log comes from the demo network generator (realistic benign traffic plus
injected attacks), so every detector and the shipped flow model do real work.
The scan runs as a separate process, timed whole, and its peak RSS is read
from the kernel (ru_maxrss of the child), so the numbers are what a user sees.

    python bench/bench_scan.py [--flows 1000000] [--keep DIR]

Target (issue 2): >= 50,000 flows/s end to end, peak memory < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threatml.demo.network import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=1_000_000, help="minimum conn.log rows")
    ap.add_argument("--keep", type=Path, help="write the logs here instead of a temporary folder")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="threatml-bench-"))
    hours, hosts = 14.0, 40  # the generator allows hosts x hours <= 1000
    t0 = time.perf_counter()
    while True:  # lengthen the simulated day until the conn.log is large enough
        scen = generate(work / "logs", hours=hours, hosts=hosts, seed=11)
        got = scen.counts.get("conn", 0)
        if got >= args.flows or hours >= 24.0:
            break
        hours = min(24.0, hours * max(1.1, args.flows / max(got, 1) * 1.05))
    gen_s = time.perf_counter() - t0
    conn = scen.conn_log
    n = scen.counts["conn"]
    size_mb = conn.stat().st_size / 1e6

    cmd = [sys.executable, "-m", "threatml.cli", "scan", str(conn), "--no-report",
           "--store", str(work / "bench.duckdb"), "--out", str(work / "findings.jsonl")]
    t1 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        raise SystemExit(f"scan failed with exit code {proc.returncode}")
    findings = sum(1 for _ in open(work / "findings.jsonl"))
    result = {
        "bench": "scan_zeek_conn_end_to_end",
        "flows": n,
        "conn_log_mb": round(size_mb, 1),
        "generate_s": round(gen_s, 1),
        "scan_wall_s": round(wall, 2),
        "flows_per_s": round(n / wall),
        "peak_rss_mb": round(peak_mb),
        "findings": findings,
        "target": ">= 50,000 flows/s, peak < 1,500 MB",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
