"""Findings: the one output schema of every detector (see ``schema.py``)."""

from threatml.findings.schema import MAX_EVIDENCE, SEVERITY_RANK, Finding, Severity, severity_from_score

__all__ = ["Finding", "Severity", "SEVERITY_RANK", "MAX_EVIDENCE", "severity_from_score"]
