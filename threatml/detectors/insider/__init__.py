"""Detectors of the insider domain: daily user-activity anomalies from CERT-style activity logs.

``threatml scan`` builds them for every scan; they cost nothing until
``activity`` events arrive. The organisation's mail domain (what counts as
"outside" for email) is the first ``--protected-domain`` when given, else the
most common sender domain.
"""

from __future__ import annotations

from threatml.detectors.base import Detector


def detectors(opts) -> list[Detector]:
    from threatml.detectors.insider.activity import InsiderActivityDetector

    org = next(iter(getattr(opts, "protected_domains", ()) or ()), None)
    return [InsiderActivityDetector(org_domain=org)]
