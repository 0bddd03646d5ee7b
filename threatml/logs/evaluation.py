"""Grouping accuracy of a template miner against ground-truth event ids (loghub's measure).

A line counts as correct when the set of lines in its predicted group is
exactly the set of lines of one ground-truth event: a group that merges two
events, or splits one, makes all its lines wrong.

>>> grouping_accuracy(["a", "a", "b", "c"], [1, 1, 2, 2])
0.5
>>> grouping_accuracy(["a", "a", "b"], [7, 7, 9])
1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from threatml.logs.formats import KNOWN_FORMATS, LogFormat, header_regex
from threatml.logs.miner import TemplateMiner


def grouping_accuracy(truth: Sequence, predicted: Sequence) -> float:
    df = pd.DataFrame({"t": np.asarray(truth, dtype=object), "p": np.asarray(predicted)})
    if df.empty:
        return 0.0
    truth_size = df.groupby("t")["t"].transform("size")
    per_pred = df.groupby("p").agg(n=("t", "size"), k=("t", "nunique"), first=("t", "first"))
    per_pred["tsize"] = df.groupby("p").apply(lambda g: truth_size.loc[g.index[0]], include_groups=False)
    ok = per_pred[(per_pred.k == 1) & (per_pred.n == per_pred.tsize)]
    return float(ok.n.sum() / len(df))


def miner_for(fmt: LogFormat | None = None) -> TemplateMiner:
    """The tuned miner for a known system (classic Drain: its own regexes only,
    its threshold and depth), or the one default configuration when ``fmt`` is None."""
    if fmt is None:
        return TemplateMiner()
    return TemplateMiner(depth=fmt.depth, sim_threshold=fmt.sim_threshold, extra_regexes=fmt.extra_regexes,
                         patterns={}, delimiters=fmt.delimiters, masked_same=False)


def split_content(lines: Sequence[str], fmt: LogFormat) -> list[str]:
    """The ``Content`` field of each line under ``fmt``'s layout (whole line when it does not fit)."""
    rx = header_regex(fmt.layout)
    out = []
    for ln in lines:
        m = rx.match(ln.strip())
        out.append(m.group("Content") if m else ln.strip())
    return out


def loghub_accuracy(folder: Path, system: str, tuned: bool = True) -> dict:
    """Mine ``<system>_2k.log`` and score it against ``<system>_2k.log_structured.csv``."""
    folder = Path(folder)
    truth = pd.read_csv(folder / f"{system}_2k.log_structured.csv")
    with open(folder / f"{system}_2k.log", encoding="utf-8", errors="replace") as fh:
        lines = [ln.rstrip("\n") for ln in fh]
    fmt = KNOWN_FORMATS[system]
    content = split_content(lines, fmt)  # the header layout is known per system in both settings
    miner = miner_for(fmt if tuned else None)
    pred = miner.add_many(content)
    n = min(len(pred), len(truth))
    return {"system": system, "lines": n, "templates": len(miner.clusters), "truth_templates": int(truth.EventId.nunique()),
            "accuracy": grouping_accuracy(truth.EventId.to_numpy()[:n], pred[:n])}
