"""Labeled flow data for training and evaluation: read, label, dedupe, split.

Files are read through the format readers (``threatml.readers.detect``), so
the same pcaps, Zeek logs and flow exports a scan reads can be training data.
``LABEL=PATH`` gives every record of PATH one label: ``benign``,
``malicious``, or an attack-family name (which implies malicious).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport, ThreatMLError
from threatml.events import EventBatch
from threatml.models.card import DataFile, describe_data
from threatml.readers import detect
from threatml.readers.base import DEFAULT_BATCH_SIZE

BENIGN, MALICIOUS = "benign", "malicious"
_BENIGN_WORDS = {"benign", "normal", "background-benign", "0", "false", "legitimate"}
#: reader names whose files are benchmark feature sets (their own columns beat the canonical ones)
BENCHMARK_READERS = ("cic", "unsw", "kdd")

# NSL-KDD / KDD'99 attack names -> the four classic categories
_KDD = {
    "dos": "back land neptune pod smurf teardrop apache2 udpstorm processtable mailbomb",
    "probe": "satan ipsweep nmap portsweep mscan saint",
    "r2l": "guess_passwd ftp_write imap phf multihop warezmaster warezclient spy xlock xsnoop snmpguess "
    "snmpgetattack httptunnel sendmail named worm",
    "u2r": "buffer_overflow loadmodule rootkit perl sqlattack xterm ps",
}
KDD_CATEGORY = {name: cat for cat, names in _KDD.items() for name in names.split()}


def attack_family(detail: str) -> str:
    """A stable family name for a label detail: KDD names fold into dos/probe/r2l/u2r,
    anything else is lower-cased with separators unified (``DoS Hulk`` -> ``dos-hulk``).

    >>> attack_family("neptune"), attack_family("DoS_Hulk"), attack_family("")
    ('dos', 'dos-hulk', 'malicious')
    """
    d = str(detail).strip().lower().rstrip(".")
    if not d or d in ("-", "(empty)", "nan", MALICIOUS):
        return MALICIOUS
    if d in KDD_CATEGORY:
        return KDD_CATEGORY[d]
    return re.sub(r"[\s_/]+", "-", d)


def family_labels(frame: pd.DataFrame) -> np.ndarray:
    """``benign`` or the attack family per row (rows with label "" give "")."""
    lab = frame["label"].astype("str").to_numpy(dtype=object)
    det = frame["label.detail"].astype("str").to_numpy(dtype=object)
    uniq = {d: attack_family(d) for d in pd.unique(det)}
    fam = np.array([uniq[d] for d in det], dtype=object) if len(det) else np.array([], dtype=object)
    return np.where(lab == BENIGN, BENIGN, np.where(lab == MALICIOUS, fam, ""))


def parse_data_spec(spec: str) -> tuple[Path, str | None]:
    if "=" in spec and not Path(spec).exists():
        label, _, path = spec.partition("=")
        if label.strip():
            return Path(path), label.strip()
    return Path(spec), None


def _generic_csv(path: Path, label_column: str, report: ReadReport) -> list[pd.DataFrame]:
    """A CSV of unknown layout: every column kept as ``orig.<name>``, labels from ``label_column``."""
    try:
        reader = pd.read_csv(path, chunksize=DEFAULT_BATCH_SIZE, low_memory=False, encoding_errors="replace",
                             skipinitialspace=True)
        chunks = list(reader)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(path, f"cannot parse as CSV: {exc}") from None
    out = []
    for ch in chunks:
        ch.columns = [str(c).strip() for c in ch.columns]
        if label_column not in ch.columns:
            raise InputError(path, f"no label column {label_column!r}; columns: {', '.join(ch.columns[:20])}")
        raw = ch[label_column].astype("str").str.strip()
        benign = raw.str.lower().isin(_BENIGN_WORDS)
        fr = pd.DataFrame({f"orig.{c}": ch[c] for c in ch.columns if c != label_column})
        fr["label"] = np.where(benign, BENIGN, MALICIOUS)
        fr["label.detail"] = np.where(benign, "", raw)
        fr["event.dataset"] = "csv"
        out.append(EventBatch.of("flow", fr, source=str(path)).frame)
        report.read(str(path), len(fr))
    return out


def _read_one(path: Path, label_column: str | None, report: ReadReport) -> list[pd.DataFrame]:
    cls = detect(path)
    if cls is None or "flow" not in getattr(cls, "kinds", ()):
        if label_column:
            report.formats[str(path)] = "csv"
            return _generic_csv(path, label_column, report)
        what = "unrecognised format" if cls is None else f"{cls.name} gives no flows"
        raise InputError(path, f"{what}; for a CSV of another layout pass --label-column")
    report.formats[str(path)] = cls.name
    out = []
    for batch in cls().read(path, report):
        if batch.kind != "flow":
            continue
        fr = batch.frame
        if label_column and f"orig.{label_column}" in fr.columns:
            raw = fr[f"orig.{label_column}"].astype("str").str.strip()
            benign = raw.str.lower().isin(_BENIGN_WORDS)
            fr = fr.assign(**{"label": np.where(benign, BENIGN, MALICIOUS), "label.detail": np.where(benign, "", raw)})
        report.read(str(path), len(fr))
        out.append(fr)
    return out


def load_labeled(paths: list[str], label_column: str | None = None) -> tuple[pd.DataFrame, list[DataFile]]:
    """Read labeled flows from files or folders; returns (flows, card entries of the files).

    Each entry of ``paths`` is ``PATH`` (labels from the data) or ``LABEL=PATH``.
    Rows keep the reader's columns; ``label`` is benign / malicious / "" (unknown).
    ``frame.attrs`` holds ``read_report`` and ``formats`` (path -> reader name).
    """
    from threatml.pipeline.scan import iter_files

    report = ReadReport()
    frames: list[pd.DataFrame] = []
    described: list[tuple[Path, str | None]] = []
    for spec in paths:
        root, label = parse_data_spec(spec)
        if not root.exists():
            raise ThreatMLError(f"no such file or folder: {root}")
        described.append((root, label))
        for f in iter_files([root], report):
            try:
                parts = _read_one(f, label_column, report)
            except InputError as exc:
                if root.is_file():
                    raise
                report.error(str(f), exc.reason)  # one bad file in a folder does not stop the rest
                continue
            for fr in parts:
                if label:
                    if label.lower() == BENIGN:
                        fr = fr.assign(**{"label": BENIGN, "label.detail": ""})
                    elif label.lower() == MALICIOUS:
                        fr = fr.assign(label=MALICIOUS)
                    else:
                        fr = fr.assign(**{"label": MALICIOUS, "label.detail": label})
                fr = fr.assign(**{"data.file": str(f)})
                frames.append(fr)
    if not frames:
        raise ThreatMLError(f"no flows read from {', '.join(paths)}: {report.as_dict()['errors'] or 'no files'}")
    frame = pd.concat(frames, ignore_index=True, sort=False)
    for c in frame.columns:  # a column absent from some files comes back as object/NaN
        if c.startswith("orig.") and frame[c].dtype == object:
            conv = pd.to_numeric(frame[c], errors="coerce")
            if conv.notna().sum() == frame[c].notna().sum():
                frame[c] = conv
    frame.attrs["read_report"] = report.as_dict()
    frame.attrs["formats"] = dict(report.formats)
    return frame, describe_data(described)


def is_benchmark(frame: pd.DataFrame) -> bool:
    """True when every file came from a benchmark feature-set reader (KDD, UNSW, CIC)."""
    fmts = list(frame.attrs.get("formats", {}).values())
    return bool(fmts) and all(any(b in f.lower() for b in BENCHMARK_READERS) for f in fmts)


def dedupe(features: pd.DataFrame, labels: np.ndarray) -> tuple[np.ndarray, dict]:
    """Keep one row per distinct feature vector; conflicting labels resolve to the majority.

    Returns (row positions to keep, counts). Run it before any split so that
    no copy of a test row sits in the training part.

    >>> import pandas as pd, numpy as np
    >>> keep, info = dedupe(pd.DataFrame({"a": [1, 1, 2, 2, 2]}), np.array(["x", "x", "x", "y", "y"]))
    >>> keep.tolist(), info["exact_duplicates"], info["conflicting_rows"]
    ([0, 3], 2, 1)
    """
    fh = pd.util.hash_pandas_object(features.reset_index(drop=True), index=False).to_numpy()
    lab = pd.Series(labels, dtype="str").reset_index(drop=True)
    lh = pd.util.hash_pandas_object(lab, index=False).to_numpy()
    both = pd.DataFrame({"f": fh, "l": lh})
    first = ~both.duplicated()
    exact = int((~first).sum())
    uniq = both[first]
    counts = both.groupby(["f", "l"], sort=False).size()
    # per feature vector: the label with most rows wins; the other labels' rows are conflicts
    best = counts.reset_index(name="n").sort_values("n", ascending=False, kind="stable").drop_duplicates("f")
    n_conflict_vectors = int(uniq["f"].duplicated().sum())
    winner = set(zip(best["f"].tolist(), best["l"].tolist()))
    keep_mask = np.array([(f, l) in winner for f, l in zip(uniq["f"].tolist(), uniq["l"].tolist())], dtype=bool)
    keep = uniq.index.to_numpy()[keep_mask]
    conflicting_rows = int(len(features) - exact - len(keep))
    info = {
        "rows_in": int(len(features)),
        "exact_duplicates": exact,
        "conflicting_label_vectors": n_conflict_vectors,
        "conflicting_rows": conflicting_rows,
        "rows_out": int(len(keep)),
    }
    return np.sort(keep), info


def split_indices(frame: pd.DataFrame, y: np.ndarray, split: str = "random", test_size: float = 0.2,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(train positions, test positions, split actually used).

    ``random``: stratified by ``y``. ``time``: the earliest ``1 - test_size``
    by ``@timestamp`` train; falls back to random when there are no times.
    """
    n = len(y)
    if split == "time":
        ts = frame["@timestamp"].to_numpy(dtype="float64") if "@timestamp" in frame.columns else np.full(n, np.nan)
        if np.isfinite(ts).mean() > 0.9:
            order = np.argsort(np.nan_to_num(ts, nan=np.nanmin(ts)), kind="stable")
            cut = int(round(n * (1 - test_size)))
            return np.sort(order[:cut]), np.sort(order[cut:]), "time"
        split = "random"
    if split != "random":
        raise ThreatMLError(f"unknown split {split!r}; use random or time")
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    vals, counts = np.unique(y, return_counts=True)
    strat = y if counts.min() >= 2 else None
    tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=strat)
    return np.sort(tr), np.sort(te), "random"


def kfold_indices(y: np.ndarray, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold (train, test) position pairs."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in skf.split(np.zeros(len(y)), y)]
