"""Identity detectors on generated events: campaigns, compromise, baselines, privilege, Kerberos, LSASS."""

from __future__ import annotations

import pandas as pd

from threatml.detectors.identity import detectors
from threatml.detectors.identity.common import IdentityState
from threatml.detectors.identity.compromise import CompromiseDetector
from threatml.detectors.identity.credential_attack import CredentialAttackDetector
from threatml.detectors.identity.kerberos import KerberoastDetector
from threatml.detectors.identity.lsass import LsassAccessDetector
from threatml.detectors.identity.privilege import PrivilegeDetector
from threatml.detectors.identity.unusual_logon import UnusualLogonDetector
from threatml.detectors.registry import ScanOptions
from threatml.events import EventBatch
from threatml.identity.synthetic import auth_log_lines, windows_events
from threatml.pipeline.scan import Scanner

T0 = 1_678_089_600.0  # 2023-03-06 08:00 UTC, a Monday
_n = [0]


def ev(t, action, outcome, user, ip="", host="srv", **kw) -> dict:
    _n[0] += 1
    return {"event.id": f"e{_n[0]}", "@timestamp": float(t), "event.action": action, "event.outcome": outcome,
            "user.name": user, "source.ip": ip, "host.name": host, **kw}


def batch(rows, kind="auth") -> EventBatch:
    return EventBatch.of(kind, pd.DataFrame(rows), source="gen")


def run(det, *batches):
    out = []
    for b in batches:
        out += det.process(b)
    return out + det.flush()


def fails(ip, users, t0, step=10.0, n_each=1):
    return [ev(t0 + step * (i * n_each + k), "logon-failed", "failure", u, ip)
            for i, u in enumerate(users) for k in range(n_each)]


def test_brute_force_one_finding_per_campaign_across_batches():
    rows = fails("6.6.6.6", ["root"], T0, step=5, n_each=30)
    later = fails("6.6.6.6", ["root"], T0 + 5 * 3600, step=5, n_each=12)  # after a long gap: a new campaign
    out = run(CredentialAttackDetector(), batch(rows[:10]), batch(rows[10:]), batch(later))
    assert [f.attributes["failed_attempts"] for f in out] == [30, 12]
    f = out[0]
    assert f.entity == "6.6.6.6" and f.attack == ["T1110.001"] and f.related["user"] == ["root"]
    assert f.attributes["peak_per_window"] == 30 and "threshold 10" in f.explanation[1]


def test_below_threshold_noise_is_not_reported():
    rows = fails("7.7.7.7", ["admin"], T0, step=700, n_each=9)  # 9 tries spread over 1.75 h
    assert run(CredentialAttackDetector(), batch(rows)) == []


def test_spraying_and_stuffing_patterns():
    spray = fails("8.8.8.8", [f"user{i}" for i in range(8)], T0, n_each=2)
    out = run(CredentialAttackDetector(), batch(spray))
    assert len(out) == 1 and out[0].attack == ["T1110.003"] and out[0].attributes["accounts"] == 8
    stuffing = fails("9.9.9.9", [f"p{i}@mail.example" for i in range(30)], T0)
    stuffing.append(ev(T0 + 400, "logon", "success", "p3@mail.example", "9.9.9.9"))
    out = run(CredentialAttackDetector(), batch(stuffing))
    assert out[0].attack == ["T1110.004", "T1078"] and out[0].attributes["successes"] == 1


def test_compromise_after_failures_but_not_for_other_accounts_of_the_source():
    rows = fails("5.5.5.5", ["alice"], T0, step=5, n_each=12)
    rows.append(ev(T0 + 100, "logon", "success", "alice", "5.5.5.5"))
    # the admin's address fails on test accounts, then the admin logs on: not a compromise of the admin
    rows += fails("85.1.1.1", [f"test{i}" for i in range(4)], T0, step=5, n_each=3)
    rows.append(ev(T0 + 200, "logon", "success", "admin", "85.1.1.1"))
    out = run(CompromiseDetector(), batch(rows))
    assert [f.entity for f in out] == ["alice"]
    assert out[0].severity == "high" and "after 12 failed attempts" in out[0].explanation[0]


def test_owner_with_old_password_is_not_high():
    rows = [ev(T0 - 86400, "logon", "success", "erin", "10.9.9.9")]  # her usual address
    rows += fails("10.9.9.9", ["erin"], T0, step=30, n_each=15)  # a phone with the old password
    rows.append(ev(T0 + 600, "logon", "success", "erin", "10.9.9.9"))
    out = run(CompromiseDetector(), batch(rows))
    assert len(out) == 1 and out[0].severity == "medium"
    assert any("usual address" in s for s in out[0].explanation)


def _habit(user, days, ip="10.1.1.5", hour=9, host="srv"):
    return [ev(T0 - 8 * 3600 + d * 86400 + hour * 3600, "logon", "success", user, ip, host=host)
            for d in range(days)]


def test_unusual_logon_reports_broken_parts_with_baseline_values():
    state = IdentityState()
    det = UnusualLogonDetector(state=state, save_state=False)
    rows = _habit("alice", 12) + _habit("bob", 12, ip="10.1.1.6")
    odd = ev(T0 + 13 * 86400 + 19 * 3600, "logon", "success", "alice", "203.0.113.50")  # 03:00 UTC next day
    out = run(det, batch(rows), batch([odd]))
    assert len(out) == 1
    f = out[0]
    assert f.entity == "alice" and "source network /16" in f.title and "hour of day" in f.title
    assert any("baseline" in s and "observed" in s for s in f.explanation)
    assert f.related["source.ip"] == ["203.0.113.50"] and 0 < f.attributes["entity_risk"]


def test_lateral_movement_new_host_and_path():
    state = IdentityState()
    rows = [ev(T0 + d * 86400, "logon", "success", "carol", host="fs1", **{"source.hostname": "ws7"})
            for d in range(12)]
    hop = ev(T0 + 12 * 86400, "logon", "success", "carol", host="dc1", **{"source.hostname": "ws7"})
    out = run(UnusualLogonDetector(state=state, save_state=False), batch(rows + [hop]))
    assert len(out) == 1 and "T1021" in out[0].attack
    assert "user-to-host pair" in out[0].title and "logon graph path" in out[0].title


def test_first_admin_use_group_change_account_churn():
    state = IdentityState()
    rows = _habit("dave", 12)
    state.baselines  # noqa: B018  (create)
    for r in rows:
        state.baselines.learn(r["user.name"], r["@timestamp"], ip=r["source.ip"], host="srv")
    t = T0 + 13 * 86400
    events = [ev(t, "sudo", "success", "dave", **{"user.effective.name": "root", "service.name": "/bin/bash"}),
              ev(t + 5, "sudo", "success", "dave", **{"service.name": "/usr/sbin/useradd tmp1"}),
              ev(t + 6, "user-created", "success", "", **{"user.target.name": "tmp1"}),
              ev(t + 7, "group-member-added", "success", "", **{"user.target.name": "tmp1", "group.name": "sudo"}),
              ev(t + 60, "user-deleted", "success", "", **{"user.target.name": "tmp1"})]
    out = run(PrivilegeDetector(state=state), batch(events))
    titles = sorted(f.title for f in out)
    assert titles == ["First use of admin rights by dave", "dave added members to privileged group(s) sudo",
                      "dave created 1 and deleted 1 account(s)"]
    churn = [f for f in out if "deleted" in f.title][0]
    assert churn.score == 0.5 and set(churn.attack) == {"T1136", "T1531"}


def test_kerberoasting_and_single_rc4():
    svc = ["MSSQLSvc/db1", "HTTP/web1", "CIFS/fs1"]
    rows = [ev(T0 + i, "kerberos-service-ticket", "success", "mallory", "10.0.0.9",
               **{"service.name": s, "tls.cipher": "0x17"}) for i, s in enumerate(svc)]
    rows.append(ev(T0 + 9, "kerberos-service-ticket", "success", "mallory", "10.0.0.9",
                   **{"service.name": "krbtgt/CORP", "tls.cipher": "0x17"}))
    rows.append(ev(T0 + 5, "kerberos-service-ticket", "success", "ann", "10.0.0.3",
                   **{"service.name": "HTTP/web1", "tls.cipher": "0x12"}))
    rows.append(ev(T0 + 5, "kerberos-service-ticket", "success", "ben", "10.0.0.4",
                   **{"service.name": "HTTP/old", "tls.cipher": "0x17"}))
    out = {f.entity: f for f in run(KerberoastDetector(), batch(rows))}
    assert set(out) == {"mallory", "ben"}
    assert out["mallory"].severity == "high" and out["mallory"].attributes["rc4_services"] == 3
    assert out["ben"].severity == "low"


def test_lsass_access():
    rows = [{"event.id": "p1", "@timestamp": T0, "host.name": "ws1", "process.executable": "C:\\x\\mimikatz.exe",
             "process.target.executable": "C:\\Windows\\system32\\lsass.exe", "process.granted_access": "0x1010"},
            {"event.id": "p2", "@timestamp": T0, "host.name": "ws1", "process.executable": "C:\\Windows\\system32\\csrss.exe",
             "process.target.executable": "C:\\Windows\\system32\\lsass.exe", "process.granted_access": "0x1fffff"},
            {"event.id": "p3", "@timestamp": T0, "host.name": "ws1", "process.executable": "C:\\a\\b.exe",
             "process.target.executable": "C:\\Windows\\system32\\lsass.exe", "process.granted_access": "0x1000"}]
    out = run(LsassAccessDetector(), batch(rows, kind="process"))
    assert len(out) == 1 and out[0].severity == "critical" and out[0].attack == ["T1003.001"]


def test_generated_logs_end_to_end(tmp_path):
    lines, truth = auth_log_lines(days=14, seed=3)
    recs, wtruth = windows_events()
    (tmp_path / "auth.log").write_text("\n".join(lines) + "\n")
    import json

    (tmp_path / "win.json").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    res = Scanner(detectors(ScanOptions())).scan([tmp_path])
    by = {}
    for f in res.findings:
        by.setdefault(f.detector, []).append(f)
    brute = {f.entity for f in by["identity.credential_attack"]}
    assert set(truth["bruteforce_sources"]) | set(truth["spray_sources"]) | {wtruth["spray_source"]} <= brute
    assert [f.entity for f in by["identity.compromise"]] == truth["compromised"]
    assert [f.entity for f in by["identity.kerberos"]] == [wtruth["kerberoaster"]]
    assert [f.entity for f in by["identity.lsass_access"]] == [wtruth["lsass_host"]]
    # benign staff logons with one mistyped password each produce nothing high
    assert not [f for f in res.findings if f.severity in ("high", "critical")
                and f.detector in ("identity.unusual_logon", "identity.privilege")]
