"""EMBER-style raw features of one file: a JSON-able dict in the layout of EMBER's jsonl.

The keys follow the EMBER 2018 raw-feature layout (``histogram``,
``byteentropy``, ``strings``, ``general``, ``header``, ``section``,
``imports``, ``exports``, ``datadirectories``) so that one vectoriser
(:mod:`threatml.files.rich_vector`) serves both files scanned here and
records from EMBER's published jsonl. What EMBER does not have goes under
``threatml``: writable-and-executable sections, overlay, Authenticode
presence, packer indications.

PE structure comes from pefile with ``fast_load`` (headers and sections) and
:mod:`threatml.files.pe_imports` (import and export names, imphash); no other
directory is parsed (resources, relocations and debug data are judged by
their directory entries, so resource loops cannot trap the parser); a time
limit and count caps bound the rest. Byte statistics use numpy on at
most :data:`~threatml.files.limits.MAX_FEATURE_BYTES` bytes.

>>> raw, notes = rich_raw(b"MZ" + b"http://x.example/a " * 10)
>>> raw["strings"]["urls"], len(raw["histogram"]), notes
(10, 256, ['not a PE file: no PE signature'])
"""

from __future__ import annotations


import struct

import numpy as np

from threatml.files import limits
from threatml.files.pe_imports import pe_names


MACHINES = {0x14C: "I386", 0x8664: "AMD64", 0x1C0: "ARM", 0xAA64: "ARM64", 0x200: "IA64", 0x1C4: "ARMNT", 0xEBC: "EBC"}
SUBSYSTEMS = {1: "NATIVE", 2: "WINDOWS_GUI", 3: "WINDOWS_CUI", 5: "OS2_CUI", 7: "POSIX_CUI", 9: "WINDOWS_CE_GUI",
              10: "EFI_APPLICATION", 11: "EFI_BOOT_SERVICE_DRIVER", 12: "EFI_RUNTIME_DRIVER", 13: "EFI_ROM",
              14: "XBOX", 16: "WINDOWS_BOOT_APPLICATION"}
COFF_CHARS = {0x1: "RELOCS_STRIPPED", 0x2: "EXECUTABLE_IMAGE", 0x4: "LINE_NUMS_STRIPPED", 0x8: "LOCAL_SYMS_STRIPPED",
              0x10: "AGGRESSIVE_WS_TRIM", 0x20: "LARGE_ADDRESS_AWARE", 0x80: "BYTES_REVERSED_LO",
              0x100: "CHARA_32BIT_MACHINE", 0x200: "DEBUG_STRIPPED", 0x400: "REMOVABLE_RUN_FROM_SWAP",
              0x800: "NET_RUN_FROM_SWAP", 0x1000: "SYSTEM", 0x2000: "DLL", 0x4000: "UP_SYSTEM_ONLY",
              0x8000: "BYTES_REVERSED_HI"}
DLL_CHARS = {0x20: "HIGH_ENTROPY_VA", 0x40: "DYNAMIC_BASE", 0x80: "FORCE_INTEGRITY", 0x100: "NX_COMPAT",
             0x200: "NO_ISOLATION", 0x400: "NO_SEH", 0x800: "NO_BIND", 0x1000: "APPCONTAINER", 0x2000: "WDM_DRIVER",
             0x4000: "GUARD_CF", 0x8000: "TERMINAL_SERVER_AWARE"}
SECTION_CHARS = {0x20: "CNT_CODE", 0x40: "CNT_INITIALIZED_DATA", 0x80: "CNT_UNINITIALIZED_DATA",
                 0x2000000: "MEM_DISCARDABLE", 0x4000000: "MEM_NOT_CACHED", 0x8000000: "MEM_NOT_PAGED",
                 0x10000000: "MEM_SHARED", 0x20000000: "MEM_EXECUTE", 0x40000000: "MEM_READ", 0x80000000: "MEM_WRITE"}
DATA_DIRECTORIES = ("EXPORT_TABLE", "IMPORT_TABLE", "RESOURCE_TABLE", "EXCEPTION_TABLE", "CERTIFICATE_TABLE",
                    "BASE_RELOCATION_TABLE", "DEBUG", "ARCHITECTURE", "GLOBAL_PTR", "TLS_TABLE", "LOAD_CONFIG_TABLE",
                    "BOUND_IMPORT", "IAT", "DELAY_IMPORT_DESCRIPTOR", "CLR_RUNTIME_HEADER")
#: section names left by common packers and protectors (lower case)
PACKER_SECTIONS = {"upx0": "UPX", "upx1": "UPX", "upx2": "UPX", ".aspack": "ASPack", ".adata": "ASPack",
                   ".petite": "Petite", ".nsp0": "NsPack", ".nsp1": "NsPack", ".mpress1": "MPRESS",
                   ".mpress2": "MPRESS", ".themida": "Themida", ".winlice": "WinLicense", ".vmp0": "VMProtect",
                   ".vmp1": "VMProtect", ".enigma1": "Enigma", ".enigma2": "Enigma", "pec1": "PECompact",
                   "pec2": "PECompact", ".pec": "PECompact", "fsg!": "FSG", ".packed": "generic", ".rlpack": "RLPack",
                   ".perplex": "Perplex", ".yp": "Y0da", "mew": "MEW", ".spack": "SimplePack", "kkrunchy": "kkrunchy"}


def _flag_names(value: int, table: dict[int, str]) -> list[str]:
    return [name for bit, name in table.items() if value & bit]


def entropy(data: bytes | np.ndarray) -> float:
    """Shannon entropy in bits per byte (0 for empty data).

    >>> entropy(b"aaaa"), round(entropy(bytes(range(256))), 3)
    (0.0, 8.0)
    """
    arr = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if arr.size == 0:
        return 0.0
    c = np.bincount(arr, minlength=256)
    p = c[c > 0] / arr.size
    return float(max(0.0, -(p * np.log2(p)).sum()))


def byte_entropy_histogram(arr: np.ndarray, window: int = 2048, step: int = 1024) -> np.ndarray:
    """EMBER's joint (entropy bin, high nibble) histogram over sliding windows, vectorised.

    Windows of ``window`` bytes every ``step`` bytes; each adds its nibble counts
    to the row of its nibble entropy (0-15).
    """
    out = np.zeros((16, 16), dtype=np.int64)
    if arr.size == 0:
        return out.ravel()
    if arr.size < window:
        counts = np.bincount(arr >> 4, minlength=16)[None, :]
    else:
        nblocks = arr.size // step
        nib = (arr[: nblocks * step] >> 4).astype(np.int64)
        # one bincount over (block, nibble) pairs instead of a pass per nibble value
        per_block = np.bincount(np.repeat(np.arange(nblocks) * 16, step) + nib, minlength=nblocks * 16).reshape(nblocks, 16)
        counts = per_block[:-1] + per_block[1:] if nblocks > 1 else per_block
    p = counts / counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1) * 2
    bins = np.minimum(15, (h * 2).astype(int))
    np.add.at(out, bins, counts)
    return out.ravel()


def _printable_runs(arr: np.ndarray, min_len: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and lengths of runs of printable ASCII of at least ``min_len`` bytes."""
    mask = (arr >= 0x20) & (arr <= 0x7E)
    if not mask.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = (ends - starts) >= min_len
    return starts[keep], (ends - starts)[keep]


def byte_features(data: bytes) -> dict:
    """histogram, byteentropy and strings sections of the raw dict."""
    view = data[: limits.MAX_FEATURE_BYTES]
    arr = np.frombuffer(view, dtype=np.uint8)
    starts, lengths = _printable_runs(arr)
    if len(starts) > limits.MAX_STRINGS:
        starts, lengths = starts[: limits.MAX_STRINGS], lengths[: limits.MAX_STRINGS]
    if len(starts):
        # every byte inside a kept run, found by marking run starts/ends and a running sum
        marks = np.zeros(arr.size + 1, dtype=np.int64)
        np.add.at(marks, starts, 1)
        np.add.at(marks, starts + lengths, -1)
        inside = np.cumsum(marks[:-1]) > 0
        dist = np.bincount(arr[inside] - 0x20, minlength=96)[:96]
    else:
        dist = np.zeros(96, dtype=np.int64)
    total = int(dist.sum())
    p = dist[dist > 0] / total if total else np.zeros(0)
    low = view.lower()  # bytes.count on a lowered copy: case-insensitive regexes cost 20x more
    return {
        "histogram": np.bincount(arr, minlength=256).tolist(),
        "byteentropy": byte_entropy_histogram(arr).tolist(),
        "strings": {
            "numstrings": int(len(starts)),
            "avlength": float(lengths.mean()) if len(starts) else 0.0,
            "printabledist": dist.tolist(),
            "printables": total,
            "entropy": float(max(0.0, -(p * np.log2(p)).sum())) if total else 0.0,
            "paths": low.count(b"c:\\"),
            "urls": low.count(b"http://") + low.count(b"https://"),
            "registry": view.count(b"HKEY_"),
            "MZ": view.count(b"MZ"),
        },
    }


def _empty_pe_parts(size: int) -> dict:
    return {
        "general": {"size": size, "vsize": 0, "has_debug": 0, "exports": 0, "imports": 0, "has_relocations": 0,
                    "has_resources": 0, "has_signature": 0, "has_tls": 0, "symbols": 0},
        "header": {"coff": {"timestamp": 0, "machine": "", "characteristics": []},
                   "optional": {"subsystem": "", "dll_characteristics": [], "magic": "", "major_image_version": 0,
                                "minor_image_version": 0, "major_linker_version": 0, "minor_linker_version": 0,
                                "major_operating_system_version": 0, "minor_operating_system_version": 0,
                                "major_subsystem_version": 0, "minor_subsystem_version": 0, "sizeof_code": 0,
                                "sizeof_headers": 0, "sizeof_heap_commit": 0}},
        "section": {"entry": "", "sections": []},
        "imports": {},
        "exports": [],
        "datadirectories": [],
        "threatml": {"is_pe": 0},
    }


def _pe_parts(data: bytes, notes: list[str]) -> tuple[dict, str]:
    """The PE-structure sections of the raw dict and the import hash ('' when none)."""
    import pefile

    out = _empty_pe_parts(len(data))
    saved = pefile.MAX_SECTIONS
    # pefile's own section cap (2048) costs seconds on hand-made files claiming 65535 sections
    pefile.MAX_SECTIONS = min(saved, limits.MAX_SECTIONS)
    try:
        with limits.time_limit(limits.PARSE_SECONDS):
            pe = pefile.PE(data=data, fast_load=True)
            names = pe_names(data)  # imports/exports by hand: pefile's objects cost ~100 ms on system DLLs
            notes += names.notes
    except limits.ParseTimeout as exc:
        notes.append(f"PE parsing abandoned: {exc}")
        return out, ""
    except (pefile.PEFormatError, ValueError, IndexError, KeyError, AttributeError, OverflowError, MemoryError,
            struct.error) as exc:
        notes.append(f"not parsed as PE: {exc}")
        return out, ""
    finally:
        pefile.MAX_SECTIONS = saved
    fh, oh = pe.FILE_HEADER, getattr(pe, "OPTIONAL_HEADER", None)
    out["threatml"]["is_pe"] = 1
    dd = list(getattr(oh, "DATA_DIRECTORY", []) or [])[:16] if oh is not None else []

    def dd_size(i: int) -> int:
        return int(dd[i].Size) if i < len(dd) else 0

    imports, exports, imphash = names.imports, names.exports, names.imphash
    n_funcs = names.n_imports

    ep = int(getattr(oh, "AddressOfEntryPoint", 0) or 0)
    sections, entry_name, entry_props, wx, packers, entry_entropy = [], "", [], 0, set(), 0.0
    raw_sections = pe.sections[: limits.MAX_SECTIONS]
    if int(fh.NumberOfSections) > limits.MAX_SECTIONS:
        notes.append(f"{int(fh.NumberOfSections)} sections declared: only the first {limits.MAX_SECTIONS} looked at")
    for s in raw_sections:
        name = s.Name.rstrip(b"\0").decode("latin-1", "replace")
        start, size = int(s.PointerToRawData), int(s.SizeOfRawData)
        body = data[start:start + size] if 0 <= start < len(data) else b""
        props = _flag_names(int(s.Characteristics), SECTION_CHARS)
        ent = entropy(body[: limits.MAX_FEATURE_BYTES])
        sections.append({"name": name, "size": size, "entropy": ent, "vsize": int(s.Misc_VirtualSize), "props": props})
        if "MEM_WRITE" in props and "MEM_EXECUTE" in props:
            wx += 1
        if name.lower() in PACKER_SECTIONS:
            packers.add(PACKER_SECTIONS[name.lower()])
        va, vs = int(s.VirtualAddress), max(int(s.Misc_VirtualSize), size)
        if not entry_name and va <= ep < va + vs:
            entry_name, entry_props, entry_entropy = name, props, ent
    try:
        overlay_start = pe.get_overlay_data_start_offset()
    except Exception:  # pefile walks every section table entry; a broken one must not stop the rest
        overlay_start = None
    overlay = len(data) - overlay_start if overlay_start else 0
    out["general"] = {
        "size": len(data), "vsize": int(getattr(oh, "SizeOfImage", 0) or 0), "has_debug": int(dd_size(6) > 0),
        "exports": len(exports), "imports": n_funcs, "has_relocations": int(dd_size(5) > 0),
        "has_resources": int(dd_size(2) > 0), "has_signature": int(dd_size(4) > 0), "has_tls": int(dd_size(9) > 0),
        "symbols": int(fh.NumberOfSymbols),
    }
    magic = int(getattr(oh, "Magic", 0) or 0)
    out["header"] = {
        "coff": {"timestamp": int(fh.TimeDateStamp), "machine": MACHINES.get(int(fh.Machine), str(int(fh.Machine))),
                 "characteristics": _flag_names(int(fh.Characteristics), COFF_CHARS)},
        "optional": {
            "subsystem": SUBSYSTEMS.get(int(getattr(oh, "Subsystem", 0) or 0), "UNKNOWN"),
            "dll_characteristics": _flag_names(int(getattr(oh, "DllCharacteristics", 0) or 0), DLL_CHARS),
            "magic": {0x10B: "PE32", 0x20B: "PE32_PLUS"}.get(magic, str(magic)),
            **{k: int(getattr(oh, a, 0) or 0) for k, a in (
                ("major_image_version", "MajorImageVersion"), ("minor_image_version", "MinorImageVersion"),
                ("major_linker_version", "MajorLinkerVersion"), ("minor_linker_version", "MinorLinkerVersion"),
                ("major_operating_system_version", "MajorOperatingSystemVersion"),
                ("minor_operating_system_version", "MinorOperatingSystemVersion"),
                ("major_subsystem_version", "MajorSubsystemVersion"), ("minor_subsystem_version", "MinorSubsystemVersion"),
                ("sizeof_code", "SizeOfCode"), ("sizeof_headers", "SizeOfHeaders"), ("sizeof_heap_commit", "SizeOfHeapCommit"))},
        },
    }
    out["section"] = {"entry": entry_name, "sections": sections}
    out["imports"] = imports
    out["exports"] = exports
    out["datadirectories"] = [{"name": DATA_DIRECTORIES[i], "size": int(d.Size), "virtual_address": int(d.VirtualAddress)}
                              for i, d in enumerate(dd[:15])]
    first_exec = next((s["name"] for s in sections if "MEM_EXECUTE" in s["props"]), "")
    funcs = {f.lower() for fs in imports.values() for f in fs}
    out["threatml"] = {
        "is_pe": 1,
        "wx_sections": wx,
        "overlay_size": overlay,
        "overlay_ratio": overlay / len(data) if data else 0.0,
        "overlay_entropy": entropy(data[overlay_start:overlay_start + limits.MAX_FEATURE_BYTES]) if overlay else 0.0,
        "has_signature": int(dd_size(4) > 0),
        "signature_in_file": int(dd_size(4) > 0 and 0 < int(dd[4].VirtualAddress) < len(data)),
        "packer_sections": sorted(packers),
        "entry_entropy": entry_entropy,
        "entry_writable": int("MEM_WRITE" in entry_props),
        "entry_not_first_exec": int(bool(entry_name) and entry_name != first_exec),
        "entry_outside_sections": int(not entry_name and ep != 0),
        "few_imports_with_loader": int(0 < n_funcs <= 10 and {"loadlibrarya", "getprocaddress"} <= funcs),
        "high_entropy_sections": sum(1 for s in sections if s["entropy"] > 7.2),
        "imphash": imphash,
    }
    return out, imphash


def rich_raw(data: bytes, is_pe: bool | None = None) -> tuple[dict, list[str]]:
    """The raw dict of ``data`` and notes on what could not be read (never raises)."""
    from threatml.files.sniff import pe_offset

    notes: list[str] = []
    raw = byte_features(data)
    if is_pe is None:
        is_pe = pe_offset(data[:4096]) is not None
    if is_pe:
        parts, _ = _pe_parts(data, notes)
    else:
        parts = _empty_pe_parts(len(data))
        notes.append("not a PE file: no PE signature")
    raw.update(parts)
    return raw, notes
