"""Incidents on the demo scenario, and incident grouping speed.

    python bench/bench_incidents.py [--seeds 7 11 23] [--hours 6] [--findings 200000]

Part 1 (issue 7 target): for each seed, simulate the demo office (network,
mail folder, jump host auth.log: ``threatml demo``'s data), scan it and
check that every injected attack ends up in an incident, and that the number
of incidents stays within the injected attacks plus ALLOWANCE.

Part 2: group N synthetic findings (many entities, cross-domain links) and
report findings/s and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: incidents allowed beyond the injected attacks: benign activity a detector
#: reasonably reports (e.g. a vendor's beacon-like updater) in a 6 h demo
ALLOWANCE = 2


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo_part(seeds: list[int], hours: float) -> bool:
    from threatml.demo.ground_truth import match_ground_truth
    from threatml.demo.network import PUBLIC_DOMAIN, generate
    from threatml.demo.story import add_story
    from threatml.detectors.registry import ScanOptions, default_detectors
    from threatml.findings.incidents import group_incidents
    from threatml.pipeline.scan import Scanner

    ok = True
    print(f"{'seed':>5} {'attacks':>8} {'found':>6} {'incidents':>10} {'limit':>6}  verdict")
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            sc = generate(Path(tmp), hours=hours, hosts=40, seed=seed)
            extra, _ = add_story(sc, seed=seed)
            opts = ScanOptions(protected_domains=(PUBLIC_DOMAIN,))
            res = Scanner(default_detectors(opts)).scan([str(p) for p in sc.log_paths + extra])
            incs = group_incidents(res.findings)
            found = sum(1 for _, inc in match_ground_truth(sc, incs) if inc is not None)
            limit = len(sc.attacks) + ALLOWANCE
            good = found == len(sc.attacks) and len(incs) <= limit
            ok &= good
            print(f"{seed:>5} {len(sc.attacks):>8} {found:>6} {len(incs):>10} {limit:>6}  {'ok' if good else 'MISSED'}")
    return ok


def grouping_part(n: int) -> None:
    from threatml.findings import Finding
    from threatml.findings.incidents import group_incidents

    rng = np.random.default_rng(1)
    hosts = [f"10.{i // 250}.{i % 250}.{rng.integers(1, 250)}" for i in range(5000)]
    users = [f"user{i}" for i in range(3000)]
    dets = ["network.portscan", "network.beacon", "identity.rare-source", "email.phishing", "files.malware"]
    t = np.sort(rng.uniform(0, 30 * 86400, n))
    findings = []
    for i in range(n):
        d = dets[i % len(dets)]
        if d.startswith("identity"):
            ent, et, rel = users[rng.integers(len(users))], "user", {"host": [hosts[rng.integers(len(hosts))]]}
        elif d.startswith("email"):
            ent, et, rel = users[rng.integers(len(users))] + "@corp.example", "mailbox", {}
        else:
            ent, et, rel = hosts[rng.integers(len(hosts))], "host", {}
        findings.append(Finding.make(detector=d, detector_version="1", title=d, start=float(t[i]),
                                     end=float(t[i]) + 60, entity=ent, entity_type=et, score=float(rng.uniform()),
                                     related=rel, attack=["T1046"] if "scan" in d else []))
    t0 = time.perf_counter()
    incs = group_incidents(findings)
    dt = time.perf_counter() - t0
    print(f"\ngrouped {n:,} findings into {len(incs):,} incidents in {dt:.2f} s "
          f"({n / dt:,.0f} findings/s), peak {peak_mib():,.0f} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--findings", type=int, default=200_000)
    args = ap.parse_args()
    ok = demo_part(args.seeds, args.hours)
    grouping_part(args.findings)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
