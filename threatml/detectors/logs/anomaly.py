"""Log anomalies during a scan: templates mined online, sessions or windows compared with the rest of the file.

Per source file the detector mines templates as batches arrive and groups
template ids by the session regex (``--session-regex``) or a time window
(``--window``, default 5 minutes; ``5m/1m`` for sliding windows every
minute; lines without a time fall in blocks of 1,000 lines). At the end of
the file:

* with a trained model (``threatml train log``; ``scan --log-model``), sessions are grouped as in
  training (the card's session regex or window) unless the scan gives its own, and each session is scored
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
import pandas as pd
import pyarrow as pa

from threatml.detectors.base import Detector
from threatml.errors import ThreatMLError
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.logs.miner import TemplateMiner
from threatml.logs.sessions import parse_window_spec, session_keys, window_indices

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


def count_matrix(counts: list[Counter]) -> tuple[list[int], np.ndarray]:
    """Template vocabulary (sorted ids) and the sessions x templates count matrix, from per-session counters.

    >>> count_matrix([Counter({3: 2}), Counter({1: 1, 3: 1})])
    ([1, 3], array([[0., 2.],
           [1., 1.]]))
    """
    vocab = sorted({t for c in counts for t in c})
    index = {t: i for i, t in enumerate(vocab)}
    C = np.zeros((len(counts), len(vocab)))
    for r, c in enumerate(counts):
        for t, k in c.items():
            C[r, index[t]] = k
    return vocab, C


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
        self._grouping_given = bool(session_regex or window)
        self.max_findings, self.keep_events, self.max_sessions = max_findings, keep_events, max_sessions
        self._sources: dict[str, _Source] = {}
        self._model = None

    def _load_model(self):
        if self._model is None and self.model_ref is not None:
            from threatml.logs.pipeline import LogModel
            from threatml.models.registry import resolve

            folder = resolve(self.model_ref)
            self._model = LogModel.load(folder)
            if not self._grouping_given:  # group sessions as the model was trained, unless told otherwise
                from threatml.models.card import read_card

                params = read_card(folder).parameters
                if params.get("session_regex"):
                    self.session_regex = params["session_regex"]
                elif params.get("window"):
                    self.window, self.step = parse_window_spec(params["window"])
        return self._model

    def process(self, batch: EventBatch) -> list[Finding]:
        """Mine the batch and add it to its sessions, per session and template rather than per line."""
        f = batch.frame
        n = len(f)
        if not n:
            return []
        model = self._load_model()
        src = self._sources.get(batch.source)
        if src is None:
            miner = model.miner if model is not None and model.miner is not None else TemplateMiner()
            src = self._sources[batch.source] = _Source(miner)
        ids = src.miner.add_many(f["message"])
        ts = f["@timestamp"].to_numpy(dtype="float64")
        rows, codes, names = self._keys(f, ts, src.lines)
        tids, first = np.unique(ids, return_index=True)
        for t, i in zip(tids.tolist(), first.tolist()):
            src.first_seen.setdefault(t, src.lines + i)
        src.hosts.update(h for h in f["host.name"].iloc[:1000].tolist() if h)
        src.lines += n
        if not len(rows):
            return []
        # codes are 0..k-1, numbered by first use: after a stable sort group g holds code g, lines in order
        order = np.argsort(codes, kind="stable")
        rows, codes = rows[order], codes[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        t_rows = ts[rows]
        lo, hi = np.fmin.reduceat(t_rows, starts), np.fmax.reduceat(t_rows, starts)
        # per (session, template) counts in one pass
        tid_code = np.searchsorted(tids, ids[rows])
        pair, pair_n = np.unique(codes * len(tids) + tid_code, return_counts=True)
        pair_s, pair_t = (pair // len(tids)).tolist(), tids[pair % len(tids)].tolist()
        live: list[_Session | None] = []
        want: list[tuple[_Session, np.ndarray]] = []
        for g, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
            key = names[codes[a]]
            s = src.sessions.get(key)
            if s is None:
                if len(src.sessions) >= self.max_sessions:
                    src.dropped_sessions += b - a
                    live.append(None)
                    continue
                s = src.sessions[key] = _Session()
            live.append(s)
            s.n += b - a
            if np.isfinite(lo[g]):
                s.start = lo[g] if not np.isfinite(s.start) else min(s.start, lo[g])
                s.end = hi[g] if not np.isfinite(s.end) else max(s.end, hi[g])
            room = self.keep_events - len(s.events)
            if room > 0:
                want.append((s, rows[a:min(b, a + room)]))
        for sc, t, c in zip(pair_s, pair_t, pair_n.tolist()):
            s = live[sc]
            if s is not None:
                s.counts[t] += c
        if want:  # the first keep_events events of each session: their event ids fetched in one take
            picked = np.concatenate([w for _, w in want])
            eids = pa.array(f["event.id"]).take(pa.array(picked)).to_pylist()
            tid_list = ids[picked].tolist()
            at = 0
            for s, w in want:
                s.events.extend(zip(tid_list[at:at + len(w)], eids[at:at + len(w)]))
                at += len(w)
        return []

    def _keys(self, f, ts: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(rows, session codes, session names): a line may be in several sessions (sliding windows) or
        none (no regex match); codes are numbered in order of first use."""
        n = len(f)
        if self.session_regex:
            keys = session_keys(f["message"], self.session_regex)
            index: dict[str, int] = {}
            codes = np.fromiter((index.setdefault(k, len(index)) if k else -1 for k in keys), dtype=np.int64, count=n)
            rows = np.flatnonzero(codes >= 0)
            return rows, codes[rows], list(index)
        win_rows, win_keys = window_indices(ts, self.window, self.step)
        timeless = np.flatnonzero(~np.isfinite(ts))
        # lines without a time: blocks of 1,000 lines (by line number in the file); key = 2 * number + kind
        rows = np.concatenate([win_rows, timeless])
        raw = np.concatenate([win_keys * 2, (base + timeless) // 1000 * 2 + 1])
        if len(timeless) and len(win_rows):  # interleave by line so sessions are numbered by first line
            order = np.argsort(rows, kind="stable")
            rows, raw = rows[order], raw[order]
        codes, uniq = pd.factorize(raw)
        step = self.step if self.step is not None and self.step < self.window else self.window
        names = [f"window {int(k // 2 * step)}" if k % 2 == 0 else f"lines {k // 2 * 1000 + 1}-{k // 2 * 1000 + 1000}"
                 for k in uniq.tolist()]
        return rows, codes.astype(np.int64), names

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
            vocab, C = count_matrix([src.sessions[k].counts for k in keys])
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
                out.append(self._session_finding(path, src, keys[r], vocab, C[r], typical, totals,
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

    def _session_finding(self, path, src, key, vocab, row, typical, totals, ratio, reason) -> Finding:
        s = src.sessions[key]
        diff = [(abs(row[i] - typical[i]), vocab[i], int(row[i]), float(typical[i])) for i in range(len(vocab))]
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
        # counts: complete, passed as counts so a busy window is never expanded into a list of its events
        score, thr, per = self._model.score(None, ordered=seqs, counts=[src.sessions[k].counts for k in keys])
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
