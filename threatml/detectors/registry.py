"""The detector set that ``threatml scan`` runs, built from plain options."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from threatml.detectors.base import Detector
from threatml.errors import ReadReport

#: one module per domain, each with ``detectors(opts: ScanOptions) -> list[Detector]``.
#: Domain detectors load their models lazily (on their first batch), so a scan of
#: network logs does not pay for the mail or malware models.
DOMAIN_FACTORIES: tuple[str, ...] = (
    "threatml.detectors.web",       # URLs, DGA domains, DNS tunneling (dns/http/tls events)
    "threatml.detectors.email",     # phishing and spam
    "threatml.detectors.files",     # static malware, YARA, file hashes
    "threatml.detectors.identity",  # logons, privilege use, Kerberos
    "threatml.detectors.insider",   # daily user-activity anomalies (CERT-style activity logs)
    "threatml.detectors.logs",      # template mining and log anomalies
    "threatml.detectors.weblog",    # attacks in web server access logs
    "threatml.detectors.sigma",     # Sigma rules over auth, process and log events
)


@dataclass
class ScanOptions:
    """Everything ``threatml scan`` lets a user set, in one place for every domain."""

    model: str | Path | None = None
    baseline: str | Path | None = None
    use_model: bool = True
    internal_networks: tuple[str, ...] = ()
    intel: tuple[str, ...] = ()
    yara: tuple[str, ...] = ()
    sigma: tuple[str, ...] = ()
    protected_domains: tuple[str, ...] = ()
    session_regex: str | None = None
    window: str | None = None
    log_model: str | Path | None = None
    store: Path | None = None
    #: what loading feeds and rules skipped (file and reason) goes here
    load_report: ReadReport = field(default_factory=ReadReport)


def default_detectors(opts: ScanOptions) -> list[Detector]:
    """Every detector a scan runs: the network set, then each domain's."""
    dets = network_detectors(
        model=opts.model,
        baseline=opts.baseline,
        use_model=opts.use_model,
        internal_networks=opts.internal_networks,
        intel=opts.intel,
        intel_report=opts.load_report,
    )
    for mod in DOMAIN_FACTORIES:
        dets.extend(importlib.import_module(mod).detectors(opts))
    return dets


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
