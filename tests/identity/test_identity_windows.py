"""Windows events: Winlogbeat/OTRF JSON mapping, and the EVTX reader on the shared samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from threatml.errors import ReadReport
from threatml.identity.windows import map_event
from threatml.readers import detect
from threatml.readers.evtx import EvtxReader
from threatml.readers.winlog_json import WinlogJsonReader
from shared_data import DATASETS

EVTX = DATASETS / "auth" / "evtx"


def beat(eid: int, data: dict, channel: str = "Security", computer: str = "dc1", rid: int = 1) -> dict:
    return {"@timestamp": "2023-03-06T08:00:00.000Z", "event": {"code": str(eid)},
            "winlog": {"event_id": eid, "channel": channel, "computer_name": computer, "record_id": rid,
                       "event_data": data}}


def read_json(tmp_path: Path, recs: list, name: str = "win.json"):
    p = tmp_path / name
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in recs) + "\n")
    r = ReadReport()
    batches = {b.kind: b.frame for b in WinlogJsonReader().read(p, r)}
    return p, batches, r


def test_winlogbeat_mapping(tmp_path):
    recs = [
        beat(4624, {"TargetUserName": "Alice", "TargetDomainName": "CORP", "LogonType": "10", "IpAddress": "10.0.0.5",
                    "WorkstationName": "WS1", "AuthenticationPackageName": "Negotiate"}, rid=1),
        beat(4625, {"TargetUserName": "bob", "IpAddress": "::ffff:10.0.0.6", "Status": "0xC000006D",
                    "SubStatus": "0xC0000064"}, rid=2),
        beat(4672, {"SubjectUserName": "alice", "PrivilegeList": "SeDebugPrivilege\n\t\tSeBackupPrivilege"}, rid=3),
        beat(4728, {"SubjectUserName": "admin", "TargetUserName": "Domain Admins",
                    "MemberName": "CN=Eve Smith,OU=Users,DC=corp,DC=local"}, rid=4),
        beat(4769, {"TargetUserName": "alice@CORP.LOCAL", "ServiceName": "MSSQLSvc/db1:1433", "Status": "0x0",
                    "TicketEncryptionType": "0x17", "IpAddress": "::ffff:10.0.0.5"}, rid=5),
        beat(4776, {"TargetUserName": "carol", "Workstation": "WS9", "Status": "0xC000006A"}, rid=6),
        beat(10, {"SourceImage": "C:\\t\\x.exe", "TargetImage": "C:\\Windows\\system32\\lsass.exe",
                  "GrantedAccess": "0x1010", "SourceProcessId": "42"}, channel="Microsoft-Windows-Sysmon/Operational",
             rid=7),
        beat(1, {"Image": "C:\\w\\cmd.exe", "CommandLine": "cmd /c whoami", "ParentImage": "C:\\w\\explorer.exe",
                 "Hashes": "MD5=aa,SHA256=BEEF", "ProcessId": 7, "User": "CORP\\alice"},
             channel="Microsoft-Windows-Sysmon/Operational", rid=8),
        beat(5156, {"Application": "x"}, rid=9),
        "not json at all",
        {"message": "no event id here"},
    ]
    p, b, r = read_json(tmp_path, recs)
    assert detect(p) is WinlogJsonReader
    a = b["auth"]
    assert a["event.action"].tolist() == ["logon", "logon-failed", "admin-logon", "group-member-added",
                                          "kerberos-service-ticket", "ntlm-validate"]
    assert a.iloc[0][["user.name", "source.ip", "auth.logon_type", "source.hostname"]].tolist() == \
        ["alice", "10.0.0.5", "10", "WS1"]
    assert a.iloc[1]["source.ip"] == "10.0.0.6" and a.iloc[1]["auth.failure_reason"] == "0xc0000064"
    assert a.iloc[2]["service.name"] == "SeDebugPrivilege SeBackupPrivilege"
    assert a.iloc[3][["user.name", "user.target.name", "group.name"]].tolist() == ["admin", "eve smith", "Domain Admins"]
    assert a.iloc[4][["user.name", "tls.cipher", "event.outcome"]].tolist() == ["alice", "0x17", "success"]
    assert a.iloc[5]["event.outcome"] == "failure"
    assert a["@timestamp"].iloc[0] == 1678089600.0
    pr = b["process"]
    assert pr["event.action"].tolist() == ["process-access", "process-created"]
    assert pr.iloc[1]["process.hash.sha256"] == "beef" and pr.iloc[0]["process.granted_access"] == "0x1010"
    reasons = {k[1]: v for k, v in r.skipped.items()}
    assert reasons["event id 5156 (Security) not mapped"] == 1
    assert reasons["line is not a JSON object"] == 1
    assert any(k.startswith("record without a Windows event id") for k in reasons)


def test_ecs_fields_fill_missing_event_data(tmp_path):
    rec = beat(4625, {"Status": "0xc000006d"})
    rec.update({"user": {"name": "Dave"}, "source": {"ip": "192.0.2.8", "port": 5000}, "label": "Malicious"})
    _, b, _ = read_json(tmp_path, [rec])
    row = b["auth"].iloc[0]
    assert row["label"] == "malicious"
    assert (row["user.name"], row["source.ip"], row["source.port"]) == ("dave", "192.0.2.8", 5000.0)


def test_otrf_flat_records(tmp_path):
    recs = [{"@timestamp": "2020-09-21T20:16:36.000Z", "EventID": 4625, "Channel": "Security", "Hostname": "WS5",
             "TargetUserName": "pgustavo", "IpAddress": "172.18.39.5", "LogonType": 3, "Status": "0xc000006d",
             "SubStatus": "0xc000006a", "RecordNumber": 77},
            {"EventTime": "2020-09-21 20:16:40", "EventID": "4720", "SourceName": "Microsoft-Windows-Security-Auditing",
             "Hostname": "DC1", "SubjectUserName": "pgustavo", "TargetUserName": "backdoor"}]
    _, b, _ = read_json(tmp_path, recs)
    a = b["auth"]
    assert a["event.action"].tolist() == ["logon-failed", "user-created"]
    assert a["event.id"].iloc[0] == "win.json:77"
    assert a["@timestamp"].tolist() == [1600719396.0, 1600719400.0]
    assert a.iloc[1]["user.target.name"] == "backdoor"


def test_mssql_and_unknown_ids():
    kind, row = map_event(18456, "Application", "SQL1", {"Data": ["sa", " Reason: Password did not match", " [CLIENT: 10.0.2.17]"]})
    assert kind == "auth" and (row["user.name"], row["source.ip"]) == ("sa", "10.0.2.17")
    assert map_event(4688, "Security", "x", {}) is None
    assert map_event(10, "Security", "x", {}) is None  # event 10 means Sysmon only on the Sysmon channel


needs_evtx = pytest.mark.skipif(not EVTX.is_dir(), reason=f"EVTX samples absent ({EVTX})")


@needs_evtx
def test_evtx_samples():
    r = ReadReport()
    f = next(EvtxReader().read(EVTX / "kerberos_pwd_spray_4771.evtx", r)).frame
    assert f["event.action"].value_counts().to_dict() == {"kerberos-tgt": 9, "kerberos-preauth-failed": 2,
                                                          "log-cleared": 1}
    assert set(f.loc[f["event.outcome"] == "failure", "source.ip"]) == {"172.16.66.1"}
    assert f["@timestamp"].notna().all()
    p = next(EvtxReader().read(EVTX / "sysmon_10_lsass_mimikatz_sekurlsa_logonpasswords.evtx", r)).frame
    assert p["process.target.executable"].iloc[0].lower().endswith("lsass.exe")
    assert detect(EVTX / "kerberos_pwd_spray_4771.evtx") is EvtxReader


@needs_evtx
def test_evtx_corrupt_chunk_and_truncation(tmp_path):
    raw = bytearray((EVTX / "kerberos_pwd_spray_4771.evtx").read_bytes())
    bad = tmp_path / "bad.evtx"
    raw[4096 + 0x300:4096 + 0x700] = b"A" * 0x400  # break the records of the only chunk
    bad.write_bytes(bytes(raw))
    r = ReadReport()
    assert list(EvtxReader().read(bad, r)) == []
    assert sum(v for k, v in r.skipped.items() if k[1].startswith("corrupt EVTX chunk")) == 1
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(bytes(raw[:4096 + 1000]))
    r = ReadReport()
    list(EvtxReader().read(cut, r))
    assert any("file truncated" in k[1] for k in r.notes)
