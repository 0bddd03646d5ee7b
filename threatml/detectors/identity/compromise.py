"""Likely account compromise: a successful logon right after a run of failures.

A success of account U from source S is suspicious when, in the ``window``
(one hour) before it, U failed ``run`` (5) or more times, or S failed
``threshold`` (10) or more times *including* attempts on U (a guessing source
that then got in as one of the accounts it was guessing). A source that failed
on other accounts only does not make U's logon suspicious: an administrator
testing new accounts from their own address is not a compromise of the
administrator. One finding per (user, source) campaign: further successes
within ``gap`` extend it.

Score: 0.55 when the failures came from the same source (0.35 when they came
from elsewhere: the account is under attack, the logon may be its owner),
+ 0.2 when the source was itself guessing at brute-force rate,
+ 0.1 when it tried three or more accounts, - 0.3 when the account had
logged on successfully from that address before (in this scan, or in the
stored baseline): the owner mistyping, or a phone with an old password, stays
medium or low. T1110 + T1078.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.detectors.identity.common import IdentityState, prepared, when
from threatml.events import EventBatch
from threatml.findings import Finding

#: (user, source) pairs whose successful logons are remembered
MAX_PAIRS = 500_000
#: weaker than this is not reported (a usual address while the failures came from elsewhere)
MIN_SCORE = 0.2


class _Hit:
    __slots__ = ("start", "end", "n", "fu", "fu_same", "fs", "accounts", "evidence", "files", "host", "prior",
                 "in_baseline")

    def __init__(self, t: float):
        self.start = self.end = t
        self.n = 0
        self.fu = self.fu_same = self.fs = 0.0
        self.prior = 0
        self.in_baseline = False
        self.accounts = 0
        self.evidence: list[str] = []
        self.files: set[str] = set()
        self.host = ""


class CompromiseDetector(Detector):
    name = "identity.compromise"
    version = "1"
    kinds = frozenset({"auth"})

    def __init__(self, run: int = 5, threshold: int = 10, window: float = 3600.0, gap: float = 3600.0,
                 state: IdentityState | None = None):
        self.run, self.threshold, self.window, self.gap = run, threshold, window, gap
        self.state = state or IdentityState()
        # failures of the last window carried to the next batch
        self.carry = pd.DataFrame({"t": pd.Series(dtype="float64"), "user": pd.Series(dtype="object"),
                                   "src": pd.Series(dtype="object"), "w": pd.Series(dtype="float64"),
                                   "id": pd.Series(dtype="object")})
        self.open: dict[tuple[str, str], _Hit] = {}
        self.seen_ok: dict[tuple[str, str], int] = {}
        self.now = -math.inf

    def process(self, batch: EventBatch) -> list[Finding]:
        f = batch.frame
        if f.empty:
            return []
        prep = prepared(batch)
        w, ok, srcs = prep["w"], prep["ok"], prep["src"]
        out: list[Finding] = []
        if (w > 0).any():
            fl = f.loc[w > 0, ["@timestamp", "user.name", "event.id"]]
            new = pd.DataFrame({"t": fl["@timestamp"].to_numpy("float64"), "user": fl["user.name"].to_numpy(object),
                                "src": srcs[w > 0], "w": w[w > 0], "id": fl["event.id"].to_numpy(object)})
            fails = pd.concat([self.carry, new], ignore_index=True) if len(self.carry) else new
            fails = fails[fails["t"].notna()].sort_values("t", kind="stable")
        else:
            fails = self.carry
        if ok.any():
            order = np.argsort(f.loc[ok, "@timestamp"].to_numpy("float64"), kind="stable")
            succ = f.loc[ok, ["@timestamp", "user.name", "event.id", "host.name"]].iloc[order]
            ssrc = srcs[ok][order]
            have = len(fails) > 0
            ft, fw = fails["t"].to_numpy("float64"), fails["w"].to_numpy("float64")
            fu_arr, fs_arr, fid = fails["user"].to_numpy(object), fails["src"].to_numpy(object), fails["id"].to_numpy(object)
            pair = fu_arr.astype(str) + "\x00" + fs_arr.astype(str)
            by_user = pd.Series(fu_arr).groupby(fu_arr, sort=False).indices if have else {}
            by_src = pd.Series(fs_arr).groupby(fs_arr, sort=False).indices if have else {}
            by_pair = pd.Series(pair).groupby(pair, sort=False).indices if have else {}

            def window_sum(ix, t):  # failures (weighted) of one group in (t - window, t]; ix is time-ordered
                if ix is None:
                    return 0.0, 0, 0
                tt = ft[ix]
                lo, hi = np.searchsorted(tt, t - self.window, "right"), np.searchsorted(tt, t, "right")
                return float(fw[ix[lo:hi]].sum()) if hi > lo else 0.0, lo, hi

            seen = self.seen_ok
            for t, user, src, eid, host in zip(succ["@timestamp"].to_numpy("float64"), succ["user.name"].to_numpy(object),
                                               ssrc, succ["event.id"].to_numpy(object),
                                               succ["host.name"].to_numpy(object)):
                # earlier successes of this account from this address: the owner's place, not a guesser's
                prior = seen.get((user, src), 0)
                seen[(user, src)] = prior + 1
                if t != t or not have:
                    continue
                ui = by_user.get(user)
                if ui is None:  # the account never failed in the window: nothing to check
                    continue
                fu, lo, hi = window_sum(ui, t)
                pi = by_pair.get(f"{user}\x00{src}")
                if fu < self.run and pi is None:
                    continue
                fu_same = window_sum(pi, t)[0]
                fs, slo, shi = window_sum(by_src.get(src), t)
                if fu >= self.run or (fs >= self.threshold and fu_same > 0):
                    ids = fid[ui[max(lo, hi - 20):hi]].tolist() if ui is not None else []
                    accounts = 0
                    if (user, src) not in self.open:
                        accounts = len(set(fu_arr[by_src[src][slo:shi]].tolist())) if shi > slo else 0
                    out.extend(self._hit(user, src, t, fu, fu_same, fs, accounts, ids + [eid], batch.source, host,
                                         prior))
        if len(fails):
            self.now = max(self.now, float(fails["t"].iloc[-1]))
        if ok.any():
            ts = f.loc[ok, "@timestamp"].to_numpy("float64")
            if np.isfinite(ts).any():
                self.now = max(self.now, float(np.nanmax(ts)))
        self.carry = fails[fails["t"] > self.now - self.window].reset_index(drop=True)
        if len(self.seen_ok) > MAX_PAIRS:  # bounded: forget the least-used half
            keep = sorted(self.seen_ok.items(), key=lambda kv: -kv[1])[: MAX_PAIRS // 2]
            self.seen_ok = dict(keep)
        for key in [k for k, h in self.open.items() if self.now - h.end > self.gap]:
            out.extend(self._finding(key, self.open.pop(key)))
        return out

    def flush(self) -> list[Finding]:
        out = [f for k, h in self.open.items() for f in self._finding(k, h)]
        self.open.clear()
        return out

    def _count(self, arr, t: float) -> tuple[float, list[str]]:
        if arr is None:
            return 0.0, []
        ts, cw, ids = arr
        hi = np.searchsorted(ts, t, side="right")
        lo = np.searchsorted(ts, t - self.window, side="right")
        if hi <= lo:
            return 0.0, []
        total = cw[hi - 1] - (cw[lo - 1] if lo > 0 else 0.0)
        return float(total), ids[max(lo, hi - 20):hi].tolist()

    def _hit(self, user: str, src: str, t: float, fu: float, fu_same: float, fs: float, accounts: int, ids: list[str],
             file: str, host: str, prior: int = 0) -> list[Finding]:
        key = (user, src)
        out: list[Finding] = []
        h = self.open.get(key)
        if h is not None and t - h.end > self.gap:
            out.extend(self._finding(key, self.open.pop(key)))
            h = None
        if h is None:
            h = self.open[key] = _Hit(t)
            h.prior = prior
            base = self.state.baselines.users.get(user)
            h.in_baseline = bool(base is not None and base.mature and src in base.ips)
        h.end = max(h.end, t)
        h.n += 1
        h.fu, h.fs, h.accounts = max(h.fu, fu), max(h.fs, fs), max(h.accounts, accounts)
        h.fu_same = max(h.fu_same, fu_same)
        h.host = h.host or host
        h.evidence.extend(i for i in ids if i not in h.evidence)
        h.files.add(file)
        return out

    def _finding(self, key: tuple[str, str], h: _Hit) -> list[Finding]:
        user, src = key
        # the logon came from where the guessing came from: the guesser got in
        same = h.fu_same >= self.run or h.fs >= self.threshold
        score = 0.55 if same else 0.35
        expl = [f"{user} logged on successfully from {src} at {when(h.start)} after {int(h.fu)} failed attempts on "
                f"this account within the previous {int(self.window // 60)} min (a run of {self.run} or more is "
                f"suspicious; the account's usual number of failures before a logon is 0-2)."]
        if not same:
            expl.append(f"Only {int(h.fu_same)} of those failures came from {src}: the account is under attack "
                        f"from elsewhere; this logon may be its owner (check it).")
        if h.fs >= self.threshold:
            score += 0.2
            expl.append(f"The source itself failed {int(h.fs)} times in that window (brute-force rate >= "
                        f"{self.threshold}) across {h.accounts} account(s).")
        if h.accounts >= 3:
            score += 0.1
        known = bool(h.prior or h.in_baseline)
        if known:
            score -= 0.3
            expl.append(f"{src} is a usual address of {user} ("
                        + (f"{h.prior} successful logon(s) from it before the failures" if h.prior
                           else "in the stored baseline") + "): more likely the owner.")
        if h.n > 1:
            expl.append(f"{h.n} successful logons of {user} from {src} until {when(h.end)}.")
        if score < MIN_SCORE:  # the owner at a usual address while others attack: credential_attack has it
            return []
        score = min(score, 0.9)
        related = {"user": [user], "host": [h.host] if h.host else []}
        if not src.startswith("local:"):
            related["source.ip"] = [src]
        return [Finding.make(
            detector=self.name, detector_version=self.version,
            title=(f"Likely compromise of {user}: logon from {src} after repeated failures" if same and not known
                   else f"Logon of {user} from its usual address {src} after repeated failures" if known
                   else f"Logon of {user} from {src} while the account was under attack from elsewhere"),
            start=h.start, end=h.end, entity_type="user", entity=user, score=score, attack=["T1110", "T1078"],
            evidence=h.evidence, explanation=expl, related=related, source_files=sorted(h.files),
            attributes={"failures_for_user": int(h.fu), "failures_from_source": int(h.fs),
                        "successes": h.n, **self.state.risk_attrs(user, score, h.end)},
        )]
