"""The EVTX reader's columnar path (Arrow JSON + map_columns) gives the same frames and counts as the per-record path.

The reference is the reader as it was: every record through orjson,
``map_event`` and ``rows_to_batches``. Records are generated here in the
shape ``PyEvtxParser.records_json`` yields (compact JSON text, header time,
record id), with awkward values on purpose; the shared EVTX samples are
compared too when present.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import threatml.readers.evtx as evtx_reader
from threatml.errors import ReadReport
from threatml.identity.windows import AUTH_ACTIONS, OBJECT_ACCESS, SYSMON_ACTIONS, map_columns, map_event
from threatml.readers.evtx import EvtxReader, _ReadState, event_fields, map_record, rows_to_batches
from shared_data import DATASETS

EVTX = DATASETS / "auth" / "evtx"
SYSMON = "Microsoft-Windows-Sysmon/Operational"

#: awkward but realistic values: padding, placeholders, case, SIDs, UPNs, mapped IPv6, hex, unicode
TEXT = ["Alice", " bob ", "-", "%%1793", "", None, "CORP\\Eve", "eve@CORP.LOCAL", "ÉRIC", "İpek", "a\u2003b",
        "  SeDebugPrivilege\n\t\tSeBackupPrivilege ", "CN=Doe\\, John,OU=Users,DC=corp", "CN=Admins,DC=x",
        "S-1-5-21-1-2-3-500", "Negotiate", "Kerberos", "C:\\Windows\\System32\\lsass.exe"]
ADDR = ["::ffff:10.0.0.5", "10.0.0.6", "-", "", None, " 192.0.2.7 ", "fe80::1", "::1"]
NUM = ["1234", "0", "-", "", None, "0x1a4", "0X10", " 7", "+5", "4.5", "x"]
HEX = ["0x0", "0xC000006A", "0xc000006d", "0x17", "0x12", "", None, "-", "0X1010"]
HASH = ["MD5=AA,SHA256=BEEF", "SHA1=11, sha256 = CaFe ,IMPHASH=00", "", None, "SHA256=1,SHA256=2"]
FIELDS = {
    "TargetUserName": TEXT, "SubjectUserName": TEXT, "TargetDomainName": TEXT, "SubjectDomainName": TEXT,
    "TargetUserSid": TEXT, "SubjectUserSid": TEXT, "TargetSid": TEXT, "WorkstationName": TEXT, "Workstation": TEXT,
    "AuthenticationPackageName": TEXT, "ProcessName": TEXT, "TargetServerName": TEXT, "PrivilegeList": TEXT,
    "MemberName": TEXT, "MemberSid": TEXT, "ServiceName": TEXT, "AccountName": TEXT, "ClientName": TEXT,
    "User": TEXT, "Image": TEXT, "CommandLine": TEXT, "ParentImage": TEXT, "ParentCommandLine": TEXT,
    "SourceImage": TEXT, "TargetImage": TEXT, "CallTrace": TEXT, "ObjectName": TEXT,
    "IpAddress": ADDR, "ClientAddress": ADDR, "SourceIp": ADDR, "DestinationIp": ADDR,
    "IpPort": NUM, "ProcessId": NUM, "DestinationPort": NUM, "SourceProcessId": NUM, "TargetProcessId": NUM,
    "LogonType": ["2", "3", "10", "-", None],
    "Status": HEX, "SubStatus": HEX, "TicketEncryptionType": HEX, "AccessMask": HEX, "GrantedAccess": HEX,
    "Hashes": HASH, "ObjectType": ["Process", "File", " Process ", None],
}


def record(rid: int, eid, channel: str, data: dict | None, *, user_data: dict | None = None,
           stamp: str = "2023-03-06T08:00:00.123456Z UTC", computer: str | None = "DC1.corp.local") -> dict:
    system = {"Provider": {"#attributes": {"Name": "x"}}, "EventID": eid, "Version": 0,
              "TimeCreated": {"#attributes": {"SystemTime": "2023-03-06T07:59:59.5Z"}}, "EventRecordID": 9000 + rid,
              "Channel": channel, "Computer": computer, "Security": None}
    event: dict = {"#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"}, "System": system}
    if data is not None:
        event["EventData"] = data
    if user_data is not None:
        event["UserData"] = user_data
    text = json.dumps({"Event": event}, separators=(",", ":"), ensure_ascii=False)
    return {"event_record_id": rid, "timestamp": stamp, "data": text}


def synthetic(seed: int, n: int = 700, typed: bool = False) -> list[dict]:
    """Every mapped id with random awkward field values, plus unmapped ids and irregular shapes."""
    rng = random.Random(seed)
    ids = sorted(AUTH_ACTIONS.keys() - {18456}) + sorted(SYSMON_ACTIONS) + sorted(OBJECT_ACCESS)
    recs = []
    for rid in range(1, n + 1):
        eid = rng.choice(ids + [4688, 5156, 18456])
        channel = SYSMON if eid in SYSMON_ACTIONS and rng.random() < 0.85 else "Security"
        data = {k: rng.choice(v) for k, v in FIELDS.items() if rng.random() < 0.9}
        if eid == 18456:  # MSSQL: qualified id, unnamed Data list, Application log (Security: not mapped)
            eid = {"#attributes": {"Qualifiers": 49152}, "#text": 18456}
            channel = rng.choice(["Application", "Application", "Security"])
            data = {"Data": {"#text": [rng.choice(TEXT), rng.choice(["Reason: Password did not match", " Reason: x",
                                                                     None, ""]),
                                       rng.choice([" [CLIENT: 10.0.2.17]", "[CLIENT: <local machine>]", None, ""])]},
                    "Binary": "184800000E"}
        if typed and eid != 18456:  # numbers as numbers, the way evtx writes UInt32 values
            data.update({"LogonType": rng.choice([2, 3, 10]), "ProcessId": rng.choice([4, 4660]),
                         "TargetUserName": rng.choice([7, 12345])})
        stamp = rng.choice(["2023-03-06T08:00:00.123456Z UTC", "2023-03-06T09:30:00Z UTC",
                            "1601-01-01T00:00:00Z UTC", ""])
        recs.append(record(rid, eid, channel, data, stamp=stamp, computer=rng.choice(["DC1", "ws2.corp", None])))
    n += 1
    recs += [
        record(n, 1102, "Security", None, user_data={"LogFileCleared": {"SubjectUserName": "A-JBrown"}}),
        record(n + 1, {"#attributes": {"Qualifiers": 49152}, "#text": 18456}, "Application",
               {"Data": {"#text": ["sa", " Reason: Password did not match", " [CLIENT: 10.0.2.17]"]}, "Binary": "00"}),
        record(n + 8, 18456, "Application", {"param1": "sa", "param2": "x"}),  # named MSSQL fields: per record
        record(n + 2, 4624, "Security", {"Data": ["x", "y"]}),  # unnamed data: the whole 4624 group goes per record
        record(n + 3, 4740, "Security", {"TargetUserName": "bob", "IpPort": 1.5}),  # a float value: per record
        record(n + 4, 4771, "Security", {"TargetUserName": {"nested": 1}}),  # nested value: per record
        {"event_record_id": n + 5, "timestamp": "", "data": '{"Event":{"System":{"EventID":4625,'},  # cut JSON
        {"event_record_id": n + 6, "timestamp": "", "data": "not json at all"},
        {**record(n + 7, 4672, "Security", {"SubjectUserName": "Pretty"}),  # pretty printed: raw newlines
         "data": json.dumps({"Event": {"System": {"EventID": 4672, "Channel": "Security"},
                                       "EventData": {"SubjectUserName": "Pretty"}}}, indent=1)},
    ]
    rng.shuffle(recs)
    return recs


def reference(recs: list[dict], name: str) -> tuple[dict[str, pd.DataFrame], ReadReport]:
    """The reader before the columnar path: per record orjson + map_event, rows_to_batches."""
    st = _ReadState(Path(name))
    rows: dict[str, list[dict]] = {"auth": [], "process": []}
    stamps: dict[str, list[str]] = {"auth": [], "process": []}
    for r in recs:
        got = map_record(r["data"], r["timestamp"], r["event_record_id"], name, st)
        if got is not None:
            rows[got[0]].append(got[1])
            stamps[got[0]].append(got[2])
    report = ReadReport()
    st.report_to(report)
    return {b.kind: b.frame for b in rows_to_batches(rows, stamps, Path(name), {})}, report


def collect(batches) -> dict[str, pd.DataFrame]:
    parts: dict[str, list[pd.DataFrame]] = {}
    for b in batches:
        parts.setdefault(b.kind, []).append(b.frame)
    return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}


def assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert got.keys() == want.keys()
    for kind in want:
        a, b = got[kind], want[kind]
        assert sorted(a.columns) == sorted(b.columns)
        pd.testing.assert_frame_equal(a[sorted(a.columns)], b[sorted(b.columns)], check_dtype=True)


@pytest.mark.parametrize("block_size, batch_size", [(20_000, 200_000), (37, 50)])
def test_columnar_path_equals_per_record_path(block_size, batch_size):
    evtx_reader._SCHEMAS.clear()
    for seed, typed in ((1, False), (2, False), (3, True)):  # 2 reuses learnt schemas, 3 breaks them (types)
        recs = synthetic(seed, n=700 if block_size > 1000 else 250, typed=typed)  # tiny blocks: many groups, slower
        report = ReadReport()
        batches = list(EvtxReader(block_size=block_size).read_records(iter(recs), Path("syn.evtx"), report,
                                                                      batch_size=batch_size))
        assert all(len(b) <= batch_size for b in batches)
        want, want_report = reference(recs, "syn.evtx")
        assert_same(collect(batches), want)
        assert report.skipped == want_report.skipped
    assert {4634, 4769, 10, 4656} <= set(evtx_reader._SCHEMAS)  # the columnar path did run (it learns schemas)
    reasons = {k[1]: v for k, v in report.skipped.items()}
    assert reasons["EVTX record without a readable Event/System element"] == 2
    assert reasons["event id 4688 (Security) not mapped"] > 0
    assert reasons["event id 10 (Security) not mapped"] > 0  # Sysmon ids outside the Sysmon channel
    assert any(k.startswith("event id 4656 (Security)") for k in reasons)  # object access on a file, not a process
    frames = collect(EvtxReader(block_size=block_size).read_records(iter(recs), Path("syn.evtx"), ReadReport()))
    auth = frames["auth"]
    assert auth["event.id"].str.startswith("syn.evtx:").all()
    mssql = auth[auth["event.code"] == "18456"]
    assert len(mssql) >= 5 and (mssql["event.dataset"] == "mssql").all() and (mssql["source.ip"] == "10.0.2.17").any()
    assert reasons["event id 18456 (Security) not mapped"] > 0
    assert (auth["@timestamp"] == 1678089599.5).any()  # zero or empty header time: System/TimeCreated instead
    assert not auth["user.name"].str.contains("@").any()


def test_map_columns_mssql_and_channels():
    """The columnar mapping itself, against map_event row by row (MSSQL unnamed data, Sysmon channel rule)."""
    data = pa.array([{"#text": ["sa", " Reason: Password did not match", " [CLIENT: 10.0.2.17]"]},
                     {"#text": ["Bob@X", None]}, None, {"#text": []}])
    channel = pa.array(["Application", "Application", "Application", "Security"])
    kind, keep, cols = map_columns(18456, channel, pa.array(["SQL1"] * 4), {"Data": data}.get, 4)
    assert kind == "auth" and keep.tolist() == [True, True, True, False]
    for i, v in enumerate(data.to_pylist()):
        want = map_event(18456, channel[i].as_py(), "SQL1", event_fields({"EventData": {"Data": v, "Binary": "0"}}))
        if not keep[i]:
            assert want is None
            continue
        for k, x in want[1].items():
            got = cols[k] if isinstance(cols[k], str) else cols[k][i]
            assert (got if isinstance(got, str) else got.as_py()) == x, k
    _, keep, _ = map_columns(10, pa.array([SYSMON, "Security"]), pa.array(["a", "b"]), {}.get, 2)
    assert keep.tolist() == [True, False]


def test_corrupt_chunk_counted_and_reading_goes_on():
    recs = synthetic(4, n=60)

    def chunks():
        yield from recs[:30]
        raise RuntimeError("chunk 1: bad checksum")

    class Parser:  # the parser's iterator: raises once for the bad chunk, then goes on
        def __init__(self):
            self.inner = chunks()
            self.rest = iter(recs[30:])
            self.failed = False

        def __iter__(self):
            return self

        def __next__(self):
            if not self.failed:
                try:
                    return next(self.inner)
                except RuntimeError:
                    self.failed = True
                    raise
            return next(self.rest)

    report = ReadReport()
    got = collect(EvtxReader(block_size=16).read_records(Parser(), Path("c.evtx"), report, batch_size=16))
    want, _ = reference(recs, "c.evtx")
    assert_same(got, want)
    assert report.skipped[("c.evtx", "corrupt EVTX chunk (its records are lost)")] == 1


needs_evtx = pytest.mark.skipif(not EVTX.is_dir(), reason=f"EVTX samples absent ({EVTX})")


@needs_evtx
@pytest.mark.parametrize("block_size", [20_000, 3])
def test_shared_samples_same_frames_as_per_record_path(block_size):
    import evtx

    files = sorted(EVTX.glob("*.evtx"))
    assert files
    for f in files:
        report = ReadReport()
        got = collect(EvtxReader(block_size=block_size).read(f, report))
        recs = list(evtx.PyEvtxParser(str(f), number_of_threads=1).records_json())
        want, want_report = reference(recs, f.name)
        assert_same(got, want)
        assert {k[1]: v for k, v in report.skipped.items()} == {k[1]: v for k, v in want_report.skipped.items()}
        slow = collect(EvtxReader(fast=False).read(f, ReadReport()))
        assert_same(slow, want)


def test_white_space_set_is_pythons():
    """The columnar trim/split use exactly the characters str.strip()/str.split() treat as white space."""
    from threatml.identity.windows import _WS

    assert sorted(_WS) == [c for c in map(chr, range(0x110000)) if c.isspace()]
