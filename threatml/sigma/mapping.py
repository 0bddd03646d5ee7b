"""Which Sigma log sources we can evaluate, on which event kind, with which field names.

A Sigma rule names its log source (``product``/``category``/``service``); we
evaluate it only when a :class:`Source` below matches, on the event kind that
source gives, with the source's field mapping. Sigma fields that have no
mapping keep their own name and are looked up in the batch as raw columns
(``CommandLine`` or ``winlog.event_data.CommandLine``) when a reader keeps them,
so rules on fields we do not normalise still work on readers that carry them.

>>> source_for({"product": "windows", "category": "process_creation"}).kind
'process'
>>> source_for({"product": "aws", "service": "cloudtrail"}) is None
True
>>> raw_candidates("GrantedAccess")
('GrantedAccess', 'winlog.event_data.GrantedAccess')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

#: prefixes under which readers keep raw (unnormalised) fields
RAW_PREFIXES: tuple[str, ...] = ("", "winlog.event_data.")

_WINDOWS_COMMON = {"Computer": "host.name", "EventID": "event.code"}

PROCESS_CREATION_FIELDS = {
    **_WINDOWS_COMMON,
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "User": "user.name",
    "ProcessId": "process.pid",
    "sha256": "process.hash.sha256",
}
PROCESS_ACCESS_FIELDS = {
    **_WINDOWS_COMMON,
    "SourceImage": "process.executable",
    "TargetImage": "process.target.executable",
    "GrantedAccess": "process.granted_access",
    "SourceUser": "user.name",
    "CallTrace": "process.call_trace",
    "TargetProcessId": "process.target.pid",
    "SourceProcessId": "process.pid",
}
NETWORK_CONNECTION_FIELDS = {
    **_WINDOWS_COMMON,
    "Image": "process.executable",
    "User": "user.name",
    "SourceIp": "source.ip",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
}
SECURITY_FIELDS = {
    **_WINDOWS_COMMON,
    "TargetUserName": "user.name",
    "TargetDomainName": "user.domain",
    "IpAddress": "source.ip",
    "IpPort": "source.port",
    "LogonType": "auth.logon_type",
    "WorkstationName": "source.hostname",
    "Workstation": "source.hostname",
    "ServiceName": "service.name",
    "TicketEncryptionType": "tls.cipher",
    "AuthenticationPackageName": "auth.method",
}
LINUX_FIELDS = {"host": "host.name", "program": "process.name", "message": "message"}


@dataclass(frozen=True)
class Source:
    """A Sigma log source we evaluate: rules matching ``product``/``category``/``service``
    (None = any) run on ``kind`` events where ``prefilter`` (SQL) holds."""

    name: str
    kind: str
    product: str | None
    category: str | None
    service: str | None
    fields: dict = field(default_factory=dict)
    prefilter: str = "true"

    def matches(self, logsource: dict) -> bool:
        for key in ("product", "category", "service"):
            want, got = getattr(self, key), logsource.get(key)
            if want == "*":
                continue
            if want != got:
                return False
        return True


_IS_WINDOWS = "(\"event.dataset\" = '' OR \"event.dataset\" ILIKE '%win%' OR \"event.dataset\" ILIKE '%evtx%' OR \"event.dataset\" ILIKE '%sysmon%')"


def _action(actions: tuple[str, ...], codes: tuple[str, ...]) -> str:
    acts = ", ".join(f"'{a}'" for a in actions)
    cds = ", ".join(f"'{c}'" for c in codes)
    return f"(\"event.action\" IN ({acts}) OR (\"event.action\" = '' AND \"event.code\" IN ({cds}, '')))"


#: services whose records no reader of ours produces (auditd has its own key=value format)
UNSUPPORTED_SERVICES = frozenset({"auditd"})

#: most specific first; the first match wins
SOURCES: tuple[Source, ...] = (
    Source("process_creation", "process", "*", "process_creation", None, PROCESS_CREATION_FIELDS,
           _action(("process-created", "process-create", "process_started"), ("1", "4688"))),
    Source("process_access", "process", "windows", "process_access", None, PROCESS_ACCESS_FIELDS,
           _action(("process-access", "process-accessed"), ("10",))),
    Source("network_connection", "process", "*", "network_connection", None, NETWORK_CONNECTION_FIELDS,
           _action(("network-connection", "connection"), ("3",))),
    Source("windows_sysmon", "process", "windows", None, "sysmon", {**PROCESS_CREATION_FIELDS}),
    Source("windows_security", "auth", "windows", None, "security", SECURITY_FIELDS, _IS_WINDOWS),
    Source("linux_auth", "auth", "linux", None, "*", LINUX_FIELDS, "\"message\" <> ''"),
    Source("linux_log", "log", "linux", None, "*", LINUX_FIELDS),
)


def sources_for(logsource: dict) -> list[Source]:
    """Every source a rule's log source runs on (a Linux rule runs on both ``log`` and ``auth``)."""
    ls = {k: (v.lower() if isinstance(v, str) else v) for k, v in logsource.items()}
    if ls.get("service") in UNSUPPORTED_SERVICES:
        return []
    out: list[Source] = []
    for s in SOURCES:
        if s.matches(ls) and all(o.kind != s.kind for o in out):
            out.append(s)
    return out


def source_for(logsource: dict) -> Source | None:
    found = sources_for(logsource)
    return found[0] if found else None


def raw_candidates(field_name: str) -> tuple[str, ...]:
    """Column names under which a reader may keep the raw Sigma field, in preference order."""
    return tuple(p + field_name for p in RAW_PREFIXES)


def pipeline_for(source: Source) -> ProcessingPipeline:
    """The pySigma processing pipeline renaming Sigma fields to ours for ``source``."""
    return ProcessingPipeline(
        name=f"threatml {source.name}",
        priority=20,
        items=[ProcessingItem(identifier=f"threatml_{source.name}_fields",
                              transformation=FieldMappingTransformation(dict(source.fields)))],
    )


