"""Logons that break the user's own pattern: new source network, odd hour or weekday, new host or path.

Each successful logon is compared with the user's baseline
(:class:`~threatml.identity.baselines.Baselines`: learned from the store or a
trained model, else online from this scan) and then added to it. Users still
learning (fewer than 10 logons or 3 days) are never reported. The parts a
logon breaks -- new /16 or /24 source network, hour or weekday the user (and
their peers: users of the same hosts) never log on at, first logon to a host,
a source->host path never seen in the logon graph -- are collected per user
and UTC day into **one finding**, closed when the day is over; its score is
``1 - prod(1 - s_part)`` over the strongest instance of each part.

ATT&CK: T1078 (valid accounts used unusually); T1021 when the broken part is
a new host or logon-graph path (lateral movement).
"""

from __future__ import annotations

import re

import numpy as np

from threatml.detectors.base import Detector
from threatml.detectors.identity.common import IdentityState, prepared, when
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.findings.schema import MAX_EVIDENCE

_KEY = re.compile(r"(SHA256:[A-Za-z0-9+/=]+)")


class _Day:
    __slots__ = ("start", "end", "parts", "evidence", "ips", "hosts", "files", "n")

    def __init__(self, t: float):
        self.start = self.end = t
        self.parts: dict[str, tuple[float, str]] = {}
        self.evidence: list[str] = []
        self.ips: list[str] = []
        self.hosts: list[str] = []
        self.files: set[str] = set()
        self.n = 0


class UnusualLogonDetector(Detector):
    name = "identity.unusual_logon"
    version = "1"
    kinds = frozenset({"auth"})

    def __init__(self, min_score: float = 0.2, state: IdentityState | None = None, save_state: bool = True):
        self.min_score = min_score
        self.state = state or IdentityState()
        self.save_state = save_state
        self.open: dict[tuple[str, int], _Day] = {}
        self.now = float("-inf")

    def process(self, batch: EventBatch) -> list[Finding]:
        f = batch.frame
        prep = prepared(batch)
        ok = prep["ok"]
        if not ok.any():
            return []
        order = np.argsort(f.loc[ok, "@timestamp"].to_numpy("float64"), kind="stable")
        s = f.loc[ok, ["@timestamp", "user.name", "host.name", "source.hostname", "auth.method", "message",
                       "event.id"]].iloc[order]
        srcs = prep["src"][ok][order]
        b = self.state.baselines
        methods = s["auth.method"].to_numpy(object)
        msgs = s["message"].to_numpy(object)
        for t, user, src, host, shost, method, msg, eid in zip(
                s["@timestamp"].to_numpy("float64"), s["user.name"].to_numpy(object), srcs,
                s["host.name"].to_numpy(object), s["source.hostname"].to_numpy(object), methods, msgs,
                s["event.id"].to_numpy(object)):
            if t != t or not user:
                continue
            ip = "" if src.startswith("local:") or src == shost else src
            key = ""
            if method == "publickey" and msg:
                m = _KEY.search(msg)
                key = m.group(1) if m else ""
            anomalies = b.check(user, t, ip=ip, host=host, source_host=shost, method=method, key=key)
            b.learn(user, t, ip=ip, host=host, source_host=shost, method=method, key=key)
            if anomalies:
                day = int(t // 86400)
                d = self.open.get((user, day))
                if d is None:
                    d = self.open[(user, day)] = _Day(t)
                d.end = max(d.end, t)
                d.n += 1
                for a in anomalies:
                    if a.part not in d.parts or a.score > d.parts[a.part][0]:
                        d.parts[a.part] = (a.score, a.sentence())
                if len(d.evidence) < MAX_EVIDENCE:
                    d.evidence.append(eid)
                if ip and ip not in d.ips and len(d.ips) < 20:
                    d.ips.append(ip)
                if host and host not in d.hosts and len(d.hosts) < 20:
                    d.hosts.append(host)
                d.files.add(batch.source)
            self.now = max(self.now, t)
        out = []
        today = int(self.now // 86400) if self.now > float("-inf") else 0
        for k in [k for k in self.open if k[1] < today - 1 or (k[1] < today and self.now % 86400 > 3600)]:
            out.extend(self._finding(k, self.open.pop(k)))
        return out

    def flush(self) -> list[Finding]:
        out = []
        for k in list(self.open):
            out.extend(self._finding(k, self.open.pop(k)))
        if self.save_state:
            self.state.save()
        return out

    def _finding(self, key: tuple[str, int], d: _Day) -> list[Finding]:
        user = key[0]
        score = 1.0 - float(np.prod([1.0 - s for s, _ in d.parts.values()]))
        if score < self.min_score:
            return []
        parts = sorted(d.parts.items(), key=lambda kv: -kv[1][0])
        lateral = any(p in ("user-to-host pair", "logon graph path") for p, _ in parts)
        expl = [f"{user}: {d.n} logon(s) between {when(d.start)} and {when(d.end)} broke the user's pattern."]
        expl += [sent + "." for _, (_, sent) in parts]
        if not self.state.from_history:
            expl.append("Baseline learned from earlier events of this scan (no stored history).")
        related = {"user": [user], "host": d.hosts, "source.ip": d.ips}
        return [Finding.make(
            detector=self.name, detector_version=self.version,
            title=f"Unusual logon for {user}: {', '.join(p for p, _ in parts)}",
            start=d.start, end=d.end, entity_type="user", entity=user, score=min(score, 0.85),
            attack=["T1078"] + (["T1021"] if lateral else []), evidence=d.evidence, explanation=expl,
            related={k: v for k, v in related.items() if v}, source_files=sorted(d.files),
            attributes={"parts": ", ".join(p for p, _ in parts), "logons": d.n,
                        **self.state.risk_attrs(user, score, d.end)},
        )]
