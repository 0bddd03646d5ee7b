"""Model detectors over flows: the supervised classifier and the unsupervised baseline.

Every flow of a batch is scored at once; flagged flows are folded into one
finding per source host per incident (flows closer than ``gap`` seconds
belong together), emitted when the host has been quiet for ``gap`` or at
``flush``. State is one small record per open incident, capped at
``max_open`` hosts (the oldest incidents are emitted early beyond that).

Noise control: a host with a couple of odd flows among thousands of normal
ones is not an incident. An incident is reported only when it holds at least
``min_flows`` flagged flows AND they are at least ``min_share`` of all the
host's flows (as source) during the incident window (its first flagged flow
to its last, plus the quiet ``gap`` after it seen so far). Even a model with
a 0.1% false positive rate per flow flags a few flows of every busy host in
a day; requiring a volume and a share of the host's traffic keeps the
attacks, which are by nature many similar flows, and drops that noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.errors import ThreatMLError
from threatml.events import EventBatch
from threatml.findings import MAX_EVIDENCE, Finding
from threatml.models.explain import explain_sentences

#: attack-family keywords -> MITRE ATT&CK techniques (first match wins)
_TECHNIQUES: list[tuple[tuple[str, ...], list[str]]] = [
    (("hulk", "slowloris", "slowhttp", "goldeneye", "http-flood", "apache2"), ["T1499"]),
    (("ddos", "dos", "flood", "neptune", "smurf", "teardrop", "land", "pod", "back"), ["T1498"]),
    (("scan", "probe", "recon", "sweep", "nmap", "satan"), ["T1046"]),
    (("patator", "brute", "guess", "r2l", "password", "spray"), ["T1110"]),
    (("bot", "c&c", "cc", "njrat", "trojan", "rat", "malware", "backdoor"), ["T1071"]),
    (("web", "xss", "sql", "exploit", "heartbleed", "shellcode", "infiltration"), ["T1190"]),
    (("u2r", "privilege"), ["T1068"]),
    (("worm",), ["T1210"]),
]


def techniques_for(family: str) -> list[str]:
    """ATT&CK technique ids for an attack family name ([] when none fits).

    >>> techniques_for("dos-hulk"), techniques_for("portscan"), techniques_for("ftp-patator")
    (['T1499'], ['T1046'], ['T1110'])
    """
    f = family.lower()
    for words, tech in _TECHNIQUES:
        if any(w in f for w in words):
            return list(tech)
    return []


def _n(k: int, word: str) -> str:
    return f"{k:,} {word}{'' if k == 1 else 's'}"


@dataclass
class _Incident:
    start: float
    end: float
    count: int = 0
    evidence: list = field(default_factory=list)
    targets: set = field(default_factory=set)
    ports: set = field(default_factory=set)
    files: set = field(default_factory=set)
    best: float = -1.0
    best_row: np.ndarray | None = None
    votes: np.ndarray | None = None
    #: all flows of the host (flagged or not) seen in the incident window
    total: int = 0
    #: the strongest flagged flows' scores (at most VOTERS)
    top: np.ndarray | None = None

    @property
    def top_mean(self) -> float:
        return -1.0 if self.top is None or not len(self.top) else float(self.top.mean())


def _merge(incs: list[_Incident]) -> _Incident:
    """One incident from several hosts' incidents against the same target."""
    incs = sorted(incs, key=lambda i: -i.best)
    m = _Incident(start=min(i.start for i in incs), end=max(i.end for i in incs))
    m.count, m.total = sum(i.count for i in incs), sum(max(i.total, i.count) for i in incs)
    for i in incs:
        m.evidence.extend(i.evidence[: MAX_EVIDENCE - len(m.evidence)])
        m.targets |= i.targets
        m.ports |= i.ports
        m.files |= i.files
        if i.votes is not None:
            m.votes = i.votes if m.votes is None else m.votes + i.votes
    m.best, m.best_row = incs[0].best, incs[0].best_row
    tops = [i.top for i in incs if i.top is not None]
    m.top = np.sort(np.concatenate(tops))[::-1][: _FlowIncidentDetector.VOTERS] if tops else None
    return m


class _FlowIncidentDetector(Detector):
    """Shared grouping of flagged flows into per-host incidents."""

    def __init__(self, min_flows: int = 1, gap: float = 900.0, max_open: int = 50_000, min_share: float = 0.0,
                 fold_sources: int = 0):
        self.min_flows = max(1, int(min_flows))
        self.fold_sources = int(fold_sources)
        self.min_share = float(min_share)
        if not 0.0 <= self.min_share <= 1.0:
            raise ValueError("min_share must be in [0, 1]")
        self.gap = float(gap)
        self.max_open = int(max_open)
        self._open: dict[str, _Incident] = {}
        self._now = 0.0
        # this batch's flow times per source host, for the share of the noise rule
        self._hosts: dict[str, tuple[int, int]] = {}
        self._times = np.empty(0)

    # subclasses: score a frame -> (score in [0,1], flagged mask, feature matrix, family votes or None)
    def _score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _votes(self, M: np.ndarray) -> np.ndarray | None:
        return None

    def _finding(self, host: str, inc: _Incident, sources: list[str] | None = None) -> Finding | None:
        """The finding for one incident (``sources``: the many attackers of a folded, distributed one)."""
        raise NotImplementedError

    def _share(self, inc: _Incident) -> float:
        return inc.count / max(inc.total, inc.count, 1)

    def _reportable(self, inc: _Incident) -> bool:
        """The noise rule: enough flagged flows, and a large enough share of the host's traffic."""
        return inc.count >= self.min_flows and self._share(inc) >= self.min_share

    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        if fr.empty:
            return []
        score, hit, M = self._score(fr)
        ts = fr["@timestamp"].to_numpy(dtype="float64")
        finite = ts[np.isfinite(ts)]
        # sources without times (KDD) fall back to "now": all their flows form one incident per host
        ts = np.where(np.isfinite(ts), ts, self._now)
        closed: list[tuple[str, _Incident]] = []
        self._index_hosts(fr["source.ip"].to_numpy(dtype=object), ts)
        if hit.any():
            pos = np.flatnonzero(hit)
            Mp = M[pos]
            src = fr["source.ip"].to_numpy(dtype=object)[pos]
            ids = fr["event.id"].to_numpy(dtype=object)[pos]
            dst = fr["destination.ip"].to_numpy(dtype=object)[pos]
            dpt = fr["destination.port"].to_numpy(dtype="float64")[pos]
            t, s = ts[pos], score[pos]
            order = np.lexsort((t, src))
            hosts, starts = np.unique(src[order], return_index=True)
            bounds = np.r_[starts, len(order)]
            parts: list[tuple[str, np.ndarray, np.ndarray]] = []
            for h, a, b in zip(hosts, bounds[:-1], bounds[1:]):
                rows = order[a:b]
                cuts = np.flatnonzero(np.diff(t[rows]) > self.gap) + 1
                for part in np.split(rows, cuts):
                    # the strongest flows of each part vote on the family (bounds the family model's cost)
                    parts.append((str(h) or "unknown", part, part[np.argsort(-s[part], kind="stable")[: self.VOTERS]]))
            # one family-model call for the whole batch: per-call overhead dominates small calls
            all_voters = np.concatenate([v for _, _, v in parts])
            votes = self._votes(Mp[all_voters])
            k = 0
            for host, part, voters in parts:
                pv = None if votes is None else votes[k : k + len(voters)]
                k += len(voters)
                closed.extend(self._add(host, part, t, s, ids, dst, dpt, Mp, pv, batch.source))
        # every open incident counts this batch's flows of its host from the incident start on
        for h, inc in self._open.items():
            if h in self._hosts:
                inc.total += self._count(h, inc.start, math.inf)
        self._hosts = {}
        if len(finite):
            self._now = max(self._now, float(finite.max()))
        closed.extend(self._expire())
        return self._emit(closed)

    def _index_hosts(self, src: np.ndarray, ts: np.ndarray) -> None:
        """Sorted flow times per source host of the batch (one factorize and one sort, no per-row Python)."""
        codes, uniq = pd.factorize(src)
        order = np.lexsort((ts, codes))
        self._times = ts[order]
        bounds = np.r_[0, np.cumsum(np.bincount(codes[codes >= 0], minlength=len(uniq)))]
        self._hosts = {str(h) or "unknown": (int(a), int(b)) for h, a, b in zip(uniq.tolist(), bounds[:-1], bounds[1:])}

    def _count(self, host: str, lo: float, hi: float) -> int:
        """Flows of ``host`` in this batch with ``lo <= t < hi``."""
        a, b = self._hosts.get(host, (0, 0))
        if a == b:
            return 0
        t = self._times[a:b]
        return int(np.searchsorted(t, hi, side="left") - np.searchsorted(t, lo, side="left"))

    #: flows per incident part whose family is asked (the strongest ones); bounds the family model's cost
    VOTERS = 16

    def _add(self, host, part, t, s, ids, dst, dpt, M, votes, source) -> list[tuple[str, _Incident]]:
        out = []
        t0, t1 = float(t[part[0]]), float(t[part[-1]])
        inc = self._open.get(host)
        if inc is not None and t0 - inc.end > self.gap:
            old = self._open.pop(host)
            old.total += self._count(host, old.start, t0)  # this batch's flows up to the new incident
            out.append((host, old))
            inc = None
        if inc is None:
            inc = self._open[host] = _Incident(start=t0, end=t1)
        inc.start, inc.end = min(inc.start, t0), max(inc.end, t1)
        inc.count += len(part)
        sp = s[part]
        # strongest flows first, so the evidence list shows the clearest cases (and the top scores)
        by_score = np.argsort(-sp, kind="stable")
        room = MAX_EVIDENCE - len(inc.evidence)
        if room > 0:
            inc.evidence.extend(str(i) for i in ids[part[by_score[:room]]].tolist())
        # plain set updates: most parts are a few flows, where pandas/numpy unique cost more than they save
        if len(inc.targets) < 1000:
            inc.targets.update(d for d in dst[part[:1000]].tolist() if d)
        if len(inc.ports) < 1000:
            inc.ports.update(int(v) for v in dpt[part[:1000]].tolist() if v == v)
        if source:
            inc.files.add(str(source))
        strongest = sp[by_score[: self.VOTERS]]
        inc.top = strongest if inc.top is None else np.sort(np.r_[inc.top, strongest])[::-1][: self.VOTERS]
        j = part[by_score[0]]
        if s[j] > inc.best:
            inc.best, inc.best_row = float(s[j]), M[j].copy()
        if votes is not None:
            # weight by share so a long incident counts its flows, not just its sampled voters
            v = votes.mean(axis=0) * len(part)
            inc.votes = v if inc.votes is None else inc.votes + v
        return out

    def _expire(self) -> list[tuple[str, _Incident]]:
        stale = [h for h, inc in self._open.items() if self._now - inc.end > self.gap]
        if len(self._open) - len(stale) > self.max_open:
            # too many open hosts: emit the longest-quiet ones early to keep memory bounded
            rest = sorted((inc.end, h) for h, inc in self._open.items() if h not in set(stale))
            stale += [h for _, h in rest[: len(rest) - self.max_open]]
        return [(h, self._open.pop(h)) for h in stale]

    def flush(self) -> list[Finding]:
        return self._emit([(h, self._open.pop(h)) for h in list(self._open)])

    def _family(self, inc: _Incident) -> str:
        return ""

    def _emit(self, closed: list[tuple[str, _Incident]]) -> list[Finding]:
        """Findings for closed incidents that pass the noise rule.

        Many sources hitting one destination with the same family at the same
        time (a DDoS from a botnet) are one attack, not one incident per bot:
        ``fold_sources`` or more such incidents closing together become one
        finding about the target.
        """
        keep = [(h, inc) for h, inc in closed if self._reportable(inc)]
        groups: dict[tuple[str, str], list[tuple[str, _Incident]]] = {}
        for h, inc in keep:
            key = (next(iter(inc.targets)) if len(inc.targets) == 1 else "", self._family(inc))
            groups.setdefault(key, []).append((h, inc))
        out = []
        for (target, _), members in groups.items():
            if target and self.fold_sources and len(members) >= self.fold_sources:
                f = self._finding(target, _merge([i for _, i in members]), sources=[h for h, _ in members])
                out += [f] if f else []
            else:
                out += [f for h, inc in members if (f := self._finding(h, inc))]
        return out

    def _volume_sentence(self, inc: _Incident) -> str:
        return (f"{_n(inc.count, 'flagged flow')} of {_n(max(inc.total, inc.count), 'flow')} from this host in the "
                f"incident window ({self._share(inc):.0%})")

    @staticmethod
    def _related(inc: _Incident) -> dict[str, list[str]]:
        return {
            "destinations": sorted(inc.targets)[:50],
            "destination_ports": [str(p) for p in sorted(inc.ports)[:50]],
        }


class FlowModelDetector(_FlowIncidentDetector):
    """Scores every flow with the supervised flow classifier (default: the shipped ``network-flow``).

    ``threshold`` None uses the model card's threshold (for the shipped model:
    a low false-positive rate on benign flows of networks the model did not
    learn from). An incident needs ``min_flows`` (default 5) flagged flows
    that are at least ``min_share`` (default 5%) of the host's flows in the
    incident window. Its score is the calibrated probability of its
    strongest flows (the mean of the top ``VOTERS``): repeating a behaviour
    does not make the model surer of it, so the score is not inflated by the
    flow count. ``fold_sources`` (default 3) or more hosts' incidents with
    the same family against one single destination, closing together, are
    folded into one finding about that destination (a distributed attack);
    0 turns folding off.
    """

    name = "network.flow-classifier"
    version = "1"
    kinds = frozenset({"flow"})

    def __init__(self, model: str | Path | None = None, threshold: float | None = None, min_flows: int = 5,
                 gap: float = 900.0, max_open: int = 50_000, min_share: float = 0.05, fold_sources: int = 3):
        from threatml.pipeline.evaluate import load_network_model

        super().__init__(min_flows=min_flows, gap=gap, max_open=max_open, min_share=min_share,
                         fold_sources=fold_sources)
        self.model, self.card = load_network_model(model)
        if self.card.kind != "flow-classifier":
            raise ThreatMLError(f"{model}: FlowModelDetector needs a flow-classifier model, not {self.card.kind}")
        self.threshold = float(threshold if threshold is not None else self.card.parameters.get("threshold", self.model.alert_threshold_))
        self.families = self.model.classes_[1:]

    def _score(self, frame):
        M = self.model._matrix(frame)
        p = self.model.score_samples(M)
        return p, p >= self.threshold, M

    def _votes(self, M):
        return self.model.family_proba(M)

    def _family(self, inc):
        return self.families[int(np.argmax(inc.votes))] if inc.votes is not None and len(self.families) else "malicious"

    def _finding(self, host, inc, sources=None):
        if not self._reportable(inc):
            return None
        fam = self._family(inc)
        expl = []
        if sources:
            expl.append(f"distributed: {_n(len(sources), 'source host')} sent these flows to {host} at the same time")
        if fam != "malicious":
            share = float(inc.votes.max() / max(inc.votes.sum(), 1e-9))
            expl.append(f"predicted attack family: {fam} ({share:.0%} of the flagged flows' family probability)")
        expl.append(f"{_n(inc.count, 'flow')} scored as attacks (strongest p={inc.best:.3f}) to "
                    f"{_n(len(inc.targets), 'destination')} on {_n(len(inc.ports), 'port')}")
        expl.append(self._volume_sentence(inc))
        if inc.best_row is not None:
            items = self.model.explain(inc.best_row[None, :], top=3)[0]
            expl += explain_sentences(items, kind="classifier")
        related = self._related(inc)
        if sources:
            related["sources"] = sorted(sources)[:50]
        title = (f"Flow model: distributed {fam} against {host} from {len(sources):,} sources" if sources
                 else f"Flow model: {fam} activity from {host}")
        return Finding.make(
            detector=self.name,
            detector_version=self.version,
            title=title,
            start=inc.start,
            end=inc.end,
            entity=host,
            score=float(min(0.999, inc.top_mean if inc.top_mean >= 0 else inc.best)),
            attack=techniques_for(fam),
            evidence=inc.evidence,
            explanation=expl,
            related=related,
            source_files=sorted(inc.files),
            attributes={"family": fam, "flows": inc.count, "source_hosts": len(sources) if sources else 1, "host_flows": max(inc.total, inc.count),
                        "share": round(self._share(inc), 4), "max_probability": round(inc.best, 4),
                        "model": f"{self.card.name}@{self.card.version}"},
        ) .model_copy(update={"evidence_count": inc.count})


class FlowBaselineDetector(_FlowIncidentDetector):
    """Flags flows the network's own unsupervised baseline finds anomalous ("network.anomaly")."""

    name = "network.anomaly"
    version = "1"
    kinds = frozenset({"flow"})

    def __init__(self, model: str | Path, min_flows: int = 1, gap: float = 900.0, max_open: int = 50_000,
                 min_share: float = 0.0):
        from threatml.pipeline.evaluate import load_network_model

        super().__init__(min_flows=min_flows, gap=gap, max_open=max_open, min_share=min_share)
        self.model, self.card = load_network_model(model)
        if self.card.kind != "flow-baseline":
            raise ThreatMLError(f"{model}: FlowBaselineDetector needs a flow-baseline model, not {self.card.kind}")

    def _score(self, frame):
        R = self.model._raw(frame)
        raw = self.model.score_samples(R)
        q = self.model.normalized(raw)
        fpr = self.model.target_fpr
        # 0.4 at the threshold, rising to 0.9 for the most extreme baseline-quantile scores
        s = 0.4 + 0.5 * np.clip((q - (1.0 - fpr)) / max(fpr, 1e-9), 0.0, 1.0)
        # flows beyond anything seen in the held-out baseline keep rising with distance
        far = raw > self.model.quantiles_[-1]
        s = np.where(far, np.minimum(0.95, 0.9 + 0.01 * np.log1p(raw / max(self.model.quantiles_[-1], 1e-9))), s)
        return s, raw > self.model.threshold_, R

    def _finding(self, host, inc, sources=None):
        if not self._reportable(inc):
            return None
        expl = [f"{_n(inc.count, 'flow')} unlike this network's baseline to {_n(len(inc.targets), 'destination')} on "
                f"{_n(len(inc.ports), 'port')} (threshold: {self.model.target_fpr:.1%} false positives on the baseline period)"]
        if inc.best_row is not None:
            expl += explain_sentences(self.model.explain(inc.best_row[None, :], top=3)[0], kind="baseline")
        return Finding.make(
            detector=self.name,
            detector_version=self.version,
            title=f"Anomalous flows from {host}",
            start=inc.start,
            end=inc.end,
            entity=host,
            score=min(0.95, inc.best + 0.05 * math.log10(max(inc.count, 1))),
            evidence=inc.evidence,
            explanation=expl,
            related=self._related(inc),
            source_files=sorted(inc.files),
            attributes={"flows": inc.count, "model": f"{self.card.name}@{self.card.version}"},
        ).model_copy(update={"evidence_count": inc.count})
