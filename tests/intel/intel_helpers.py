"""Small builders shared by the intel tests (feeds written into tmp_path by each test)."""

from __future__ import annotations

import json
from pathlib import Path

from threatml.errors import ReadReport
from threatml.intel import IndicatorSet

T0 = "2026-01-01T00:00:00.000Z"


def indicator(n: int, pattern: str, **extra) -> dict:
    """A STIX 2.1 indicator with a fixed id built from ``n``."""
    obj = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
           "created": T0, "modified": T0, "pattern": pattern, "pattern_type": "stix", "valid_from": T0}
    obj.update(extra)
    return obj


def bundle(path: Path, objects: list) -> Path:
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001",
                                "objects": objects}))
    return path


def by_value(s: IndicatorSet) -> dict[str, dict]:
    return {r["value"]: r for r in s.frame.to_dict("records")}


def skips(report: ReadReport, path) -> dict[str, int]:
    return {r: c for (p, r), c in report.skipped.items() if p == str(path)}
