"""Parsing: headers, visible text, URLs, attachments, and hostile or broken input (all messages built here)."""

from __future__ import annotations

import time

from email_samples import broken_mime, message, zip_bomb_like, zip_bytes

from threatml.email.attachments import inspect_attachment
from threatml.email.domains import lookalike_of
from threatml.email.features import FEATURES, features_of
from threatml.email.parse import Limits, parse_message


def test_headers_auth_results_and_mismatches():
    raw = message(
        sender='"support@paypal.com" <no-reply@paypa1-help.example>',
        headers={
            "Reply-To": "collect@elsewhere.example",
            "Return-Path": "<bounce@bulk.example>",
            "Authentication-Results": "mx.corp.example; spf=softfail smtp.mailfrom=paypa1-help.example; "
                                      "dkim=none; dmarc=fail (p=reject) header.from=paypa1-help.example",
            "Received": "from relay.bulk.example (relay.bulk.example [64.233.160.5]) by mx.corp.example; "
                        "Fri, 01 Mar 2024 12:00:05 +0000",
        },
    )
    p = parse_message(raw)
    assert p.from_addr == "no-reply@paypa1-help.example"
    assert p.auth == {"spf": "softfail", "dkim": "none", "dmarc": "fail"}
    assert p.relay_ips == ["64.233.160.5"]
    f = features_of(p)
    assert f["replyto_differs"] == 1 and f["returnpath_differs"] == 1
    assert f["display_name_address"] == 1 and f["display_name_spoof"] == 1
    assert f["spf_fail"] == 1 and f["dmarc_fail"] == 1 and f["dkim_fail"] == 0
    assert f["sender_lookalike"] == 1  # paypa1-help imitates paypal.com
    assert set(f) == set(FEATURES)


def test_html_hidden_text_zero_font_invisible_chars_and_links():
    html = ("<html><head><style>p{color:red}</style></head><body>"
            "<p>Your acc\u200bount is sus\u200cpended</p>"
            "<div style='display:none'>meeting agenda quarterly budget</div>"
            "<span style='font-size:0px'>lunch notes</span>"
            "<a href='http://198.51.100.7:8080/paypal/signin'>https://www.paypal.com/signin</a>"
            "<a href='https://bit.ly/abc'>here</a><a href='mailto:x@y.example'>mail</a>"
            "<form action='https://collect.example/post'><input name=p></form>"
            "<script>document.location='http://evil.example'</script></body></html>")
    p = parse_message(message(text="", html=html))
    assert "account is suspended" in p.text  # invisible characters removed so words come back whole
    assert "agenda" not in p.text and "lunch" not in p.text and "document.location" not in p.text
    assert p.invisible_chars == 2
    assert p.html.hidden_chars > 20 and p.html.zero_font_chars == len("lunch notes")
    assert p.html.scripts == 1 and p.html.forms == 1
    by_host = {u.host: u for u in p.urls}
    ip = by_host["198.51.100.7"]
    assert ip.ip_host and ip.unusual_port and ip.anchor_mismatch and ip.brand_outside_domain
    assert by_host["bit.ly"].shortener and not by_host["bit.ly"].anchor_mismatch
    assert "y.example" not in by_host  # mailto: is not a web link
    f = features_of(p)
    assert f["form_external"] == 1 and f["url_anchor_mismatch"] == 1 and f["hidden_chars"] > 0


def test_lookalike_domains():
    prot = ("example.com", "paypal.com")
    assert lookalike_of("xn--exmple-cua.com", prot) == ("example.com", "homoglyph")  # exämple
    assert lookalike_of("examp1e.com", prot) == ("example.com", "homoglyph")
    assert lookalike_of("exampel.com", prot)[1] == "typo"
    assert lookalike_of("paypal-login.net", prot)[1] == "combo"
    assert lookalike_of("paypal.com.account-check.ru", prot)[1] == "subdomain"
    assert lookalike_of("mail.example.com", prot) is None
    assert lookalike_of("unrelated.org", prot) is None


def test_attachments_by_magic_bytes_with_hashes():
    pe = b"MZ" + b"\x00" * 58 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x90" * 200  # e_lfanew -> PE header
    docm = zip_bytes({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>", "word/vbaProject.bin": b"\x00VBA"})
    inner = zip_bytes({"payload.js": b"var x = new ActiveXObject('WScript.Shell');"})
    nested = zip_bytes({"level2.zip": zip_bytes({"level3.zip": inner})})
    raw = message(attachments=[
        ("invoice.pdf.exe", pe, "application/octet-stream"),
        ("report.docx", docm, "application/octet-stream"),
        ("scan.zip", nested, "application/zip"),
        ("login.htm", b"<html><form action='http://x.example'></form></html>", "text/html"),
        ("photo.jpg", pe, "image/jpeg"),
    ])
    p = parse_message(raw)
    a = {x.name: x for x in p.attachments}
    assert a["invoice.pdf.exe"].file_type == "pe" and a["invoice.pdf.exe"].double_extension
    assert len(a["invoice.pdf.exe"].sha256) == 64 and len(a["invoice.pdf.exe"].md5) == 32
    assert a["report.docx"].macro_office and a["report.docx"].file_type == "ooxml"
    assert a["scan.zip"].archive and a["scan.zip"].archive_nested >= 2
    assert a["scan.zip"].archive_executables == 1  # found two levels down, read from small members only
    assert a["login.htm"].html
    assert a["photo.jpg"].type_mismatch and a["photo.jpg"].executable
    f = features_of(p)
    assert f["att_executable"] >= 2 and f["att_macro"] == 1 and f["att_double_ext"] == 1 and f["att_html"] == 1


def test_zip_bomb_is_recognised_without_expanding_it():
    bomb = zip_bomb_like(210_000_000)
    assert len(bomb) < 2_000_000
    t = time.perf_counter()
    a = inspect_attachment("bomb.zip", zip_bytes({"inner.zip": bomb}))
    assert time.perf_counter() - t < 5  # the inner bomb is listed from its directory, never inflated
    assert a.zip_bomb
    assert any("not expanded" in n for n in a.notes)


def test_broken_mime_unknown_charset_and_bad_base64_are_counted_not_raised():
    p = parse_message(broken_mime())
    assert not p.unparseable
    assert "hello" in p.text
    assert p.unknown_charsets == 1
    assert any("unknown charset" in d for d in p.defects)
    assert any("Boundary" in d or "boundary" in d.lower() for d in p.defects)
    assert len(p.attachments) == 1  # kept, whatever its bytes decoded to


def test_missing_headers_garbage_and_limits():
    p = parse_message(b"Subject: only a subject\n\nbody")
    f = features_of(p)
    assert f["missing_message_id"] == 1 and f["missing_date"] == 1 and f["missing_to"] == 1
    g = parse_message(bytes(range(256)) * 40)  # binary noise: no traceback
    assert isinstance(g.text, str)
    big = message(attachments=[("big.bin", b"\x00" * 300_000, "application/octet-stream")])
    small = Limits(max_bytes=50_000, max_urls=3)
    q = parse_message(big, small)
    assert any("message cut" in d for d in q.defects)
    many = message(text=" ".join(f"http://h{i}.example/x" for i in range(50)))
    assert len(parse_message(many, small).urls) == 3


def test_html_with_deep_nesting_and_unclosed_tags_is_bounded():
    html = "<div>" * 5000 + "text" + "<p style='display:none'>hidden" + "<b>" * 3000
    t = time.perf_counter()
    p = parse_message(message(text="", html=html))
    assert time.perf_counter() - t < 5
    assert "text" in p.text and "hidden" not in p.text
