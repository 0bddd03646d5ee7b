"""Per-user logon baselines, learned incrementally, JSON-serialisable.

A :class:`UserBaseline` counts, for one account, what its successful logons
looked like: source addresses and their /24 and /16 networks, hours of the day
and weekdays (UTC), hosts logged on to, source computers, methods and SSH key
fingerprints, plus how often it used admin rights (sudo, 4672). Counts only
grow by one per logon (own incremental statistics, no refit), and every
dictionary is capped (:data:`MAX_KEYS`, least-seen keys dropped) so state stays
bounded on long streams.

:class:`Baselines` holds the users, the host -> users map that defines peer
groups (users who log on to the same hosts) and the set of source -> host
edges of the logon graph. :meth:`Baselines.check` compares one logon with the
user's history and peers and returns the parts of the pattern it breaks, each
with the baseline value beside the observed one; :meth:`Baselines.learn`
then adds it.

>>> b = Baselines()
>>> for d in range(10):
...     b.learn("alice", 1_600_000_000 + d * 86400 + 9 * 3600, ip="10.1.2.3", host="srv1")
>>> [a.part for a in b.check("alice", 1_600_900_000 + 3 * 3600, ip="203.0.113.9", host="srv1")]
['source network /16', 'hour of day']
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

#: keys kept per counted dictionary (least-seen dropped beyond this)
MAX_KEYS = 256
#: users with fewer logons (or fewer distinct days) are still learning: no anomaly is reported
MIN_LOGONS = 10
MIN_DAYS = 3
#: source->host edges kept for the logon graph
MAX_EDGES = 200_000
STATE_VERSION = 1


def networks(ip: str) -> tuple[str, str]:
    """(/24, /16) network of an IPv4 address, (/64, /48) of an IPv6 one; ('', '') when not an address.

    >>> networks("85.245.107.41")
    ('85.245.107.0/24', '85.245.0.0/16')
    """
    if not ip:
        return "", ""
    if ip.count(".") == 3 and ":" not in ip:
        a, b, c, _ = ip.split(".")
        return f"{a}.{b}.{c}.0/24", f"{a}.{b}.0.0/16"
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "", ""
    if addr.version == 6:
        return (str(ipaddress.ip_network(f"{ip}/64", strict=False)), str(ipaddress.ip_network(f"{ip}/48", strict=False)))
    return "", ""


def _bump(d: dict, key: str, n: int = 1) -> None:
    if not key:
        return
    d[key] = d.get(key, 0) + n
    if len(d) > MAX_KEYS:
        # drop the least-seen quarter at once so that eviction is rare
        for k, _ in sorted(d.items(), key=lambda kv: kv[1])[: MAX_KEYS // 4]:
            del d[k]


@dataclass
class Anomaly:
    """One broken part of a user's pattern."""

    part: str
    baseline: str
    observed: str
    score: float

    def sentence(self) -> str:
        return f"{self.part}: observed {self.observed}; baseline {self.baseline}"


@dataclass
class UserBaseline:
    logons: int = 0
    first: float = math.inf
    last: float = -math.inf
    days: int = 0
    last_day: int = -1
    ips: dict = field(default_factory=dict)
    net24: dict = field(default_factory=dict)
    net16: dict = field(default_factory=dict)
    hours: list = field(default_factory=lambda: [0] * 24)
    weekdays: list = field(default_factory=lambda: [0] * 7)
    hosts: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    admin: int = 0

    @property
    def mature(self) -> bool:
        return self.logons >= MIN_LOGONS and self.days >= MIN_DAYS

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["first"] = None if math.isinf(self.first) else self.first
        d["last"] = None if math.isinf(self.last) else self.last
        return d

    @classmethod
    def from_json(cls, d: dict) -> "UserBaseline":
        u = cls()
        for k, v in d.items():
            if hasattr(u, k):
                setattr(u, k, v)
        u.first = math.inf if d.get("first") is None else float(d["first"])
        u.last = -math.inf if d.get("last") is None else float(d["last"])
        return u


def _hour_weekday(t: float) -> tuple[int, int]:
    day = int(t // 86400)
    return int((t % 86400) // 3600), (day + 3) % 7  # 1970-01-01 was a Thursday (Mon=0)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Baselines:
    """Every user's baseline, peer groups and the logon graph (see the module doc)."""

    def __init__(self) -> None:
        self.users: dict[str, UserBaseline] = {}
        self.host_users: dict[str, dict] = {}
        self.edges: dict[str, int] = {}
        self.admin_users: dict[str, int] = {}

    # ------------------------------------------------------------ learning
    def learn(self, user: str, t: float, ip: str = "", host: str = "", source_host: str = "", method: str = "",
              key: str = "") -> None:
        if not user or t != t:
            return
        u = self.users.get(user)
        if u is None:
            u = self.users[user] = UserBaseline()
        u.logons += 1
        u.first, u.last = min(u.first, t), max(u.last, t)
        day = int(t // 86400)
        if day != u.last_day:
            u.days += 1
            u.last_day = day
        h, wd = _hour_weekday(t)
        u.hours[h] += 1
        u.weekdays[wd] += 1
        if ip:
            n24, n16 = networks(ip)
            _bump(u.ips, ip)
            _bump(u.net24, n24)
            _bump(u.net16, n16)
        _bump(u.hosts, host)
        _bump(u.sources, source_host)
        _bump(u.methods, method)
        _bump(u.keys, key)
        if host:
            hu = self.host_users.setdefault(host, {})
            _bump(hu, user)
            if len(self.host_users) > MAX_EDGES:
                self.host_users.pop(next(iter(self.host_users)))
        if source_host and host:
            e = f"{source_host}->{host}"
            if e in self.edges or len(self.edges) < MAX_EDGES:
                self.edges[e] = self.edges.get(e, 0) + 1

    def learn_admin(self, user: str) -> None:
        if user:
            self.admin_users[user] = self.admin_users.get(user, 0) + 1
            if user in self.users:
                self.users[user].admin += 1

    # ------------------------------------------------------------ scoring
    def peers(self, user: str, limit: int = 200) -> list[str]:
        """Users who log on to the same hosts as ``user`` (most shared first)."""
        u = self.users.get(user)
        if u is None:
            return []
        c: dict[str, int] = {}
        # the user's 20 main hosts bound the work (a domain controller has every user as a peer anyway)
        for h in sorted(u.hosts, key=lambda k: -u.hosts[k])[:20]:
            for p, n in self.host_users.get(h, {}).items():
                if p != user:
                    c[p] = c.get(p, 0) + n
        return [p for p, _ in sorted(c.items(), key=lambda kv: -kv[1])[:limit]]

    def _peer_hours(self, user: str) -> tuple[list[int], list[int], int]:
        hours, wds, n = [0] * 24, [0] * 7, 0
        for p in self.peers(user):
            pb = self.users[p]
            hours = [a + b for a, b in zip(hours, pb.hours)]
            wds = [a + b for a, b in zip(wds, pb.weekdays)]
            n += pb.logons
        return hours, wds, n

    def check(self, user: str, t: float, ip: str = "", host: str = "", source_host: str = "", method: str = "",
              key: str = "") -> list[Anomaly]:
        """The parts of ``user``'s pattern this logon breaks (empty while the user is still learning)."""
        u = self.users.get(user)
        if u is None or not u.mature or t != t:
            return []
        out: list[Anomaly] = []
        known_key = bool(key) and key in u.keys
        if ip:
            n24, n16 = networks(ip)
            top16 = ", ".join(sorted(u.net16, key=lambda k: -u.net16[k])[:3]) or "none"
            if n16 and n16 not in u.net16:
                # the same SSH key from a new network is the owner travelling more often than a thief
                out.append(Anomaly("source network /16", f"{len(u.net16)} known /16 networks ({top16})",
                                   f"{ip} in {n16} (never seen for this user)"
                                   + ("; same SSH key as before" if known_key else ""), 0.2 if known_key else 0.45))
            elif n24 and n24 not in u.net24:
                out.append(Anomaly("source network /24", f"{len(u.net24)} known /24 networks",
                                   f"{ip} in {n24} (new /24 inside a known /16)", 0.1 if known_key else 0.25))
        h, wd = _hour_weekday(t)
        near = u.hours[h] + u.hours[(h - 1) % 24] + u.hours[(h + 1) % 24]
        if near == 0:
            ph, pwd, pn = self._peer_hours(user)
            peer_near = ph[h] + ph[(h - 1) % 24] + ph[(h + 1) % 24]
            peer_share = peer_near / pn if pn else 0.0
            busy = sorted(range(24), key=lambda i: -u.hours[i])[:3]
            out.append(Anomaly(
                "hour of day", f"0 of {u.logons} logons within an hour of {h:02d}:00 UTC (usual: "
                               f"{', '.join(f'{i:02d}h' for i in sorted(busy))}); peers {peer_share:.0%} near it",
                f"logon at {h:02d}:{int(t % 3600 // 60):02d} UTC", 0.3 if peer_share < 0.01 else 0.15))
        if u.weekdays[wd] == 0 and u.logons >= 20:
            _, pwd, pn = self._peer_hours(user)
            share = pwd[wd] / pn if pn else 0.0
            out.append(Anomaly("weekday", f"0 of {u.logons} logons on {_WEEKDAYS[wd]}; peers {share:.0%}",
                               f"logon on {_WEEKDAYS[wd]}", 0.2 if share < 0.01 else 0.1))
        if host and u.hosts and host not in u.hosts:
            peers_on_host = len(self.host_users.get(host, {}))
            out.append(Anomaly("user-to-host pair", f"{len(u.hosts)} hosts this user logs on to",
                               f"first logon to {host} ({peers_on_host} other users use it)",
                               0.35 if peers_on_host <= 1 else 0.2))
        if source_host and host and f"{source_host}->{host}" not in self.edges and source_host != host:
            out.append(Anomaly("logon graph path", f"{len(self.edges)} known source->host paths",
                               f"new path {source_host} -> {host}", 0.25))
        return out

    # ------------------------------------------------------------ state
    def to_json(self) -> dict:
        return {"version": STATE_VERSION, "users": {k: v.to_json() for k, v in self.users.items()},
                "host_users": self.host_users, "edges": self.edges, "admin_users": self.admin_users}

    @classmethod
    def from_json(cls, d: dict) -> "Baselines":
        b = cls()
        b.users = {k: UserBaseline.from_json(v) for k, v in (d.get("users") or {}).items()}
        b.host_users = dict(d.get("host_users") or {})
        b.edges = dict(d.get("edges") or {})
        b.admin_users = dict(d.get("admin_users") or {})
        return b

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> "Baselines":
        return cls.from_json(json.loads(Path(path).read_text()))
