"""Network detectors over flow events: one module per behaviour, plus the flow models.

Behavioural: ``portscan``, ``dos``, ``bruteforce``, ``beacon``, ``exfil`` (shared
window machinery in ``window``). Signatures: ``signature_alerts``. Models:
``flow_model`` (supervised classifier and unsupervised baseline).
"""

from threatml.detectors.network.beacon import BeaconDetector
from threatml.detectors.network.bruteforce import BruteForceDetector
from threatml.detectors.network.dos import DoSDetector
from threatml.detectors.network.exfil import ExfiltrationDetector
from threatml.detectors.network.portscan import PortScanDetector
from threatml.detectors.network.signature_alerts import SignatureAlertDetector

__all__ = [
    "BeaconDetector",
    "BruteForceDetector",
    "DoSDetector",
    "ExfiltrationDetector",
    "PortScanDetector",
    "SignatureAlertDetector",
]
