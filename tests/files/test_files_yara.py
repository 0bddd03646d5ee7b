"""YARA loading (compile per file, skip and report the bad ones, externals) and matching."""

import pytest

from conftest import INJECTION, PLAIN, build_pe
from threatml.errors import InputError, ReadReport
from threatml.files.yara_rules import DEFAULT_RULES, RuleSet, rule_files


def test_bad_rule_files_are_reported_and_skipped(tmp_path):
    (tmp_path / "good.yar").write_text('rule good_one { strings: $a = "needle" condition: $a }')
    (tmp_path / "syntax.yar").write_text("rule broken { condition: and }")
    (tmp_path / "module.yar").write_text('import "nosuchmodule"\nrule m { condition: true }')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dup.yara").write_text('rule good_one { condition: filename == "x.exe" }')  # same name, own namespace
    (tmp_path / "notes.txt").write_text("not a rule")
    report = ReadReport()
    rs = RuleSet.load([tmp_path], report)
    assert rs.summary.files == 4 and rs.summary.compiled == 2 and rs.summary.skipped == 2 and rs.summary.rules == 2
    skipped = {p.rsplit("/", 1)[-1]: r for (p, r) in report.skipped}
    assert set(skipped) == {"syntax.yar", "module.yar"}
    assert all("YARA rule" in r for r in skipped.values())
    hits = rs.scan(b"..needle..", "/tmp/dir/x.exe")
    assert sorted((h.namespace, h.rule) for h in hits) == [("dup", "good_one"), ("good", "good_one")]
    needle = next(h for h in hits if h.namespace == "good")
    assert needle.strings == [("$a", 2, "needle")]


def test_externals_are_set_per_file():
    rs = RuleSet.from_sources({"x": 'rule ext { condition: extension == "dll" and filename == "evil.dll" '
                                     'and filepath contains "sys" and filetype == "PE" }'})
    assert [h.rule for h in rs.scan(b"data", "/c/sys/evil.dll", filetype="pe")] == ["ext"]
    assert rs.scan(b"data", "/c/sys/evil.exe", filetype="pe") == []
    # archive members: the externals describe the member, not the archive
    assert [h.rule for h in rs.scan(b"data", "/x/a.zip!sys/evil.dll", filetype="pe")] == ["ext"]


def test_missing_rule_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such YARA"):
        rule_files([tmp_path / "nope"])


def test_default_rules_compile_and_flag_injection_not_plain_programs():
    report = ReadReport()
    rs = RuleSet.load([DEFAULT_RULES], report)
    assert report.skipped_total() == 0 and rs.summary.rules >= 8
    assert [h.rule for h in rs.scan(build_pe(INJECTION), "a.exe")] == ["ThreatML_Process_Injection_Imports"]
    assert rs.scan(build_pe(PLAIN), "b.exe") == []
    upx = rs.scan(build_pe(PLAIN, section_names=("UPX0", "UPX1"), code=b"UPX!" + bytes(20)), "c.exe")
    assert "ThreatML_Packer_UPX" in [h.rule for h in upx]
    h = next(h for h in upx if h.rule == "ThreatML_Packer_UPX")
    assert h.meta["attack"] == "T1027.002" and any(ident == "$s0" for ident, _, _ in h.strings)


def test_embedded_pe_in_overlay_rule():
    rs = RuleSet.load([DEFAULT_RULES])
    dropper = build_pe(PLAIN, overlay=bytes(100) + build_pe(INJECTION))
    assert "ThreatML_Embedded_PE_In_Overlay" in [h.rule for h in rs.scan(dropper, "d.exe")]
    assert "ThreatML_Embedded_PE_In_Overlay" not in [h.rule for h in rs.scan(build_pe(PLAIN, overlay=b"MZ" + bytes(4000)), "e.exe")]
