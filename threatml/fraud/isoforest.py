"""Isolation Forest kept as plain JSON arrays and scored with numpy (no pickle).

scikit-learn grows the trees; :func:`export_forest` copies each tree's split
feature, threshold and children into lists, and :class:`JsonIsolationForest`
walks all rows down a tree level by level. The score is the usual
``2 ** (-mean path length / c(max_samples))``: about 0.5 for ordinary rows,
towards 1 for rows that are isolated in few splits.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 3))
>>> f = JsonIsolationForest(n_estimators=50, seed=0).fit(X)
>>> s = f.score_samples(np.array([[0.0, 0.0, 0.0], [8.0, 8.0, 8.0]]))
>>> bool(s[1] > 0.65 > s[0])
True
"""

from __future__ import annotations

import math

import numpy as np

_EULER = 0.5772156649015329


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): mean path length of an unsuccessful search in a binary tree of ``n`` points."""
    n = np.asarray(n, dtype="float64")
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + _EULER) - 2.0 * (nb - 1.0) / nb
    return out


class JsonIsolationForest:
    """Isolation Forest whose fitted state is a JSON-safe dict (see :meth:`to_dict`)."""

    def __init__(self, n_estimators: int = 100, max_samples: int = 256, seed: int = 0):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.seed = seed
        self.trees_: list[dict] = []
        self.sample_size_ = 0
        self._prepared: list | None = None

    def fit(self, X: np.ndarray) -> "JsonIsolationForest":
        from sklearn.ensemble import IsolationForest

        X = np.asarray(X, dtype="float32")
        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=min(self.max_samples, len(X)),
                                 random_state=self.seed, n_jobs=1).fit(X)
        self.sample_size_ = int(forest.max_samples_)
        self.trees_ = export_forest(forest)
        self._prepared = None
        return self

    def to_dict(self) -> dict:
        return {"n_estimators": self.n_estimators, "max_samples": self.max_samples, "seed": self.seed,
                "sample_size": self.sample_size_, "trees": self.trees_}

    @classmethod
    def from_dict(cls, d: dict) -> "JsonIsolationForest":
        f = cls(d["n_estimators"], d["max_samples"], d["seed"])
        f.sample_size_, f.trees_ = int(d["sample_size"]), d["trees"]
        f._prepared = None
        return f

    def _prepare(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """All trees as complete binary trees of one depth, laid out as heaps side by side.

        A leaf above the bottom becomes pass-through nodes (threshold +inf: always left)
        whose bottom leaves carry its path length, so every row takes the same number of
        steps and a step is ``node = 2 * node + 1 + went_right``: no child lookups.
        Returns (feature, threshold) per heap node, credit per bottom leaf, depth.
        """
        if self._prepared is not None:
            return self._prepared
        depth = 0
        for t in self.trees_:
            d = np.zeros(len(t["left"]), dtype=int)
            for i, (l, r) in enumerate(zip(t["left"], t["right"])):
                if l >= 0:
                    d[l] = d[r] = d[i] + 1
            depth = max(depth, int(d.max()))
        n_nodes, n_leaves = 2 ** (depth + 1) - 1, 2 ** depth
        feat = np.zeros((len(self.trees_), n_nodes), dtype="int64")
        thr = np.full((len(self.trees_), n_nodes), np.inf)
        credit = np.zeros((len(self.trees_), n_leaves))
        for k, t in enumerate(self.trees_):
            c = average_path_length(np.asarray(t["samples"]))
            stack = [(0, 0, 0)]  # (sklearn node, heap node, depth)
            while stack:
                i, h, d = stack.pop()
                if t["left"][i] >= 0:
                    feat[k, h], thr[k, h] = t["feature"][i], t["threshold"][i]
                    stack += [(t["left"][i], 2 * h + 1, d + 1), (t["right"][i], 2 * h + 2, d + 1)]
                else:  # every bottom leaf under heap node h gets this leaf's path length
                    lo = h
                    for _ in range(depth - d):
                        lo = 2 * lo + 1
                    width = 2 ** (depth - d)
                    credit[k, lo - (n_leaves - 1): lo - (n_leaves - 1) + width] = d + c[i]
        self._prepared = (feat.ravel(), thr.ravel(), credit.ravel(), depth)
        return self._prepared

    def path_lengths(self, X: np.ndarray, chunk: int = 20_000) -> np.ndarray:
        """Mean isolation depth of each row over the trees (shorter = more anomalous)."""
        X = np.ascontiguousarray(X, dtype="float32")  # the trees were grown on float32 thresholds
        feat, thr, credit, depth = self._prepare()
        n_trees = max(len(self.trees_), 1)
        n_nodes, n_leaves = 2 ** (depth + 1) - 1, 2 ** depth
        out = np.zeros(len(X))
        tree_nodes = (np.arange(n_trees, dtype="int64") * n_nodes)[None, :]
        tree_leaves = (np.arange(n_trees, dtype="int64") * n_leaves)[None, :]
        for lo in range(0, len(X), chunk):
            xc = X[lo:lo + chunk]
            flat = xc.ravel()
            base = (np.arange(len(xc), dtype="int64") * X.shape[1])[:, None]
            node = np.zeros((len(xc), n_trees), dtype="int64")
            for _ in range(depth):
                g = tree_nodes + node
                node = 2 * node + 1 + (flat[base + feat[g]] > thr[g])
            out[lo:lo + chunk] = credit[tree_leaves + node - (n_leaves - 1)].sum(axis=1) / n_trees
        return out

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score in (0, 1); higher is more anomalous."""
        c = float(average_path_length(np.array([self.sample_size_]))[0]) or 1.0
        return np.power(2.0, -self.path_lengths(X) / c)


def export_forest(forest) -> list[dict]:
    """The trees of a fitted scikit-learn ``IsolationForest`` as lists (features in input numbering)."""
    trees = []
    for est, cols in zip(forest.estimators_, forest.estimators_features_):
        tr = est.tree_
        cols = np.asarray(cols)
        leaf = tr.children_left < 0
        feat = np.where(leaf, 0, cols[np.where(leaf, 0, tr.feature)])
        trees.append({
            "feature": feat.astype(int).tolist(),
            # thresholds are float32 values stored in float64: JSON keeps them exactly
            "threshold": [float(x) if math.isfinite(x) else 0.0 for x in tr.threshold],
            "left": tr.children_left.astype(int).tolist(),
            "right": tr.children_right.astype(int).tolist(),
            "samples": tr.n_node_samples.astype(int).tolist(),
        })
    return trees
