"""Brute force, password spraying and credential stuffing: failed-logon campaigns per source.

Every failed attempt (sshd ``Failed``, 4625, 4771, failed 4768/4776, MSSQL
18456, LANL ``Fail``...) is grouped by its source (address, else source
computer, else ``local:<host>``). A **campaign** is a run of failures from one
source with no gap longer than ``gap`` seconds; it yields **one finding** when
it closes, if its busiest ``window`` (one hour) held ``threshold`` (10) or more
failures, or if it tried ``spray_accounts`` (5) or more accounts.

Which pattern it was, from the campaign's shape:

* **password spraying** (T1110.003): many accounts (>= ``spray_accounts``),
  few tries each (<= 3 on average);
* **credential stuffing** (T1110.004): the spraying shape at scale (>= 20
  accounts, <= 1.5 tries each) where some attempts succeeded or most names
  are e-mail addresses (leaked user/password pairs);
* **brute force** (T1110.001): otherwise (many tries on few accounts).

The explanation gives the observed peak beside the threshold and the
source's history (a source has no failures in its baseline), the accounts
tried, the targets, and any successful logon from the same source during the
campaign. Campaign state is pruned as time moves (closed after ``gap``), and the
per-source window buffer keeps at most one window of timestamps. Sources with
too few failures to qualify yet wait as rows of one table (the last ``gap``
seconds only), so background noise from a million addresses costs no
per-address objects.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.detectors.identity.common import IdentityState, nonempty, prepared, top_names, when
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.findings.schema import MAX_EVIDENCE

MAX_ACCOUNTS = 5000


class _Campaign:
    __slots__ = ("start", "end", "attempts", "accounts", "hosts", "evidence", "buf_t", "buf_w", "peak", "peak_at",
                 "kinds", "successes", "files", "extra_accounts")

    def __init__(self, t: float):
        self.start = self.end = t
        self.attempts = 0.0
        self.accounts: dict[str, float] = {}
        self.extra_accounts = 0
        self.hosts: dict[str, float] = {}
        self.evidence: list[str] = []
        self.buf_t = np.empty(0)
        self.buf_w = np.empty(0)
        self.peak = 0.0
        self.peak_at = t
        self.kinds: dict[str, float] = {}
        self.successes: dict[str, int] = {}
        self.files: set[str] = set()


class CredentialAttackDetector(Detector):
    name = "identity.credential_attack"
    version = "1"
    kinds = frozenset({"auth"})

    def __init__(self, threshold: int = 10, window: float = 3600.0, gap: float = 3600.0, spray_accounts: int = 5,
                 state: IdentityState | None = None):
        self.threshold, self.window, self.gap, self.spray_accounts = threshold, window, gap, spray_accounts
        self.state = state or IdentityState()
        self.open: dict[str, _Campaign] = {}
        self.pending = pd.DataFrame()
        self.now = -math.inf

    # ------------------------------------------------------------------
    def process(self, batch: EventBatch) -> list[Finding]:
        f = batch.frame
        if f.empty:
            return []
        prep = prepared(batch)
        w, ok = prep["w"], prep["ok"]
        rel = (w > 0) | ok
        if not rel.any():
            return []
        t_all = f["@timestamp"].to_numpy("float64")
        idx = np.nonzero(rel & ~np.isnan(t_all))[0]
        idx = idx[np.argsort(t_all[idx], kind="stable")]
        cols = {"t": t_all[idx], "w": w[idx], "src": prep["src"][idx],
                "user": f["user.name"].to_numpy(object)[idx], "host": f["host.name"].to_numpy(object)[idx],
                "id": f["event.id"].to_numpy(object)[idx],
                "kind": (f["event.dataset"].to_numpy(object)[idx].astype(str) + ":"
                         + f["event.code"].to_numpy(object)[idx].astype(str)).astype(object)}
        out: list[Finding] = []
        fail = cols["w"] > 0
        if fail.any():
            fidx = np.nonzero(fail)[0]
            in_open = np.fromiter((x in self.open for x in cols["src"][fidx]), bool, len(fidx))
            direct = fidx[in_open]
            # sources without an open campaign wait in a compact table until they could qualify:
            # internet noise (one or two guesses per address) never costs a Python object per address
            new = pd.DataFrame({k: v[fidx[~in_open]] for k, v in cols.items()})
            pend = pd.concat([self.pending, new], ignore_index=True) if len(self.pending) else new
            if len(pend):
                g = pend.groupby("src", sort=False)
                att = g["w"].transform("sum").to_numpy()
                acc = g["user"].transform("nunique").to_numpy()
                hot = (att >= self.threshold) | (acc >= self.spray_accounts)
                promoted = pend[hot].sort_values("t", kind="stable")
                pend = pend[~hot]
                self.pending = pend[pend["t"] > max(self.now, float(cols["t"][-1])) - self.gap].reset_index(drop=True)
                if len(promoted):
                    pc = {k: promoted[k].to_numpy() for k in cols}
                    for src, gi in pd.Series(np.arange(len(promoted))).groupby(pc["src"], sort=False).indices.items():
                        out.extend(self._add(src, {k: v[gi] for k, v in pc.items()}, batch.source))
            if len(direct):
                dsrc = cols["src"][direct]
                for src, gi in pd.Series(np.arange(len(direct))).groupby(dsrc, sort=False).indices.items():
                    out.extend(self._add(src, {k: v[direct[gi]] for k, v in cols.items()}, batch.source))
        okm = ok[idx]
        for src, user in zip(cols["src"][okm], cols["user"][okm]):
            c = self.open.get(src)
            if c is not None:
                c.successes[user] = c.successes.get(user, 0) + 1
        if len(idx):
            self.now = max(self.now, float(cols["t"][-1]))
        for src in [s for s, c in self.open.items() if self.now - c.end > self.gap]:
            out.extend(self._close(src))
        return out

    def flush(self) -> list[Finding]:
        out: list[Finding] = []
        self.pending = pd.DataFrame()  # never reached the threshold: nothing to report
        for src in list(self.open):
            out.extend(self._close(src))
        return out

    # ------------------------------------------------------------------
    def _add(self, src: str, g: dict, source_file: str) -> list[Finding]:
        out: list[Finding] = []
        t = g["t"]
        # campaign breaks: a gap longer than `gap` inside the batch, or away from the open campaign
        c = self.open.get(src)
        if c is not None and abs(t[0] - c.end) > self.gap and not (c.start - self.gap <= t[0] <= c.end):
            out.extend(self._close(src))
        bounds = [0] + (np.nonzero(np.diff(t) > self.gap)[0] + 1).tolist() + [len(t)]
        for i in range(len(bounds) - 1):
            a, b = bounds[i], bounds[i + 1]
            if i > 0:
                out.extend(self._close(src))
            c = self.open.get(src)
            if c is None:
                c = self.open[src] = _Campaign(float(t[a]))
            self._extend(c, {k: v[a:b] for k, v in g.items()}, source_file)
        return out

    def _extend(self, c: _Campaign, g: dict, source_file: str) -> None:
        t, w = g["t"], g["w"]
        c.start, c.end = min(c.start, float(t[0])), max(c.end, float(t[-1]))
        c.attempts += float(w.sum())
        c.files.add(source_file)
        acc, hosts, kinds = c.accounts, c.hosts, c.kinds
        for u, x, h, k in zip(g["user"], w, g["host"], g["kind"]):
            if u in acc or len(acc) < MAX_ACCOUNTS:
                acc[u] = acc.get(u, 0.0) + x
            else:
                c.extra_accounts += 1
            if h in hosts or len(hosts) < 50:
                hosts[h] = hosts.get(h, 0) + 1
            kinds[k] = kinds.get(k, 0) + 1
        room = MAX_EVIDENCE - len(c.evidence)
        if room > 0:
            c.evidence.extend(g["id"][:room].tolist())
        # busiest window: counts over (t_i - window, t_i] on the buffer of the last window
        bt = np.concatenate([c.buf_t, t])
        bw = np.concatenate([c.buf_w, w])
        if len(c.buf_t) and t[0] < c.buf_t[-1]:
            order = np.argsort(bt, kind="stable")
            bt, bw = bt[order], bw[order]
        cw = np.concatenate([[0.0], np.cumsum(bw)])
        left = np.searchsorted(bt, bt - self.window, side="right")
        counts = cw[1:] - cw[left]
        k = int(np.argmax(counts))
        if counts[k] > c.peak:
            c.peak, c.peak_at = float(counts[k]), float(bt[k])
        keep = bt > bt[-1] - self.window
        c.buf_t, c.buf_w = bt[keep], bw[keep]

    def _close(self, src: str) -> list[Finding]:
        c = self.open.pop(src, None)
        if c is None:
            return []
        n_acc = len(c.accounts) + c.extra_accounts
        if c.peak < self.threshold and n_acc < self.spray_accounts:
            return []
        return [self._finding(src, c, n_acc)]

    def _finding(self, src: str, c: _Campaign, n_acc: int) -> Finding:
        per_acc = c.attempts / max(n_acc, 1)
        emails = sum(1 for a in c.accounts if "@" in a and "." in a.split("@")[-1])
        kerberos = sum(n for k, n in c.kinds.items() if k.endswith((":4771", ":4768"))) > 0.5 * sum(c.kinds.values())
        won = {u: n for u, n in c.successes.items() if u in c.accounts}
        if n_acc >= self.spray_accounts and per_acc <= 3.0:
            if n_acc >= 20 and per_acc <= 1.5 and (won or emails > n_acc / 2):
                kind, tech = "credential stuffing", "T1110.004"
                why = (f"{n_acc} accounts tried about once each ({per_acc:.1f} tries per account)"
                       + (f", {len(won)} of them then logged on" if won else ", most names are e-mail addresses")
                       + ": leaked user/password pairs replayed")
            else:
                kind, tech = "password spraying", "T1110.003"
                why = f"{n_acc} accounts with {per_acc:.1f} tries each: many accounts, few passwords"
        else:
            kind, tech = "brute force", "T1110.001"
            why = f"{per_acc:.0f} tries per account on {n_acc} account{'s' if n_acc != 1 else ''}: guessing passwords"
        if kerberos:
            kind = f"Kerberos {kind}"
        score = {"brute force": 0.45, "password spraying": 0.6, "credential stuffing": 0.6}[kind.replace("Kerberos ", "")]
        score += 0.1 * min(2.0, math.log10(max(c.peak, 1.0) / self.threshold + 1.0))
        if won:
            score += 0.15
        score = min(score, 0.89)
        accounts = sorted(c.accounts, key=lambda a: -c.accounts[a])
        expl = [
            f"{src} made {int(c.attempts)} failed logon attempts against {n_acc} account{'s' if n_acc != 1 else ''} "
            f"between {when(c.start)} and {when(c.end)}.",
            f"Busiest hour: {int(c.peak)} failures (ending {when(c.peak_at)}); threshold {self.threshold} per "
            f"{int(self.window // 60)} min; a source's baseline is 0 failed logons.",
            f"Pattern: {why}.",
            f"Accounts tried: {top_names(c.accounts)}.",
        ]
        if won:
            expl.insert(1, f"Successful logon from the same source during the campaign: {top_names(won)}.")
        hosts = nonempty(c.hosts)
        if hosts:
            expl.append(f"Targets: {', '.join(hosts[:5])}.")
        attack = [tech] + (["T1078"] if won else [])
        related = {"user": accounts[:20], "host": hosts}
        if not src.startswith("local:"):
            related["source.ip"] = [src]
        return Finding.make(
            detector=self.name, detector_version=self.version,
            title=f"{kind[0].upper() + kind[1:]} from {src}" + (" followed by a successful logon" if won else ""),
            start=c.start, end=c.end, entity_type="host", entity=src, score=score, attack=attack,
            evidence=c.evidence, evidence_count=int(c.attempts), explanation=expl, related=related,
            source_files=sorted(c.files),
            attributes={"failed_attempts": int(c.attempts), "accounts": n_acc, "peak_per_window": int(c.peak),
                        "threshold": self.threshold, "tries_per_account": round(per_acc, 2),
                        "pattern": kind, "successes": int(sum(won.values())),
                        **self.state.risk_attrs(src, score, c.end)},
        )
