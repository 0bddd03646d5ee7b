"""What the identity detectors share: failure counting, source keys, shared state, finding helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.identity.baselines import Baselines
from threatml.findings.incidents import utc_text
from threatml.triage.risk import RiskLedger

#: actions that are one failed authentication attempt when their outcome is failure
FAIL_ACTIONS = frozenset({"logon-failed", "kerberos-preauth-failed", "kerberos-tgt", "ntlm-validate"})
#: sshd lines that repeat what a "Failed ..." line says: counted once per connection without one
PROBE_ACTIONS = frozenset({"invalid-user", "too-many-failures", "pam-auth-failure"})
#: actions that are a successful authentication when their outcome is success
SUCCESS_ACTIONS = frozenset({"logon", "kerberos-tgt", "ntlm-validate"})
#: Windows logon types that are not a person or a remote actor logging on (system, service, unlock by system)
SERVICE_LOGON_TYPES = frozenset({"0", "4", "5", "service", "batch"})
#: well-known non-human accounts
SYSTEM_USERS = frozenset({"system", "local service", "network service", "anonymous logon", "-", ""})


def is_machine_user(users: pd.Series) -> np.ndarray:
    """Computer accounts, SYSTEM & co., and Windows desktop/font-driver pseudo users."""
    u = users.astype("str")
    return (u.str.endswith("$") | u.isin(SYSTEM_USERS) | u.str.startswith(("dwm-", "umfd-", "font driver host"))
            ).to_numpy()


def source_keys(f: pd.DataFrame) -> np.ndarray:
    """Who an attempt came from: the source address, else the source computer, else ``local:<host>``."""
    ip = f["source.ip"].to_numpy(dtype=object)
    sh = f["source.hostname"].to_numpy(dtype=object)
    host = f["host.name"].to_numpy(dtype=object)
    out = np.where((ip != "") & (ip != "-"), ip, np.where(sh != "", sh, "local:" + host.astype(str)))
    return out.astype(object)


def failure_weights(f: pd.DataFrame) -> np.ndarray:
    """Attempts each row stands for (0 for rows that are not failed attempts).

    ``Failed ...`` lines count ``auth.attempts`` (N for "message repeated N
    times"); sshd probe lines (invalid user, too many failures, PAM failure)
    count once per connection (host, pid) that logged no ``Failed`` line, so the
    same attempt is never counted twice.
    """
    action = f["event.action"].to_numpy(dtype=object)
    failed = (f["event.outcome"].to_numpy(dtype=object) == "failure") & np.isin(action, list(FAIL_ACTIONS))
    att = f["auth.attempts"].to_numpy(dtype="float64")
    w = np.where(failed, np.where(np.isnan(att) | (att <= 0), 1.0, att), 0.0)
    probe = np.isin(action, list(PROBE_ACTIONS))
    if probe.any():
        pid = f["process.pid"].to_numpy(dtype="float64")
        conn = (pd.Series(f["host.name"].to_numpy(dtype=object), dtype=object).astype(str) + "|"
                + pd.Series(pid).astype(str))
        has_failed = set(conn[failed & ~np.isnan(pid)])
        p = probe & ~conn.isin(has_failed).to_numpy()
        first_in_conn = ~pd.Series(conn[p].to_numpy()).duplicated().to_numpy()
        w[p] = np.where(np.isnan(pid[p]) | first_in_conn, 1.0, 0.0)
    return w


def success_mask(f: pd.DataFrame) -> np.ndarray:
    action = f["event.action"].to_numpy(dtype=object)
    ok = (f["event.outcome"].to_numpy(dtype=object) == "success") & np.isin(action, list(SUCCESS_ACTIONS))
    return ok & ~is_machine_user(f["user.name"]) & ~f["auth.logon_type"].isin(SERVICE_LOGON_TYPES).to_numpy()


def when(t: float) -> str:
    text = utc_text(t, missing="")
    return f"{text} UTC" if text else "unknown time"


def top_names(counts: dict, n: int = 5) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{k} ({int(v)})" for k, v in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def nonempty(values, cap: int = 20) -> list[str]:
    out: list[str] = []
    for v in values:
        if v and v not in out:
            out.append(str(v))
            if len(out) >= cap:
                break
    return out


class IdentityState:
    """Baselines and risk shared by the identity detectors of one scan.

    Loaded lazily from the store (``opts.store``) or a baseline model folder on
    first use, saved back to the store at the end of the scan.
    """

    def __init__(self, store: Path | None = None, model: Path | None = None):
        self.store = Path(store) if store else None
        self.model = Path(model) if model else None
        self._baselines: Baselines | None = None
        self.risk = RiskLedger()
        self.from_history = False

    @property
    def baselines(self) -> Baselines:
        if self._baselines is None:
            self._baselines = Baselines()
            if self.model is not None:
                from threatml.identity.model import load_baselines

                self._baselines = load_baselines(self.model)
                self.from_history = True
            elif self.store is not None:
                from threatml.store.baselines import load_states

                users = load_states(self.store, "auth.users")
                graph = load_states(self.store, "auth.graph").get("*", {})
                risk = load_states(self.store, "auth.risk").get("*")
                if users or graph:
                    self._baselines = Baselines.from_json({"users": users, **graph})
                    self.from_history = True
                if risk:
                    self.risk = RiskLedger.from_json(risk)
        return self._baselines

    def use(self, baselines: Baselines) -> None:
        """Start from these baselines (e.g. just trained) instead of loading."""
        self._baselines = baselines

    def save(self) -> None:
        if self.store is None or self._baselines is None:
            return
        from threatml.store.baselines import save_states

        d = self._baselines.to_json()
        save_states(self.store, "auth.users", d["users"])
        save_states(self.store, "auth.graph", {"*": {"host_users": d["host_users"], "edges": d["edges"],
                                                     "admin_users": d["admin_users"]}})
        save_states(self.store, "auth.risk", {"*": self.risk.to_json()})

    def risk_attrs(self, entity: str, score: float, t: float) -> dict:
        return {"entity_risk": round(self.risk.add(entity, score, t), 4)}


def prepared(batch) -> dict:
    """Failure weights, success mask and source keys of a batch, computed once per batch for all detectors."""
    cache = batch.meta.get("identity")
    if cache is None:
        f = batch.frame
        if f.empty:
            cache = {"w": np.zeros(0), "ok": np.zeros(0, bool), "src": np.zeros(0, object)}
        else:
            cache = {"w": failure_weights(f), "ok": success_mask(f), "src": source_keys(f)}
        batch.meta["identity"] = cache
    return cache
