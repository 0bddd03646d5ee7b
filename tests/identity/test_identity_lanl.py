"""LANL auth CSV (with red-team labels) and generic CSV with a column mapping."""

from __future__ import annotations

import json

import pytest

from threatml.errors import InputError, ReadReport
from threatml.readers import detect
from threatml.readers.lanl import LanlAuthReader

LANL = """1,C625$@DOM1,C625$@DOM1,C625,C625,Negotiate,Service,LogOn,Success
2,U12@DOM1,U12@DOM1,C1250,C586,NTLM,Network,LogOn,Fail
3,U12@DOM1,U12@DOM1,C1250,C586,Kerberos,Network,LogOn,Success
4,U12@DOM1,?,C1250,?,Kerberos,?,TGS,Success
5,U12@DOM1,U12@DOM1,C1250,C586,?,Network,LogOff,Success
"""


def test_lanl_with_redteam(tmp_path):
    p = tmp_path / "auth.txt"
    p.write_text(LANL + "6,broken,row\n")
    (tmp_path / "redteam.txt").write_text("3,U12@DOM1,C1250,C586\n")
    assert detect(p) is LanlAuthReader
    r = ReadReport()
    f = list(LanlAuthReader(origin=1000.0).read(p, r))[0].frame
    assert f["event.action"].tolist() == ["logon", "logon-failed", "logon", "kerberos-service-ticket", "logoff"]
    assert f.iloc[1][["user.name", "source.hostname", "host.name", "auth.method"]].tolist() == \
        ["u12", "c1250", "c586", "ntlm"]
    assert f["@timestamp"].tolist() == [1001.0, 1002.0, 1003.0, 1004.0, 1005.0]
    assert f.iloc[3]["host.name"] == "" and f.iloc[3]["auth.logon_type"] == ""
    assert f["label"].tolist() == ["benign", "benign", "malicious", "benign", "benign"]
    assert sum(v for k, v in r.skipped.items() if "wrong number of fields" in k[1]) == 1


def test_generic_csv_with_mapping(tmp_path):
    p = tmp_path / "vpn.csv"
    p.write_text("when,account,client,result\n2023-03-06T08:00:00Z,Alice,10.0.0.1,OK\n"
                 "2023-03-06T08:00:05Z,bob,10.0.0.2,denied\n")
    assert detect(p) is not LanlAuthReader  # no mapping yet: not ours
    (tmp_path / "vpn.csv.authmap.json").write_text(json.dumps({
        "columns": {"@timestamp": "when", "user.name": "account", "source.ip": "client", "event.outcome": "result"},
        "success_values": ["ok"]}))
    assert detect(p) is LanlAuthReader
    f = next(LanlAuthReader().read(p, ReadReport())).frame
    assert f["event.action"].tolist() == ["logon", "logon-failed"]
    assert f["user.name"].tolist() == ["alice", "bob"]
    assert f["@timestamp"].tolist() == [1678089600.0, 1678089605.0]


def test_generic_csv_missing_column_is_named(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    (tmp_path / "authmap.json").write_text(json.dumps({"columns": {"user.name": "account"}}))
    with pytest.raises(InputError, match="account"):
        list(LanlAuthReader().read(p, ReadReport()))
    (tmp_path / "authmap.json").write_text(json.dumps({"columns": {"no.such.field": "a"}}))
    with pytest.raises(InputError, match="unknown auth fields"):
        list(LanlAuthReader().read(p, ReadReport()))
