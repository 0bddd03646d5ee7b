"""PE DOS, file (COFF) and optional header fields read with ``struct``, under pefile's names.

The names are those of the ClaMP data set (and of pefile, which ClaMP used),
so a model trained on ClaMP's CSV scores the headers of real files. Parsing
is by hand, not with pefile, because these fields must come out of any file
that starts like a PE, however broken the rest: a field that lies beyond the
end of the file is NaN (unknown), never an exception.

>>> from threatml.files.pe_header import read_header
>>> h, why = read_header(b"MZ" + b"\\0" * 100)
>>> h["e_magic"], why
(23117.0, 'no PE signature at e_lfanew 0')
"""

from __future__ import annotations

import math
import struct
import time

_DOS = [("e_magic", "H"), ("e_cblp", "H"), ("e_cp", "H"), ("e_crlc", "H"), ("e_cparhdr", "H"),
        ("e_minalloc", "H"), ("e_maxalloc", "H"), ("e_ss", "H"), ("e_sp", "H"), ("e_csum", "H"),
        ("e_ip", "H"), ("e_cs", "H"), ("e_lfarlc", "H"), ("e_ovno", "H"), ("e_res", "8s"),
        ("e_oemid", "H"), ("e_oeminfo", "H"), ("e_res2", "20s"), ("e_lfanew", "I")]
_COFF = [("Machine", "H"), ("NumberOfSections", "H"), ("TimeDateStamp", "I"), ("PointerToSymbolTable", "I"),
         ("NumberOfSymbols", "I"), ("SizeOfOptionalHeader", "H"), ("Characteristics", "H")]
_OPT_HEAD = [("Magic", "H"), ("MajorLinkerVersion", "B"), ("MinorLinkerVersion", "B"), ("SizeOfCode", "I"),
             ("SizeOfInitializedData", "I"), ("SizeOfUninitializedData", "I"), ("AddressOfEntryPoint", "I"),
             ("BaseOfCode", "I")]
_OPT_MID = [("SectionAlignment", "I"), ("FileAlignment", "I"), ("MajorOperatingSystemVersion", "H"),
            ("MinorOperatingSystemVersion", "H"), ("MajorImageVersion", "H"), ("MinorImageVersion", "H"),
            ("MajorSubsystemVersion", "H"), ("MinorSubsystemVersion", "H"), ("Win32VersionValue", "I"),
            ("SizeOfImage", "I"), ("SizeOfHeaders", "I"), ("CheckSum", "I"), ("Subsystem", "H"),
            ("DllCharacteristics", "H")]
_OPT_TAIL = ["SizeOfStackReserve", "SizeOfStackCommit", "SizeOfHeapReserve", "SizeOfHeapCommit"]

#: every numeric header field this module yields, in a fixed order (ClaMP's raw columns,
#: with TimeDateStamp beside ClaMP's CreationYear and the two byte arrays left out)
HEADER_FIELDS: tuple[str, ...] = tuple(
    [n for n, f in _DOS if not f.endswith("s")]
    + ["Machine", "NumberOfSections", "TimeDateStamp", "CreationYear", "PointerToSymbolTable", "NumberOfSymbols",
       "SizeOfOptionalHeader", "Characteristics"]
    + [n for n, _ in _OPT_HEAD] + ["BaseOfData", "ImageBase"] + [n for n, _ in _OPT_MID if n != "Win32VersionValue"]
    + _OPT_TAIL + ["LoaderFlags", "NumberOfRvaAndSizes"]
)

NAN = float("nan")


def _unpack(data: bytes, off: int, spec: list[tuple[str, str]], out: dict) -> int:
    """Read fields in order from ``off``; stop (leaving NaN) at the first that does not fit."""
    for name, fmt in spec:
        size = struct.calcsize("<" + fmt)
        if off + size > len(data):
            return -1
        if not fmt.endswith("s"):
            out[name] = float(struct.unpack_from("<" + fmt, data, off)[0])
        off += size
    return off


def creation_year(timestamp: float) -> float:
    """Calendar year (UTC) of a COFF ``TimeDateStamp``, as ClaMP's ``CreationYear``.

    >>> creation_year(1262304000.0)
    2010.0
    """
    if not math.isfinite(timestamp):
        return NAN
    try:
        return float(time.gmtime(int(timestamp)).tm_year)
    except (OverflowError, ValueError, OSError):
        return NAN


def read_header(data: bytes) -> tuple[dict[str, float], str | None]:
    """Header fields of ``data`` (NaN where absent) and why parsing stopped early, if it did."""
    out = dict.fromkeys(HEADER_FIELDS, NAN)
    if data[:2] in (b"MZ", b"ZM") and len(data) < 64:  # mapped zero-padded by the loader
        data = data + bytes(64 - len(data))
    if _unpack(data, 0, _DOS, out) < 0:
        return out, "file shorter than the 64-byte DOS header"
    if data[:2] not in (b"MZ", b"ZM"):
        return out, "no MZ signature"
    nt = int(out["e_lfanew"])
    if data[nt:nt + 4] != b"PE\0\0":
        return out, f"no PE signature at e_lfanew {nt}"
    off = _unpack(data, nt + 4, _COFF, out)
    out["CreationYear"] = creation_year(out["TimeDateStamp"])
    if off < 0:
        return out, "file ends inside the COFF file header"
    off = _unpack(data, off, _OPT_HEAD, out)
    if off < 0:
        return out, "file ends inside the optional header"
    pe32plus = out["Magic"] == 0x20B
    if pe32plus:
        fields = [("ImageBase", "Q")]
    else:
        fields = [("BaseOfData", "I"), ("ImageBase", "I")]
    off = _unpack(data, off, fields + _OPT_MID, out)
    if off >= 0:
        word = "Q" if pe32plus else "I"
        off = _unpack(data, off, [(n, word) for n in _OPT_TAIL] + [("LoaderFlags", "I"), ("NumberOfRvaAndSizes", "I")], out)
    if off < 0:
        return out, "file ends inside the optional header"
    return out, None
