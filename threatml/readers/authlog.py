"""Linux ``auth.log`` / ``secure`` and journald JSON exports -> ``auth`` events.

One pass over the lines in Python with a few compiled patterns: the syslog
header first, then a pattern chosen by the program name (``sshd``, ``sudo``,
``su``, ``login``, ``useradd`` & co.). Only authentication-relevant lines
become events; every other line (connection notices, ``CRON`` sessions,
``systemd-logind`` chatter) is counted in the read report under
``not an authentication event``.

What becomes what (``event.action`` / ``event.outcome``):

* ``sshd: Accepted <method> for U from IP port P`` -> ``logon`` / success.
* ``sshd: Failed <method> for [invalid user] U from IP port P`` -> ``logon-failed``.
  ``message repeated N times: [ Failed ... ]`` (rsyslog) -> the same event with
  ``auth.attempts`` = N (the first occurrence was logged on its own line).
* ``Invalid user U from IP``, ``maximum authentication attempts exceeded``,
  ``pam_unix(sshd:auth): authentication failure ... rhost=IP``,
  ``PAM N more authentication failures`` -> ``invalid-user``,
  ``too-many-failures``, ``pam-auth-failure`` (outcome failure). These repeat
  what the ``Failed`` lines say; detectors count them once per sshd connection
  (``process.pid``) only when that connection logged no ``Failed`` line.
* ``sudo: U : TTY=.. ; PWD=.. ; USER=R ; COMMAND=C`` -> ``sudo`` (``user.effective.name``
  R, ``service.name`` C); ``incorrect password attempts`` / ``NOT in sudoers`` -> failure.
* ``su`` PAM session opened -> ``su`` / success; ``FAILED su`` -> failure.
* ``useradd``/``adduser`` new user -> ``user-created``; ``userdel`` -> ``user-deleted``;
  ``usermod``/``gpasswd`` add to group -> ``group-member-added``; new group ->
  ``group-created``; ``passwd``/``chpasswd`` password changed -> ``password-changed``;
  ``login`` ``FAILED LOGIN`` -> ``logon-failed``, console session opened -> ``logon``.

Timestamps. Classic syslog stamps (``Mar 27 13:06:56``) have no year and no
zone. The year is inferred: the constructor's ``year`` (or the environment
variable ``THREATML_AUTHLOG_YEAR``, for ``threatml scan``) if given, else the
file's modification year, minus one when the first line's month is later than
the modification month (the log began last year); the year then advances
when the month drops from Nov/Dec to Jan/Feb (new year). Any other backwards
step of more than five minutes is kept and counted as ``clock jumped
backwards`` in the report notes. The zone is the constructor's ``tz`` (or
``THREATML_AUTHLOG_TZ``; an IANA name, default UTC); RFC 3339 stamps (``2024-03-27T13:06:56.1+01:00``,
rsyslog high precision) carry their own offset and are exact; a change of
offset within a file (a host moved to another zone, DST) is noted with the
line where it happened. With classic stamps a zone change or the repeated
hour of a DST fall-back shows as time going backwards and is noted as a clock
jump (events kept with the time as written). Identical event
lines seen again within the last 10,000 lines are skipped and counted as
duplicates when they replay the past (their time is earlier than the latest
time already read: a log concatenated twice); sshd can genuinely write the
same ``Failed password`` line twice within one second.

journald: ``journalctl -o json`` lines (one object per line) of the same
programs; ``__REALTIME_TIMESTAMP`` (microseconds, UTC) is the time, ``MESSAGE``
(text or a byte array) goes through the same patterns.

>>> from threatml.errors import ReadReport
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "auth.log"
>>> _ = p.write_text("Mar 27 13:08:09 web sshd[1361]: Failed password for invalid user admin from 1.2.3.4 port 5 ssh2\\n")
>>> b = next(AuthLogReader(year=2017).read(p, ReadReport()))
>>> b.frame[["event.action", "user.name", "source.ip"]].values.tolist(), b.frame["@timestamp"].tolist()
([['logon-failed', 'admin', '1.2.3.4']], [1490620089.0])
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary
from threatml.readers.blocks import line_chunks
from threatml.readers.journal import journal_message, journal_program
from threatml.identity.frames import frame_from_lists

#: programs whose lines make a file an auth log (sniffing) and that we parse
AUTH_PROGRAMS = frozenset({
    "sshd", "sudo", "su", "login", "passwd", "chpasswd", "useradd", "usermod", "userdel", "groupadd",
    "groupdel", "groupmod", "gpasswd", "adduser", "deluser", "systemd-logind", "polkitd", "pkexec",
    "cron", "CRON", "systemd", "chage", "chsh", "chfn", "newgrp", "sshd-session", "unix_chkpwd",
})

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                         "Nov", "Dec"), start=1)}
_BSD = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: ?(.*)")
_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: ?(.*)")

_ACCEPTED = re.compile(r"Accepted (\S+) for (.*?) from (\S+) port (\d+)")
_FAILED = re.compile(r"Failed (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)")
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?)\]?$")
_INVALID = re.compile(r"Invalid user (.*?) from (\S+)(?: port (\d+))?")
_MAXTRIES = re.compile(r"maximum authentication attempts exceeded for (invalid user )?(.*?) from (\S+) port (\d+)")
_PAMFAIL = re.compile(r"pam_unix\(([\w-]+):auth\): authentication failure;.*?rhost=(\S*)\s+(?:user=(\S+))?")
_PAMMORE = re.compile(r"PAM (\d+) more authentication failures?;.*?rhost=(\S*)\s+(?:user=(\S+))?")
_SESSION = re.compile(r"pam_unix\(([\w-]+):session\): session opened for user (\S+?)(?:\(uid=\d+\))? by (\S*?)(?:\(uid=\d+\))?$")
_SUDO = re.compile(r"\s*(\S+) : (.*?)TTY=(\S+) ; PWD=(.*?) ; USER=(\S+) ;(?: .*?;)* COMMAND=(.*)")
_FAILED_SU = re.compile(r"FAILED (?:su|SU) (?:for (\S+) by (\S+)|\(to (\S+)\) (\S+))")
_NEWUSER = re.compile(r"new user: name=([^,]+),")
_FAILADD = re.compile(r"failed adding user '([^']+)'")
_DELUSER = re.compile(r"delete user '([^']+)'")
_ADDGROUP = re.compile(r"add '([^']+)' to (?:shadow )?group '([^']+)'")
_GPASSWD = re.compile(r"user (\S+) added by (\S+) to group (\S+)")
_NEWGROUP = re.compile(r"new group: name=([^,]+),")
_PWCHANGED = re.compile(r"password changed for (\S+)")
_FAILED_LOGIN = re.compile(r"FAILED LOGIN \(?\d*\)? ?(?:on '?(\S+?)'? )?(?:FROM '?(\S*?)'? )?FOR '?(\S+?)'?,\s*(.*)")

#: rows per emitted column (order matters for the frame)
_COLS = ("event.id", "@timestamp", "event.action", "event.outcome", "user.name", "user.target.name", "group.name",
         "source.ip", "source.port", "host.name", "auth.method", "auth.failure_reason", "service.name",
         "process.name", "message", "user.effective.name", "auth.attempts", "process.pid")

DUP_WINDOW = 10_000
CLOCK_JUMP_S = 300.0


def _clean_ip(s: str) -> str:
    return s[7:] if s.startswith("::ffff:") else s


def parse_message(prog: str, msg: str):
    """One syslog message of ``prog`` -> (action, outcome, user, target, group, ip, port, method,
    reason, service, effective, attempts) or None when it is not an authentication event.

    >>> parse_message("sshd", "Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA x")[:8]
    ('logon', 'success', 'ubuntu', '', '', '85.245.107.41', 54259.0, 'publickey')
    """
    p = prog.lower()
    if p in ("sshd", "sshd-session"):
        c = msg[:4]
        if c == "Acce":
            m = _ACCEPTED.match(msg)
            if m:
                return ("logon", "success", m[2], "", "", _clean_ip(m[3]), float(m[4]), m[1], "", "sshd", "", 1.0)
        elif c == "Fail":
            m = _FAILED.match(msg)
            if m:
                reason = "invalid user" if m[2] else f"bad {m[1]}"
                return ("logon-failed", "failure", m[3], "", "", _clean_ip(m[4]), float(m[5]), m[1], reason, "sshd",
                        "", 1.0)
        elif c == "mess":
            m = _REPEATED.match(msg)
            if m:
                inner = parse_message(prog, m[2])
                if inner is not None:
                    return inner[:11] + (float(m[1]),)
        elif c == "Inva":
            m = _INVALID.match(msg)
            if m:
                return ("invalid-user", "failure", m[1], "", "", _clean_ip(m[2]), float(m[3]) if m[3] else float("nan"),
                        "", "invalid user", "sshd", "", 1.0)
        elif c == "erro":
            m = _MAXTRIES.search(msg)
            if m:
                return ("too-many-failures", "failure", m[2], "", "", _clean_ip(m[3]), float(m[4]), "",
                        "maximum authentication attempts exceeded", "sshd", "", 1.0)
        elif c == "pam_":
            m = _PAMFAIL.match(msg)
            if m:
                return ("pam-auth-failure", "failure", m[3] or "", "", "", _clean_ip(m[2]), float("nan"), "password",
                        "authentication failure", "sshd", "", 1.0)
        elif c == "PAM ":
            m = _PAMMORE.match(msg)
            if m:
                return ("pam-auth-failure", "failure", m[3] or "", "", "", _clean_ip(m[2]), float("nan"), "password",
                        f"{m[1]} more authentication failures", "sshd", "", 1.0)
        return None
    if p == "sudo":
        m = _SUDO.match(msg)
        if m:
            flag = m[2]
            fail = "incorrect password" in flag or "NOT" in flag or "not allowed" in flag
            return ("sudo", "failure" if fail else "success", m[1], "", "", "", float("nan"), "",
                    flag.strip(" ;") if fail else "", m[6], m[5], 1.0)
        if msg.startswith("pam_unix(sudo:auth): authentication failure"):
            m = _PAMFAIL.match(msg)
            return ("sudo", "failure", (m[3] or "") if m else "", "", "", "", float("nan"), "password",
                    "authentication failure", "", "", 1.0)
        return None
    if p in ("su", "su-l"):
        m = _SESSION.match(msg)
        if m:
            return ("su", "success", m[3], "", "", "", float("nan"), "", "", "su", m[2], 1.0)
        m = _FAILED_SU.search(msg)
        if m:
            return ("su", "failure", m[2] or m[4] or "", "", "", "", float("nan"), "", "authentication failure", "su",
                    m[1] or m[3] or "", 1.0)
        return None
    if p == "login":
        m = _FAILED_LOGIN.search(msg)
        if m:
            return ("logon-failed", "failure", m[3], "", "", m[2] or "", float("nan"), "password", m[4], "login", "",
                    1.0)
        m = _SESSION.match(msg)
        if m:
            return ("logon", "success", m[2], "", "", "", float("nan"), "password", "", "login", "", 1.0)
        return None
    if p in ("useradd", "adduser"):
        m = _NEWUSER.search(msg)
        if m:
            return ("user-created", "success", "", m[1], "", "", float("nan"), "", "", p, "", 1.0)
        m = _FAILADD.search(msg)
        if m:
            return ("user-created", "failure", "", m[1], "", "", float("nan"), "", "failed adding user", p, "", 1.0)
        m = _NEWGROUP.search(msg)
        if m:
            return ("group-created", "success", "", "", m[1], "", float("nan"), "", "", p, "", 1.0)
        return None
    if p in ("userdel", "deluser"):
        m = _DELUSER.search(msg)
        if m:
            return ("user-deleted", "success", "", m[1], "", "", float("nan"), "", "", p, "", 1.0)
        return None
    if p in ("usermod", "gpasswd", "adduser"):
        m = _ADDGROUP.search(msg)
        if m:
            return ("group-member-added", "success", "", m[1], m[2], "", float("nan"), "", "", p, "", 1.0)
        m = _GPASSWD.search(msg)
        if m:
            return ("group-member-added", "success", m[2], m[1], m[3], "", float("nan"), "", "", p, "", 1.0)
        return None
    if p in ("groupadd",):
        m = _NEWGROUP.search(msg)
        if m:
            return ("group-created", "success", "", "", m[1], "", float("nan"), "", "", p, "", 1.0)
        return None
    if p in ("passwd", "chpasswd"):
        m = _PWCHANGED.search(msg)
        if m:
            return ("password-changed", "success", "", m[1], "", "", float("nan"), "", "", p, "", 1.0)
        return None
    return None


def _head_lines(head: bytes, n: int = 60) -> list[str]:
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) >= 1024 and not head.endswith(b"\n"):
        lines = lines[:-1]  # the cut last line
    return [ln for ln in lines[:n] if ln.strip()]


class _Clock:
    """Syslog ``Mon dd hh:mm:ss`` -> epoch seconds with year inference and a fixed zone."""

    def __init__(self, year: int, tz: ZoneInfo | None):
        self.year, self.tz = year, tz
        self.last_month = 0
        self._day: dict[tuple[int, int, int], float] = {}
        self.rollovers = 0

    def epoch(self, mon: int, day: int, hh: int, mm: int, ss: int) -> float:
        if self.last_month and mon < self.last_month:
            if self.last_month >= 11 and mon <= 2:
                self.year += 1
                self.rollovers += 1
        self.last_month = mon
        key = (self.year, mon, day)
        base = self._day.get(key)
        if base is None:
            try:
                base = datetime(self.year, mon, day, tzinfo=timezone.utc).timestamp()
            except ValueError:  # Feb 29 of a non-leap year guessed wrong, or a bad day
                base = float("nan")
            self._day[key] = base
        t = base + hh * 3600 + mm * 60 + ss
        if self.tz is not None and t == t:
            # the zone's offset at that local time (DST-aware; ambiguous hours take the first)
            local = datetime(self.year, mon, day, hh, mm, ss, tzinfo=self.tz)
            t -= local.utcoffset().total_seconds()
        return t


class AuthLogReader(Reader):
    """auth.log / secure / journald JSON -> ``auth`` events (see the module doc)."""

    name = "authlog"
    kinds = ("auth",)

    def __init__(self, year: int | None = None, tz: str | None = None):
        # `threatml scan` builds readers without arguments: the environment can set both
        if year is None and os.environ.get("THREATML_AUTHLOG_YEAR"):
            try:
                year = int(os.environ["THREATML_AUTHLOG_YEAR"])
            except ValueError:
                raise InputError("THREATML_AUTHLOG_YEAR", "not a year number") from None
        tz = tz or os.environ.get("THREATML_AUTHLOG_TZ") or None
        self.year = year
        try:
            self.tz = ZoneInfo(tz) if tz and tz.upper() != "UTC" else None
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(str(tz), "unknown time zone name (use an IANA name such as Europe/Lisbon)") from None

    # ------------------------------------------------------------------ sniff
    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        lines = _head_lines(head)
        if len(lines) < 1:
            return False
        if lines[0].lstrip().startswith("{"):
            return cls._sniff_journald(lines)
        auth = parsed = 0
        for ln in lines:
            m = _BSD.match(ln) or _ISO.match(ln)
            if not m:
                continue
            parsed += 1
            prog, msg = (m[7], m[9]) if m.re is _BSD else (m[3], m[5])
            if prog in AUTH_PROGRAMS or prog.lower() in AUTH_PROGRAMS or msg.startswith("pam_"):
                auth += 1
        # mostly syslog lines, and mostly from authentication programs (a general syslog goes to textlog)
        return parsed >= 0.8 * len(lines) and auth >= max(1, 0.6 * parsed)

    @staticmethod
    def _sniff_journald(lines: list[str]) -> bool:
        good = journal = 0
        for ln in lines[:20]:
            try:
                rec = json.loads(ln)
            except ValueError:
                continue  # a broken line is counted by read(), it does not decide the format
            if not isinstance(rec, dict) or "__REALTIME_TIMESTAMP" not in rec:
                return False
            journal += 1
            ident = str(rec.get("SYSLOG_IDENTIFIER") or rec.get("_COMM") or "")
            good += ident in AUTH_PROGRAMS or ident.lower() in AUTH_PROGRAMS
        return journal > 0 and good >= 0.6 * journal

    # ------------------------------------------------------------------ read
    def _year_for(self, path: Path, first_month: int | None) -> int:
        if self.year:
            return self.year
        try:
            mt = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        except OSError:
            mt = datetime.now(timezone.utc)
        # a log whose first line is in a later month than the file's last write began last year
        return mt.year - 1 if first_month and first_month > mt.month else mt.year

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        path = Path(path)
        from threatml.readers.base import read_head

        first = _head_lines(read_head(path, 4096), 1)
        if first and first[0].lstrip().startswith("{"):
            yield from self._read_journald(path, report, batch_size)
            return
        m = _BSD.match(first[0]) if first else None
        clock = _Clock(self._year_for(path, _MONTHS.get(m[1]) if m else None), self.tz)
        yield from self._read_syslog(path, report, batch_size, clock)

    def _emit(self, rows: list[tuple], path: Path, dataset: str) -> EventBatch:
        frame = frame_from_lists(dict(zip(_COLS, map(list, zip(*rows)))))
        frame["event.dataset"] = dataset
        return EventBatch.of("auth", frame, source=str(path))

    def _read_syslog(self, path: Path, report: ReadReport, batch_size: int, clock: _Clock) -> Iterator[EventBatch]:
        name, src = path.name, str(path)
        rows: list[tuple] = []
        # two generations of recent event lines: O(1) duplicate checks with bounded memory
        recent, older = set(), set()
        months = _MONTHS
        nan = float("nan")
        other = unparsed = dups = 0
        first_other = first_unparsed = None
        last_t = float("-inf")
        replaying = False
        last_offset: str | None = None
        stamp_cache: dict[str, float] = {}
        cache_year = clock.year
        no = 0
        with open_binary(path, report) as fh:
            for block, first_no in line_chunks(fh, 4 << 20):
                no = first_no - 1
                for line in block.decode("utf-8", errors="replace").split("\n"):
                    no += 1
                    if not line:
                        continue
                    if line[-1] == "\r":
                        line = line[:-1]
                    # fast split of "Mmm dd hh:mm:ss host tag: msg" (the regex only when it is not that shape)
                    mon = months.get(line[:3])
                    parts = line[16:].split(" ", 2) if mon is not None and line[15:16] == " " else None
                    if parts is not None and len(parts) == 3 and parts[1].endswith(":"):
                        host, tag, msg = parts
                        prog, _, pid = tag[:-1].partition("[")
                        pid = pid[:-1]
                        stamp = line[:15]
                        ev = parse_message(prog, msg)
                        if ev is None:
                            other += 1
                            first_other = first_other or no
                            continue
                        t = stamp_cache.get(stamp)
                        if t is None or mon < clock.last_month:
                            try:
                                t = clock.epoch(mon, int(stamp[4:6]), int(stamp[7:9]), int(stamp[10:12]),
                                                int(stamp[13:15]))
                            except ValueError:
                                unparsed += 1
                                first_unparsed = first_unparsed or no
                                continue
                            if clock.year != cache_year:
                                stamp_cache.clear()
                                cache_year = clock.year
                            if len(stamp_cache) > 200_000:
                                stamp_cache.clear()
                            stamp_cache[stamp] = t
                        else:
                            clock.last_month = mon
                    else:
                        m = _BSD.match(line)
                        if m is not None and _MONTHS.get(m[1]):
                            host, prog, pid, msg = m[6], m[7], m[8] or "", m[9]
                            ev = parse_message(prog, msg)
                            if ev is None:
                                other += 1
                                first_other = first_other or no
                                continue
                            t = clock.epoch(_MONTHS[m[1]], int(m[2]), int(m[3]), int(m[4]), int(m[5]))
                        else:
                            m = _ISO.match(line)
                            if m is None:
                                if line.strip():
                                    unparsed += 1
                                    first_unparsed = first_unparsed or no
                                continue
                            host, prog, pid, msg = m[2], m[3], m[4] or "", m[5]
                            ev = parse_message(prog, msg)
                            if ev is None:
                                other += 1
                                first_other = first_other or no
                                continue
                            t = stamp_cache.get(m[1])
                            if t is None:
                                t = self._iso_epoch(m[1], report, src, no)
                                stamp_cache[m[1]] = t
                            off = _OFFSET.search(m[1])
                            off = off.group(0) if off else ""
                            if last_offset is not None and off != last_offset:
                                report.note(src, "time-zone offset changed within the file (times converted "
                                                 "with each line's own offset)", where=f"line {no}: "
                                                 f"{last_offset or 'none'} -> {off or 'none'}")
                            last_offset = off
                    # a line seen again is a duplicate only when it replays the past (a log concatenated
                    # twice): sshd may truly write the same "Failed password" twice within one second
                    if t < last_t or (replaying and t == last_t):
                        if line in recent or line in older:
                            dups += 1
                            replaying = True
                            continue
                        replaying = False
                        if t < last_t - CLOCK_JUMP_S:
                            report.note(src, "clock jumped backwards by more than 5 minutes (event kept, time as "
                                             "written)", where=f"line {no}")
                    else:
                        last_t = t
                        replaying = False
                    recent.add(line)
                    if len(recent) >= DUP_WINDOW:
                        older, recent = recent, set()
                    rows.append((f"{name}:{no}", t, ev[0], ev[1], ev[2].lower(), ev[3].lower(), ev[4], ev[5], ev[6],
                                 host, ev[7], ev[8], ev[9], prog, line, ev[10].lower(), ev[11],
                                 float(pid) if pid.isdigit() else nan))
                    if len(rows) >= batch_size:
                        yield self._emit(rows, path, "linux.auth")
                        rows = []
        if rows:
            yield self._emit(rows, path, "linux.auth")
        self._count(report, src, other, first_other, unparsed, first_unparsed, dups)
        if clock.rollovers:
            report.note(src, f"year advanced {clock.rollovers} time(s) at a Dec->Jan month change (syslog stamps "
                             f"have no year; started from {clock.year - clock.rollovers})")

    def _iso_epoch(self, stamp: str, report: ReadReport, src: str, no: int) -> float:
        try:
            dt = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=self.tz or timezone.utc)
            return dt.timestamp()
        except ValueError:
            report.note(src, "unreadable timestamp (time set to NaN)", where=f"line {no}")
            return float("nan")

    @staticmethod
    def _count(report: ReadReport, src: str, other: int, first_other, unparsed: int, first_unparsed, dups: int):
        if other:
            report.skip(src, "not an authentication event (connection notices, cron and logind sessions, ...)",
                        where=f"line {first_other}", n=other)
        if unparsed:
            report.skip(src, "line is not a syslog/journald auth record", where=f"line {first_unparsed}", n=unparsed)
        if dups:
            report.skip(src, "duplicate event line (seen within the last 10,000 lines)", n=dups)

    def _read_journald(self, path: Path, report: ReadReport, batch_size: int) -> Iterator[EventBatch]:
        name, src = path.name, str(path)
        rows: list[tuple] = []
        seen: OrderedDict[str, None] = OrderedDict()
        other = unparsed = dups = 0
        first_other = first_unparsed = None
        with open_binary(path, report) as fh:
            for no, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw)
                    if not isinstance(rec, dict):
                        raise ValueError
                except ValueError:
                    unparsed += 1
                    first_unparsed = first_unparsed or no
                    continue
                prog, msg = journal_program(rec), journal_message(rec)
                ev = parse_message(prog, msg)
                if ev is None:
                    other += 1
                    first_other = first_other or no
                    continue
                cursor = str(rec.get("__CURSOR") or "")
                if cursor:
                    if cursor in seen:
                        dups += 1
                        continue
                    seen[cursor] = None
                    if len(seen) > DUP_WINDOW:
                        seen.popitem(last=False)
                try:
                    t = int(rec.get("__REALTIME_TIMESTAMP")) / 1e6
                except (TypeError, ValueError):
                    t = float("nan")
                    report.note(src, "missing or bad __REALTIME_TIMESTAMP (time set to NaN)", where=f"line {no}")
                pid = rec.get("_PID") or rec.get("SYSLOG_PID")
                try:
                    pidf = float(pid) if pid is not None else float("nan")
                except (TypeError, ValueError):
                    pidf = float("nan")
                vals = (f"{name}:{no}", t, ev[0], ev[1], ev[2].lower(), ev[3].lower(), ev[4], ev[5], ev[6],
                        str(rec.get("_HOSTNAME") or ""), ev[7], ev[8], ev[9], prog, msg, ev[10].lower(), ev[11],
                        pidf)
                rows.append(vals)
                if len(rows) >= batch_size:
                    yield self._emit(rows, path, "journald")
                    rows = []
        if rows:
            yield self._emit(rows, path, "journald")
        self._count(report, src, other, first_other, unparsed, first_unparsed, dups)
