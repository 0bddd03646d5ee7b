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


def file_type(head: bytes) -> str:
    """``pe``, ``dos`` (MZ without a PE header: DOS, NE, LE), ``elf``, ``zip`` (``office``
    for OOXML), ``pdf``, ``script`` or ``other``."""
    if pe_offset(head) is not None:
        return "pe"
    if head[:2] in (b"MZ", b"ZM") and len(head) >= 28:
        return "dos"
    if head[:4] == ELF_MAGIC:
        return "elf"
    if head[:4] in (ZIP_MAGIC, EMPTY_ZIP):
        return "office" if b"[Content_Types].xml" in head[:4096] else "zip"
    if head[:5] == b"%PDF-":
        return "pdf"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "office"
    if head[:2] == b"#!":
        return "script"
    return "other"


def is_executable_or_archive(head: bytes) -> bool:
    """What the file reader claims: PE, ELF and zip containers (incl. OOXML, JAR, APK)."""
    return file_type(head) in ("pe", "dos", "elf", "zip") or (file_type(head) == "office" and head[:2] == b"PK")
