"""Daily activity vectors per user, accumulated batch by batch from ``activity`` events.

Each (user, day) gets counts: logons and after-hours logons, removable-drive
connects, file copies, emails (all, to outside domains, their bytes and
attachments), web visits and uploads. "After hours" is outside
``work_start``-``work_end`` on weekdays, or any time at the weekend, in the
clock time the logs were written in. The organisation's own mail domain is
given, or else taken as the most common sender domain of the first email
batch.

Directory entries (CERT LDAP snapshots) give each user's role, used as the
peer group. User-days older than ``history_days`` before the latest event are dropped
(and counted in ``dropped_days``), so a long stream keeps bounded state.
Computers get an owner, the user with at least 80% of their logons, so logons
and drive connects on someone else's computer can be counted. Firsts are kept apart: the day each user first used each computer and first
visited each web domain, so that at the end new computers and new (and
population-rare) domains per day can be counted.

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> f = pd.DataFrame({"@timestamp": [pd.Timestamp("2010-01-04 23:00").timestamp()], "event.action": ["logon"],
...                   "event.dataset": ["cert.logon"], "user.name": ["ann"], "host.name": ["PC-1"], "event.id": ["e1"]})
>>> d = DailyActivity()
>>> d.add(EventBatch.of("activity", f).frame)
>>> t = d.table()
>>> int(t.loc[("ann", 14613), "logon"]), int(t.loc[("ann", 14613), "logon_after_hours"])
(1, 1)
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

#: feature -> (words, unit) for explanations
FEATURES: dict[str, tuple[str, str]] = {
    "logon": ("logons", ""),
    "logon_after_hours": ("after-hours logons", ""),
    "new_pcs": ("computers used for the first time", ""),
    "others_pc": ("logons and drive connects on a computer mainly used by someone else", ""),
    "device_connect": ("removable-drive connects", ""),
    "device_after_hours": ("after-hours removable-drive connects", ""),
    "file_copy": ("file copies (to removable media)", ""),
    "file_after_hours": ("after-hours file copies", ""),
    "email_sent": ("emails sent", ""),
    "email_external": ("emails to outside domains", ""),
    "email_external_bytes": ("bytes mailed to outside domains", "B"),
    "email_external_attachments": ("attachments mailed to outside domains", ""),
    "email_bytes": ("bytes mailed", "B"),
    "web_visit": ("web requests", ""),
    "web_upload": ("web uploads", ""),
    "web_new_domains": ("web domains visited for the first time", ""),
    "web_new_rare_domains": ("first visits to domains few users ever visit", ""),
}
#: features that move together (one event raises them all) are one family; a day's
#: score takes the strongest member of each family, so nothing is counted twice
FAMILIES: dict[str, tuple[str, ...]] = {
    "after_hours": ("logon_after_hours", "device_after_hours", "file_after_hours"),
    "logon": ("logon",),
    "new_pcs": ("new_pcs",),
    "others_pc": ("others_pc",),
    "removable": ("device_connect", "file_copy"),
    "email_out": ("email_external", "email_external_bytes", "email_external_attachments"),
    "email": ("email_sent", "email_bytes"),
    "web": ("web_visit",),
    "upload": ("web_upload",),
    "web_new": ("web_new_domains", "web_new_rare_domains"),
}
_COUNTED = [f for f in FEATURES if not f.startswith(("new_", "web_new", "others_"))]
#: a computer "belongs" to the user with at least this share of its logons
OWNER_SHARE = 0.8
_RISKY_IDS_PER_DAY = 10


class DailyActivity:
    """Bounded accumulator: one row per (user, day) plus per-(user, host|domain) first days."""

    def __init__(self, work_start: float = 7.0, work_end: float = 19.0, org_domain: str | None = None,
                 history_days: int = 1000):
        self.work_start, self.work_end = work_start, work_end
        self.history_days = history_days  # older user-days are dropped: state stays bounded on a stream
        self.org_domain = org_domain.lower().strip() if org_domain else None
        self.org_domain_inferred = False
        self._parts: list[pd.DataFrame] = []
        self._first_host: dict[tuple[str, str], int] = {}
        self._first_domain: dict[tuple[str, str], int] = {}
        self._evidence: list[pd.DataFrame] = []  # (user, day, id) of risky events, 10 per user-day at most
        self.mailbox: dict[str, Counter] = {}
        self.roles: dict[str, str] = {}  # user -> role from directory snapshots (peer group)
        self._host_parts: list[pd.DataFrame] = []  # (user, day, host) -> logons, logons + drive connects
        self._owners: pd.Series | None = None
        self._domain_users: Counter | None = None  # domain -> users who ever visited it (cached)
        self.sources: set[str] = set()
        self.first_ts = np.inf
        self.last_ts = -np.inf
        self.dropped_days = 0  # user-days older than history_days, no longer in the baselines

    # ------------------------------------------------------------------
    def _external(self, rcpt: pd.Series) -> np.ndarray:
        """True where any recipient is outside the organisation's domain."""
        lst = rcpt.str.split(",").explode()
        dom = lst.str.rpartition("@")[2].str.strip()
        org = self.org_domain or ""
        out = dom.ne("") & dom.ne(org) & ~dom.str.endswith("." + org)
        return out.groupby(level=0).any().reindex(rcpt.index, fill_value=False).to_numpy()

    def _directory(self, f: pd.DataFrame) -> pd.DataFrame:
        """Take role (peer group) and mailbox from directory entries; return the other rows."""
        is_dir = f["event.action"].eq("directory-entry").to_numpy()
        if not is_dir.any():
            return f
        d = f.loc[is_dir]
        if "user.roles" in d.columns:
            order = np.argsort(np.nan_to_num(d["@timestamp"].to_numpy(dtype="float64"), nan=-np.inf), kind="stable")
            for u, role in zip(d["user.name"].to_numpy()[order], d["user.roles"].astype("str").to_numpy()[order]):
                if u and role:
                    self.roles[u] = role  # the latest snapshot wins
        for u, a in zip(d["user.name"].to_numpy(), d["email.from.address"].to_numpy()):
            if u and a:
                self.mailbox.setdefault(u, Counter())[a] += 0
        return f.loc[~is_dir]

    def add(self, f: pd.DataFrame, source: str = "") -> None:
        f = self._directory(f)
        ts = f["@timestamp"].to_numpy(dtype="float64")
        ok = ~np.isnan(ts) & f["user.name"].ne("").to_numpy()
        if not ok.all():
            f, ts = f.loc[ok], ts[ok]
        if not len(f):
            return
        if source:
            self.sources.add(source)
        self.first_ts, self.last_ts = min(self.first_ts, ts.min()), max(self.last_ts, ts.max())
        day = np.floor(ts / 86400).astype("int64")
        hour = (ts % 86400) / 3600
        weekend = ((day + 3) % 7) >= 5  # 1970-01-01 was a Thursday
        after = weekend | (hour < self.work_start) | (hour >= self.work_end)
        act = f["event.action"].to_numpy(dtype=object)
        ds = f["event.dataset"].to_numpy(dtype=object)
        cols: dict[str, np.ndarray] = {}
        cols["logon"] = act == "logon"
        cols["logon_after_hours"] = cols["logon"] & after
        cols["device_connect"] = act == "connect"
        cols["device_after_hours"] = cols["device_connect"] & after
        rem = f["file.removable"].to_numpy(dtype="float64")
        is_file = np.char.startswith(ds.astype(str), "cert.file") | np.char.startswith(act.astype(str), "file-")
        cols["file_copy"] = is_file & ((act == "file-copy") | (rem == 1))
        cols["file_after_hours"] = cols["file_copy"] & after
        mail = act == "email-send"
        if mail.any() and self.org_domain is None:
            senders = f.loc[mail, "email.from.address"].str.rpartition("@")[2]
            senders = senders[senders.ne("")]
            if len(senders):
                self.org_domain = senders.value_counts().index[0]
                self.org_domain_inferred = True
        ext = np.zeros(len(f), dtype=bool)
        if mail.any():
            ext[mail] = self._external(f.loc[mail, "email.to.address"].reset_index(drop=True))
        size = np.nan_to_num(f["activity.bytes"].to_numpy(dtype="float64"))
        att = np.nan_to_num(f["email.attachment_count"].to_numpy(dtype="float64"))
        cols["email_sent"] = mail
        cols["email_external"] = mail & ext
        cols["email_external_bytes"] = np.where(mail & ext, size, 0.0)
        cols["email_external_attachments"] = np.where(mail & ext, att, 0.0)
        cols["email_bytes"] = np.where(mail, size, 0.0)
        web = act.astype(str)
        is_web = np.char.startswith(web, "web-")
        cols["web_visit"] = is_web
        cols["web_upload"] = act == "web-upload"
        user = f["user.name"].to_numpy(dtype=object)
        part = pd.DataFrame({k: v.astype("float64") for k, v in cols.items()})
        part["user"], part["day"] = user, day
        self._parts.append(part.groupby(["user", "day"], sort=False).sum())
        if len(self._parts) >= 16:
            self._compact()

        host = f["host.name"].to_numpy(dtype=object)
        self._firsts(self._first_host, user, host, day)
        on_pc = (cols["logon"] | cols["device_connect"]) & (host != "")
        if on_pc.any():
            self._owners = None
            hp = pd.DataFrame({"user": user[on_pc], "day": day[on_pc], "host": host[on_pc],
                               "logon": cols["logon"][on_pc].astype("float64"),
                               "use": np.ones(int(on_pc.sum()))})
            self._host_parts.append(hp.groupby(["user", "day", "host"], sort=False).sum())
            if len(self._host_parts) >= 16:
                self._host_parts = [pd.concat(self._host_parts).groupby(level=[0, 1, 2], sort=False).sum()]
        dom = f["url.domain"].to_numpy(dtype=object)
        if is_web.any():
            self._domain_users = None
            self._firsts(self._first_domain, user[is_web], dom[is_web], day[is_web])
        if mail.any():
            pairs = pd.DataFrame({"u": user[mail], "a": f.loc[mail, "email.from.address"].to_numpy(dtype=object)})
            for (u, a), n in pairs[pairs["a"].ne("")].value_counts().items():
                box = self.mailbox.setdefault(u, Counter())
                if a in box or len(box) < 5:  # a user sends from one or two addresses; bound the odd case
                    box[a] += int(n)
        risky = (cols["logon_after_hours"] | cols["device_connect"] | cols["file_copy"] | cols["email_external"]
                 | cols["web_upload"])
        if risky.any():
            r = pd.DataFrame({"user": user[risky], "day": day[risky], "id": f["event.id"].to_numpy(dtype=object)[risky]})
            self._evidence.append(r[r.groupby(["user", "day"], sort=False).cumcount() < _RISKY_IDS_PER_DAY])
            if len(self._evidence) >= 16:
                self._compact_evidence()

    @staticmethod
    def _firsts(store: dict, user: np.ndarray, what: np.ndarray, day: np.ndarray) -> None:
        keep = what != ""
        if not keep.any():
            return
        g = pd.DataFrame({"u": user[keep], "w": what[keep], "d": day[keep]}).groupby(["u", "w"], sort=False)["d"].min()
        for key, d in zip(g.index, g.to_numpy()):
            old = store.get(key)
            if old is None or d < old:
                store[key] = int(d)

    def _compact_evidence(self) -> None:
        if len(self._evidence) > 1:
            r = pd.concat(self._evidence, ignore_index=True)
            self._evidence = [r[r.groupby(["user", "day"], sort=False).cumcount() < _RISKY_IDS_PER_DAY]]

    def _compact(self) -> None:
        if len(self._parts) > 1:
            self._parts = [pd.concat(self._parts).groupby(level=[0, 1], sort=False).sum()]
        if self._parts and len(self._parts[0]):
            t = self._parts[0]
            days = t.index.get_level_values(1).to_numpy()
            # a few user-days far in the future (a clock jump) must not push all history out
            latest = np.quantile(days, 0.999) if len(days) > 1000 else days.max()
            oldest = int(latest) - self.history_days
            old = days < oldest
            if old.any():
                self.dropped_days += int(old.sum())
                self._parts = [t[~old]]
                if self._host_parts:
                    h = self.host_use()
                    self._host_parts = [h[h["day"] >= oldest].set_index(["user", "day", "host"])]
                    self._owners = None
                self._compact_evidence()
                if self._evidence:
                    self._evidence = [self._evidence[0][self._evidence[0]["day"] >= oldest]]

    # ------------------------------------------------------------------
    def table(self, warmup_days: int = 7, rare_share: float = 0.02) -> pd.DataFrame:
        """(user, day) x features, with the first-time counts filled in (0 during a user's warm-up)."""
        self._compact()
        if not self._parts:
            return pd.DataFrame(columns=list(FEATURES), index=pd.MultiIndex.from_arrays([[], []], names=["user", "day"]))
        t = self._parts[0].copy()
        t.index = t.index.set_names(["user", "day"])
        start = t.reset_index().groupby("user")["day"].min()
        n_users = max(len(start), 1)

        def firsts(store: dict, rare: bool = False) -> pd.Series:
            if not store:
                return pd.Series(dtype="float64")
            k = pd.DataFrame(list(store.keys()), columns=["user", "what"])
            k["day"] = list(store.values())
            if rare:
                users_per = k.groupby("what")["user"].transform("nunique")
                k = k[users_per <= max(2, int(rare_share * n_users))]
            k = k[k["day"] > k["user"].map(start) + warmup_days]
            return k.groupby(["user", "day"]).size().astype("float64")

        for name, store, rare in (("new_pcs", self._first_host, False), ("web_new_domains", self._first_domain, False),
                                  ("web_new_rare_domains", self._first_domain, True)):
            s = firsts(store, rare)
            t[name] = s.reindex(t.index).fillna(0.0).to_numpy() if len(s) else 0.0
        t["others_pc"] = 0.0
        uses = self.host_use()
        if len(uses):
            own = self.owners()
            o = uses["host"].map(own)
            other = uses[o.notna() & o.ne(uses["user"])]
            if len(other):
                s = other.groupby(["user", "day"])["use"].sum()
                t["others_pc"] = s.reindex(t.index).fillna(0.0).to_numpy()
        return t[list(FEATURES)]

    def host_use(self) -> pd.DataFrame:
        """Rows of (user, day, host, logon, use): logons, and logons + drive connects."""
        if not self._host_parts:
            return pd.DataFrame(columns=["user", "day", "host", "logon", "use"])
        if len(self._host_parts) > 1:
            self._host_parts = [pd.concat(self._host_parts).groupby(level=[0, 1, 2], sort=False).sum()]
        return self._host_parts[0].reset_index()

    def owners(self) -> pd.Series:
        """host -> the user with at least ``OWNER_SHARE`` of its logons (shared computers have none)."""
        if self._owners is not None:
            return self._owners
        uses = self.host_use()
        per = uses.groupby(["host", "user"])["logon"].sum()
        if per.empty:
            return pd.Series(dtype="str")
        tot = per.groupby(level="host").sum()
        top = per.groupby(level="host").idxmax()
        share = per.groupby(level="host").max() / tot.where(tot > 0)
        keep = share >= OWNER_SHARE
        self._owners = pd.Series([u for _, u in top[keep]], index=top[keep].index, dtype="str")
        return self._owners

    def evidence(self, user: str, days: list[int]) -> list[str]:
        """Ids of the risky events (after-hours logons, drive use, file copies, outside mail,
        uploads) of ``user`` on ``days``, at most 10 per day."""
        self._compact_evidence()
        if not self._evidence:
            return []
        r = self._evidence[0]
        hit = r[(r["user"] == user) & r["day"].isin(days)]
        return hit.sort_values("day", kind="stable")["id"].tolist()

    def hosts(self, user: str, days: list[int]) -> list[str]:
        """Computers ``user`` logged on to or connected a drive to on ``days``."""
        u = self.host_use()
        return sorted(u.loc[(u["user"] == user) & u["day"].isin(days), "host"].unique().tolist())

    def new_domains(self, user: str, days: list[int], limit: int = 20) -> list[str]:
        """Domains ``user`` first visited on ``days``, those the fewest users ever visit first."""
        if self._domain_users is None:
            self._domain_users = Counter(w for _, w in self._first_domain)
        ds = set(days)
        mine = [w for (u, w), d in self._first_domain.items() if u == user and d in ds]
        return sorted(mine, key=lambda w: (self._domain_users[w], w))[:limit]
