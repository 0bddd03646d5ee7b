"""Labeled mail for training and evaluation: folders, mbox files, short-text TSVs and tarballs.

Labels come, in this order, from ``LABEL=PATH`` (everything under PATH), a
label column (short texts), or the path's names, deepest first: a name
containing ``phish`` -> phishing; ``ham`` (easy_ham, hard_ham) -> ham;
``spam`` -> spam; ``legit``/``benign`` -> ham. A name holding both ham and
spam (``spamassassin-easy_ham-hard_ham-spam.tar.gz``) decides nothing, so the
folders inside it do. Tarballs (.tar, .tar.gz, .tgz) are read member by
member, never unpacked to disk.

>>> label_from_names(["corpus", "spamassassin-easy_ham-hard_ham-spam.tar.gz", "hard_ham", "0001.abc"])
'ham'
>>> label_from_names(["mail", "nazario-phishing-2005.mbox"]), parse_spec("spam=/tmp/x")
('phishing', ('spam', '/tmp/x'))
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport, ThreatMLError
from threatml.events.schema import conform
from threatml.models.card import DataFile, sha256_file

LABELS = ("ham", "spam", "phishing")
_ALIASES = {"ham": "ham", "legit": "ham", "legitimate": "ham", "benign": "ham", "spam": "spam",
            "phishing": "phishing", "phish": "phishing"}
_TAR = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def label_from_name(name: str) -> str | None:
    n = name.lower()
    if "phish" in n:
        return "phishing"
    ham, spam = "ham" in n.replace("spam", ""), "spam" in n
    if ham and not spam:
        return "ham"
    if spam and not ham:
        return "spam"
    if not ham and not spam and ("legit" in n or "benign" in n):
        return "ham"
    return None


def label_from_names(parts: list[str]) -> str | None:
    """The label the deepest deciding path component gives (see the module doc)."""
    for part in reversed(parts):
        lab = label_from_name(part)
        if lab:
            return lab
    return None


def parse_spec(spec: str) -> tuple[str | None, str]:
    """``LABEL=PATH`` -> (label, path); a plain path -> (None, path)."""
    head, sep, rest = spec.partition("=")
    if sep and head.lower() in _ALIASES and not Path(spec).exists():
        return _ALIASES[head.lower()], rest
    return None, spec


def _rows_of_path(path: Path, report: ReadReport) -> Iterator[tuple[dict, list[str]]]:
    """(row, path components that may name the label) for every message under ``path``."""
    from threatml.pipeline.scan import iter_files
    from threatml.readers.base import read_head
    from threatml.readers.email import EmailReader

    reader = EmailReader()
    files = iter_files([path], report)
    for f in files:
        parts = list(f.parts)
        if f.name.endswith(_TAR):
            yield from _rows_of_tar(f, reader, report)
            continue
        try:
            head = read_head(f)
        except InputError as exc:
            report.error(str(f), exc.reason)
            continue
        if not head or not EmailReader.sniff(head, f):
            row = _plain_text_row(f, head, report)
            if row is None:
                report.skip(str(f), "not a mail message, mbox, labeled short-text or plain-text file")
            else:
                yield row, parts
            continue
        try:
            for batch in reader.read(f, report):
                report.read(str(f), len(batch))
                for row in batch.frame.to_dict("records"):
                    yield row, parts
        except InputError as exc:
            report.error(str(f), exc.reason)


MAX_PLAIN = 1_000_000


def _plain_text_row(f: Path, head: bytes, report: ReadReport) -> dict | None:
    """A text file without headers (Enron-Spam, Nazario text dumps) as a headerless message.

    Only for labeled data: ``threatml scan`` does not take arbitrary text as mail. A first line
    ``Subject: ...`` becomes the subject.
    """
    from threatml.email.parse import parse_text
    from threatml.email.record import to_row

    if not head or b"\0" in head[:4096] or f.name == "cmds":  # cmds: the SpamAssassin corpus' rename script
        return None
    try:
        data = f.read_bytes()[:MAX_PLAIN]
    except OSError as exc:
        report.error(str(f), f"cannot read: {exc}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    subject = ""
    if text[:8].lower() == "subject:":
        subject, _, text = text.partition("\n")
        subject = subject[8:].strip()
    p = parse_text(text)
    p.subject = subject  # the lure features read the subject too
    row = to_row(p, str(f), "text")
    report.note(str(f), "read as a plain-text message without headers")
    report.read(str(f), 1)
    return row


def _rows_of_tar(path: Path, reader, report: ReadReport) -> Iterator[tuple[dict, list[str]]]:
    try:
        tf = tarfile.open(path, mode="r|*")
    except (tarfile.TarError, OSError) as exc:
        report.error(str(path), f"unreadable tarball: {exc}")
        return
    with tf:
        try:
            for member in tf:
                if not member.isfile() or Path(member.name).name.startswith("."):
                    continue
                fh = tf.extractfile(member)
                if fh is None:
                    continue
                name = f"{path}!{member.name}"
                parts = [*path.parts, *Path(member.name).parts]
                n = 0
                for row in reader.rows_from_bytes(fh, name, report):
                    n += 1
                    yield row, parts
                report.read(name, n)
        except (tarfile.TarError, OSError, EOFError) as exc:
            report.error(str(path), f"tarball cut or corrupt: {exc}")


def load_labeled(specs: list[str], report: ReadReport | None = None,
                 require_label: bool = True) -> tuple[pd.DataFrame, np.ndarray, list[DataFile]]:
    """Every labeled message of ``specs`` as one ``email`` frame, its labels, and card entries for the data.

    Messages without a label are skipped and counted (``require_label``), or kept with label ''.
    """
    report = report if report is not None else ReadReport()
    rows, labels, files = [], [], []
    for spec in specs:
        given, p = parse_spec(spec)
        path = Path(p)
        if not path.exists():
            raise ThreatMLError(f"no such file or folder: {p}")
        n0 = len(rows)
        for row, parts in _rows_of_path(path, report):
            lab = given or row.get("label") or label_from_names(parts)
            if not lab:
                if require_label:
                    report.skip(str(path), "no label: name the folder or file easy_ham/hard_ham/spam/phish..., "
                                           "or give LABEL=PATH", row.get("event.id"))
                    continue
                lab = ""
            row["label"] = lab
            row["label.detail"] = next((q for q in reversed(parts) if label_from_name(q)), "")
            rows.append(row)
            labels.append(lab)
        files.append(DataFile(path=str(path), sha256=sha256_file(path) if path.is_file() else "",
                              rows=len(rows) - n0, label=given))
    if not rows:
        raise ThreatMLError(f"no labeled messages found in {', '.join(specs)}")
    frame = conform("email", pd.DataFrame(rows))
    return frame, np.asarray(labels, dtype=object), files
