"""Sigma: load and compile the SigmaHQ collection, then evaluation throughput on generated events.

* ``load``   - every rule file under ``--rules`` (default the shared SigmaHQ copy):
  load seconds, compile seconds, counts per status (loaded, compiled, broken
  YAML, invalid rule, unsupported, compile error, no matching event source)
  and compiled rules per event kind.
* ``eval``   - ``--process`` generated Sysmon-1-like process creations (0.1 %
  injected attacks from ``threatml.sigma.synthetic``) through every compiled
  process rule, and ``--auth`` Windows logon events through every auth rule,
  with the full ``SigmaDetector`` (every applicable rule by default; matching +
  grouping into findings), in events/s of wall time and per CPU-second (the
  machine is shared); findings and how many injected attack events were matched.

Peak RSS is printed at the end.

    .venv/bin/python bench/bench_sigma.py
    .venv/bin/python bench/bench_sigma.py --process 20000 --auth 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from threatml.detectors.sigma.rules import SigmaDetector
from threatml.events import EventBatch
from threatml.sigma.synthetic import auth_events, process_events

RULES = Path(__file__).resolve().parents[1].parent / "shared" / "rules" / "sigma"
if not RULES.is_dir():
    RULES = Path("/work/shared/rules/sigma")


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=Path, default=RULES)
    ap.add_argument("--process", type=int, default=50_000)
    ap.add_argument("--auth", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--min-level", default="informational",
                    help="lowest rule level run (default: every applicable rule; the scan detector uses low)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if not a.rules.exists():
        print(json.dumps({"skipped": f"{a.rules} missing"}))
        return 0
    res: dict = {"rules": str(a.rules)}
    files = sum(1 for p in a.rules.rglob("*") if p.suffix.lower() in (".yml", ".yaml"))
    det = SigmaDetector([a.rules], min_level=a.min_level)
    rs = det.ruleset
    per_kind: dict[str, int] = {}
    for r in rs.compiled.rules:
        per_kind[r.kind] = per_kind.get(r.kind, 0) + 1
    res["load"] = {"files": files, "load_seconds": round(rs.load_seconds, 2), "compile_seconds": round(rs.compile_seconds, 2),
                   "counts": rs.counts(), "compiled_per_kind": per_kind}
    print(json.dumps({"load": res["load"]}, indent=1), flush=True)
    res["eval"] = {}
    for kind, n, gen in (("process", a.process, lambda n, s: process_events(n, seed=s, attack_rate=0.001)),
                         ("auth", a.auth, lambda n, s: auth_events(n, seed=s))):
        if n <= 0:
            continue
        frames = [EventBatch.of(kind, gen(min(a.batch, n - i), i), source=f"generated-{kind}")
                  for i in range(0, n, a.batch)]
        t0, c0 = time.perf_counter(), time.process_time()
        findings = []
        for b in frames:
            findings += det.process(b)
        findings += det.flush()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        eng = det._engines.get(kind)
        out = {"events": n, "rules_run": len(eng.rules) if eng else 0, "events_per_s": round(n / dt),
               "events_per_cpu_s": round(n / cpu), "seconds": round(dt, 1), "load_average_1m": round(os.getloadavg()[0], 1),
               "findings": len(findings)}
        if kind == "process":
            attack_ids = {i for b in frames for i in b.frame.loc[b.frame["label"] == "malicious", "event.id"]}
            hit = {e for f in findings for e in f.evidence}
            out["injected_attack_events"] = len(attack_ids)
            out["injected_matched"] = len(attack_ids & hit)
            out["benign_events_matched"] = len(hit - attack_ids)  # evidence lists are capped at 100 per finding
            out["findings_without_injected_event"] = sum(1 for f in findings if not set(f.evidence) & attack_ids)
            per_rule: dict[str, int] = {}
            for f in findings:
                per_rule[f.title] = per_rule.get(f.title, 0) + f.evidence_count
            out["top_rules_by_matched_events"] = sorted(per_rule.items(), key=lambda x: -x[1])[:8]
            out["distinct_value_combinations_last_batch"] = getattr(eng, "last_distinct", None)
        res["eval"][kind] = out
        print(json.dumps({kind: out}, indent=1), flush=True)
    res["peak_rss_mib"] = round(_peak_mib())
    print(json.dumps({"peak_rss_mib": res["peak_rss_mib"]}))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
