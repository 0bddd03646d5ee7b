"""Plain-JSON persistence shared by the log models."""

from __future__ import annotations

import json
from pathlib import Path

from threatml.errors import ThreatMLError


def write_json(folder: str | Path, name: str, data: dict) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def read_json(folder: str | Path, name: str, kind: str) -> dict:
    path = Path(folder) / name
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ThreatMLError(f"{path}: model file missing") from None
    except ValueError as exc:
        raise ThreatMLError(f"{path}: not valid JSON: {exc}") from None
    if data.get("model") != kind:
        raise ThreatMLError(f"{path}: holds {data.get('model')!r}, expected {kind!r}")
    return data
