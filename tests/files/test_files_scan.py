"""`threatml scan` on a folder of built files: static verdicts, YARA offsets, hash lists, archive members."""

import json
import zipfile

from typer.testing import CliRunner

from conftest import INJECTION, PLAIN, build_pe
from threatml.cli import app
from threatml.detectors.files import detectors
from threatml.detectors.registry import ScanOptions
from threatml.files.hashing import file_hashes
from threatml.pipeline.scan import Scanner

runner = CliRunner()


def make_folder(tmp_path):
    d = tmp_path / "samples"
    (d / "sub").mkdir(parents=True)
    (d / "inject.exe").write_bytes(build_pe(INJECTION))
    (d / "plain.exe").write_bytes(build_pe(PLAIN, checksum=1234))
    (d / "listed.dll").write_bytes(build_pe(PLAIN, dll=True, checksum=99))
    with zipfile.ZipFile(d / "sub" / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("tools/inj2.exe", build_pe(INJECTION, timestamp=1))
    (d / "sub" / "empty.exe").write_bytes(b"")
    (d / "sub" / "truncated.exe").write_bytes(build_pe(INJECTION)[:300])
    return d


def test_scan_folder_end_to_end(tmp_path):
    d = make_folder(tmp_path)
    feed = tmp_path / "hashes.txt"
    listed = file_hashes((d / "listed.dll").read_bytes())["md5"]
    feed.write_text(f"# test list\n{listed};Test family dropper\n")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yar").write_text('rule Plain_MessageBox { strings: $m = "MessageBoxA" condition: $m and filename == "plain.exe" }')
    (rules / "broken.yar").write_text("rule nope { condition: }")
    out = tmp_path / "f.jsonl"
    res = runner.invoke(app, ["scan", str(d), "--no-store", "--no-report", "--yara", str(rules), "--intel", str(feed),
                              "--out", str(out)], catch_exceptions=False, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    findings = [json.loads(x)["threatml"] | {"threat": json.loads(x).get("threat", {})} for x in out.read_text().splitlines()]
    static = {f["related"]["file.path"][0].replace(f"{d}/", ""): f for f in findings if f["detector"]["name"] == "files.static"}
    assert {"inject.exe", "plain.exe", "listed.dll", "sub/bundle.zip!tools/inj2.exe"} <= set(static), set(static)
    assert "sub/bundle.zip" not in static  # the archive itself: nothing flagged it
    inj = static["inject.exe"]
    assert inj["entity_type"] == "file" and inj["entity"] == file_hashes((d / "inject.exe").read_bytes())["sha256"]
    assert "ThreatML_Process_Injection_Imports" in inj["attributes"]["yara.rules"] and "T1055.002" in inj["threat"]["technique"]["subtechnique"]["id"]
    assert inj["related"]["file.md5"] and inj["related"]["file.pe.imphash"]
    assert any("scores" in e for e in inj["explanation"])
    plain = static["plain.exe"]
    assert any("Plain_MessageBox" in e and "offset" in e for e in plain["explanation"])
    assert static["listed.dll"]["attributes"]["verdict"] == "malicious"
    assert any("Test family dropper" in e for e in static["listed.dll"]["explanation"])
    assert "broken.yar" in res.output or "does not compile" in res.output
    assert "empty.exe" in res.output  # reported as unreadable, not a traceback


def test_detector_on_bad_inputs_never_raises(tmp_path):
    d = make_folder(tmp_path)
    result = Scanner(detectors(ScanOptions())).scan([d])
    errs = dict(result.report.errors)
    assert errs[str(d / "sub" / "empty.exe")] == "empty file"
    assert result.kinds["file"] == 6  # 3 files, the zip, its member, the truncated one
    trunc = [f for f in result.findings if f.related["file.path"][0].endswith("truncated.exe")]
    assert all("Parsing notes" in " ".join(f.explanation) for f in trunc)


def test_unopenable_file_is_reported_by_name(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "ok.exe").write_bytes(build_pe(PLAIN))
    (d / "gone.exe").symlink_to(tmp_path / "deleted-target.exe")  # listed by the walk, cannot be opened
    result = Scanner(detectors(ScanOptions())).scan([d])
    errs = dict(result.report.errors)
    assert "cannot open" in errs[str(d / "gone.exe")] or "No such file" in errs[str(d / "gone.exe")]
    assert result.kinds["file"] == 1
