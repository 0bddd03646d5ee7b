"""Indicator load and match rates (issue 7 targets: 1M indicators in < 10 s, >= 1M events/s).

Generates, seeded, a plain-list feed and a CSV feed together holding
``--indicators`` indicators (IPv4 addresses, IPv4 CIDRs, domains, URLs, SHA-256
hashes), loads them with :func:`threatml.intel.load_feeds` (parse, classify,
merge, expiry), builds the matcher, then matches ``--events`` flow events
(string address columns, ~1% listed) and a DNS name column, and runs the IOC
detector on flow batches. Prints rates and peak RSS.

    .venv/bin/python bench/bench_intel.py --indicators 1000000 --events 2000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.detectors.intel import IntelDetector
from threatml.events import EventBatch
from threatml.intel import IndicatorMatcher, load_feeds
from threatml.intel.indicators import int_to_ipv4


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def write_feeds(folder: Path, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Plain list (80%: addresses, CIDRs, hashes) + CSV (20%: domains, URLs). Returns listed ints and domains."""
    n_ip, n_cidr = int(n * 0.70), int(n * 0.02)
    n_hash = int(n * 0.08)
    n_dom, n_url = int(n * 0.15), n - int(n * 0.70) - int(n * 0.02) - int(n * 0.08) - int(n * 0.15)
    ips = rng.integers(0x01000000, 0xDF000000, n_ip, dtype=np.uint32)
    nets = rng.integers(0x01000000, 0xDF000000, n_cidr, dtype=np.uint32)
    plen = rng.choice([20, 24, 28], n_cidr)
    hashes = [f"{x:064x}" for x in rng.integers(0, 2**63, n_hash)]
    plain = pd.concat([int_to_ipv4(ips), int_to_ipv4(nets) + "/" + pd.Series(plen).astype(str), pd.Series(hashes)])
    (folder / "bench-list.txt").write_text("# generated\n" + "\n".join(plain.tolist()) + "\n")
    labels = pd.Series(rng.integers(0, 36**6, n_dom)).map(lambda x: np.base_repr(x, 36).lower())
    domains = labels + ".bad" + pd.Series(rng.integers(0, 50, n_dom)).astype(str) + ".example"
    urls = "http://" + domains.iloc[:n_url].reset_index(drop=True) + "/p/" + pd.Series(np.arange(n_url)).astype(str)
    csv = pd.DataFrame({"indicator": pd.concat([domains, urls], ignore_index=True), "confidence": 70,
                        "tags": "c2", "first_seen": "2026-01-01 00:00:00", "valid_until": "2099-01-01"})
    (folder / "bench-feed.csv").write_text("# header follows\n" + csv.to_csv(index=False))
    return ips, domains.to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--indicators", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        listed, domains = write_feeds(folder, a.indicators, rng)
        t = time.perf_counter()
        iocs = load_feeds([folder / "bench-list.txt", folder / "bench-feed.csv"])
        load_s = time.perf_counter() - t
    t = time.perf_counter()
    matcher = IndicatorMatcher(iocs)
    build_s = time.perf_counter() - t
    print(f"load    {len(iocs):>10,} indicators in {load_s:6.2f} s  ({len(iocs) / load_s:,.0f}/s)  types {iocs.counts()}")
    print(f"build   matcher in {build_s:.2f} s")

    # events: internal sources, destinations from a pool of 200k external addresses, 1% of them listed
    pool = rng.integers(0x01000000, 0xDF000000, 200_000, dtype=np.uint32)
    pool[: 2000] = listed[:2000]
    pool_s = int_to_ipv4(pool).to_numpy()
    hosts = int_to_ipv4(np.uint32(0x0A000000) + rng.integers(1, 20_000, 20_000).astype(np.uint32)).to_numpy()
    n = a.events
    dst = pd.Series(pool_s[rng.integers(0, len(pool_s), n)], dtype="str")
    src = pd.Series(hosts[rng.integers(0, len(hosts), n)], dtype="str")

    t = time.perf_counter()
    hits = 0
    for lo in range(0, n, a.batch):
        hits += len(matcher.match_ips(dst.iloc[lo:lo + a.batch]))
    ip_s = time.perf_counter() - t
    print(f"match   {n:>10,} destination.ip values in {ip_s:6.2f} s  ({n / ip_s:,.0f} events/s), {hits:,} hits")

    names = pd.Series(np.where(rng.random(n // 4) < 0.01, "www." + domains[rng.integers(0, len(domains), n // 4)],
                               "host" + pd.Series(rng.integers(0, 100_000, n // 4)).astype(str) + ".benign.example"),
                      dtype="str")
    t = time.perf_counter()
    dh = len(matcher.match_domains(names))
    dom_s = time.perf_counter() - t
    print(f"match   {len(names):>10,} dns names (suffixes) in {dom_s:6.2f} s  ({len(names) / dom_s:,.0f} events/s), {dh:,} hits")

    det = IntelDetector(iocs)
    ts = np.sort(rng.uniform(1.78e9, 1.78e9 + 86400, n))
    t = time.perf_counter()
    found = 0
    for lo in range(0, n, a.batch):
        sl = slice(lo, lo + a.batch)
        frame = pd.DataFrame({"event.id": pd.Series(np.arange(lo, min(lo + a.batch, n))).astype(str),
                              "@timestamp": ts[sl], "source.ip": src.iloc[sl].to_numpy(),
                              "destination.ip": dst.iloc[sl].to_numpy()})
        found += len(det.process(EventBatch.of("flow", frame)))
    found += len(det.flush())
    det_s = time.perf_counter() - t
    print(f"detect  {n:>10,} flows (both address columns, incl. batch building) in {det_s:6.2f} s "
          f"({n / det_s:,.0f} flows/s), {found:,} findings")
    print(f"peak RSS {_peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
