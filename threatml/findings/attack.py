"""MITRE ATT&CK names, tactics and links for the technique ids our detectors emit.

A small built-in table, so exports and reports work offline. Ids not in the
table keep their id only (no guessed names).

>>> technique("T1595.001").name, technique("T1595.001").parent
('Scanning IP Blocks', 'T1595')
>>> technique("T9999").name is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

#: ATT&CK release the names below were checked against
ATTACK_VERSION = "15.1"

TACTICS: dict[str, str] = {
    "TA0043": "Reconnaissance",
    "TA0001": "Initial Access",
    "TA0004": "Privilege Escalation",
    "TA0006": "Credential Access",
    "TA0007": "Discovery",
    "TA0008": "Lateral Movement",
    "TA0010": "Exfiltration",
    "TA0011": "Command and Control",
    "TA0040": "Impact",
}

# technique id -> (name, tactic id)
_TECHNIQUES: dict[str, tuple[str, str]] = {
    "T1046": ("Network Service Discovery", "TA0007"),
    "T1595": ("Active Scanning", "TA0043"),
    "T1595.001": ("Scanning IP Blocks", "TA0043"),
    "T1595.002": ("Vulnerability Scanning", "TA0043"),
    "T1498": ("Network Denial of Service", "TA0040"),
    "T1498.001": ("Direct Network Flood", "TA0040"),
    "T1498.002": ("Reflection Amplification", "TA0040"),
    "T1499": ("Endpoint Denial of Service", "TA0040"),
    "T1499.002": ("Service Exhaustion Flood", "TA0040"),
    "T1499.003": ("Application Exhaustion Flood", "TA0040"),
    "T1110": ("Brute Force", "TA0006"),
    "T1110.001": ("Password Guessing", "TA0006"),
    "T1110.003": ("Password Spraying", "TA0006"),
    "T1110.004": ("Credential Stuffing", "TA0006"),
    "T1071": ("Application Layer Protocol", "TA0011"),
    "T1071.001": ("Web Protocols", "TA0011"),
    "T1071.004": ("DNS", "TA0011"),
    "T1573": ("Encrypted Channel", "TA0011"),
    "T1571": ("Non-Standard Port", "TA0011"),
    "T1568": ("Dynamic Resolution", "TA0011"),
    "T1568.002": ("Domain Generation Algorithms", "TA0011"),
    "T1041": ("Exfiltration Over C2 Channel", "TA0010"),
    "T1048": ("Exfiltration Over Alternative Protocol", "TA0010"),
    "T1048.002": ("Exfiltration Over Asymmetric Encrypted Non-C2 Protocol", "TA0010"),
    "T1048.003": ("Exfiltration Over Unencrypted Non-C2 Protocol", "TA0010"),
    "T1030": ("Data Transfer Size Limits", "TA0010"),
    "T1190": ("Exploit Public-Facing Application", "TA0001"),
    "T1021": ("Remote Services", "TA0008"),
    "T1210": ("Exploitation of Remote Services", "TA0008"),
    "T1068": ("Exploitation for Privilege Escalation", "TA0004"),
}

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
}


@dataclass(frozen=True)
class Technique:
    id: str
    name: str | None
    parent: str | None  # parent technique id for a sub-technique
    tactic_id: str | None
    tactic_name: str | None

    @property
    def reference(self) -> str:
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


def technique(tid: str) -> Technique:
    """Name, parent and tactic of an ATT&CK technique id (unknown parts are None)."""
    tid = tid.strip().upper()
    parent = tid.split(".")[0] if "." in tid else None
    name, tactic = _TECHNIQUES.get(tid, (None, None))
    if tactic is None and parent:
        tactic = _TECHNIQUES.get(parent, (None, None))[1]
    return Technique(tid, name, parent, tactic, TACTICS.get(tactic) if tactic else None)


def activity(tid: str) -> str | None:
    """Short analyst phrase for a technique ("port scan"), or None if unknown."""
    return _ACTIVITY.get(tid.strip().upper().split(".")[0])


def is_denial_of_service(attack: list[str]) -> bool:
    """True when any technique is a denial-of-service one (T1498, T1499)."""
    return any(t.upper().startswith(("T1498", "T1499")) for t in attack)
