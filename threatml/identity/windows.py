"""Windows Security / Sysmon / MSSQL event -> one ``auth`` or ``process`` row.

Shared by the EVTX reader and the Winlogbeat/OTRF JSON reader: both hand over
the event id, the channel, the computer and the event's data fields as a
flat ``{name: value}`` dict (EVTX ``EventData``, Winlogbeat
``winlog.event_data``, or the top-level fields of an OTRF record).

>>> kind, row = map_event(4625, "Security", "DC1", {"TargetUserName": "Bob", "IpAddress": "10.0.0.5",
...                       "Status": "0xC000006D", "SubStatus": "0xC000006A", "LogonType": 3})
>>> kind, row["event.action"], row["user.name"], row["source.ip"], row["auth.failure_reason"]
('auth', 'logon-failed', 'bob', '10.0.0.5', '0xc000006a')
"""

from __future__ import annotations

import re

#: event ids of the Security log mapped to auth events (action, outcome when fixed)
AUTH_ACTIONS: dict[int, tuple[str, str]] = {
    4624: ("logon", "success"),
    4625: ("logon-failed", "failure"),
    4634: ("logoff", "success"),
    4647: ("logoff", "success"),
    4648: ("explicit-credentials", "success"),
    4672: ("admin-logon", "success"),
    4720: ("user-created", "success"),
    4722: ("user-enabled", "success"),
    4723: ("password-change", ""),
    4724: ("password-reset", ""),
    4725: ("user-disabled", "success"),
    4726: ("user-deleted", "success"),
    4727: ("group-created", "success"),
    4728: ("group-member-added", "success"),
    4729: ("group-member-removed", "success"),
    4731: ("group-created", "success"),
    4732: ("group-member-added", "success"),
    4733: ("group-member-removed", "success"),
    4738: ("user-changed", "success"),
    4740: ("lockout", "failure"),
    4754: ("group-created", "success"),
    4756: ("group-member-added", "success"),
    4757: ("group-member-removed", "success"),
    4767: ("user-unlocked", "success"),
    4768: ("kerberos-tgt", ""),
    4769: ("kerberos-service-ticket", ""),
    4770: ("kerberos-ticket-renewed", "success"),
    4771: ("kerberos-preauth-failed", "failure"),
    4776: ("ntlm-validate", ""),
    4778: ("session-reconnected", "success"),
    4779: ("session-disconnected", "success"),
    1102: ("log-cleared", "success"),
    18456: ("logon-failed", "failure"),  # MSSQL (Application log): login failed
}

#: Sysmon event ids mapped to process events
SYSMON_ACTIONS = {1: "process-created", 3: "network-connection", 10: "process-access"}
#: Security object-access events about a process handle (lsass dumping without Sysmon)
OBJECT_ACCESS = {4656: "process-handle-requested", 4663: "process-object-access"}

_CN = re.compile(r"CN=((?:\\,|[^,])+)")
_MSSQL_CLIENT = re.compile(r"CLIENT:\s*([^\]\s]+)")


_EMPTY = frozenset({"-", "%%1793", ""})


def _s(v) -> str:
    if v.__class__ is str:  # the common case first: one type check, one strip
        v = v.strip()
        return "" if v in _EMPTY else v
    if v is None:
        return ""
    v = str(v).strip()
    return "" if v in _EMPTY else v


def _ip(v) -> str:
    s = _s(v)
    if s.startswith("::ffff:"):
        s = s[7:]
    return s


def _num(v) -> float:
    try:
        return float(int(str(v), 0)) if isinstance(v, str) and v.lower().startswith("0x") else float(v)
    except (TypeError, ValueError):
        return float("nan")


def _user(v) -> str:
    s = _s(v).lower()
    if "@" in s:  # 4769: user@DOMAIN
        s = s.split("@", 1)[0]
    return s


def _hex(v) -> str:
    return _s(v).lower()


def map_event(eid: int, channel: str, computer: str, d: dict) -> tuple[str, dict] | None:
    """(kind, row) for a mapped event, None for an event id we do not map."""
    if eid in AUTH_ACTIONS and (eid != 18456 or "security" not in channel.lower()):
        return "auth", _auth(eid, channel, computer, d)
    low = channel.lower()
    if eid in SYSMON_ACTIONS and "sysmon" in low:
        return "process", _sysmon(eid, computer, d)
    if eid in OBJECT_ACCESS and _s(d.get("ObjectType")) == "Process":
        return "process", {
            "event.code": str(eid), "event.action": OBJECT_ACCESS[eid], "host.name": computer,
            "user.name": _user(d.get("SubjectUserName")), "process.pid": _num(d.get("ProcessId")),
            "process.executable": _s(d.get("ProcessName")), "process.target.executable": _s(d.get("ObjectName")),
            "process.granted_access": _hex(d.get("AccessMask")),
        }
    return None


def _auth(eid: int, channel: str, computer: str, d: dict) -> dict:
    action, outcome = AUTH_ACTIONS[eid]
    row = {"event.code": str(eid), "event.action": action, "event.outcome": outcome, "host.name": computer}
    g = d.get
    if eid == 18456:  # MSSQL: unnamed Data list [login, reason, [CLIENT: ip]]
        data = g("Data") or g("param1") or []
        if isinstance(data, str):
            data = [data, g("param2", ""), g("param3", "")]
        data = list(data) + ["", "", ""]
        m = _MSSQL_CLIENT.search(str(data[2]))
        row.update({"user.name": _user(data[0]), "auth.failure_reason": _s(data[1]).removeprefix("Reason: "),
                    "source.ip": m.group(1) if m else "", "service.name": "mssql", "auth.method": "sql"})
        return row
    target, subject = _user(g("TargetUserName")), _user(g("SubjectUserName"))
    row["source.ip"] = _ip(g("IpAddress"))
    row["source.port"] = _num(g("IpPort"))
    if eid in (4624, 4625, 4634, 4647):
        row.update({"user.name": target, "user.domain": _s(g("TargetDomainName")), "user.id": _s(g("TargetUserSid")),
                    "auth.logon_type": _s(g("LogonType")), "source.hostname": _s(g("WorkstationName")),
                    "auth.method": _s(g("AuthenticationPackageName")).lower(),
                    "process.name": _s(g("ProcessName")), "user.effective.name": subject})
        if eid == 4625:
            sub = _hex(g("SubStatus"))
            row["auth.failure_reason"] = sub if sub and sub != "0x0" else _hex(g("Status"))
    elif eid == 4648:
        row.update({"user.name": subject, "user.domain": _s(g("SubjectDomainName")),
                    "user.effective.name": target, "service.name": _s(g("TargetServerName")),
                    "process.name": _s(g("ProcessName"))})
    elif eid == 4672:
        row.update({"user.name": subject, "user.domain": _s(g("SubjectDomainName")), "user.id": _s(g("SubjectUserSid")),
                    "service.name": " ".join(_s(g("PrivilegeList")).split())})
    elif eid in (4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767):
        row.update({"user.name": subject, "user.domain": _s(g("SubjectDomainName")), "user.target.name": target})
        if eid == 4740:
            row["source.hostname"] = _s(g("TargetDomainName"))  # the caller computer
    elif eid in (4727, 4731, 4754, 4728, 4729, 4732, 4733, 4756, 4757):
        member = _s(g("MemberName"))
        m = _CN.search(member)
        row.update({"user.name": subject, "user.domain": _s(g("SubjectDomainName")), "group.name": _s(g("TargetUserName")),
                    "user.target.name": (m.group(1).replace("\\,", ",") if m else member or _s(g("MemberSid"))).lower()})
    elif eid in (4768, 4769, 4770, 4771):
        status = _hex(g("Status"))
        row.update({"user.name": target, "user.domain": _s(g("TargetDomainName")), "user.id": _s(g("TargetSid")),
                    "service.name": _s(g("ServiceName")), "tls.cipher": _hex(g("TicketEncryptionType")),
                    "auth.method": "kerberos"})
        if eid != 4771 and eid != 4770:
            row["event.outcome"] = "success" if status in ("0x0", "") else "failure"
        if row["event.outcome"] == "failure":
            row["auth.failure_reason"] = status
    elif eid == 4776:
        status = _hex(g("Status"))
        row.update({"user.name": target, "source.hostname": _s(g("Workstation")), "auth.method": "ntlm",
                    "event.outcome": "success" if status in ("0x0", "") else "failure"})
        if status not in ("0x0", ""):
            row["auth.failure_reason"] = status
    elif eid in (4778, 4779):
        row.update({"user.name": _user(g("AccountName")), "source.ip": _ip(g("ClientAddress")),
                    "source.hostname": _s(g("ClientName"))})
    elif eid == 1102:
        row.update({"user.name": subject})
    if eid in (4723, 4724):
        row["event.outcome"] = "success"
    return row


def _sysmon(eid: int, computer: str, d: dict) -> dict:
    g = d.get
    row = {"event.code": str(eid), "event.action": SYSMON_ACTIONS[eid], "host.name": computer,
           "user.name": _s(g("User")).lower()}
    if eid == 1:
        hashes = _s(g("Hashes"))
        sha = ""
        for part in hashes.split(","):
            k, _, v = part.partition("=")
            if k.strip().upper() == "SHA256":
                sha = v.strip().lower()
        row.update({"process.pid": _num(g("ProcessId")), "process.executable": _s(g("Image")),
                    "process.command_line": _s(g("CommandLine")), "process.parent.executable": _s(g("ParentImage")),
                    "process.parent.command_line": _s(g("ParentCommandLine")), "process.hash.sha256": sha})
    elif eid == 3:
        row.update({"process.pid": _num(g("ProcessId")), "process.executable": _s(g("Image")),
                    "source.ip": _ip(g("SourceIp")), "destination.ip": _ip(g("DestinationIp")),
                    "destination.port": _num(g("DestinationPort"))})
    else:
        row.update({"process.pid": _num(g("SourceProcessId")), "process.executable": _s(g("SourceImage")),
                    "process.target.executable": _s(g("TargetImage")), "process.target.pid": _num(g("TargetProcessId")),
                    "process.granted_access": _hex(g("GrantedAccess")), "process.call_trace": _s(g("CallTrace"))})
    return row
