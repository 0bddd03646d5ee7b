"""Identity domain: accuracy targets on the real data, then throughput and peak memory.

1. Real ``auth.log`` (``datasets/auth/auth.log``, Ubuntu/AWS, 3 weeks): the
   ground truth is computed here from the raw text, independently of the
   reader: every source address with 10 or more ``Failed <method> for ...``
   attempts (``message repeated N times`` counts N) inside any sliding hour.
   Target: each is reported by ``identity.credential_attack``, one finding per
   source and campaign (no two findings of a source overlap in time), and no
   accepted logon of the administrator ``ubuntu`` is reported as compromise.
2. EVTX samples (``datasets/auth/evtx``): spraying / failed-logon bursts found
   in the files that contain them; nothing high-severity in the benign logon
   noise file (``CA_4624_4625_LogonType2_LogonProc_chrome.evtx``).
3. Speed: a generated auth.log of ``--lines`` lines (same line mix as a real
   server: cron, sshd noise, brute force, sudo) read and scored by every identity
   detector; an EVTX file made of ``--chunks`` copies of a real sample chunk
   (header chunk count and CRC fixed). Each timed run is a child process that
   warms up on a small file of the same format (lazy imports), then reports
   wall time, its own CPU time (``process_time``: the machine is shared, so
   records per CPU second is the figure that does not depend on other users'
   load) and its own peak RSS. EVTX figures are the best (least CPU) of
   ``--repeat`` runs, with every run's CPU time listed; the reader alone is
   timed too, with its columnar path and with the per-record path
   (``EvtxReader(fast=False)``, how it read before), and a second file
   cycles through all five samples (Security logons, object access, Sysmon,
   MSSQL: mixed ids, some per-record groups).

    python bench/bench_identity.py [--lines 1000000] [--chunks 3000] [--repeat 3] [--skip-mixed]

Targets (issue 5): >= 100,000 auth.log lines/s parsed and scored; >= 50,000 EVTX records/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from shared_data import DATASETS  # noqa: E402

AUTH = DATASETS / "auth" / "auth.log"
EVTX = DATASETS / "auth" / "evtx"
ADMIN = "ubuntu"
_FAILED = re.compile(r"^(\w{3} +\d+ [\d:]{8}) \S+ sshd\[\d+\]: (?:message repeated (\d+) times: \[ )?"
                     r"Failed \S+ for (?:invalid user )?.*? from (\S+) port")


def ground_truth(path: Path, threshold: int = 10, window: float = 3600.0) -> dict[str, list[float]]:
    """Source -> times of failed attempts, for sources with >= threshold in some hour."""
    times: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text(errors="replace").splitlines():
        m = _FAILED.match(line)
        if m:
            t = datetime.strptime("2017 " + m[1], "%Y %b %d %H:%M:%S").timestamp()
            times[m[3]].extend([t] * int(m[2] or 1))
    out = {}
    for ip, ts in times.items():
        ts.sort()
        lo = 0
        for hi in range(len(ts)):
            while ts[hi] - ts[lo] >= window:
                lo += 1
            if hi - lo + 1 >= threshold:
                out[ip] = ts
                break
    return out


def scan_identity(paths: list[Path]):
    from threatml.detectors.identity import detectors
    from threatml.detectors.registry import ScanOptions
    from threatml.pipeline.scan import Scanner

    return Scanner(detectors(ScanOptions())).scan(paths)


def accuracy_authlog() -> dict:
    if not AUTH.exists():
        return {"skipped": f"{AUTH} absent"}
    gt = ground_truth(AUTH)
    res = scan_identity([AUTH])
    brute = [f for f in res.findings if f.detector == "identity.credential_attack"]
    by_src: dict[str, list] = defaultdict(list)
    for f in brute:
        by_src[f.entity].append(f)
    missed = sorted(ip for ip in gt if ip not in by_src)
    overlapping = sorted(ip for ip, fs in by_src.items()
                         if any(a.start <= b.end and b.start <= a.end for i, a in enumerate(fs) for b in fs[i + 1:]))
    admin_compromise = [f.title for f in res.findings if f.detector == "identity.compromise" and f.entity == ADMIN]
    return {
        "lines": sum(1 for _ in open(AUTH, "rb")),
        "ground_truth_sources": len(gt),
        "reported_sources": len(by_src),
        "missed_sources": missed,
        "recall": round((len(gt) - len(missed)) / len(gt), 4) if gt else None,
        "extra_sources_reported": sorted(set(by_src) - set(gt)),
        "findings_per_source_max": max((len(v) for v in by_src.values()), default=0),
        "sources_with_overlapping_findings": overlapping,
        "admin_reported_as_compromise": admin_compromise,
        "findings_by_detector": res.summary()["findings_by_detector"],
        "target_met": not missed and not overlapping and not admin_compromise,
    }


def accuracy_evtx() -> dict:
    if not EVTX.is_dir():
        return {"skipped": f"{EVTX} absent"}
    out = {}
    for f in sorted(EVTX.glob("*.evtx")):
        res = scan_identity([f])
        out[f.name] = [{"detector": x.detector, "severity": x.severity, "title": x.title} for x in res.findings]
    expect = {"kerberos_pwd_spray_4771.evtx": "spraying", "MSSQL_multiple_failed_logon_EventID_18456.evtx": "spraying"}
    found = {name: any(word in x["title"].lower() for x in out.get(name, [])) for name, word in expect.items()}
    benign = "CA_4624_4625_LogonType2_LogonProc_chrome.evtx"
    high_in_benign = [x for x in out.get(benign, []) if x["severity"] in ("high", "critical")]
    return {"findings": out, "attack_found": found, "high_severity_in_benign_noise": high_in_benign,
            "target_met": all(found.values()) and not high_in_benign}


# ---------------------------------------------------------------- speed
def make_authlog(path: Path, lines: int) -> int:
    from threatml.identity.synthetic import auth_log_lines

    n, days, chunk = 0, 0, []
    with open(path, "w") as fh:
        while n < lines:
            # one server-week at a time, heavy internet noise: like a public SSH server
            got, _ = auth_log_lines(days=7, seed=days, noise_per_hour=250, brute_sources=6,
                                    start=datetime(2023, 1, 2, tzinfo=timezone.utc) + timedelta(days=7 * days))
            chunk = got[: lines - n]
            fh.write("\n".join(chunk) + "\n")
            n += len(chunk)
            days += 1
    return n


def make_evtx(path: Path, chunks: int, sources: list[Path] | None = None) -> None:
    """An EVTX file of ``chunks`` chunks copied round-robin from one-chunk samples (header count and CRC fixed)."""
    sources = sources or [EVTX / "kerberos_pwd_spray_4771.evtx"]
    raws = [p.read_bytes() for p in sources]
    hdr = bytearray(raws[0][:4096])
    hdr[0x10:0x18] = (chunks - 1).to_bytes(8, "little")  # last chunk number
    hdr[0x2A:0x2C] = chunks.to_bytes(2, "little")  # chunk count
    hdr[0x7C:0x80] = zlib.crc32(bytes(hdr[:120])).to_bytes(4, "little")
    with open(path, "wb") as fh:
        fh.write(hdr)
        for i in range(chunks):
            fh.write(raws[i % len(raws)][4096:4096 + 65536])


_CHILD = """
import json, resource, sys, time
from pathlib import Path
from threatml.detectors.identity import detectors
from threatml.detectors.registry import ScanOptions
from threatml.pipeline.scan import Scanner
from threatml.readers import reader_classes
reader_classes()
path = Path(sys.argv[1])
if len(sys.argv) > 2:  # warm-up on a small file of the same format: lazy imports are not throughput
    Scanner(detectors(ScanOptions())).scan([Path(sys.argv[2])])
t, c = time.perf_counter(), time.process_time()
res = Scanner(detectors(ScanOptions())).scan([path])
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"records": res.summary()["records"], "wall_s": wall, "cpu_s": cpu, "findings": len(res.findings),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


_READER_CHILD = """
import json, resource, sys, time
from pathlib import Path
from threatml.errors import ReadReport
from threatml.readers.evtx import EvtxReader
path, warm, fast = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "fast"
list(EvtxReader(fast=fast).read(warm, ReadReport()))
t, c = time.perf_counter(), time.process_time()
events = sum(len(b) for b in EvtxReader(fast=fast).read(path, ReadReport()))
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"records": events, "wall_s": wall, "cpu_s": cpu, "findings": 0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def timed(path: Path, warm: Path | None = None, child: str = _CHILD, *extra: str) -> dict:
    argv = [sys.executable, "-c", child, str(path)] + ([str(warm)] if warm is not None else []) + list(extra)
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(repeat: int, *args) -> dict:
    """The run with the least CPU time of ``repeat`` child runs (others' load only ever adds), with all CPU times."""
    runs = [timed(*args) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["cpu_s"])
    return {**best, "cpu_s_runs": sorted(round(r["cpu_s"], 3) for r in runs)}


def evtx_speed(path: Path, records: int, rust: float, repeat: int) -> dict:
    """Scan (reader + every identity detector) and reader-only rates, columnar vs per-record path."""
    warm = EVTX / "kerberos_pwd_spray_4771.evtx"
    r = best_of(repeat, path, warm)
    rate = lambda x: round(records / x)  # noqa: E731
    out = {"records": records, "mb": round(path.stat().st_size / 1e6, 1),
           "wall_s": round(r["wall_s"], 2), "records_per_s": rate(r["wall_s"]),
           "cpu_s": round(r["cpu_s"], 2), "records_per_cpu_s": rate(r["cpu_s"]), "cpu_s_runs": r["cpu_s_runs"],
           "parser_only_records_per_cpu_s": rate(rust), "events": r["records"], "findings": r["findings"],
           "peak_rss_mb": round(r["peak_rss_mb"]), "target": ">= 50,000 records/s"}
    for mode in ("fast", "per-record"):
        q = best_of(repeat, path, warm, _READER_CHILD, mode)
        out[f"reader_only_{mode}"] = {"records_per_cpu_s": rate(q["cpu_s"]), "records_per_s": rate(q["wall_s"]),
                                      "events": q["records"], "peak_rss_mb": round(q["peak_rss_mb"])}
    return out


def authlog_speed(tmp: Path, lines: int) -> dict:
    log = tmp / "auth.log"
    n = make_authlog(log, lines)
    warm = tmp / "warm.log"
    make_authlog(warm, 5000)
    r = timed(log, warm)
    mb = round(log.stat().st_size / 1e6, 1)
    log.unlink()
    return {"lines": n, "mb": mb, "events": r["records"],
            "wall_s": round(r["wall_s"], 2), "lines_per_s": round(n / r["wall_s"]),
            "cpu_s": round(r["cpu_s"], 2), "lines_per_cpu_s": round(n / r["cpu_s"]),
            "findings": r["findings"], "peak_rss_mb": round(r["peak_rss_mb"]),
            "target": ">= 100,000 lines/s parsed and scored"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--chunks", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3, help="EVTX timed runs per figure; the least CPU time is kept")
    ap.add_argument("--skip-mixed", action="store_true", help="only the Kerberos-spray EVTX file")
    ap.add_argument("--evtx-only", action="store_true", help="skip the auth.log accuracy and speed runs")
    args = ap.parse_args()
    result = {"bench": "identity", "load_average_at_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    if not args.evtx_only:
        result["authlog_accuracy"] = accuracy_authlog()
    result["evtx_accuracy"] = accuracy_evtx()
    with tempfile.TemporaryDirectory(prefix="threatml-bench-id-") as tmp:
        if not args.evtx_only:
            result["authlog_speed"] = authlog_speed(Path(tmp), args.lines)
        if EVTX.is_dir():
            import evtx

            samples = sorted(EVTX.glob("*.evtx"))
            for key, sources in (("evtx_speed", None), ("evtx_speed_mixed", samples)):
                if key == "evtx_speed_mixed" and args.skip_mixed:
                    continue
                ev = Path(tmp) / f"{key}.evtx"
                make_evtx(ev, args.chunks, sources)
                t = time.process_time()
                records = sum(1 for _ in evtx.PyEvtxParser(str(ev), number_of_threads=1).records_json())
                result[key] = evtx_speed(ev, records, time.process_time() - t, args.repeat)
                names = [p.name for p in sources or [EVTX / "kerberos_pwd_spray_4771.evtx"]]
                result[key]["file"] = f"{args.chunks} chunks copied round-robin from " + ", ".join(names)
                ev.unlink()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
