"""Model cards and the safe on-disk layout of a model folder.

A model folder holds ``card.json`` and the artifacts it lists, each with its
SHA-256. Artifacts are only ever formats that cannot run code when loaded
(LightGBM text, JSON, ONNX, skops with an explicit trusted-type list); loading
checks every hash first, so a swapped file is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, Field

from threatml.errors import ThreatMLError

SAFE_SUFFIXES = (".txt", ".json", ".onnx", ".skops")
CARD = "card.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class DataFile(BaseModel):
    path: str
    sha256: str
    rows: int | None = None
    label: str | None = Field(None, description="label given to every record with --data LABEL=PATH")


class ModelCard(BaseModel):
    name: str
    version: str
    domain: str = Field(description="network, email, url, file, auth, log, ...")
    kind: str = Field(description="what the artifacts hold, e.g. flow-classifier, flow-baseline")
    description: str = ""
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    training_data: list[DataFile] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    feature_set: str = Field("", description="canonical, or the benchmark's native set (nsl-kdd, unsw-nb15, cicflowmeter)")
    classes: list[str] = Field(default_factory=list)
    parameters: dict = Field(default_factory=dict)
    metrics: dict = Field(default_factory=dict)
    libraries: dict[str, str] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict, description="file name -> sha256")
    notes: list[str] = Field(default_factory=list)


def library_versions(*names: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for n in ("threatml", "numpy", "pandas", "scikit-learn", "lightgbm", *names):
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return out


def describe_data(paths: list[tuple[Path, str | None]]) -> list[DataFile]:
    """Card entries (path, sha256) for training files, recursing into folders."""
    out = []
    for p, label in paths:
        p = Path(p)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        out.extend(DataFile(path=str(f), sha256=sha256_file(f), label=label) for f in files)
    return out


def relative_to_root(data: list[DataFile], root: Path) -> list[DataFile]:
    """Record training-file paths relative to the data ``root`` so a card does not depend on the machine
    it was built on (paths outside ``root`` stay as they are); changes ``data`` in place and returns it."""
    for d in data:
        try:
            d.path = str(Path(d.path).relative_to(root))
        except ValueError:
            pass
    return data


def write_model(folder: Path, card: ModelCard) -> Path:
    """Hash the artifacts already written into ``folder`` and write ``card.json``."""
    folder = Path(folder)
    for name in list(card.artifacts) or []:
        if not name.endswith(SAFE_SUFFIXES):
            raise ThreatMLError(f"{folder / name}: refusing to save an artifact in an unsafe format")
    card.artifacts = {n: sha256_file(folder / n) for n in card.artifacts}
    (folder / CARD).write_text(card.model_dump_json(indent=2) + "\n")
    return folder / CARD


def read_card(folder: Path, verify: bool = True) -> ModelCard:
    folder = Path(folder)
    path = folder / CARD
    try:
        card = ModelCard.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ThreatMLError(f"{folder}: not a model folder (no {CARD})") from None
    except (ValueError, TypeError) as exc:
        raise ThreatMLError(f"{path}: invalid model card: {exc}") from None
    if verify:
        for name, digest in card.artifacts.items():
            f = folder / name
            if not f.exists():
                raise ThreatMLError(f"{f}: artifact listed in the model card is missing")
            if sha256_file(f) != digest:
                raise ThreatMLError(f"{f}: SHA-256 differs from the model card; refusing to load")
    return card
