"""Detectors of the email domain: one finding per suspicious message (model verdict + rule signals)."""

from __future__ import annotations


def detectors(opts) -> list:
    """The email detector; its model loads on the first ``email`` batch, so other scans pay nothing."""
    from threatml.detectors.email.message import EmailMessageDetector

    return [EmailMessageDetector(protected_domains=tuple(getattr(opts, "protected_domains", ()) or ()),
                                 use_model=getattr(opts, "use_model", True))]
