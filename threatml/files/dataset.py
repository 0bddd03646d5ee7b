"""Training and evaluation data for the file models, from ``[LABEL=]PATH`` specs.

A spec is one of:

* a CSV of PE header fields under pefile's names (ClaMP, Kaggle-style sets,
  our own exports): label column by ``label_column`` or found by name;
* an EMBER raw-feature jsonl (``.jsonl``, optionally ``.gz``);
* a folder (or single file) of real files with ``LABEL=`` (``malware`` /
  ``malicious`` / ``1`` or ``benign`` / ``clean`` / ``0``): every PE file
  under it is parsed for both header and rich features; other files are
  counted as skipped.

``LABEL=`` on a CSV or jsonl overrides the file's own labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport, ThreatMLError
from threatml.files.header_features import labels_to_binary, load_header_table
from threatml.files.pe_header import HEADER_FIELDS
from threatml.models.card import DataFile, sha256_file

FOLDER_BLOCK = 2000


@dataclass
class FileData:
    header: pd.DataFrame | None = None   # pefile header fields per row
    rich: pd.DataFrame | None = None     # rich_vector columns per row
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    source: list[str] = field(default_factory=list)
    files: list[DataFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: ReadReport = field(default_factory=ReadReport)

    def __len__(self) -> int:
        return len(self.y)


def _parse_spec(spec: str) -> tuple[int | None, Path]:
    label, sep, path = spec.partition("=")
    if sep and not Path(spec).exists() and "/" not in label and "\\" not in label:
        lab = labels_to_binary(pd.Series([label]))[0]
        if lab < 0:
            raise ThreatMLError(f"{spec}: label {label!r} is neither malware/malicious/1 nor benign/clean/0")
        return int(lab), Path(path)
    return None, Path(spec)


def _is_jsonl(path: Path) -> bool:
    from threatml.files.ember import looks_like_ember
    from threatml.readers.base import read_head

    return path.name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")) or looks_like_ember(read_head(path, 65536))


def _folder(path: Path, label: int, report: ReadReport) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    from threatml.files.analyze import analyze_bytes
    from threatml.files.rich_vector import vectorize
    from threatml.readers.base import read_head
    from threatml.files import limits
    from threatml.files.sniff import file_type

    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    headers, richs, names, block = [], [], [], []
    for f in files:
        try:
            head = read_head(f, 4096)
            if file_type(head) != "pe":
                report.skip(str(path), "not a PE file", where=str(f))
                continue
            with open(f, "rb") as fh:
                data = fh.read(limits.MAX_ANALYSIS_BYTES)
        except (OSError, InputError) as exc:
            report.skip(str(path), f"unreadable: {getattr(exc, 'reason', None) or exc}", where=str(f))
            continue
        row = analyze_bytes(data, str(f), rich=True)
        headers.append({k: row[f"pe.{k}"] for k in HEADER_FIELDS})
        block.append(row["file.rich"])
        names.append(str(f))
        if len(block) >= FOLDER_BLOCK:
            richs.append(vectorize(block)), block.clear()
    if block:
        richs.append(vectorize(block))
    report.read(str(path), len(names))
    rich = pd.concat(richs, ignore_index=True) if richs else pd.DataFrame()
    return pd.DataFrame(headers, columns=list(HEADER_FIELDS)), rich, names


def load_file_data(specs: list[str], label_column: str | None = None, max_rows: int | None = None) -> FileData:
    """Everything the specs hold; ``header``/``rich`` is None when some spec cannot give it."""
    from threatml.files.ember import load_ember

    out = FileData()
    headers, richs, ys = [], [], []
    has_header, has_rich = True, True
    for spec in specs:
        label, path = _parse_spec(spec)
        if not path.exists():
            raise ThreatMLError(f"no such file or folder: {path}")
        if path.is_dir() or not (path.suffix.lower() == ".csv" or _is_jsonl(path)):
            if label is None:
                raise ThreatMLError(f"{path}: a folder of files needs a label: malware={path} or benign={path}")
            h, r, names = _folder(path, label, out.report)
            if not names:
                out.notes.append(f"{path}: no PE files found")
                continue
            headers.append(h), richs.append(r), ys.append(np.full(len(names), label))
            out.source += [str(path)] * len(names)
            out.files.append(DataFile(path=str(path), sha256="folder", rows=len(names), label=str(label)))
            continue
        if path.suffix.lower() == ".csv":
            h, y, notes = load_header_table(path, label_column)
            out.notes += notes
            if label is not None:
                y = np.full(len(h), label)
            elif y is None:
                raise ThreatMLError(f"{path}: no label column found; name one with --label-column or use LABEL={path}")
            keep = y >= 0
            headers.append(h[keep].reset_index(drop=True)), ys.append(y[keep])
            has_rich = False
        else:
            X, y, _ = load_ember([path], out.report, labeled_only=label is None, max_rows=max_rows)
            if label is not None:
                y = np.full(len(X), label)
            richs.append(X), ys.append(y)
            has_header = False
        n = len(ys[-1])
        out.source += [str(path)] * n
        out.files.append(DataFile(path=str(path), sha256=sha256_file(path), rows=n,
                                  label=None if label is None else str(label)))
    if not ys:
        raise ThreatMLError("no usable training rows in " + ", ".join(specs))
    out.y = np.concatenate(ys).astype(int)
    if has_header and headers:
        out.header = pd.concat(headers, ignore_index=True)
    if has_rich and richs:
        out.rich = pd.concat(richs, ignore_index=True)
    return out
