"""Detectors of the weblog domain: attacks in Apache/Nginx access logs (``*.access`` http events)."""

from __future__ import annotations


def detectors(opts) -> list:
    from threatml.detectors.weblog.attacks import WebAttackDetector

    return [WebAttackDetector()]
