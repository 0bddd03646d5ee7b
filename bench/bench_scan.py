"""End-to-end scan throughput: a >= 1,000,000-flow Zeek conn.log through `threatml scan`.

The log comes from the demo network generator (realistic benign traffic plus
injected attacks), so every detector and the shipped flow model do real work.
The logs are generated in one child process and scanned in another, timed
whole; the scan process reports its own peak RSS (ru_maxrss) as it exits.
Keeping this parent small matters: Linux carries a spawning process's peak
RSS into a vfork()ed child's ru_maxrss, so a large parent would inflate it.

    python bench/bench_scan.py [--flows 1000000] [--keep DIR]

Target (issue 2): >= 50,000 flows/s end to end, peak memory < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threatml.demo.network import generate


def _first_rows(src: Path, dst: Path, rows: int) -> tuple[Path, int]:
    """Copy the Zeek header and the first ``rows`` records of ``src`` to ``dst``."""
    n = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for line in fin:
            if line.startswith(b"#"):
                if not line.startswith(b"#close"):
                    fout.write(line)
                continue
            if n == rows:
                break
            fout.write(line)
            n += 1
    return dst, n


def _generate(work: Path, flows: int) -> None:
    """Child process: simulate until the conn.log has ``flows`` rows, cut it to exactly that."""
    hours, hosts = 14.0, 40  # the generator allows hosts x hours <= 1000
    while True:  # lengthen the simulated day until the conn.log is large enough
        scen = generate(work / "logs", hours=hours, hosts=hosts, seed=11)
        got = scen.counts.get("conn", 0)
        if got >= flows or hours >= 24.0:
            break
        hours = min(24.0, hours * max(1.1, flows / max(got, 1) * 1.05))
    _, n = _first_rows(scen.conn_log, work / "conn-bench.log", flows)
    print(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=1_000_000, help="conn.log rows to scan")
    ap.add_argument("--keep", type=Path, help="write the logs here instead of a temporary folder")
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # internal: the generator child
    args = ap.parse_args()
    if args.generate:
        _generate(args.generate, args.flows)
        return

    work = args.keep or Path(tempfile.mkdtemp(prefix="threatml-bench-"))
    t0 = time.perf_counter()
    gen = subprocess.run([sys.executable, __file__, "--generate", str(work), "--flows", str(args.flows)],
                         capture_output=True, text=True)
    if gen.returncode != 0:
        raise SystemExit(f"generation failed: {gen.stderr[-2000:]}")
    gen_s = time.perf_counter() - t0
    conn, n = work / "conn-bench.log", int(gen.stdout.split()[-1])
    size_mb = conn.stat().st_size / 1e6

    scan = ["scan", str(conn), "--no-report", "--store", str(work / "bench.duckdb"),
            "--out", str(work / "findings.jsonl")]
    code = ("import resource, sys\n"
            "from threatml.cli import main\n"
            f"sys.argv = ['threatml'] + {scan!r}\n"
            "try:\n    main()\nfinally:\n"
            "    print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    t1 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - t1
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        raise SystemExit(f"scan failed with exit code {proc.returncode}")
    peak_mb = int(proc.stderr.split("PEAK_RSS_KB")[-1].split()[0]) / 1024
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
