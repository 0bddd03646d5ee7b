"""Windows Security / Sysmon / MSSQL event -> one ``auth`` or ``process`` row.

Shared by the EVTX reader and the Winlogbeat/OTRF JSON reader: both hand over
the event id, the channel, the computer and the event's data fields as a
flat ``{name: value}`` dict (EVTX ``EventData``, Winlogbeat
``winlog.event_data``, or the top-level fields of an OTRF record).

>>> kind, row = map_event(4625, "Security", "DC1", {"TargetUserName": "Bob", "IpAddress": "10.0.0.5",
...                       "Status": "0xC000006D", "SubStatus": "0xC000006A", "LogonType": 3})
>>> kind, row["event.action"], row["user.name"], row["source.ip"], row["auth.failure_reason"]
('auth', 'logon-failed', 'bob', '10.0.0.5', '0xc000006a')

:func:`map_columns` is the same mapping for a whole group of records of one
event id held as Arrow columns (the EVTX reader's fast path): every value
gets exactly the normalisation of the per-record code, done by Arrow
kernels; rare or irregular values fall back to the per-record helpers.

>>> import pyarrow as pa
>>> cols = {"TargetUserName": pa.array([" Bob ", "eve@CORP"]), "IpAddress": pa.array(["::ffff:10.0.0.5", "-"]),
...         "Status": pa.array(["0xC000006D"] * 2), "SubStatus": pa.array(["0x0", "0xC0000064"]),
...         "LogonType": pa.array([3, 3])}
>>> kind, keep, c = map_columns(4625, pa.array(["Security"] * 2), pa.array(["DC1"] * 2), cols.get, 2)
>>> kind, keep, c["user.name"].to_pylist(), c["source.ip"].to_pylist(), c["auth.failure_reason"].to_pylist()
('auth', None, ['bob', 'eve'], ['10.0.0.5', ''], ['0xc000006d', '0xc0000064'])
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
        user, reason, ip = _mssql(data)
        row.update({"user.name": user, "auth.failure_reason": reason, "source.ip": ip,
                    "service.name": "mssql", "auth.method": "sql"})
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
        row.update({"user.name": subject, "user.domain": _s(g("SubjectDomainName")),
                    "group.name": _s(g("TargetUserName")),
                    "user.target.name": _member(g("MemberName"), g("MemberSid"))})
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


def _mssql(data) -> tuple[str, str, str]:
    """MSSQL 18456 Data values [login, reason, [CLIENT: ip]] -> (user, reason, client address)."""
    data = list(data) + ["", "", ""]
    m = _MSSQL_CLIENT.search(str(data[2]))
    return _user(data[0]), _s(data[1]).removeprefix("Reason: "), m.group(1) if m else ""


def _sha256(v) -> str:
    """SHA256=... out of Sysmon's Hashes list (the last one when repeated)."""
    sha = ""
    for part in _s(v).split(","):
        k, _, val = part.partition("=")
        if k.strip().upper() == "SHA256":
            sha = val.strip().lower()
    return sha


def _member(member, sid) -> str:
    """Group member: the CN of MemberName, else MemberName, else MemberSid (lower case)."""
    member = _s(member)
    m = _CN.search(member)
    return (m.group(1).replace("\\,", ",") if m else member or _s(sid)).lower()


def _sysmon(eid: int, computer: str, d: dict) -> dict:
    g = d.get
    row = {"event.code": str(eid), "event.action": SYSMON_ACTIONS[eid], "host.name": computer,
           "user.name": _s(g("User")).lower()}
    if eid == 1:
        sha = _sha256(g("Hashes"))
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


# ---------------------------------------------------------------- columnar (a group of records of one event id)
#: exactly the characters ``str.strip()`` / ``str.split()`` treat as white space
_WS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) \
    + "\u2028\u2029\u202f\u205f\u3000"
_EMPTY_SET = pa.array(sorted(_EMPTY))
_WS_CLASS = "".join(f"\\x{{{ord(c):x}}}" for c in _WS)  # for Arrow's (RE2) patterns
_WS_RUN = f"[{_WS_CLASS}]+"
_CLIENT_RE2 = f"CLIENT:[{_WS_CLASS}]*(?P<ip>[^\\]{_WS_CLASS}]+)"  # _MSSQL_CLIENT with Python's white space
_ZERO_STATUS = pa.array(["0x0", ""])

Column = "pa.Array | np.ndarray | str"
Getter = Callable[[str], "pa.Array | None"]


class Irregular(ValueError):
    """A column the columnar mapping does not take (nested, float or boolean values): map those records one by one."""


def _vs(a: pa.Array | None, n: int) -> pa.Array:
    """:func:`_s` on a column: strings trimmed, placeholders and nulls -> ""."""
    if a is None or pa.types.is_null(a.type):
        return pa.repeat("", n)
    if pa.types.is_integer(a.type):
        a = a.cast(pa.string())
    elif not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        raise Irregular(f"values of type {a.type}")
    t = pc.utf8_trim(a, _WS)
    return pc.if_else(pc.is_in(t, value_set=_EMPTY_SET), "", t).fill_null("").cast(pa.string())


def _lower(a: pa.Array) -> pa.Array:
    """``str.lower`` on a column (Arrow's for ASCII; Python's when any value is not, the two differ there)."""
    if pc.all(pc.string_is_ascii(a)).as_py() is not False:
        return pc.ascii_lower(a)
    return pa.array([v.lower() for v in a.to_pylist()], pa.string())


def _vuser(a: pa.Array | None, n: int) -> pa.Array:
    s = _lower(_vs(a, n))
    if pc.any(pc.match_substring(s, "@")).as_py():  # 4769: user@DOMAIN
        s = pc.list_element(pc.split_pattern(s, "@", max_splits=1), 0)
    return s


def _vip(a: pa.Array | None, n: int) -> pa.Array:
    s = _vs(a, n)
    return pc.if_else(pc.starts_with(s, "::ffff:"), pc.utf8_slice_codeunits(s, 7), s)


def _vhex(a: pa.Array | None, n: int) -> pa.Array:
    return _lower(_vs(a, n))


def _vnum(a: pa.Array | None, n: int) -> np.ndarray:
    """:func:`_num` on a column: integers cast, plain digit strings parsed by Arrow, any other text by ``_num``."""
    out = np.full(n, np.nan)
    if a is None or pa.types.is_null(a.type):
        return out
    if pa.types.is_integer(a.type):
        vals = a.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return np.where(a.is_null().to_numpy(zero_copy_only=False), np.nan, vals)
    if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        raise Irregular(f"values of type {a.type}")
    digits = pc.fill_null(pc.match_substring_regex(a, r"^[0-9]+$"), False).to_numpy(zero_copy_only=False)
    if digits.any():
        out[digits] = pc.filter(a, digits).cast(pa.float64()).to_numpy(zero_copy_only=False)
    rest = ~digits & ~pc.fill_null(pc.is_in(a, value_set=pa.array(["-", ""])), True).to_numpy(zero_copy_only=False)
    if rest.any():  # hex ("0x1a4"), signs, blanks: the per-record rule decides
        idx = np.flatnonzero(rest)
        out[idx] = [_num(v) for v in pc.take(a, idx).to_pylist()]
    return out


def _py(fn, n: int, *cols: pa.Array | None) -> pa.Array:
    """A per-record helper over whole columns (rare fields whose rule has no Arrow kernel)."""
    lists = [c.to_pylist() if c is not None else [None] * n for c in cols]
    return pa.array([fn(*vals) for vals in zip(*lists)], pa.string())


def _where(cond: pa.Array, yes: pa.Array | str, no: pa.Array | str) -> pa.Array:
    return pc.if_else(cond, yes, no)


def map_columns(eid: int, channel: pa.Array, computer: pa.Array, get: Getter, n: int,
                ) -> tuple[str, np.ndarray | None, dict[str, Column]] | None:
    """:func:`map_event` for ``n`` records of event id ``eid``: (kind, rows kept or None for all, columns).

    ``get(name)`` returns the data field ``name`` as an Arrow array (None when
    absent); ``channel`` and ``computer`` are string arrays without nulls.
    Columns are Arrow string arrays, float arrays or one string for all
    rows; rows outside ``keep`` are not events of that kind (wrong channel).
    Raises :class:`Irregular` for values it cannot map exactly like
    :func:`map_event` (nested, float or boolean values).
    """
    low = _lower(channel)
    if eid == 18456:  # MSSQL (Application log) only; its one field is the unnamed Data list
        keep = pc.invert(pc.match_substring(low, "security")).to_numpy(zero_copy_only=False)
        return "auth", keep, _mssql_columns(computer, get("Data"), n)
    if eid in AUTH_ACTIONS:
        return "auth", None, _auth_columns(eid, computer, get, n)
    if eid in SYSMON_ACTIONS:
        keep = pc.match_substring(low, "sysmon").to_numpy(zero_copy_only=False)
        return "process", keep, _sysmon_columns(eid, computer, get, n)
    if eid in OBJECT_ACCESS:
        keep = pc.equal(_vs(get("ObjectType"), n), "Process").to_numpy(zero_copy_only=False)
        return "process", keep, {
            "event.code": str(eid), "event.action": OBJECT_ACCESS[eid], "host.name": computer,
            "user.name": _vuser(get("SubjectUserName"), n), "process.pid": _vnum(get("ProcessId"), n),
            "process.executable": _vs(get("ProcessName"), n), "process.target.executable": _vs(get("ObjectName"), n),
            "process.granted_access": _vhex(get("AccessMask"), n),
        }
    return None


def _mssql_columns(computer: pa.Array, data: pa.Array | None, n: int) -> dict[str, Column]:
    """18456 rows from the ``Data`` column (list, ``{"#text": list}`` or one value per row): :func:`_mssql` on columns.

    The caller guarantees EventData held nothing but ``Data`` (and ``Binary``),
    which is when :func:`event_fields` hands the unnamed list over.
    """
    if data is not None and pa.types.is_struct(data.type):  # {"#attributes": ..., "#text": [...]}
        data = pc.struct_field(data, "#text") if "#text" in data.type.names else None
    if data is None or pa.types.is_null(data.type):
        login = reason = client = None
    elif pa.types.is_list(data.type) or pa.types.is_large_list(data.type):
        first3 = pc.list_slice(data, 0, 3, return_fixed_size_list=True)  # short lists padded with nulls
        login, reason, client = (pc.list_element(first3, k) for k in range(3))
    else:  # one value: [value]
        login, reason, client = data, None, None
    why = _vs(reason, n)
    why = pc.if_else(pc.starts_with(why, "Reason: "), pc.utf8_slice_codeunits(why, 8), why)
    if client is None or pa.types.is_null(client.type):
        ip = pa.repeat("", n)
    else:
        if pa.types.is_integer(client.type):
            client = client.cast(pa.string())
        elif not pa.types.is_string(client.type):
            raise Irregular(f"MSSQL client of type {client.type}")
        ip = pc.struct_field(pc.extract_regex(client, _CLIENT_RE2), [0]).fill_null("")
    return {"event.code": "18456", "event.action": AUTH_ACTIONS[18456][0], "event.outcome": AUTH_ACTIONS[18456][1],
            "host.name": computer, "user.name": _vuser(login, n), "auth.failure_reason": why, "source.ip": ip,
            "service.name": "mssql", "auth.method": "sql", "event.dataset": "mssql"}


def _auth_columns(eid: int, computer: pa.Array, get: Getter, n: int) -> dict[str, Column]:
    action, outcome = AUTH_ACTIONS[eid]
    c: dict[str, Column] = {"event.code": str(eid), "event.action": action, "event.outcome": outcome,
                            "host.name": computer}
    s = lambda name: _vs(get(name), n)  # noqa: E731 - short local spellings of the per-record code
    user = lambda name: _vuser(get(name), n)  # noqa: E731
    c["source.ip"] = _vip(get("IpAddress"), n)
    c["source.port"] = _vnum(get("IpPort"), n)
    if eid in (4624, 4625, 4634, 4647):
        c.update({"user.name": user("TargetUserName"), "user.domain": s("TargetDomainName"),
                  "user.id": s("TargetUserSid"), "auth.logon_type": s("LogonType"),
                  "source.hostname": s("WorkstationName"), "auth.method": _lower(s("AuthenticationPackageName")),
                  "process.name": s("ProcessName"), "user.effective.name": user("SubjectUserName")})
        if eid == 4625:
            sub = _vhex(get("SubStatus"), n)
            good = pc.and_(pc.not_equal(sub, ""), pc.not_equal(sub, "0x0"))
            c["auth.failure_reason"] = _where(good, sub, _vhex(get("Status"), n))
    elif eid == 4648:
        c.update({"user.name": user("SubjectUserName"), "user.domain": s("SubjectDomainName"),
                  "user.effective.name": user("TargetUserName"), "service.name": s("TargetServerName"),
                  "process.name": s("ProcessName")})
    elif eid == 4672:
        c.update({"user.name": user("SubjectUserName"), "user.domain": s("SubjectDomainName"),
                  "user.id": s("SubjectUserSid"),
                  "service.name": pc.replace_substring_regex(s("PrivilegeList"), _WS_RUN, " ")})
    elif eid in (4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767):
        c.update({"user.name": user("SubjectUserName"), "user.domain": s("SubjectDomainName"),
                  "user.target.name": user("TargetUserName")})
        if eid == 4740:
            c["source.hostname"] = s("TargetDomainName")  # the caller computer
    elif eid in (4727, 4731, 4754, 4728, 4729, 4732, 4733, 4756, 4757):
        c.update({"user.name": user("SubjectUserName"), "user.domain": s("SubjectDomainName"),
                  "group.name": s("TargetUserName"),
                  "user.target.name": _py(_member, n, get("MemberName"), get("MemberSid"))})
    elif eid in (4768, 4769, 4770, 4771):
        status = _vhex(get("Status"), n)
        c.update({"user.name": user("TargetUserName"), "user.domain": s("TargetDomainName"), "user.id": s("TargetSid"),
                  "service.name": s("ServiceName"), "tls.cipher": _vhex(get("TicketEncryptionType"), n),
                  "auth.method": "kerberos"})
        if eid in (4768, 4769):
            failed = pc.invert(pc.is_in(status, value_set=_ZERO_STATUS))
            c["event.outcome"] = _where(failed, "failure", "success")
            c["auth.failure_reason"] = _where(failed, status, "")
        elif eid == 4771:
            c["auth.failure_reason"] = status
    elif eid == 4776:
        status = _vhex(get("Status"), n)
        failed = pc.invert(pc.is_in(status, value_set=_ZERO_STATUS))
        c.update({"user.name": user("TargetUserName"), "source.hostname": s("Workstation"), "auth.method": "ntlm",
                  "event.outcome": _where(failed, "failure", "success"),
                  "auth.failure_reason": _where(failed, status, "")})
    elif eid in (4778, 4779):
        c.update({"user.name": user("AccountName"), "source.ip": _vip(get("ClientAddress"), n),
                  "source.hostname": s("ClientName")})
    elif eid == 1102:
        c["user.name"] = user("SubjectUserName")
    if eid in (4723, 4724):
        c["event.outcome"] = "success"
    return c


def _sysmon_columns(eid: int, computer: pa.Array, get: Getter, n: int) -> dict[str, Column]:
    s = lambda name: _vs(get(name), n)  # noqa: E731
    c: dict[str, Column] = {"event.code": str(eid), "event.action": SYSMON_ACTIONS[eid], "host.name": computer,
                            "user.name": _lower(s("User"))}
    if eid == 1:
        c.update({"process.pid": _vnum(get("ProcessId"), n), "process.executable": s("Image"),
                  "process.command_line": s("CommandLine"), "process.parent.executable": s("ParentImage"),
                  "process.parent.command_line": s("ParentCommandLine"),
                  "process.hash.sha256": _py(_sha256, n, get("Hashes"))})
    elif eid == 3:
        c.update({"process.pid": _vnum(get("ProcessId"), n), "process.executable": s("Image"),
                  "source.ip": _vip(get("SourceIp"), n), "destination.ip": _vip(get("DestinationIp"), n),
                  "destination.port": _vnum(get("DestinationPort"), n)})
    else:
        c.update({"process.pid": _vnum(get("SourceProcessId"), n), "process.executable": s("SourceImage"),
                  "process.target.executable": s("TargetImage"), "process.target.pid": _vnum(get("TargetProcessId"), n),
                  "process.granted_access": _vhex(get("GrantedAccess"), n), "process.call_trace": s("CallTrace")})
    return c
