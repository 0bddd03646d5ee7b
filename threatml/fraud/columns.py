"""Column roles of a transaction table: label, identifiers, categorical and numeric features.

>>> import pandas as pd
>>> parse_labels(pd.Series(["fraud", "legit", "1", "0", "Y"]), "label").tolist()
[1, 0, 1, 0, 1]
>>> f = pd.DataFrame({"Index": [1, 2, 3], "amount": [1.5, 2.0, 3.0], "kind": ["a", "b", "a"]})
>>> roles = column_roles(f, exclude=())
>>> roles.numeric, roles.categorical, roles.dropped
(['amount'], {'kind': ['a', 'b']}, {'Index': 'identifier-like name'})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport

#: names that identify a row or an account rather than describe it (leak the row order or the answer)
_ID_NAME = re.compile(
    r"^(unnamed: ?\d+|index|idx|row|rowid|row_id|row number|id|uuid|guid|address|addr|wallet|hash|tx_?hash|"
    r"transaction_?id|trans_?id|account|account_?id|customer_?id|client_?id|policy_?number|claim_?id|"
    r"card_?number|cc_?num|first|last|name|street|email|phone|.*[ _.-]id)$",
    re.IGNORECASE,
)
_CAMEL_ID = re.compile(r"^[A-Za-z]+[a-z](ID|Id)$")  # CustomerID, accountId
_POSITIVE = {"1", "1.0", "true", "t", "yes", "y", "fraud", "fraudulent", "malicious", "positive", "bad", "illicit"}
_NEGATIVE = {"0", "0.0", "false", "f", "no", "n", "legit", "legitimate", "genuine", "benign", "negative", "good",
             "normal", "licit"}
MAX_CATEGORIES = 512


def parse_labels(col: pd.Series, name: str, path: str = "") -> pd.Series:
    """0/1 labels from numbers (> 0 is fraud) or words (fraud/legit, yes/no, true/false).

    Missing labels become -1 (the caller drops and counts them). Other words are an error.
    """
    num = pd.to_numeric(col, errors="coerce")
    txt = col.astype("str").str.strip().str.lower()
    out = pd.Series(np.full(len(col), -1, dtype="int64"), index=col.index)
    out[num.notna()] = (num[num.notna()] > 0).astype("int64")
    words = num.isna() & col.notna() & txt.ne("") & txt.ne("nan")
    pos, neg = txt.isin(_POSITIVE), txt.isin(_NEGATIVE)
    unknown = words & ~pos & ~neg
    if unknown.any():
        bad = sorted(txt[unknown].unique().tolist())[:5]
        raise InputError(path, f"label column {name!r} has values that are neither fraud nor legitimate: {bad}",
                         f"row {int(np.flatnonzero(unknown.to_numpy())[0]) + 2}")
    out[words & pos] = 1
    out[words & neg] = 0
    return out


@dataclass
class ColumnRoles:
    numeric: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why


def column_roles(frame: pd.DataFrame, exclude: tuple[str, ...], keep: tuple[str, ...] = ()) -> ColumnRoles:
    """Sort the feature columns of ``frame``; ``exclude`` are never features, ``keep`` are never dropped.

    Identifiers are dropped because they let a model learn which rows were
    collected as fraud (row index, account address, policy number) instead of
    how fraud looks. Text columns with too many values to be categories go too.
    """
    roles = ColumnRoles()
    n = max(len(frame), 1)
    for c in frame.columns:
        if c in exclude:
            continue
        col = frame[c]
        if c not in keep and (_ID_NAME.match(str(c).strip()) or _CAMEL_ID.match(str(c).strip())):
            roles.dropped[c] = "identifier-like name"
            continue
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            v = col.dropna()
            integral = len(v) > 0 and bool(np.all(np.mod(v.to_numpy(dtype="float64"), 1) == 0))
            if c not in keep and integral and len(v) > 100 and v.nunique() > 0.95 * n:
                roles.dropped[c] = "integer values nearly all distinct (an identifier)"
                continue
            roles.numeric.append(c)
            continue
        num = pd.to_numeric(col, errors="coerce")
        if num.notna().sum() >= 0.98 * col.notna().sum() and num.notna().any():
            roles.numeric.append(c)  # numbers written as text
            continue
        vals = col.dropna().astype("str").str.strip()
        vals = vals[vals.ne("")]
        uniq = vals.unique()
        if len(uniq) > MAX_CATEGORIES or (len(uniq) > 50 and len(uniq) > 0.5 * n):
            roles.dropped[c] = f"text with {len(uniq):,} distinct values (an identifier or free text)"
            continue
        roles.categorical[c] = sorted(uniq.tolist())
    return roles


def read_table(path: str | Path, report: ReadReport | None = None, usecols: list[str] | None = None) -> pd.DataFrame:
    """A CSV file as a frame; malformed lines are skipped and counted in ``report``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    bad: list[int] = []

    def on_bad(fields: list[str]) -> None:
        bad.append(len(fields))
        return None

    try:
        frame = pd.read_csv(path, engine="python", on_bad_lines=on_bad, skipinitialspace=False,
                            usecols=usecols) if _small(path) else \
            pd.read_csv(path, on_bad_lines="skip", low_memory=False, usecols=usecols)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"not a readable CSV table: {str(exc).splitlines()[0]}") from None
    if report is not None:
        report.read(str(path), len(frame))
        if bad:
            report.skip(str(path), "malformed CSV line (wrong number of fields)", n=len(bad))
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _small(path: Path) -> bool:
    # the python engine names every bad line; the C engine is ~10x faster for large files
    return path.stat().st_size < 20 * 2**20
