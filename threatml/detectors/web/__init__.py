"""Detectors of the web domain: malicious URLs in HTTP, DGA names in DNS/TLS/HTTP, DNS tunneling.

All three are cheap to build; the URL and DGA models load on the first batch
that needs them, so a scan without dns/http/tls events never loads them.
"""

from __future__ import annotations


def detectors(opts) -> list:
    from threatml.detectors.web.dga import DgaDetector
    from threatml.detectors.web.tunnel import DnsTunnelDetector
    from threatml.detectors.web.url import UrlDetector

    return [UrlDetector(), DgaDetector(), DnsTunnelDetector()]
