"""Indicator load and match rates, per feed format and per event kind, and planted IOCs on shared data.

Issue 7 targets: 1M indicators load in < 10 s; matching runs at >= 1M events/s;
on the shared Zeek and Suricata data every indicator planted in a test feed is found.

Parts (all by default; pick with ``--parts``):

* ``load``  - seeded plain list + CSV holding ``--indicators`` indicators
  (addresses, CIDRs, SHA-256, domains, URLs): ``load_feeds`` (parse, classify,
  merge, expiry) and matcher build; then a STIX 2.1 bundle and a MISP event of
  ``--structured`` indicators each.
* ``match`` - per event kind, ``--events`` generated events (~1% carry a listed
  value): the matching stage of the IOC detector (``IntelDetector._hits``: every
  matched column of that kind) and the whole ``process`` call (matching plus
  folding hits into incidents), in events/s.
* ``planted`` - picks real addresses, CIDRs around them, domains (some as parent
  domains), URLs and JA3 hashes from ``/work/shared/datasets/{zeek,suricata}``,
  writes them as a STIX bundle + MISP event + CSV into a temp dir, scans the
  logs with the IOC detector and counts found/planted per type.

    .venv/bin/python bench/bench_intel.py                       # everything
    .venv/bin/python bench/bench_intel.py --parts planted
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

from threatml.detectors.intel import IntelDetector
from threatml.events import EventBatch
from threatml.intel import IndicatorMatcher, load_feeds
from threatml.intel.indicators import int_to_ipv4

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


# ----------------------------------------------------------------------------- load


def write_feeds(folder: Path, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Plain list (80%: addresses, CIDRs, hashes) + CSV (20%: domains, URLs). Returns listed values per family."""
    n_ip, n_cidr = int(n * 0.70), int(n * 0.02)
    n_hash = int(n * 0.08)
    n_dom, n_url = int(n * 0.15), n - int(n * 0.70) - int(n * 0.02) - int(n * 0.08) - int(n * 0.15)
    ips = rng.integers(0x01000000, 0xDF000000, n_ip, dtype=np.uint32)
    nets = rng.integers(0x01000000, 0xDF000000, n_cidr, dtype=np.uint32)
    plen = rng.choice([20, 24, 28], n_cidr)
    hashes = np.array([f"{x:016x}" * 4 for x in rng.integers(0, 2**63, n_hash)], dtype=object)
    plain = pd.concat([int_to_ipv4(ips), int_to_ipv4(nets) + "/" + pd.Series(plen).astype(str), pd.Series(hashes)])
    (folder / "bench-list.txt").write_text("# generated\n" + "\n".join(plain.tolist()) + "\n")
    labels = pd.Series(rng.integers(0, 36**6, n_dom)).map(lambda x: np.base_repr(x, 36).lower())
    domains = labels + ".bad" + pd.Series(rng.integers(0, 50, n_dom)).astype(str) + ".example"
    urls = "http://" + domains.iloc[:n_url].reset_index(drop=True) + "/p/" + pd.Series(np.arange(n_url)).astype(str)
    csv = pd.DataFrame({"indicator": pd.concat([domains, urls], ignore_index=True), "confidence": 70,
                        "tags": "c2", "first_seen": "2026-01-01 00:00:00", "valid_until": "2099-01-01"})
    (folder / "bench-feed.csv").write_text("# header follows\n" + csv.to_csv(index=False))
    return {"ip": int_to_ipv4(ips).to_numpy(), "domain": domains.to_numpy(), "url": urls.to_numpy(),
            "sha256": hashes}


def write_structured(folder: Path, n: int, rng: np.random.Generator) -> tuple[Path, Path]:
    """A STIX bundle and a MISP event of ``n`` indicators each (addresses, domains, URLs, hashes)."""
    ips = int_to_ipv4(rng.integers(0x01000000, 0xDF000000, n, dtype=np.uint32)).tolist()
    kinds = rng.integers(0, 4, n)
    t0 = "2026-01-01T00:00:00.000Z"
    objs, attrs = [], []
    for i in range(n):
        k = kinds[i]
        if k == 0:
            pat, mt, val = f"[ipv4-addr:value = '{ips[i]}']", "ip-dst", ips[i]
        elif k == 1:
            val = f"h{i}.stix.example"
            pat, mt = f"[domain-name:value = '{val}']", "domain"
        elif k == 2:
            val = f"http://u{i}.stix.example/p"
            pat, mt = f"[url:value = '{val}']", "url"
        else:
            val = f"{i:064x}"
            pat, mt = f"[file:hashes.'SHA-256' = '{val}']", "sha256"
        objs.append({"type": "indicator", "spec_version": "2.1", "id": f"indicator--00000000-0000-4000-8000-{i:012d}",
                     "created": t0, "modified": t0, "pattern": pat, "pattern_type": "stix", "valid_from": t0,
                     "confidence": 80, "labels": ["c2"]})
        attrs.append({"type": mt, "value": val, "to_ids": True, "uuid": f"00000000-0000-4000-8000-{i:012d}",
                      "timestamp": "1767225600"})
    stix, misp = folder / "bench-stix.json", folder / "bench-misp.json"
    stix.write_text(json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objs}))
    misp.write_text(json.dumps({"Event": {"info": "bench", "threat_level_id": "2", "date": "2026-01-01",
                                          "Attribute": attrs}}))
    return stix, misp


def part_load(a, rng) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        listed = write_feeds(folder, a.indicators, rng)
        t, c = time.perf_counter(), time.process_time()
        iocs = load_feeds([folder / "bench-list.txt", folder / "bench-feed.csv"])
        load_s, cpu_s = time.perf_counter() - t, time.process_time() - c
        print(f"load    {len(iocs):>10,} indicators (plain list + CSV) in {load_s:6.2f} s wall, {cpu_s:6.2f} s CPU  "
              f"({len(iocs) / load_s:,.0f}/s wall)  types {iocs.counts()}")
        if a.structured:
            stix, misp = write_structured(folder, a.structured, rng)
            for name, path in (("STIX 2.1 bundle", stix), ("MISP event", misp)):
                size = path.stat().st_size / 2**20
                t, c = time.perf_counter(), time.process_time()
                s = load_feeds([path])
                dt, cpu = time.perf_counter() - t, time.process_time() - c
                print(f"load    {len(s):>10,} indicators ({name}, {size:,.0f} MiB) in {dt:6.2f} s wall, {cpu:6.2f} s CPU  "
                      f"({len(s) / dt:,.0f}/s wall, {len(s) / cpu:,.0f}/s CPU)")
    t = time.perf_counter()
    IndicatorMatcher(iocs)
    print(f"build   matcher in {time.perf_counter() - t:.2f} s")
    return iocs, listed


# ----------------------------------------------------------------------------- match per kind


def _pick(rng, listed: np.ndarray, other: np.ndarray, n: int, rate: float = 0.01) -> np.ndarray:
    hit = rng.random(n) < rate
    out = other[rng.integers(0, len(other), n)].astype(object)
    out[hit] = listed[rng.integers(0, len(listed), int(hit.sum()))]
    return out


def kind_frames(kind: str, n: int, listed: dict, rng) -> pd.DataFrame:
    """``n`` events of ``kind``; ~1% carry a listed value in each matched column."""
    ext = int_to_ipv4(rng.integers(0x01000000, 0xDF000000, 200_000, dtype=np.uint32)).to_numpy()
    hosts = int_to_ipv4(np.uint32(0x0A000000) + rng.integers(1, 20_000, 20_000).astype(np.uint32)).to_numpy()
    names = np.array([f"host{i}.benign{i % 97}.example" for i in range(100_000)], dtype=object)
    urls = np.array([f"http://{names[i]}/path/{i}" for i in range(100_000)], dtype=object)
    sha = np.array([f"{i:064x}" for i in range(1, 50_001)], dtype=object)
    users = np.array([f"user{i}" for i in range(5_000)], dtype=object)
    src = hosts[rng.integers(0, len(hosts), n)]
    base = {"event.id": pd.Series(np.arange(n)).astype(str), "@timestamp": np.sort(rng.uniform(1.78e9, 1.78e9 + 86400, n)),
            "source.ip": src}
    if kind == "flow":
        base["destination.ip"] = _pick(rng, listed["ip"], ext, n)
    elif kind == "dns":
        base["dns.question.name"] = _pick(rng, "www." + listed["domain"], names, n)
        base["dns.answers"] = ext[rng.integers(0, len(ext), n)]
    elif kind == "http":
        doms = _pick(rng, listed["domain"], names, n)
        base.update({"destination.ip": ext[rng.integers(0, len(ext), n)], "url.domain": doms,
                     "url.original": "/path/" + pd.Series(rng.integers(0, 1000, n)).astype(str).to_numpy()})
    elif kind == "tls":
        base.update({"destination.ip": ext[rng.integers(0, len(ext), n)],
                     "tls.client.server_name": _pick(rng, listed["domain"], names, n),
                     "tls.client.ja3": np.array([f"{i:032x}" for i in range(100)], dtype=object)[rng.integers(0, 100, n)]})
    elif kind == "auth":
        base.update({"source.ip": _pick(rng, listed["ip"], ext, n), "user.name": users[rng.integers(0, len(users), n)],
                     "host.name": "dc1"})
    elif kind == "process":
        base.update({"host.name": "ws" + pd.Series(rng.integers(0, 2000, n)).astype(str).to_numpy(),
                     "process.hash.sha256": _pick(rng, listed["sha256"], sha, n),
                     "destination.ip": _pick(rng, listed["ip"], ext, n)})
    elif kind == "file":
        base.update({"file.path": "/data/f" + pd.Series(np.arange(n)).astype(str).to_numpy(),
                     "file.hash.sha256": _pick(rng, listed["sha256"], sha, n),
                     "file.hash.md5": np.array([f"{i:032x}" for i in range(50_000)], dtype=object)[rng.integers(0, 50_000, n)]})
    elif kind == "email":
        base.update({"email.from.address": "news@" + names[rng.integers(0, len(names), n)],
                     "email.to.address": users[rng.integers(0, len(users), n)] + "@corp.example",
                     "email.urls": _pick(rng, listed["url"], urls, n) + " " + urls[rng.integers(0, len(urls), n)]})
    elif kind == "activity":
        base.update({"user.name": users[rng.integers(0, len(users), n)], "url.original": _pick(rng, listed["url"], urls, n)})
    return pd.DataFrame(base)


KINDS = ("flow", "dns", "http", "tls", "auth", "process", "file", "email", "activity")


def part_match(a, rng, iocs, listed) -> None:
    print("events/s per kind: wall clock, and per CPU second (the machine is shared; CPU time is the steadier figure)")
    print(f"{'kind':<9} {'events':>10} {'match/s':>12} {'match/CPU-s':>12} {'process/s':>12} {'process/CPU-s':>13} "
          f"{'hits':>9} {'findings':>9}")
    for kind in KINDS:
        frame = kind_frames(kind, a.events, listed, rng)
        batches = [EventBatch.of(kind, frame.iloc[lo:lo + a.batch].reset_index(drop=True))
                   for lo in range(0, len(frame), a.batch)]
        det = IntelDetector(iocs)
        t, c = time.perf_counter(), time.process_time()
        hits = sum(len(det._hits(kind, b.frame)) for b in batches)
        match_s, match_c = time.perf_counter() - t, time.process_time() - c
        det = IntelDetector(iocs)
        t, c = time.perf_counter(), time.process_time()
        found = sum(len(det.process(b)) for b in batches) + len(det.flush())
        proc_s, proc_c = time.perf_counter() - t, time.process_time() - c
        n = a.events
        print(f"{kind:<9} {n:>10,} {n / match_s:>12,.0f} {n / match_c:>12,.0f} {n / proc_s:>12,.0f} "
              f"{n / proc_c:>13,.0f} {hits:>9,} {found:>9,}")
        del frame, batches


# ----------------------------------------------------------------------------- planted on shared data


def part_planted(a, rng) -> bool:
    from threatml.pipeline.scan import Scanner
    from threatml.readers import detect
    from threatml.errors import ReadReport

    roots = [DATASETS / "zeek", DATASETS / "suricata"]
    if not all(r.is_dir() for r in roots):
        print(f"planted: shared data absent under {DATASETS}; skipped")
        return True
    files = [p for r in roots for p in sorted(r.rglob("*")) if p.is_file()
             and not p.name.startswith(("README", "LICENSE", "SOURCE", "labels"))]
    seen: dict[str, set] = {k: set() for k in ("ip", "domain", "url", "ja3")}
    for f in files:
        cls = detect(f)
        if cls is None:
            continue
        for b in cls().read(f, ReadReport(), 100_000):
            fr = b.frame
            if b.kind in ("flow", "alert", "http", "tls", "dns"):
                seen["ip"].update(fr["destination.ip"][fr["destination.ip"] != ""].unique().tolist())
            if b.kind == "dns":
                seen["domain"].update(fr["dns.question.name"][fr["dns.question.name"].str.count(r"\.") >= 1].unique())
            if b.kind == "tls":
                seen["domain"].update(fr["tls.client.server_name"][fr["tls.client.server_name"] != ""].unique())
                seen["ja3"].update(fr["tls.client.ja3"][fr["tls.client.ja3"] != ""].unique())
            if b.kind == "http":
                host, uri = fr["url.domain"], fr["url.original"]
                ok = (host != "") & uri.str.startswith("/") & ~host.str.contains(":", regex=False)
                seen["url"].update(("http://" + host[ok] + uri[ok]).unique())
                seen["domain"].update(host[(host != "") & ~host.str.match(r"^[\d.:]+$")].unique())
    pick = lambda vals, k: sorted(vals)[:: max(1, len(vals) // k)][:k]  # noqa: E731  spread, deterministic
    ips = [v for v in pick({x for x in seen["ip"] if ":" not in x}, 40)]
    cidr_base = ips[:5]
    ips = ips[5:]
    cidrs = [".".join(x.split(".")[:3]) + ".0/24" for x in cidr_base]
    doms = pick({d.lower().rstrip(".") for d in seen["domain"]
                 if "." in d and not d.replace(".", "").isdigit() and ".local" not in d and "in-addr" not in d}, 30)
    parents = [d.split(".", 1)[1] for d in doms[:5] if d.count(".") >= 2]  # listed parent of a seen name
    urls = pick(seen["url"], 20)
    ja3 = sorted(seen["ja3"])
    planted = ([("ipv4", v) for v in ips] + [("cidr", v) for v in cidrs] + [("domain", v) for v in doms[5:] + parents]
               + [("url", v) for v in urls] + [("md5", v) for v in ja3])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stix_objs, misp_attrs, csv_rows = [], [], []
        path = {"ipv4": "ipv4-addr:value", "cidr": "ipv4-addr:value", "domain": "domain-name:value", "url": "url:value",
                "md5": "file:hashes.MD5"}
        mtype = {"ipv4": "ip-dst", "cidr": "ip-dst", "domain": "domain", "url": "url", "md5": "ja3-fingerprint-md5"}
        t0 = "2026-01-01T00:00:00.000Z"
        for i, (typ, v) in enumerate(planted):
            target = i % 3
            if target == 0 or i % 10 == 0:  # every tenth also in STIX: duplicates across feeds
                esc = v.replace("\\", "\\\\").replace("'", "\\'")
                stix_objs.append({"type": "indicator", "spec_version": "2.1",
                                  "id": f"indicator--00000000-0000-4000-8000-{i:012d}", "created": t0, "modified": t0,
                                  "pattern": f"[{path[typ]} = '{esc}']", "pattern_type": "stix", "valid_from": t0})
            if target == 1:
                misp_attrs.append({"type": mtype[typ], "value": v, "to_ids": True})
            if target == 2:
                csv_rows.append(v)
        (folder / "planted-stix.json").write_text(json.dumps({"type": "bundle", "id": "bundle--x", "objects": stix_objs}))
        (folder / "planted-misp.json").write_text(json.dumps({"Event": {"info": "planted", "Attribute": misp_attrs}}))
        (folder / "planted.csv").write_text("indicator\n" + "\n".join(f'"{v}"' for v in csv_rows) + "\n")
        iocs = load_feeds([folder / "planted-stix.json", folder / "planted-misp.json", folder / "planted.csv"])
    det = IntelDetector(iocs, fold_sources=0, half_life_days=0)
    t = time.perf_counter()
    result = Scanner([det]).scan([str(f) for f in files])
    dt = time.perf_counter() - t
    found = {(str(f.attributes.get("indicator.type")), str(f.attributes.get("indicator.value"))) for f in result.findings}
    loaded = set(zip(iocs.frame["type"], iocs.frame["value"]))
    print(f"planted: {len(planted)} indicators from {len(files)} shared Zeek/Suricata files "
          f"(loaded {len(iocs)}, {iocs.report.skipped_total()} skipped), scan {dt:.1f} s, {len(result.findings)} findings")
    ok = True
    for typ in ("ipv4", "cidr", "domain", "url", "md5"):
        want = [(t_, v) for t_, v in planted if t_ == typ]
        got = [x for x in want if x in found]
        missing = [v for t_, v in want if (t_, v) not in found]
        print(f"  {typ:<7} found {len(got):>3} / planted {len(want):>3}"
              + ("" if not missing else f"   MISSING: {missing[:5]} (loaded: {[(typ, m) in loaded for m in missing[:5]]})"))
        ok &= not missing
    print("planted: every planted indicator found" if ok else "planted: SOME PLANTED INDICATORS NOT FOUND")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--indicators", type=int, default=1_000_000)
    ap.add_argument("--structured", type=int, default=200_000, help="indicators in the STIX and in the MISP feed")
    ap.add_argument("--events", type=int, default=1_000_000, help="events per kind")
    ap.add_argument("--batch", type=int, default=250_000)
    ap.add_argument("--parts", default="load,match,planted")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    rng = np.random.default_rng(a.seed)
    if parts & {"load", "match"}:
        iocs, listed = part_load(a, rng)
        if "match" in parts:
            part_match(a, rng, iocs, listed)
        del iocs
    ok = part_planted(a, rng) if "planted" in parts else True
    print(f"peak RSS {_peak_mib():,.0f} MiB")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
