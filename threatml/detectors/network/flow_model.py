"""Model detectors over flows: the supervised classifier and the unsupervised baseline.

Every flow of a batch is scored at once; flagged flows are folded into one
finding per source host per incident (flows closer than ``gap`` seconds
belong together), emitted when the host has been quiet for ``gap`` or at
``flush``. State is one small record per open incident, capped at
``max_open`` hosts (the oldest incidents are emitted early beyond that).
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


class _FlowIncidentDetector(Detector):
    """Shared grouping of flagged flows into per-host incidents."""

    def __init__(self, min_flows: int = 1, gap: float = 900.0, max_open: int = 50_000):
        self.min_flows = max(1, int(min_flows))
        self.gap = float(gap)
        self.max_open = int(max_open)
        self._open: dict[str, _Incident] = {}
        self._now = 0.0

    # subclasses: score a frame -> (score in [0,1], flagged mask, feature matrix, family votes or None)
    def _score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _votes(self, M: np.ndarray) -> np.ndarray | None:
        return None

    def _finding(self, host: str, inc: _Incident) -> Finding | None:
        raise NotImplementedError

    def process(self, batch: EventBatch) -> list[Finding]:
        fr = batch.frame
        if fr.empty:
            return []
        score, hit, M = self._score(fr)
        ts = fr["@timestamp"].to_numpy(dtype="float64")
        finite = ts[np.isfinite(ts)]
        # sources without times (KDD) fall back to "now": all their flows form one incident per host
        ts = np.where(np.isfinite(ts), ts, self._now)
        out: list[Finding] = []
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
                out.extend(self._add(host, part, t, s, ids, dst, dpt, Mp, pv, batch.source))
        if len(finite):
            self._now = max(self._now, float(finite.max()))
        out.extend(self._expire())
        return out

    #: flows per incident part whose family is asked (the strongest ones); bounds the family model's cost
    VOTERS = 16

    def _add(self, host, part, t, s, ids, dst, dpt, M, votes, source) -> list[Finding]:
        out = []
        t0, t1 = float(t[part[0]]), float(t[part[-1]])
        inc = self._open.get(host)
        if inc is not None and t0 - inc.end > self.gap:
            f = self._finding(host, self._open.pop(host))
            out += [f] if f else []
            inc = None
        if inc is None:
            inc = self._open[host] = _Incident(start=t0, end=t1)
        inc.start, inc.end = min(inc.start, t0), max(inc.end, t1)
        inc.count += len(part)
        room = MAX_EVIDENCE - len(inc.evidence)
        if room > 0:
            # strongest flows first, so the evidence list shows the clearest cases
            top = part[np.argsort(-s[part], kind="stable")[:room]]
            inc.evidence.extend(str(i) for i in ids[top])
        if len(inc.targets) < 1000:
            inc.targets.update(d for d in pd.unique(dst[part[:1000]]).tolist() if d)
        if len(inc.ports) < 1000:
            p = dpt[part[:1000]]
            inc.ports.update(np.unique(p[np.isfinite(p)]).astype(int).tolist())
        if source:
            inc.files.add(str(source))
        j = part[int(np.argmax(s[part]))]
        if s[j] > inc.best:
            inc.best, inc.best_row = float(s[j]), M[j].copy()
        if votes is not None:
            # weight by share so a long incident counts its flows, not just its sampled voters
            v = votes.mean(axis=0) * len(part)
            inc.votes = v if inc.votes is None else inc.votes + v
        return out

    def _expire(self) -> list[Finding]:
        out = []
        stale = [h for h, inc in self._open.items() if self._now - inc.end > self.gap]
        if len(self._open) - len(stale) > self.max_open:
            # too many open hosts: emit the longest-quiet ones early to keep memory bounded
            rest = sorted((inc.end, h) for h, inc in self._open.items() if h not in set(stale))
            stale += [h for _, h in rest[: len(rest) - self.max_open]]
        for h in stale:
            f = self._finding(h, self._open.pop(h))
            if f:
                out.append(f)
        return out

    def flush(self) -> list[Finding]:
        out = [f for h in list(self._open) if (f := self._finding(h, self._open.pop(h)))]
        return out

    @staticmethod
    def _aggregate(best: float, n: int) -> float:
        """The strongest flow's probability, firmed up by repetition: 1 - (1 - p)^(1 + log10 n)."""
        return float(min(0.999, 1.0 - (1.0 - best) ** (1.0 + math.log10(max(n, 1)))))

    @staticmethod
    def _related(inc: _Incident) -> dict[str, list[str]]:
        return {
            "destinations": sorted(inc.targets)[:50],
            "destination_ports": [str(p) for p in sorted(inc.ports)[:50]],
        }


class FlowModelDetector(_FlowIncidentDetector):
    """Scores every flow with the supervised flow classifier (default: the shipped ``network-flow``).

    ``threshold`` None uses the model card's threshold, chosen on validation
    data for a low false-positive rate.
    """

    name = "network.flow-classifier"
    version = "1"
    kinds = frozenset({"flow"})

    def __init__(self, model: str | Path | None = None, threshold: float | None = None, min_flows: int = 1,
                 gap: float = 900.0, max_open: int = 50_000):
        from threatml.pipeline.evaluate import load_network_model

        super().__init__(min_flows=min_flows, gap=gap, max_open=max_open)
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

    def _finding(self, host, inc):
        if inc.count < self.min_flows:
            return None
        fam = self.families[int(np.argmax(inc.votes))] if inc.votes is not None and len(self.families) else "malicious"
        expl = []
        if fam != "malicious":
            share = float(inc.votes.max() / max(inc.votes.sum(), 1e-9))
            expl.append(f"predicted attack family: {fam} ({share:.0%} of the flagged flows' family probability)")
        expl.append(f"{_n(inc.count, 'flow')} scored as attacks (strongest p={inc.best:.3f}) to "
                    f"{_n(len(inc.targets), 'destination')} on {_n(len(inc.ports), 'port')}")
        if inc.best_row is not None:
            items = self.model.explain(inc.best_row[None, :], top=3)[0]
            expl += explain_sentences(items, kind="classifier")
        return Finding.make(
            detector=self.name,
            detector_version=self.version,
            title=f"Flow model: {fam} activity from {host}",
            start=inc.start,
            end=inc.end,
            entity=host,
            score=self._aggregate(inc.best, inc.count),
            attack=techniques_for(fam),
            evidence=inc.evidence,
            explanation=expl,
            related=self._related(inc),
            source_files=sorted(inc.files),
            attributes={"family": fam, "flows": inc.count, "max_probability": round(inc.best, 4),
                        "model": f"{self.card.name}@{self.card.version}"},
        ) .model_copy(update={"evidence_count": inc.count})


class FlowBaselineDetector(_FlowIncidentDetector):
    """Flags flows the network's own unsupervised baseline finds anomalous ("network.anomaly")."""

    name = "network.anomaly"
    version = "1"
    kinds = frozenset({"flow"})

    def __init__(self, model: str | Path, min_flows: int = 1, gap: float = 900.0, max_open: int = 50_000):
        from threatml.pipeline.evaluate import load_network_model

        super().__init__(min_flows=min_flows, gap=gap, max_open=max_open)
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

    def _finding(self, host, inc):
        if inc.count < self.min_flows:
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
