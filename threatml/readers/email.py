"""Mail: single messages (.eml, Maildir files, raw corpus files), mbox files, and short labeled texts.

Formats, told apart by content:

* **message** — a file that starts with an RFC 5322 header block (``From:``,
  ``Received:``, ``Message-ID:``, ``Subject:`` ...; at least two well-known
  mail headers before the first non-header line). One event. Maildir
  ``cur/``/``new/`` files and SpamAssassin corpus files are such messages.
* **mbox** — ``From <sender> <date>`` separator lines, each followed by a
  header block; one event per message (``path:n``, n from 1).
* **short texts** — TSV/CSV with a label column and a text column (the SMS
  Spam Collection: ``ham<TAB>text``, with or without a header line); one event
  per row, the text as body, header features unknown (NaN).

Every message is parsed by :mod:`threatml.email.parse` (limits counted in the
``email.defects`` column and the read report); nothing is ever fetched.

>>> import pathlib, tempfile
>>> from threatml.errors import ReadReport
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "m.eml").write_bytes(b"From: a@example.org\\nTo: b@example.org\\nSubject: hi\\n\\nhello\\n")
>>> EmailReader.sniff((d / "m.eml").read_bytes(), d / "m.eml")
True
>>> b = next(EmailReader().read(d / "m.eml", ReadReport()))
>>> b.kind, b.frame["email.subject"].tolist(), b.frame["email.body"].tolist()
('email', ['hi'], ['hello'])
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import BinaryIO, Iterator

import pandas as pd

from threatml.email.parse import DEFAULT_LIMITS, Limits, parse_message, parse_text
from threatml.email.record import to_row
from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary

KNOWN = frozenset({"from", "to", "cc", "subject", "date", "received", "message-id", "return-path", "delivered-to",
                   "mime-version", "content-type", "reply-to", "x-mailer", "sender", "envelope-to", "x-original-to",
                   "dkim-signature", "authentication-results", "in-reply-to", "references", "x-originating-ip",
                   "content-transfer-encoding", "list-id", "precedence", "x-sender", "thread-topic", "user-agent"})
STRONG = frozenset({"from", "received", "message-id", "subject", "return-path", "delivered-to"})
_HEADER = re.compile(rb"^[!-9;-~]{1,76}:")
_MBOX_FROM = re.compile(rb"^From \S+.*\d{1,2}:\d{2}")
_LABEL_NAMES = {"label", "labels", "class", "category", "v1", "type", "target", "spam", "is_spam"}
_TEXT_NAMES = {"text", "sms", "message", "body", "v2", "content", "email", "email text", "email_text", "msg"}
_LABEL_VALUES = {"ham": "ham", "spam": "spam", "phishing": "phishing", "phish": "phishing", "smishing": "phishing",
                 "legit": "ham", "legitimate": "ham", "benign": "ham", "0": "ham", "1": "spam"}
_ROW = re.compile(r"^(ham|spam)[\t,]", re.I)
MAX_ROWS_PER_BATCH = 5000  # rows carry their text: bound the batch's memory whatever batch_size says


def _header_block_ok(lines: list[bytes]) -> bool:
    names: set[str] = set()
    for i, line in enumerate(lines):
        line = line.rstrip(b"\r")
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t") and i > 0:
            continue
        if not _HEADER.match(line):
            if i < 3 or len(names & KNOWN) < 3:
                return False
            break
        names.add(line.split(b":", 1)[0].decode("latin-1").strip().lower())
    return len(names & KNOWN) >= 2 and bool(names & STRONG)


def looks_like_message(head: bytes) -> bool:
    """True when ``head`` starts with a mail header block (leading blank lines allowed).

    >>> looks_like_message(b"Received: from x\\nFrom: a@b.c\\nSubject: s\\n\\nbody")
    True
    >>> looks_like_message(b"Nov 29 10:00:01 host sshd[1]: Accepted password for bob")
    False
    """
    return _header_block_ok(head.lstrip(b"\r\n").split(b"\n", 200)[:200])


def looks_like_mbox(head: bytes) -> bool:
    first, _, rest = head.partition(b"\n")
    return bool(_MBOX_FROM.match(first)) and _header_block_ok(rest.split(b"\n", 200)[:200])


def _split(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else next(csv.reader([line]), [])


def short_text_layout(head: bytes) -> tuple[bool, int, int] | None:
    """(has header line, label column, text column) of a labeled short-text TSV/CSV, else None."""
    try:
        text = head[:8192].decode("utf-8")
    except UnicodeDecodeError:
        text = head[:8192].decode("latin-1")
    lines = [ln for ln in text.splitlines()[:25] if ln.strip()]
    if len(lines) < 2:
        return None
    cols = [c.strip().strip('"').lower() for c in _split(lines[0])]
    lab = [i for i, c in enumerate(cols) if c in _LABEL_NAMES]
    txt = [i for i, c in enumerate(cols) if c in _TEXT_NAMES]
    if lab and txt and "url" not in cols and "domain" not in cols:
        return True, lab[0], txt[0]
    body = lines[:-1] if len(lines) > 2 else lines  # the last line of the head may be cut
    if sum(bool(_ROW.match(ln)) for ln in body) >= max(2, 0.8 * len(body)):
        return False, 0, 1
    return None


def split_mbox(fh: BinaryIO, max_bytes: int) -> Iterator[tuple[int, list[bytes], bool]]:
    """(message number from 1, its lines, whether it was cut at ``max_bytes``) for each message of an mbox stream.

    A message starts at a ``From `` line that follows a blank line (or starts the file).
    """
    n, cur, size, cut, prev_blank = 0, [], 0, False, True
    for line in iter(lambda: fh.readline(1 << 20), b""):  # a line without newline cannot fill memory
        if line.startswith(b"From ") and prev_blank and _MBOX_FROM.match(line):
            if cur:
                n += 1
                yield n, cur, cut
            cur, size, cut = [line], len(line), False
        elif size + len(line) <= max_bytes:
            cur.append(line)
            size += len(line)
        else:
            cut = True
        prev_blank = not line.strip()
    if cur:
        yield n + 1, cur, cut


class EmailReader(Reader):
    name = "email"
    kinds = ("email",)

    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        return looks_like_mbox(head) or looks_like_message(head) or short_text_layout(head) is not None

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        with open_binary(path, report) as fh:
            head = fh.read(64 * 1024)
        size = max(1, min(int(batch_size), MAX_ROWS_PER_BATCH))
        if looks_like_mbox(head):
            rows = self._mbox(path, report)
        elif looks_like_message(head):
            rows = self._single(path, report)
        else:
            layout = short_text_layout(head)
            if layout is None:
                raise InputError(path, "not a mail message, mbox or labeled short-text file", "start of file")
            rows = self._short_texts(path, report, *layout)
        buf: list[dict] = []
        for row in rows:
            if row.get("email.defects"):
                report.note(str(path), "message kept with parse problems (see email.defects)", row["event.id"])
            buf.append(row)
            if len(buf) >= size:
                yield EventBatch.of("email", pd.DataFrame(buf), source=str(path))
                buf = []
        if buf:
            yield EventBatch.of("email", pd.DataFrame(buf), source=str(path))

    # ---- formats ----
    def _single(self, path: Path, report: ReadReport) -> Iterator[dict]:
        with open_binary(path, report) as fh:
            raw = fh.read(self.limits.max_bytes + 1)
        dataset = "maildir" if path.parent.name in ("cur", "new") else "eml"
        yield to_row(parse_message(raw, self.limits), str(path), dataset)

    def _mbox(self, path: Path, report: ReadReport) -> Iterator[dict]:
        with open_binary(path, report) as fh:
            for n, lines, cut in split_mbox(fh, self.limits.max_bytes):
                yield self._mbox_message(path, n, lines, cut, report)

    def _mbox_message(self, path: Path | str, n: int, lines: list[bytes], cut: bool, report: ReadReport) -> dict:
        p = parse_message(b"".join(lines), self.limits)
        if cut:
            p.defects.append(f"message cut at {self.limits.max_bytes:,} bytes")
            report.note(str(path), "message larger than the size limit: only its start was read", f"message {n}")
        return to_row(p, f"{path}:{n}", "mbox")

    def rows_from_bytes(self, data: BinaryIO, name: str, report: ReadReport) -> Iterator[dict]:
        """Rows of a message or mbox held in an open binary stream (e.g. a tar member) named ``name``."""
        head = data.read(64 * 1024)
        if looks_like_mbox(head):
            rest = io.BytesIO(head + data.read(self.limits.max_bytes * 4))
            for n, lines, cut in split_mbox(rest, self.limits.max_bytes):
                yield self._mbox_message(name, n, lines, cut, report)
        elif looks_like_message(head):
            raw = head + data.read(self.limits.max_bytes + 1 - len(head))
            yield to_row(parse_message(raw, self.limits), name, "eml")
        else:
            report.skip(name, "not a mail message or mbox")

    def _short_texts(self, path: Path, report: ReadReport, header: bool, li: int, ti: int) -> Iterator[dict]:
        csv.field_size_limit(10_000_000)
        with open_binary(path, report) as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
            first = text.readline()
            delim = "\t" if "\t" in first else ","
            quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
            lines = text if header else _chain([first], text)
            for lineno, rec in enumerate(csv.reader(lines, delimiter=delim, quoting=quoting), start=2 if header else 1):
                if len(rec) <= max(li, ti):
                    if any(f.strip() for f in rec):
                        report.skip(str(path), f"row with {len(rec)} fields, expected at least {max(li, ti) + 1}",
                                    f"line {lineno}")
                    continue
                raw_label = rec[li].strip().strip('"').lower()
                label = _LABEL_VALUES.get(raw_label, "")
                if raw_label and not label:
                    report.note(str(path), f"unknown label {raw_label[:20]!r} left empty", f"line {lineno}")
                # a tab-separated text column is the rest of the line (texts may hold tabs)
                body = delim.join(rec[ti:]) if delim == "\t" and ti > li else rec[ti]
                yield to_row(parse_text(body, self.limits), f"{path}:{lineno}", "sms", label=label)


def _chain(first: list, rest) -> Iterator:
    yield from first
    yield from rest
