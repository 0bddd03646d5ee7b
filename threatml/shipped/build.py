"""Rebuild the shipped default models from the shared datasets.

    python -m threatml.shipped.build --data ../shared/datasets   (or: make models)

``network-flow`` (``threatml/shipped/network/flow/``): the flow classifier on
CANONICAL features, so one model scores pcaps, Zeek, Suricata, Argus and flow
exports alike. Training data comes in *sources* (one network or capture
each), labeled by their own ground truth or, for captures that are attacks as
a whole, by file:

* Stratosphere Zeek conn logs 001, 008, 010 (per-flow labels; ``Background``
  is unknown and left out); 002-port-scanning has no labels and is one Nmap
  scanner: labeled ``portscan``.
* pcaps: CIC-DDoS-2019-SynFlood (every flow is 172.16.0.5 -> 192.168.50.4,
  the CIC-DDoS2019 attacker; checked here, the file is skipped otherwise) as
  ``syn-flood``; malicious-ssh-bruteforce as ``bruteforce``; test12-icmp-portscan
  as ``portscan``. test8-malicious is left out: its one flow is a QUIC session
  to Google that is not itself an attack.
* Argus test5-mixed (per-flow labels).
* CIC-IDS2017 (corrected) flows (no connection state or service).
* UNSW-NB15 training set, **benign flows only**: tens of thousands of normal
  flows of another network (its attacks are synthetic IXIA traffic whose
  families would only add look-alikes of that one lab).

Why sources matter: a model scored on a random split of its own networks
looks nearly perfect and still floods a new network with alerts. So the
alert threshold and the calibration come from **leave-one-source-out**
scores: for every source, a model trained on all the *other* sources scores
it; the benign flows of held-out sources set the threshold (a low false
positive rate on networks the model has not seen, each source weighing the
same), and all held-out scores fit the Platt calibration, so the reported
probability is what the model is worth on a new network.

Trees and leaves are capped so the folder stays well under 2 MB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.models.card import ModelCard, library_versions, read_card, relative_to_root, write_model
from threatml.pipeline.transfer import ALERT_FPR, calibrate_out_of_source, leave_one_source_out, out_of_source_metrics
from threatml.pipeline.transfer import weighted_threshold

_weighted_threshold = weighted_threshold  # the old name, kept for callers

HERE = Path(__file__).resolve().parent
FLOW_DIR = HERE / "network" / "flow"
CIC_DDOS_ATTACKER = "172.16.0.5"
CIC = "network/cicids2017-improved/"

#: source name -> (label or None for the data's own labels, path relative to the data root) ...
FLOW_SOURCES: dict[str, list[tuple[str | None, str]]] = {
    "stratosphere-001": [(None, "zeek/001-zeek-scenario-malicious/labeled-conn.log")],
    "stratosphere-002": [("portscan", "zeek/002-zeek-scenario-port-scanning/conn.log")],
    "stratosphere-008": [(None, "zeek/008-zeek-mixed/data/conn.log.labeled")],
    "stratosphere-010": [(None, "zeek/010-zeek-mixed/data/conn.log.labeled")],
    "pcap-synflood": [("syn-flood", "pcap/CIC-DDoS-2019-SynFlood.pcap")],
    "pcap-ssh-bruteforce": [("bruteforce", "pcap/malicious-ssh-bruteforce.pcap")],
    "pcap-icmp-portscan": [("portscan", "pcap/test12-icmp-portscan.pcap")],
    "argus-test5": [(None, "argus/test5-mixed.binetflow")],
    "cicids2017": [(None, CIC + f) for f in ("BENIGN_first2500.csv.gz", "DDoS_5000.csv.gz", "DoS_Hulk_5000.csv.gz",
                                             "FTP-Patator_3972.csv.gz", "Portscan_5000.csv.gz")],
    "unsw-nb15-benign": [(None, "network/unsw-nb15/UNSW_NB15_training-set.csv.gz")],
}
#: sources of which only the benign flows are used
BENIGN_ONLY = {"unsw-nb15-benign"}
#: kept for callers of the old flat list
FLOW_DATA: list[tuple[str | None, str]] = [d for ds in FLOW_SOURCES.values() for d in ds]

SHIPPED_PARAMS = {"n_estimators": 150, "num_leaves": 15, "family_estimators": 40, "min_child_samples": 20}


def _ddos_pcap_ok(path: Path) -> bool:
    from threatml.pipeline.dataset import load_labeled

    fr, _ = load_labeled([str(path)])
    return set(fr["source.ip"].unique()) <= {CIC_DDOS_ATTACKER}


def flow_specs(root: Path, exclude: tuple[str, ...] = ()) -> tuple[dict[str, list[str]], list[str]]:
    """Per source, the ``LABEL=PATH`` specs that exist under ``root``; and notes on what was left out."""
    out, notes = {}, []
    for name, items in FLOW_SOURCES.items():
        if name in exclude:
            notes.append(f"source {name} left out on request")
            continue
        specs = []
        for label, rel in items:
            p = root / rel
            if not p.exists():
                notes.append(f"missing, left out: {rel}")
                continue
            if rel.endswith("CIC-DDoS-2019-SynFlood.pcap") and not _ddos_pcap_ok(p):
                notes.append(f"left out {rel}: it holds flows from hosts other than the attacker {CIC_DDOS_ATTACKER}")
                continue
            specs.append(f"{label}={p}" if label else str(p))
        if specs:
            out[name] = specs
    return out, notes


def load_sources(root: Path, exclude: tuple[str, ...] = ()) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list, dict, list[str]]:
    """Canonical features, labels and source name per flow, deduplicated over all sources.

    Returns (features, labels, sources, card data files, composition, notes).
    """
    from threatml.features.flow import canonical_features
    from threatml.pipeline.dataset import BENIGN, dedupe, family_labels, load_labeled

    specs, notes = flow_specs(root, exclude)
    feats, labels, srcs, files = [], [], [], []
    for name, sp in specs.items():
        fr, df = load_labeled(sp)
        y = family_labels(fr)
        keep = y == BENIGN if name in BENIGN_ONLY else y != ""
        if (~keep).any():
            notes.append(f"{name}: {int((~keep).sum())} flows left out ({'non-benign' if name in BENIGN_ONLY else 'unknown label'})")
        feats.append(canonical_features(fr[keep].reset_index(drop=True)))
        labels.append(y[keep])
        srcs.append(np.full(int(keep.sum()), name, dtype=object))
        files += df
    F = pd.concat(feats, ignore_index=True)
    y, src = np.concatenate(labels), np.concatenate(srcs)
    # duplicates judged on what the model sees, before any split or hold-out
    keep, dd = dedupe(F, y)
    notes.append(f"dedupe: {dd['exact_duplicates']} exact duplicates removed, {dd['conflicting_rows']} rows with "
                 f"conflicting labels resolved to the majority ({dd['conflicting_label_vectors']} feature vectors)")
    F, y, src = F.iloc[keep].reset_index(drop=True), y[keep], src[keep]
    comp = {}
    for name in specs:
        m = src == name
        comp[name] = {"benign": int((y[m] == BENIGN).sum()), "attack": int((y[m] != BENIGN).sum()),
                      "families": sorted(set(y[m][y[m] != BENIGN].tolist()))}
    return F, y, src, files, {"sources": comp, "dedupe": dd}, notes


def build_flow(root: Path, out: Path = FLOW_DIR, seed: int = 0, alert_fpr: float = ALERT_FPR, log=print,
               exclude: tuple[str, ...] = ()) -> ModelCard:
    """Train the shipped flow classifier on every source (but ``exclude``) and write ``out``.

    Threshold and calibration come from leave-one-source-out scores (``threatml.pipeline.transfer``).
    """
    from threatml.models.flow_classifier import FlowClassifier

    F, y, src, files, comp, notes = load_sources(root, exclude)
    if not len(y):
        raise SystemExit(f"no training data found under {root}")
    log(f"{len(y)} flows after dedupe from {len(comp['sources'])} sources")
    margin, scored = leave_one_source_out(F, y, src, SHIPPED_PARAMS, seed=seed, log=log)

    # the shipped model: every source
    clf = FlowClassifier(feature_set="canonical", multiclass=True, seed=seed, **SHIPPED_PARAMS).fit(F, y)
    calibrate_out_of_source(clf, margin, scored, y, src, alert_fpr)

    # the honest numbers: out-of-source, per source, at the alert threshold
    oos = out_of_source_metrics(clf, margin, scored, y, src, list(comp["sources"]))
    overall = oos.pop("overall")
    metrics = {
        **oos,
        **{k: overall[k] for k in ("n", "n_malicious", "n_benign", "roc_auc", "pr_auc", "benign_fpr", "recall",
                                   "precision", "detection_rate_at_fpr_1pct", "detection_rate_at_fpr_0.1pct")},
        "composition": comp,
    }
    card = ModelCard(
        name="network-flow",
        version="2",
        domain="network",
        kind="flow-classifier",
        description=("Default flow classifier: LightGBM on canonical (behavioural, port-coarse) flow features, "
                     "trained on Stratosphere Zeek scenarios, labeled pcaps, Argus, CIC-IDS2017 flows and "
                     "UNSW-NB15 benign flows; threshold and calibration from leave-one-source-out scores"),
        training_data=files,
        feature_set="canonical",
        parameters={"train_rows": int(len(y)), "sources": sorted(comp["sources"]), "alert_fpr": alert_fpr},
        metrics=metrics,
        libraries=library_versions(),
        notes=notes,
    )
    clf.save(out, card)
    card = read_card(out, verify=True)
    relative_to_root(card.training_data, root)
    write_model(out, card)
    return card


#: other domains' shipped models: name -> "module:function"; the function takes the
#: data root, writes its model folder(s) under threatml/shipped/ and returns a
#: one-line summary to print.
DOMAIN_BUILDERS: dict[str, str] = {
    "web": "threatml.shipped.build_web:build",        # url-classifier, dga-classifier
    "email": "threatml.shipped.build_email:build",    # email-classifier
    "files": "threatml.shipped.build_files:build",    # file-clamp
    "weblog": "threatml.detectors.weblog.train:build",  # weblog-request
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Rebuild the shipped default models.")
    ap.add_argument("--only", action="append", default=[], choices=["network", *DOMAIN_BUILDERS],
                    help="rebuild only these domains (repeatable; default: all)")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[3] / "shared" / "datasets"),
                    help="root of the shared datasets (default: ../shared/datasets beside the repository)")
    ap.add_argument("--out", default=str(FLOW_DIR), help="model folder to write (default: the shipped one)")
    ap.add_argument("--alert-fpr", type=float, default=ALERT_FPR,
                    help="benign share of held-out sources allowed above the alert threshold")
    ap.add_argument("--exclude", action="append", default=[], choices=sorted(FLOW_SOURCES),
                    help="leave a source out (to measure the model on it afterwards); repeatable")
    args = ap.parse_args(argv)
    root = Path(args.data).resolve()
    only = set(args.only) or {"network", *DOMAIN_BUILDERS}
    for name, spec in DOMAIN_BUILDERS.items():
        if name in only:
            import importlib

            mod, func = spec.split(":")
            print(getattr(importlib.import_module(mod), func)(root))
    if "network" not in only:
        return 0
    out = Path(args.out)
    card = build_flow(root, out, alert_fpr=args.alert_fpr, exclude=tuple(args.exclude))
    size = sum(f.stat().st_size for f in out.iterdir())
    m = card.metrics
    print(f"network-flow: {out} ({size / 1e6:.2f} MB), leave-one-source-out roc_auc={m.get('roc_auc')} "
          f"benign_fpr={m.get('benign_fpr')} recall={m.get('recall')} threshold={card.parameters.get('threshold')}")
    for name, r in m["per_source"].items():
        print(f"  {name}: {r}")
    for n in card.notes:
        print(f"  note: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
