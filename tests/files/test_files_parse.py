"""PE header fields, rich raw features and sniffing on PE files built in the test, whole and broken."""

import math
import struct

import numpy as np
import pefile
import pytest

from conftest import INJECTION, build_pe
from threatml.files.analyze import analyze_bytes, elf_facts
from threatml.files.pe_header import HEADER_FIELDS, read_header
from threatml.files.rich_raw import rich_raw
from threatml.files.rich_vector import COLUMNS, vectorize
from threatml.files.sniff import file_type
from threatml.readers.files import FileReader


def test_header_fields_match_pefile():
    data = build_pe(INJECTION, timestamp=1262304000)
    h, why = read_header(data)
    pe = pefile.PE(data=data, fast_load=True)
    assert why is None
    for name in ("e_lfanew", "e_cblp", "e_sp"):
        assert h[name] == getattr(pe.DOS_HEADER, name)
    for name in ("Machine", "NumberOfSections", "TimeDateStamp", "SizeOfOptionalHeader", "Characteristics"):
        assert h[name] == getattr(pe.FILE_HEADER, name)
    for name in ("AddressOfEntryPoint", "ImageBase", "SizeOfImage", "DllCharacteristics", "BaseOfData",
                 "SizeOfStackReserve", "NumberOfRvaAndSizes", "Subsystem", "CheckSum"):
        assert h[name] == getattr(pe.OPTIONAL_HEADER, name), name
    assert h["CreationYear"] == 2010.0


@pytest.mark.parametrize("cut,reason", [(0, "shorter than"), (40, "no PE signature"), (0x80 + 10, "COFF"),
                                        (0x80 + 24 + 50, "optional header")])
def test_truncated_headers_give_nan_and_a_reason(cut, reason):
    data = build_pe()[:cut]
    h, why = read_header(data)
    assert reason in why
    assert math.isnan(h["SizeOfImage"])
    row = analyze_bytes(data, "cut.exe")  # never raises, whatever the cut
    assert row["file.size"] == cut


def test_every_prefix_of_a_pe_parses_without_error():
    data = build_pe(INJECTION, overlay=b"X" * 100)
    for cut in range(0, len(data), 37):
        row = analyze_bytes(data[:cut], "p.exe")
        assert row["file.hash.sha256"]


def test_section_table_outside_the_file_and_huge_counts():
    data = bytearray(build_pe())
    # NumberOfSections = 0xFFFF and section raw pointers far beyond the end
    struct.pack_into("<H", data, 0x80 + 6, 0xFFFF)
    sec = 0x80 + 24 + 0xE0
    struct.pack_into("<I", data, sec + 20, 0x7FFFFFF0)
    raw, notes = rich_raw(bytes(data))
    assert raw["general"]["size"] == len(data)
    assert len(raw["section"]["sections"]) <= 96
    # e_lfanew beyond the end of the file: sniffed as MZ-only, analysed without a crash
    bad = bytearray(build_pe())
    struct.pack_into("<I", bad, 0x3C, 0x0FFFFFFF)
    assert file_type(bytes(bad)) == "pe"  # cannot be checked inside the head: benefit of the doubt
    row = analyze_bytes(bytes(bad), "far.exe")
    assert "no PE signature" in row["file.notes"] or row["file.notes"]


def test_rich_raw_imports_sections_and_imphash():
    data = build_pe(INJECTION, overlay=b"MZ" + bytes(2000), section_names=("UPX0", "UPX1"))
    raw, notes = rich_raw(data)
    assert raw["imports"]["kernel32.dll"][:2] == ["OpenProcess", "VirtualAllocEx"]
    assert raw["threatml"]["imphash"] == pefile.PE(data=data).get_imphash()
    assert raw["threatml"]["packer_sections"] == ["UPX"]
    assert raw["threatml"]["overlay_size"] == 2002
    assert raw["strings"]["MZ"] >= 2
    X = vectorize([raw, rich_raw(b"\x7fELF" + bytes(100))[0]])
    assert X.shape == (2, len(COLUMNS)) and np.isfinite(X.loc[0, "threatml.overlay_ratio"])
    assert X.loc[0, "threatml.wx_sections"] == 0


def test_writable_executable_section_counted():
    raw, _ = rich_raw(build_pe(text_flags=0xE0000020))
    assert raw["threatml"]["wx_sections"] == 1 and raw["threatml"]["entry_writable"] == 1


def test_sniff_takes_executables_and_archives_only(tmp_path):
    assert FileReader.sniff(build_pe(), tmp_path / "x")
    assert FileReader.sniff(b"\x7fELF\x02\x01\x01" + bytes(60), tmp_path / "x")
    assert FileReader.sniff(b"PK\x03\x04" + bytes(30), tmp_path / "x")
    pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for other in (pcap, b"From: a@b.c\nSubject: hi\n\nbody", b"Jan  1 00:00:00 host sshd[1]: x\n", b"MZ is a word\n",
                  b"%PDF-1.7\n"):
        assert not FileReader.sniff(other, tmp_path / "x"), other[:10]


def test_elf_facts():
    head = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHIQ", 2, 62, 1, 0x401000) + bytes(20) + struct.pack("<HHHHHH", 64, 56, 1, 64, 7, 6)
    f = elf_facts(head)
    assert f["elf.class"] == "64" and f["elf.machine"] == 62 and f["elf.entry"] == 0x401000 and f["elf.sections"] == 7


def test_header_fields_list_is_stable():
    assert "CreationYear" in HEADER_FIELDS and "e_res" not in HEADER_FIELDS and len(HEADER_FIELDS) == len(set(HEADER_FIELDS))


def test_struct_import_walker_matches_pefile():
    from threatml.files.pe_imports import pe_names

    data = build_pe({"kernel32.dll": ["LoadLibraryA", "GetProcAddress"], "ADVAPI32.dll": ["RegOpenKeyExA"]})
    names = pe_names(data)
    pe = pefile.PE(data=data)
    assert names.imphash == pe.get_imphash()
    assert names.imports == {"kernel32.dll": ["LoadLibraryA", "GetProcAddress"], "ADVAPI32.dll": ["RegOpenKeyExA"]}
    # a descriptor table that runs off the end: a note, what was read is kept
    cut = pe_names(data[:0x400 + 30])
    assert cut.notes and cut.imphash == ""


def test_dos_and_ne_executables_are_files_not_pe():
    ne = b"MZ" + bytes(58) + struct.pack("<I", 0x80) + bytes(0x40) + b"NE" + bytes(100)
    assert file_type(ne) == "dos"
    row = analyze_bytes(ne, "old.exe")
    assert row["file.type"] == "dos" and row["file.rich"] is None and row["pe.e_lfanew"] == 0x80


def test_randomly_corrupted_pe_files_never_raise():
    import random

    rng = random.Random(7)
    seed = build_pe(INJECTION, overlay=b"x" * 300)
    for _ in range(200):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(0, 1024)] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        row = analyze_bytes(bytes(data), "f.exe")
        raw, _ = rich_raw(bytes(data))
        assert len(vectorize([raw])) == 1 and row["file.hash.md5"]
