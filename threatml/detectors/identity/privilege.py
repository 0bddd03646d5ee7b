"""Privilege use and account changes: first admin use, group membership, account creation/deletion.

* **First use of admin rights** (sudo, su to root, 4672 special privileges):
  reported once per user when the user has an established logon history
  (mature baseline) but has never used admin rights in it. Users still
  learning are not reported (their first sudo is just the first thing seen).
  T1548.003 (sudo, su) / T1078 (4672).
* **Group membership change** (4728/4732/4756, ``usermod -G``, ``gpasswd``):
  one finding per actor and UTC day listing members and groups; membership in
  a privileged group (Administrators, Domain/Enterprise/Schema Admins,
  sudo, wheel, admin, root, ...) scores higher. T1098.
* **Account creation / deletion** (4720/4726, ``useradd``/``userdel``): one
  finding per actor and day; an account created and deleted within the same
  day scores higher (a throw-away account). T1136 / T1531.
* **Audit log cleared** (1102): T1070.001, high.
"""

from __future__ import annotations

import numpy as np

from threatml.detectors.base import Detector
from threatml.detectors.identity.common import IdentityState, is_machine_user, when
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.findings.schema import MAX_EVIDENCE

PRIVILEGED_GROUPS = frozenset({
    "administrators", "domain admins", "enterprise admins", "schema admins", "account operators",
    "backup operators", "server operators", "print operators", "dnsadmins", "group policy creator owners",
    "remote desktop users", "sudo", "wheel", "admin", "root", "adm", "docker", "lxd", "disk", "shadow",
})
_ADMIN_ACTIONS = ("sudo", "su", "admin-logon")
#: a Linux account change without an actor is attributed to a sudo on the same host this recently
SUDO_ATTRIBUTION_S = 300.0
_CHANGE = {"group-member-added": "group", "user-created": "account", "user-deleted": "account",
           "log-cleared": "log"}


class _Agg:
    __slots__ = ("start", "end", "items", "evidence", "files", "hosts")

    def __init__(self, t: float):
        self.start = self.end = t
        self.items: list[tuple[str, str, str]] = []  # (action, target, group)
        self.evidence: list[str] = []
        self.files: set[str] = set()
        self.hosts: list[str] = []


class PrivilegeDetector(Detector):
    name = "identity.privilege"
    version = "1"
    kinds = frozenset({"auth"})

    def __init__(self, state: IdentityState | None = None):
        self.state = state or IdentityState()
        self.open: dict[tuple[str, str, int], _Agg] = {}
        self.sudo_log: dict[str, list[tuple[float, str, str]]] = {}
        self.now = float("-inf")

    def process(self, batch: EventBatch) -> list[Finding]:
        f = batch.frame
        if f.empty:
            return []
        action = f["event.action"].to_numpy(object)
        ok = f["event.outcome"].to_numpy(object) == "success"
        admin = ok & np.isin(action, _ADMIN_ACTIONS) & ~is_machine_user(f["user.name"])
        su_mask = action == "su"
        eff = f["user.effective.name"].to_numpy(object)
        admin &= ~su_mask | (eff == "root")
        change = ok & np.isin(action, list(_CHANGE))
        out: list[Finding] = []
        b = self.state.baselines
        if admin.any():
            a = f.loc[admin, ["@timestamp", "user.name", "event.action", "event.id", "host.name", "service.name"]]
            for t, user, act, eid, host, svc in zip(a["@timestamp"].to_numpy("float64"), a["user.name"].to_numpy(object),
                                                    a["event.action"].to_numpy(object), a["event.id"].to_numpy(object),
                                                    a["host.name"].to_numpy(object), a["service.name"].to_numpy(object)):
                if not user:
                    continue
                u = b.users.get(user)
                if user not in b.admin_users and u is not None and u.mature:
                    out.append(self._first_admin(user, t, act, eid, host, svc, u.logons, batch.source))
                b.learn_admin(user)
        sudo = ok & (action == "sudo")
        if sudo.any():
            sd = f.loc[sudo, ["@timestamp", "user.name", "host.name", "service.name"]]
            for t, user, host, cmd in zip(sd["@timestamp"].to_numpy("float64"), sd["user.name"].to_numpy(object),
                                          sd["host.name"].to_numpy(object), sd["service.name"].to_numpy(object)):
                self.sudo_log.setdefault(host, []).append((t, user, cmd))
        if change.any():
            c = f.loc[change, ["@timestamp", "user.name", "event.action", "user.target.name", "group.name",
                            "event.id", "host.name"]]
            for t, user, act, tgt, grp, eid, host in zip(
                    c["@timestamp"].to_numpy("float64"), c["user.name"].to_numpy(object),
                    c["event.action"].to_numpy(object), c["user.target.name"].to_numpy(object),
                    c["group.name"].to_numpy(object), c["event.id"].to_numpy(object), c["host.name"].to_numpy(object)):
                day = int(t // 86400) if t == t else 0
                if not user:  # Linux tools do not log who ran them: the sudo just before on that host did
                    user = self._sudoer(host, t)
                key = (user or "unknown", _CHANGE[act], day)
                g = self.open.get(key)
                if g is None:
                    g = self.open[key] = _Agg(t)
                g.start, g.end = min(g.start, t), max(g.end, t)
                if len(g.items) < 1000:
                    g.items.append((act, tgt, grp))
                if len(g.evidence) < MAX_EVIDENCE:
                    g.evidence.append(eid)
                if host and host not in g.hosts and len(g.hosts) < 20:
                    g.hosts.append(host)
                g.files.add(batch.source)
        for host in list(self.sudo_log):
            self.sudo_log[host] = self.sudo_log[host][-50:]  # bounded: only the latest sudo matter next batch
        ts = f["@timestamp"].to_numpy("float64")
        if np.isfinite(ts).any():
            self.now = max(self.now, float(np.nanmax(ts)))
        today = int(self.now // 86400) if np.isfinite(self.now) else 0
        for k in [k for k in self.open if k[2] < today - 1]:
            out.extend(self._change_finding(k, self.open.pop(k)))
        return out

    def _sudoer(self, host: str, t: float) -> str:
        best, who = -1.0, ""
        for st, user, _ in self.sudo_log.get(host, []):
            if st <= t and t - st <= SUDO_ATTRIBUTION_S and st >= best:
                best, who = st, user
        return who

    def flush(self) -> list[Finding]:
        out = []
        for k in list(self.open):
            out.extend(self._change_finding(k, self.open.pop(k)))
        return out

    def _first_admin(self, user: str, t: float, act: str, eid: str, host: str, svc: str, logons: int,
                     file: str) -> Finding:
        what = {"sudo": f"sudo {svc[:120]}".strip(), "su": "su to root", "admin-logon": "logon with special "
                "privileges (4672)"}[act]
        score = 0.45
        return Finding.make(
            detector=self.name, detector_version=self.version, title=f"First use of admin rights by {user}",
            start=t, end=t, entity_type="user", entity=user, score=score,
            attack=["T1548.003"] if act in ("sudo", "su") else ["T1078"], evidence=[eid],
            explanation=[f"{user} used admin rights for the first time at {when(t)}: {what}.",
                         f"Baseline: {logons} earlier logons of {user} and 0 uses of admin rights."],
            related={"user": [user], "host": [host] if host else []}, source_files=[file],
            attributes={"action": act, **self.state.risk_attrs(user, score, t)},
        )

    def _change_finding(self, key: tuple[str, str, int], g: _Agg) -> list[Finding]:
        actor, kind, _ = key
        related = {"user": sorted({actor} | {t for _, t, _ in g.items if t})[:20], "host": g.hosts}
        if kind == "log":
            score, attack = 0.75, ["T1070.001"]
            title = f"Security audit log cleared by {actor}"
            expl = [f"{actor} cleared the Security event log at {when(g.start)} ({len(g.items)} time(s)); "
                    f"baseline: audit logs are never cleared in normal operation."]
        elif kind == "group":
            groups = sorted({grp for _, _, grp in g.items if grp})
            members = sorted({t for _, t, _ in g.items if t})
            priv = [x for x in groups if x.lower() in PRIVILEGED_GROUPS]
            score = 0.6 if priv else 0.3
            attack = ["T1098"]
            title = f"{actor} added members to {'privileged ' if priv else ''}group(s) {', '.join(groups[:3])}"
            expl = [f"{actor} made {len(g.items)} group membership change(s) between {when(g.start)} and "
                    f"{when(g.end)}: {', '.join(members[:10])} into {', '.join(groups[:10])}."]
            if priv:
                expl.append(f"Privileged group(s): {', '.join(priv)} (membership grants admin rights).")
        else:
            created = [t for a, t, _ in g.items if a == "user-created"]
            deleted = [t for a, t, _ in g.items if a == "user-deleted"]
            both = sorted(set(created) & set(deleted))
            score = 0.5 if both else 0.3
            attack = (["T1136"] if created else []) + (["T1531"] if deleted else [])
            title = (f"{actor} created {len(set(created))} account(s)" if created else f"{actor} deleted accounts")
            if created and deleted:
                title = f"{actor} created {len(set(created))} and deleted {len(set(deleted))} account(s)"
            expl = [f"Account changes by {actor} between {when(g.start)} and {when(g.end)}: "
                    + "; ".join(x for x in (f"created {', '.join(sorted(set(created))[:10])}" if created else "",
                                            f"deleted {', '.join(sorted(set(deleted))[:10])}" if deleted else "") if x)
                    + "."]
            if both:
                expl.insert(0, f"Created and deleted the same day: {', '.join(both[:10])} (throw-away account).")
        return [Finding.make(
            detector=self.name, detector_version=self.version, title=title, start=g.start, end=g.end,
            entity_type="user", entity=actor, score=score, attack=attack, evidence=g.evidence, explanation=expl,
            related={k: v for k, v in related.items() if v}, source_files=sorted(g.files),
            attributes={"changes": len(g.items), **self.state.risk_attrs(actor, score, g.end)},
        )]
