"""Throughput of the behavioural flow detectors on realistic synthetic flows.

Generates ``--batches`` batches of ``--rows`` flows (a busy network: thousands
of internal hosts browsing a Zipf-distributed set of external sites, DNS to
resolvers, NTP, file servers, a public web server, plus a port scan, a SYN
flood, SSH guessing, a beacon and an upload mixed in), feeds them to the five
detectors and prints flows/s per detector, for all five together, and peak RSS.

    .venv/bin/python bench/bench_detectors.py --rows 200000 --batches 5
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from threatml.detectors.network.beacon import BeaconDetector
from threatml.detectors.network.bruteforce import BruteForceDetector
from threatml.detectors.network.dos import DoSDetector
from threatml.detectors.network.exfil import ExfiltrationDetector
from threatml.detectors.network.portscan import PortScanDetector
from threatml.detectors.network.window import flow_view
from threatml.events import EventBatch


def synthetic_batch(rng: np.random.Generator, rows: int, t0: float, seconds: float, k: int) -> pd.DataFrame:
    """One batch of mostly benign flows with a little of every attack."""
    hosts = np.array([f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(1, 4001)])
    sites = np.array([f"{23 + i // 65536}.{i // 256 % 256}.{i % 256}.{(i * 7) % 250 + 1}" for i in range(60_000)])
    n = rows
    kind = rng.choice(5, n, p=[0.62, 0.25, 0.03, 0.05, 0.05])  # web, dns, ntp, internal, inbound web
    src = hosts[rng.integers(0, len(hosts), n)]
    dst = sites[np.minimum(rng.zipf(1.3, n) - 1, len(sites) - 1)]
    port = rng.choice([443.0, 80.0], n, p=[0.85, 0.15])
    proto = np.full(n, "tcp", dtype=object)
    dst = np.where(kind == 1, np.array(["10.0.0.53", "10.0.0.54"])[rng.integers(0, 2, n)], dst)
    port = np.where(kind == 1, 53.0, port)
    dst = np.where(kind == 2, "129.6.15.28", dst)
    port = np.where(kind == 2, 123.0, port)
    proto[(kind == 1) | (kind == 2)] = "udp"
    dst = np.where(kind == 3, hosts[rng.integers(0, 50, n)], dst)
    port = np.where(kind == 3, rng.choice([445.0, 389.0, 88.0, 135.0, 8080.0], n), port)
    src = np.where(kind == 4, sites[rng.integers(0, len(sites), n)], src)
    dst = np.where(kind == 4, "10.0.0.80", dst)
    port = np.where(kind == 4, 443.0, port)
    state = rng.choice(np.array(["SF", "S1", "RSTO", "S0", "REJ", "OTH"]), n, p=[0.8, 0.06, 0.06, 0.04, 0.02, 0.02])
    sb = rng.lognormal(7, 1.2, n)
    db = rng.lognormal(9.5, 2, n)
    fr = pd.DataFrame({
        "@timestamp": t0 + rng.uniform(0, seconds, n), "source.ip": src,
        "source.port": rng.integers(1024, 65535, n).astype(float), "destination.ip": dst,
        "destination.port": port, "network.transport": proto, "network.protocol": "",
        "flow.duration": rng.lognormal(0, 1.5, n), "source.bytes": sb, "destination.bytes": db,
        "source.packets": np.ceil(sb / 900) + 2, "destination.packets": np.ceil(db / 1400) + 2,
        "flow.state": state, "event.id": [f"C{k}x{i}" for i in range(n)],
    })
    # attacks: a vertical scan, a SYN flood, SSH guessing, a beacon, a large upload
    m = 1000
    att = pd.DataFrame({
        "@timestamp": t0 + rng.uniform(0, seconds, m), "source.ip": "10.0.9.9", "destination.ip": "10.0.0.10",
        "destination.port": rng.permutation(np.arange(1, m + 1)).astype(float), "network.transport": "tcp",
        "flow.state": "REJ", "event.id": [f"S{k}x{i}" for i in range(m)]})
    flood = pd.DataFrame({
        "@timestamp": t0 + rng.uniform(0, seconds, 5 * m), "source.ip": sites[rng.integers(0, 500, 5 * m)],
        "destination.ip": "10.0.0.80", "destination.port": 80.0, "network.transport": "tcp", "flow.state": "S0",
        "event.id": [f"F{k}x{i}" for i in range(5 * m)]})
    brute = pd.DataFrame({
        "@timestamp": t0 + rng.uniform(0, seconds, 100), "source.ip": "198.51.100.7", "destination.ip": "10.0.0.22",
        "destination.port": 22.0, "network.transport": "tcp", "flow.state": "SF", "flow.duration": 2.0,
        "destination.bytes": rng.normal(2000, 40, 100), "event.id": [f"B{k}x{i}" for i in range(100)]})
    beacon = pd.DataFrame({
        "@timestamp": t0 + np.arange(0, seconds, 30.0), "source.ip": "10.0.7.7", "destination.ip": "203.0.113.9",
        "destination.port": 443.0, "network.transport": "tcp", "source.bytes": 300.0,
        "event.id": [f"K{k}x{i}" for i in range(len(np.arange(0, seconds, 30.0)))]})
    return pd.concat([fr, att, flood, brute, beacon], ignore_index=True).sample(frac=1.0, random_state=k)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=120.0, help="traffic time covered by one batch")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(42)
    t0 = 1_700_000_000.0
    batches = [EventBatch.of("flow", synthetic_batch(rng, args.rows, t0 + i * args.seconds, args.seconds, i), source="bench")
               for i in range(args.batches)]
    total = sum(len(b) for b in batches)
    dets = [PortScanDetector(), DoSDetector(), BruteForceDetector(), BeaconDetector(), ExfiltrationDetector()]
    spent = {d.name: 0.0 for d in dets}
    cpu = {d.name: 0.0 for d in dets}
    found = {d.name: 0 for d in dets}
    view_s = view_cpu = 0.0
    for b in batches:
        t, c = time.perf_counter(), time.process_time()
        flow_view(b)  # shared by all detectors (cached on the batch)
        view_s += time.perf_counter() - t
        view_cpu += time.process_time() - c
        for d in dets:
            t, c = time.perf_counter(), time.process_time()
            found[d.name] += len(d.process(b))
            spent[d.name] += time.perf_counter() - t
            cpu[d.name] += time.process_time() - c
    for d in dets:
        t, c = time.perf_counter(), time.process_time()
        found[d.name] += len(d.flush())
        spent[d.name] += time.perf_counter() - t
        cpu[d.name] += time.process_time() - c
    # wall clock is what a user sees; CPU time is what the code costs when other jobs share the cores
    print(f"{total:,} flows in {len(batches)} batches of ~{args.rows:,}")
    print(f"{'':<24} {'wall flows/s':>14} {'cpu flows/s':>14}")
    print(f"{'shared flow view':<24} {total / view_s:>14,.0f} {total / max(view_cpu, 1e-9):>14,.0f}")
    for name, s in spent.items():
        print(f"{name:<24} {total / s:>14,.0f} {total / max(cpu[name], 1e-9):>14,.0f}   findings={found[name]}")
    all_s, all_cpu = view_s + sum(spent.values()), view_cpu + sum(cpu.values())
    print(f"{'all five together':<24} {total / all_s:>14,.0f} {total / all_cpu:>14,.0f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS {rss / 1024 if sys.platform != 'darwin' else rss / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
