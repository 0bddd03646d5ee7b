"""Sigma: loading with per-rule reporting, compiling to DuckDB SQL, field mapping, evaluation, the detector."""

import json
from pathlib import Path

import pandas as pd
import pytest
from shared_data import DATASETS
from typer.testing import CliRunner

from threatml.cli import app
from threatml.detectors.registry import ScanOptions
from threatml.detectors.sigma import detectors as sigma_detectors
from threatml.detectors.sigma.rules import SigmaDetector
from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.sigma import load_ruleset
from threatml.sigma.engine import RuleEngine
from threatml.sigma.loader import load_rules

SIGMA = DATASETS.parent / "rules" / "sigma"

PROC_RULE = """
title: Encoded PowerShell
id: 11111111-1111-4111-8111-111111111111
status: test
level: high
logsource: {category: process_creation, product: windows}
detection:
  selection_img:
    - Image|endswith: '\\\\powershell.exe'
    - OriginalFileName: 'PowerShell.EXE'
  selection_cli:
    CommandLine|contains|windash: ' -enc '
  filter:
    ParentImage|endswith: '\\\\ccmexec.exe'
  condition: all of selection_* and not filter
tags: [attack.execution, attack.t1059.001]
"""
LOGON_RULE = """
title: RC4 Kerberos service ticket
id: 22222222-2222-4222-8222-222222222222
level: medium
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4769, TicketEncryptionType: '0x17'}
  filter: {ServiceName|endswith: '$'}
  condition: selection and not filter
tags: [attack.credential-access, attack.t1558.003]
"""
RAW_RULE = """
title: LSASS access with suspicious mask
id: 33333333-3333-4333-8333-333333333333
level: critical
logsource: {category: process_access, product: windows}
detection:
  selection:
    TargetImage|endswith: '\\\\lsass.exe'
    GrantedAccess: ['0x1010', '0x1410']
    CallTrace|contains: 'dbgcore.dll'
  condition: selection
"""
RAW_FIELD_RULE = """
title: System integrity cmd
level: medium
logsource: {category: process_creation, product: windows}
detection:
  selection: {IntegrityLevel: System, Image|endswith: '\\\\cmd.exe'}
  condition: selection
"""
LINUX_RULE = """
title: SSH login as root
level: low
logsource: {product: linux, service: sshd}
detection:
  keywords: ['Accepted password for root', 'Accepted publickey for root']
  condition: keywords
"""
OTHER_SOURCE = """
title: AWS thing
logsource: {product: aws, service: cloudtrail}
detection: {sel: {eventName: DeleteTrail}, condition: sel}
"""
REGEX_RULE = """
title: Lookahead regex
logsource: {category: process_creation, product: windows}
detection: {sel: {CommandLine|re: '(?=foo)bar'}, condition: sel}
"""
PLACEHOLDER_RULE = """
title: Unresolved placeholder
logsource: {category: process_creation, product: windows}
detection: {sel: {User|expand: '%admins%'}, condition: sel}
"""


def _rules(tmp_path: Path, **files: str) -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / f"{name}.yml").write_text(text)
    return d


def test_bad_rules_are_reported_and_the_rest_loads(tmp_path):
    d = _rules(tmp_path, proc=PROC_RULE, broken="title: x\ndetection: [\n  unclosed",
               modifier=PROC_RULE.replace("|endswith", "|endswithh"), other=OTHER_SOURCE, regex=REGEX_RULE,
               scalar="just a string\n", logon=LOGON_RULE, placeholder=PLACEHOLDER_RULE)
    rs = load_ruleset([d])
    by_file = {Path(i.file).stem: i for i in rs.issues}
    assert by_file["broken"].status == "broken-yaml"
    assert by_file["scalar"].status == "broken-yaml"
    assert by_file["modifier"].status == "invalid-rule" and "endswithh" in by_file["modifier"].reason
    assert by_file["other"].status == "no-event-source"
    assert by_file["regex"].status == "invalid-rule" and "(?=" in by_file["regex"].reason  # RE2 has no look-arounds
    assert by_file["placeholder"].status == "compile-error" and "placeholder" in by_file["placeholder"].reason
    assert {r.title for r in rs.compiled.rules} == {"Encoded PowerShell", "RC4 Kerberos service ticket"}
    counts = rs.counts()
    assert counts["loaded"] == 4 and counts["compiled"] == 2 and counts["broken-yaml"] == 2
    rep = ReadReport()
    rs.report_into(rep)
    assert rep.skipped_total() == 5 and sum(rep.notes.values()) == 1  # no event source is a note, not an error


def test_field_mapping_and_sql(tmp_path):
    rs = load_ruleset([_rules(tmp_path, proc=PROC_RULE, logon=LOGON_RULE, raw=RAW_RULE)])
    by = {r.title: r for r in rs.compiled.rules}
    proc = by["Encoded PowerShell"]
    assert proc.kind == "process" and proc.techniques == ["T1059.001"] and proc.level == "high"
    assert "lower:process.executable" in proc.columns and "lower:process.command_line" in proc.columns
    assert "lower:OriginalFileName" in proc.columns  # unmapped: looked up raw
    logon = by["RC4 Kerberos service ticket"]
    assert logon.kind == "auth" and {"event.code", "lower:tls.cipher", "lower:service.name"} <= set(logon.columns)
    assert "lower:process.target.executable" in by["LSASS access with suspicious mask"].columns


def _proc_frame():
    return pd.DataFrame({
        "event.id": ["p1", "p2", "p3", "p4"], "event.dataset": "windows.sysmon", "@timestamp": [1e9, 1e9 + 1, 1e9 + 2, 1e9 + 3],
        "event.action": ["process-created"] * 3 + ["network-connection"],
        "host.name": ["WS1", "WS1", "WS2", "WS1"], "user.name": ["bob"] * 4,
        "process.executable": [r"C:\Windows\System32\WindowsPowerShell\v1.0\POWERSHELL.EXE"] * 3 + [r"C:\x\powershell.exe"],
        "process.command_line": ["powershell.exe -nop /enc SQBFAFgA", "powershell -enc AAAA", "powershell -File a.ps1",
                                 "powershell -enc AAAA"],
        "process.parent.executable": [r"C:\Windows\explorer.exe", r"C:\Windows\CCM\CcmExec.exe", "", ""],
    })


def test_process_rule_fires_case_insensitively_with_windash_and_filter(tmp_path):
    rs = load_ruleset([_rules(tmp_path, proc=PROC_RULE)])
    eng = RuleEngine(rs.compiled.by_kind()["process"])
    hits = eng.matches(EventBatch.of("process", _proc_frame()).frame)
    # p1: /enc via windash, upper-case image; p2 filtered by parent; p3 no -enc; p4 is not a process creation
    assert {eng.rules[k].title: v.tolist() for k, v in hits.items()} == {"Encoded PowerShell": [0]}


def test_auth_rule_numbers_and_raw_fields(tmp_path):
    rs = load_ruleset([_rules(tmp_path, logon=LOGON_RULE, raw=RAW_RULE)])
    auth = pd.DataFrame({"event.id": ["a", "b", "c"], "event.dataset": "windows.security", "event.code": ["4769"] * 3,
                         "tls.cipher": ["0x17", "0x17", "0x12"], "service.name": ["mssql/db01", "WS1$", "http/web"],
                         "user.name": ["bob"] * 3, "host.name": ["DC1"] * 3, "@timestamp": [1e9] * 3})
    eng = RuleEngine(rs.compiled.by_kind()["auth"])
    assert [v.tolist() for v in eng.matches(EventBatch.of("auth", auth).frame).values()] == [[0]]
    proc = pd.DataFrame({"event.id": ["x", "y"], "event.action": ["process-access"] * 2, "@timestamp": [1e9] * 2,
                         "process.target.executable": [r"C:\Windows\System32\lsass.exe"] * 2,
                         "process.granted_access": ["0x1410", "0x1410"],
                         "process.call_trace": ["C:\\Windows\\SYSTEM32\\ntdll.dll|dbgcore.DLL+1", "ntdll.dll"]})
    eng = RuleEngine(rs.compiled.by_kind()["process"])
    assert [v.tolist() for v in eng.matches(EventBatch.of("process", proc).frame).values()] == [[0]]


def test_unmapped_fields_are_read_from_raw_columns(tmp_path):
    rs = load_ruleset([_rules(tmp_path, raw=RAW_FIELD_RULE)])
    eng = RuleEngine(rs.compiled.by_kind()["process"])
    fr = pd.DataFrame({"event.action": ["process-created"] * 3, "process.executable": [r"C:\Windows\System32\cmd.exe"] * 3,
                       "winlog.event_data.IntegrityLevel": ["System", "Medium", "system"]})
    assert [v.tolist() for v in eng.matches(EventBatch.of("process", fr).frame).values()] == [[0, 2]]
    # a reader without the raw field: the rule simply does not match
    assert eng.matches(EventBatch.of("process", fr.drop(columns="winlog.event_data.IntegrityLevel")).frame) == {}


def test_detector_one_finding_per_rule_entity_window(tmp_path):
    d = _rules(tmp_path, proc=PROC_RULE, linux=LINUX_RULE)
    fr = pd.concat([_proc_frame()] * 3, ignore_index=True)
    fr["event.id"] = [f"e{i}" for i in range(len(fr))]
    fr["@timestamp"] = [1e9 + i * 10 for i in range(len(fr))]
    det = SigmaDetector([d], window=3600)
    out = det.process(EventBatch.of("process", fr))
    log = pd.DataFrame({"event.id": ["l1", "l2"], "@timestamp": [1e9, 1e9 + 1], "host.name": ["srv", "srv"],
                        "message": ["Accepted password for root from 192.0.2.1 port 22 ssh2", "Accepted password for bob"]})
    out += det.process(EventBatch.of("log", log)) + det.flush()
    assert sorted((f.title, f.entity, f.evidence_count) for f in out) == [
        ("Sigma: Encoded PowerShell", "WS1", 3), ("Sigma: SSH login as root", "srv", 1)]
    f = next(f for f in out if f.entity == "WS1")
    assert f.severity == "high" and f.attack == ["T1059.001"] and f.attributes["rule.id"].startswith("1111")
    assert f.evidence == ["e0", "e4", "e8"] and f.related["user"] == ["bob"]


def test_factory_fills_load_report_and_rejects_empty(tmp_path):
    d = _rules(tmp_path, proc=PROC_RULE, broken="title: [")
    opts = ScanOptions(sigma=(str(d),))
    dets = sigma_detectors(opts)
    assert len(dets) == 1 and opts.load_report.skipped_total() == 1
    assert sigma_detectors(ScanOptions()) == []
    with pytest.raises(InputError):
        sigma_detectors(ScanOptions(sigma=(str(_rules(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path,
                                                              only="title: [")),)))


def test_check_command(tmp_path):
    d = _rules(tmp_path, proc=PROC_RULE, broken="title: [", other=OTHER_SOURCE)
    res = CliRunner().invoke(app, ["sigma", "check", str(d), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["counts"]["compiled"] == 1 and rep["counts"]["broken-yaml"] == 1
    assert rep["counts"]["no-event-source"] == 1 and rep["compiled_per_kind"] == {"process": 1}


@pytest.mark.skipif(not (SIGMA / "rules").is_dir(), reason=f"SigmaHQ collection not found at {SIGMA}")
def test_shared_collection_loads_rule_by_rule():
    # compiling all of it takes ~10 s and is measured by bench/bench_sigma.py; a small folder is compiled here
    rules, issues = load_rules([SIGMA])
    files = {str(p) for p in SIGMA.rglob("*.yml")}
    accounted = {r.path for r in rules} | {i.file for i in issues}
    assert files <= accounted  # every file loaded or reported with a reason
    assert len(rules) > 3000 and all(i.reason for i in issues)
    rs = load_ruleset([SIGMA / "rules" / "linux" / "builtin"])
    assert rs.counts()["compiled_rules"] > 10 and not [i for i in rs.issues if i.status == "compile-error"]


def test_scan_end_to_end_with_sigma(tmp_path):
    pytest.importorskip("threatml.readers.winlog_json", reason="Winlogbeat/OTRF JSON reader (identity domain) not present")
    recs = [{"@timestamp": f"2020-09-21T20:16:{i:02d}Z", "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
             "Hostname": "WS5", "Image": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
             "CommandLine": "powershell -w hidden -enc SQBFAFgA" if i == 3 else "powershell -File backup.ps1",
             "ParentImage": r"C:\Windows\explorer.exe", "User": "CORP\\bob", "ProcessId": 100 + i} for i in range(10)]
    (tmp_path / "sysmon.json").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    d = _rules(tmp_path, proc=PROC_RULE, broken="title: [")
    res = CliRunner().invoke(app, ["scan", str(tmp_path / "sysmon.json"), "--sigma", str(d), "--no-store", "--no-report"],
                             catch_exceptions=False, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Sigma: Encoded PowerShell" in res.output and "WS5" in res.output
    assert "sigma broken-yaml" in res.output  # the broken rule file shows in the scan summary


def test_a_rule_failing_at_run_time_is_disabled_not_fatal():
    from threatml.sigma.compiler import CompiledRule

    ok = CompiledRule("1", "ok", "low", [], [], "process", "process_creation",
                      "contains(\"lower:process.command_line\", 'whoami')", ("lower:process.command_line",), "a.yml")
    bad = CompiledRule("2", "bad", "low", [], [], "process", "process_creation",
                       "CAST(\"process.command_line\" AS INTEGER) > 3", ("process.command_line",), "b.yml")
    eng = RuleEngine([bad, ok])
    fr = pd.DataFrame({"process.command_line": ["whoami /all", "cmd"]})
    assert {k: v.tolist() for k, v in eng.matches(fr).items()} == {1: [0]}
    assert list(eng.failed) == [0] and "Conversion" in eng.failed[0]
