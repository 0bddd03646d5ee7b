"""Event schemas: stable, explicit field names and types per event kind.

Every reader turns its source into pandas DataFrames whose columns follow one of
these schemas. Names follow the Elastic Common Schema where ECS has the field;
the few ThreatML-specific fields live under ``flow.*`` and ``label*``.

Conventions that every kind shares:

* ``@timestamp`` is float64 seconds since the epoch (UTC). Exports convert it.
* Numbers are float64 so that a missing value is NaN, which LightGBM and the
  behavioural detectors treat as "unknown" rather than zero.
* Strings are pandas ``str`` columns; a missing string is ``""``.
* ``event.id`` identifies the record inside its source (Zeek ``uid``, Suricata
  ``flow_id`` or ``file:line``); findings cite these ids as evidence.
* ``label`` / ``label.detail`` carry ground truth when the source has it
  (Stratosphere, CIC, UNSW, KDD). ``label`` is ``benign``, ``malicious`` or
  ``""`` (unknown, e.g. Stratosphere ``Background``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["flow", "dns", "http", "tls", "alert", "auth", "process", "log", "email", "file", "activity"]
DType = Literal["float", "str"]


@dataclass(frozen=True)
class Field:
    name: str
    dtype: DType
    doc: str


_COMMON = (
    Field("event.id", "str", "record id inside its source (Zeek uid, Suricata flow_id, file:line)"),
    Field("event.dataset", "str", "source format, e.g. zeek.conn, suricata.flow, pcap"),
    Field("@timestamp", "float", "start time, seconds since the epoch (UTC)"),
    Field("source.ip", "str", "originator address"),
    Field("source.port", "float", "originator port (NaN for ICMP and unknown)"),
    Field("destination.ip", "str", "responder address"),
    Field("destination.port", "float", "responder port; ICMP type for ICMP"),
    Field("network.transport", "str", "tcp, udp, icmp, ... (lower case)"),
    Field("label", "str", "ground truth: benign, malicious or '' (unknown)"),
    Field("label.detail", "str", "ground-truth attack family or description, if any"),
)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "flow": _COMMON
    + (
        Field("network.protocol", "str", "application protocol (Zeek service, nDPI name), '' unknown"),
        Field("flow.duration", "float", "seconds from first to last packet"),
        Field("source.bytes", "float", "payload bytes sent by the originator"),
        Field("destination.bytes", "float", "payload bytes sent by the responder"),
        Field("source.packets", "float", "packets sent by the originator"),
        Field("destination.packets", "float", "packets sent by the responder"),
        Field("flow.state", "str", "Zeek conn_state vocabulary: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH"),
        Field("flow.history", "str", "Zeek history string when the source has it"),
    ),
    "dns": _COMMON
    + (
        Field("dns.id", "float", "DNS transaction id"),
        Field("dns.question.name", "str", "queried name"),
        Field("dns.question.type", "str", "query type name, e.g. A, AAAA, TXT"),
        Field("dns.response_code", "str", "rcode name, e.g. NOERROR, NXDOMAIN"),
        Field("dns.answers", "str", "answers joined by ','"),
    ),
    "http": _COMMON
    + (
        Field("http.request.method", "str", "GET, POST, ..."),
        Field("url.domain", "str", "Host header"),
        Field("url.original", "str", "request target as sent"),
        Field("http.response.status_code", "float", "status code"),
        Field("user_agent.original", "str", "User-Agent header"),
        Field("http.request.referrer", "str", "Referer header"),
        Field("http.request.body.bytes", "float", "request body length"),
        Field("http.response.body.bytes", "float", "response body length"),
    ),
    "tls": _COMMON
    + (
        Field("tls.version", "str", "negotiated version, e.g. TLSv12"),
        Field("tls.client.server_name", "str", "SNI"),
        Field("tls.established", "float", "1 if the handshake completed, 0 if not, NaN unknown"),
        Field("tls.client.ja3", "str", "JA3 hash"),
        Field("tls.server.ja3s", "str", "JA3S hash"),
        Field("tls.server.subject", "str", "certificate subject"),
        Field("tls.server.issuer", "str", "certificate issuer"),
    ),
    "alert": _COMMON
    + (
        Field("rule.id", "str", "signature id (Suricata sid) or anomaly type"),
        Field("rule.name", "str", "signature message or anomaly event name"),
        Field("rule.category", "str", "signature category"),
        Field("event.severity", "float", "source severity (Suricata: 1 high .. 4 low)"),
    ),
    # ---- identity: logons, privilege use, account changes (auth.log, EVTX, LANL, CERT) ----
    "auth": (
        Field("event.id", "str", "record id inside its source (EVTX record id, file:line)"),
        Field("event.dataset", "str", "source format, e.g. linux.auth, windows.security, lanl.auth"),
        Field("@timestamp", "float", "event time, seconds since the epoch (UTC)"),
        Field("event.code", "str", "source event id, e.g. 4624; '' for text logs"),
        Field("event.action", "str", "logon, logon-failed, logoff, explicit-credentials, admin-logon, "
              "user-created, user-deleted, group-member-added, lockout, kerberos-tgt, kerberos-service-ticket, "
              "kerberos-preauth-failed, ntlm-validate, sudo, su, ..."),
        Field("event.outcome", "str", "success, failure or ''"),
        Field("user.name", "str", "account that acts or logs on (lower case)"),
        Field("user.domain", "str", "account domain"),
        Field("user.target.name", "str", "account acted upon (created, added to a group, ...)"),
        Field("group.name", "str", "group changed, for membership events"),
        Field("source.ip", "str", "address the logon came from"),
        Field("source.port", "float", "source port"),
        Field("source.hostname", "str", "computer the logon came from"),
        Field("host.name", "str", "computer logged on to (destination)"),
        Field("auth.method", "str", "password, publickey, kerberos, ntlm, ..."),
        Field("auth.logon_type", "str", "Windows logon type (2, 3, 10, ...) or LANL logon type"),
        Field("auth.failure_reason", "str", "why it failed: invalid user, bad password, 0xC000006A, ..."),
        Field("service.name", "str", "service or SPN (Kerberos service tickets), sudo command"),
        Field("tls.cipher", "str", "Kerberos ticket encryption type, e.g. 0x17 (RC4)"),
        Field("process.name", "str", "program that wrote the record (sshd, sudo, ...)"),
        Field("message", "str", "original text, for text sources"),
        Field("user.id", "str", "account SID (Windows) or uid, when logged"),
        Field("user.effective.name", "str", "account assumed (sudo/su target user, 4648 explicit credentials)"),
        Field("auth.attempts", "float", "attempts the record stands for: N for syslog 'message repeated N times', else 1"),
        Field("process.pid", "float", "pid of the program that wrote the record (links sshd lines of one connection)"),
        Field("label", "str", "ground truth: benign, malicious or '' (unknown)"),
        Field("label.detail", "str", "ground-truth detail"),
    ),
    # ---- process activity: Sysmon 1 (create), 3 (network), 10 (process access) ----
    "process": (
        Field("event.id", "str", "record id inside its source"),
        Field("event.dataset", "str", "e.g. windows.sysmon"),
        Field("@timestamp", "float", "event time, seconds since the epoch (UTC)"),
        Field("event.code", "str", "source event id, e.g. 1, 3, 10"),
        Field("event.action", "str", "process-created, network-connection, process-access, ..."),
        Field("host.name", "str", "computer"),
        Field("user.name", "str", "account running the process"),
        Field("process.pid", "float", "process id"),
        Field("process.executable", "str", "image path"),
        Field("process.command_line", "str", "command line"),
        Field("process.parent.executable", "str", "parent image path"),
        Field("process.parent.command_line", "str", "parent command line"),
        Field("process.hash.sha256", "str", "image SHA-256 when logged"),
        Field("process.target.executable", "str", "accessed process image (Sysmon 10)"),
        Field("process.granted_access", "str", "access mask (Sysmon 10)"),
        Field("source.ip", "str", "local address (Sysmon 3)"),
        Field("destination.ip", "str", "remote address (Sysmon 3)"),
        Field("destination.port", "float", "remote port (Sysmon 3)"),
        Field("process.target.pid", "float", "accessed process id (Sysmon 10)"),
        Field("process.call_trace", "str", "call stack of the access (Sysmon 10 CallTrace)"),
        Field("label", "str", "ground truth"),
        Field("label.detail", "str", "ground-truth detail"),
    ),
    # ---- text logs: one line (or record) of a system or application log ----
    "log": (
        Field("event.id", "str", "file:line"),
        Field("event.dataset", "str", "syslog, journald, hdfs, bgl, windows.text, ..."),
        Field("@timestamp", "float", "event time, NaN when the line has none"),
        Field("host.name", "str", "host that wrote the line"),
        Field("process.name", "str", "program or component"),
        Field("log.level", "str", "severity word as written (INFO, WARN, ...)"),
        Field("message", "str", "the free-text part of the line"),
        Field("log.session", "str", "session key when a session regex or source gives one"),
        Field("label", "str", "ground truth: benign, malicious or '' (unknown)"),
        Field("label.detail", "str", "ground-truth detail"),
    ),
    # ---- user activity (CERT insider-threat style: logon, device, file, email, http) ----
    "activity": (
        Field("event.id", "str", "record id inside its source"),
        Field("event.dataset", "str", "cert.logon, cert.device, cert.file, cert.email, cert.http"),
        Field("@timestamp", "float", "event time, seconds since the epoch (UTC)"),
        Field("event.action", "str", "logon, logoff, connect, disconnect, file-copy, email-send, web-visit, ..."),
        Field("user.name", "str", "user (lower case)"),
        Field("host.name", "str", "computer"),
        Field("file.path", "str", "file name, for file activity"),
        Field("email.to.address", "str", "recipients joined by ',', for email activity"),
        Field("url.original", "str", "URL, for web activity"),
        Field("activity.bytes", "float", "size (email size, file size) when known"),
        Field("email.from.address", "str", "sender address (lower case), for email activity"),
        Field("email.attachment_count", "float", "number of attachments, for email activity"),
        Field("url.domain", "str", "host of the URL (lower case), for web activity"),
        Field("file.removable", "float", "1 when a file went to or from removable media, 0 not, NaN unknown"),
        Field("label", "str", "ground truth: benign, malicious or '' (unknown)"),
        Field("label.detail", "str", "ground-truth detail"),
    ),
    # ---- one email message ----
    "email": (
        Field("event.id", "str", "file path, or mbox path:message number"),
        Field("event.dataset", "str", "eml, mbox, maildir, sms"),
        Field("@timestamp", "float", "Date header, NaN when absent or unreadable"),
        Field("email.message_id", "str", "Message-ID"),
        Field("email.from.address", "str", "From address (lower case)"),
        Field("email.to.address", "str", "To/Cc addresses joined by ','"),
        Field("email.subject", "str", "decoded Subject"),
        Field("email.reply_to.address", "str", "Reply-To address"),
        Field("email.return_path", "str", "Return-Path address"),
        Field("email.from.display_name", "str", "From display name (decoded)"),
        Field("email.sender.domain", "str", "registered domain of the From address"),
        Field("email.body", "str", "visible text of the plain and HTML bodies (capped, invisible characters removed)"),
        Field("email.urls", "str", "URLs of the body joined by ' ' (capped)"),
        Field("email.url.domains", "str", "registered domains of those URLs joined by ','"),
        Field("email.attachments.file.name", "str", "attachment names joined by ','"),
        Field("email.attachments.file.hash.sha256", "str", "attachment SHA-256 hashes joined by ','"),
        Field("email.attachments.file.type", "str", "attachment types from magic bytes joined by ','"),
        Field("email.auth.spf", "str", "SPF verdict from Authentication-Results/Received-SPF (pass, fail, softfail, ...)"),
        Field("email.auth.dkim", "str", "DKIM verdict from Authentication-Results"),
        Field("email.auth.dmarc", "str", "DMARC verdict from Authentication-Results"),
        Field("email.received.count", "float", "number of Received headers"),
        Field("source.ip", "str", "first public relay address in the Received chain (the sending host)"),
        Field("email.defects", "str", "parse problems noted (malformed MIME, unknown charset, limits hit), ';'-joined"),
        Field("label", "str", "ground truth: ham, spam, phishing or '' (unknown)"),
        Field("label.detail", "str", "ground-truth detail (corpus folder)"),
    ),
    # ---- one file on disk (or inside an archive) ----
    "file": (
        Field("event.id", "str", "path (archive path!member for archive members)"),
        Field("event.dataset", "str", "file, or the feature export it came from (clamp, ember)"),
        Field("@timestamp", "float", "modification time, NaN when unknown"),
        Field("file.path", "str", "path as scanned"),
        Field("file.size", "float", "bytes"),
        Field("file.type", "str", "pe, elf, zip, pdf, office, script, other (from magic bytes)"),
        Field("file.hash.md5", "str", "MD5"),
        Field("file.hash.sha1", "str", "SHA-1"),
        Field("file.hash.sha256", "str", "SHA-256"),
        Field("file.pe.imphash", "str", "PE import hash"),
        Field("label", "str", "ground truth: benign, malicious or '' (unknown)"),
        Field("label.detail", "str", "ground-truth detail"),
    ),
}


def field_names(kind: str) -> list[str]:
    return [f.name for f in SCHEMAS[kind]]


def conform(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with every schema column present and of the schema's type.

    Missing schema columns are added (NaN or ""); columns already of the right
    type are not copied; extra columns are kept so that benchmark readers can
    carry native features. Column order is not part of the contract.
    """
    out = frame.copy(deep=False)
    if not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)
    n = len(out)
    # new and retyped columns are gathered and joined once: inserting them one by one
    # costs ~0.1 ms each, which dominated small batches (one mail, one file)
    add: dict[str, object] = {}
    blank = nan = None  # one missing-value column of each type, shared by every missing field
    for f in SCHEMAS[kind]:
        if f.name not in out.columns:
            if f.dtype == "float":
                nan = np.full(n, np.nan) if nan is None else nan
                add[f.name] = nan
            else:
                blank = pd.Series([""] * n, dtype="str") if blank is None else blank
                add[f.name] = blank
            continue
        col = out[f.name]
        if f.dtype == "float":
            if col.dtype != np.float64:
                add[f.name] = pd.to_numeric(col, errors="coerce").astype("float64")
        elif not (pd.api.types.is_string_dtype(col.dtype) and not col.hasnans):
            add[f.name] = col.fillna("").astype("str")
    if not add:
        return out
    retyped = [c for c in add if c in out.columns]
    if retyped:
        out = out.drop(columns=retyped)
    return pd.concat([out, pd.DataFrame(add, index=out.index)], axis=1)
