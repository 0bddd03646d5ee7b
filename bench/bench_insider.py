"""Insider-threat detection on generated CERT-style logs: ranking quality, speed, memory.

A synthetic organisation (``--users`` users over ``--weeks`` weeks, see
``threatml/detectors/insider/synthetic.py``) gets ``--per-scenario`` planted
insiders of each CERT r4.2-like story (leak, jobhunt, sabotage). The CERT
reader and the insider detector run over the five CSVs as ``threatml scan``
would; users are ranked by their strongest finding. Prints precision@k and
recall@k (k = planted insiders), recall@2k, every planted user's rank and
whether the reported period overlaps the planted days, events/s and peak RSS,
for each ``--seeds`` organisation; results also go to ``bench/results/insider.json``.

    .venv/bin/python bench/bench_insider.py [--users 300] [--weeks 12] [--per-scenario 2] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.detectors.insider.activity import InsiderActivityDetector
from threatml.detectors.insider.synthetic import generate_cert
from threatml.errors import ReadReport
from threatml.readers.cert import CertActivityReader

ROOT = Path(__file__).resolve().parent.parent


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def run_one(users: int, weeks: int, per: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        truth = generate_cert(folder, users=users, weeks=weeks, seed=seed,
                              insiders={"leak": per, "jobhunt": per, "sabotage": per})
        gen_s = time.perf_counter() - t
        det, rep, reader = InsiderActivityDetector(), ReadReport(), CertActivityReader()
        t = time.perf_counter()
        n = 0
        for f in sorted(folder.rglob("*.csv")):
            for b in reader.read(f, rep):
                n += len(b)
                det.process(b)
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        findings = det.flush()
        flush_s = time.perf_counter() - t
    ranked: list[str] = []
    best: dict[str, object] = {}
    for f in sorted(findings, key=lambda f: -f.score):
        if f.entity not in best:
            best[f.entity] = f
            ranked.append(f.entity)
    planted = {t["user"]: t for t in truth}
    k = len(planted)
    hits_k = sum(u in planted for u in ranked[:k])
    out = {
        "seed": seed, "users": users, "weeks": weeks, "events": n, "planted": k,
        "precision_at_k": round(hits_k / k, 3), "recall_at_k": round(hits_k / k, 3),
        "recall_at_2k": round(sum(u in planted for u in ranked[:2 * k]) / k, 3),
        "recall_any_finding": round(sum(u in best for u in planted) / k, 3),
        "users_with_findings": len(ranked), "findings": len(findings),
        "generate_s": round(gen_s, 2), "read_and_aggregate_s": round(read_s, 2), "score_s": round(flush_s, 2),
        "events_per_s": round(n / (read_s + flush_s)),
        "planted_ranks": {},
    }
    for u, t in planted.items():
        rank = ranked.index(u) + 1 if u in ranked else None
        overlap = None
        if u in best:
            first = pd.Timestamp(t["first_day"]).timestamp()
            last = pd.Timestamp(t["last_day"]).timestamp() + 86399
            overlap = any(f.entity == u and f.start <= last and f.end >= first for f in findings)
        out["planted_ranks"][u] = {"scenario": t["scenario"], "rank": rank, "period_overlaps_planted_days": overlap}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--weeks", type=int, default=12)
    ap.add_argument("--per-scenario", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    runs = []
    for seed in range(a.seeds):
        r = run_one(a.users, a.weeks, a.per_scenario, seed)
        runs.append(r)
        ranks = ", ".join(f"{v['scenario']}:{v['rank']}" for v in r["planted_ranks"].values())
        print(f"seed {seed}: {r['events']:,} events from {a.users} users x {a.weeks} weeks; "
              f"precision@{r['planted']} {r['precision_at_k']:.2f}, recall@{2 * r['planted']} {r['recall_at_2k']:.2f}, "
              f"any finding {r['recall_any_finding']:.2f}; ranks [{ranks}]; {r['users_with_findings']} users flagged; "
              f"{r['events_per_s']:,} events/s (read+aggregate {r['read_and_aggregate_s']} s, score {r['score_s']} s)")
    scen: dict[str, list] = {}
    for r in runs:
        for v in r["planted_ranks"].values():
            scen.setdefault(v["scenario"], []).append(v["rank"])
    summary = {
        "precision_at_k_mean": round(float(np.mean([r["precision_at_k"] for r in runs])), 3),
        "recall_at_2k_mean": round(float(np.mean([r["recall_at_2k"] for r in runs])), 3),
        "ranks_by_scenario": scen,
        "events_per_s_mean": round(float(np.mean([r["events_per_s"] for r in runs]))),
        "peak_rss_mib": round(_peak_mib()),
    }
    print(f"mean precision@k {summary['precision_at_k_mean']}, mean recall@2k {summary['recall_at_2k_mean']}, "
          f"ranks by scenario {scen}; {summary['events_per_s_mean']:,} events/s; peak RSS {summary['peak_rss_mib']:,} MiB")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "insider.json").write_text(json.dumps({"runs": runs, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
