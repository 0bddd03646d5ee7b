"""Log anomalies during a scan: templates mined online, sessions or windows compared with the rest of the file.

Per source file the detector mines templates as batches arrive and groups
template ids by the session regex (``--session-regex``) or a time window
(``--window``, default 5 minutes; ``5m/1m`` for sliding windows every
minute; lines without a time fall in blocks of 1,000 lines). At the end of
the file:

* with a trained model (``threatml train log``), each session is scored
  against it (supervised LightGBM or the unsupervised ensemble; counts are
  complete, the order model sees the first ``keep_events`` events);
* without one (and with at least 10 sessions), sessions are compared with
  the rest of the file: a template whose log count in the session is above
  the file's median by ``z_threshold`` robust deviations (MAD), and by at
  least ``min_excess`` lines, is "far from normal" (only excess counts, so
  short first and last windows are not alarms; a PCA fitted on the same file
  would absorb a large anomaly into its components, hence this robust
  per-template rule); and a burst of templates that are new late in the
  file, rare, and together in one session.

Rare templates (at most 5 lines, or 0.2% of the file's lines) that carry an
error word (error, fail, denied, panic, exception, ...) are reported per
session when sessions are keyed by a regex and few hold them, else once per
file. Findings whose unusual templates carry no error word stay low severity
(volume alone is often routine). At most ``max_findings`` findings come from
a file, so a normal log cannot flood the report. State is bounded: per
session only counts and the first ``keep_events`` events are kept, at most
``max_sessions`` sessions per file.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from threatml.detectors.base import Detector
from threatml.errors import ThreatMLError
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.logs.miner import TemplateMiner
from threatml.logs.sessions import EventCounter, parse_window_spec, session_keys, window_keys

ERROR_WORDS = re.compile(r"\b(error|errors|fail(?:ed|ure)?|fatal|panic|denied|refused|exception|critical|corrupt\w*|"
                         r"segfault|unauthori[sz]ed|invalid|attack|overflow|killed|abort\w*)\b", re.IGNORECASE)


@dataclass
class _Session:
    counts: Counter = field(default_factory=Counter)
    events: list = field(default_factory=list)  # (template id, event id), first keep_events only
    start: float = float("nan")
    end: float = float("nan")
    n: int = 0


@dataclass
class _Source:
    miner: TemplateMiner
    sessions: dict = field(default_factory=dict)
    first_seen: dict = field(default_factory=dict)  # template id -> line index
    lines: int = 0
    dropped_sessions: int = 0
    hosts: Counter = field(default_factory=Counter)


def typical_counts(C: np.ndarray) -> np.ndarray:
    """Per-template median count over sessions (the file's normal)."""
    return np.median(C, axis=0)


class LogAnomalyDetector(Detector):
    name = "logs.anomaly"
    version = "1"
    kinds = frozenset({"log"})

    def __init__(self, session_regex: str | None = None, window: str | None = None, model: str | Path | None = None,
                 max_findings: int = 3, keep_events: int = 200, max_sessions: int = 100_000, z_threshold: float = 5.0,
                 min_excess: int = 10):
        self.z_threshold, self.min_excess = z_threshold, min_excess
        self.session_regex = session_regex
        try:
            if session_regex:
                re.compile(session_regex)
            self.window, self.step = parse_window_spec(window) if window else (300.0, None)
        except re.error as exc:
            raise ThreatMLError(f"--session-regex {session_regex!r} is not a valid regex: {exc}") from None
        except ValueError as exc:
            raise ThreatMLError(str(exc)) from None
        self.model_ref = model
        self.max_findings, self.keep_events, self.max_sessions = max_findings, keep_events, max_sessions
        self._sources: dict[str, _Source] = {}
        self._model = None

    def _load_model(self):
        if self._model is None and self.model_ref is not None:
            from threatml.logs.pipeline import LogModel
            from threatml.models.registry import resolve

            self._model = LogModel.load(resolve(self.model_ref))
        return self._model

    def process(self, batch: EventBatch) -> list[Finding]:
        f = batch.frame
        if not len(f):
            return []
        model = self._load_model()
        src = self._sources.get(batch.source)
        if src is None:
            miner = model.miner if model is not None and model.miner is not None else TemplateMiner()
            src = self._sources[batch.source] = _Source(miner)
        msgs = f["message"].tolist()
        ids = src.miner.add_many(msgs)
        ts = f["@timestamp"].to_numpy()
        eids = f["event.id"].tolist()
        if self.session_regex:
            keys = [[k] if k else [] for k in session_keys(msgs, self.session_regex)]
        else:
            wins = window_keys(ts, self.window, self.step)
            keys = [[f"window {w}" for w in ws] if ws else [f"lines {k // 1000 * 1000 + 1}-{k // 1000 * 1000 + 1000}"]
                    for ws, k in zip(wins, src.lines + np.arange(len(f)))]
        src.hosts.update(h for h in f["host.name"].tolist()[:1000] if h)
        for i, (keylist, tid) in enumerate(zip(keys, ids)):
            tid = int(tid)
            src.first_seen.setdefault(tid, src.lines + i)
            for key in keylist:
                s = src.sessions.get(key)
                if s is None:
                    if len(src.sessions) >= self.max_sessions:
                        src.dropped_sessions += 1
                        continue
                    s = src.sessions[key] = _Session()
                s.counts[tid] += 1
                s.n += 1
                if len(s.events) < self.keep_events:
                    s.events.append((tid, eids[i]))
                t = ts[i]
                if np.isfinite(t):
                    s.start = t if not np.isfinite(s.start) else min(s.start, t)
                    s.end = t if not np.isfinite(s.end) else max(s.end, t)
        src.lines += len(f)
        return []

    def flush(self) -> list[Finding]:
        out: list[Finding] = []
        for path, src in self._sources.items():
            found = self._model_findings(path, src) if self._model is not None else self._file_findings(path, src)
            out.extend(sorted(found, key=lambda x: -x.score)[: self.max_findings])
        self._sources.clear()
        return out

    # ---- unsupervised, relative to the rest of the file --------------------
    def _file_findings(self, path: str, src: _Source) -> list[Finding]:
        out: list[Finding] = []
        keys = list(src.sessions)
        totals = Counter()
        for s in src.sessions.values():
            totals.update(s.counts)
        if len(keys) >= 10:
            seqs = [list(src.sessions[k].counts.elements()) for k in keys]
            counter = EventCounter().fit(seqs)
            C = counter.counts(seqs)
            L = np.log1p(C)  # log counts: a busy window is not an anomaly by itself
            med = np.median(L, axis=0)
            mad = np.median(np.abs(L - med), axis=0) * 1.4826
            z = (L - med) / (mad + 0.5)  # only "more than usual": short first/last windows are not alarms
            z[C - typical_counts(C) < self.min_excess] = 0  # a few lines more than usual is not an anomaly
            score = z.max(axis=1)
            typical = np.expm1(med)
            for r in np.argsort(-score)[: self.max_findings]:
                if score[r] < self.z_threshold:
                    break
                out.append(self._session_finding(path, src, keys[r], counter, typical, totals,
                                                 float(score[r] / self.z_threshold), "count far from normal"))
        # new templates late in the file, rare, arriving together
        late = int(src.lines * 0.2)
        for key in keys:
            s = src.sessions[key]
            new = [t for t in s.counts if src.first_seen.get(t, 0) >= late and totals[t] <= 2]
            if len(new) >= 5 and len(new) >= 0.3 * len(s.counts):
                out.append(self._burst_finding(path, src, key, new))
        limit = max(5, int(0.002 * src.lines))
        rare = [t for t, c in totals.items() if c <= limit and ERROR_WORDS.search(src.miner.template(t))]
        if rare and src.lines >= 200:
            rs = set(rare)
            with_rare = [k for k in keys if rs & set(src.sessions[k].counts)]
            if self.session_regex and len(with_rare) <= self.max_findings:
                out.extend(self._rare_session_finding(path, src, k, rs, totals) for k in with_rare)
            else:
                out.append(self._rare_finding(path, src, rare, totals))
        return out

    def _severity(self, src: _Source, templates: list[int], extra: float) -> float:
        """Low unless the unusual templates speak of errors: volume alone is often routine (restarts, batch jobs)."""
        err = any(ERROR_WORDS.search(src.miner.template(t)) for t in templates)
        return float(min(0.85 if err else 0.35, (0.45 if err else 0.2) + extra))

    def _host(self, src: _Source) -> str:
        return src.hosts.most_common(1)[0][0] if src.hosts else ""

    def _session_finding(self, path, src, key, counter, typical, totals, ratio, reason) -> Finding:
        s = src.sessions[key]
        row = counter.counts([list(s.counts.elements())])[0]
        diff = [(abs(row[i] - typical[i]), counter.vocab[i], int(row[i]), float(typical[i]))
                for i in range(len(counter.vocab))]
        diff.sort(reverse=True)
        unusual = [(tid, int(c), t) for d, tid, c, t in diff if c - t >= self.min_excess][:5] or \
            [(tid, int(c), t) for d, tid, c, t in diff if c > t][:1]
        expl = [f"Session '{key}' has {s.n} events whose template counts are far from the rest of {Path(path).name} "
                f"(robust deviation {ratio:.1f}x the threshold)."]
        expl += [f"Template {tid} '{src.miner.template(tid)}': {c} here, typically {t:.3g}." for tid, c, t in unusual]
        expl += self._order_lines(src, s, {tid for tid, _, _ in unusual})
        return Finding.make(
            detector=self.name, detector_version=self.version, title=f"Unusual log session: {reason}",
            start=s.start, end=s.end, entity_type="session", entity=f"{Path(path).name}:{key}",
            score=self._severity(src, [u[0] for u in unusual], 0.1 * np.log2(max(ratio, 1.0))),
            evidence=[e for t, e in s.events if t in {u[0] for u in unusual}] or [e for _, e in s.events],
            explanation=expl, related={"host": [self._host(src)]} if self._host(src) else {},
            source_files=[path], attributes={"reason": reason, "events": s.n, "deviation_ratio": round(ratio, 3)})

    def _order_lines(self, src: _Source, s: _Session, mark: set) -> list[str]:
        seq = [f"{t}{'*' if t in mark else ''}" for t, _ in s.events[:30]]
        return [f"Events in order (template ids, * unusual): {' '.join(seq)}{' ...' if len(s.events) > 30 else ''}."]

    def _burst_finding(self, path, src, key, new) -> Finding:
        s = src.sessions[key]
        expl = [f"{len(new)} templates appear for the first time late in {Path(path).name}, together in '{key}', "
                "and almost nowhere else (rare template burst)."]
        expl += [f"New template {t}: '{src.miner.template(t)}'." for t in new[:8]]
        expl += self._order_lines(src, s, set(new))
        return Finding.make(
            detector=self.name, detector_version=self.version, title="Burst of new log templates",
            start=s.start, end=s.end, entity_type="session", entity=f"{Path(path).name}:{key}",
            score=self._severity(src, new, 0.02 * len(new)), evidence=[e for t, e in s.events if t in set(new)],
            explanation=expl, related={"host": [self._host(src)]} if self._host(src) else {}, source_files=[path],
            attributes={"reason": "rare template", "new_templates": len(new)})

    def _rare_finding(self, path, src, rare, totals) -> Finding:
        ev, start, end = [], np.nan, np.nan
        for s in src.sessions.values():
            hit = [e for t, e in s.events if t in set(rare)]
            if hit:
                ev.extend(hit)
                start = s.start if not np.isfinite(start) else min(start, s.start)
                end = s.end if not np.isfinite(end) else max(end, s.end)
        expl = [f"{len(rare)} rare templates with an error word in {Path(path).name} "
                f"({src.lines:,} lines, {len(totals)} templates)."]
        expl += [f"Template {t} seen {totals[t]}x: '{src.miner.template(t)}'." for t in rare[:10]]
        return Finding.make(
            detector=self.name, detector_version=self.version, title="Rare error templates in log",
            start=float(start), end=float(end), entity_type="host", entity=self._host(src) or Path(path).name,
            score=0.3, evidence=ev, explanation=expl, source_files=[path],
            attributes={"reason": "rare template", "rare_templates": len(rare)})

    def _rare_session_finding(self, path, src, key, rare: set, totals) -> Finding:
        s = src.sessions[key]
        mine = [t for t in s.counts if t in rare]
        expl = [f"Session '{key}' holds {len(mine)} rare template(s) with an error word "
                f"(each seen at most {max(totals[t] for t in mine)}x in {src.lines:,} lines of {Path(path).name})."]
        expl += [f"Template {t} seen {totals[t]}x in the file: '{src.miner.template(t)}'." for t in mine[:8]]
        expl += self._order_lines(src, s, set(mine))
        return Finding.make(
            detector=self.name, detector_version=self.version, title="Rare error template in log session",
            start=s.start, end=s.end, entity_type="session", entity=f"{Path(path).name}:{key}",
            score=0.45, evidence=[e for t, e in s.events if t in rare] + [e for t, e in s.events if t not in rare],
            explanation=expl, related={"host": [self._host(src)]} if self._host(src) else {}, source_files=[path],
            attributes={"reason": "rare template", "events": s.n, "rare_templates": len(mine)})

    # ---- against a trained model -------------------------------------------
    def _model_findings(self, path: str, src: _Source) -> list[Finding]:
        keys = list(src.sessions)
        if not keys:
            return []
        seqs = [[t for t, _ in src.sessions[k].events] for k in keys]  # order: the first keep_events
        full = [list(src.sessions[k].counts.elements()) for k in keys]  # counts: complete
        score, thr, per = self._model.score(full, ordered=seqs)
        out = []
        ngram = self._model.models.get("ngram")
        for r in np.argsort(-score)[: self.max_findings]:
            if score[r] < thr:
                break
            s = src.sessions[keys[r]]
            flagged = ngram.flag(seqs[r]) if ngram is not None else []
            reasons = [f"{k}: {v[r]:.3g}" for k, v in per.items()]
            expl = [f"Session '{keys[r]}' scores {score[r]:.3g} against the trained log model (threshold {thr:.3g})."]
            expl += [f"Event {p + 1}, template {t} '{self._model.miner.template(t) if self._model.miner else t}': {why}."
                     for p, t, why in flagged[:8]]
            expl.append("Per-model scores: " + ", ".join(reasons) + ".")
            expl += self._order_lines(src, s, {t for _, t, _ in flagged})
            out.append(Finding.make(
                detector=self.name, detector_version=self.version, title="Log session departs from the trained model",
                start=s.start, end=s.end, entity_type="session", entity=f"{Path(path).name}:{keys[r]}",
                score=float(min(0.95, 0.5 + 0.1 * score[r] / max(thr, 1e-9))),
                evidence=[e for _, e in s.events], explanation=expl, source_files=[path],
                related={"host": [self._host(src)]} if self._host(src) else {},
                attributes={"reason": "unseen transition" if flagged else "count far from normal", "events": s.n}))
        return out
