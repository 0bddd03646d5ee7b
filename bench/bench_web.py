"""URL, DGA and DNS-tunneling targets of issue 3, measured on the shared data.

    .venv/bin/python bench/bench_web.py [--data ../shared/datasets] [--families DIR] [--only url|dga|tunnel]
                                        [--url-extra DIR [--url-extra-inverted NAME]...]

DGA (360netlab feed sample, 11 families; benign = the 10,000 top domains, 80/20 split):
  * leave-one-family-out: for every family with >= 50 names, a model trained
    (shipped settings) on the other families and 80% of the benign names
    scores the held-out family against the other 20%: ROC-AUC and detection
    rate at 1% FPR per family, and their mean;
  * families never in training at all: every ``<family>.txt`` in
    ``--families`` (one name per line) and, when present under the data
    root, the andrewaeva/DGA lists (``url/dga_families_andrewaeva/...``),
    scored by the model trained on all 360netlab families;
  * overall ROC-AUC on a random 80/20 split of benign + all families;
  * names of real traffic (Stratosphere Zeek ssl/dns/http, Suricata dns):
    share above the alert threshold and DGA findings raised;
  * speed (distinct domains/s) and peak memory.
URL (PhishTank + Nazario-mail links vs ISCX + top-10k home pages + SpamAssassin ham links):
  * site-disjoint split (80/20 by registered domain) over all sources: F1, ROC-AUC;
  * cross-source: train on PhishTank + ISCX + top home pages, test on the
    links of Nazario phishing mail vs SpamAssassin easy_ham mail (no source shared);
  * ``--url-extra DIR``: external sets ``DIR/<name>/test.csv`` (an ``input``/``url``
    column and a ``label`` column, read by :func:`threatml.web.data.load_items`)
    scored by the shipped model: ROC-AUC, F1 at its threshold, detection at 1%
    FPR. Sets whose copy swaps the labels are named with ``--url-extra-inverted``
    (default: ``phiusiil``, whose DomURLs_BERT copy calls its phishing URLs
    ``legit``). A missing folder or set is skipped;
  * real traffic (Stratosphere Zeek http): findings raised;
  * speed (URLs/s, end to end: parse, features, n-grams, both stages) and peak memory.
Tunneling: iodine-like (base32, NULL/TXT) and dnscat-like (hex, CNAME/TXT/MX)
tunnels generated into the real Zeek/Suricata dns events, found or not; false
alerts on the real logs alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from threatml.pipeline.metrics import binary_report, detection_rate_at_fpr

REPO = Path(__file__).resolve().parents[1]
ANDREWAEVA = "url/dga_families_andrewaeva"


def _peak_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def _default_data() -> Path:
    for c in (REPO.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if c.is_dir():
            return c
    return REPO.parent / "shared" / "datasets"


def _auc_dr(benign_scores: np.ndarray, mal_scores: np.ndarray) -> tuple[float, float]:
    y = np.r_[np.zeros(len(benign_scores)), np.ones(len(mal_scores))]
    s = np.r_[benign_scores, mal_scores]
    return float(roc_auc_score(y, s)), float(detection_rate_at_fpr(y, s, 0.01))


def _real_events(root: Path, kinds: set[str]) -> list:
    """Event batches of the real Zeek and Suricata logs (the kinds asked for)."""
    from threatml.errors import ReadReport
    from threatml.readers import detect

    batches = []
    files = sorted((root / "zeek").rglob("*.log*")) + sorted((root / "suricata").glob("*.json"))
    for f in files:
        if not any(k in f.name for k in ("dns", "ssl", "http", "suricata")):
            continue
        cls = detect(f)
        if cls is None:
            continue
        for b in cls().read(f, ReadReport(), 100_000):
            if b.kind in kinds:
                batches.append(b)
    return batches


# ------------------------------------------------------------------ DGA
def extra_families(root: Path, folder: Path | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cands = []
    if folder is not None:
        cands += sorted(folder.glob("*.txt"))
    aw = root / ANDREWAEVA
    if aw.is_dir():
        cands += sorted((aw / "help" / "1000domains").glob("*_1000.txt"))
    for p in cands:
        fam = p.stem.replace("_1000", "").lower()
        if fam in ("alexa", "opendns", "top") or fam.startswith("opendns"):
            continue
        names = [ln.strip().split(",")[-1] for ln in p.read_text(errors="replace").splitlines()
                 if ln.strip() and not ln.startswith("#")]
        out.setdefault(fam, []).extend(names)
    return out


def ngram_baseline(benign: list[str], dga_names: list[str]):
    """The usual baseline: logistic regression on hashed character 2- to 4-grams of the registered label."""
    from sklearn.linear_model import LogisticRegression

    from threatml.web.domains import registered_labels
    from threatml.web.textvec import as_arrow, ngram_matrix

    def X(names):
        return ngram_matrix(as_arrow(registered_labels(names)["label"]), (2, 3, 4), 2**16)

    lr = LogisticRegression(C=4.0, solver="liblinear", random_state=0)
    lr.fit(X(benign + dga_names), np.r_[np.zeros(len(benign)), np.ones(len(dga_names))])
    return lambda names: lr.decision_function(X(names))


def bench_dga(root: Path, families_dir: Path | None, seed: int = 0, baseline: bool = True) -> dict:
    from threatml.detectors.web.dga import DgaDetector
    from threatml.shipped.build_web import DGA_FEED, english_word_counts, top_domains
    from threatml.web.data import load_items
    from threatml.web.dga_model import DgaModel

    params = dict(n_estimators=250, num_leaves=15, folds=0, seed=seed)
    counts, used = english_word_counts(root)
    dga = load_items([str(root / DGA_FEED)])
    ben = pd.Series(top_domains(root))
    perm = np.random.default_rng(seed).permutation(len(ben))
    btr, bte = ben.iloc[perm[: int(0.8 * len(ben))]].tolist(), ben.iloc[perm[int(0.8 * len(ben)):]].tolist()
    fams = [f for f, n in dga["family"].value_counts().items() if n >= 50]
    res: dict = {"benign_train": len(btr), "benign_test": len(bte), "word_corpus": used, "leave_one_family_out": {}}

    def fit(d):
        return DgaModel(**params).fit(btr + d["item"].tolist(), np.r_[np.zeros(len(btr)), np.ones(len(d))],
                                      np.r_[["benign"] * len(btr), d["family"].to_numpy(dtype=object)], word_counts=counts)

    extra = extra_families(root, families_dir)
    for fam in fams:
        t = time.perf_counter()
        m = fit(dga[dga["family"] != fam])
        auc, dr = _auc_dr(m.score_samples(bte), m.score_samples(dga.loc[dga["family"] == fam, "item"].tolist()))
        res["leave_one_family_out"][fam] = {"n": int((dga["family"] == fam).sum()), "roc_auc": round(auc, 4),
                                            "detection_rate_at_fpr_1pct": round(dr, 4)}
        if baseline:
            b = ngram_baseline(btr, dga.loc[dga["family"] != fam, "item"].tolist())
            bauc, bdr = _auc_dr(b(bte), b(dga.loc[dga["family"] == fam, "item"].tolist()))
            res["leave_one_family_out"][fam]["char_ngram_baseline_roc_auc"] = round(bauc, 4)
        print(f"  dga LOFO {fam:16s} n={res['leave_one_family_out'][fam]['n']:5d} roc_auc={auc:.4f} "
              f"dr@1%fpr={dr:.3f}" + (f" (char n-gram baseline {bauc:.4f})" if baseline else "")
              + f"  ({time.perf_counter() - t:.0f} s)", flush=True)
    if baseline:
        b = ngram_baseline(btr, dga["item"].tolist())
        sbb = b(bte)
        for fam, names in extra.items():
            res.setdefault("baseline_never_in_training", {})[fam] = round(_auc_dr(sbb, b(names))[0], 4)
    m = fit(dga)
    sb = m.score_samples(bte)
    res["never_in_training"] = {}
    for fam, names in extra.items():
        auc, dr = _auc_dr(sb, m.score_samples(names))
        pf, _ = m.predict_family(names)
        unknown = float(np.mean([str(f).endswith("synthetic") for f in pf]))
        res["never_in_training"][fam] = {"n": len(names), "roc_auc": round(auc, 4),
                                         "detection_rate_at_fpr_1pct": round(dr, 4),
                                         "called_unknown_family": round(unknown, 4)}
        if baseline:
            res["never_in_training"][fam]["char_ngram_baseline_roc_auc"] = res["baseline_never_in_training"][fam]
        print(f"  dga unseen {fam:16s} n={len(names):5d} roc_auc={auc:.4f} dr@1%fpr={dr:.3f} "
              f"family 'unknown' {unknown:.0%}" + (f" (char n-gram baseline {res['baseline_never_in_training'][fam]:.4f})"
                                                   if baseline else ""), flush=True)
    unseen = list(res["leave_one_family_out"].values()) + list(res["never_in_training"].values())
    res["unseen_mean_roc_auc"] = round(float(np.mean([r["roc_auc"] for r in unseen])), 4)
    if baseline:
        res["baseline_unseen_mean_roc_auc"] = round(float(np.mean([r["char_ngram_baseline_roc_auc"] for r in unseen])), 4)
        print(f"  dga unseen-family mean roc_auc {res['unseen_mean_roc_auc']} (char n-gram baseline "
              f"{res['baseline_unseen_mean_roc_auc']})", flush=True)
    res["unseen_mean_detection_rate_at_fpr_1pct"] = round(float(np.mean([r["detection_rate_at_fpr_1pct"] for r in unseen])), 4)
    # overall: random 80/20 over all families
    te = np.random.default_rng(seed + 1).random(len(dga)) < 0.2
    m2 = fit(dga[~te])
    y = np.r_[np.zeros(len(bte)), np.ones(int(te.sum()))]
    s = np.r_[m2.score_samples(bte), m2.score_samples(dga.loc[te, "item"].tolist())]
    rep = binary_report(y, s, m2.threshold_)
    pf, _ = m2.predict_family(dga.loc[te, "item"].tolist())
    res["overall_random_split"] = {"roc_auc": rep["roc_auc"], "detection_rate_at_fpr_1pct": rep["detection_rate_at_fpr_1pct"],
                                   "family_accuracy": round(float(np.mean(pf == dga.loc[te, "family"].to_numpy())), 4)}
    print(f"  dga overall (random 80/20): {res['overall_random_split']}", flush=True)
    # speed: the shipped model over distinct names
    shipped = DgaModel.load()
    rng = np.random.default_rng(3)
    names = [f"{w}{rng.integers(1e6)}.com" for w in rng.choice(ben.str.split(".").str[0], 50_000)]
    names += [str(x) for x in dga["item"].sample(50_000, replace=True, random_state=1)]
    names = [f"{i % 97}{n}" for i, n in enumerate(names)]  # distinct
    t, c = time.perf_counter(), time.process_time()
    shipped.score_samples(names)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    res["speed"] = {"domains": len(names), "seconds": round(dt, 2), "domains_per_s": round(len(names) / dt),
                    "domains_per_cpu_s": round(len(names) / dc)}
    print(f"  dga speed: {len(names):,} distinct names in {dt:.2f} s = {len(names) / dt:,.0f} names/s "
          f"({len(names) / dc:,.0f} per CPU-second)", flush=True)
    # real traffic: names from the Stratosphere and Suricata logs
    from threatml.detectors.web.names import names_of

    batches = _real_events(root, {"dns", "tls", "http"})
    allnames = pd.concat([names_of(b.frame, b.kind) for b in batches], ignore_index=True) if batches else pd.Series([], dtype=str)
    uniq = sorted(set(allnames) - {""})
    sc = shipped.score_samples(uniq) if uniq else np.zeros(0)
    det = DgaDetector()
    found = [f for b in batches for f in det.process(b)] + det.flush()
    res["real_traffic"] = {"events": int(sum(len(b) for b in batches)), "distinct_names": len(uniq),
                           "names_above_threshold": int((sc >= shipped.threshold_).sum()),
                           "flagged_examples": [n for n, x in zip(uniq, sc) if x >= shipped.threshold_][:10],
                           "findings": len(found)}
    print(f"  dga real traffic: {res['real_traffic']}", flush=True)
    return res


# ------------------------------------------------------------------ URL
def bench_url(root: Path, seed: int = 0, extra: Path | None = None, inverted: set[str] | None = None) -> dict:
    from threatml.detectors.web.url import UrlDetector
    from threatml.shipped.build_web import fit_url_model, url_training_items
    from threatml.web.tld import split_hosts
    from threatml.web.url_model import UrlModel
    from threatml.web.urls import normalize_urls, strip_www, url_features

    d, _ = url_training_items(root, mail=True)
    d = d.drop_duplicates("item").reset_index(drop=True)
    res: dict = {"sources": {k: {"benign": int((g["y"] == 0).sum()), "phishing": int(g["y"].sum())}
                             for k, g in d.groupby("source")}}
    print(f"  url sources: {res['sources']}", flush=True)
    reg = split_hosts(strip_www(normalize_urls(d["item"])["host"]).to_pylist())["registered"]
    g = pd.factorize(reg)[0]
    te = (np.random.default_rng(seed).random(g.max() + 1) < 0.2)[g]
    m = fit_url_model(d[~te], root, seed=seed)
    s = m.score_samples(d.loc[te, "item"].tolist())
    rep = binary_report(d.loc[te, "y"].to_numpy(), s, m.threshold_)
    res["site_disjoint_split"] = {k: rep[k] for k in ("n", "n_malicious", "f1", "precision", "recall", "roc_auc",
                                                        "benign_fpr", "detection_rate_at_fpr_1pct", "threshold")}
    print(f"  url site-disjoint 80/20: {res['site_disjoint_split']}", flush=True)
    per = {}
    for src, grp in d[te].assign(s=s).groupby("source"):
        thr_hit = (grp["s"] >= m.threshold_).mean()
        per[src] = {"n": len(grp), ("recall" if grp["y"].iloc[0] else "benign_flagged"): round(float(thr_hit), 4)}
    res["site_disjoint_split"]["per_source"] = per
    print(f"  url site-disjoint per source: {per}", flush=True)
    # cross-source: no source of the test set is in training
    a = d["source"].isin(["phishtank", "iscx", "top-homepages"])
    b = d["source"].isin(["nazario-phish-links", "spamassassin-ham-links"])
    if b.any() and d.loc[b, "y"].nunique() == 2:
        mA = fit_url_model(d[a], root, seed=seed)
        sB = mA.score_samples(d.loc[b, "item"].tolist())
        r = binary_report(d.loc[b, "y"].to_numpy(), sB, mA.threshold_)
        res["cross_source_phishtank_iscx_to_mail_links"] = {k: r[k] for k in ("n", "n_malicious", "f1", "roc_auc",
                                                                               "benign_fpr", "recall", "detection_rate_at_fpr_1pct")}
        print(f"  url cross-source (PhishTank+ISCX+top -> Nazario vs SpamAssassin easy_ham links): "
              f"{res['cross_source_phishtank_iscx_to_mail_links']}", flush=True)
    shipped = UrlModel.load()
    if extra is not None:
        res["external"] = eval_url_extra(shipped, extra, inverted=inverted)
    # speed: the shipped model end to end on 100k distinct URLs
    urls = d["item"].sample(100_000, replace=True, random_state=2).tolist()
    urls = [u + ("" if i % 2 else f"?i={i}") for i, u in enumerate(urls)]
    urls = list(dict.fromkeys(urls))
    shipped.score_samples(urls[:1000])
    res["speed"] = {"urls": len(urls), "load_average_1min_before": round(__import__("os").getloadavg()[0], 2)}
    for jobs in (1, 2):
        for rep_i in range(3):
            t, c = time.perf_counter(), time.process_time()
            shipped.score_samples(urls, n_jobs=jobs)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            key = f"{jobs}_thread{'s' if jobs > 1 else ''}"
            best = res["speed"].get(f"urls_per_s_{key}", 0)
            if len(urls) / dt > best:
                res["speed"][f"urls_per_s_{key}"] = round(len(urls) / dt)
                res["speed"][f"urls_per_cpu_s_{key}"] = round(len(urls) / dc)
            print(f"  url speed, {jobs} thread(s): {len(urls):,} URLs scored end to end in {dt:.2f} s wall = "
                  f"{len(urls) / dt:,.0f} URLs/s ({len(urls) / dc:,.0f} per CPU-second)", flush=True)
    t = time.perf_counter()
    url_features(urls)
    dtf = time.perf_counter() - t
    res["speed"]["lexical_features_only_urls_per_s"] = round(len(urls) / dtf)
    res["speed"]["load_average_1min_after"] = round(__import__("os").getloadavg()[0], 2)
    print(f"  url speed: lexical features alone {len(urls) / dtf:,.0f} URLs/s; load average "
          f"{res['speed']['load_average_1min_before']} -> {res['speed']['load_average_1min_after']} on 2 shared cores "
          "(best of 3 runs each)", flush=True)
    batches = _real_events(root, {"http"})
    det = UrlDetector()
    found = [f for bt in batches for f in det.process(bt)] + det.flush()
    res["real_traffic"] = {"http_events": int(sum(len(bt) for bt in batches)), "findings": len(found),
                           "examples": [f.title for f in found[:5]]}
    print(f"  url real traffic (Stratosphere/Suricata http): {res['real_traffic']}", flush=True)
    return res


#: external URL sets: sub-folder -> labels swapped in that copy (PhiUSIIL in DomURLs_BERT calls phishing "legit")
EXTRA_URL_SETS = {"lnu": False, "phiusiil": True, "phishcrawl": False}


def url_extra_sets(folder: Path, inverted: set[str] | None = None) -> dict[str, tuple[Path, bool]]:
    """``<folder>/<name>/test.csv`` sets that are complete (a ``READY`` file, when the folder uses one).

    ``inverted``: names whose labels are swapped (default: :data:`EXTRA_URL_SETS`); any other
    sub-folder with a ``test.csv`` is read as it is.
    """
    inv = {k for k, v in EXTRA_URL_SETS.items() if v} if inverted is None else set(inverted)
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        f = sub / "test.csv"
        if not f.is_file():
            continue
        if any(sub.glob("READY*")) or not any(sub.glob("*.part*")):
            out[sub.name] = (f, sub.name in inv)
    return out


def eval_url_extra(model, folder: Path, label_column: str = "label", inverted: set[str] | None = None) -> dict:
    """ROC-AUC, F1 (at the model's threshold) and detection at 1% FPR on every external set in ``folder``."""
    from threatml.errors import InputError, ReadReport
    from threatml.web.data import load_items

    res = {}
    sets = url_extra_sets(folder, inverted)
    if not sets:
        print(f"  url external sets: none in {folder} (skipped)", flush=True)
    for name, (f, inv) in sets.items():
        rep_read = ReadReport()
        try:
            e = load_items([str(f)], label_column, rep_read, invert=inv)
        except InputError as exc:
            print(f"  url external {name}: skipped ({exc})", flush=True)
            continue
        if e["y"].nunique() < 2:
            print(f"  url external {name}: one class only (skipped)", flush=True)
            continue
        s = model.score_samples(e["item"].tolist())
        r = binary_report(e["y"].to_numpy(), s, model.threshold_)
        res[name] = {k: r[k] for k in ("n", "n_malicious", "roc_auc", "f1", "precision", "recall", "benign_fpr",
                                       "detection_rate_at_fpr_1pct")}
        res[name].update({"labels_inverted": inv, "skipped_rows": rep_read.skipped_total()})
        print(f"  url external {name}{' (labels inverted)' if inv else ''}: {res[name]}", flush=True)
    return res


# ------------------------------------------------------------------ tunneling
def _tunnel_batch(kind: str, n: int, t0: float, seed: int):
    from threatml.events import EventBatch

    rng = np.random.default_rng(seed)
    if kind == "iodine":
        alpha, dom, types, lens = np.array(list("abcdefghijklmnopqrstuvwxyz012345")), "t1.iodine-tun.net", ["NULL", "TXT"], (60, 110)
    else:
        alpha, dom, types, lens = np.array(list("0123456789abcdef")), "cat.dnscat-c2.org", ["TXT", "CNAME", "MX"], (30, 70)
    names = []
    for _ in range(n):
        k = int(rng.integers(*lens))
        s = "".join(rng.choice(alpha, k))
        labels = [s[i:i + 63] for i in range(0, k, 63)]
        names.append(".".join(labels) + "." + dom)
    fr = pd.DataFrame({"@timestamp": t0 + np.sort(rng.uniform(0, 1800, n)), "source.ip": "192.168.5.23",
                       "dns.question.name": names, "dns.question.type": rng.choice(types, n),
                       "event.id": [f"{kind}{i}" for i in range(n)]})
    return EventBatch.of("dns", fr, source=f"generated-{kind}")


def bench_tunnel(root: Path) -> dict:
    from threatml.detectors.web.tunnel import DnsTunnelDetector

    real = _real_events(root, {"dns"})
    n_real = int(sum(len(b) for b in real))
    det = DnsTunnelDetector()
    false = [f for b in real for f in det.process(b)] + det.flush()
    res = {"real_dns_events": n_real, "false_alerts_on_real_logs": len(false),
           "false_alert_titles": [f.title for f in false]}
    ts = pd.concat([b.frame["@timestamp"] for b in real]) if real else pd.Series([0.0])
    t0 = float(np.nanmin(ts)) if len(ts) else 0.0
    for kind, n in (("iodine", 600), ("dnscat", 400), ("slow-iodine", 60)):
        det = DnsTunnelDetector()
        tb = _tunnel_batch("iodine" if kind.startswith("slow") else kind, n, t0 + 60, seed=len(kind))
        if kind.startswith("slow"):  # 60 queries over 6 hours: below every window's count
            tb.frame["@timestamp"] = t0 + np.linspace(0, 6 * 3600, n)
        found = [f for b in real for f in det.process(b)] + det.process(tb) + det.flush()
        ents = [f.entity for f in found]
        res[f"{kind}_found"] = any(e.endswith(("iodine-tun.net", "dnscat-c2.org")) for e in ents)
        res[f"{kind}_findings"] = ents
        print(f"  tunnel {kind}: {n} queries mixed into {n_real} real dns events -> findings {ents}", flush=True)
    print(f"  tunnel false alerts on the real dns logs alone: {len(false)}", flush=True)
    # speed on a large generated stream
    big = _tunnel_batch("iodine", 200_000, 0.0, seed=9)
    det = DnsTunnelDetector()
    t, c = time.perf_counter(), time.process_time()
    det.process(big)
    det.flush()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    res["speed_dns_events_per_s"] = round(len(big) / dt)
    res["speed_dns_events_per_cpu_s"] = round(len(big) / dc)
    print(f"  tunnel speed: {len(big):,} dns events in {dt:.2f} s = {len(big) / dt:,.0f}/s "
          f"({len(big) / dc:,.0f} per CPU-second)", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(_default_data()))
    ap.add_argument("--families", default=None, help="folder of <family>.txt DGA lists never used in training")
    ap.add_argument("--only", action="append", choices=["url", "dga", "tunnel"], default=[])
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--url-extra", default=None, help="folder of external URL sets <name>/test.csv (url/input and "
                    "label columns) scored by the shipped URL model; absent or empty: skipped")
    ap.add_argument("--url-extra-inverted", action="append", default=None,
                    help="a set (sub-folder name) whose labels are swapped; repeatable (default: phiusiil)")
    a = ap.parse_args()
    root = Path(a.data)
    if not (root / "url").is_dir():
        raise SystemExit(f"{root}: no url/ data sets here (give --data)")
    only = set(a.only) or {"url", "dga", "tunnel"}
    run_parts((("tunnel", lambda: bench_tunnel(root)),
               ("dga", lambda: bench_dga(root, Path(a.families) if a.families else None)),
               ("url", lambda: bench_url(root, extra=Path(a.url_extra) if a.url_extra else None,
                                         inverted=set(a.url_extra_inverted) if a.url_extra_inverted else None))),
              only, a.json)


def run_parts(parts, only: set[str], json_path: str | None, out: dict | None = None) -> dict:
    """Run the ``(name, function)`` parts named in ``only``, timing each and printing peak memory;
    results go into ``out`` (and to ``json_path`` when given)."""
    out = {} if out is None else out
    for name, fn in parts:
        if name in only:
            t = time.perf_counter()
            print(f"{name}:", flush=True)
            out[name] = fn()
            print(f"  ({time.perf_counter() - t:.0f} s, peak RSS so far {_peak_mib():.0f} MiB)", flush=True)
    out["peak_rss_mib"] = round(_peak_mib())
    print(f"peak RSS {out['peak_rss_mib']} MiB")
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2, default=str))
    return out


if __name__ == "__main__":
    main()
