"""Header facts: decoded values, addresses, the Received chain, SPF/DKIM/DMARC verdicts.

Headers are read raw and decoded here (RFC 2047 words, any charset, broken
ones replaced) so that one malformed header cannot stop a message.

>>> auth_verdicts(["mx.example; spf=fail smtp.mailfrom=x.test; dkim=none; dmarc=fail (p=reject) header.from=x.test"])
{'spf': 'fail', 'dkim': 'none', 'dmarc': 'fail'}
>>> parse_address('"PayPal Service" <service@paypa1-secure.com>')
('PayPal Service', 'service@paypa1-secure.com')
>>> received_ips(["from mail.example (mail.example [64.233.160.5]) by mx.local with ESMTP; Tue, 1 Oct 2002"])
['64.233.160.5']
"""

from __future__ import annotations

import email.utils
import ipaddress
import re
from email.header import decode_header
from functools import lru_cache

_AUTH = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.I)
_RECEIVED_SPF = re.compile(r"^\s*([a-z]+)", re.I)
_IP4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_IP6 = re.compile(r"\[(?:IPv6:)?([0-9a-f:]{3,39})\]", re.I)
_ADDR_IN_TEXT = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
_VERDICT_RANK = {"fail": 6, "permerror": 5, "softfail": 4, "temperror": 3, "neutral": 2, "none": 1, "pass": 0}


def clean(s: str) -> str:
    """``s`` as valid Unicode: raw 8-bit bytes the parser kept as surrogates are read as UTF-8 (or replaced).

    >>> clean("caf\\udcc3\\udca9")
    'café'
    """
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        try:
            return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return s.encode("utf-8", "replace").decode("utf-8")


def decode_value(raw: str, limit: int = 2000) -> str:
    """A header value with RFC 2047 encoded words decoded; unknown charsets fall back to UTF-8 with replacement."""
    raw = clean(str(raw)[: limit * 4])
    if "=?" not in raw:
        return " ".join(raw.split())[:limit]
    out = []
    try:
        parts = decode_header(raw)
    except Exception:  # noqa: BLE001 - malformed encoded words: keep the raw text
        return " ".join(raw.split())[:limit]
    for chunk, cs in parts:
        if isinstance(chunk, bytes):
            try:
                out.append(chunk.decode(cs or "ascii", errors="replace"))
            except LookupError:
                out.append(chunk.decode("utf-8", errors="replace"))
        else:
            out.append(chunk)
    return clean(" ".join("".join(out).split())[:limit])


_ADDR = r"[^<>@\s\",;:()\[\]\\]+@[^<>@\s\",;:()\[\]\\]+"
_SIMPLE = re.compile(r'\s*(?:"([^"\\<>]*)"|([^"<>,;:@()\[\]\\]*?))\s*<(' + _ADDR + r')>\s*|\s*(' + _ADDR + r')\s*')


def _simple(value: str) -> tuple[str, str] | None:
    """``Name <a@b>``, ``"Name" <a@b>`` or ``a@b`` without the RFC 5322 oddities (comments, groups,
    routes): most headers. Read by one regular expression; anything else goes to ``getaddresses``.

    >>> _simple('"Doe, John"  <J.Doe@Example.org>'), _simple("a@b.c"), _simple("x (comment) <a@b.c>")
    (('Doe, John', 'j.doe@example.org'), ('', 'a@b.c'), None)
    """
    m = _SIMPLE.fullmatch(value)
    if m is None:
        return None
    if m.group(4):
        return "", m.group(4).lower()
    return " ".join((m.group(1) if m.group(1) is not None else m.group(2)).split()), m.group(3).lower()


def parse_address(raw: str) -> tuple[str, str]:
    """(display name, address in lower case) of a From-like header; ('', '') when there is none."""
    value = decode_value(raw)
    fast = _simple(value)
    if fast is not None:
        return fast
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:  # noqa: BLE001
        pairs = []
    for name, addr in pairs:
        if addr and "@" in addr:
            return name.strip().strip('"'), addr.strip().strip("<>").lower()
    m = re.search(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", value)
    return (value.split("<")[0].strip().strip('"'), m.group(0).lower()) if m else (value.strip(), "")


def all_addresses(values: list[str], limit: int = 200) -> list[str]:
    """Every address in To/Cc-like headers (lower case), at most ``limit``."""
    out = []
    decoded = [decode_value(v) for v in values]
    pieces = [x for v in decoded for x in v.split(",")] if not any('"' in v or "(" in v for v in decoded) else []
    fast = [_simple(x) for x in pieces if x.strip()]
    if pieces and all(f is not None for f in fast):
        return [a for _, a in fast][:limit]
    try:
        pairs = email.utils.getaddresses(decoded)
    except Exception:  # noqa: BLE001
        pairs = []
    for _, addr in pairs:
        if addr and "@" in addr:
            out.append(addr.lower().strip("<>"))
            if len(out) >= limit:
                break
    return out


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip(">").strip(".").lower() if "@" in address else ""


def auth_verdicts(auth_results: list[str], received_spf: list[str] = ()) -> dict[str, str]:
    """Worst SPF, DKIM and DMARC verdict found in Authentication-Results (and Received-SPF) headers."""
    out: dict[str, str] = {}
    for value in auth_results:
        for mech, verdict in _AUTH.findall(value):
            mech, verdict = mech.lower(), verdict.lower()
            if _VERDICT_RANK.get(verdict, 2) >= _VERDICT_RANK.get(out.get(mech, "pass"), 0) or mech not in out:
                out[mech] = verdict
    for value in received_spf:
        m = _RECEIVED_SPF.match(value)
        if m and "spf" not in out:
            out["spf"] = m.group(1).lower()
    return out


@lru_cache(maxsize=65536)
def _public(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return a.is_global


def received_ips(received: list[str]) -> list[str]:
    """Relay addresses in Received headers, newest hop first, public ones only."""
    out = []
    for value in received:
        head = value.split(" by ", 1)[0]  # the 'from' part names the sending host
        for ip in _IP4.findall(head) + _IP6.findall(head):
            if _public(ip) and ip not in out:
                out.append(ip)
    return out


def display_name_domains(name: str) -> list[str]:
    """Domains of addresses written inside a display name (``"support@paypal.com" <x@evil.test>``)."""
    return [d.lower() for d in _ADDR_IN_TEXT.findall(name)]


def parse_date(value: str) -> float:
    """Epoch seconds of an RFC 2822 date, NaN when unreadable.

    >>> parse_date("Tue, 01 Oct 2002 10:00:00 +0000")
    1033466400.0
    """
    try:
        dt = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return float("nan")
    if dt is None:
        return float("nan")
    try:
        if dt.tzinfo is None:
            import datetime as _dt

            dt = dt.replace(tzinfo=_dt.timezone.utc)
        ts = dt.timestamp()
    except (OverflowError, ValueError, OSError):
        return float("nan")
    return ts if 0 < ts < 4_102_444_800 else float("nan")  # 1970 .. 2100


def received_time(received: list[str]) -> float:
    """Time the newest Received hop gives (after its last ';'): when the message arrived, NaN if none."""
    for value in received:
        if ";" in value:
            t = parse_date(value.rsplit(";", 1)[1])
            if t == t:
                return t
    return float("nan")
