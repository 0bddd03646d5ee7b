"""Train and evaluate log anomaly models: files -> templates -> sessions -> models -> a model folder.

Inputs are raw text logs (read by :class:`~threatml.readers.textlog.TextLogReader`,
mined into templates, grouped by a session regex or time windows) or session
CSVs with an ``EventSequence`` column (template ids given). A model folder holds
``card.json``, the miner state (raw logs only), the vectoriser and every model
(JSON; LightGBM text when labels exist). When labels exist the main score is the
session-signature model (anomaly rate of the exact count vector in training,
PCA back-off for unseen ones; LightGBM is kept beside it as a second opinion);
without labels it is the unsupervised ensemble: a session's score is its largest
``score / threshold`` over PCA residual, invariants and the new-template alarm
(>= 1 means at least one model calls it anomalous).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport, ThreatMLError
from threatml.logs.miner import TemplateMiner
from threatml.models.card import ModelCard
from threatml.logs.models.iforest import IsolationForestModel
from threatml.logs.models.invariants import InvariantMiner
from threatml.logs.models.newtemplate import NewTemplateAlarm
from threatml.logs.models.ngram import NextEventModel
from threatml.logs.models.pca import PCAResidual
from threatml.logs.models.signature import SignatureModel
from threatml.logs.models.supervised import LightGBMDetector
from threatml.logs.sessions import (
    EventCounter,
    Session,
    parse_window_spec,
    read_session_csv,
    session_keys,
    window_indices,
)

DEFAULT_WINDOW = "5m"
ENSEMBLE = ("pca", "invariants", "newtemplate")


@dataclass
class LogData:
    sessions: list[Session]
    miner: TemplateMiner | None = None
    report: ReadReport = field(default_factory=ReadReport)
    raw: bool = False

    @property
    def labels(self) -> np.ndarray:
        return np.asarray([s.label for s in self.sessions], dtype=int)

    @property
    def sequences(self) -> list[list[int]]:
        return [s.events for s in self.sessions]


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise InputError(p, "no such file or folder")
    return out


def is_text_log(path: Path) -> bool:
    """What a scan would read as a text log (binary files are refused)."""
    from threatml.readers.base import read_head
    from threatml.readers.textlog import TextLogReader

    return TextLogReader.sniff(read_head(path), path)


def _is_session_csv(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.readline(4096)
    return b"EventSequence" in head and b"," in head


def _add_to_sessions(found: dict[str, Session], prefix: str, rows: np.ndarray, codes: np.ndarray, names: list[str],
                     ids: np.ndarray, bad: np.ndarray) -> None:
    """Append a batch's template ids to their sessions, one slice per session (codes numbered by first use)."""
    if not len(rows):
        return
    order = np.argsort(codes, kind="stable")
    rows, codes = rows[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    for a, b in zip(starts.tolist(), ends.tolist()):
        key = f"{prefix}@{names[codes[a]]}"
        s = found.get(key)
        if s is None:
            s = found[key] = Session(key)
        s.events.extend(ids[rows[a:b]].tolist())
        if bad[rows[a:b]].any():
            s.label = 1


def load_log_data(paths: list[str], session_regex: str | None = None, window: str | None = None,
                  miner: TemplateMiner | None = None) -> LogData:
    """Sessions from every file; raw logs are mined with ``miner`` (a new one when None)."""
    from threatml.readers.textlog import TextLogReader

    report = ReadReport()
    sessions: list[Session] = []
    raw = False
    for path in _files(paths):
        if _is_session_csv(path):
            df = read_session_csv(path)
            report.read(str(path), len(df))
            sessions.extend(Session(str(k), list(ev), label=int(y)) for k, ev, y in
                            zip(df["key"], df["events"], df["label"]))
            continue
        if not is_text_log(path):
            report.skip(str(path), "not a text log (binary content): file left out")
            continue
        raw = True
        miner = miner or TemplateMiner()
        seconds, step = (None, None) if session_regex else parse_window_spec(window or DEFAULT_WINDOW)
        found: dict[str, Session] = {}  # sessions of this file, grown batch by batch (no per-line key list)
        for batch in TextLogReader().read(path, report):
            f = batch.frame
            report.read(str(path), len(f))
            ids = miner.add_many(f["message"])
            bad = (f["label"] == "malicious").to_numpy()
            if session_regex:
                got = session_keys(f["message"], session_regex)
                index: dict[str, int] = {}
                codes = np.fromiter((index.setdefault(k, len(index)) if k else -1 for k in got),
                                    dtype=np.int64, count=len(got))
                rows = np.flatnonzero(codes >= 0)
                if len(rows) < len(got):
                    report.note(str(path), "no session id (regex did not match): line in no session",
                                n=len(got) - len(rows))
                codes, names = codes[rows], list(index)
            else:
                ts = f["@timestamp"].to_numpy(dtype="float64")
                if np.isnan(ts).any():
                    report.note(str(path), "no timestamp: line in no window", n=int(np.isnan(ts).sum()))
                rows, wins = window_indices(ts, seconds, step)
                codes, uniq = pd.factorize(wins)
                width = step if step is not None and step < seconds else seconds
                names = [f"{int(w * width)}" for w in uniq.tolist()]
            _add_to_sessions(found, path.name, rows, np.asarray(codes, dtype=np.int64), names, ids, bad)
        sessions.extend(found.values())
    if not sessions:
        raise ThreatMLError(f"no sessions in {', '.join(paths)}: check the files, --session-regex or --window "
                            "(lines without a timestamp cannot be windowed)")
    return LogData(sessions, miner, report, raw)


@dataclass
class LogModel:
    """Every fitted model of one folder, and how to score sessions with them."""

    counter: EventCounter
    models: dict
    miner: TemplateMiner | None = None
    supervised: SignatureModel | LightGBMDetector | None = None
    lightgbm: LightGBMDetector | None = None

    def features(self, sequences: list[list[int]]) -> np.ndarray:
        return self.counter.transform(sequences)

    def model_scores(self, sequences: list[list[int]] | None, ordered: list[list[int]] | None = None,
                     counts: list[dict[int, int]] | None = None) -> dict[str, np.ndarray]:
        """Each model's scores; ``ordered`` (default ``sequences``) feeds the order model when the
        complete sequences are only known as counts (a scan keeps the first events of a long session);
        ``counts`` (template id -> count per session) may stand for ``sequences`` so a long session is
        never expanded into a list of its events."""
        if counts is not None:
            X = self.counter.transform_counts(counts)
        else:
            X = self.features(sequences)
        out = {}
        for name, m in self.models.items():
            if name == "ngram":
                out[name] = m.score_samples(ordered if ordered is not None else sequences)
            elif name == "newtemplate":
                out[name] = m.score_counts(counts) if counts is not None else m.score_samples(sequences)
            else:
                out[name] = m.score_samples(X)
        if self.lightgbm is not None:
            out["lightgbm"] = self.lightgbm.score_samples(X)
        if self.supervised is not None:
            out[self.supervised_name] = self.supervised.score_samples(X)
        return out

    @property
    def supervised_name(self) -> str:
        return "signature" if isinstance(self.supervised, SignatureModel) else "lightgbm"

    def thresholds(self) -> dict[str, float]:
        out = {k: float(m.threshold_) for k, m in self.models.items()}
        if self.lightgbm is not None:
            out["lightgbm"] = float(self.lightgbm.threshold_)
        if self.supervised is not None:
            out[self.supervised_name] = float(self.supervised.threshold_)
        return out

    def score(self, sequences: list[list[int]] | None, ordered: list[list[int]] | None = None,
              counts: list[dict[int, int]] | None = None) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
        """(main score, its threshold, per-model scores); see :meth:`model_scores` for the arguments."""
        per = self.model_scores(sequences, ordered, counts)
        if self.supervised is not None:
            return per[self.supervised_name], float(self.supervised.threshold_), per
        thr = self.thresholds()
        parts = [per[k] / max(thr[k], 1e-9) for k in ENSEMBLE if k in per]
        return np.max(np.vstack(parts), axis=0), 1.0, per

    def save(self, folder: Path) -> list[str]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "counter.json").write_text(json.dumps({"model": "event-counter", **self.counter.to_dict()}))
        files = ["counter.json"]
        if self.miner is not None:
            self.miner.save(folder / "miner.json")
            files.append("miner.json")
        for m in self.models.values():
            files.append(m.save(folder).name)
        if self.supervised is not None:
            files.append(self.supervised.save(folder).name)
        if self.lightgbm is not None:
            files += [self.lightgbm.save(folder).name, "lightgbm.txt"]
        return files

    @classmethod
    def load(cls, folder: Path) -> "LogModel":
        from threatml.models.card import read_card

        card = read_card(folder, verify=True)
        if card.domain != "log":
            raise ThreatMLError(f"{folder}: a {card.domain} model, not a log model")
        counter = EventCounter.from_dict(json.loads((folder / "counter.json").read_text()))
        loaders = {"pca": PCAResidual, "invariants": InvariantMiner, "iforest": IsolationForestModel,
                   "ngram": NextEventModel, "newtemplate": NewTemplateAlarm}
        models = {k: c.load(folder) for k, c in loaders.items() if k in card.parameters.get("models", [])}
        miner = TemplateMiner.load(folder / "miner.json") if (folder / "miner.json").exists() else None
        gbm = LightGBMDetector.load(folder) if (folder / "lightgbm.json").exists() else None
        if (folder / "signature.json").exists():
            return cls(counter, models, miner, SignatureModel.load(folder), gbm)
        return cls(counter, models, miner, gbm)  # folders from before the signature model: LightGBM decides


def fit_models(sequences: list[list[int]], labels: np.ndarray | None, tfidf: bool = False, seed: int = 0,
               miner: TemplateMiner | None = None) -> LogModel:
    """Fit every model; with labels, the signature model decides (LightGBM beside it) and the
    unsupervised ones learn from the sessions labelled normal."""
    counter = EventCounter(tfidf=tfidf).fit(sequences)
    X = counter.transform(sequences)
    has_labels = labels is not None and 0 < int(np.sum(labels)) < len(labels)
    normal = np.asarray(labels) == 0 if has_labels else np.ones(len(sequences), dtype=bool)
    Xn = X[normal]
    seq_n = [s for s, ok in zip(sequences, normal) if ok]
    models = {
        "pca": PCAResidual().fit(Xn),
        "invariants": InvariantMiner().fit(Xn),
        "iforest": IsolationForestModel(seed=seed).fit(Xn),
        "ngram": NextEventModel().fit(seq_n),
        "newtemplate": NewTemplateAlarm().fit(seq_n),
    }
    if not has_labels:
        return LogModel(counter, models, miner)
    return LogModel(counter, models, miner, SignatureModel(seed=seed).fit(X, labels),
                    LightGBMDetector(seed=seed).fit(X, labels))


def train_log(paths: list[str], out: Path, session_regex: str | None = None, window: str | None = None,
              tfidf: bool = False, seed: int = 0) -> ModelCard:
    """Train on ``paths`` and write a model folder; the card holds held-out metrics when labels exist."""
    from threatml.models.card import describe_data, library_versions, write_model
    from threatml.pipeline.metrics import binary_report

    data = load_log_data(paths, session_regex, window)
    seqs, y = data.sequences, data.labels
    metrics: dict = {"sessions": len(seqs), "anomalous_sessions": int(y.sum())}
    if 0 < y.sum() < len(y) and len(y) >= 20:
        rng = np.random.default_rng(seed)
        test = rng.random(len(y)) < 0.2
        held = fit_models([s for s, t in zip(seqs, test) if not t], y[~test], tfidf, seed)
        score, thr, _ = held.score([s for s, t in zip(seqs, test) if t])
        metrics["held_out_20pct"] = binary_report(y[test], score, thr)
    model = fit_models(seqs, y, tfidf, seed, data.miner)
    out = Path(out)
    files = model.save(out)
    card = ModelCard(
        name=out.name or "log-model", version="1", domain="log", kind="log-anomaly",
        description="Template-mined log sessions scored by PCA residual, invariants, Isolation Forest, "
                    "an n-gram next-template model, a new-template alarm" + (
                        "; with labels, a session-signature table (PCA back-off) decides, LightGBM beside it"
                        if model.supervised else ""),
        training_data=describe_data([(Path(p), None) for p in paths]),
        features=[f"template:{v}" for v in model.counter.vocab] + ["template:unseen"],
        parameters={"session_regex": session_regex, "window": None if session_regex else (window or DEFAULT_WINDOW),
                    "tfidf": tfidf, "seed": seed, "models": sorted(model.models),
                    "supervised": model.supervised is not None, "raw_logs": data.raw,
                    "score": "signature anomaly rate (threshold by inner 5-fold CV F1)" if model.supervised
                    else f"max score/threshold over {list(ENSEMBLE)}"},
        metrics=metrics, libraries=library_versions(), artifacts={f: "" for f in files},
        notes=["Isolation Forest is stored as its de-duplicated training vectors and refitted on load (same seed)."]
        + [f"read: {x['file']}: {x['reason']} ({x['count']:,})" for x in
           (data.report.as_dict()["skipped"] + data.report.as_dict()["notes"])[:20]],
    )
    write_model(out, card)
    return card


def evaluate_log(model_dir: str, paths: list[str], session_regex: str | None = None,
                 window: str | None = None) -> dict:
    """Common binary metrics of the main score on labelled sessions, plus each model's own."""
    from threatml.models.card import read_card
    from threatml.models.registry import resolve
    from threatml.pipeline.metrics import binary_report

    folder = resolve(model_dir)
    model = LogModel.load(folder)
    params = read_card(folder, verify=False).parameters
    data = load_log_data(paths, session_regex or params.get("session_regex"),
                         window or params.get("window"), miner=model.miner)
    y = data.labels
    score, thr, per = model.score(data.sequences)
    out = binary_report(y, score, thr)
    thrs = model.thresholds()
    out["models"] = {k: {key: v for key, v in binary_report(y, s, thrs[k]).items()
                         if key in ("precision", "recall", "f1", "roc_auc", "pr_auc")} for k, s in per.items()}
    out["sessions"] = len(y)
    out["read"] = data.report.as_dict()
    return out
