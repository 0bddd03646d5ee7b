"""Generated authentication logs with known attacks, for tests and benchmarks.

:func:`auth_log_lines` writes a Linux ``auth.log`` of a few users with regular
habits (publickey logons from home networks in office hours, sudo, cron
sessions) plus internet background noise, and injects what the identity
detectors should find: brute-force bursts from single addresses (one ends in
a successful logon), a slow spraying source. :func:`windows_events` does the
same as Winlogbeat-style JSON records (4624/4625/4672/4720/4728/4769/4771 and
Sysmon 10). Both return the ground truth next to the data. Deterministic for a
seed.

>>> lines, truth = auth_log_lines(days=2, seed=1)
>>> len(lines) > 100, sorted(truth)[:2]
(True, ['bruteforce_sources', 'compromised'])
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

_MON = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _stamp(t: datetime) -> str:
    return f"{_MON[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"


def auth_log_lines(days: int = 7, seed: int = 0, host: str = "web1", start: datetime | None = None,
                   noise_per_hour: int = 6, brute_sources: int = 3) -> tuple[list[str], dict]:
    """(lines in time order, truth) with ``truth`` = bruteforce_sources, spray_sources, compromised, users."""
    rng = random.Random(seed)
    start = start or datetime(2023, 3, 6, tzinfo=timezone.utc)
    users = {"alice": "81.20.5.", "bob": "92.11.7.", "carol": "77.54.3."}
    ev: list[tuple[datetime, str]] = []
    pid = [1000]

    def add(t: datetime, prog: str, msg: str, with_pid: bool = True) -> None:
        pid[0] += 1
        tag = f"{prog}[{pid[0]}]" if with_pid else prog
        ev.append((t, f"{_stamp(t)} {host} {tag}: {msg}"))

    for d in range(days):
        day = start + timedelta(days=d)
        for h in range(24):
            t = day + timedelta(hours=h)
            add(t + timedelta(minutes=17), "CRON", "pam_unix(cron:session): session opened for user root by (uid=0)")
            for _ in range(rng.randint(0, noise_per_hour)):  # internet background: one or two guesses
                ip = f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                tt = t + timedelta(seconds=rng.randint(0, 3599))
                add(tt, "sshd", f"Invalid user {rng.choice(['admin', 'test', 'pi', 'oracle'])} from {ip} port "
                                f"{rng.randint(1024, 65000)}")
                add(tt, "sshd", f"Connection closed by {ip} port {rng.randint(1024, 65000)} [preauth]")
        if day.weekday() < 5:
            for u, net in users.items():
                t = day + timedelta(hours=rng.randint(8, 10), minutes=rng.randint(0, 59))
                ip = net + str(rng.randint(2, 20))
                add(t, "sshd", f"Accepted publickey for {u} from {ip} port {rng.randint(30000, 60000)} ssh2: "
                               f"RSA SHA256:{u}KEYFINGERPRINT")
                add(t + timedelta(minutes=5), "sudo", f"  {u} : TTY=pts/0 ; PWD=/home/{u} ; USER=root ; "
                                                      f"COMMAND=/usr/bin/systemctl status nginx", with_pid=False)
    truth = {"bruteforce_sources": [], "spray_sources": [], "compromised": [], "users": sorted(users)}
    for i in range(brute_sources):
        ip = f"203.0.{113 + i}.{10 + i}"
        t = start + timedelta(days=min(days - 1, 1 + i % max(days - 1, 1)), hours=2 + i, minutes=5)
        target = "root" if i else "alice"
        for k in range(25 + 10 * i):
            tt = t + timedelta(seconds=7 * k)
            add(tt, "sshd", f"Failed password for {target} from {ip} port {40000 + k} ssh2")
        truth["bruteforce_sources"].append(ip)
        if i == 0:  # the guess works
            add(t + timedelta(seconds=7 * 26), "sshd", f"Accepted password for alice from {ip} port 41000 ssh2")
            truth["compromised"].append("alice")
    ip = "198.51.100.77"
    t = start + timedelta(days=days - 1, hours=1)
    for k, name in enumerate(["oracle", "postgres", "git", "deploy", "jenkins", "ubuntu", "mysql", "ftp"]):
        add(t + timedelta(seconds=40 * k), "sshd", f"Failed password for invalid user {name} from {ip} port "
                                                   f"{50000 + k} ssh2")
    truth["spray_sources"].append(ip)
    ev.sort(key=lambda x: x[0])
    return [line for _, line in ev], truth


def windows_events(seed: int = 0, start: datetime | None = None) -> tuple[list[dict], dict]:
    """Winlogbeat-style records (as dicts) and their truth: spray source, kerberoaster, lsass reader."""
    rng = random.Random(seed)
    start = start or datetime(2023, 3, 6, tzinfo=timezone.utc)
    recs: list[dict] = []
    rid = [0]

    def add(t: datetime, eid: int, data: dict, channel: str = "Security", computer: str = "dc1.corp.local") -> None:
        rid[0] += 1
        recs.append({"@timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "event": {"code": str(eid)},
                     "winlog": {"event_id": eid, "channel": channel, "computer_name": computer, "record_id": rid[0],
                                "event_data": data}})

    staff = [f"user{i:02d}" for i in range(12)]
    for d in range(5):
        for u in staff:
            t = start + timedelta(days=d, hours=8, minutes=rng.randint(0, 90))
            ws = f"ws{staff.index(u):02d}"
            add(t, 4624, {"TargetUserName": u, "TargetDomainName": "CORP", "LogonType": "3",
                          "IpAddress": f"10.0.0.{10 + staff.index(u)}", "WorkstationName": ws.upper(),
                          "AuthenticationPackageName": "Kerberos"})
            add(t, 4769, {"TargetUserName": f"{u}@CORP.LOCAL", "ServiceName": "fileserver$", "Status": "0x0",
                          "TicketEncryptionType": "0x12", "IpAddress": f"::ffff:10.0.0.{10 + staff.index(u)}"})
        # one benign mistyped password
        t = start + timedelta(days=d, hours=9)
        add(t, 4625, {"TargetUserName": staff[d], "IpAddress": f"10.0.0.{10 + d}", "LogonType": "3",
                      "Status": "0xc000006d", "SubStatus": "0xc000006a"})
    t = start + timedelta(days=5, hours=3)
    for k, u in enumerate(staff + ["administrator", "svc_sql", "backup"]):
        add(t + timedelta(seconds=k), 4771, {"TargetUserName": u, "Status": "0x18", "IpAddress": "10.0.5.66",
                                             "ServiceName": "krbtgt/CORP.LOCAL"})
    for k, svc in enumerate(["MSSQLSvc/db1.corp.local:1433", "HTTP/web1.corp.local", "CIFS/files.corp.local",
                             "HTTP/intranet.corp.local"]):
        add(t + timedelta(minutes=5, seconds=k), 4769, {"TargetUserName": "user03@CORP.LOCAL", "ServiceName": svc,
                                                         "Status": "0x0", "TicketEncryptionType": "0x17",
                                                         "IpAddress": "::ffff:10.0.0.13"})
    add(t + timedelta(minutes=9), 10, {"SourceImage": "C:\\Temp\\m.exe", "TargetImage": "C:\\Windows\\system32\\lsass.exe",
                                        "GrantedAccess": "0x1010", "SourceProcessId": 4242, "TargetProcessId": 600,
                                        "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|UNKNOWN(00000000001D0A3B)"},
        channel="Microsoft-Windows-Sysmon/Operational", computer="ws03.corp.local")
    add(t + timedelta(minutes=12), 4720, {"SubjectUserName": "user03", "TargetUserName": "helpdesk2"})
    add(t + timedelta(minutes=13), 4732, {"SubjectUserName": "user03", "TargetUserName": "Administrators",
                                           "MemberName": "CN=helpdesk2,CN=Users,DC=corp,DC=local"})
    recs.sort(key=lambda r: r["@timestamp"])
    return recs, {"spray_source": "10.0.5.66", "kerberoaster": "user03", "lsass_host": "ws03.corp.local",
                  "group": "Administrators"}
