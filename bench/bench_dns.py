"""DGA and DNS-tunneling detection on corpora never used in training (evaluation only).

    .venv/bin/python bench/bench_dns.py --extra /tmp/dns_extra [--data ../shared/datasets]
        [--model DIR | --retrain] [--only dga|lofo|threatfox|tunnel|speed] [--json OUT]

Nothing here trains on the external corpora: they are read from ``--extra``
(never copied into the repository) and only scored. Parts:

* ``lofo``: leave-one-family-out on the shared 360netlab training families
  with the shipped training recipe (``build_web.build_dga`` settings and the
  ``DgaModel`` defaults): a model trained on the other families and 80% of the
  top domains scores the held-out family against the other 20%. This is what
  model changes are chosen by.
* ``dga``: the model (shipped ``dga-classifier``, ``--model DIR``, or
  ``--retrain``: the shipped recipe with the current code into a temporary
  folder) scores every ``<extra>/andrewaeva/<family>.txt`` against the
  ``benign_*.txt`` lists there, minus every name the model trained on
  (ROC-AUC, detection at 1% FPR, share above the alert threshold, family
  called). Families also in the training feed (conficker, gameover zeus) are
  reported apart; the mean is over families never in training.
* ``threatfox``: ThreatFox malware domains vs legit domains (``threatfox/test.csv``):
  ROC-AUC and the share of malicious names the DGA model calls algorithmic.
  These are malware domains of every kind (phishing kits, C2 on bought names,
  compromised sites), not only DGA output, so a low recall is expected.
* ``tunnel``: the Bubnov DNS tunneling queries (``tunnel/test.csv``, per query
  labelled tuns/dnscapy/iodine/dns2tcp/plain): the per-query lexical score
  (:func:`threatml.detectors.web.tunnel.encoded_query_scores`) as a classifier,
  then the queries as dns events (each tool's queries under its own tunnel
  zone, plain names as queried) spread over a day, at full and reduced volume,
  through ``web.dns-tunnel``: tunnel zones found, plain domains flagged; and
  the detector alone on the real Zeek/Suricata dns logs of the shared data.
* ``speed``: per-query lexical score and DGA scoring, names/s; peak memory.

Parts whose files are absent are skipped with a message naming the file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from bench_web import _auc_dr, _default_data, run_parts

REPO = Path(__file__).resolve().parents[1]
#: andrewaeva family names that are families of the 360netlab training feed too
TRAINED_ALIASES = {"conficker": "conficker", "goz": "gameover", "new_goz": "gameover", "newgoz": "gameover",
                   "gameover": "gameover", "necurs": "necurs", "locky": "locky", "nymaim": "nymaim",
                   "symmi": "symmi", "qadars": "qadars", "bamital": "bamital", "pykspa": "pykspa_v2_real"}


def _names_of_file(p: Path) -> list[str]:
    """One domain per line; in CSV-like lines the first field holding a dot."""
    out = []
    for ln in p.read_text(errors="replace").splitlines():
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        fields = [f.strip().strip('"') for f in ln.replace("\t", ",").split(",")]
        dom = next((f for f in fields if "." in f and " " not in f), fields[0] if len(fields) == 1 else "")
        if dom:
            out.append(dom.lower().rstrip("."))
    return out


def _skip(part: str, why: str) -> dict:
    print(f"  {part}: skipped: {why}", flush=True)
    return {"skipped": why}


# ------------------------------------------------------------------ models
def load_model(model: str | None, retrain: bool, root: Path):
    """(model, description): ``--model`` folder, the shipped model, or the shipped recipe retrained now."""
    from threatml.web.dga_model import DgaModel

    if retrain:
        from threatml.shipped.build_web import build_dga

        with tempfile.TemporaryDirectory(prefix="bench-dns-dga-") as tmp:
            t = time.perf_counter()
            build_dga(root, out=Path(tmp), log=lambda s: print("  " + s, flush=True))
            size = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
            print(f"  retrained with the shipped recipe and the current code in {time.perf_counter() - t:.0f} s "
                  f"({size:.2f} MB)", flush=True)
            return DgaModel.load(tmp), f"shipped recipe retrained now with the current code ({size:.2f} MB)"
    return DgaModel.load(model), model or "shipped dga-classifier"


def training_names(root: Path) -> set[str]:
    """Registered domains of the shared training data (benign top list and DGA feed)."""
    from threatml.shipped.build_web import DGA_FEED, top_domains
    from threatml.web.data import load_items

    names = set(top_domains(root)) if (root / "url/dga_netlab360_sample/top_domains_dga1m.csv").exists() else set()
    if (root / DGA_FEED).exists():
        names |= set(load_items([str(root / DGA_FEED)])["item"].str.lower())
    return names


# ------------------------------------------------------------------ LOFO on the shared families
def pydoc_text_family(n: int, seed: int = 11) -> list[str]:
    """Names made of consecutive words of Python's pydoc text, 10 to 25 letters, as text-fed
    word-list DGAs (rovnix, gozi) make them from their embedded document."""
    import re

    from threatml.web.words import stdlib_text

    words = re.findall(r"[a-z]+", " ".join(stdlib_text()).lower())
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        i, label, target = int(rng.integers(0, len(words) - 30)), "", int(rng.integers(10, 26))
        while len(label) < target:
            label += words[i]
            i += 1
        out.append(label + ".com")
    return out


def bench_lofo(root: Path, seed: int = 0, overrides: dict | None = None) -> dict:
    from threatml.shipped.build_web import DGA_FEED, english_word_counts, top_domains
    from threatml.web.data import load_items
    from threatml.web.dga_model import DgaModel

    if not (root / DGA_FEED).exists():
        return _skip("lofo", f"{root / DGA_FEED} absent")
    params = dict(n_estimators=250, num_leaves=15, folds=0, seed=seed)  # build_web.build_dga, without the OOF folds
    params.update(overrides or {})
    counts, _ = english_word_counts(root)
    dga = load_items([str(root / DGA_FEED)])
    ben = pd.Series(top_domains(root))
    perm = np.random.default_rng(seed).permutation(len(ben))
    btr, bte = ben.iloc[perm[: int(0.8 * len(ben))]].tolist(), ben.iloc[perm[int(0.8 * len(ben)):]].tolist()
    res: dict = {"params": params, "families": {}}
    for fam in [f for f, n in dga["family"].value_counts().items() if n >= 50]:
        d = dga[dga["family"] != fam]
        m = DgaModel(**params).fit(btr + d["item"].tolist(), np.r_[np.zeros(len(btr)), np.ones(len(d))],
                                   np.r_[["benign"] * len(btr), d["family"].to_numpy(dtype=object)], word_counts=counts)
        auc, dr = _auc_dr(m.score_samples(bte), m.score_samples(dga.loc[dga["family"] == fam, "item"].tolist()))
        res["families"][fam] = {"roc_auc": round(auc, 4), "detection_rate_at_fpr_1pct": round(dr, 4)}
        print(f"  lofo {fam:16s} roc_auc={auc:.4f} dr@1%fpr={dr:.3f}", flush=True)
    # a text-fed word-list family from a text no part of training comes from (Python's pydoc help):
    # the shared feed has no word-list family, so this is the held-out check of the word-list priors
    m = DgaModel(**params).fit(btr + dga["item"].tolist(), np.r_[np.zeros(len(btr)), np.ones(len(dga))],
                               np.r_[["benign"] * len(btr), dga["family"].to_numpy(dtype=object)], word_counts=counts)
    pseudo = pydoc_text_family(1000, seed=11)
    auc, dr = _auc_dr(m.score_samples(bte), m.score_samples(pseudo))
    res["pydoc_text_wordlist"] = {"roc_auc": round(auc, 4), "detection_rate_at_fpr_1pct": round(dr, 4),
                                  "examples": pseudo[:4]}
    print(f"  lofo pydoc-text word-list pseudo-family roc_auc={auc:.4f} dr@1%fpr={dr:.3f} e.g. {pseudo[:3]}", flush=True)
    res["mean_roc_auc_with_pseudo"] = round(float(np.mean([r["roc_auc"] for r in res["families"].values()] + [auc])), 4)
    res["mean_roc_auc"] = round(float(np.mean([r["roc_auc"] for r in res["families"].values()])), 4)
    res["mean_detection_rate_at_fpr_1pct"] = round(
        float(np.mean([r["detection_rate_at_fpr_1pct"] for r in res["families"].values()])), 4)
    print(f"  lofo mean over the feed families roc_auc={res['mean_roc_auc']} dr@1%fpr="
          f"{res['mean_detection_rate_at_fpr_1pct']}; with the pydoc-text pseudo-family {res['mean_roc_auc_with_pseudo']}",
          flush=True)
    return res


# ------------------------------------------------------------------ external DGA families
def bench_dga(m, extra: Path, root: Path, more: Path | None = None, max_per_family: int = 20000) -> dict:
    folder = extra / "andrewaeva"
    if not folder.is_dir():
        return _skip("dga", f"{folder} absent")
    files = sorted(folder.glob("*.txt")) + (sorted(more.glob("*.txt")) if more is not None and more.is_dir() else [])
    ben_files = [p for p in files if p.stem.lower().startswith("benign")]
    fam_files = [p for p in files if p not in ben_files]
    if not ben_files or not fam_files:
        return _skip("dga", f"{folder}: need benign_*.txt and <family>.txt files")
    trained = training_names(root)
    rng = np.random.default_rng(0)
    benign: dict[str, list[str]] = {}
    for p in ben_files:
        names = sorted(set(_names_of_file(p)) - trained)
        benign[p.stem] = names
    all_ben = sorted(set().union(*benign.values()))
    sb_all = m.score_samples(all_ben)
    sb = dict(zip(all_ben, sb_all))
    res: dict = {"benign": {k: {"n": len(v), "above_threshold": round(float(np.mean([sb[x] >= m.threshold_ for x in v])), 4)}
                            for k, v in benign.items()},
                 "threshold": round(float(m.threshold_), 4), "families": {}}
    print("  benign lists (names the model trained on removed): "
          + ", ".join(f"{k} n={v['n']} above alert threshold {v['above_threshold']:.2%}" for k, v in res["benign"].items()),
          flush=True)
    for p in fam_files:
        fam = p.stem.lower()
        names = sorted(set(_names_of_file(p)) - trained)
        if len(names) > max_per_family:
            names = sorted(rng.choice(names, max_per_family, replace=False).tolist())
        if not names:
            continue
        s = m.score_samples(names)
        pf, _ = m.predict_family(names)
        fams, cnt = np.unique(pf.astype(str), return_counts=True)
        r = {"n": len(names), "in_training_as": TRAINED_ALIASES.get(fam, ""),
             "above_alert_threshold": round(float(np.mean(s >= m.threshold_)), 4),
             "family_called": {m.family_text(str(f)): int(c) for f, c in sorted(zip(fams, cnt), key=lambda x: -x[1])[:3]},
             "examples": names[:3]}
        for k, v in benign.items():
            if len(v) >= 100:
                auc, dr = _auc_dr(np.array([sb[x] for x in v]), s)
                r[f"vs_{k}"] = {"roc_auc": round(auc, 4), "detection_rate_at_fpr_1pct": round(dr, 4)}
        auc, dr = _auc_dr(sb_all, s)
        r["roc_auc"], r["detection_rate_at_fpr_1pct"] = round(auc, 4), round(dr, 4)
        res["families"][fam] = r
        per = " ".join(f"{k[3:]}={v['roc_auc']:.4f}" for k, v in r.items() if k.startswith("vs_"))
        print(f"  dga {fam:14s} n={len(names):6d} roc_auc={auc:.4f} dr@1%fpr={dr:.3f} above-thr={r['above_alert_threshold']:.3f} "
              f"[{per}] {'(in training as ' + r['in_training_as'] + ')' if r['in_training_as'] else ''} "
              f"family: {list(r['family_called'])[:2]}", flush=True)
    unseen = {k: v for k, v in res["families"].items() if not v["in_training_as"]}
    if unseen:
        res["unseen_mean_roc_auc"] = round(float(np.mean([v["roc_auc"] for v in unseen.values()])), 4)
        res["unseen_mean_detection_rate_at_fpr_1pct"] = round(
            float(np.mean([v["detection_rate_at_fpr_1pct"] for v in unseen.values()])), 4)
        for k in benign:
            vals = [v[f"vs_{k}"]["roc_auc"] for v in unseen.values() if f"vs_{k}" in v]
            if vals:
                res[f"unseen_mean_roc_auc_vs_{k}"] = round(float(np.mean(vals)), 4)
        print(f"  dga families never in training ({len(unseen)}: {', '.join(unseen)}): mean roc_auc "
              f"{res['unseen_mean_roc_auc']}, mean dr@1%fpr {res['unseen_mean_detection_rate_at_fpr_1pct']}; "
              + ", ".join(f"vs {k}: {res[f'unseen_mean_roc_auc_vs_{k}']}" for k in benign
                          if f"unseen_mean_roc_auc_vs_{k}" in res), flush=True)
        o = np.argsort(-sb_all)[:10]
        res["top_benign"] = [(all_ben[i], round(float(sb_all[i]), 3)) for i in o]
    res["detector"] = detector_scenarios(m, all_ben, {k: v for k, v in res["families"].items()}, folder, more)
    return res


def detector_scenarios(m, benign: list[str], families: dict, folder: Path, more: Path | None) -> dict:
    """``web.dga`` over events: one client browsing every benign name (all resolve, 8 hours), and per
    family one infected client trying 50 of its names in 10 minutes, 90% NXDOMAIN."""
    from threatml.detectors.web.dga import DgaDetector
    from threatml.events import EventBatch

    rng = np.random.default_rng(7)

    def run(names, rcodes, seconds, **kw):
        det = DgaDetector(score_fn=m.score_samples, threshold=max(0.5, float(m.threshold_)), **kw)
        fr = pd.DataFrame({"@timestamp": 1.7e9 + np.sort(rng.uniform(0, seconds, len(names))), "source.ip": "10.2.0.9",
                           "dns.question.name": names, "dns.response_code": rcodes,
                           "event.id": [f"d{i}" for i in range(len(names))]})
        return det.process(EventBatch.of("dns", fr, source="bench")) + det.flush()

    browse = [b if "." in b else b + ".com" for b in benign]
    res = {"browsing_client_names": len(browse),
           "browsing_findings": len(run(browse, "NOERROR", 8 * 3600)),
           "browsing_findings_with_the_version_1_rule": len(run(browse, "NOERROR", 8 * 3600, min_domains_resolved=3,
                                                                 burst=np.inf)),
           "infected_clients_found": {}, "infected_clients_found_all_names_resolving": {}}
    for fam in families:
        p = next((q for q in [folder / f"{fam}.txt"] + ([more / f"{fam}.txt"] if more else []) if q.exists()), None)
        names = _names_of_file(p)
        names = [x if "." in x else x + ".com" for x in rng.choice(names, min(50, len(names)), replace=False)]
        rc = np.where(rng.random(len(names)) < 0.9, "NXDOMAIN", "NOERROR")
        res["infected_clients_found"][fam] = bool(run(names, rc, 600))
        res["infected_clients_found_all_names_resolving"][fam] = bool(run(names, "NOERROR", 600))
    print(f"  web.dga over events: a client browsing {len(browse)} benign names (all resolving, 8 h) -> "
          f"{res['browsing_findings']} finding(s) ({res['browsing_findings_with_the_version_1_rule']} with the version 1 "
          f"rule: 3 names, no burst); infected clients (50 names in 10 min, 90% NXDOMAIN) found: "
          f"{res['infected_clients_found']}; all names resolving: {res['infected_clients_found_all_names_resolving']}",
          flush=True)
    return res


def bench_threatfox(m, extra: Path) -> dict:
    p = extra / "threatfox" / "test.csv"
    if not p.exists():
        return _skip("threatfox", f"{p} absent")
    d = pd.read_csv(p, dtype=str, keep_default_na=False)
    cols = {c.lower(): c for c in d.columns}
    item = cols.get("input") or cols.get("domain") or d.columns[0]
    lab = cols.get("label") or d.columns[-1]
    cls = cols.get("class")
    y = (~d[lab].str.lower().isin(["legit", "benign", "legitimate", "0"])).to_numpy().astype(int)
    names = d[item].str.strip().str.lower().tolist()
    s = m.score_samples(names)
    auc, dr = _auc_dr(s[y == 0], s[y == 1])
    above = s >= m.threshold_
    res = {"n": len(d), "malicious": int(y.sum()), "legit": int((y == 0).sum()), "roc_auc": round(auc, 4),
           "detection_rate_at_fpr_1pct": round(dr, 4),
           "malicious_above_alert_threshold": round(float(above[y == 1].mean()), 4),
           "legit_above_alert_threshold": round(float(above[y == 0].mean()), 4)}
    if cls:
        per = {}
        dm = pd.DataFrame({"c": d[cls].to_numpy(), "s": s, "y": y})[y == 1]
        for c, g in dm.groupby("c"):
            per[c] = {"n": len(g), "above_alert_threshold": round(float((g["s"] >= m.threshold_).mean()), 4)}
        top = sorted(per.items(), key=lambda kv: -kv[1]["n"])[:12]
        res["per_class_top12"] = dict(top)
        algo = sorted(((k, v) for k, v in per.items() if v["n"] >= 20), key=lambda kv: -kv[1]["above_alert_threshold"])[:8]
        res["most_algorithmic_classes"] = dict(algo)
    res["malicious_examples_above"] = [n for n, a, t in zip(names, above, y) if a and t][:8]
    res["malicious_examples_below"] = [n for n, a, t in zip(names, above, y) if not a and t][:8]
    print(f"  threatfox: {res['malicious']} malicious vs {res['legit']} legit: roc_auc={auc:.4f} dr@1%fpr={dr:.3f}; "
          f"above the DGA alert threshold: malicious {res['malicious_above_alert_threshold']:.1%}, legit "
          f"{res['legit_above_alert_threshold']:.2%}", flush=True)
    if cls:
        print("  threatfox classes most often called algorithmic: "
              + ", ".join(f"{k} {v['above_alert_threshold']:.0%} of {v['n']}" for k, v in res["most_algorithmic_classes"].items()),
              flush=True)
    return res


# ------------------------------------------------------------------ DNS tunneling
TUNNEL_ZONES = {"tuns": "t.tuns-zone.net", "dnscapy": "d.capy-zone.org", "iodine": "i.iodine-zone.com",
                "dns2tcp": "x.d2t-zone.info"}


def read_bubnov(extra: Path) -> pd.DataFrame | None:
    p = extra / "tunnel" / "test.csv"
    if not p.exists():
        return None
    d = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors="replace")
    cols = {c.lower(): c for c in d.columns}
    return pd.DataFrame({"q": d[cols.get("input", d.columns[0])].astype(str),
                         "cls": d[cols.get("class", d.columns[1])].astype(str).str.lower()})


def bubnov_events(d: pd.DataFrame, hours: float = 24.0, keep: dict | None = None, seed: int = 0):
    """The per-query rows as one day of dns events from one client: tunnel rows under their tool's zone.

    ``keep``: tool -> number of its queries kept (lower volume); plain rows are all kept.
    The set gives no time and no query type: queries are spread uniformly over ``hours``, types left empty."""
    from threatml.events import EventBatch

    rng = np.random.default_rng(seed)
    parts = []
    for cls, g in d.groupby("cls"):
        if keep and cls in keep and len(g) > keep[cls]:
            g = g.sample(keep[cls], random_state=seed)
        zone = TUNNEL_ZONES.get(cls)
        name = g["q"].str.rstrip(".") + ("." + zone if zone else "")
        # the set has no query types: none are given, so the TXT/NULL rule cannot help
        parts.append(pd.DataFrame({"dns.question.name": name.to_numpy(), "dns.question.type": "", "cls": cls}))
    ev = pd.concat(parts, ignore_index=True)
    ev["@timestamp"] = 1.7e9 + rng.uniform(0, hours * 3600, len(ev))
    ev = ev.sort_values("@timestamp", kind="stable").reset_index(drop=True)
    ev["source.ip"] = "10.1.1.5"
    ev["event.id"] = [f"b{i}" for i in range(len(ev))]
    return ev, [EventBatch.of("dns", ev.iloc[i:i + 50_000].drop(columns=["cls"]).reset_index(drop=True), source="bubnov")
                for i in range(0, len(ev), 50_000)]


def _real_dns(root: Path) -> list:
    from threatml.errors import ReadReport
    from threatml.readers import detect

    out = []
    files = sorted((root / "zeek").rglob("*dns*.log*")) + sorted((root / "suricata").glob("*.json"))
    for f in files:
        cls = detect(f)
        if cls is None:
            continue
        out += [b for b in cls().read(f, ReadReport(), 100_000) if b.kind == "dns"]
    return out


def _other_hosts(root: Path, extra: Path) -> dict[str, list[str]]:
    """Host names that are no tunnel: ISCX benign URL hosts, PhishTank hosts (long deceptive
    subdomains), ThreatFox legit and malicious names (malware, not tunnels)."""
    from threatml.shipped.build_web import ISCX_BENIGN, PHISHTANK
    from threatml.web.urls import normalize_urls

    out = {}
    for label, rel, kw in (("ISCX benign URL hosts", ISCX_BENIGN, {"header": None}), ("PhishTank URL hosts", PHISHTANK, {})):
        if (root / rel).exists():
            urls = pd.read_csv(root / rel, dtype=str, **kw).iloc[:, 1 if label.startswith("Phish") else 0].dropna()
            out[label] = sorted(set(normalize_urls(urls.tolist())["host"]) - {""})
    tf = extra / "threatfox" / "test.csv"
    if tf.exists():
        d = pd.read_csv(tf, dtype=str, keep_default_na=False)
        for lab, g in d.groupby(d.columns[-1]):
            out[f"ThreatFox {lab} names"] = sorted(set(g[d.columns[0]]))
    return out


def bench_tunnel(extra: Path, root: Path) -> dict:
    from threatml.detectors.web.tunnel import DnsTunnelDetector, encoded_query_scores

    res: dict = {}
    real = _real_dns(root)
    det = DnsTunnelDetector()
    false = [f for b in real for f in det.process(b)] + det.flush()
    res["real_logs"] = {"dns_events": int(sum(len(b) for b in real)), "false_alerts": len(false),
                        "titles": [f.title for f in false]}
    real_names = pd.concat([b.frame["dns.question.name"] for b in real], ignore_index=True) if real else pd.Series([], dtype=str)
    if len(real_names):
        rs = encoded_query_scores(real_names.astype(str).tolist())
        res["real_logs"]["queries_scored_encoded"] = int((rs >= 0.5).sum())
    print(f"  tunnel real Zeek/Suricata dns logs: {res['real_logs']}", flush=True)
    res["per_query_on_other_names"] = other = {}
    for label, hosts in _other_hosts(root, extra).items():
        sc = encoded_query_scores(hosts)
        other[label] = {"distinct_names": len(hosts), "scored_encoded": int((sc >= 0.5).sum()),
                        "examples": [h for h, x in zip(hosts, sc) if x >= 0.5][:4]}
        print(f"  tunnel per-query score on {label}: {other[label]['scored_encoded']} of {len(hosts)} distinct names "
              f"scored as encoded data; e.g. {other[label]['examples'][:2]}", flush=True)
    d = read_bubnov(extra)
    if d is None:
        res["bubnov"] = _skip("tunnel", f"{extra / 'tunnel' / 'test.csv'} absent")
        return res
    counts = d["cls"].value_counts().to_dict()
    res["bubnov_rows"] = {k: int(v) for k, v in counts.items()}
    # 1. per query: the lexical score alone (tunnel rows have no zone here: the data part is scored)
    zone = d["cls"].map(TUNNEL_ZONES).fillna("")
    full = np.where(zone != "", d["q"].str.rstrip(".") + "." + zone, d["q"])
    t = time.perf_counter()
    s = encoded_query_scores(full.tolist())
    dt = time.perf_counter() - t
    y = (d["cls"] != "plain").to_numpy().astype(int)
    per = {}
    for cls in sorted(counts):
        m = (d["cls"] == cls).to_numpy()
        per[cls] = {"n": int(m.sum()), "scored_encoded": round(float((s[m] >= 0.5).mean()), 4)}
    longer = (pd.Series(full).str.len() - zone.str.len() >= 17).to_numpy() & (y == 1)  # 16+ characters of data
    res["per_query"] = {"roc_auc_tunnel_vs_plain": round(float(roc_auc_score(y, s)), 4),
                        "tunnel_rows_with_16_plus_data_chars_scored_encoded": round(float((s[longer] >= 0.5).mean()), 4),
                        "tunnel_scored_encoded": round(float((s[y == 1] >= 0.5).mean()), 4),
                        "plain_scored_encoded": round(float((s[y == 0] >= 0.5).mean()), 4), "per_class": per,
                        "names_per_s": round(len(d) / dt)}
    print(f"  tunnel per-query lexical score: {res['per_query']}", flush=True)
    # 2. windows over events: full volume, then fewer queries per tool
    tools = [c for c in counts if c in TUNNEL_ZONES]
    res["window_detector"] = {}
    for label, keep, hours in (("full volume over 1 h", None, 1.0), ("full volume over 24 h", None, 24.0),
                               ("300 queries per tool over 24 h", {c: 300 for c in tools}, 24.0),
                               ("100 queries per tool over 24 h", {c: 100 for c in tools}, 24.0),
                               ("40 queries per tool over 24 h", {c: 40 for c in tools}, 24.0)):
        ev, batches = bubnov_events(d, hours=hours, keep=keep)
        det = DnsTunnelDetector()
        found = [f for b in batches for f in det.process(b)] + det.flush()
        ents = {f.entity for f in found}
        zones = {c: TUNNEL_ZONES[c].split(".", 1)[1] for c in tools}
        plain_regs = set(ev.loc[ev["cls"] == "plain", "dns.question.name"].str.lower())
        r = {"tools_found": {c: z in ents for c, z in zones.items()},
             "queries_per_tool": {c: int((ev["cls"] == c).sum()) for c in tools},
             "plain_domains": len(plain_regs), "plain_domains_flagged": len(ents - set(zones.values())),
             "flagged_other": sorted(ents - set(zones.values()))[:10]}
        res["window_detector"][label] = r
        print(f"  tunnel windows, {label}: found {r['tools_found']}; plain domains flagged "
              f"{r['plain_domains_flagged']} of {r['plain_domains']}", flush=True)
    return res


# ------------------------------------------------------------------ speed
def bench_speed(m, n: int = 100_000) -> dict:
    from threatml.detectors.web.tunnel import encoded_query_scores

    rng = np.random.default_rng(5)
    b32 = np.array(list("abcdefghijklmnopqrstuvwxyz234567"))
    words = np.array(["mail", "www", "api", "cdn", "static", "img", "login", "eu-west", "app", "files"])
    names = []
    for i in range(n):
        if i % 2:
            names.append("".join(rng.choice(b32, int(rng.integers(20, 120)))) + f".t{i % 50}.tunnel-zone.net")
        else:
            names.append(f"{rng.choice(words)}{i}.{rng.choice(words)}.example{i % 500}.com")
    t, c = time.perf_counter(), time.process_time()
    encoded_query_scores(names)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    res = {"encoded_query_score": {"names": n, "names_per_s": round(n / dt), "names_per_cpu_s": round(n / dc)}}
    print(f"  speed: per-query lexical tunnel score {n / dt:,.0f} names/s ({n / dc:,.0f} per CPU-second)", flush=True)
    from threatml.detectors.web.tunnel import DnsTunnelDetector
    from threatml.events import EventBatch

    fr = pd.DataFrame({"@timestamp": 1.7e9 + np.sort(rng.uniform(0, 6 * 3600, n)), "source.ip": "10.0.0.5",
                       "dns.question.name": names, "dns.question.type": "A", "event.id": [f"s{i}" for i in range(n)]})
    det = DnsTunnelDetector()
    t, c = time.perf_counter(), time.process_time()
    for i in range(0, n, 50_000):
        det.process(EventBatch.of("dns", fr.iloc[i:i + 50_000].reset_index(drop=True), source="speed"))
    det.flush()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    res["dns_tunnel_detector"] = {"events": n, "events_per_s": round(n / dt), "events_per_cpu_s": round(n / dc)}
    print(f"  speed: web.dns-tunnel detector {n / dt:,.0f} dns events/s ({n / dc:,.0f} per CPU-second; half of them "
          f"long encoded names)", flush=True)
    letters = rng.choice(list("abcdefghijklmnopqrstuvwxyz"), (n // 2, 10))
    dga_names = ["".join(row) + f"{i}.com" for i, row in enumerate(letters)]
    t, c = time.perf_counter(), time.process_time()
    m.score_samples(dga_names)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    res["dga_score"] = {"names": len(dga_names), "names_per_s": round(len(dga_names) / dt),
                        "names_per_cpu_s": round(len(dga_names) / dc)}
    print(f"  speed: DGA model {len(dga_names) / dt:,.0f} distinct names/s ({len(dga_names) / dc:,.0f} per CPU-second)",
          flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(_default_data()), help="shared datasets root (training data, real logs)")
    ap.add_argument("--extra", default="/tmp/dns_extra", help="folder of the external evaluation corpora")
    ap.add_argument("--families", default=None, help="another folder of <family>.txt DGA lists (e.g. /tmp/dga_extra)")
    ap.add_argument("--model", default=None, help="DGA model folder or name (default: the shipped dga-classifier)")
    ap.add_argument("--retrain", action="store_true", help="score with the shipped recipe retrained from --data now")
    ap.add_argument("--only", action="append", choices=["lofo", "dga", "threatfox", "tunnel", "speed"], default=[])
    ap.add_argument("--lofo-params", default="{}", help='DgaModel settings for lofo, JSON (e.g. \'{"syllable": 0}\')')
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args()
    root, extra = Path(a.data), Path(a.extra)
    only = set(a.only) or {"lofo", "dga", "threatfox", "tunnel", "speed"}
    if not extra.is_dir():
        print(f"note: {extra} does not exist; the parts on external corpora are skipped (give --extra)", flush=True)
    out: dict = {}
    model = None
    if only & {"dga", "threatfox", "speed"}:
        model, desc = load_model(a.model, a.retrain, root)
        out["model"] = desc
        print(f"DGA model: {desc} (alert threshold {model.threshold_:.3f})", flush=True)
    more = Path(a.families) if a.families else None
    parts = (("lofo", lambda: bench_lofo(root, overrides=json.loads(a.lofo_params))),
             ("dga", lambda: bench_dga(model, extra, root, more)),
             ("threatfox", lambda: bench_threatfox(model, extra)), ("tunnel", lambda: bench_tunnel(extra, root)),
             ("speed", lambda: bench_speed(model)))
    run_parts(parts, only, a.json, out)


if __name__ == "__main__":
    main()
