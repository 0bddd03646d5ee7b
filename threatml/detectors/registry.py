"""The detector set that ``threatml scan`` runs, built from plain options."""

from __future__ import annotations

from pathlib import Path

from threatml.detectors.base import Detector
from threatml.errors import ReadReport


def network_detectors(
    model: str | Path | None = None,
    baseline: str | Path | None = None,
    use_model: bool = True,
    internal_networks: tuple[str, ...] = (),
    intel: tuple[str, ...] = (),
    intel_report: ReadReport | None = None,
) -> list[Detector]:
    """Behavioural detectors, the IDS-alert folder, the shipped flow model and,
    when given, a per-network unsupervised baseline and threat-intelligence feeds
    (what the feeds' loading skipped goes to ``intel_report``)."""
    from threatml.detectors.network.beacon import BeaconDetector
    from threatml.detectors.network.bruteforce import BruteForceDetector
    from threatml.detectors.network.dos import DoSDetector
    from threatml.detectors.network.exfil import ExfiltrationDetector
    from threatml.detectors.network.portscan import PortScanDetector
    from threatml.detectors.network.signature_alerts import SignatureAlertDetector

    nets = tuple(internal_networks)  # address ranges that count as "ours" besides RFC 1918 & co.
    dets: list[Detector] = [
        PortScanDetector(internal_networks=nets),
        DoSDetector(),
        BruteForceDetector(internal_networks=nets),
        BeaconDetector(internal_networks=nets),
        ExfiltrationDetector(internal_networks=nets),
        SignatureAlertDetector(),
    ]
    if use_model:
        from threatml.detectors.network.flow_model import FlowModelDetector

        dets.append(FlowModelDetector(model))
    if intel:
        from threatml.detectors.intel import intel_detector

        det, load_report = intel_detector(list(intel))  # InputError when nothing loads
        if intel_report is not None:
            intel_report.merge(load_report)
        dets.append(det)
    if baseline is not None:
        from threatml.detectors.network.flow_model import FlowBaselineDetector

        dets.append(FlowBaselineDetector(baseline))
    return dets
