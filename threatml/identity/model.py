"""Train and evaluate identity baselines: the `threatml train auth` / `evaluate auth` library side.

A baseline model is a folder with ``baselines.json`` (the
:class:`~threatml.identity.baselines.Baselines` state) and ``card.json``
(kind ``identity-baseline``, domain ``auth``). Training reads the files with
the usual readers, keeps the events inside the training period
(``since``/``until``) and learns every successful logon and admin use.
Evaluation runs the identity detectors with that baseline over new files and,
where events carry labels (``label`` = ``malicious``/``benign``, e.g. LANL
with its ``redteam.txt``), scores each event by the highest finding that
cites it as evidence.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from threatml.errors import ReadReport, ThreatMLError
from threatml.identity.baselines import Baselines
from threatml.models.card import ModelCard, describe_data, library_versions, read_card, write_model

ARTIFACT = "baselines.json"
_KEY = re.compile(r"(SHA256:[A-Za-z0-9+/=]+)")


def _auth_batches(paths: list[str], report: ReadReport):
    from threatml.pipeline.scan import Scanner, iter_files

    sc = Scanner([])
    sc.report = report
    for f in iter_files(paths, report):
        for batch in sc.read_file(f):
            if batch.kind == "auth":
                yield batch


def learn(paths: list[str], since: float | None = None, until: float | None = None,
          baselines: Baselines | None = None) -> tuple[Baselines, dict]:
    """Baselines learned from the successful logons and admin uses in ``paths`` (within [since, until))."""
    from threatml.detectors.identity.common import prepared

    b = baselines or Baselines()
    report = ReadReport()
    stats = {"events": 0, "logons_learned": 0, "admin_uses_learned": 0, "outside_period": 0}
    for batch in _auth_batches(paths, report):
        f = batch.frame
        stats["events"] += len(f)
        t = f["@timestamp"].to_numpy("float64")
        inside = np.ones(len(f), bool)
        if since is not None:
            inside &= t >= since
        if until is not None:
            inside &= t < until
        stats["outside_period"] += int((~inside).sum())
        prep = prepared(batch)
        ok = prep["ok"] & inside
        order = np.argsort(t[ok], kind="stable")
        s = f.loc[ok].iloc[order]
        srcs = prep["src"][ok][order]
        for tt, user, src, host, shost, method, msg in zip(
                s["@timestamp"].to_numpy("float64"), s["user.name"].to_numpy(object), srcs,
                s["host.name"].to_numpy(object), s["source.hostname"].to_numpy(object),
                s["auth.method"].to_numpy(object), s["message"].to_numpy(object)):
            ip = "" if src.startswith("local:") or src == shost else src
            m = _KEY.search(msg) if method == "publickey" and msg else None
            b.learn(user, tt, ip=ip, host=host, source_host=shost, method=method, key=m.group(1) if m else "")
            stats["logons_learned"] += 1
        act = f["event.action"].to_numpy(object)
        adm = inside & (f["event.outcome"].to_numpy(object) == "success") & np.isin(act, ["sudo", "admin-logon"])
        for user in f.loc[adm, "user.name"].to_numpy(object):
            b.learn_admin(user)
            stats["admin_uses_learned"] += 1
    stats["users"] = len(b.users)
    stats["mature_users"] = sum(1 for u in b.users.values() if u.mature)
    stats["read_report"] = report.as_dict()
    if stats["events"] == 0:
        raise ThreatMLError(f"no authentication events found in {', '.join(map(str, paths))}")
    return b, stats


def save_model(folder: Path, b: Baselines, paths: list[str], stats: dict, params: dict) -> ModelCard:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    b.save(folder / ARTIFACT)
    card = ModelCard(
        name=folder.name, version="1", domain="auth", kind="identity-baseline",
        description="Per-user logon baselines (source networks, hours, weekdays, hosts, peers, admin use) "
                    "for the identity detectors.",
        training_data=describe_data([(Path(p), None) for p in paths]),
        features=["source.ip /24 /16", "hour of day", "weekday", "host.name", "source.hostname", "auth.method",
                  "ssh key", "admin use"],
        parameters=params, metrics={k: v for k, v in stats.items() if k != "read_report"},
        libraries=library_versions("duckdb"), artifacts={ARTIFACT: ""},
        notes=["Own incremental statistics (counts), JSON state; no pickle.",
               "Users with fewer than 10 logons or 3 days in the baseline are not scored."],
    )
    write_model(folder, card)
    return card


def load_baselines(folder: Path) -> Baselines:
    card = read_card(Path(folder), verify=True)
    if card.kind != "identity-baseline":
        raise ThreatMLError(f"{folder}: model kind is {card.kind!r}, not an identity baseline")
    return Baselines.load(Path(folder) / ARTIFACT)


def evaluate(model: Path | None, paths: list[str]) -> dict:
    """Run the identity detectors (with the model's baselines) and score labelled events."""
    from threatml.detectors.identity import detectors
    from threatml.detectors.identity.common import IdentityState
    from threatml.detectors.registry import ScanOptions
    from threatml.pipeline.metrics import binary_report
    from threatml.pipeline.scan import Scanner

    dets = detectors(ScanOptions())
    if model is not None:
        state = IdentityState(model=Path(model))
        for d in dets:
            d.state = state
    labels: dict[str, bool] = {}
    scanner = Scanner(dets)
    orig_feed = scanner.feed

    def feed(batch):  # keep the labels of labelled events
        if batch.kind in ("auth", "process"):
            lab = batch.frame["label"].to_numpy(object)
            m = lab != ""
            if m.any():
                for eid, v in zip(batch.frame["event.id"].to_numpy(object)[m], lab[m]):
                    labels[eid] = v == "malicious"
        return orig_feed(batch)

    scanner.feed = feed  # type: ignore[method-assign]
    res = scanner.scan(paths)
    summary = res.summary()
    out = {"events": summary["records"], "findings": len(res.findings),
           "findings_by_detector": summary["findings_by_detector"],
           "severities": {s: sum(1 for f in res.findings if f.severity == s)
                          for s in ("info", "low", "medium", "high", "critical")}}
    if not labels:
        out["labels"] = "absent: no event carries a label, so only the findings are reported"
        return out
    score = dict.fromkeys(labels, 0.0)
    for f in res.findings:
        for e in f.evidence:
            if e in score:
                score[e] = max(score[e], f.score)
    ids = list(labels)
    y = np.array([labels[i] for i in ids])
    s = np.array([score[i] for i in ids])
    out.update(binary_report(y, s, threshold=0.4))
    out["labels"] = "event labels (malicious/benign); event score = highest finding citing it"
    return out
