"""A tiny PE32 builder for the file tests: real, loadable-layout PE files written byte by byte."""

from __future__ import annotations

import struct

import pytest

INJECTION = {"kernel32.dll": ["OpenProcess", "VirtualAllocEx", "WriteProcessMemory", "CreateRemoteThread", "ExitProcess"]}
PLAIN = {"kernel32.dll": ["GetModuleHandleA", "ExitProcess"], "user32.dll": ["MessageBoxA"]}


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def build_pe(imports: dict[str, list[str]] | None = None, code: bytes = b"\x31\xc0\xc3", dll: bool = False,
             section_names: tuple[str, str] = (".text", ".idata"), overlay: bytes = b"", timestamp: int = 1262304000,
             checksum: int = 0, subsystem: int = 2, extra_data: bytes = b"", text_flags: int = 0x60000020) -> bytes:
    """A PE32 with a code section and an import section (``imports``: dll -> function names)."""
    imports = PLAIN if imports is None else imports
    fa, sa = 0x200, 0x1000
    text_rva, idata_rva = 0x1000, 0x2000
    # ---- import section, laid out relative to idata_rva
    dlls = list(imports)
    desc_size = 20 * (len(dlls) + 1)
    blob = bytearray(desc_size)
    descs = []
    for dll_name in dlls:
        funcs = imports[dll_name]
        ilt_off = len(blob)
        blob += bytes(4 * (len(funcs) + 1))
        iat_off = len(blob)
        blob += bytes(4 * (len(funcs) + 1))
        name_offs = []
        for fn in funcs:
            if len(blob) % 2:
                blob += b"\0"
            name_offs.append(len(blob))
            blob += struct.pack("<H", 0) + fn.encode() + b"\0"
        dll_off = len(blob)
        blob += dll_name.encode() + b"\0"
        for i, off in enumerate(name_offs):
            struct.pack_into("<I", blob, ilt_off + 4 * i, idata_rva + off)
            struct.pack_into("<I", blob, iat_off + 4 * i, idata_rva + off)
        descs.append((ilt_off, dll_off, iat_off))
    for i, (ilt, name, iat) in enumerate(descs):
        struct.pack_into("<IIIII", blob, 20 * i, idata_rva + ilt, 0, 0, idata_rva + name, idata_rva + iat)
    blob += extra_data
    text = code + bytes(max(0, 16 - len(code)))
    text_raw, idata_raw = _align(len(text), fa), _align(len(blob), fa)
    headers = fa
    size_of_image = _align(idata_rva + max(len(blob), 1), sa)
    # ---- DOS header + stub
    dos = bytearray(64)
    struct.pack_into("<HHHHHHHHHHHHHH", dos, 0, 0x5A4D, 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0, 0, 0x40, 0)
    struct.pack_into("<I", dos, 0x3C, 0x80)
    stub = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$"
    out = bytearray(dos + stub)
    out += bytes(0x80 - len(out))
    chars = 0x0102 | (0x2000 if dll else 0)
    out += b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 2, timestamp, 0, 0, 0xE0, chars)
    opt = struct.pack("<HBBIIIIII", 0x10B, 14, 0, text_raw, idata_raw, 0, text_rva, text_rva, idata_rva)
    opt += struct.pack("<IIIHHHHHHIIIIHH", 0x400000, sa, fa, 6, 0, 0, 0, 6, 0, 0, size_of_image, headers, checksum,
                       subsystem, 0x8140)
    opt += struct.pack("<IIIIII", 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    dirs = [(0, 0)] * 16
    dirs[1] = (idata_rva, desc_size)
    opt += b"".join(struct.pack("<II", *d) for d in dirs)
    out += opt
    def section(name, vsize, rva, raw_size, raw_ptr, flags):
        return struct.pack("<8sIIIIIIHHI", name.encode()[:8], vsize, rva, raw_size, raw_ptr, 0, 0, 0, 0, flags)
    out += section(section_names[0], len(text), text_rva, text_raw, headers, text_flags)
    out += section(section_names[1], len(blob), idata_rva, idata_raw, headers + text_raw, 0xC0000040)
    out += bytes(headers - len(out))
    out += text + bytes(text_raw - len(text))
    out += bytes(blob) + bytes(idata_raw - len(blob))
    return bytes(out) + overlay


@pytest.fixture
def pe_builder():
    return build_pe
