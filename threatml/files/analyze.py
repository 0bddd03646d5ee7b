"""One file's bytes -> one ``file`` event row: type, hashes, header fields, rich raw features.

The row carries the schema's ``file.*`` fields plus:

* ``pe.<Field>`` - the PE header fields of :mod:`threatml.files.pe_header`
  (NaN for non-PE files or fields beyond the end of the file);
* ``file.rich`` - the EMBER-layout raw dict (:mod:`threatml.files.rich_raw`);
* ``file.content`` - the analysed bytes (at most ``MAX_ANALYSIS_BYTES``), so
  that YARA scans archive members that have no path on disk;
* ``file.notes`` - what could not be read, joined by ``"; "``;
* ``elf.*`` - a few ELF header facts for ELF files.

>>> row = analyze_bytes(b"MZ" + bytes(100), "x.exe")
>>> row["file.type"], row["file.hash.md5"][:8], row["pe.e_magic"]
('dos', '79823242', 23117.0)
"""

from __future__ import annotations

import struct

from threatml.files.hashing import file_hashes
from threatml.files.pe_header import HEADER_FIELDS, read_header
from threatml.files.pe_imports import pe_names
from threatml.files.rich_raw import rich_raw
from threatml.files.sniff import file_type

NAN = float("nan")


def elf_facts(data: bytes) -> dict[str, float | str]:
    """Class, endianness, type, machine, entry point and section count of an ELF header.

    >>> elf_facts(b"\\x7fELF\\x02\\x01" + bytes(58))["elf.class"]
    '64'
    """
    out: dict[str, float | str] = {"elf.class": "", "elf.type": NAN, "elf.machine": NAN, "elf.entry": NAN,
                                   "elf.sections": NAN}
    if len(data) < 20 or data[:4] != b"\x7fELF":
        return out
    cls = {1: "32", 2: "64"}.get(data[4], "")
    end = "<" if data[5] != 2 else ">"
    out["elf.class"] = cls
    try:
        out["elf.type"], out["elf.machine"] = (float(v) for v in struct.unpack_from(end + "HH", data, 16))
        if cls == "64":
            out["elf.entry"] = float(struct.unpack_from(end + "Q", data, 24)[0])
            out["elf.sections"] = float(struct.unpack_from(end + "H", data, 60)[0])
        elif cls == "32":
            out["elf.entry"] = float(struct.unpack_from(end + "I", data, 24)[0])
            out["elf.sections"] = float(struct.unpack_from(end + "H", data, 48)[0])
    except struct.error:
        pass  # a cut header keeps what it has
    return out


def analyze_bytes(data: bytes, path: str, hashes: dict[str, str] | None = None, size: float | None = None,
                  notes: list[str] | None = None, rich: bool = False) -> dict:
    """The event row for ``data`` (``hashes``/``size`` of the whole file when ``data`` is a capped prefix).

    ``rich`` adds the EMBER-layout raw dict (byte histograms, strings, sections,
    imports ...) - several times the cost of the rest, so scans compute it only
    when a rich model is there to use it (:func:`add_rich`).
    """
    notes = list(notes or [])
    ftype = file_type(data[:65536])
    hashes = hashes if hashes is not None else file_hashes(data)
    row: dict = {"event.id": path, "file.path": path, "file.size": float(len(data) if size is None else size),
                 "file.type": ftype, "file.hash.md5": hashes.get("md5", ""), "file.hash.sha1": hashes.get("sha1", ""),
                 "file.hash.sha256": hashes.get("sha256", ""), "file.pe.imphash": ""}
    header, why = read_header(data) if data[:2] in (b"MZ", b"ZM") else (dict.fromkeys(HEADER_FIELDS, NAN), None)
    row.update({f"pe.{k}": v for k, v in header.items()})
    row["file.rich"] = None
    if ftype == "pe":
        if why:
            notes.append(why)
        if rich:
            raw, more = rich_raw(data, is_pe=True)
            notes += more
            row["file.pe.imphash"] = raw.get("threatml", {}).get("imphash", "")
            row["file.rich"] = raw
        else:
            names = pe_names(data)
            notes += names.notes
            row["file.pe.imphash"] = names.imphash
    if ftype == "elf":
        row.update(elf_facts(data))
    row["file.content"] = data
    row["file.notes"] = "; ".join(notes)
    return row
