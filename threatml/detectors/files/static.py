"""Static verdict per file: header model (+ optional rich model), YARA rules and listed hashes.

One finding per file that any signal flags, about the file (entity = its
SHA-256), naming its path and hashes, the score and verdict, the features that
decided the model score (LightGBM ``pred_contrib``, in words), the YARA rules
hit with their matched strings' offsets, and hash-list hits.

* Header model: the shipped ``file-clamp`` (ClaMP header fields), on PE files.
  Above its threshold (1% of out-of-fold benign files) -> ``malicious``.
* Rich model: a user-trained ``file-rich`` model (``threatml train file``,
  found by name on ``THREATML_MODELS``) when one exists; the higher of the two
  scores counts.
* YARA: the ThreatML rules in ``threatml/rules/yara`` plus ``--yara`` paths,
  on every file event (archive members included). A rule's ``meta.score``
  (0-100, default 50) is its weight; 70 or more makes the verdict malicious,
  less makes it ``suspicious``.
* Hashes: MD5 / SHA-1 / SHA-256 against the hash entries of ``--intel`` feeds
  (loaded with :mod:`threatml.intel`); a hit is ``malicious``.

Models and rules load on the first ``file`` batch, so scans without files do
not pay for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from threatml.detectors.base import Detector
from threatml.errors import ReadReport, ThreatMLError
from threatml.events import EventBatch
from threatml.findings import Finding

YARA_MALICIOUS = 70


class FileStaticDetector(Detector):
    name = "files.static"
    version = "1"
    kinds = frozenset({"file"})

    def __init__(self, yara_paths: tuple[str, ...] = (), intel: tuple[str, ...] = (), use_default_rules: bool = True,
                 header_model: str | None = "file-clamp", rich_model: str | None = "file-rich",
                 load_report: ReadReport | None = None):
        self.yara_paths, self.intel_paths = tuple(yara_paths), tuple(intel)
        self.use_default_rules = use_default_rules
        self.header_ref, self.rich_ref = header_model, rich_model
        self.load_report = load_report if load_report is not None else ReadReport()
        self._ready = False
        self.header_model = self.rich_model = self.rules = self.matcher = None

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        from threatml.models.file_model import FileClassifier
        from threatml.models.registry import resolve

        self._ready = True
        if self.header_ref:
            try:
                self.header_model = FileClassifier.load(resolve(self.header_ref))
            except ThreatMLError as exc:  # YARA and hash lists still run; the summary says why no model did
                self.load_report.error(str(self.header_ref), f"file model not loaded: {exc}")
        if self.rich_ref:
            try:
                self.rich_model = FileClassifier.load(resolve(self.rich_ref))
            except ThreatMLError:
                self.rich_model = None  # optional: only when the user trained one
        if self.rules is None:
            self.load_rules()
        if self.intel_paths:
            from threatml.intel import IndicatorMatcher, IndicatorSet, load_feeds

            iocs = load_feeds(list(self.intel_paths), report=ReadReport())
            f = iocs.frame
            self.matcher = IndicatorMatcher(IndicatorSet(f[f["type"].isin(["md5", "sha1", "sha256"])].reset_index(drop=True)))

    def load_rules(self) -> None:
        """Compile the default and the given YARA rules (bad files go to the load report)."""
        from threatml.files.yara_rules import DEFAULT_RULES, RuleSet

        paths = ([DEFAULT_RULES] if self.use_default_rules else []) + list(self.yara_paths)
        if paths and self.rules is None:
            self.rules = RuleSet.load(paths, self.load_report)

    # ------------------------------------------------------------------ scoring

    def _model_scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[list[str]], list[str]]:
        """Per row: score (NaN when no model applies), threshold, explanation, model name."""
        from threatml.files.header_features import header_feature_matrix

        n = len(frame)
        score, thr = np.full(n, np.nan), np.full(n, np.nan)
        words: list[list[str]] = [[] for _ in range(n)]
        which = [""] * n
        pe = np.flatnonzero(frame["file.type"].to_numpy(dtype=object) == "pe")
        if not len(pe):
            return score, thr, words, which
        if self.header_model is not None:
            M = _needed_matrix(frame)[pe]
            X, names = header_feature_matrix(M)
            if names != self.header_model.features:  # a model trained on another feature list
                X = pd.DataFrame(X, columns=names)
            s = self.header_model.score_samples(X)
            score[pe], thr[pe] = s, self.header_model.threshold
            flagged = np.flatnonzero(s >= self.header_model.threshold * 0.8)
            if len(flagged):
                for i, w in zip(flagged, self.header_model.explain(X[flagged] if isinstance(X, np.ndarray) else X.iloc[flagged])):
                    words[pe[i]] = w
            for i in pe:
                which[i] = "file-clamp header model"
        if self.rich_model is not None:
            from threatml.files.rich_raw import rich_raw
            from threatml.files.rich_vector import vectorize

            have = frame["file.rich"].to_numpy() if "file.rich" in frame else np.full(n, None)
            content = frame["file.content"].to_numpy() if "file.content" in frame else np.full(n, None)
            raws = [have[i] if isinstance(have[i], dict) else
                    (rich_raw(bytes(content[i]), is_pe=True)[0] if isinstance(content[i], (bytes, bytearray)) and content[i] else None)
                    for i in pe]
            ok = [j for j, r in enumerate(raws) if isinstance(r, dict)]
            if ok:
                X = vectorize([raws[j] for j in ok])
                s = self.rich_model.score_samples(X)
                for k, j in enumerate(ok):
                    i = pe[j]
                    rel = s[k] / max(self.rich_model.threshold, 1e-9)
                    old = score[i] / thr[i] if np.isfinite(score[i]) else -1
                    if rel > old:
                        score[i], thr[i], which[i] = s[k], self.rich_model.threshold, "file-rich model"
                        words[i] = self.rich_model.explain(X.iloc[[k]])[0]
        return score, thr, words, which

    def process(self, batch: EventBatch) -> list[Finding]:
        if not self._ready:
            self._load()
        f = batch.frame
        if not len(f):
            return []
        score, thr, words, which = self._model_scores(f)
        intel_hits: dict[int, list[str]] = {}
        if self.matcher is not None:
            ind = self.matcher.indicators.frame
            for col in ("file.hash.md5", "file.hash.sha1", "file.hash.sha256"):
                m = self.matcher.match_hashes(f[col])
                for r, i in zip(m.rows.tolist(), m.indicators.tolist()):
                    desc = str(ind["description"].iat[i]) or "listed"
                    intel_hits.setdefault(r, []).append(f"{col.rsplit('.', 1)[-1].upper()} listed in "
                                                        f"{ind['sources'].iat[i]}: {desc[:120]}")
        out = []
        content = f["file.content"].to_numpy() if "file.content" in f else None
        cols = {c: f[c].to_numpy() for c in ("file.path", "file.type", "file.size", "@timestamp", "event.id",
                                               "file.hash.md5", "file.hash.sha1", "file.hash.sha256")}
        for c in ("file.pe.imphash", "file.notes"):
            cols[c] = f[c].to_numpy() if c in f else np.full(len(f), "", dtype=object)
        for i in range(len(f)):
            row = {c: v[i] for c, v in cols.items()}
            yhits = []
            if self.rules is not None and content is not None:
                data = content[i]
                if isinstance(data, (bytes, bytearray)) and data:
                    yhits = self.rules.scan(bytes(data), str(row["file.path"]), filetype=str(row["file.type"]),
                                            report=self.load_report)
            fd = self._finding(row, score[i], thr[i], words[i], which[i], yhits, intel_hits.get(i, []), batch.source)
            if fd is not None:
                out.append(fd)
        return out

    # ------------------------------------------------------------------ findings

    def _finding(self, row: dict, score: float, thr: float, words: list[str], model: str, yhits, intel: list[str],
                 source: str) -> Finding | None:
        model_hit = bool(np.isfinite(score) and score >= thr)
        yara_score = max((_rule_score(h) for h in yhits), default=0)
        if not (model_hit or yhits or intel):
            return None
        malicious = model_hit or bool(intel) or yara_score >= YARA_MALICIOUS
        verdict = "malicious" if malicious else "suspicious"
        parts = [yara_score / 100.0]
        if np.isfinite(score):
            # the model's threshold maps to 0.7 ("high"), its maximum to 1.0
            parts.append(0.7 + 0.3 * (score - thr) / max(1e-9, 1 - thr) if score >= thr else 0.7 * score / max(thr, 1e-9))
        if intel:
            parts.append(0.95)
        final = float(max(parts))
        path = str(row["file.path"])
        sha = str(row["file.hash.sha256"])
        expl = []
        if intel:
            expl += intel[:3]
        if model_hit:
            expl.append(f"{model} scores {score:.3f} (alert threshold {thr:.3f}).")
            expl += [w + "." for w in words]
        elif np.isfinite(score):
            expl.append(f"{model} scores {score:.3f}, below its alert threshold {thr:.3f}.")
            expl += [w + "." for w in words[:2]]
        for h in yhits[:10]:
            shown = ", ".join(f"{ident} at offset {off}" for ident, off, _ in h.strings[:4])
            desc = h.meta.get("description", "")
            expl.append(f"YARA rule {h.rule} ({h.namespace}){': ' + desc if desc else ''}"
                        f"{' - matched ' + shown if shown else ''}.")
        notes = str(row.get("file.notes", "") or "")
        if notes:
            expl.append(f"Parsing notes: {notes[:300]}.")
        attack = sorted({str(h.meta.get("attack")) for h in yhits if h.meta.get("attack")})
        ts = float(row["@timestamp"]) if np.isfinite(row["@timestamp"]) else 0.0
        related = {"file.path": [path]}
        for k in ("md5", "sha1", "sha256"):
            v = str(row[f"file.hash.{k}"])
            if v:
                related[f"file.{k}"] = [v]
        if row.get("file.pe.imphash"):
            related["file.pe.imphash"] = [str(row["file.pe.imphash"])]
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        title = f"{verdict.capitalize()} file {name}" + (f" (YARA: {', '.join(h.rule for h in yhits[:3])})" if yhits else "")
        return Finding.make(
            detector=self.name, detector_version=self.version, title=title, start=ts, end=ts, entity_type="file",
            entity=sha or path, score=final, attack=attack, evidence=[str(row["event.id"])], explanation=expl,
            related=related, source_files=[source or path],
            attributes={"verdict": verdict, "file.type": str(row["file.type"]), "file.size": float(row["file.size"]),
                        "model": model, "model.score": round(float(score), 6) if np.isfinite(score) else -1.0,
                        "model.threshold": round(float(thr), 6) if np.isfinite(thr) else -1.0,
                        "yara.rules": ",".join(h.rule for h in yhits), "intel.hits": len(intel),
                        "file.hash.md5": str(row["file.hash.md5"]), "file.hash.sha1": str(row["file.hash.sha1"]),
                        "file.hash.sha256": sha, "file.pe.imphash": str(row.get("file.pe.imphash", ""))})


def _needed_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Header fields :data:`NEEDED` per row: from the reader's cached matrix when it is
    there and fits, else column by column (a 50-column pandas selection costs more than the model)."""
    from threatml.files.header_features import NEEDED
    from threatml.files.pe_header import HEADER_FIELDS

    cached = frame.attrs.get("pe.matrix")
    if isinstance(cached, np.ndarray) and cached.shape == (len(frame), len(HEADER_FIELDS)):
        at = {k: i for i, k in enumerate(HEADER_FIELDS)}
        cols = [at.get(k) for k in NEEDED]
        if all(c is not None for c in cols):
            return cached[:, cols]
    return np.column_stack([frame[f"pe.{k}"].to_numpy(dtype="float64") if f"pe.{k}" in frame
                            else np.full(len(frame), np.nan) for k in NEEDED])


def _rule_score(hit) -> int:
    try:
        return int(hit.meta.get("score", 50))
    except (TypeError, ValueError):
        return 50
