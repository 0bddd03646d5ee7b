"""Insider-threat detector: users whose daily activity breaks their own and their peers' habits.

Activity events are folded into daily vectors as they arrive
(:mod:`~threatml.detectors.insider.daily`); at the end of the input every
user-day is scored (:mod:`~threatml.detectors.insider.scoring`), days above
``day_threshold`` are joined into periods (gaps up to ``gap_days``), and each
(user, period) becomes one finding that names the features that broke, with
the observed value beside the user's usual value and the peers'.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.detectors.insider.daily import FAMILIES, FEATURES, DailyActivity
from threatml.detectors.insider.scoring import periods, score_days
from threatml.events import EventBatch
from threatml.findings import Finding

#: ATT&CK techniques suggested by the features that broke
_ATTACK = {
    "device_connect": "T1052.001", "device_after_hours": "T1052.001", "file_copy": "T1052.001",
    "file_after_hours": "T1052.001",
    "web_upload": "T1567", "web_new_rare_domains": "T1567",
    "email_external": "T1048.003", "email_external_bytes": "T1048.003", "email_external_attachments": "T1048.003",
    "logon_after_hours": "T1078", "new_pcs": "T1078", "others_pc": "T1078",
}


def _day(d: int) -> str:
    return str(pd.Timestamp(int(d) * 86400, unit="s").date())


def _fmt(v: float, unit: str) -> str:
    if unit == "B":
        for u in ("B", "KB", "MB", "GB"):
            if abs(v) < 1024 or u == "GB":
                return f"{v:,.0f} {u}" if u == "B" else f"{v:,.1f} {u}"
            v /= 1024
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def _in_mail_units(table: pd.DataFrame) -> pd.DataFrame:
    """Byte columns divided by the typical email size, so one ordinary email weighs about one
    (on a log scale a first email of 70 KB would otherwise look like 11 "events")."""
    sent = table["email_sent"] > 0
    unit = float((table.loc[sent, "email_bytes"] / table.loc[sent, "email_sent"]).median()) if sent.any() else 0.0
    if not np.isfinite(unit) or unit <= 0:
        return table
    out = table.copy()
    for c in ("email_bytes", "email_external_bytes"):
        out[c] = table[c] / unit
    return out


class InsiderActivityDetector(Detector):
    name = "insider.activity"
    version = "1"
    kinds = frozenset({"activity"})

    def __init__(self, work_start: float = 7.0, work_end: float = 19.0, org_domain: str | None = None,
                 day_threshold: float = 9.0, feature_threshold: float = 2.0, gap_days: int = 5,
                 min_history: int = 10, warmup_days: int = 7, max_findings: int = 200, min_peers: int = 5,
                 history_days: int = 1000):
        self.daily = DailyActivity(work_start, work_end, org_domain, history_days)
        self.day_threshold = day_threshold
        self.feature_threshold = feature_threshold
        self.gap_days = gap_days
        self.min_history = min_history
        self.warmup_days = warmup_days
        self.max_findings = max_findings
        self.min_peers = min_peers

    def process(self, batch: EventBatch) -> list[Finding]:
        self.daily.add(batch.frame, batch.source)
        return []  # a day can only be judged against the whole history: findings come at flush

    def flush(self) -> list[Finding]:
        table = self.daily.table(warmup_days=self.warmup_days)
        if table.empty:
            return []
        sc = score_days(_in_mail_units(table), peers=self._peer_groups(), min_history=self.min_history,
                        families=FAMILIES)
        # explanations quote raw values (bytes, not the mail-size units the scores used)
        users = table.index.get_level_values("user")
        sc.self_median = table.groupby(users).median()
        sc.peer_median = table.groupby(sc.peer_of.reindex(users).to_numpy()).median()
        hot = sc.day_score[sc.day_score >= self.day_threshold]
        ranked: list[tuple[float, str, list[int]]] = []
        for user, grp in hot.groupby(level="user", sort=False):
            days = grp.index.get_level_values("day").to_numpy()
            for per in periods(days, self.gap_days):
                s = grp.loc[[(user, d) for d in per]].to_numpy()
                ranked.append((float(s.max() + 0.3 * (s.sum() - s.max())), user, per))
        ranked.sort(key=lambda x: -x[0])  # explain only what will be reported
        return [self._finding(user, per, score, table, sc) for score, user, per in ranked[: self.max_findings]]

    def _peer_groups(self) -> pd.Series | None:
        """user -> role from the directory; roles with fewer than ``min_peers`` users join "all"."""
        if not self.daily.roles:
            return None
        roles = pd.Series(self.daily.roles)
        size = roles.map(roles.value_counts())
        return roles.where(size >= self.min_peers, "all")

    def _finding(self, user: str, days: list[int], score: float, table: pd.DataFrame, sc) -> Finding:
        keys = [(user, d) for d in days]
        fs = sc.feature_score.loc[keys]
        obs = table.loc[keys]
        peer = sc.peer_of.get(user, "all")
        strongest = fs.max(axis=0).sort_values(ascending=False)
        broke = [f for f, v in strongest.items() if v >= self.feature_threshold][:5] or [strongest.index[0]]
        best_day = int(sc.day_score.loc[keys].idxmax()[1])
        span = _day(days[0]) if len(days) == 1 else f"{_day(days[0])} to {_day(days[-1])}"
        expl = [f"{len(days)} anomalous day(s) for {user} ({span}); strongest {_day(best_day)} "
                f"(day score {sc.day_score.loc[(user, best_day)]:.1f}, combining the top features' robust z-scores)"]
        for f in broke:
            words, unit = FEATURES[f]
            col = obs[f]
            peak_day = int(col.idxmax()[1])
            usual = float(sc.self_median.loc[user, f])
            peers = float(sc.peer_median.loc[peer, f])
            n_days = int((fs[f] >= self.feature_threshold).sum())
            expl.append(f"{words}: {_fmt(float(col.max()), unit)} on {_day(peak_day)}"
                        + (f" (raised on {n_days} days)" if n_days > 1 else "")
                        + f"; usual for this user {_fmt(usual, unit)} per day, "
                        + (f"peers {_fmt(peers, unit)}" if peer == "all" else f"peers ({peer}) {_fmt(peers, unit)}"))
        if "others_pc" in broke:
            own = self.daily.owners()
            theirs = [f"{h} (mainly used by {own[h]})" for h in self.daily.hosts(user, days) if own.get(h, user) != user]
            if theirs:
                expl.append("computers of other users: " + ", ".join(theirs[:5]))
        new_dom = self.daily.new_domains(user, days)
        if new_dom and any(f.startswith("web_new") for f in broke):
            expl.append("first visited in this period: " + ", ".join(new_dom[:8]))
        if self.daily.org_domain and any(f.startswith("email_external") for f in broke):
            how = "most common sender domain" if self.daily.org_domain_inferred else "configured"
            expl.append(f"outside = not {self.daily.org_domain} ({how})")
        attack = sorted({_ATTACK[f] for f in broke if f in _ATTACK})
        related: dict[str, list[str]] = {"user": [user]}
        hosts = self.daily.hosts(user, days)
        if hosts:
            related["host"] = hosts
        if new_dom:
            related["domain"] = new_dom
        box = self.daily.mailbox.get(user)
        if box:
            related["mailbox"] = [a for a, _ in box.most_common(2)]
        start = days[0] * 86400.0
        return Finding.make(
            detector=self.name, detector_version=self.version,
            title=f"Insider-threat activity: {user} broke their usual pattern ({', '.join(FEATURES[f][0] for f in broke[:3])})",
            start=start, end=(days[-1] + 1) * 86400.0 - 1,
            entity_type="user", entity=user,
            score=1.0 - math.exp(-score / 15.0),
            attack=attack, evidence=self.daily.evidence(user, days), explanation=expl, related=related,
            source_files=sorted(self.daily.sources),
            attributes={"days": len(days), "period_score": round(score, 3), "top_feature": broke[0],
                        "peer_group": str(peer)},
        )
