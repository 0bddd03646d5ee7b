"""Rebuild the shipped default models from the shared datasets.

    python -m threatml.shipped.build --data /work/shared/datasets

``network-flow`` (``threatml/shipped/network/flow/``): the flow classifier on
CANONICAL features, so one model scores pcaps, Zeek, Suricata, Argus and flow
exports alike. Training data, each labeled by its own ground truth or, for
captures that are attacks as a whole, by file:

* Stratosphere Zeek conn logs (per-flow labels; ``Background`` is unknown and left out);
  002-port-scanning has no labels and is one Nmap scanner: labeled ``portscan``.
* pcaps: CIC-DDoS-2019-SynFlood (every flow is 172.16.0.5 -> 192.168.50.4,
  the CIC-DDoS2019 attacker; checked here, the file is skipped otherwise) as
  ``syn-flood``; malicious-ssh-bruteforce as ``bruteforce``; test12-icmp-portscan
  as ``portscan``. test8-malicious is left out: its one flow is a QUIC session
  to Google that is not itself an attack.
* Argus test5-mixed (per-flow labels).
* CIC-IDS2017 (corrected) flows, whose durations, bytes, packets, ports and
  transport give the canonical features (no connection state or service).

Trees and leaves are capped so the folder stays well under 2 MB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from threatml.models.card import read_card, write_model

HERE = Path(__file__).resolve().parent
FLOW_DIR = HERE / "network" / "flow"
CIC_DDOS_ATTACKER = "172.16.0.5"

#: (label or None for the data's own labels, path relative to the data root)
FLOW_DATA: list[tuple[str | None, str]] = [
    (None, "zeek/001-zeek-scenario-malicious/labeled-conn.log"),
    ("portscan", "zeek/002-zeek-scenario-port-scanning/conn.log"),
    (None, "zeek/008-zeek-mixed/data/conn.log.labeled"),
    (None, "zeek/010-zeek-mixed/data/conn.log.labeled"),
    ("syn-flood", "pcap/CIC-DDoS-2019-SynFlood.pcap"),
    ("bruteforce", "pcap/malicious-ssh-bruteforce.pcap"),
    ("portscan", "pcap/test12-icmp-portscan.pcap"),
    (None, "argus/test5-mixed.binetflow"),
    (None, "network/cicids2017-improved/BENIGN_first2500.csv.gz"),
    (None, "network/cicids2017-improved/DDoS_5000.csv.gz"),
    (None, "network/cicids2017-improved/DoS_Hulk_5000.csv.gz"),
    (None, "network/cicids2017-improved/FTP-Patator_3972.csv.gz"),
    (None, "network/cicids2017-improved/Portscan_5000.csv.gz"),
]

SHIPPED_PARAMS = {"n_estimators": 150, "num_leaves": 15, "family_estimators": 40, "min_child_samples": 10}


def _ddos_pcap_ok(path: Path) -> bool:
    from threatml.pipeline.dataset import load_labeled

    fr, _ = load_labeled([str(path)])
    return set(fr["source.ip"].unique()) <= {CIC_DDOS_ATTACKER}


def flow_specs(root: Path) -> tuple[list[str], list[str]]:
    specs, notes = [], []
    for label, rel in FLOW_DATA:
        p = root / rel
        if not p.exists():
            notes.append(f"missing, left out: {rel}")
            continue
        if rel.endswith("CIC-DDoS-2019-SynFlood.pcap") and not _ddos_pcap_ok(p):
            notes.append(f"left out {rel}: it holds flows from hosts other than the attacker {CIC_DDOS_ATTACKER}")
            continue
        specs.append(f"{label}={p}" if label else str(p))
    return specs, notes


def build_flow(root: Path, out: Path = FLOW_DIR, seed: int = 0):
    from threatml.pipeline.train import train_network

    specs, notes = flow_specs(root)
    if not specs:
        raise SystemExit(f"no training data found under {root}")
    card = train_network(specs, out, features="canonical", multiclass=True, split="random", seed=seed,
                         classifier_params=SHIPPED_PARAMS)
    card = read_card(out, verify=True)
    card.name = "network-flow"
    card.description = ("Default flow classifier: LightGBM on canonical flow features (any source), trained on "
                        "Stratosphere Zeek scenarios, labeled pcaps, Argus and CIC-IDS2017 flows")
    card.notes = [*card.notes, *notes]
    # paths are recorded relative to the data root so the card does not depend on this machine
    for d in card.training_data:
        try:
            d.path = str(Path(d.path).relative_to(root))
        except ValueError:
            pass
    card.parameters["data"] = [s.replace(str(root) + "/", "") for s in card.parameters.get("data", [])]
    write_model(out, card)
    return card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Rebuild the shipped default models.")
    ap.add_argument("--data", default="/work/shared/datasets", help="root of the shared datasets")
    args = ap.parse_args(argv)
    root = Path(args.data).resolve()
    card = build_flow(root)
    size = sum(f.stat().st_size for f in FLOW_DIR.iterdir())
    m = card.metrics
    print(f"network-flow: {FLOW_DIR} ({size / 1e6:.2f} MB), held-out accuracy={m.get('accuracy')} "
          f"roc_auc={m.get('roc_auc')} f1={m.get('f1')} threshold={card.parameters.get('threshold')}")
    for n in card.notes:
        print(f"  note: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
