"""Exfiltration: an internal host uploading far more than usual to the outside.

Per internal source host and sliding window (current plus previous
``window``), the detector sums ``source.bytes`` sent to external addresses
and ``destination.bytes`` received back from them. A host is flagged when

* it sent at least ``min_bytes`` out in the window (large in absolute terms),
* upload was at least ``min_upload_share`` of the bytes exchanged with those
  destinations (normal use downloads more than it uploads), and
* once ``min_history`` windows of its own history exist, the upload is at
  least ``history_factor`` times its usual upload per window (an EWMA of past
  windows, frozen while an incident is open).

"Internal" means RFC 1918, RFC 6598, loopback, link-local and IPv6 ULA /
link-local by default; ``internal_networks`` adds CIDRs. Needs
``source.bytes`` (flows without it are ignored); without
``destination.bytes`` the upload-share test is skipped.

Score: ``0.4 + 0.3 * saturate(bytes / min_bytes) + 0.3 * upload_share``
(upload share 0.5 when unknown). ATT&CK T1048 (Exfiltration Over Alternative
Protocol); T1041 (Exfiltration Over C2 Channel) is added when most bytes went
to one destination on a web/TLS port.

>>> import pandas as pd
>>> from threatml.events import EventBatch
>>> fr = pd.DataFrame({"@timestamp": [0.0, 10.0], "source.ip": ["10.0.0.5"] * 2,
...     "destination.ip": ["203.0.113.7"] * 2, "destination.port": [443.0] * 2, "network.transport": ["tcp"] * 2,
...     "source.bytes": [3e8, 2e8], "destination.bytes": [4e5, 3e5], "event.id": ["a", "b"]})
>>> det = ExfiltrationDetector()
>>> [(f.title, f.entity) for f in det.process(EventBatch.of("flow", fr)) + det.flush()]
[('Large upload from 10.0.0.5 to 203.0.113.7', '10.0.0.5')]
"""

from __future__ import annotations

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
    group_sum,
    few,
    human_bytes,
    human_span,
    port_label,
    saturate,
)
from threatml.findings import Finding

_AGG = {"src_h": "first", "src": "first", "dst": "first", "out": "sum", "inb": "sum", "ik": "sum", "n": "sum", "t0": "min", "t1": "max", "id": "first", "port": "first"}
_C2_PORTS = {80, 443, 8080, 8443}


class ExfiltrationDetector(WindowedDetector):
    """Unusually large outbound transfers per internal host, one finding per incident.

    Parameters
    ----------
    window: seconds per window (volumes are summed over the current plus previous window).
    min_bytes: bytes sent out in a window before anything is considered.
    min_upload_share: upload / (upload + download) with those destinations.
    history_factor: how many times the host's usual upload per window counts as unusual.
    min_history: windows of history before the usual upload is trusted.
    alpha: EWMA weight of the newest window in the usual upload.
    internal_networks: extra CIDRs counted as internal.
    max_hosts: hosts whose history is remembered (the quietest are forgotten first).
    gap: quiet seconds that close an incident (default two windows).
    """

    name = "network.exfiltration"
    version = "1"

    def __init__(
        self,
        window: float = 3600.0,
        min_bytes: float = 100e6,
        min_upload_share: float = 0.75,
        history_factor: float = 5.0,
        min_history: int = 3,
        alpha: float = 0.2,
        internal_networks: tuple[str, ...] = (),
        max_hosts: int = 200_000,
        gap: float | None = None,
        max_open: int = 10_000,
    ):
        super().__init__(window=window, gap=gap, max_open=max_open)
        self.min_bytes, self.min_upload_share = float(min_bytes), float(min_upload_share)
        self.history_factor, self.min_history, self.alpha = float(history_factor), int(min_history), float(alpha)
        self.max_hosts = int(max_hosts)
        self.nets = AddressClassifier(extra=internal_networks)
        self.table = WindowTable(_AGG, window=self.window, cap_by="src_h", cap=5_000)
        self.history = pd.DataFrame({"mean": pd.Series(dtype="float64"), "nb": pd.Series(dtype="float64")})
        self._folded: int | None = None

    def _reduce(self, fv: pd.DataFrame) -> pd.DataFrame | None:
        sb = fv["sb"].to_numpy()
        keep = ~np.isnan(sb) & fv["pair_ok"].to_numpy()
        if not keep.any():
            return None
        keep &= self.nets.internal(fv["src"], fv["src_h"].to_numpy())
        keep &= ~self.nets.internal(fv["dst"], fv["dst_h"].to_numpy())
        idx = np.flatnonzero(keep)
        if not len(idx):
            return None
        db, ts = fv["db"].to_numpy()[idx], fv["ts"].to_numpy()[idx]
        red = pd.DataFrame({
            "bucket": bucket_of(ts, self.window),
            "src": objs(fv["src"].to_numpy()[idx]), "dst": objs(fv["dst"].to_numpy()[idx]),
            "src_h": fv["src_h"].to_numpy()[idx], "dst_h": fv["dst_h"].to_numpy()[idx],
            "out": sb[idx], "inb": np.nan_to_num(db), "ik": (~np.isnan(db)).astype("float64"),
            "n": np.ones(len(idx), dtype="int64"),
            "t0": ts, "t1": ts + np.nan_to_num(fv["dur"].to_numpy()[idx]),
            "id": objs(fv["id"].to_numpy()[idx]), "port": fv["dport"].to_numpy()[idx],
        })
        # the biggest flow's id first, so that 'first' keeps the most telling evidence per pair
        red = red.sort_values("out", ascending=False, kind="stable")
        red["key"] = combine(red["src_h"], red["dst_h"])
        return agg_by(red, ["bucket", "key"], _AGG)

    def _fold_history(self) -> None:
        st = self.table.state
        if st is None or not len(st):
            return
        newest, oldest = int(st["bucket"].max()), int(st["bucket"].min())
        start = oldest - 1 if self._folded is None else max(self._folded, oldest - 1)
        frozen = {k for k in self.book.open}
        for b in range(max(start + 1, newest - 48), newest):
            x = st[st["bucket"].to_numpy() == b].groupby("src", sort=False)["out"].sum()  # few rows: outbound only
            idx = self.history.index.union(x.index)
            old = self.history.reindex(idx)
            xv = x.reindex(idx).fillna(0.0).to_numpy()
            mean = np.where(old["mean"].isna(), xv, (1 - self.alpha) * old["mean"].fillna(0) + self.alpha * xv)
            stay = idx.isin(frozen) & old["mean"].notna().to_numpy()
            mean = np.where(stay, old["mean"].fillna(0), mean)
            self.history = pd.DataFrame({"mean": mean, "nb": old["nb"].fillna(0).to_numpy() + 1}, index=idx)
        self._folded = newest - 1
        if len(self.history) > self.max_hosts:
            self.history = self.history.nlargest(self.max_hosts, "mean")

    def _consume(self, fv: pd.DataFrame, source: str) -> None:
        self.table.update(self._reduce(fv))
        st = self.table.state
        cand = group_sum(st["out"].to_numpy(dtype="float64"), st["src_h"]) >= self.min_bytes if st is not None and len(st) else None
        win = self.table.windows(st[cand]) if cand is not None and cand.any() else pd.DataFrame()
        if not win.empty:
            self._evaluate(win, source)
        self._fold_history()
        self.table.prune(self.now)

    def _evaluate(self, win: pd.DataFrame, source: str) -> None:
        tot = group_sum(win["out"].to_numpy(dtype="float64"), win["win"], win["src_h"])
        sub = win[tot >= self.min_bytes]
        if sub.empty:
            return
        per = sub.groupby(["win", "src"], sort=True).agg(out=("out", "sum"), inb=("inb", "sum"), ik=("ik", "sum"),
                                                          n=("n", "sum"), t0=("t0", "min"), t1=("t1", "max"))
        share = np.where(per["ik"].to_numpy() > 0, per["out"] / np.maximum(per["out"] + per["inb"], 1.0), np.nan)
        hist = self.history.reindex(per.index.get_level_values("src"))
        usual = hist["mean"].to_numpy()
        trusted = hist["nb"].fillna(0).to_numpy() >= self.min_history
        per_win = per["out"].to_numpy() / self.table.keep
        unusual = ~trusted | (per_win >= self.history_factor * np.maximum(np.nan_to_num(usual), 1.0))
        ok = unusual & (np.isnan(share) | (share >= self.min_upload_share))
        if not ok.any():
            return
        rows_of = sub.groupby(["win", "src"], sort=False).indices
        for i in np.flatnonzero(ok):
            key = per.index[i]
            self._observe(key[1], per.iloc[i], sub.iloc[rows_of[key]], share[i],
                          usual[i] if trusted[i] else np.nan, source)

    def _observe(self, src: str, row: pd.Series, rows: pd.DataFrame, share: float, usual: float, source: str) -> None:
        out = float(row["out"])
        score = 0.4 + 0.3 * saturate(out / self.min_bytes, 1.0) + 0.3 * (0.5 if np.isnan(share) else share)
        dsts = rows.groupby("dst", sort=False)["out"].sum().nlargest(50)
        ports = rows.groupby("port", sort=False)["out"].sum().nlargest(10)
        self.book.observe(
            src, float(row["t0"]), float(row["t1"]),
            counts={(int(b), d): int(c) for (b, d), c in rows.groupby(["bucket", "dst"])["n"].sum().items()},
            ids=rows.sort_values("out", ascending=False)["id"].tolist(),
            related={"destinations": {str(k): float(v) for k, v in dsts.items()},
                     "ports": {port_label(p): float(v) for p, v in ports.items()}},
            peaks={"score": score, "bytes": out, "share": share},
            latest={"usual": usual, "share": share},
            source=source,
        )
        # bytes per (bucket, destination) so that overlapping windows are not double counted
        inc = self.book.open.get(src)
        if inc is not None:
            vol = inc.latest.setdefault("volume", {})
            for (b, d), v in rows.groupby(["bucket", "dst"])["out"].sum().items():
                vol[(int(b), d)] = max(float(v), vol.get((int(b), d), 0.0))

    def _finding(self, inc: Incident) -> Finding:
        src, lt = str(inc.key), inc.latest
        total = sum(lt.get("volume", {}).values()) or inc.peaks.get("bytes", 0.0)
        dsts = inc.top("destinations", 50)
        ports = [p for p in inc.top("ports", 10) if p != "?"]
        vols = inc.related.get("destinations", {})
        main = dsts[0] if dsts else "?"
        main_share = vols.get(main, 0.0) / max(sum(vols.values()), 1.0)
        to = main if len(dsts) == 1 else f"{len(dsts):,} external addresses"
        title = f"Large upload from {src} to {to}"
        expl = [f"{src} sent {human_bytes(total)} to {few(dsts, 3)} in {human_span(inc.end - inc.start)}"
                + (f" (mostly {main}, {main_share:.0%})." if len(dsts) > 1 else ".")]
        share = lt.get("share", np.nan)
        if not np.isnan(share):
            expl.append(f"{share:.0%} of the bytes exchanged with them were uploads.")
        usual = lt.get("usual", np.nan)
        if not np.isnan(usual):
            hours = self.window / 3600.0
            expl.append(f"Its usual upload is about {human_bytes(usual)} per {hours:g} h window; "
                        f"this is {inc.peaks.get('bytes', 0) / self.table.keep / max(usual, 1.0):,.0f}x that.")
        attack = ["T1048"]
        if main_share >= 0.8 and ports and ports[0].isdigit() and int(ports[0]) in _C2_PORTS:
            attack.insert(0, "T1041")
        return self._make(
            inc, title=title, entity=src, score=min(1.0, inc.peaks.get("score", 0.5)), attack=attack,
            explanation=expl, related={"destinations": dsts, "ports": ports},
            attributes={"bytes_out": float(total), "upload_share": round(float(share), 4) if not np.isnan(share) else "unknown",
                        "destinations": len(dsts)},
        )
