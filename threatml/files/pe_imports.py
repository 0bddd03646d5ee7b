"""Import and export names of a PE file, and its import hash, read with ``struct``.

pefile builds a Python object per import and per export, which costs about
100 ms for kernel32.dll; scanning needs only the names, so this walks the
tables directly: section table -> RVA mapping, import descriptors ->
thunks -> hint/name entries, export name pointers -> names. Every table is
bounded (descriptor, function and name counts, string length) and every read
is checked against the end of the data, so broken tables end the walk with a
note instead of an exception.

``imphash`` follows pefile's definition (library name lower-cased without
``.dll/.ocx/.sys``, function lower-cased, ordinals named through pefile's
ordinal tables, joined by ``,`` and MD5-hashed), so it equals
``pefile.PE.get_imphash()`` and published import hashes.

>>> pe_names(b"MZ" + bytes(100)).imports
{}
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from threatml.files import limits

MAX_DESCRIPTORS = 1024
MAX_NAME = 512


@dataclass
class PENames:
    imports: dict[str, list[str]] = field(default_factory=dict)
    #: (library, ordinal) for imports by ordinal, in order, for the imphash
    ordinals: dict[tuple[str, int], int] = field(default_factory=dict)
    exports: list[str] = field(default_factory=list)
    imphash: str = ""
    notes: list[str] = field(default_factory=list)
    n_imports: int = 0


def _cstr(data: bytes, off: int) -> bytes | None:
    if off < 0 or off >= len(data):
        return None
    end = data.find(b"\0", off, off + MAX_NAME)
    return data[off:end] if end >= 0 else data[off:off + MAX_NAME]


class _Layout:
    """RVA -> file offset through the section table (as the loader maps the file)."""

    def __init__(self, data: bytes):
        self.ok = False
        self.size = len(data)
        if len(data) < 64 or data[:2] not in (b"MZ", b"ZM"):
            return
        nt = struct.unpack_from("<I", data, 0x3C)[0]
        if nt + 24 > len(data) or data[nt:nt + 4] != b"PE\0\0":
            return
        n_sec, opt_size = struct.unpack_from("<H", data, nt + 6)[0], struct.unpack_from("<H", data, nt + 20)[0]
        opt = nt + 24
        if opt + 2 > len(data):
            return
        self.magic = struct.unpack_from("<H", data, opt)[0]
        self.plus = self.magic == 0x20B
        dd = opt + (112 if self.plus else 96)
        self.dirs = []
        for i in range(16):
            if dd + 8 * i + 8 <= len(data) and dd + 8 * i + 8 <= opt + opt_size:
                self.dirs.append(struct.unpack_from("<II", data, dd + 8 * i))
        self.headers = struct.unpack_from("<I", data, opt + 60)[0] if opt + 64 <= len(data) else 0
        falign = struct.unpack_from("<I", data, opt + 36)[0] if opt + 40 <= len(data) else 0x200
        self.sections = []
        sec = opt + opt_size
        for i in range(min(n_sec, limits.MAX_SECTIONS)):
            o = sec + 40 * i
            if o + 40 > len(data):
                break
            vsize, va, rsize, rptr = struct.unpack_from("<IIII", data, o + 8)
            if falign >= 0x200:  # the loader rounds raw pointers down to 512 bytes
                rptr = rptr // 0x200 * 0x200
            self.sections.append((va, max(vsize, rsize), rptr, rsize))
        self.ok = True

    def offset(self, rva: int) -> int:
        for va, span, rptr, rsize in self.sections:
            if va <= rva < va + span:
                return rptr + (rva - va) if rva - va < rsize else -1
        # outside every section (headers, section-less files): the file is mapped as is
        return rva if rva < self.size else -1


def pe_names(data: bytes) -> PENames:
    """Imports (library -> functions), exports and the import hash of ``data``."""
    out = PENames()
    lay = _Layout(data)
    if not lay.ok:
        return out
    _imports(data, lay, out)
    _exports(data, lay, out)
    if out.n_imports:
        out.imphash = _imphash(out)
    return out


def _imports(data: bytes, lay: _Layout, out: PENames) -> None:
    if len(lay.dirs) < 2 or not lay.dirs[1][0]:
        return
    off = lay.offset(lay.dirs[1][0])
    step, flag = (8, 1 << 63) if lay.plus else (4, 1 << 31)
    fmt = "<Q" if lay.plus else "<I"
    order: list[tuple[str, str | int]] = []
    for i in range(MAX_DESCRIPTORS):
        d = off + 20 * i
        if off < 0 or d + 20 > len(data):
            out.notes.append("import directory runs past the end of the file")
            break
        oft, _, _, name_rva, ft = struct.unpack_from("<IIIII", data, d)
        if not (oft or name_rva or ft):
            break
        raw = _cstr(data, lay.offset(name_rva))
        if not raw:
            continue  # pefile drops descriptors without a readable library name too
        lib = raw.decode("latin-1")
        t = lay.offset(oft or ft)
        funcs = out.imports.setdefault(lib, [])
        for j in range(limits.MAX_IMPORT_FUNCS):
            p = t + step * j
            if t < 0 or p + step > len(data):
                break
            v = struct.unpack_from(fmt, data, p)[0]
            if v == 0:
                break
            if out.n_imports >= limits.MAX_IMPORT_FUNCS:
                out.notes.append(f"more than {limits.MAX_IMPORT_FUNCS} imported functions: the rest ignored")
                return
            if v & flag:
                funcs.append(f"ordinal{v & 0xFFFF}")
                order.append((lib, v & 0xFFFF))
            else:
                nm = _cstr(data, lay.offset(v & 0x7FFFFFFF) + 2)
                if nm is None:
                    break
                funcs.append(nm.decode("latin-1"))
                order.append((lib, funcs[-1]))
            out.n_imports += 1
    out._order = order  # type: ignore[attr-defined]


def _exports(data: bytes, lay: _Layout, out: PENames) -> None:
    if not lay.dirs or not lay.dirs[0][0]:
        return
    off = lay.offset(lay.dirs[0][0])
    if off < 0 or off + 40 > len(data):
        return
    n_names, _, names_rva = struct.unpack_from("<III", data, off + 24)[0], None, struct.unpack_from("<I", data, off + 32)[0]
    base = lay.offset(names_rva)
    n = min(n_names, limits.MAX_EXPORTS)
    if base < 0 or n <= 0:
        return
    n = min(n, (len(data) - base) // 4)
    ptrs = struct.unpack_from(f"<{n}I", data, base) if n > 0 else ()
    for p in ptrs:
        s = _cstr(data, lay.offset(p))
        if s is not None:
            out.exports.append(s.decode("latin-1"))


def _imphash(out: PENames) -> str:
    from pefile import ordlookup

    parts = []
    for lib, fn in getattr(out, "_order", []):
        low = lib.lower()
        stem, _, ext = low.rpartition(".")
        name = stem if stem and ext in ("ocx", "sys", "dll") else low
        if isinstance(fn, int):
            f = ordlookup.ordLookup(low.encode("latin-1"), fn, make_name=True)
            fn = f.decode() if isinstance(f, bytes) else f
        parts.append(f"{name}.{str(fn).lower()}")
    return hashlib.md5(",".join(parts).encode("latin-1", "replace")).hexdigest()
