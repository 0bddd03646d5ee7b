"""DGA classifier for domain names, with the likely family when it was in training.

Two LightGBM boosters over :data:`threatml.web.domains.DOMAIN_FEATURES`:

* binary (DGA or not) on statistics that carry over to unseen families:
  character statistics, English trigram likelihood, word segmentation;
* family (multiclass, DGA rows only) on the same features plus the TLD.

Word-list DGAs (matsnu, suppobox, gozi, rovnix) glue dictionary words together
and so look like English; pronounceable ones (pushdo, symmi) alternate
consonants and vowels. With only one such family in the shared data, training
adds *generic* priors with a fixed seed: labels of 2 to 5 random vocabulary
words (``synthetic``), text-fed labels of random words of any length, function
words included (``text_words``), uniformly random strings, and random
syllables (``syllable``). They teach "words glued together" and "random
syllables", not any family's list; the amounts were chosen by
leave-one-family-out on the shared feed plus a held-out pseudo-family of
Python's pydoc text (``bench/bench_dns.py --only lofo``), and the benchmark
measures them on real generator output that training never sees.

The alert threshold is set from out-of-fold benign scores (``alert_fpr``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> words = ["cat", "house", "green", "table", "river", "stone", "light", "paper", "music", "water"]
>>> benign = ["".join(rng.choice(words, 2)) + ".com" for _ in range(200)]
>>> dga = ["".join(rng.choice(list("qxzkjvwpbt"), 9)) + ".biz" for _ in range(200)]
>>> m = DgaModel(n_estimators=30, synthetic=0, folds=0)
>>> _ = m.fit(benign + dga, np.r_[np.zeros(200), np.ones(200)], text=[" ".join(words)] * 3)
>>> bool(m.score_samples(["zkqxwvjtb.biz"])[0] > 0.5 > m.score_samples(["greenriver.com"])[0])
True
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.pipeline.metrics import threshold_at_fpr
from threatml.web.domains import BENIGN_LM_FEATURES, DOMAIN_FEATURES, benign_lm_features, label_features, registered_labels
from threatml.web.words import CharTrigramLM, count_words, stdlib_text, vocabulary

BINARY_FILE, FAMILY_FILE, META_FILE = "dga_binary.txt", "dga_family.txt", "dga_meta.json"
SYNTHETIC = "wordlist-synthetic"
RANDOM_SYNTHETIC = "random-synthetic"
SYLLABLE_SYNTHETIC = "syllable-synthetic"
SYNTHETIC_CLASSES = (SYNTHETIC, RANDOM_SYNTHETIC, SYLLABLE_SYNTHETIC)
FAMILY_EXTRA = ("tld_code", "tld_len")


def synthetic_wordlist_labels(vocab: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` labels of 2 to 5 random vocabulary words (4 to 9 letters), some joined by hyphens."""
    rng = np.random.default_rng(seed)
    pool = [w for w in vocab[:6000] if 4 <= len(w) <= 9] or ["alpha", "bravo", "delta"]
    out = []
    for _ in range(n):
        k = int(rng.choice([2, 2, 3, 3, 4, 5]))
        words = [pool[i] for i in rng.integers(0, len(pool), k)]
        sep = "-" if rng.random() < 0.15 else ""
        out.append(sep.join(words))
    return out


#: short English function words, which a word list taken from running text is full of
FUNCTION_WORDS = ("of", "to", "in", "is", "it", "on", "by", "as", "at", "be", "or", "an", "we", "he", "us", "my",
                  "no", "so", "up", "if", "the", "and", "for", "our", "has", "his", "all", "are", "not")


def synthetic_text_labels(vocab: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` labels of consecutive random words as a text-fed word-list DGA makes them: words of
    any length (function words included) appended until the label is 12 to 30 letters long."""
    rng = np.random.default_rng(seed + 3)
    pool = [w for w in vocab[:3000] if 3 <= len(w) <= 12] + list(FUNCTION_WORDS) * 20
    out = []
    for _ in range(n):
        target, label = int(rng.integers(12, 31)), ""
        while len(label) < target:
            label += pool[int(rng.integers(0, len(pool)))]
        out.append(label[:63])
    return out


def synthetic_random_labels(n: int, seed: int = 0) -> list[str]:
    """``n`` uniformly random labels of 6 to 32 characters: letters, letters and digits, or hex."""
    rng = np.random.default_rng(seed + 1)
    alphabets = [np.array(list("abcdefghijklmnopqrstuvwxyz")), np.array(list("abcdefghijklmnopqrstuvwxyz0123456789")),
                 np.array(list("0123456789abcdef"))]
    out = []
    for _ in range(n):
        a = alphabets[int(rng.choice(3, p=[0.5, 0.35, 0.15]))]
        out.append("".join(rng.choice(a, int(rng.integers(6, 33)))))
    return out


_CONS = np.array(list("bcdfghjklmnpqrstvwxz"))
_VOW = np.array(list("aeiouy"))


def synthetic_syllable_labels(n: int, seed: int = 0) -> list[str]:
    """``n`` pronounceable random labels: 3 to 7 random syllables (CV, CVC, VC or V).

    Several DGAs (pushdo, symmi, simda) alternate consonants and vowels so their
    names read like words without being any; letter statistics alone miss them."""
    rng = np.random.default_rng(seed + 2)
    shapes = ("cv", "cv", "cvc", "vc", "v", "cvv")
    out = []
    for _ in range(n):
        parts = []
        for _ in range(int(rng.integers(3, 8))):
            for kind in shapes[int(rng.integers(0, len(shapes)))]:
                parts.append(str(rng.choice(_CONS if kind == "c" else _VOW)))
        out.append("".join(parts))
    return out


class DgaModel:
    """scikit-learn-like: ``fit(names, y, families)``, ``score_samples(names)``, ``save``/``load``."""

    def __init__(self, n_estimators: int = 300, num_leaves: int = 31, learning_rate: float = 0.05,
                 min_child_samples: int = 20, synthetic: int = 2000, family_min: int = 20, folds: int = 3,
                 alert_fpr: float = 0.002, benign_lm: bool = True, syllable: int = 2000,
                 text_words: int = 3000, seed: int = 0, n_jobs: int = 1):
        self.n_estimators, self.num_leaves, self.learning_rate = n_estimators, num_leaves, learning_rate
        self.min_child_samples, self.synthetic, self.family_min = min_child_samples, synthetic, family_min
        self.folds, self.alert_fpr, self.seed, self.n_jobs = folds, alert_fpr, seed, n_jobs
        self.benign_lm, self.syllable, self.text_words = benign_lm, syllable, text_words
        self.lm_: CharTrigramLM | None = None
        self.blm_: CharTrigramLM | None = None
        self.vocab_: list[str] = []
        self.vocab_set_: frozenset[str] = frozenset()
        self.booster_: lgb.Booster | None = None
        self.family_booster_: lgb.Booster | None = None
        self.families_: list[str] = []
        self.tlds_: list[str] = []
        self.threshold_ = 0.5
        self.metrics_: dict = {}

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("n_estimators", "num_leaves", "learning_rate", "min_child_samples",
                                              "synthetic", "family_min", "folds", "alert_fpr", "benign_lm", "syllable",
                                              "text_words", "seed", "n_jobs")}

    def _params(self, objective: str, **kw) -> dict:
        return {"objective": objective, "num_leaves": self.num_leaves, "learning_rate": self.learning_rate,
                "min_child_samples": self.min_child_samples, "seed": self.seed, "deterministic": True,
                "num_threads": self.n_jobs, "verbose": -1, "feature_fraction": 0.9, "bagging_fraction": 0.9,
                "bagging_freq": 1, **kw}

    # ---- features ----
    def features(self, labels) -> pd.DataFrame:
        return label_features(labels, self.lm_, self.vocab_set_, self.blm_)

    @property
    def feature_names(self) -> list[str]:
        return list(DOMAIN_FEATURES) + (list(BENIGN_LM_FEATURES) if self.blm_ is not None else [])

    def _family_matrix(self, F: pd.DataFrame, suffix: pd.Series) -> pd.DataFrame:
        tld = suffix.astype(str).str.rsplit(".", n=1).str[-1]
        code = {t: i for i, t in enumerate(self.tlds_)}
        G = F.copy()
        G["tld_code"] = tld.map(code).fillna(-1).astype(float).to_numpy()
        G["tld_len"] = suffix.astype(str).str.len().to_numpy(float)
        return G

    # ---- training ----
    def fit(self, names, y, families=None, text: list[str] | None = None, word_counts: Counter | None = None,
            log=None) -> "DgaModel":
        """``text`` (or ``word_counts``) is the English corpus for vocabulary and language model."""
        y = np.asarray(y, dtype=np.int8)
        fam = np.asarray(families if families is not None else np.where(y == 1, "dga", "benign"), dtype=object)
        counts = word_counts if word_counts is not None else count_words(text if text is not None else stdlib_text())
        self.vocab_ = vocabulary(counts, max_words=20000)
        self.vocab_set_ = frozenset(self.vocab_)
        words = list(counts.keys())
        self.lm_ = CharTrigramLM.fit(words, np.log1p([counts[w] for w in words]))
        rl = registered_labels(list(names))
        lab = rl["label"].astype(str).to_numpy(dtype=object)
        suffix = rl["suffix"].astype(str)
        priors = []
        if self.synthetic:
            priors += [(synthetic_wordlist_labels(self.vocab_, self.synthetic, self.seed), SYNTHETIC),
                       (synthetic_random_labels(self.synthetic // 2, self.seed), RANDOM_SYNTHETIC)]
        if self.text_words:
            priors.append((synthetic_text_labels(self.vocab_, self.text_words, self.seed), SYNTHETIC))
        if self.syllable:
            priors.append((synthetic_syllable_labels(self.syllable, self.seed), SYLLABLE_SYNTHETIC))
        for extra, cls in priors:
            lab = np.r_[lab, np.array(extra, dtype=object)]
            y = np.r_[y, np.ones(len(extra), np.int8)]
            fam = np.r_[fam, np.full(len(extra), cls, dtype=object)]
            suffix = pd.concat([suffix, pd.Series([""] * len(extra))], ignore_index=True)
        keep = lab != ""
        # one row per (label, class): duplicates add weight, not information
        key = pd.DataFrame({"l": lab, "y": y, "s": suffix.to_numpy()})
        keep &= ~key.duplicated().to_numpy()
        lab, y, fam, suffix = lab[keep], y[keep], fam[keep], suffix[keep].reset_index(drop=True)
        self.blm_ = None
        F = self.features(lab)
        if self.benign_lm and (y == 0).sum() >= 50:
            # benign rows get the likelihood under a model fit on the *other* benign rows, so the
            # booster does not learn that its own training names are unusually likely
            ben = np.flatnonzero(y == 0)
            part = np.random.default_rng(self.seed + 7).integers(0, 5, len(ben))
            B = np.zeros((len(y), len(BENIGN_LM_FEATURES)))
            for k in range(5):
                lmk = CharTrigramLM.fit(lab[ben[part != k]].tolist())
                B[ben[part == k]] = benign_lm_features(lab[ben[part == k]].tolist(), lmk).to_numpy()
            self.blm_ = CharTrigramLM.fit(lab[ben].tolist())
            mal = np.flatnonzero(y == 1)
            B[mal] = benign_lm_features(lab[mal].tolist(), self.blm_).to_numpy()
            F = pd.concat([F, pd.DataFrame(B, columns=list(BENIGN_LM_FEATURES))], axis=1)
        oof = None
        if self.folds and self.folds > 1 and (y == 0).sum() >= self.folds:
            oof = np.zeros(len(y))
            rng = np.random.default_rng(self.seed)
            fold = rng.integers(0, self.folds, len(y))
            for k in range(self.folds):
                tr = fold != k
                b = lgb.train(self._params("binary"), lgb.Dataset(F[tr], y[tr], free_raw_data=True),
                              num_boost_round=self.n_estimators)
                oof[~tr] = b.predict(F[~tr], num_threads=self.n_jobs)
            self.threshold_ = threshold_at_fpr(oof[y == 0], self.alert_fpr)
        self.booster_ = lgb.train(self._params("binary"), lgb.Dataset(F, y), num_boost_round=self.n_estimators)
        # family model: real families with enough examples
        fc = pd.Series(fam[y == 1]).value_counts()
        # the synthetic priors are classes of the family model too, so an unseen word-list or random
        # family is called "unknown (word-list style)" instead of the nearest real family
        self.families_ = sorted(f for f, n in fc.items() if n >= self.family_min and f not in ("", "dga"))
        self.family_booster_ = None
        if len(self.families_) >= 2:
            m = np.isin(fam, self.families_)
            self.tlds_ = sorted(set(suffix[m].str.rsplit(".", n=1).str[-1]) - {""})
            G = self._family_matrix(F[m].reset_index(drop=True), suffix[m].reset_index(drop=True))
            cls = np.array([self.families_.index(f) for f in fam[m]])
            self.family_booster_ = lgb.train(
                self._params("multiclass", num_class=len(self.families_), num_leaves=min(self.num_leaves, 15)),
                lgb.Dataset(G, cls, categorical_feature=["tld_code"]), num_boost_round=max(30, self.n_estimators // 5))
        self.metrics_ = {"train_rows": int(len(y)), "train_dga": int(y.sum()), "train_benign": int((y == 0).sum()),
                         "families": {str(k): int(v) for k, v in fc.items()}}
        if oof is not None:
            from threatml.pipeline.metrics import binary_report

            self.metrics_["out_of_fold"] = binary_report(y, oof, self.threshold_, classes=fam)
        return self

    # ---- scoring ----
    def _check(self) -> lgb.Booster:
        if self.booster_ is None:
            raise ThreatMLError("DGA model is not trained")
        return self.booster_

    def score_samples(self, names) -> np.ndarray:
        """P(DGA) per name (higher = more likely generated); work is per unique registered label."""
        b = self._check()
        names = pd.Series(list(names), dtype="object").fillna("").astype(str)
        rl = registered_labels(names)
        codes, uniq = pd.factorize(rl["label"])
        if not len(uniq):
            return np.zeros(len(names))
        s = b.predict(self.features(pd.Series(uniq, dtype="object").astype(str)), num_threads=self.n_jobs)
        out = s[codes]
        out[rl["label"].to_numpy(dtype=object) == ""] = 0.0
        # an IP address or a bare single-letter name is no DGA name
        out[rl["label"].str.fullmatch(r"[\d.:]+|.{0,3}").to_numpy(dtype=bool)] = 0.0
        return out

    def predict(self, names) -> np.ndarray:
        return (self.score_samples(names) >= self.threshold_).astype(np.int8)

    @staticmethod
    def family_text(family: str) -> str:
        """How a family class reads in a finding: the synthetic priors mean "not a known family"."""
        return {SYNTHETIC: "unknown family (word-list style)",
                RANDOM_SYNTHETIC: "unknown family (random-string style)",
                SYLLABLE_SYNTHETIC: "unknown family (pronounceable random style)"}.get(family, family)

    def predict_family(self, names) -> tuple[np.ndarray, np.ndarray]:
        """(most likely family class, its probability) per name; ``""`` when no family model.

        Classes ``wordlist-synthetic`` / ``random-synthetic`` / ``syllable-synthetic`` mean the name
        resembles no trained family (see :meth:`family_text`)."""
        n = len(list(names))
        if self.family_booster_ is None or not n:
            return np.full(n, "", dtype=object), np.zeros(n)
        rl = registered_labels(list(names))
        G = self._family_matrix(self.features(rl["label"]), rl["suffix"].astype(str))
        p = self.family_booster_.predict(G, num_threads=self.n_jobs).reshape(n, -1)
        return np.array(self.families_, dtype=object)[p.argmax(1)], p.max(1)

    def explain(self, name: str) -> list[str]:
        """Sentences on why ``name`` scores as it does, most important first."""
        from threatml.web.words import segment

        b = self._check()
        label = registered_labels([name])["label"].iloc[0]
        F = self.features(pd.Series([label], dtype="object"))
        contrib = b.predict(F, pred_contrib=True)[0][:-1]
        row = F.iloc[0]
        said = []
        for i in np.argsort(-np.abs(contrib))[:4]:
            feat, v, c = self.feature_names[i], row.iloc[i], contrib[i]
            way = "raises" if c > 0 else "lowers"
            if feat in ("lm_mean", "lm_min", "lm_rare"):
                said.append(f"English-likeness of '{label}' ({feat} {v:.2f}) {way} the DGA score")
            elif feat in BENIGN_LM_FEATURES:
                said.append(f"likeness of '{label}' to popular domain names ({feat} {v:.2f}) {way} the DGA score")
            elif feat in ("word_cover", "words", "words_per_10", "uncovered", "mean_word_len", "longest_word"):
                parts = [p for p in segment(label.replace("-", ""), self.vocab_set_) if len(p) >= 3]
                said.append(f"'{label}' splits into dictionary words {parts or 'none'} ({feat} {v:.2f}); this {way} the score")
            else:
                said.append(f"{feat.replace('_', ' ')} of '{label}' is {v:.2f}; this {way} the score")
        return said

    # ---- persistence ----
    def _meta(self) -> dict:
        return {"params": self.get_params(), "features": self.feature_names, "families": self.families_,
                "tlds": self.tlds_, "threshold": self.threshold_, "vocab": self.vocab_,
                "lm": self.lm_.to_json() if self.lm_ else None,
                "benign_lm": self.blm_.to_json() if self.blm_ else None, "metrics": self.metrics_}

    def save(self, folder: str | Path, card) -> Path:
        from threatml.models.card import write_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._check().save_model(str(folder / BINARY_FILE))
        arts = [BINARY_FILE, META_FILE]
        if self.family_booster_ is not None:
            self.family_booster_.save_model(str(folder / FAMILY_FILE))
            arts.append(FAMILY_FILE)
        (folder / META_FILE).write_text(json.dumps(self._meta(), separators=(",", ":")) + "\n")
        card.kind = card.kind or "dga-classifier"
        card.features = self.feature_names
        card.classes = ["benign", "dga", *[f for f in self.families_ if f not in SYNTHETIC_CLASSES]]
        card.parameters = {**self.get_params(), **card.parameters, "threshold": self.threshold_}
        card.artifacts = {a: "" for a in arts}
        return write_model(folder, card)

    @staticmethod
    def _open(folder_or_name: str | Path | None):
        """(folder, verified card, metadata) of a model folder or name; None = the shipped ``dga-classifier``."""
        from threatml.models.card import read_card
        from threatml.models.registry import resolve

        folder = resolve(folder_or_name or "dga-classifier")
        card = read_card(folder, verify=True)
        if BINARY_FILE not in card.artifacts or META_FILE not in card.artifacts:
            raise ThreatMLError(f"{folder}: not a dga-classifier model folder")
        try:
            return folder, card, json.loads((folder / META_FILE).read_text())
        except ValueError as exc:
            raise ThreatMLError(f"{folder / META_FILE}: invalid model metadata: {exc}") from None

    @classmethod
    def english_lm(cls, folder_or_name: str | Path | None = None) -> CharTrigramLM:
        """The English character model of a saved model, without loading its boosters."""
        folder, _, meta = cls._open(folder_or_name)
        try:
            return CharTrigramLM.from_json(meta["lm"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreatMLError(f"{folder / META_FILE}: invalid model metadata: {exc}") from None

    @classmethod
    def load(cls, folder_or_name: str | Path | None = None) -> "DgaModel":
        """Load a model folder or a model name; None = the shipped ``dga-classifier``."""
        folder, card, meta = cls._open(folder_or_name)
        try:
            # models saved before a prior existed were trained without it
            m = cls(**{"syllable": 0, "text_words": 0, **meta["params"]})
            m.vocab_ = list(meta["vocab"])
            m.vocab_set_ = frozenset(m.vocab_)
            m.lm_ = CharTrigramLM.from_json(meta["lm"])
            m.blm_ = CharTrigramLM.from_json(meta["benign_lm"]) if meta.get("benign_lm") else None
            m.families_, m.tlds_ = list(meta["families"]), list(meta["tlds"])
            m.threshold_ = float(meta["threshold"])
            m.metrics_ = meta.get("metrics", {})
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreatMLError(f"{folder / META_FILE}: invalid model metadata: {exc}") from None
        m.booster_ = lgb.Booster(model_file=str(folder / BINARY_FILE))
        if FAMILY_FILE in card.artifacts:
            m.family_booster_ = lgb.Booster(model_file=str(folder / FAMILY_FILE))
        return m
