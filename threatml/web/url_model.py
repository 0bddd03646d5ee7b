"""Malicious / phishing URL classifier: hashed character n-grams plus lexical features.

Two stages, both cheap enough to score tens of thousands of URLs a second:

1. a logistic regression on hashed character 3- to 5-grams of the normalised
   URL (:func:`threatml.web.textvec.ngram_matrix`, no vocabulary to store);
2. LightGBM on the lexical features (:data:`threatml.web.urls.URL_FEATURES`,
   including a popular-domain reputation prior when ``fit`` is given a
   top-sites list) plus the stage-1 score. Stage 2 is trained on
   *out-of-fold* stage-1 scores, so it learns how far to trust the n-grams
   on URLs they were not fit on; with ``monotone=True`` it is held to the
   directions of :data:`threatml.web.urls.RISING`.

Training folds are grouped by registered domain; ``site_weight_power``
down-weights sites with many URLs. Saved as JSON (n-gram weights as base64
float16, lexical feature list, popular-domain ranks, thresholds) plus
LightGBM text, with a model card; never pickle.

Public API for other domains (the email path uses it on links in messages)::

    m = UrlModel.load()                      # the shipped url-classifier
    p = m.score_samples(["http://x.tk/paypal/login.php"])   # P(malicious)
    m.explain("http://x.tk/paypal/login.php")               # sentences

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> w = ["story", "news", "sport", "weather", "today", "world", "local", "video"]
>>> good = [f"http://{rng.choice(w)}.example.com/" + "/".join(rng.choice(w, rng.integers(0, 4))) for _ in range(300)]
>>> bad = [f"http://paypal.com-{rng.choice(w)}{rng.integers(99)}.tk/" + "/".join(rng.choice(["login.php", "webscr",
...        "verify", "account"], rng.integers(0, 4))) for _ in range(300)]
>>> m = UrlModel(n_features=2**12, n_estimators=30, folds=2).fit(good + bad, np.r_[np.zeros(300), np.ones(300)])
>>> s = m.score_samples(["http://paypal.com-secure.tk/login.php", "http://local.example.com/news/today"])
>>> bool(s[0] > 0.5 > s[1])
True
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.pipeline.metrics import threshold_at_fpr
from threatml.web.textvec import as_arrow, hashed_ngrams, ngram_linear_score, ngram_matrix
from threatml.web.urls import RISING, UNRANKED, URL_FEATURES, ngram_text, normalize_urls, strip_www, url_features

BOOSTER_FILE, META_FILE = "url_lexical.txt", "url_model.json"
NGRAM_SCORE = "ngram_score"


def _encode(w: np.ndarray) -> str:
    return base64.b64encode(w.astype("<f2").tobytes()).decode("ascii")


def _decode(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f2").astype(np.float64)


def _popular_to_json(popular: pd.Series | None) -> dict | None:
    """Registered domains in rank order and their ranks (JSON-friendly)."""
    if popular is None:
        return None
    return {"domains": [str(x) for x in popular.index], "ranks": [int(r) for r in popular.to_numpy()]}


def _popular_from_json(d: dict | None) -> pd.Series | None:
    if not d:
        return None
    if len(d["domains"]) != len(d["ranks"]):
        raise ValueError("popular domain and rank lists differ in length")
    return pd.Series(np.asarray(d["ranks"], dtype="float64"), index=pd.Index([str(x) for x in d["domains"]]))


def _f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import precision_recall_curve

    p, r, t = precision_recall_curve(y, score)
    f = 2 * p * r / np.maximum(p + r, 1e-12)
    return float(t[min(int(np.argmax(f[:-1])), len(t) - 1)]) if len(t) else 0.5


class UrlModel:
    """scikit-learn-like: ``fit(urls, y)``, ``score_samples(urls)``, ``predict``, ``save``/``load``."""

    def __init__(self, n_features: int = 2**18, ngrams: tuple[int, ...] = (3, 4, 5), C: float = 4.0,
                 n_estimators: int = 300, num_leaves: int = 31, learning_rate: float = 0.05, folds: int = 3,
                 alert_fpr: float = 0.005, site_weight_power: float = 0.0, ngram_parts: str = "host+path",
                 monotone: bool = True, features: tuple[str, ...] | None = None, seed: int = 0, n_jobs: int = 1):
        self.n_features, self.ngrams, self.C = int(n_features), tuple(ngrams), C
        self.n_estimators, self.num_leaves, self.learning_rate = n_estimators, num_leaves, learning_rate
        self.folds, self.alert_fpr, self.seed, self.n_jobs = folds, alert_fpr, seed, n_jobs
        self.site_weight_power, self.ngram_parts = float(site_weight_power), str(ngram_parts)
        self.monotone = bool(monotone)
        self.features = tuple(features) if features is not None else tuple(URL_FEATURES)
        unknown = sorted(set(self.features) - set(URL_FEATURES))
        if unknown:
            raise ValueError(f"unknown URL features: {', '.join(unknown)}")
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self.booster_: lgb.Booster | None = None
        self.popular_: pd.Series | None = None  # registered domain -> popularity rank (reputation prior)
        self._coef32: np.ndarray | None = None  # float32 copy of coef_ for scoring
        self.threshold_ = 0.5  # best F1 on out-of-fold scores: the verdict threshold
        self.alert_threshold_ = 0.5  # benign out-of-fold scores above it: at most alert_fpr; what detectors use
        self.metrics_: dict = {}

    def get_params(self) -> dict:
        return {"n_features": self.n_features, "ngrams": list(self.ngrams), "C": self.C,
                "n_estimators": self.n_estimators, "num_leaves": self.num_leaves,
                "learning_rate": self.learning_rate, "folds": self.folds, "alert_fpr": self.alert_fpr,
                "site_weight_power": self.site_weight_power, "ngram_parts": self.ngram_parts,
                "monotone": self.monotone, "features": list(self.features), "seed": self.seed, "n_jobs": self.n_jobs}

    @property
    def feature_names(self) -> list[str]:
        return [*self.features, NGRAM_SCORE]

    def _linear(self, X, y, w) -> tuple[np.ndarray, float]:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=self.C, solver="liblinear", max_iter=200, random_state=self.seed)
        lr.fit(X, y, sample_weight=w)
        return lr.coef_.ravel().astype(np.float64), float(lr.intercept_[0])

    def _gbm_params(self) -> dict:
        p = {"objective": "binary", "num_leaves": self.num_leaves, "learning_rate": self.learning_rate,
             "min_child_samples": 20, "seed": self.seed, "deterministic": True, "num_threads": self.n_jobs,
             "verbose": -1, "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1}
        if self.monotone:  # known directions held (see threatml.web.urls.RISING); the n-gram score rises too
            p["monotone_constraints"] = [1 if f in RISING or f == NGRAM_SCORE else 0 for f in self.feature_names]
            p["monotone_constraints_method"] = "advanced"
        return p

    def site_weights(self, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Sample weights n_site ** -site_weight_power, rescaled so each class keeps its total weight.

        A benign list of a few hundred sites with thousands of pages each would
        otherwise teach the model those sites' paths instead of "benign".
        """
        n_site = np.bincount(groups)[groups].astype(np.float64)
        w = n_site ** -self.site_weight_power
        for c in (0, 1):
            m = y == c
            if m.any():
                w[m] *= m.sum() / w[m].sum()
        return w

    def fit(self, urls, y, popular: dict | pd.Series | None = None) -> "UrlModel":
        """Train on ``urls`` with labels ``y`` (1 = malicious).

        ``popular``: registered domain -> popularity rank (e.g. a top-sites list), kept in the
        model as the ``popular_rank`` reputation feature.
        """
        from threatml.web.tld import split_hosts

        y = np.asarray(y, dtype=np.int8)
        self._coef32 = None
        if popular is not None:
            self.popular_ = pd.Series(popular, dtype="float64").sort_values(kind="stable")
        parts = normalize_urls(urls)
        X = ngram_matrix(ngram_text(parts, self.ngram_parts), self.ngrams, self.n_features)
        F = url_features(None, parts, self.popular_)[list(self.features)]
        # folds by registered domain: scores of a site's URLs come from a model that never saw the site
        groups = pd.factorize(split_hosts(strip_www(parts["host"]).to_pylist())["registered"])[0]
        sw = self.site_weights(y, groups)
        rng = np.random.default_rng(self.seed)
        fold = rng.integers(0, max(self.folds, 1), groups.max() + 1 if len(groups) else 1)[groups]
        if any(len(np.unique(y[fold != k])) < 2 for k in range(self.folds)):
            fold = rng.integers(0, max(self.folds, 1), len(y))  # too few sites to fold by site
        lin_oof = np.zeros(len(y))
        if self.folds > 1:
            for k in range(self.folds):
                tr = fold != k
                w, b = self._linear(X[tr], y[tr], sw[tr])
                lin_oof[~tr] = X[~tr] @ w + b
        self.coef_, self.intercept_ = self._linear(X, y, sw)
        if self.folds <= 1:
            lin_oof = X @ self.coef_ + self.intercept_
        # float16 is what gets saved: train stage 2 on what stage 1 will really give
        self.coef_ = self.coef_.astype("<f2").astype(np.float64)
        G = F.assign(**{NGRAM_SCORE: lin_oof})
        if self.folds > 1:
            oof = np.zeros(len(y))
            for k in range(self.folds):
                tr = fold != k
                b = lgb.train(self._gbm_params(), lgb.Dataset(G[tr], y[tr], weight=sw[tr]),
                              num_boost_round=self.n_estimators)
                oof[~tr] = b.predict(G[~tr], num_threads=self.n_jobs)
            self.threshold_ = _f1_threshold(y, oof)
            self.alert_threshold_ = max(self.threshold_, threshold_at_fpr(oof[y == 0], self.alert_fpr))
            from threatml.pipeline.metrics import binary_report

            self.metrics_ = {"out_of_fold": binary_report(y, oof, self.threshold_),
                             "out_of_fold_at_alert_threshold": binary_report(y, oof, self.alert_threshold_)}
        self.booster_ = lgb.train(self._gbm_params(), lgb.Dataset(G, y, weight=sw), num_boost_round=self.n_estimators)
        self.metrics_["train_rows"] = int(len(y))
        return self

    def _check(self) -> lgb.Booster:
        if self.booster_ is None or self.coef_ is None:
            raise ThreatMLError("URL model is not trained")
        return self.booster_

    def _matrix(self, urls) -> np.ndarray:
        """Stage-2 input: the lexical features and the n-gram score, one float64 row per URL."""
        parts = normalize_urls(urls)
        if self._coef32 is None or len(self._coef32) != len(self.coef_):
            self._coef32 = self.coef_.astype(np.float32)  # float16 weights are exact in float32; half the traffic
        lin = ngram_linear_score(ngram_text(parts, self.ngram_parts), self.ngrams, self._coef32, self.intercept_)
        F = url_features(None, parts, self.popular_)[list(self.features)].to_numpy()
        return np.ascontiguousarray(np.column_stack([F, lin]))

    def score_samples(self, urls, n_jobs: int | None = None, batch_size: int = 50_000) -> np.ndarray:
        """P(malicious) per URL (higher = more likely phishing or malicious).

        Work goes in batches of ``batch_size`` URLs (bounded memory). ``n_jobs`` > 1
        scores batches in threads (the Arrow, numpy and LightGBM kernels release
        the GIL); default: the model's ``n_jobs``.
        """
        b = self._check()
        urls = list(urls)
        if not urls:
            return np.zeros(0)
        codes, uniq = pd.factorize(pd.Series(urls, dtype="object").fillna(""))
        if len(uniq) < len(urls):  # traffic repeats URLs: score each once
            return self.score_samples(list(uniq), n_jobs, batch_size)[codes]
        jobs = max(1, n_jobs or self.n_jobs)
        step = max(1, min(batch_size, -(-len(urls) // jobs)))
        chunks = [urls[i:i + step] for i in range(0, len(urls), step)]
        run = lambda c: b.predict(self._matrix(c), num_threads=1)  # noqa: E731
        if jobs == 1 or len(chunks) == 1:
            return np.concatenate([run(c) for c in chunks])
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:
            return np.concatenate(list(pool.map(run, chunks)))

    def predict(self, urls) -> np.ndarray:
        return (self.score_samples(urls) >= self.threshold_).astype(np.int8)

    def top_ngrams(self, url: str, k: int = 3) -> list[tuple[str, float]]:
        """The character n-grams of ``url`` with the largest weights toward malicious."""
        got = ngram_text(normalize_urls([url]), self.ngram_parts)
        texts = [a.to_pylist()[0] for a in (got if isinstance(got, list) else [got])]
        seen: dict[str, float] = {}
        for n in self.ngrams:
            grams = sorted({t[i:i + n] for t in texts for i in range(len(t) - n + 1)})
            if not grams:
                continue
            _, cols, _ = hashed_ngrams(as_arrow(grams), (n,), self.n_features)
            for g, c in zip(grams, cols):
                seen[g] = float(self.coef_[c])
        # prefer longer n-grams among near-equal weights: they read better
        return sorted(seen.items(), key=lambda kv: (-kv[1], -len(kv[0])))[:k]

    def explain(self, url: str) -> list[str]:
        """Sentences on what drove the score of ``url``, most important first."""
        b = self._check()
        M = self._matrix([url])
        contrib = b.predict(M, pred_contrib=True)[0][:-1]
        out = []
        for i in np.argsort(-np.abs(contrib))[:4]:
            name, v, c = self.feature_names[i], M[0, i], contrib[i]
            way = "raises" if c > 0 else "lowers"
            if name == NGRAM_SCORE:
                grams = [g for g, w in self.top_ngrams(url) if w > 0]
                what = f" (strongest: {', '.join(repr(g) for g in grams)})" if grams and c > 0 else ""
                out.append(f"character patterns of the URL{what} {way} the score")
            elif name == "popular_rank":
                what = ("the site is not among the popular sites the model knows" if v >= UNRANKED
                        else f"the site ranks about {10 ** v:,.0f} among popular sites")
                out.append(f"{what}: {way} the score")
            else:
                out.append(f"{name.replace('_', ' ')} = {v:g} {way} the score")
        return out

    # ---- persistence ----
    def save(self, folder: str | Path, card) -> Path:
        from threatml.models.card import write_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._check().save_model(str(folder / BOOSTER_FILE))
        meta = {"params": self.get_params(), "features": self.feature_names, "threshold": self.threshold_,
                "alert_threshold": self.alert_threshold_, "intercept": self.intercept_, "coef_f16_b64": _encode(self.coef_),
                "popular": _popular_to_json(self.popular_), "metrics": self.metrics_}
        (folder / META_FILE).write_text(json.dumps(meta, separators=(",", ":")) + "\n")
        card.kind = card.kind or "url-classifier"
        card.features = self.feature_names
        card.classes = ["benign", "malicious"]
        card.parameters = {**self.get_params(), **card.parameters, "threshold": self.threshold_,
                           "alert_threshold": self.alert_threshold_}
        card.artifacts = {BOOSTER_FILE: "", META_FILE: ""}
        return write_model(folder, card)

    @classmethod
    def load(cls, folder_or_name: str | Path | None = None) -> "UrlModel":
        """Load a model folder or name; None = the shipped ``url-classifier``."""
        from threatml.models.card import read_card
        from threatml.models.registry import resolve

        folder = resolve(folder_or_name or "url-classifier")
        card = read_card(folder, verify=True)
        if BOOSTER_FILE not in card.artifacts or META_FILE not in card.artifacts:
            raise ThreatMLError(f"{folder}: not a url-classifier model folder")
        try:
            meta = json.loads((folder / META_FILE).read_text())
            p = dict(meta["params"])
            p["ngrams"] = tuple(p["ngrams"])
            m = cls(**p)
            m.coef_ = _decode(meta["coef_f16_b64"])
            if len(m.coef_) != m.n_features:
                raise ValueError("n-gram weight count differs from n_features")
            m.intercept_ = float(meta["intercept"])
            m.threshold_ = float(meta["threshold"])
            m.alert_threshold_ = float(meta.get("alert_threshold", m.threshold_))
            m.metrics_ = meta.get("metrics", {})
            m.popular_ = _popular_from_json(meta.get("popular"))
            if list(meta["features"]) != m.feature_names:
                raise ValueError("feature list differs from this version's")
        except (ValueError, KeyError, TypeError) as exc:
            raise ThreatMLError(f"{folder / META_FILE}: invalid model metadata: {exc}") from None
        m.booster_ = lgb.Booster(model_file=str(folder / BOOSTER_FILE))
        return m
