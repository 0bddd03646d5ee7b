"""Password guessing against login services, seen in flows alone.

A guessing tool opens many short connections from one source to one login
service (SSH, RDP, FTP, Telnet, SMB, databases, VNC, LDAP, mail auth on
587/465, not mail delivery on 25), and
every failed attempt looks the same: a short session with a small, nearly
constant number of bytes coming back. Per (source, target, service port) and
sliding window (current plus previous ``window``) the detector counts the
*answered* attempts (refused or unanswered flows are scans, not logins) and
flags when

* attempts >= ``min_attempts``, and
* at least ``min_short_share`` of them lasted <= ``max_duration`` seconds, and
* at least ``min_short_share`` got <= ``max_resp_bytes`` back, with a
  at least ``min_uniform_share`` of the replies fall into the two most common
  size classes (powers of two of responder bytes): failed logins get the same
  answer, or one of two (e.g. a full prompt and a rate-limit reset).

A missing input drops its condition: without ``flow.duration`` the duration
test is skipped, without ``destination.bytes`` the size tests are; with
neither, attempts must reach ``unknown_factor`` times ``min_attempts``.
Services are recognised by ``destination.port`` or by ``network.protocol``
(so SSH on port 2222 counts when the source names it). TCP only.

**Distributed** guessing (many external sources, each below the threshold,
against one target service) is reported per target when ``min_sources``
sources together reach ``min_attempts`` with the same short/small/uniform
shape; its entity is the target and the sources are in ``related``.

Score: ``0.4 + 0.3 * saturate(attempts / min_attempts) + 0.3 * uniformity``
with ``uniformity = 2 * top2_share - 1`` clipped to [0, 1] (0.5 when bytes
are unknown).
ATT&CK T1110, T1110.001.

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> fr = pd.DataFrame({"@timestamp": [i * 5.0 for i in range(40)], "source.ip": ["203.0.113.9"] * 40,
...     "destination.ip": ["10.0.0.22"] * 40, "destination.port": [22.0] * 40, "network.transport": ["tcp"] * 40,
...     "flow.state": ["SF"] * 40, "flow.duration": [2.0] * 40, "destination.bytes": [1900.0] * 40,
...     "event.id": [str(i) for i in range(40)]})
>>> det = BruteForceDetector()
>>> [(f.title, f.entity) for f in det.process(EventBatch.of("flow", fr)) + det.flush()]
[('SSH brute force against 10.0.0.22', '203.0.113.9')]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from threatml.detectors.network.window import (
    AddressClassifier,
    Incident,
    WindowedDetector,
    WindowTable,
    objs,
    agg_by,
    bucket_of,
    combine,
    few,
    human_bytes,
    human_span,
    ids_by_key,
    saturate,
)
from threatml.findings import Finding

#: destination port -> service name for login services. Only ports whose connections are logins: SMTP
#: relay (25) is left out on purpose, since inbound mail is many short, same-sized sessions from many
#: servers and SMTP AUTH lives on submission (587, 465); DNS, web (53, 80, 443) never belong here.
LOGIN_SERVICES: dict[int, str] = {
    21: "FTP", 22: "SSH", 23: "Telnet", 110: "POP3", 139: "SMB", 143: "IMAP", 389: "LDAP",
    445: "SMB", 465: "SMTPS", 587: "SMTP submission", 636: "LDAPS", 993: "IMAPS", 995: "POP3S",
    1433: "MSSQL", 1521: "Oracle", 3306: "MySQL", 3389: "RDP", 5432: "PostgreSQL", 5900: "VNC",
    5985: "WinRM", 5986: "WinRM", 902: "VMware auth",
}
#: application protocol names (Zeek service, nDPI, Suricata app_proto) of login services
LOGIN_APPS: dict[str, str] = {
    "ssh": "SSH", "ftp": "FTP", "telnet": "Telnet", "rdp": "RDP", "vnc": "VNC", "rfb": "VNC", "mysql": "MySQL",
    "postgresql": "PostgreSQL", "tds": "MSSQL", "smb": "SMB", "imap": "IMAP", "pop3": "POP3", "ldap": "LDAP",
}

_CLASSES = 24
_AGG = {"src_h": "first", "src": "first", "dst_h": "first", "dst": "first", "port": "first", "svc": "first", "n": "sum", "sh": "sum", "dk": "sum", "sm": "sum", "bk": "sum", "s1": "sum", **{f"c{i}": "sum" for i in range(_CLASSES)},
        "t0": "min", "t1": "max", "id": "first"}
_SUMS = ["n", "sh", "dk", "sm", "bk", "s1", *(f"c{i}" for i in range(_CLASSES))]


@dataclass
class _Dist:
    """A distributed attack found in one window: its target service and the rows of its sources."""

    win: int
    t0: float
    dst: str
    port: float
    svc: str
    rows: pd.DataFrame


def _size_classes(db: np.ndarray) -> dict[str, np.ndarray]:
    """One-hot power-of-two class of the responder bytes (all zero when unknown)."""
    cls = np.clip(np.floor(np.log2(np.nan_to_num(db, nan=0.0) + 1.0)), 0, _CLASSES - 1).astype("int64")
    known = ~np.isnan(db)
    return {f"c{i}": ((cls == i) & known).astype("float64") for i in range(_CLASSES)}


def _top2_share(g: pd.DataFrame) -> np.ndarray:
    """Share of replies in the two most common size classes (NaN when no byte counts)."""
    c = np.column_stack([g[f"c{i}"].to_numpy(dtype="float64") for i in range(_CLASSES)])
    total = c.sum(axis=1)
    top = -np.sort(-c, axis=1)[:, :2].sum(axis=1)
    return np.divide(top, total, out=np.full(len(total), np.nan), where=total > 0)


class BruteForceDetector(WindowedDetector):
    """Brute-force logins from one source (and, optionally, distributed ones), one finding per incident.

    Parameters
    ----------
    window: seconds per window; attempts are counted over the current plus previous window.
    min_attempts: answered connections to one service that start to look like guessing.
    max_duration: seconds an attempt may last to count as short.
    max_resp_bytes: responder bytes an attempt may get back to count as small.
    min_short_share: share of attempts that must be short and small.
    min_uniform_share: share of replies in the two most common size classes.
    unknown_factor: threshold multiplier when neither durations nor bytes are known.
    distributed: also look for many sources against one target service.
    min_sources: distinct sources for a distributed attack.
    distributed_external_only: only external sources count (internal clients hitting
        a file server or domain controller are normal).
    internal_networks: extra CIDRs counted as internal.
    gap: quiet seconds that close an incident (default two windows).
    """

    name = "network.bruteforce"
    version = "2"

    def __init__(
        self,
        window: float = 300.0,
        min_attempts: int = 30,
        max_duration: float = 30.0,
        max_resp_bytes: float = 20_000.0,
        min_short_share: float = 0.8,
        min_uniform_share: float = 0.8,
        unknown_factor: float = 2.0,
        distributed: bool = True,
        min_sources: int = 10,
        distributed_external_only: bool = True,
        internal_networks: tuple[str, ...] = (),
        gap: float | None = None,
        max_open: int = 50_000,
        max_rows: int = 2_000_000,
    ):
        super().__init__(window=window, gap=gap, max_open=max_open)
        self.min_attempts, self.max_duration, self.max_resp_bytes = int(min_attempts), float(max_duration), float(max_resp_bytes)
        self.min_short_share, self.min_uniform, self.unknown_factor = float(min_short_share), float(min_uniform_share), float(unknown_factor)
        self.distributed, self.min_sources = bool(distributed), int(min_sources)
        self.external_only = bool(distributed_external_only)
        self.nets = AddressClassifier(extra=internal_networks)
        self.table = WindowTable(_AGG, window=self.window, max_rows=max_rows)

    def _reduce(self, fv: pd.DataFrame) -> pd.DataFrame:
        dport = fv["dport"].to_numpy()
        app = fv["app"]
        login = np.isin(dport, list(LOGIN_SERVICES)) | app.isin(list(LOGIN_APPS)).to_numpy()
        tcp = fv["proto"].isin(("tcp", "")).to_numpy()
        keep = login & tcp & fv["pair_ok"].to_numpy()
        keep &= ~(fv["failed"].to_numpy() == 1.0)  # refused/unanswered: a scan, not a login
        if not keep.any():
            return None
        svc_app = app[keep].map(LOGIN_APPS)
        svc = svc_app.where(svc_app.notna(), pd.Series(dport[keep], index=svc_app.index).map(LOGIN_SERVICES))
        dur, db = fv["dur"].to_numpy()[keep], fv["db"].to_numpy()[keep]
        dbz = np.nan_to_num(db)
        red = pd.DataFrame({
            "bucket": bucket_of(fv["ts"].to_numpy()[keep], self.window),
            "src": objs(fv["src"].to_numpy()[keep]), "dst": objs(fv["dst"].to_numpy()[keep]),
            "src_h": fv["src_h"].to_numpy()[keep], "dst_h": fv["dst_h"].to_numpy()[keep],
            "port": np.nan_to_num(dport[keep], nan=-1.0), "svc": objs(svc),
            "n": np.ones(int(keep.sum()), dtype="int64"),
            "sh": (dur <= self.max_duration).astype("float64"), "dk": (~np.isnan(dur)).astype("float64"),
            "sm": (db <= self.max_resp_bytes).astype("float64"), "bk": (~np.isnan(db)).astype("float64"),
            "s1": dbz,
            **_size_classes(db),
            "t0": fv["ts"].to_numpy()[keep], "t1": fv["ts"].to_numpy()[keep], "id": objs(fv["id"].to_numpy()[keep]),
        })
        red["key"] = combine(red["src_h"], red["dst_h"], red["port"], red["svc"])
        red = agg_by(red, ["bucket", "key"], _AGG)
        self._batch = (fv["src_h"].to_numpy()[keep], np.nan_to_num(dport[keep], nan=-1.0), fv["id"].to_numpy()[keep])
        return red

    def _shape(self, g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(looks like failed logins, share of replies in the two commonest size classes) per row of sums."""
        n, sh, dk, sm, bk = (g[c].to_numpy(dtype="float64") for c in _SUMS[:5])
        top2 = _top2_share(g)
        short_ok = np.where(dk > 0, sh >= self.min_short_share * np.maximum(dk, 1), True)
        small_ok = np.where(bk > 0, (sm >= self.min_short_share * np.maximum(bk, 1)) & ~(top2 < self.min_uniform), True)
        need = np.where((dk > 0) | (bk > 0), self.min_attempts, self.min_attempts * self.unknown_factor)
        return (n >= need) & short_ok & small_ok, top2

    def _consume(self, fv: pd.DataFrame, source: str) -> None:
        self._batch = None
        self.table.update(self._reduce(fv))
        win = self.table.windows()
        self.table.prune(self.now)
        if win.empty:
            return
        win = win.assign(wk=combine(win["win"], win["key"]))
        per = agg_by(win, ["wk"], {c: v for c, v in _AGG.items()} | {"win": "first"})
        ok, _ = self._shape(per)
        flagged: list[tuple] = [("single", r) for r in per[ok].itertuples(index=False)]
        if self.distributed:
            flagged += self._distributed(per[~ok])
        if not flagged:
            return
        nb = win.groupby(["wk", "bucket"], sort=True)["n"].sum()
        ids = {}
        if self._batch is not None:
            src_b, port_b, id_b = self._batch
            keys_b = pd.Series(combine(src_b, port_b))
            ids = ids_by_key(keys_b, pd.Series(id_b), {int(combine(np.array([r.src_h]), np.array([r.port]))[0])
                                                        for kind, r in flagged if kind == "single"})
        for kind, r in sorted(flagged, key=lambda x: (x[1].win, x[1].t0)):
            if kind == "single":
                counts = {(int(b), r.dst): int(c) for b, c in nb.loc[r.wk].items()}
                key_b = int(combine(np.array([r.src_h]), np.array([r.port]))[0])
                self._observe((r.src, float(r.port)), r.src, r.svc, float(r.port), {r.dst: r._asdict()}, r._asdict(),
                              counts, ids.get(key_b, []), source)
            else:
                rows = r.rows
                counts = {(int(b), s): int(c) for s, wk in zip(rows["src"], rows["wk"]) for b, c in nb.loc[wk].items()}
                tot = {**{c: float(rows[c].sum()) for c in _SUMS}, "t0": float(rows["t0"].min()), "t1": float(rows["t1"].max())}
                self._observe(("*", r.dst, float(r.port)), r.dst, r.svc, float(r.port),
                              {s: {"n": n, "id": i} for s, n, i in zip(rows["src"], rows["n"], rows["id"])}, tot, counts,
                              rows["id"].tolist(), source, distributed=True)

    def _distributed(self, cand: pd.DataFrame) -> list[tuple]:
        if cand.empty:
            return []
        if self.external_only:
            cand = cand[~self.nets.internal(cand["src"])]
        if cand.empty:
            return []
        cand = cand.assign(wt=combine(cand["win"], cand["dst_h"], cand["port"], cand["svc"]))
        nsrc = agg_by(cand, ["wt", "src_h"], {}).groupby("wt", sort=False).size()
        cand = cand[nsrc.reindex(cand["wt"].to_numpy()).to_numpy() >= self.min_sources]
        if cand.empty:
            return []
        tot = cand.groupby("wt", sort=False).agg({**{c: "sum" for c in _SUMS}, "win": "first", "dst": "first",
                                                   "port": "first", "svc": "first", "t0": "min"})
        ok, _ = self._shape(tot)
        rows_of = cand.groupby("wt", sort=False).indices
        out = []
        for wt, r in tot[ok].iterrows():
            out.append(("dist", _Dist(win=r["win"], t0=r["t0"], dst=r["dst"], port=r["port"], svc=r["svc"],
                                      rows=cand.iloc[rows_of[wt]])))
        return out

    def _observe(self, key: tuple, entity: str, svc: str, port: float, parts: dict, tot: pd.Series,
                 counts: dict, ids: list, source: str, distributed: bool = False) -> None:
        n = float(tot["n"])
        mean_b = tot["s1"] / tot["bk"] if tot["bk"] > 0 else np.nan
        top2 = float(_top2_share(pd.DataFrame([{c: tot[c] for c in _SUMS}]))[0])
        uniform = 0.5 if np.isnan(top2) else min(1.0, max(0.0, 2 * top2 - 1))
        score = 0.4 + 0.3 * saturate(n / self.min_attempts, 1.0) + 0.3 * uniform
        first_ids = [str(r["id"]) for r in parts.values() if "id" in r]
        parts = {k: float(r["n"]) for k, r in parts.items()}
        self.book.observe(
            key, float(tot["t0"]), float(tot["t1"]),
            counts=counts,
            ids=list(ids) + first_ids,
            related={("sources" if distributed else "targets"): {str(k): v for k, v in parts.items()}},
            peaks={"score": score, "attempts": n},
            latest={"svc": svc, "port": port, "mean_bytes": mean_b, "top2": top2, "distributed": distributed,
                    "entity": entity},
            source=source,
        )

    def _finding(self, inc: Incident) -> Finding:
        lt, p = inc.latest, inc.peaks
        entity, svc, port = str(lt["entity"]), str(lt["svc"]), int(lt["port"])
        span = human_span(inc.end - inc.start)
        rate = inc.count * 60.0 / max(60.0, inc.end - inc.start)  # per minute; bursts under a minute count as one
        mean_b = lt.get("mean_bytes", np.nan)
        top2 = lt.get("top2", np.nan)
        reply = "" if np.isnan(mean_b) else (f"; {top2:.0%} of the replies had the same one or two sizes "
                                             f"(about {human_bytes(mean_b)} on average)")
        if lt.get("distributed"):
            srcs = inc.top("sources", 200)
            title = f"Distributed {svc} brute force against {entity}"
            expl = [f"{len(srcs):,} external sources made {inc.count:,} {svc} connections to {entity}:{port} in {span} "
                    f"({rate:,.1f} per minute){reply}.",
                    "Each source stayed below the single-source threshold; together they look like password guessing.",
                    f"Top sources: {few(srcs, 3)}."]
            related = {"sources": srcs[:100], "ports": [str(port)]}
        else:
            targets = inc.top("targets", 200)
            tgt = targets[0] if len(targets) == 1 else f"{len(targets):,} hosts"
            title = f"{svc} brute force against {tgt}"
            expl = [f"{entity} made {inc.count:,} short {svc} connections to {few(targets, 3)} in {span} "
                    f"({rate:,.1f} per minute){reply}.",
                    "Many short, same-sized sessions to a login service are the pattern of failed password guesses."]
            related = {"targets": targets[:100], "ports": [str(port)]}
        top2 = lt.get("top2", np.nan)
        return self._make(
            inc, title=title, entity=entity, score=min(1.0, p.get("score", 0.5)), attack=["T1110", "T1110.001"],
            explanation=expl, related=related,
            attributes={"service": svc, "port": port, "attempts": inc.count, "distributed": int(bool(lt.get("distributed"))),
                        "same_size_replies": round(float(top2), 4) if not np.isnan(top2) else "unknown"},
        )
