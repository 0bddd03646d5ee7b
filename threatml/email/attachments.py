"""Attachments judged by their bytes: type from magic numbers, hashes, archive contents.

Archives are listed, not unpacked: a zip's central directory gives member
names and sizes; only the first bytes of a few members are read, and nested
archives are opened only while small and only ``max_depth`` levels deep, so a
zip bomb is recognised (huge declared size for its bytes) without being
expanded.

>>> a = inspect_attachment("invoice.pdf.exe", b"MZ\\x90\\x00" + b"\\x00" * 60)  # MZ without a PE header
>>> a.file_type, a.executable, a.double_extension, len(a.sha256)
('dos', True, True, 64)
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field

from threatml.files.sniff import magic_kind

EXEC_EXT = frozenset({"exe", "scr", "com", "pif", "bat", "cmd", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "ps1",
                      "jar", "lnk", "msi", "dll", "cpl", "reg", "iso", "img", "vhd", "apk", "sh", "elf", "appx",
                      "msix", "one", "xll", "chm", "application", "gadget", "inf", "scf", "url"})
MACRO_EXT = frozenset({"docm", "dotm", "xlsm", "xltm", "xlsb", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm"})
ARCHIVE_EXT = frozenset({"zip", "rar", "7z", "gz", "tgz", "tar", "bz2", "xz", "cab", "arj", "ace", "lzh", "z"})
DOC_EXT = frozenset({"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "rtf", "jpg", "jpeg", "png", "gif",
                     "csv", "odt", "htm", "html", "zip", "mp3", "wav", "bmp", "tif", "tiff"})
_DOUBLE = re.compile(r"\.([a-z0-9]{2,5})[\s._-]*\.([a-z0-9]{2,11})$", re.I)


@dataclass
class Attachment:
    name: str
    size: int
    sha256: str
    md5: str
    file_type: str = "other"
    content_type: str = ""
    executable: bool = False
    macro_office: bool = False
    archive: bool = False
    html: bool = False
    double_extension: bool = False
    type_mismatch: bool = False
    archive_members: int = 0
    archive_executables: int = 0
    archive_nested: int = 0
    archive_encrypted: bool = False
    zip_bomb: bool = False
    notes: list[str] = field(default_factory=list)


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower().strip() if "." in name else ""


def inspect_attachment(name: str, data: bytes, content_type: str = "", max_depth: int = 3) -> Attachment:
    """Type, hashes and risk flags of one attachment's bytes."""
    name = (name or "").strip()
    a = Attachment(name=name[:255], size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   md5=hashlib.md5(data, usedforsecurity=False).hexdigest(), content_type=content_type.lower())
    kind = magic_kind(data)
    ext = _ext(name)
    a.file_type = kind
    a.executable = kind in ("pe", "dos", "elf", "macho", "lnk", "script", "iso") or ext in EXEC_EXT
    a.archive = kind in ("zip", "rar", "7z", "gzip") or ext in ARCHIVE_EXT
    a.html = kind == "html" or ext in ("htm", "html", "shtml", "xhtml", "svg") or a.content_type == "text/html"
    m = _DOUBLE.search(name.lower())
    a.double_extension = bool(m and m.group(1) in DOC_EXT and (m.group(2) in EXEC_EXT or m.group(2) in ARCHIVE_EXT | {"htm", "html"}))
    # a document by name that is a program by content
    a.type_mismatch = ext in DOC_EXT - {"zip", "htm", "html", "txt", "csv"} and kind in ("pe", "dos", "elf", "macho", "lnk", "script")
    if ext in MACRO_EXT:
        a.macro_office = True
    elif kind == "ole" and (b"_VBA_PROJECT" in data or b"V\x00B\x00A\x00" in data or b"Macros" in data):
        a.macro_office = True
    if kind in ("zip", "ooxml"):
        _inspect_zip(a, data, max_depth)
    return a


def _inspect_zip(a: Attachment, data: bytes, depth: int, max_members: int = 2000) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        a.notes.append(f"unreadable zip ({type(exc).__name__})")
        return
    a.archive_members += min(len(infos), max_members)
    if len(infos) > max_members:
        a.notes.append(f"archive lists {len(infos)} members; only {max_members} looked at")
        a.zip_bomb = True
    declared = 0
    for info in infos[:max_members]:
        declared += info.file_size
        mname = info.filename.lower()
        if info.flag_bits & 0x1:
            a.archive_encrypted = True
        if mname.endswith("vbaproject.bin"):
            a.macro_office = True
        ext = _ext(mname)
        if ext in EXEC_EXT:
            a.archive_executables += 1
        if ext in ARCHIVE_EXT or ext in ("docx", "xlsx"):
            a.archive_nested += int(ext in ARCHIVE_EXT)
            # look one level deeper only while the member is small: never expand a bomb
            if depth > 1 and ext == "zip" and info.file_size <= 5_000_000 and not info.flag_bits & 0x1:
                try:
                    inner = zf.read(info)
                except Exception as exc:  # noqa: BLE001 - corrupt member: note it, go on
                    a.notes.append(f"unreadable member {info.filename[:80]} ({type(exc).__name__})")
                    continue
                _inspect_zip(a, inner, depth - 1, max_members)
    ratio = declared / max(1, len(data))
    if declared > 200_000_000 or (ratio > 200 and declared > 20_000_000):
        a.zip_bomb = True
        a.notes.append(f"archive declares {declared:,} bytes for {len(data):,} (ratio {ratio:,.0f}); not expanded")
