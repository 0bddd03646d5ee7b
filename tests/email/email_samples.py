"""Messages built inside the tests: plain, multipart, HTML with hidden text, attachments, broken MIME, corpora."""

from __future__ import annotations

import base64
import io
import random
import zipfile
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

HAM_WORDS = ("meeting agenda project report schedule review draft notes budget team lunch tomorrow thanks "
             "attached minutes quarterly update release branch patch build server config deploy").split()
SPAM_WORDS = ("free offer cheap discount viagra pills winner prize cash credit loan mortgage limited deal "
              "click unsubscribe guaranteed money bonus casino replica watches").split()
PHISH_WORDS = ("verify account suspended password login confirm security update billing information bank "
               "urgent unusual activity restore access identity").split()


def message(*, sender="Alice <alice@example.org>", to="bob@example.net", subject="Hello", text="Hi Bob",
            html=None, headers=None, attachments=(), date=None) -> bytes:
    """A well-formed message as bytes."""
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = f"<{random.randrange(10**9)}@example.org>"
    m["Date"] = format_datetime(date or datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc))
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(text)
    if html is not None:
        m.add_alternative(html, subtype="html")
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_bomb_like(declared: int = 400_000_000) -> bytes:
    """A small zip whose one member really expands to ``declared`` zero bytes (deflate compresses ~1000:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.bin", "w", force_zip64=True) as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(declared // len(chunk)):
                fh.write(chunk)
    return buf.getvalue()


def broken_mime() -> bytes:
    return (b"From: x@example.org\r\nTo: y@example.net\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"BOUND\"\r\n\r\n"
            b"--BOUND\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\nhello \xe9t\xe9\r\n"
            b"--BOUND\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64 at all===\r\n")  # no closing boundary


def _words(rng: random.Random, pool, n) -> str:
    return " ".join(rng.choice(pool) for _ in range(n))


def corpus_message(kind: str, i: int, rng: random.Random) -> bytes:
    """One synthetic ham, spam or phishing message (words and structure drawn at random, seeded)."""
    when = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(hours=i * 7 + rng.randrange(5))
    if kind == "ham":
        return message(sender=f"{rng.choice(['Ann', 'Raj', 'Li'])} <dev{i % 7}@corp.example>", to="team@corp.example",
                       subject=f"Re: {_words(rng, HAM_WORDS, 3)}", text=_words(rng, HAM_WORDS, 40) + "\nThanks",
                       headers={"In-Reply-To": f"<{i}@corp.example>"}, date=when)
    if kind == "spam":
        return message(sender=f"Deals <promo{i}@offers{i % 5}.example>", to="bob@corp.example",
                       subject=f"{_words(rng, SPAM_WORDS, 3).upper()}!!!",
                       text=_words(rng, SPAM_WORDS, 40) + f" only ${rng.randrange(9, 99)} http://offers{i % 5}.example/buy",
                       date=when)
    link = f"http://{rng.randrange(11, 200)}.{rng.randrange(1, 250)}.7.{rng.randrange(1, 250)}/paypal/login"
    return message(sender=f"\"PayPal Security\" <service@paypa1-{i % 4}.example>", to="bob@corp.example",
                   subject=f"Urgent: {_words(rng, PHISH_WORDS, 3)}", text=_words(rng, PHISH_WORDS, 40),
                   html=f"<p>{_words(rng, PHISH_WORDS, 30)}</p><a href='{link}'>https://www.paypal.com/verify</a>",
                   headers={"Reply-To": f"help@collect{i % 3}.example"}, date=when)


def write_corpus(root: Path, per_class: int = 30, seed: int = 1, kinds=("easy_ham", "spam", "phish_2024")) -> Path:
    """Folders named like real corpora (easy_ham/, spam/, phish_*/), one message per file."""
    rng = random.Random(seed)
    for folder in kinds:
        kind = "phishing" if "phish" in folder else ("ham" if "ham" in folder else "spam")
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (d / f"{i:05d}.msg").write_bytes(corpus_message(kind, i, rng))
    return root


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
