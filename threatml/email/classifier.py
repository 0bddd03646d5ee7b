"""Ham / spam / phishing classifier: the text model's margins stacked with structured features in LightGBM.

Training (``fit``):

1. the hashed n-gram text model (:mod:`threatml.email.text_model`) is fitted
   ``folds`` times to give every training message an *out-of-fold* margin per
   class, then once on everything (the model that is saved);
2. LightGBM learns from the structured features (:mod:`threatml.email.features`)
   plus those out-of-fold margins, so it learns how far to trust the text
   given the headers, links and attachments;
3. the alert threshold on ``score = 1 - P(ham)`` is set on out-of-fold scores
   of the whole stack so that at most ``target_fpr`` of training ham exceeds it.

``predict`` gives the most likely non-ham class when the score passes the
threshold, else ``ham``. ``explain`` names the structured features (LightGBM
contributions) and the words (text-model weights) that weighed most.

Input is an ``email`` event frame (from :class:`threatml.readers.email.EmailReader`).
Saved as ``text_model.json`` + ``structured.txt`` (LightGBM text) +
``classifier.json``: nothing is ever unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from threatml.email.features import COLUMNS, FEATURES, describe, headerless_features
from threatml.email.text_model import HashedTextModel
from threatml.email.tree_paths import PathContributions
from threatml.models.card import ModelCard, write_model
from threatml.pipeline.metrics import threshold_at_fpr

HAM = "ham"


def texts_of(frame: pd.DataFrame) -> list[str]:
    """Subject and visible body: what the text model reads."""
    subj = frame["email.subject"].fillna("").astype(str) if "email.subject" in frame else pd.Series([""] * len(frame))
    body = frame["email.body"].fillna("").astype(str) if "email.body" in frame else pd.Series([""] * len(frame))
    return (subj + "\n" + body).tolist()


def subjects_of(frame: pd.DataFrame) -> list[str]:
    """The subject lines (scored on their own as well)."""
    if "email.subject" not in frame:
        return [""] * len(frame)
    return frame["email.subject"].fillna("").astype(str).tolist()


def structured_of(frame: pd.DataFrame) -> np.ndarray:
    """The ``email.f.*`` columns as a float matrix (NaN where a column is missing)."""
    if all(c in frame for c in COLUMNS):
        try:
            return frame[COLUMNS].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            pass  # a column with text in it: convert one by one
    out = np.full((len(frame), len(COLUMNS)), np.nan)
    for j, c in enumerate(COLUMNS):
        if c in frame:
            out[:, j] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64")
    return out


class EmailClassifier:
    def __init__(self, text_params: dict | None = None, n_estimators: int = 300, num_leaves: int = 15,
                 learning_rate: float = 0.05, min_child_samples: int = 10, folds: int = 5,
                 target_fpr: float = 0.003, balance: bool = False, headerless: bool = True,
                 subject_margins: bool = True, headerless_weight: float = 1.0, seed: int = 0):
        self.text_params = dict(text_params or {})
        self.n_estimators = int(n_estimators)
        self.num_leaves = int(num_leaves)
        self.learning_rate = float(learning_rate)
        self.min_child_samples = int(min_child_samples)
        self.folds = int(folds)
        self.target_fpr = float(target_fpr)
        self.balance = bool(balance)
        self.headerless = bool(headerless)
        self.subject_margins = bool(subject_margins)
        self.headerless_weight = float(headerless_weight)
        self.seed = int(seed)
        self.classes_: list[str] = []
        self.threshold_: float = 0.5
        self.threshold_text_: float = 0.5
        self.text_: HashedTextModel | None = None
        self.booster_: lgb.Booster | None = None
        self.oof_score_: np.ndarray | None = None
        self._paths: PathContributions | None = None

    # ---- training ----
    def _margin_names(self, prefix: str = "text") -> list[str]:
        k = len(self.classes_)
        return [f"{prefix}_{self.classes_[1]}"] if k == 2 else [f"{prefix}_{c}" for c in self.classes_]

    def feature_names(self) -> list[str]:
        return list(FEATURES) + self._margin_names() + (self._margin_names("subject") if self.subject_margins else [])

    def _margins(self, tm: HashedTextModel, texts: list[str], subjects: list[str], T=None) -> np.ndarray:
        """Text-model margins of the whole text, then (``subject_margins``) of the subject line alone: words
        appended to dilute a lure (hash busters, word salad) do not reach the subject's own score."""
        m = tm.decision_function(texts) if T is None else tm.decision_from_matrix(T)
        return np.hstack([m, tm.decision_function(subjects)]) if self.subject_margins else m

    def _lgb_params(self) -> dict:
        k = len(self.classes_)
        p = {"objective": "binary"} if k == 2 else {"objective": "multiclass", "num_class": k}
        return {**p, "num_leaves": self.num_leaves, "learning_rate": self.learning_rate,
                "min_child_samples": self.min_child_samples, "feature_fraction": 0.9, "bagging_fraction": 0.9,
                "bagging_freq": 1, "lambda_l2": 1.0, "seed": self.seed, "deterministic": True,
                "num_threads": 1, "verbosity": -1}

    def _train_booster(self, X: np.ndarray, yi: np.ndarray, sw: np.ndarray | None = None) -> lgb.Booster:
        w = None if sw is None else sw.copy()
        if self.balance:  # every class weighs the same in total
            counts = np.bincount(yi, minlength=len(self.classes_)).astype(float)
            bw = (len(yi) / (len(self.classes_) * np.maximum(counts, 1)))[yi]
            w = bw if w is None else w * bw
        ds = lgb.Dataset(X, label=yi, weight=w, feature_name=self.feature_names(), free_raw_data=True)
        return lgb.train(self._lgb_params(), ds, num_boost_round=self.n_estimators)

    def _proba(self, booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
        p = booster.predict(X, num_threads=1)  # one thread: the machine is shared and batches are small
        return np.column_stack([1 - p, p]) if p.ndim == 1 else p

    def fit(self, frame: pd.DataFrame, y, sample_weight=None) -> "EmailClassifier":
        """Fit on an ``email`` frame and its labels; ``sample_weight`` (optional) weighs messages in both models."""
        y = np.asarray(y, dtype=object)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype="float64")
        self.classes_ = sorted(set(y.tolist()), key=lambda c: (c != HAM, c))
        if self.classes_[0] != HAM or len(self.classes_) < 2:
            raise ValueError(f"training needs ham and at least one other class; got {self.classes_}")
        yi = np.array([self.classes_.index(c) for c in y])
        texts = texts_of(frame)
        subjects = subjects_of(frame)
        S = structured_of(frame)
        folds = max(2, min(self.folds, int(np.bincount(yi).min())))
        skf = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        splits = list(skf.split(S, yi))
        margins = np.zeros((len(y), len(self.feature_names()) - len(FEATURES)))
        for tr, te in splits:
            tm = HashedTextModel(seed=self.seed, **self.text_params).fit([texts[i] for i in tr], y[tr],
                                                                         None if sw is None else sw[tr])
            margins[te] = self._margins(tm, [texts[i] for i in te], [subjects[i] for i in te])
        X = np.hstack([S, margins])
        # header-less copies (same text, same out-of-fold margins, header features unknown): text without headers
        # must not fall into branches the booster never saw (NaN header features read as zeros)
        src = np.flatnonzero(~np.isnan(S[:, 0])) if self.headerless else np.empty(0, dtype=int)
        subj = frame["email.subject"].fillna("").astype(str).tolist() if "email.subject" in frame else [""] * len(y)
        body = frame["email.body"].fillna("").astype(str).tolist() if "email.body" in frame else [""] * len(y)
        H = np.array([[headerless_features(subj[i], body[i])[k] for k in FEATURES] for i in src]).reshape(len(src), len(FEATURES))
        Xh = np.hstack([H, margins[src]]) if len(src) else np.empty((0, X.shape[1]))

        def stack(rows: np.ndarray):
            keep = np.isin(src, rows)
            base = np.ones(len(y)) if sw is None else sw
            w = np.r_[base[rows], base[src[keep]] * self.headerless_weight]
            if sw is None and self.headerless_weight == 1.0:
                w = None
            return np.vstack([X[rows], Xh[keep]]), np.r_[yi[rows], yi[src[keep]]], w

        # out-of-fold scores of the whole stack set the alert threshold (for mail with and without headers)
        oof = np.zeros((len(y), len(self.classes_)))
        oof_h = np.zeros((len(src), len(self.classes_)))
        for tr, te in splits:
            booster = self._train_booster(*stack(tr))
            oof[te] = self._proba(booster, X[te])
            inte = np.isin(src, te)
            if inte.any():
                oof_h[inte] = self._proba(booster, Xh[inte])
        self.oof_score_ = 1.0 - oof[:, 0]
        # one threshold per view, each at target_fpr of its own out-of-fold ham: header-less text scores
        # differently (fewer clues), and one shared threshold would be the stricter of the two for both
        self.threshold_ = float(np.clip(threshold_at_fpr(self.oof_score_[yi == 0], self.target_fpr) + 1e-6, 0.05, 0.999))
        ham_h = 1.0 - oof_h[yi[src] == 0, 0]
        self.threshold_text_ = (float(np.clip(threshold_at_fpr(ham_h, self.target_fpr) + 1e-6, 0.05, 0.999))
                                if len(ham_h) else self.threshold_)
        self.text_ = HashedTextModel(seed=self.seed, **self.text_params).fit(texts, y, sw)
        self.booster_ = self._train_booster(*stack(np.arange(len(y))))
        self._paths = None
        return self

    # ---- scoring ----
    def score_frame(self, frame: pd.DataFrame):
        """(class probabilities, stacked feature matrix, text matrix, texts): everything ``explain_rows`` reuses."""
        texts = texts_of(frame)
        T = self.text_.transform(texts)
        X = np.hstack([structured_of(frame), self._margins(self.text_, texts, subjects_of(frame), T)])
        return self._proba(self.booster_, X), X, T, texts

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if not len(frame):
            return np.empty((0, len(self.classes_)))
        return self.score_frame(frame)[0]

    def score_samples(self, frame: pd.DataFrame) -> np.ndarray:
        """P(not ham): higher = more likely spam or phishing."""
        return 1.0 - self.predict_proba(frame)[:, 0]

    def thresholds(self, frame: pd.DataFrame | None, n: int) -> np.ndarray:
        """The alert threshold of each row: :attr:`threshold_text_` for text without headers, else :attr:`threshold_`.

        >>> c = EmailClassifier(); c.threshold_, c.threshold_text_ = 0.9, 0.8
        >>> c.thresholds(pd.DataFrame({"email.f.missing_message_id": [0.0, float("nan")]}), 2).tolist()
        [0.9, 0.8]
        """
        t = np.full(n, self.threshold_)
        col = COLUMNS[0]  # a header feature: NaN exactly when the message had no headers
        if frame is not None and col in frame and n == len(frame):
            t[pd.to_numeric(frame[col], errors="coerce").isna().to_numpy()] = self.threshold_text_
        return t

    def verdicts(self, proba: np.ndarray, frame: pd.DataFrame | None = None) -> list[str]:
        """Most likely non-ham class where the score passes the row's threshold (see :meth:`thresholds`), else ham."""
        score = 1.0 - proba[:, 0]
        bad = proba[:, 1:].argmax(axis=1) + 1
        t = self.thresholds(frame, len(score))
        return [self.classes_[b] if s >= th else HAM for s, b, th in zip(score, bad, t)]

    def predict(self, frame: pd.DataFrame) -> list[str]:
        return self.verdicts(self.predict_proba(frame), frame)

    # ---- explanation ----
    def explain(self, frame: pd.DataFrame, i: int, verdict: str, n_features: int = 4, n_words: int = 6) -> list[str]:
        """Sentences naming the features and words that pushed message ``i`` towards ``verdict``."""
        _, X, T, texts = self.score_frame(frame.iloc[[i]])
        return self.explain_rows(X, T, texts, [0], [verdict], n_features, n_words)[0]

    def explain_rows(self, X: np.ndarray, T, texts: list[str], rows: list[int], verdicts: list[str],
                     n_features: int = 4, n_words: int = 6) -> list[list[str]]:
        """:meth:`explain` for several rows of one :meth:`score_frame` result (one LightGBM call)."""
        if not rows:
            return []
        if self._paths is None:  # built once per loaded model: a table lookup per tree instead of TreeSHAP
            self._paths = PathContributions(self.booster_)
        contribs = self._paths.predict(self.booster_, X[rows])
        names = self.feature_names()
        k, nf = len(self.classes_), len(names)
        text_idx = [j for j, nm in enumerate(names) if nm in self._margin_names()]
        subject_idx = [j for j, nm in enumerate(names) if self.subject_margins and nm in self._margin_names("subject")]
        out = []
        for r, i, verdict in zip(range(len(rows)), rows, verdicts):
            contrib = contribs[r]
            if k == 2:
                c = contrib[:nf] * (1.0 if verdict != HAM else -1.0)
            else:
                base = self.classes_.index(verdict) * (nf + 1)
                c = contrib[base: base + nf]
            # the text model's margins count as one cause: "the wording"
            items = [(float(c[j]), names[j], float(X[i, j])) for j in range(nf) if j not in text_idx + subject_idx]
            items.append((float(c[text_idx].sum()), "text", float("nan")))
            if subject_idx:
                items.append((float(c[subject_idx].sum()), "subject", float("nan")))
            items.sort(key=lambda t: -t[0])
            sentences = []
            for value, name, x in items[: n_features + 1]:
                if value <= 0.05:
                    break
                if name == "text":
                    terms = self.text_.top_terms(texts[i], verdict, n_words, row=T[i])
                    words = ", ".join(f"'{t}'" for t, _ in terms) or "its overall wording"
                    sentences.append(f"the text reads like {verdict}: {words} (+{value:.2f} log-odds)")
                elif name == "subject":
                    sentences.append(f"the subject line on its own reads like {verdict} (+{value:.2f} log-odds)")
                else:
                    sentences.append(f"{describe(name, x)} (+{value:.2f} log-odds)")
            out.append(sentences)
        return out

    # ---- persistence ----
    def save(self, folder: Path, card: ModelCard) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "text_model.json").write_text(json.dumps(self.text_.to_dict(), separators=(",", ":")))
        self.booster_.save_model(str(folder / "structured.txt"))
        meta = {"format": "threatml-email-classifier-1", "classes": self.classes_, "threshold": self.threshold_,
                "threshold_text": self.threshold_text_,
                "features": self.feature_names(),
                "params": {"text_params": self.text_params, "n_estimators": self.n_estimators,
                           "num_leaves": self.num_leaves, "learning_rate": self.learning_rate,
                           "min_child_samples": self.min_child_samples, "folds": self.folds,
                           "target_fpr": self.target_fpr, "balance": self.balance, "headerless": self.headerless,
                           "subject_margins": self.subject_margins, "headerless_weight": self.headerless_weight,
                           "seed": self.seed}}
        (folder / "classifier.json").write_text(json.dumps(meta, indent=1))
        card.classes = list(self.classes_)
        card.features = self.feature_names()
        card.parameters = {**card.parameters, "threshold": self.threshold_, "threshold_text": self.threshold_text_,
                           "target_fpr": self.target_fpr}
        card.artifacts = {"text_model.json": "", "structured.txt": "", "classifier.json": ""}
        return write_model(folder, card)

    @classmethod
    def load(cls, folder: Path) -> "EmailClassifier":
        from threatml.errors import ThreatMLError
        from threatml.models.card import read_card

        folder = Path(folder)
        card = read_card(folder, verify=True)
        if card.domain != "email":
            raise ThreatMLError(f"{folder}: model {card.name} is a {card.domain} model, not an email model")
        try:
            meta = json.loads((folder / "classifier.json").read_text())
            m = cls(**meta["params"])
            m.classes_ = list(meta["classes"])
            m.threshold_ = float(meta["threshold"])
            m.threshold_text_ = float(meta.get("threshold_text", m.threshold_))
            m.text_ = HashedTextModel.from_dict(json.loads((folder / "text_model.json").read_text()))
            m.booster_ = lgb.Booster(model_file=str(folder / "structured.txt"))
        except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
            raise ThreatMLError(f"{folder}: cannot load the email model: {exc}") from None
        if m.feature_names() != meta["features"]:
            raise ThreatMLError(f"{folder}: the model's features differ from this version of ThreatML")
        return m
