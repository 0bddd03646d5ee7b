"""FileReader: plain files, nested zips, bomb-like and oversized members, capped reads, bad files."""

import io
import os
import zipfile

import pytest

from conftest import INJECTION, build_pe
from threatml.errors import InputError, ReadReport
from threatml.files import limits
from threatml.files.hashing import file_hashes
from threatml.readers.files import FileReader


def rows(path, report=None):
    report = report if report is not None else ReadReport()
    frames = [b.frame for b in FileReader().read(path, report)]
    out = []
    for f in frames:
        out += f.to_dict("records")
    return out, report


def test_pe_file_event(tmp_path):
    data = build_pe(INJECTION)
    p = tmp_path / "a.exe"
    p.write_bytes(data)
    (r,), rep = rows(p)
    assert r["file.type"] == "pe" and r["event.id"] == str(p)
    assert r["file.hash.sha256"] == file_hashes(data)["sha256"] and r["file.size"] == len(data)
    assert len(r["file.pe.imphash"]) == 32 and r["pe.Machine"] == 0x14C
    assert r["file.rich"] is None  # computed only when a rich model is there to use it


def test_nested_zip_members_are_events(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("deep/c.exe", build_pe(INJECTION))
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("b.zip", inner.getvalue())
        z.writestr("readme.txt", "hello")
        z.writestr("empty/", "")
    got, rep = rows(p)
    paths = [r["file.path"] for r in got]
    assert paths == [str(p), f"{p}!b.zip", f"{p}!b.zip!deep/c.exe", f"{p}!readme.txt"]
    exe = got[2]
    assert exe["file.type"] == "pe" and exe["event.dataset"] == "file.archive"
    assert exe["file.hash.sha256"] == file_hashes(build_pe(INJECTION))["sha256"]


def test_zip_bomb_like_member_is_skipped_not_expanded(tmp_path):
    p = tmp_path / "bomb.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("zeros.bin", bytes(8 * 1024 * 1024))  # ~1000:1
        z.writestr("ok.exe", build_pe())
    got, rep = rows(p)
    assert [r["file.path"].rsplit("!", 1)[-1] for r in got[1:]] == ["ok.exe"]
    reasons = [r for (_, r) in rep.skipped]
    assert any("zip bomb" in r for r in reasons), reasons


def test_archive_depth_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARCHIVE_DEPTH", 1)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("c.exe", build_pe())
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("b.zip", inner.getvalue())
    got, rep = rows(p)
    assert [r["file.path"] for r in got] == [str(p), f"{p}!b.zip"]
    assert any("deeper than 1" in r for (_, r) in rep.skipped)


def test_corrupt_zip_reported(tmp_path):
    p = tmp_path / "bad.zip"
    p.write_bytes(b"PK\x03\x04" + os.urandom(200))
    got, rep = rows(p)
    assert len(got) == 1 and got[0]["file.type"] == "zip"
    assert any("archive not opened" in r for (_, r) in rep.skipped)


def test_large_file_read_with_a_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ANALYSIS_BYTES", 4096)
    data = build_pe(overlay=os.urandom(50_000))
    p = tmp_path / "big.exe"
    p.write_bytes(data)
    (r,), rep = rows(p)
    assert r["file.size"] == len(data) and len(r["file.content"]) == 4096
    assert r["file.hash.sha256"] == file_hashes(data)["sha256"]  # hashed whole
    assert any("only the first" in reason for (_, reason) in rep.notes)
    monkeypatch.setattr(limits, "MAX_HASH_BYTES", 10_000)
    (r,), rep = rows(p)
    assert r["file.hash.sha256"] == "" and any("not hashed" in reason for (_, reason) in rep.notes)


def test_sparse_multi_gb_file_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ANALYSIS_BYTES", 1 << 20)  # the full 64 MB cap is timed in bench_files.py
    p = tmp_path / "huge.exe"
    with open(p, "wb") as fh:
        fh.write(build_pe())
        fh.truncate(3 * 1024**3)  # sparse: 3 GB on paper, nothing on disk
    (r,), rep = rows(p)
    assert r["file.size"] == 3 * 1024**3 and r["file.hash.sha256"] == ""
    assert len(r["file.content"]) == limits.MAX_ANALYSIS_BYTES


def test_empty_and_unreadable_files(tmp_path):
    p = tmp_path / "empty.exe"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        rows(p)
    q = tmp_path / "locked.exe"
    q.write_bytes(build_pe())
    q.chmod(0)
    try:
        if os.access(q, os.R_OK):
            pytest.skip("running as a user who can read mode-000 files (root)")
        with pytest.raises(InputError, match="cannot open"):
            rows(q)
    finally:
        q.chmod(0o600)


def test_archive_larger_than_the_analysed_prefix_is_opened_from_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ANALYSIS_BYTES", 4096)
    p = tmp_path / "big.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
        z.writestr("noise.bin", os.urandom(20_000))
        z.writestr("late.exe", build_pe(INJECTION))
    got, rep = rows(p)
    assert [r["file.path"].rsplit("!", 1)[-1] for r in got[1:]] == ["noise.bin", "late.exe"]
    assert got[2]["file.type"] == "pe"


def test_gzip_stream_hashing_is_bounded(tmp_path, monkeypatch):
    import gzip

    monkeypatch.setattr(limits, "MAX_ANALYSIS_BYTES", 4096)
    monkeypatch.setattr(limits, "MAX_HASH_BYTES", 1 << 20)
    p = tmp_path / "packed.exe.gz"
    with gzip.open(p, "wb") as fh:  # 8 MB of PE + zeros in a ~10 KB file
        fh.write(build_pe())
        fh.write(bytes(8 << 20))
    (r,), rep = rows(p)
    assert r["file.type"] == "pe" and r["file.hash.sha256"] == ""
    assert any("not hashed" in reason for (_, reason) in rep.notes)
