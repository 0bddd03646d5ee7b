"""EMBER's published raw-feature jsonl (2017 and 2018 layouts) -> rich feature tables.

Each line is one JSON object with ``sha256``, ``label`` (1 malicious, 0
benign, -1 unlabeled), ``appeared``, and the raw feature groups that
:mod:`threatml.files.rich_vector` turns into numbers; the 2017 layout lacks
``datadirectories`` (NaN then). Lines are parsed and vectorised in blocks so
memory is the float32 table plus one block. Bad lines are skipped and counted
in the report with their line number.

>>> import json, pathlib, tempfile
>>> from threatml.errors import ReadReport
>>> p = pathlib.Path(tempfile.mkdtemp()) / "train_features_0.jsonl"
>>> _ = p.write_text(json.dumps({"sha256": "ab", "label": 1, "histogram": [1] * 256}) + "\\n{oops\\n")
>>> r = ReadReport(); X, y, ids = load_ember([p], r)
>>> X.shape[0], y.tolist(), r.skipped_total()
(1, [1], 1)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport
from threatml.files.rich_vector import COLUMNS, vectorize
from threatml.readers.base import text_lines

BLOCK = 5000


def looks_like_ember(head: bytes) -> bool:
    """A jsonl whose first object has EMBER's raw feature keys."""
    line = head.split(b"\n", 1)[0]
    return line.startswith(b"{") and b'"histogram"' in line and (b'"sha256"' in line or b'"byteentropy"' in line)


def iter_ember(path: Path, report: ReadReport, block: int = BLOCK) -> Iterator[tuple[list[dict], list[int], list[str]]]:
    """Blocks of (raw dicts, labels, sha256) from one jsonl file."""
    raws, labels, ids = [], [], []
    for no, line in enumerate(text_lines(path), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not an object")
            label = int(rec.get("label", -1))
        except (ValueError, TypeError) as exc:
            report.skip(str(path), f"not an EMBER JSON record: {str(exc)[:60]}", where=f"line {no}")
            continue
        raws.append(rec), labels.append(label), ids.append(str(rec.get("sha256", "")))
        if len(raws) >= block:
            yield raws, labels, ids
            raws, labels, ids = [], [], []
    if raws:
        yield raws, labels, ids


def load_ember(paths: Iterable[str | Path], report: ReadReport, labeled_only: bool = True,
               max_rows: int | None = None) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Rich feature table (float32), labels and sha256 of EMBER jsonl files.

    ``labeled_only`` drops EMBER's unlabeled (-1) records, counted in the report.
    """
    mats, ys, all_ids, n = [], [], [], 0
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(path, "no such file")
        for raws, labels, ids in iter_ember(path, report):
            lab = np.asarray(labels)
            keep = lab >= 0 if labeled_only else np.ones(len(lab), dtype=bool)
            if (~keep).any():
                report.skip(str(path), "unlabeled EMBER record (label -1)", n=int((~keep).sum()))
            raws = [r for r, k in zip(raws, keep) if k]
            if max_rows is not None:
                raws = raws[: max(0, max_rows - n)]
            if not raws:
                continue
            mats.append(vectorize(raws).to_numpy(dtype="float32"))
            ys.append(lab[keep][: len(raws)])
            all_ids += [i for i, k in zip(ids, keep) if k][: len(raws)]
            n += len(raws)
            report.read(str(path), len(raws))
            if max_rows is not None and n >= max_rows:
                break
    X = np.vstack(mats) if mats else np.zeros((0, len(COLUMNS)), dtype="float32")
    return pd.DataFrame(X, columns=list(COLUMNS)), np.concatenate(ys) if ys else np.zeros(0, dtype=int), all_ids
