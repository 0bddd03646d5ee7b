"""File types from magic bytes (never from the file name).

>>> file_type(b"MZ" + b"\\0" * 58 + b"\\x40\\0\\0\\0" + b"PE\\0\\0" + b"\\0" * 20)
'pe'
>>> file_type(b"\\x7fELF\\x02\\x01"), file_type(b"PK\\x03\\x04rest"), file_type(b"hello")
('elf', 'zip', 'other')
>>> file_type(b"MZPE\\0\\0" + bytes(54) + b"\\x02"), file_type(b"MZ" + bytes(100))
('pe', 'dos')
"""

from __future__ import annotations

import struct

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP = b"PK\x05\x06"
ELF_MAGIC = b"\x7fELF"


def pe_offset(head: bytes) -> int | None:
    """``e_lfanew`` when ``head`` starts like a PE file, else None.

    When the head is long enough to hold the NT signature, ``PE\\0\\0`` must be
    there; a head that ends before it (a tiny sniff buffer) is given the benefit
    of the doubt only if ``e_lfanew`` is plausible.
    """
    if len(head) < 8 or head[:2] not in (b"MZ", b"ZM"):
        return None
    if len(head) < 64:  # the loader maps a short file zero-padded: a 61-byte PE is valid
        head = head + bytes(64 - len(head))
    lfanew = struct.unpack_from("<I", head, 0x3C)[0]
    if lfanew < 2 or lfanew > 0x10000000:  # hand-made files overlap the NT header with the DOS one
        return None
    if lfanew + 4 <= len(head):
        return lfanew if head[lfanew:lfanew + 4] == b"PE\0\0" else None
    return lfanew


def magic_kind(data: bytes) -> str:
    """Fine-grained kind from magic bytes: pe, dos, elf, macho, zip, ooxml, ole, pdf, rar,
    7z, gzip, iso, lnk, html, rtf, script or other (mail attachments use this directly).

    >>> magic_kind(b"%PDF-1.7"), magic_kind(b"PK\\x03\\x04"), magic_kind(b"<!DOCTYPE html><html>")
    ('pdf', 'zip', 'html')
    """
    if pe_offset(data) is not None:
        return "pe"
    if data[:2] in (b"MZ", b"ZM"):
        return "dos"
    h = data[:8]
    if h[:4] == ELF_MAGIC:
        return "elf"
    if h[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "macho"
    if h[:4] in (ZIP_MAGIC, EMPTY_ZIP):
        head = data[:4096]
        return "ooxml" if b"[Content_Types].xml" in head or b"word/" in head or b"xl/" in head or b"ppt/" in head else "zip"
    if h[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "ole"
    if h[:5] == b"%PDF-":
        return "pdf"
    if h[:4] == b"Rar!":
        return "rar"
    if h[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if h[:2] == b"\x1f\x8b":
        return "gzip"
    if h[:4] == b"L\x00\x00\x00":
        return "lnk"
    if h[:5] == b"{\\rtf":
        return "rtf"
    if len(data) > 0x8006 and data[0x8001:0x8006] == b"CD001":
        return "iso"
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<meta", b"<form", b"<svg")):
        return "html"
    if head.startswith((b"#!", b"@echo", b"<job", b"<package", b"function ", b"var ", b"dim ", b"set ", b"powershell")):
        return "script"
    return "other"


#: the file reader's coarser ``file.type`` vocabulary
_FILE_TYPE = {"pe": "pe", "dos": "dos", "elf": "elf", "zip": "zip", "ooxml": "office", "ole": "office",
              "pdf": "pdf", "script": "script"}


def file_type(head: bytes) -> str:
    """``pe``, ``dos`` (MZ without a PE header: DOS, NE, LE), ``elf``, ``zip`` (``office``
    for OOXML and OLE), ``pdf``, ``script`` or ``other``."""
    kind = magic_kind(head)
    if kind == "dos" and len(head) < 28:
        return "other"
    return _FILE_TYPE.get(kind, "other")


def is_executable_or_archive(head: bytes) -> bool:
    """What the file reader claims: PE, ELF and zip containers (incl. OOXML, JAR, APK)."""
    return file_type(head) in ("pe", "dos", "elf", "zip") or (file_type(head) == "office" and head[:2] == b"PK")
