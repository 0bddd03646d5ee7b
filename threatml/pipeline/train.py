"""``threatml train network``: labeled flows in, a model folder with its card out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import ThreatMLError
from threatml.models.card import ModelCard, library_versions
from threatml.models.flow_baseline import FlowBaseline
from threatml.models.flow_classifier import FlowClassifier, native_columns
from threatml.pipeline.dataset import (BENIGN, parse_data_spec, dedupe, family_labels, is_benchmark, load_labeled,
                                       split_indices)
from threatml.pipeline.metrics import binary_report
from threatml.pipeline.transfer import (ALERT_FPR, calibrate_out_of_source, leave_one_source_out,
                                        out_of_source_metrics, why_not_transfer)


def choose_feature_set(frame: pd.DataFrame, features: str) -> str:
    """``auto`` means native for benchmark feature files (KDD, UNSW, CIC), canonical otherwise."""
    if features == "auto":
        return "native" if is_benchmark(frame) else "canonical"
    if features not in ("canonical", "native"):
        raise ThreatMLError(f"unknown feature set {features!r}; use auto, canonical or native")
    return features


def _feature_set_name(frame: pd.DataFrame, fs: str) -> str:
    if fs == "canonical":
        return "canonical"
    return "+".join(sorted(set(frame.attrs.get("formats", {}).values()))) or "native"


def source_names(specs: list[str]) -> list[str]:
    """A short unique name per ``--data`` entry: the fewest trailing path parts that tell them apart.

    >>> source_names(["benign=/d/008/conn.log", "/d/010/conn.log", "/d/cic"])
    ['008/conn.log', '010/conn.log', 'cic']
    """
    paths = [parse_data_spec(s)[0].parts or ("",) for s in specs]
    parts = list(dict.fromkeys(paths))  # the same path given twice is told apart below
    ks = [1] * len(parts)
    while True:
        names = ["/".join(p[-k:]) for p, k in zip(parts, ks)]
        clash = [i for i, n in enumerate(names) if names.count(n) > 1 and ks[i] < len(parts[i])]
        if not clash:
            break
        for i in clash:  # only the entries that clash get longer names
            ks[i] += 1
    short = dict(zip(parts, names))
    seen: dict[tuple, int] = {}
    out = []
    for p in paths:
        seen[p] = seen.get(p, 0) + 1
        out.append(short[p] + (f"#{seen[p]}" if paths.count(p) > 1 else ""))
    return out


def source_of_rows(frame: pd.DataFrame, specs: list[str]) -> np.ndarray:
    """The source (one per ``--data`` entry, see ``source_names``) each row was read from.

    Rows carry their file in ``data.file``; a file lies under exactly one entry
    unless entries overlap, and then it counts for the first one.
    """
    names = source_names(specs)
    roots = [str(parse_data_spec(s)[0]) for s in specs]
    files = frame["data.file"].astype("str")

    def owner(f: str) -> str:
        for name, root in zip(names, roots):
            if f == root or f.startswith(root.rstrip("/") + "/"):
                return name
        return names[0]  # not expected: load_labeled only reads files under the entries

    lookup = {f: owner(f) for f in pd.unique(files)}
    return files.map(lookup).to_numpy(dtype=object)


def train_network(
    data: list[str] | str,
    out: str | Path,
    label_column: str | None = None,
    features: str = "auto",
    multiclass: bool = True,
    unsupervised: bool = False,
    split: str = "random",
    seed: int = 0,
    classifier_params: dict | None = None,
) -> ModelCard:
    """Train a flow classifier (or, with ``unsupervised``, a baseline) and write ``out``.

    Rows labeled "" (unknown) are left out of supervised training; the data is
    deduplicated before anything else. A *source* is one entry of ``data`` (a
    file or a folder, one network or capture each). A canonical-feature model
    trained on two or more sources gets its alert threshold and calibration from
    leave-one-source-out scores (``threatml.pipeline.transfer``), is fitted on all
    the data, and its card's metrics are those out-of-source scores. Otherwise
    (native features, one source, or sources that cannot be held out) the
    held-out part (20%) of ``split`` gives the calibration, threshold and metrics.
    """
    paths = [data] if isinstance(data, str) else list(data)
    frame, files = load_labeled(paths, label_column)
    fs = choose_feature_set(frame, features)
    y_all = family_labels(frame)
    notes: list[str] = []
    if unsupervised:
        return _train_baseline(frame, files, y_all, fs, out, split, seed, paths)
    known = y_all != ""
    if (~known).any():
        notes.append(f"{int((~known).sum())} flows with unknown label left out")
    frame, y = frame[known].reset_index(drop=True), y_all[known]
    src = source_of_rows(frame, paths)
    clf = FlowClassifier(feature_set=fs, multiclass=multiclass, seed=seed, **(classifier_params or {}))
    # duplicates are judged on what the model sees (record ids and addresses would make every row unique)
    feats = clf.featurize(frame) if fs == "canonical" else frame[native_columns(frame)[0]]
    keep, dd = dedupe(feats, y)
    notes.append(f"dedupe: {dd['exact_duplicates']} exact duplicates removed, {dd['conflicting_rows']} rows with "
                 f"conflicting labels resolved to the majority ({dd['conflicting_label_vectors']} feature vectors)")
    frame, y, src, feats = frame.iloc[keep].reset_index(drop=True), y[keep], src[keep], feats.iloc[keep]
    if (y == BENIGN).all() or (y != BENIGN).all():
        raise ThreatMLError("training data needs both benign and malicious flows (after dropping unknown labels)")
    if fs == "canonical":
        reason = why_not_transfer(y, src)
        if reason is None:
            return _train_transfer(clf, feats.reset_index(drop=True), y, src, files, out, paths, notes, dd, seed,
                                   classifier_params or {})
        notes.append(f"threshold and calibration from a {split} split of the training data, not leave-one-source-out "
                     f"({reason}; a source is one --data entry): they overstate how the model does on a network "
                     "it has not seen")
    tr, te, used = split_indices(frame, np.where(y == BENIGN, BENIGN, y), split, seed=seed)
    clf.fit(frame.iloc[tr], y[tr])
    test = frame.iloc[te]
    score = clf.score_samples(test)
    metrics = binary_report(y[te] != BENIGN, score, clf.threshold_, y_pred_multiclass=clf.predict(test), classes=y[te])
    metrics["split"] = used
    metrics["dedupe"] = dd
    card = ModelCard(
        name=Path(out).name,
        version="1",
        domain="network",
        kind="flow-classifier",
        description=f"LightGBM flow classifier on {fs} features",
        training_data=files,
        feature_set=_feature_set_name(frame, fs),
        parameters={"split": used, "train_rows": int(len(tr)), "test_rows": int(len(te)), "data": paths},
        metrics=metrics,
        libraries=library_versions(),
        notes=notes,
    )
    clf.save(out, card)
    return card


def _train_transfer(clf: FlowClassifier, F: pd.DataFrame, y: np.ndarray, src: np.ndarray, files: list,
                    out: str | Path, paths: list[str], notes: list[str], dd: dict, seed: int,
                    params: dict) -> ModelCard:
    """Fit on every source; threshold, calibration and metrics from leave-one-source-out scores."""
    alert_fpr = float(params.get("alert_fpr", ALERT_FPR))
    loso_params = {k: v for k, v in params.items() if k != "alert_fpr"}
    margin, scored = leave_one_source_out(F, y, src, loso_params, seed=seed, log=lambda _msg: None)
    clf.fit(F, y)
    calibrate_out_of_source(clf, margin, scored, y, src, alert_fpr)
    sources = list(pd.unique(src))
    oos = out_of_source_metrics(clf, margin, scored, y, src, sources)
    notes.append(f"threshold and calibration from leave-one-source-out scores over {len(sources)} sources "
                 f"(a source is one --data entry): {', '.join(sources)}")
    unscored = [n for n, r in oos["per_source"].items() if "note" in r]
    if unscored:
        notes.append(f"not scored out of source (leaving it out leaves one class): {', '.join(unscored)}")
    overall = oos.pop("overall")
    metrics = {**overall, **oos, "split": "leave-one-source-out", "dedupe": dd}
    comp = {n: {"benign": int(((src == n) & (y == BENIGN)).sum()), "attack": int(((src == n) & (y != BENIGN)).sum())}
            for n in sources}
    card = ModelCard(
        name=Path(out).name,
        version="1",
        domain="network",
        kind="flow-classifier",
        description=("LightGBM flow classifier on canonical features; threshold and calibration from "
                     "leave-one-source-out scores"),
        training_data=files,
        feature_set="canonical",
        parameters={"split": "leave-one-source-out", "train_rows": int(len(y)), "test_rows": 0, "data": paths,
                    "sources": comp, "alert_fpr": alert_fpr},
        metrics=metrics,
        libraries=library_versions(),
        notes=notes,
    )
    clf.save(out, card)
    return card


def _train_baseline(frame, files, y_all, fs, out, split, seed, paths) -> ModelCard:
    tr, te, used = split_indices(frame, np.where(y_all == "", "u", y_all), split, seed=seed)
    # labels are not needed; when present they keep known attacks out of "normal" and measure the result
    fit_rows = tr[(y_all[tr] == BENIGN) | (y_all[tr] == "")]
    bl = FlowBaseline(feature_set=fs, seed=seed).fit(frame.iloc[fit_rows])
    lab = te[y_all[te] != ""]
    metrics: dict = {"split": used}
    if len(lab) and (y_all[lab] == BENIGN).any() and (y_all[lab] != BENIGN).any():
        s = bl.score_samples(frame.iloc[lab])
        metrics = binary_report(y_all[lab] != BENIGN, s, bl.threshold_, classes=y_all[lab]) | {"split": used}
    card = ModelCard(
        name=Path(out).name,
        version="1",
        domain="network",
        kind="flow-baseline",
        description=f"unsupervised flow baseline ({bl.method}) on {fs} features",
        training_data=files,
        feature_set=_feature_set_name(frame, fs),
        parameters={"split": used, "train_rows": int(len(fit_rows)), "data": paths},
        metrics=metrics,
        libraries=library_versions(),
    )
    bl.save(out, card)
    return card
