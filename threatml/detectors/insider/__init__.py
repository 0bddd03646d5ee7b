"""Detectors of the insider domain (work in progress: nothing registered yet)."""

from __future__ import annotations


def detectors(opts) -> list:
    return []
