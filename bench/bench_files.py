"""File-domain targets (issue 4): ClaMP accuracy and transfer, benign false positives,
bad-input robustness, YARA loading and throughput - with peak memory.

Parts (all by default; pick with ``--parts``):

* ``clamp``   - ClaMP raw (5184 files): 5-fold out-of-fold ROC-AUC and detection
  rate at 1% FPR for the shipped recipe (:func:`threatml.files.training.train_header`)
  and for a plain LightGBM on the raw columns; the same under a composition
  shift (strata reweighted, :mod:`threatml.files.confounds`) and under a
  cross-toolchain split (GroupKFold on the linker major version: every test
  fold holds linkers never seen in training). ``--external CSV`` (repeatable,
  with ``--label-column``) adds: trained on all of ClaMP, scored on that set.
* ``benign``  - every file under ``files/benign-pe`` through content detection,
  :class:`~threatml.readers.files.FileReader` and the ``files.static`` detector
  (shipped model + default YARA rules): share flagged malicious, share with any
  finding, crashes, slowest file.
* ``edge``    - generated bad inputs: empty, 3 GB sparse, truncations, 65535
  sections, far e_lfanew, zip bomb, 6-deep nested zips, corrupt zip; time and
  outcome of each; then 60 s of random byte changes and cuts (crashes, slowest).
* ``yara``    - compile the signature-base collection (``--yara-dir``): files,
  compiled, skipped, rules, seconds; scan rate with it.
* ``speed``   - files/s for real PE files (benign-pe/windows, repeated):
  per-file scan path (one batch per file, as ``threatml scan``) and batches of 64.
* ``ember``   - only with ``--ember PATH...``: train/evaluate the rich model on EMBER jsonl.

    .venv/bin/python bench/bench_files.py [--parts clamp benign edge yara speed]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")
YARA_DIR = DATASETS.parent / "rules" / "yara" / "yara"
RESULTS = Path(__file__).resolve().parent / "results" / "files.json"


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024 if sys.platform != "darwin" else kb / 2**20, 1)


# ----------------------------------------------------------------------------- clamp


def _plain_features(h: pd.DataFrame) -> pd.DataFrame:
    return h.drop(columns=["TimeDateStamp"], errors="ignore")


def part_clamp(external: list[str], label_column: str | None) -> dict:
    from sklearn.model_selection import GroupKFold

    from threatml.files.confounds import balance_weights, shifted_report, strata
    from threatml.files.header_features import header_model_features, load_header_table
    from threatml.files.training import HEADER_PARAMS, _fit, out_of_fold, train_header
    from threatml.models.file_model import FileClassifier
    from threatml.pipeline.metrics import binary_report

    path = DATASETS / "files/clamp/dataset/ClaMP_Raw-5184.csv"
    h, y, _ = load_header_table(path)
    groups = strata(h)
    out: dict = {"data": str(path), "rows": int(len(y))}
    t0 = time.perf_counter()
    model, m, _ = train_header(h, y, seed=0)
    out["threatml_5fold"] = {k: m[k] for k in ("roc_auc", "detection_rate_at_fpr_1pct", "detection_rate_at_fpr_0.1pct",
                                                "shifted_roc_auc", "shifted_detection_rate_at_fpr_1pct", "threshold")}
    out["train_seconds_incl_cv"] = round(time.perf_counter() - t0, 1)
    P = _plain_features(h)
    oof, _ = out_of_fold(P, y, None, 5, 0, HEADER_PARAMS)
    r = binary_report(y, oof, 0.5)
    out["plain_lightgbm_5fold"] = {"roc_auc": r["roc_auc"], "detection_rate_at_fpr_1pct": r["detection_rate_at_fpr_1pct"],
                                   **shifted_report(y, oof, groups)}
    # cross-toolchain: test folds hold linker versions never seen in training
    linker = h["MajorLinkerVersion"].fillna(-1).astype(int).to_numpy()
    X = header_model_features(h)
    w = balance_weights(groups, y)
    for name, feats, weights in (("threatml", X, w), ("plain_lightgbm", P, None)):
        oof = np.zeros(len(y))
        for tr, te in GroupKFold(5).split(feats, y, linker):
            mm = _fit(FileClassifier(seed=0, **HEADER_PARAMS), feats.iloc[tr], y[tr], None if weights is None else weights[tr])
            oof[te] = mm.score_samples(feats.iloc[te])
        r = binary_report(y, oof, 0.5)
        out[f"{name}_cross_linker"] = {"roc_auc": r["roc_auc"], "detection_rate_at_fpr_1pct": r["detection_rate_at_fpr_1pct"]}
    # fields unknown at test time (other collections lack some): every DOS field, or 20% at random
    from sklearn.model_selection import StratifiedKFold

    from threatml.files.training import augment_missing, mask_fields

    for name, feats, weights, aug in (("threatml", X, w, True), ("plain_lightgbm", P, None, False)):
        sc = {k: np.zeros(len(y)) for k in ("no_dos_fields", "random_20pct_unknown")}
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(feats, y):
            Xt, yt, wt = feats.iloc[tr], y[tr], None if weights is None else weights[tr]
            if aug:
                Xt, yt, wt = augment_missing(Xt, yt, wt)
            mm = _fit(FileClassifier(seed=0, **HEADER_PARAMS), Xt, yt, wt)
            Xe = feats.iloc[te].reset_index(drop=True)
            sc["no_dos_fields"][te] = mm.score_samples(Xe.assign(**{c: np.nan for c in Xe.columns if c.startswith("e_")}))
            sc["random_20pct_unknown"][te] = mm.score_samples(mask_fields(Xe, 0.2, seed=9))
        for k, v in sc.items():
            r = binary_report(y, v, 0.5)
            out[f"{name}_{k}"] = {"roc_auc": r["roc_auc"], "detection_rate_at_fpr_1pct": r["detection_rate_at_fpr_1pct"]}
    plain = _fit(FileClassifier(seed=0, **HEADER_PARAMS), P, y, None)
    for ext in external:
        eh, ey, notes = load_header_table(ext, label_column)
        keep = ey >= 0
        eh, ey = eh[keep].reset_index(drop=True), ey[keep]
        s = model.score_samples(header_model_features(eh))
        sp = plain.score_samples(_plain_features(eh).reindex(columns=P.columns))
        r, rp = binary_report(ey, s, model.threshold), binary_report(ey, sp, 0.5)
        out[f"external:{Path(ext).name}"] = {
            "rows": int(len(ey)), "fields": int(eh.notna().any().sum()),
            "threatml": {k: r[k] for k in ("roc_auc", "detection_rate_at_fpr_1pct", "benign_fpr", "recall")},
            "plain_lightgbm": {k: rp[k] for k in ("roc_auc", "detection_rate_at_fpr_1pct")}}
    return out


# ----------------------------------------------------------------------------- benign


def _scan_one(path: Path, det, report) -> tuple[list, float, str | None]:
    from threatml.errors import InputError
    from threatml.readers import detect
    from threatml.readers.files import FileReader

    t0 = time.perf_counter()
    findings, err = [], None
    try:
        cls = detect(path)
        if cls is FileReader:
            for b in FileReader().read(path, report):
                findings += det.process(b)
        else:
            err = f"not read by the file reader ({cls.name if cls else 'unrecognised'})"
    except InputError as exc:
        err = exc.reason
    return findings, time.perf_counter() - t0, err


def part_benign() -> dict:
    from threatml.detectors.files.static import FileStaticDetector
    from threatml.errors import ReadReport

    root = DATASETS / "files/benign-pe"
    files = sorted(Path(r) / f for r, _, fs in os.walk(root) for f in fs)
    det, report = FileStaticDetector(), ReadReport()
    pe_files = flagged = any_finding = crashes = 0
    slowest, not_read, flagged_names, crash_names = (0.0, ""), [], [], []
    for p in files:
        try:
            fnd, dt, err = _scan_one(p, det, report)
        except Exception as exc:  # the target is zero of these
            crashes += 1
            crash_names.append(f"{p.name}: {type(exc).__name__}: {exc}")
            continue
        if dt > slowest[0]:
            slowest = (dt, p.name)
        if err:
            not_read.append(f"{p.name}: {err}")
            continue
        pe_files += 1
        any_finding += bool(fnd)
        bad = [f for f in fnd if f.attributes.get("verdict") == "malicious"]
        flagged += bool(bad)
        flagged_names += [f"{p.name} ({f.score:.2f})" for f in bad]
    return {"files": len(files), "read_by_file_reader": pe_files, "flagged_malicious": flagged,
            "flagged_share": round(flagged / max(1, pe_files), 4), "with_any_finding": any_finding,
            "crashes": crashes, "crash_files": crash_names, "slowest_file_s": round(slowest[0], 3),
            "slowest_file": slowest[1], "flagged": flagged_names, "not_file_reader": not_read}


# ----------------------------------------------------------------------------- edge


def _edge_cases(d: Path) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "files"))
    from conftest import INJECTION, build_pe

    pe = build_pe(INJECTION)
    cases = {"empty.exe": b"", "mz_only.exe": b"MZ", "random_mz.exe": b"MZ" + os.urandom(5000)}
    for cut in (64, 0x80 + 8, 0x80 + 100, 400, 700):
        cases[f"truncated_{cut}.exe"] = pe[:cut]
    many = bytearray(pe)
    struct.pack_into("<H", many, 0x80 + 6, 0xFFFF)
    cases["65535_sections.exe"] = bytes(many)
    far = bytearray(pe)
    struct.pack_into("<I", far, 0x80 + 24 + 0xE0 + 20, 0x7FFFFFF0)
    cases["section_outside_file.exe"] = bytes(far)
    lf = bytearray(pe)
    struct.pack_into("<I", lf, 0x3C, 0xFFFFFF00)
    cases["lfanew_far.exe"] = bytes(lf)
    imp = bytearray(pe)  # import directory claiming a huge size at a bogus RVA
    struct.pack_into("<II", imp, 0x80 + 24 + 96 + 8, 0x7FFF0000, 0x7FFFFFFF)
    cases["bogus_import_dir.exe"] = bytes(imp)
    for name, data in cases.items():
        (d / name).write_bytes(data)
    with open(d / "sparse_3gb.exe", "wb") as fh:
        fh.write(pe)
        fh.truncate(3 * 1024**3)
    with zipfile.ZipFile(d / "bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as m:  # streamed: the bench itself stays small
            block = bytes(1 << 20)
            for _ in range(1024):
                m.write(block)
    data = pe
    for level in range(6):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"level{level}.{'exe' if level == 0 else 'zip'}", data)
        data = buf.getvalue()
    (d / "nested6.zip").write_bytes(data)
    (d / "corrupt.zip").write_bytes(b"PK\x03\x04" + os.urandom(4000))
    return sorted(d.iterdir())


def _fuzz(seconds: float = 60.0) -> dict:
    """Random byte changes and cuts of a built PE and two Windows DLLs through every parser."""
    import random

    from conftest import INJECTION, build_pe  # path set by _edge_cases

    from threatml.files.analyze import analyze_bytes
    from threatml.files.rich_raw import rich_raw
    from threatml.files.rich_vector import vectorize

    win = DATASETS / "files/benign-pe/windows"
    seeds = [build_pe(INJECTION, overlay=b"x" * 300)] + [(win / n).read_bytes() for n in ("arp.dll", "shimeng.dll")
                                                         if (win / n).exists()]
    rng, n, crashes, slowest = random.Random(1), 0, [], 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(0, min(len(data), 1024) if rng.random() < 0.8 else len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        t0 = time.perf_counter()
        try:
            analyze_bytes(bytes(data), "f.exe")
            vectorize([rich_raw(bytes(data))[0]])
        except Exception as exc:
            crashes.append(f"{type(exc).__name__}: {exc}")
        slowest = max(slowest, time.perf_counter() - t0)
        n += 1
    return {"cases": n, "crashes": len(crashes), "first_crashes": crashes[:3], "slowest_s": round(slowest, 3)}


def part_edge() -> dict:
    from threatml.detectors.files.static import FileStaticDetector
    from threatml.errors import ReadReport

    out = {}
    with tempfile.TemporaryDirectory() as td:
        det = FileStaticDetector()
        for p in _edge_cases(Path(td)):
            report = ReadReport()
            try:
                fnd, dt, err = _scan_one(p, det, report)
                outcome = err or f"{sum(report.records.values()) or 1} event(s), {len(fnd)} finding(s)"
                reasons = sorted({r for (_, r) in list(report.skipped) + list(report.notes)})
                out[p.name] = {"seconds": round(dt, 3), "outcome": outcome, "reasons": reasons[:4]}
            except Exception as exc:
                out[p.name] = {"crash": f"{type(exc).__name__}: {exc}"}
    out["fuzz_60s"] = _fuzz(60.0)
    return out


# ----------------------------------------------------------------------------- yara


def part_yara(yara_dir: Path) -> dict:
    from threatml.errors import ReadReport
    from threatml.files.yara_rules import DEFAULT_RULES, RuleSet

    report = ReadReport()
    rs = RuleSet.load([yara_dir], report)
    s = rs.summary
    files = [Path(r) / f for r, _, fs in os.walk(DATASETS / "files/benign-pe") for f in fs]
    datas = [p.read_bytes() for p in files]
    t0 = time.perf_counter()
    hits = {}
    for p, d in zip(files, datas):
        for h in rs.scan(d, str(p), filetype="pe"):
            hits[h.rule] = hits.get(h.rule, 0) + 1
    dt = time.perf_counter() - t0
    own = RuleSet.load([DEFAULT_RULES])
    return {"collection": str(yara_dir), "files": s.files, "compiled": s.compiled, "skipped": s.skipped,
            "rules": s.rules, "load_seconds": s.seconds,
            "skip_reasons": sorted({r for (_, r) in report.skipped})[:5],
            "scan_files_per_s_benign_pe": round(len(files) / dt, 1), "benign_pe_rule_hits": hits,
            "threatml_rules": own.summary.rules, "threatml_rules_load_seconds": own.summary.seconds}


# ----------------------------------------------------------------------------- speed


def part_speed(repeat: int) -> dict:
    from threatml.detectors.files.static import FileStaticDetector
    from threatml.errors import ReadReport
    from threatml.events import EventBatch
    from threatml.files.analyze import analyze_bytes
    from threatml.readers.files import FileReader, _frame

    files = sorted(p for p in (DATASETS / "files/benign-pe/windows").iterdir() if p.is_file())
    pes = [p for p in files if FileReader.sniff(p.read_bytes()[:65536], p)] * repeat
    det, report = FileStaticDetector(), ReadReport()
    det.process(next(FileReader().read(pes[0], report)))  # model and rules loaded outside the timing
    mb = sum(p.stat().st_size for p in pes) / 1e6
    # wall time, and this process's CPU time: on a shared machine (load average printed)
    # the wall clock counts time spent waiting for a core
    t0, c0 = time.perf_counter(), time.process_time()
    for p in pes:
        for b in FileReader().read(p, report):
            det.process(b)
    per_file, per_file_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(pes), 64):
        rows = [analyze_bytes(p.read_bytes(), str(p)) for p in pes[i:i + 64]]
        det.process(EventBatch.of("file", _frame(rows)))
    batched, batched_cpu = time.perf_counter() - t0, time.process_time() - c0
    from threatml.readers import detect

    distinct = sorted(set(pes))
    t0 = time.perf_counter()
    for p in distinct:
        detect(p)
    detect_ms = (time.perf_counter() - t0) / len(distinct) * 1000
    return {"files": len(pes), "distinct_files": len(distinct),
            # every registered reader's sniff runs before ours: time spent outside the file domain
            "format_detection_ms_per_file": round(detect_ms, 1),
            "mean_size_kb": round(mb * 1000 / len(pes), 1),
            "per_file_batches_files_per_s": round(len(pes) / per_file, 1), "per_file_mb_per_s": round(mb / per_file, 1),
            "batches_of_64_files_per_s": round(len(pes) / batched, 1),
            "per_file_batches_files_per_cpu_s": round(len(pes) / per_file_cpu, 1),
            "batches_of_64_files_per_cpu_s": round(len(pes) / batched_cpu, 1),
            "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


# ----------------------------------------------------------------------------- ember


def part_ember(paths: list[str], test: list[str]) -> dict:
    from threatml.errors import ReadReport
    from threatml.files.ember import load_ember
    from threatml.files.training import train_rich
    from threatml.pipeline.metrics import binary_report

    r = ReadReport()
    X, y, _ = load_ember(paths, r)
    model, m, _ = train_rich(X, y, seed=0)
    out = {"train_rows": int(len(y)), "validation": {k: m[k] for k in ("roc_auc", "detection_rate_at_fpr_0.1pct", "detection_rate_at_fpr_1pct")}}
    if test:
        Xt, yt, _ = load_ember(test, r)
        rt = binary_report(yt, model.score_samples(Xt), model.threshold)
        out["test"] = {k: rt[k] for k in ("n", "roc_auc", "detection_rate_at_fpr_0.1pct", "detection_rate_at_fpr_1pct")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", nargs="*", default=["clamp", "benign", "edge", "yara", "speed"])
    ap.add_argument("--external", action="append", default=[], help="another PE-header CSV with pefile names")
    ap.add_argument("--label-column", default=None)
    ap.add_argument("--yara-dir", default=str(YARA_DIR))
    ap.add_argument("--repeat", type=int, default=15, help="passes over benign-pe/windows for the speed part")
    ap.add_argument("--ember", nargs="*", default=[], help="EMBER jsonl training files (adds the ember part)")
    ap.add_argument("--ember-test", nargs="*", default=[])
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    results: dict = {}
    parts = list(args.parts) + (["ember"] if args.ember else [])
    for part in parts:
        t0 = time.perf_counter()
        if part == "clamp":
            results[part] = part_clamp(args.external, args.label_column)
        elif part == "benign":
            results[part] = part_benign()
        elif part == "edge":
            results[part] = part_edge()
        elif part == "yara":
            if not Path(args.yara_dir).is_dir():
                results[part] = {"skipped": f"{args.yara_dir} not found"}
                continue
            results[part] = part_yara(Path(args.yara_dir))
        elif part == "speed":
            results[part] = part_speed(args.repeat)
        elif part == "ember":
            results[part] = part_ember(args.ember, args.ember_test)
        results[part]["part_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"== {part}\n{json.dumps(results[part], indent=1, default=str)}", flush=True)
    results["peak_rss_mib"] = _peak_mib()
    print(f"peak RSS {results['peak_rss_mib']} MiB")
    if not args.no_save:  # parts not run this time keep their last results
        RESULTS.parent.mkdir(exist_ok=True)
        old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        old.update(results)
        old["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        RESULTS.write_text(json.dumps(old, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
