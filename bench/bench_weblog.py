"""Access-log reading and attack detection: lines/s, peak memory, campaign precision/recall.

Parts (all by default; pick with ``--parts``):

* ``speed``  - writes a generated ``--lines`` line combined-format access log
  (default 1,000,000; benign targets from the shared benign URL list when
  present), then times reading alone (``AccessLogReader``) and reading plus
  detection (``WebAttackDetector``, rules only and with the request model),
  in lines/s of wall time and per CPU-second of this process (the machine
  is shared, so wall time depends on the load; the 1-minute load average is
  printed), with peak RSS. Generated in one-day chunks of 100,000 lines.
* ``detect`` - a generated labeled mix (``--mix-lines``, default 200,000) of
  benign clients and attack campaigns (one client each: SQL injection, XSS,
  traversal, command injection, scanner, credential stuffing; plus
  distributed credential stuffing from 40 addresses): client-level precision
  and recall of the findings (a finding is true when its client, or for the
  distributed finding one of its listed clients, ran a campaign).
* ``model``  - the request model: trained on seen payload sub-families and
  half the benign URLs, measured on held-out sub-families and the other half.

    .venv/bin/python bench/bench_weblog.py
    .venv/bin/python bench/bench_weblog.py --parts speed --lines 200000
    .venv/bin/python bench/bench_weblog.py --parts speed --no-model   # peak RSS of read + rules alone
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from threatml.detectors.weblog.attacks import WebAttackDetector
from threatml.errors import ReadReport
from threatml.readers.weblog import AccessLogReader
from threatml.detectors.weblog.synthetic import access_log, load_benign_urls

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")
BENIGN = DATASETS / "url/phishtank_unb_urls/DataFiles/1.Benign_list_big_final.csv"


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def _urls() -> list[str] | None:
    return load_benign_urls(BENIGN) if BENIGN.exists() else None


def _write(path: Path, n: int, seed: int, urls, chunk: int = 100_000) -> tuple[list[str], list[str]]:
    """Generate in chunks of one day each (bounded memory), appended in time order."""
    ips: list[str] = []
    labels: list[str] = []
    with open(path, "w") as fh:
        for k, start in enumerate(range(0, n, chunk)):
            lines, labs = access_log(random.Random(seed * 1000 + k), min(chunk, n - start), urls,
                                     start=1.7e9 + k * 86_400.0)
            fh.write("\n".join(lines) + "\n")
            if n <= 500_000:
                ips += [ln.split(" ", 1)[0] for ln in lines]
                labels += labs
    return ips, labels


def _run(path: Path, det: WebAttackDetector | None) -> tuple[float, float, int, list]:
    """(wall seconds, CPU seconds of this process, lines, findings)."""
    t0, c0 = time.perf_counter(), time.process_time()
    n, findings = 0, []
    for b in AccessLogReader().read(path, ReadReport()):
        n += len(b)
        if det is not None:
            findings += det.process(b)
    if det is not None:
        findings += det.flush()
    return time.perf_counter() - t0, time.process_time() - c0, n, findings


def _model_folder(tmp: Path, urls) -> Path | None:
    from threatml.detectors.weblog.train import save_request_model, train_request_model

    if not urls:
        return None
    model, metrics = train_request_model(urls, seed=0)
    return save_request_model(tmp / "request-model", model, metrics, [BENIGN])


def speed(n: int, tmp: Path, urls, model_dir) -> dict:
    path = tmp / "access.log"
    _write(path, n, 1, urls)
    size = path.stat().st_size
    out = {"lines": n, "mib": round(size / 2**20, 1), "load_average_1m": round(os.getloadavg()[0], 1)}
    dt, cpu, got, _ = _run(path, None)
    out["read_lines_per_s"] = round(got / dt)
    out["read_lines_per_cpu_s"] = round(got / cpu)
    out["read_mib_per_s"] = round(size / 2**20 / dt, 1)
    dt, cpu, _, f = _run(path, WebAttackDetector(model=False))
    out["read_detect_rules_lines_per_s"] = round(got / dt)
    out["read_detect_rules_lines_per_cpu_s"] = round(got / cpu)
    if model_dir is not None:
        dt, cpu, _, f = _run(path, WebAttackDetector(model=model_dir))
        out["read_detect_rules_model_lines_per_s"] = round(got / dt)
        out["read_detect_rules_model_lines_per_cpu_s"] = round(got / cpu)
    out["findings"] = len(f)
    out["peak_rss_mib"] = round(_peak_mib())
    return out


def detect(n: int, tmp: Path, urls, model_dir) -> dict:
    path = tmp / "mix.log"
    ips, labels = _write(path, n, 2, urls)
    truth = {ip for ip, lab in zip(ips, labels) if lab}
    kinds = {}
    for ip, lab in zip(ips, labels):
        if lab:
            kinds.setdefault(lab, set()).add(ip)
    out = {"lines": n, "attack_lines": sum(1 for x in labels if x), "campaign_clients": len(truth)}
    for name, ref in (("rules", False), ("rules+model", model_dir)):
        if ref is None:
            continue
        _, _, _, findings = _run(path, WebAttackDetector(model=ref))
        flagged, tp_f = set(), 0
        for f in findings:
            clients = set(f.related.get("source.ip", [])) if f.entity_type == "url" else {f.entity}
            flagged |= clients
            tp_f += bool(clients & truth)
        res = {"findings": len(findings), "finding_precision": round(tp_f / max(len(findings), 1), 4),
               "client_recall": round(len(flagged & truth) / max(len(truth), 1), 4),
               "false_clients": len(flagged - truth),
               "recall_per_campaign": {k: round(len(v & flagged) / len(v), 3) for k, v in sorted(kinds.items())}}
        out[name] = res
    return out


def model_part(urls) -> dict:
    from threatml.detectors.weblog.train import train_request_model

    if not urls:
        return {"skipped": f"{BENIGN} missing"}
    t0 = time.perf_counter()
    _, m = train_request_model(urls, seed=0)
    keep = ("n", "n_malicious", "precision", "recall", "f1", "roc_auc", "benign_fpr", "detection_rate_at_fpr_0.1pct",
            "recall_per_subfamily", "held_out_subfamilies")
    return {**{k: m[k] for k in keep if k in m}, "train_seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="speed,detect,model")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--mix-lines", type=int, default=200_000)
    ap.add_argument("--no-model", action="store_true", help="rules only (peak RSS then excludes model training)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args(argv)
    parts = set(a.parts.split(","))
    urls = _urls()
    res: dict = {"benign_urls": str(BENIGN) if urls else "built-in site map"}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model_dir = _model_folder(tmp, urls) if parts & {"speed", "detect"} and not a.no_model else None
        if "model" in parts:
            res["model"] = model_part(urls)
            print(json.dumps({"model": res["model"]}, indent=1), flush=True)
        if "detect" in parts:
            res["detect"] = detect(a.mix_lines, tmp, urls, model_dir)
            print(json.dumps({"detect": res["detect"]}, indent=1), flush=True)
        if "speed" in parts:
            res["speed"] = speed(a.lines, tmp, urls, model_dir)
            print(json.dumps({"speed": res["speed"]}, indent=1), flush=True)
    res["peak_rss_mib"] = round(_peak_mib())
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
