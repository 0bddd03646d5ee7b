"""Find model folders: the shipped defaults inside the package, plus the user's own.

A model is addressed by a folder path, or by ``name`` / ``name@version`` looked
up under the search roots (newest version wins when none is given).
"""

from __future__ import annotations

import os
from pathlib import Path

from threatml.errors import ThreatMLError
from threatml.models.card import CARD, ModelCard, read_card

SHIPPED = Path(__file__).resolve().parent.parent / "shipped"


def roots() -> list[Path]:
    extra = os.environ.get("THREATML_MODELS", "")
    user = [Path(p) for p in extra.split(os.pathsep) if p]
    return [*user, SHIPPED]


def list_models(search: list[Path] | None = None) -> list[tuple[Path, ModelCard]]:
    out = []
    for root in search or roots():
        if not root.exists():
            continue
        for card_path in sorted(root.rglob(CARD)):
            try:
                out.append((card_path.parent, read_card(card_path.parent, verify=False)))
            except ThreatMLError:
                continue
    return out


def resolve(ref: str | Path, search: list[Path] | None = None) -> Path:
    """Folder of the model named by ``ref`` (a path, ``name`` or ``name@version``)."""
    p = Path(ref)
    if (p / CARD).exists():
        return p
    name, _, version = str(ref).partition("@")
    hits = [(d, c) for d, c in list_models(search) if c.name == name and (not version or c.version == version)]
    if not hits:
        raise ThreatMLError(f"no model {ref!r}: not a model folder and not a known model name (see `threatml models list`)")
    return max(hits, key=lambda dc: (dc[1].created, dc[1].version))[0]
