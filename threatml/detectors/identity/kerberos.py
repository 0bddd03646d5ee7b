"""Kerberoasting: RC4 service tickets and bursts of service-ticket requests (4769).

Per requesting account and source, service-ticket requests (4769, success)
are gathered into campaigns (no gap longer than ``gap``). A campaign is
reported once:

* RC4 (``0x17``/``0x18``) tickets for user services (not ``krbtgt``, not
  computer accounts ending in ``$``): modern domains ask for AES, and RC4
  tickets can be cracked offline. One RC4 service is low/medium; ``burst``
  (3) or more distinct RC4 services within ``window`` (10 min) is the
  Kerberoasting pattern (high).
* ``many_services`` (20) or more distinct services within ``window``
  whatever the cipher: ticket harvesting.

ATT&CK T1558.003. (4771 pre-authentication failures are counted as failed
attempts by ``identity.credential_attack``, which reports them as Kerberos
password spraying or brute force, one finding per source.)
"""

from __future__ import annotations

import numpy as np

from threatml.detectors.base import Detector
from threatml.detectors.identity.common import IdentityState, prepared, when
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.findings.schema import MAX_EVIDENCE

RC4 = frozenset({"0x17", "0x18", "23", "24", "rc4-hmac", "rc4"})


class _Camp:
    __slots__ = ("start", "end", "services", "rc4", "times_rc4", "times_all", "evidence", "files", "hosts")

    def __init__(self, t: float):
        self.start = self.end = t
        self.services: set[str] = set()
        self.rc4: set[str] = set()
        self.times_rc4: list[tuple[float, str]] = []
        self.times_all: list[tuple[float, str]] = []
        self.evidence: list[str] = []
        self.files: set[str] = set()
        self.hosts: set[str] = set()


def _max_distinct(times: list[tuple[float, str]], window: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi in range(len(times)):
        while times[hi][0] - times[lo][0] > window:
            lo += 1
        best = max(best, len({s for _, s in times[lo:hi + 1]}))
    return best


class KerberoastDetector(Detector):
    name = "identity.kerberos"
    version = "1"
    kinds = frozenset({"auth"})

    def __init__(self, burst: int = 3, many_services: int = 20, window: float = 600.0, gap: float = 3600.0,
                 state: IdentityState | None = None):
        self.burst, self.many, self.window, self.gap = burst, many_services, window, gap
        self.state = state or IdentityState()
        self.open: dict[tuple[str, str], _Camp] = {}
        self.now = float("-inf")

    def process(self, batch: EventBatch) -> list[Finding]:
        f = batch.frame
        if f.empty:
            return []
        m = (f["event.action"].to_numpy(object) == "kerberos-service-ticket") & \
            (f["event.outcome"].to_numpy(object) != "failure")
        out: list[Finding] = []
        if m.any():
            k = f.loc[m, ["@timestamp", "user.name", "service.name", "tls.cipher", "event.id", "host.name"]]
            svc = k["service.name"].astype("str").str.lower().to_numpy(object)
            user_svc = np.array([not (s.startswith("krbtgt") or s.endswith("$") or not s) for s in svc])
            rc4 = k["tls.cipher"].astype("str").str.lower().isin(RC4).to_numpy()
            for t, user, src, s, is_user, is_rc4, eid, host in zip(
                    k["@timestamp"].to_numpy("float64"), k["user.name"].to_numpy(object), prepared(batch)["src"][m], svc,
                    user_svc, rc4, k["event.id"].to_numpy(object), k["host.name"].to_numpy(object)):
                if t != t or not is_user:
                    continue
                key = (user, src)
                c = self.open.get(key)
                if c is not None and abs(t - c.end) > self.gap:
                    out.extend(self._finding(key, self.open.pop(key)))
                    c = None
                if c is None:
                    c = self.open[key] = _Camp(t)
                c.start, c.end = min(c.start, t), max(c.end, t)
                if len(c.times_all) < 10_000:
                    c.services.add(s)
                    c.times_all.append((t, s))
                    if is_rc4:
                        c.rc4.add(s)
                        c.times_rc4.append((t, s))
                if (is_rc4 or len(c.evidence) < 10) and len(c.evidence) < MAX_EVIDENCE:
                    c.evidence.append(eid)
                c.files.add(batch.source)
                if host:
                    c.hosts.add(host)
                self.now = max(self.now, t)
        for key in [k for k, c in self.open.items() if self.now - c.end > self.gap]:
            out.extend(self._finding(key, self.open.pop(key)))
        return out

    def flush(self) -> list[Finding]:
        out = []
        for key in list(self.open):
            out.extend(self._finding(key, self.open.pop(key)))
        return out

    def _finding(self, key: tuple[str, str], c: _Camp) -> list[Finding]:
        user, src = key
        rc4_burst = _max_distinct(c.times_rc4, self.window) if c.rc4 else 0
        all_burst = _max_distinct(c.times_all, self.window)
        if not c.rc4 and all_burst < self.many:
            return []
        if rc4_burst >= self.burst:
            score, title = 0.8, f"Kerberoasting by {user}: {len(c.rc4)} RC4 service tickets"
        elif all_burst >= self.many:
            score, title = 0.6, f"Burst of {all_burst} Kerberos service-ticket requests by {user}"
        else:
            score, title = 0.35, f"RC4 Kerberos service ticket requested by {user}"
        expl = [f"{user} (from {src}) requested service tickets for {len(c.services)} service(s) between "
                f"{when(c.start)} and {when(c.end)}; {len(c.rc4)} with RC4 encryption: "
                f"{', '.join(sorted(c.rc4)[:10]) or 'none'}.",
                f"Busiest {int(self.window // 60)} min: {rc4_burst} distinct RC4 services (threshold {self.burst}) and "
                f"{all_burst} distinct services (threshold {self.many}); baseline: AES tickets, a handful of services.",
                "RC4 service tickets can be cracked offline to recover the service account's password."]
        related = {"user": [user], "host": sorted(c.hosts)[:20]}
        if not src.startswith("local:"):
            related["source.ip"] = [src]
        return [Finding.make(
            detector=self.name, detector_version=self.version, title=title, start=c.start, end=c.end,
            entity_type="user", entity=user, score=score, attack=["T1558.003"], evidence=c.evidence,
            explanation=expl, related=related, source_files=sorted(c.files),
            attributes={"services": len(c.services), "rc4_services": len(c.rc4), "rc4_burst": rc4_burst,
                        **self.state.risk_attrs(user, score, c.end)},
        )]
