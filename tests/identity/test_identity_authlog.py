"""AuthLogReader: sshd/sudo/su/account lines, year inference, zones, duplicates, journald, sniffing."""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from threatml.errors import InputError, ReadReport
from threatml.readers import detect
from threatml.readers.authlog import AuthLogReader

H = "srv1"
LINES = [
    f"Mar 27 13:08:09 {H} sshd[1361]: Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA SHA256:abc",
    f"Mar 27 13:08:10 {H} sshd[1362]: Failed password for invalid user admin from 1.2.3.4 port 5 ssh2",
    f"Mar 27 13:08:22 {H} sshd[1362]: message repeated 5 times: [ Failed password for root from 1.2.3.4 port 5 ssh2]",
    f"Mar 27 13:08:23 {H} sshd[1363]: Invalid user test from 1.2.3.5 port 6",
    f"Mar 27 13:08:24 {H} sshd[1363]: Connection closed by 1.2.3.5 port 6 [preauth]",
    f"Mar 27 13:09:37 {H} sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu ; USER=root ; COMMAND=/usr/bin/id",
    f"Mar 27 13:09:38 {H} sudo:   mallory : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
    f"Mar 27 13:10:00 {H} su[99]: pam_unix(su:session): session opened for user root by ubuntu(uid=1000)",
    f"Mar 27 13:11:00 {H} useradd[100]: new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash",
    f"Mar 27 13:11:01 {H} usermod[101]: add 'bob' to group 'sudo'",
    f"Mar 27 13:11:02 {H} userdel[102]: delete user 'bob'",
    f"Mar 27 13:11:03 {H} groupadd[103]: new group: name=ops, GID=1002",
    f"Mar 27 13:11:04 {H} passwd[104]: pam_unix(passwd:chauthtok): password changed for bob",
    f"Mar 27 13:12:00 {H} CRON[200]: pam_unix(cron:session): session opened for user root by (uid=0)",
]


def write(tmp_path: Path, lines: list[str], name: str = "auth.log", year: int | None = 2017) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    if year:
        t = datetime(year, 12, 31, tzinfo=timezone.utc).timestamp()
        os.utime(p, (t, t))
    return p


def read(p: Path, **kw):
    r = ReadReport()
    batches = list(AuthLogReader(**kw).read(p, r))
    return (batches[0].frame if batches else None), r


def test_event_mapping(tmp_path):
    f, r = read(write(tmp_path, LINES))
    acts = f["event.action"].tolist()
    assert acts == ["logon", "logon-failed", "logon-failed", "invalid-user", "sudo", "sudo", "su", "user-created",
                    "group-member-added", "user-deleted", "group-created", "password-changed"]
    row = f.iloc[0]
    assert (row["user.name"], row["source.ip"], row["auth.method"], row["host.name"]) == \
        ("ubuntu", "85.245.107.41", "publickey", H)
    assert f.iloc[2]["auth.attempts"] == 5 and f.iloc[2]["user.name"] == "root"
    assert f.iloc[1]["auth.failure_reason"] == "invalid user" and f.iloc[1]["process.pid"] == 1362
    sudo_ok, sudo_bad = f.iloc[4], f.iloc[5]
    assert (sudo_ok["event.outcome"], sudo_ok["user.effective.name"], sudo_ok["service.name"]) == \
        ("success", "root", "/usr/bin/id")
    assert sudo_bad["event.outcome"] == "failure" and sudo_bad["user.name"] == "mallory"
    assert f.iloc[6]["user.name"] == "ubuntu" and f.iloc[6]["user.effective.name"] == "root"
    assert f.iloc[8]["user.target.name"] == "bob" and f.iloc[8]["group.name"] == "sudo"
    # the two lines that are not authentication events are counted, not lost
    skipped = {k[1]: v for k, v in r.skipped.items()}
    assert sum(v for k, v in skipped.items() if k.startswith("not an authentication event")) == 2


def test_year_from_mtime_and_new_year_rollover(tmp_path):
    lines = [f"Dec 31 23:59:58 {H} sshd[1]: Failed password for root from 9.9.9.9 port 1 ssh2",
             f"Jan  1 00:00:03 {H} sshd[1]: Failed password for root from 9.9.9.9 port 1 ssh2"]
    p = write(tmp_path, lines, year=None)
    t = datetime(2021, 1, 5, tzinfo=timezone.utc).timestamp()  # written in January: the log began last year
    os.utime(p, (t, t))
    f, r = read(p)
    years = [datetime.fromtimestamp(x, tz=timezone.utc).year for x in f["@timestamp"]]
    assert years == [2020, 2021]
    assert f["@timestamp"].diff().iloc[1] == 5.0
    assert any("year advanced" in k[1] for k in r.notes)


def test_explicit_year_and_time_zone(tmp_path):
    p = write(tmp_path, LINES[:1], year=None)
    f, _ = read(p, year=2017, tz="Europe/Lisbon")  # March 27 2017 is summer time: UTC+1
    assert f["@timestamp"].iloc[0] == datetime(2017, 3, 27, 12, 8, 9, tzinfo=timezone.utc).timestamp()
    with pytest.raises(InputError):
        AuthLogReader(tz="Mars/Olympus")


def test_year_and_zone_from_environment_for_scan(tmp_path, monkeypatch):
    monkeypatch.setenv("THREATML_AUTHLOG_YEAR", "2015")
    monkeypatch.setenv("THREATML_AUTHLOG_TZ", "America/New_York")
    f, _ = read(write(tmp_path, LINES[:1]))
    assert f["@timestamp"].iloc[0] == datetime(2015, 3, 27, 17, 8, 9, tzinfo=timezone.utc).timestamp()
    monkeypatch.setenv("THREATML_AUTHLOG_YEAR", "last year")
    with pytest.raises(InputError, match="THREATML_AUTHLOG_YEAR"):
        AuthLogReader()


def test_iso_timestamps_carry_their_offset(tmp_path):
    p = write(tmp_path, [f"2024-03-27T13:06:56.250+02:00 {H} sshd[7]: Failed password for bob from 5.6.7.8 port 9 ssh2",
                         f"2024-03-27T11:07:00Z {H} sshd[8]: Failed password for bob from 5.6.7.8 port 9 ssh2"])
    f, r = read(p)
    assert f["@timestamp"].iloc[0] == datetime(2024, 3, 27, 11, 6, 56, 250000, tzinfo=timezone.utc).timestamp()
    assert f["@timestamp"].iloc[1] - f["@timestamp"].iloc[0] == 3.75  # a zone change, not a two-hour jump
    assert any("time-zone offset changed" in k[1] for k in r.notes)


def test_duplicates_replayed_are_skipped_but_same_second_repeats_kept(tmp_path):
    a = f"Mar 27 13:08:10 {H} sshd[5]: Failed password for root from 1.1.1.1 port 5 ssh2"
    b = f"Mar 27 14:00:00 {H} sshd[6]: Failed password for root from 1.1.1.2 port 6 ssh2"
    c = f"Mar 27 13:00:00 {H} sshd[7]: Failed password for root from 1.1.1.3 port 7 ssh2"
    f, r = read(write(tmp_path, [a, a, b, a, b, c]))
    # the second `a` is a genuine repeat (same second); the later a and b replay the past; c is new but earlier
    assert len(f) == 4
    assert sum(v for k, v in r.skipped.items() if k[1].startswith("duplicate")) == 2
    assert any("clock jumped backwards" in k[1] for k in r.notes)


def test_garbage_lines_counted(tmp_path):
    f, r = read(write(tmp_path, LINES[:2] + ["this is not syslog", "\x00\x01binary"]))
    assert len(f) == 2
    assert sum(v for k, v in r.skipped.items() if "not a syslog" in k[1]) == 2


def test_gzip_and_sniffing(tmp_path):
    p = tmp_path / "secure.gz"
    p.write_bytes(gzip.compress(("\n".join(LINES) + "\n").encode()))
    assert detect(p) is AuthLogReader
    f, _ = read(p)
    assert len(f) == 12
    general = write(tmp_path, [f"Mar 27 13:08:09 {H} kernel: [1.0] eth0: link up",
                               f"Mar 27 13:08:09 {H} dhclient[5]: bound to 10.0.0.5",
                               f"Mar 27 13:08:10 {H} systemd[1]: Started Daily apt.",
                               f"Mar 27 13:08:11 {H} sshd[1]: Accepted publickey for a from 1.2.3.4 port 1 ssh2"],
                    name="syslog")
    assert not AuthLogReader.sniff(general.read_bytes(), general)


def test_journald_json(tmp_path):
    recs = [{"__REALTIME_TIMESTAMP": "1490620089000000", "_HOSTNAME": H, "SYSLOG_IDENTIFIER": "sshd", "_PID": "12",
             "MESSAGE": "Failed password for root from 4.4.4.4 port 22 ssh2", "__CURSOR": "c1"},
            {"__REALTIME_TIMESTAMP": "1490620090000000", "_HOSTNAME": H, "SYSLOG_IDENTIFIER": "sshd", "_PID": "12",
             "MESSAGE": list(b"Accepted password for root from 4.4.4.4 port 22 ssh2"), "__CURSOR": "c2"},
            {"__REALTIME_TIMESTAMP": "1490620090000000", "_HOSTNAME": H, "SYSLOG_IDENTIFIER": "sshd", "_PID": "12",
             "MESSAGE": "Failed password for root from 4.4.4.4 port 22 ssh2", "__CURSOR": "c1"}]
    p = tmp_path / "journal.json"
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n{broken\n")
    assert detect(p) is AuthLogReader
    f, r = read(p)
    assert f["event.action"].tolist() == ["logon-failed", "logon"]
    assert f["@timestamp"].tolist() == [1490620089.0, 1490620090.0]
    assert f["event.dataset"].iloc[0] == "journald"
    reasons = {k[1] for k in r.skipped}
    assert any(x.startswith("duplicate") for x in reasons) and any("not a syslog/journald" in x for x in reasons)
