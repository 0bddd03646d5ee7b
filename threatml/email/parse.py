"""One raw message (bytes) -> :class:`ParsedEmail`: headers, visible text, URLs, attachments, defects.

Parsing uses the standard library (``email`` with ``policy.default`` settings) and
never touches the network. Every limit below is counted in ``defects`` when
hit, so a hostile message costs bounded time and memory and the analyst sees
what was cut. Nothing raises: a message the parser cannot read at all comes
back with ``unparseable`` set.

>>> raw = (b"From: \\"PayPal\\" <service@paypa1.com>\\r\\nTo: bob@example.org\\r\\nSubject: Verify\\r\\n"
...        b"Content-Type: text/html\\r\\n\\r\\n<a href='http://10.0.0.9/login'>www.paypal.com</a>")
>>> p = parse_message(raw)
>>> p.from_addr, p.subject, p.text, [(u.ip_host, u.anchor_mismatch) for u in p.urls]
('service@paypa1.com', 'Verify', 'www.paypal.com', [(True, True)])
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy

from threatml.email.attachments import Attachment, inspect_attachment
from threatml.email.headers import (all_addresses, auth_verdicts, decode_value, parse_address, parse_date,
                                    received_ips, received_time)
from threatml.email.html_text import HtmlText, html_to_text, strip_invisible
from threatml.email.urls import UrlFacts, find_urls, url_facts


class _RawHeaderPolicy(EmailPolicy):
    """``policy.default`` (EmailMessage, RFC 5322 line handling) that hands header values back raw.

    The header registry turned out to cost 40% of the parse and to raise on
    some malformed headers; values are decoded by :mod:`threatml.email.headers`
    instead, which never raises. Content-Type and friends are then read by the
    same parameter parsing as the legacy API.
    """

    def header_fetch_parse(self, name, value):
        return value


POLICY = _RawHeaderPolicy()


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one message may cause."""

    max_bytes: int = 30_000_000       # bytes of a message parsed; the rest is cut (and noted)
    max_parts: int = 300              # MIME parts walked
    max_text_chars: int = 200_000     # decoded text kept per message
    max_html_chars: int = 1_000_000   # HTML fed to the HTML parser per part
    max_urls: int = 300
    max_attachments: int = 50
    archive_depth: int = 3            # archive levels looked into (only small members are ever read)


DEFAULT_LIMITS = Limits()


@dataclass
class ParsedEmail:
    message_id: str = ""
    from_name: str = ""
    from_addr: str = ""
    to_addrs: list[str] = field(default_factory=list)
    subject: str = ""
    reply_to: str = ""
    return_path: str = ""
    date: float = float("nan")
    received_at: float = float("nan")
    received: list[str] = field(default_factory=list)
    relay_ips: list[str] = field(default_factory=list)
    auth: dict[str, str] = field(default_factory=dict)
    header_names: set[str] = field(default_factory=set)
    has_headers: bool = True
    text: str = ""
    plain_chars: int = 0
    html_chars: int = 0
    html: HtmlText = field(default_factory=HtmlText)
    invisible_chars: int = 0
    n_parts: int = 0
    urls: list[UrlFacts] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    unknown_charsets: int = 0
    unparseable: bool = False
    size: int = 0

    @property
    def time(self) -> float:
        """Arrival time (newest Received hop), else the Date header, else NaN."""
        return self.received_at if self.received_at == self.received_at else self.date


def _decode(payload: bytes, charset: str | None, out: ParsedEmail) -> str:
    cs = (charset or "us-ascii").strip().strip('"').lower()
    try:
        codecs.lookup(cs)
    except LookupError:
        out.unknown_charsets += 1
        _defect(out, f"unknown charset {cs[:40]!r} (read as UTF-8)")
        cs = "utf-8"
    try:
        return payload.decode(cs)
    except UnicodeDecodeError:
        if cs in ("us-ascii", "ascii"):  # undeclared 8-bit text: UTF-8 if it is, else Windows-1252
            try:
                return payload.decode("utf-8")
            except UnicodeDecodeError:
                return payload.decode("cp1252", errors="replace")
        _defect(out, f"bytes invalid in charset {cs[:40]!r} replaced")
        return payload.decode(cs, errors="replace")
    except Exception:  # noqa: BLE001 - codec that fails on its own input
        return payload.decode("utf-8", errors="replace")


def _defect(out: ParsedEmail, what: str) -> None:
    if len(out.defects) < 50 and what not in out.defects:
        out.defects.append(what)


def _headers(msg: Message, out: ParsedEmail) -> None:
    raw: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        if len(raw) > 500:
            _defect(out, "more than 500 distinct headers; the rest ignored")
            break
        raw.setdefault(name.lower(), []).append(str(value))
    out.header_names = set(raw)
    first = lambda n: raw.get(n, [""])[0]  # noqa: E731
    out.from_name, out.from_addr = parse_address(first("from"))
    out.to_addrs = all_addresses(raw.get("to", []) + raw.get("cc", []))
    out.subject = decode_value(first("subject"), 1000)
    out.reply_to = parse_address(first("reply-to"))[1]
    out.return_path = parse_address(first("return-path"))[1] if "return-path" in raw else ""
    out.message_id = decode_value(first("message-id"), 300).strip()
    out.date = parse_date(first("date")) if "date" in raw else float("nan")
    out.received = [" ".join(v.split())[:1000] for v in raw.get("received", [])[:100]]
    out.received_at = received_time(out.received)
    out.relay_ips = received_ips(out.received)
    out.auth = auth_verdicts(raw.get("authentication-results", []) + raw.get("arc-authentication-results", []),
                             raw.get("received-spf", []))


def _body(msg: Message, out: ParsedEmail, lim: Limits) -> None:
    plain: list[str] = []
    html_texts: list[str] = []
    links: list[tuple[str, str]] = []
    n = 0
    for part in msg.walk():
        n += 1
        if n > lim.max_parts:
            _defect(out, f"more than {lim.max_parts} MIME parts; the rest not read")
            break
        for d in getattr(part, "defects", ()):
            _defect(out, type(d).__name__)
        if part.is_multipart():
            continue
        try:
            ctype = part.get_content_type()
            filename = part.get_filename() or ""
            disp = (part.get_content_disposition() or "").lower()
        except Exception:  # noqa: BLE001 - malformed parameter headers
            _defect(out, "unreadable part headers")
            ctype, filename, disp = "application/octet-stream", "", "attachment"
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001 - broken transfer encoding
            _defect(out, "undecodable part body")
            payload = b""
        if not isinstance(payload, bytes):
            payload = str(payload).encode("utf-8", "replace")
        is_text = ctype in ("text/plain", "text/html") and disp != "attachment" and not filename
        if not is_text:
            if ctype.startswith("multipart/"):
                continue
            if ctype == "message/rfc822" or (not payload and not filename):
                continue
            if len(out.attachments) >= lim.max_attachments:
                _defect(out, f"more than {lim.max_attachments} attachments; the rest not inspected")
                continue
            name = decode_value(filename, 255) if filename else ""
            out.attachments.append(inspect_attachment(name, payload, ctype, lim.archive_depth))
            for note in out.attachments[-1].notes:
                _defect(out, note)
            continue
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001
            charset = None
        text = _decode(payload[: lim.max_html_chars * 2], charset, out)
        if ctype == "text/html":
            if len(text) > lim.max_html_chars:
                _defect(out, f"HTML part cut at {lim.max_html_chars:,} characters")
                text = text[: lim.max_html_chars]
            h = html_to_text(text, lim.max_urls)
            _merge_html(out.html, h)
            if h.malformed:
                _defect(out, "malformed HTML")
            out.html_chars += len(h.text)
            html_texts.append(h.text)
            links.extend(h.links)
        else:
            out.plain_chars += len(text)
            plain.append(text)
    out.n_parts = n
    body = "\n".join(plain)
    htm = "\n".join(html_texts)
    # plain and HTML alternatives say the same thing; take HTML only when the plain part is (nearly) empty
    text = body if len(body.strip()) >= 0.2 * len(htm.strip()) and body.strip() else htm
    if body.strip() and htm.strip() and text is body and len(htm) > 3 * len(body) + 200:
        text = body + "\n" + htm
    text, out.invisible_chars = strip_invisible(text.strip())
    if len(text) > lim.max_text_chars:
        _defect(out, f"text cut at {lim.max_text_chars:,} characters")
        text = text[: lim.max_text_chars]
    out.text = text
    _urls(out, links, body + "\n" + htm, lim)


def _merge_html(acc: HtmlText, h: HtmlText) -> None:
    for k in ("hidden_chars", "zero_font_chars", "scripts", "forms", "iframes", "images", "meta_refresh", "password_inputs", "tags"):
        setattr(acc, k, getattr(acc, k) + getattr(h, k))
    acc.form_actions.extend(h.form_actions[: 20 - len(acc.form_actions)])
    acc.malformed = acc.malformed or h.malformed


_SCHEMES = re.compile(r"^(?:https?|ftp)://|^www\.", re.I)


def _urls(out: ParsedEmail, links: list[tuple[str, str]], text: str, lim: Limits) -> None:
    seen: set[str] = set()
    for href, anchor in links:
        if not _SCHEMES.match(href) or href in seen:
            continue  # mailto:, tel:, #anchors, cid: images
        seen.add(href)
        out.urls.append(url_facts(href, anchor))
        if len(out.urls) >= lim.max_urls:
            _defect(out, f"more than {lim.max_urls} URLs; the rest ignored")
            return
    shown = " ".join(a for _, a in links)  # link texts are not links of their own
    for u in find_urls(text, lim.max_urls):
        if u not in seen and u not in shown:
            seen.add(u)
            out.urls.append(url_facts(u))
            if len(out.urls) >= lim.max_urls:
                return


def parse_message(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> ParsedEmail:
    """Parse one RFC 5322 message; never raises (see ``unparseable`` and ``defects``)."""
    out = ParsedEmail(size=len(raw))
    if len(raw) > limits.max_bytes:
        _defect(out, f"message cut at {limits.max_bytes:,} bytes of {len(raw):,}")
        raw = raw[: limits.max_bytes]
    if raw.startswith(b"From ") and b"\n" in raw[:1000]:
        raw = raw.split(b"\n", 1)[1]  # the mbox separator line is not a header
    try:
        msg = BytesParser(policy=POLICY).parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - the parser itself failed
        out.unparseable = True
        _defect(out, f"unparseable message ({type(exc).__name__})")
        out.text = raw[: limits.max_text_chars].decode("utf-8", "replace")
        return out
    for d in msg.defects:
        _defect(out, type(d).__name__)
    try:
        _headers(msg, out)
    except Exception as exc:  # noqa: BLE001 - a header shape nobody planned for
        _defect(out, f"unreadable headers ({type(exc).__name__})")
    try:
        _body(msg, out, limits)
    except Exception as exc:  # noqa: BLE001
        _defect(out, f"unreadable body ({type(exc).__name__})")
    if not out.header_names:
        out.has_headers = False
    return out


def parse_text(text: str, limits: Limits = DEFAULT_LIMITS) -> ParsedEmail:
    """A short text without headers (an SMS, a body-only corpus): text and URLs only.

    >>> p = parse_text("WINNER! claim at http://bit.ly/x now")
    >>> p.has_headers, p.urls[0].shortener
    (False, True)
    """
    out = ParsedEmail(has_headers=False, size=len(text))
    text, out.invisible_chars = strip_invisible(text[: limits.max_text_chars])
    out.text = text
    out.plain_chars = len(text)
    out.n_parts = 1
    _urls(out, [], text, limits)
    return out
