"""Labeled URL and domain lists: CSV with a label column, or plain lists labeled ``LABEL=PATH``.

Layouts understood without options:

* ``LABEL=PATH``: every item of PATH gets LABEL. PATH is one item per line
  (``#`` comments and blank lines skipped), a ``rank,domain`` list, or a CSV
  with a ``url``/``domain`` column.
* a CSV with a header holding an item column (``url``, ``domain``, ``host``,
  ``input``, ``name``, ...) and a label column (``--label-column``, else
  ``label``, ``class``, ``type``, ``result``, ``status``).
* a PhishTank export (``phish_id``, ``url``, ``verified``): all phishing.
* a 360netlab DGA feed (``family<TAB>domain<TAB>start<TAB>end``): DGA, with family.

Labels: ``benign``, ``legit``, ``legitimate``, ``good``, ``ham``, ``normal``,
``clean``, ``safe``, ``0``, ``-1`` (UCI style: phishing = -1 is *not* assumed;
give ``LABEL=PATH`` for such files) -> benign; anything else is malicious, and
its text is the family unless it is generic (``malicious``, ``bad``,
``phishing``, ``dga``, ``1``, ...).

Some published copies swap their labels (the PhiUSIIL copy in DomURLs_BERT
calls its phishing URLs ``legit``): ``load_items(..., invert=True)`` flips 0/1
after reading, for such sets only, and says so in the read report.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport

BENIGN_WORDS = frozenset({"benign", "legit", "legitimate", "good", "ham", "normal", "clean", "safe", "0", "false",
                          "alexa", "top", "whitelist", "allow"})
GENERIC_MALICIOUS = frozenset({"malicious", "bad", "phishing", "phish", "dga", "1", "true", "malware",
                               "defacement", "spam", "attack", "blacklist", "block"})
ITEM_COLUMNS = ("url", "urls", "domain", "domains", "host", "hostname", "input", "name", "query", "fqdn", "sld")
LABEL_COLUMNS = ("label", "class", "type", "result", "status", "target_label", "is_malicious", "dga")
MAX_ITEM = 4096  # longer lines are not URLs


def parse_spec(spec: str) -> tuple[Path, str | None]:
    if "=" in spec and not Path(spec).exists():
        label, _, path = spec.partition("=")
        if label.strip() and "/" not in label:
            return Path(path), label.strip()
    return Path(spec), None


def label_to_binary(labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(1 = malicious, family) from label text."""
    low = labels.astype(str).str.strip().str.lower()
    y = (~low.isin(BENIGN_WORDS)).to_numpy().astype(np.int8)
    fam = np.where(y == 1, np.where(low.isin(GENERIC_MALICIOUS), "", low), "benign").astype(object)
    return y, fam


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _frame(items, y, fam, path: Path) -> pd.DataFrame:
    return pd.DataFrame({"item": pd.Series(items, dtype="object").astype(str).str.strip(),
                         "y": np.asarray(y, dtype=np.int8), "family": np.asarray(fam, dtype=object),
                         "source": str(path)})


def read_one(path: Path, label: str | None, label_column: str | None, report: ReadReport) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise InputError(path, "folder holds no files")
        return pd.concat([read_one(f, label, label_column, report) for f in files], ignore_index=True)
    text = _read_text(path)
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    if not first:
        raise InputError(path, "no items (empty file)")
    # 360netlab DGA feed: family \t domain \t start \t end
    if label is None and first.count("\t") == 3:
        df = pd.read_csv(io.StringIO(text), sep="\t", header=None, names=["family", "item", "start", "end"],
                         dtype=str, comment="#", on_bad_lines="skip").dropna(subset=["item"])
        report.read(str(path), len(df))
        return _frame(df["item"], np.ones(len(df)), df["family"].str.lower(), path)
    header = [h.strip().lower() for h in next(csv.reader([first]))] if "," in first else []
    item_col = next((c for c in ITEM_COLUMNS if c in header), None)
    if item_col is not None:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="skip",
                         comment=None, skipinitialspace=True)
        df.columns = [c.strip().lower() for c in df.columns]
        items = df[item_col]
        if label is not None:
            y, fam = label_to_binary(pd.Series([label] * len(df)))
        elif "phish_id" in df.columns:  # PhishTank export
            y, fam = np.ones(len(df)), np.full(len(df), "phishing", dtype=object)
        else:
            lc = label_column.lower() if label_column else next((c for c in LABEL_COLUMNS if c in df.columns), None)
            if lc is None or lc not in df.columns:
                raise InputError(path, f"no label column (looked for {label_column or ', '.join(LABEL_COLUMNS)}); "
                                       "give --label-column or LABEL=PATH", "line 1")
            y, fam = label_to_binary(df[lc])
            if "family" in df.columns:
                fam = np.where(y == 1, df["family"].str.lower().to_numpy(dtype=object), "benign")
        out = _frame(items, y, fam, path)
    else:
        if label is None:
            raise InputError(path, "a plain list needs a label: pass it as LABEL=PATH (e.g. benign=top.txt)", "line 1")
        s = pd.Series([ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")], dtype="object")
        ranked = s.str.match(r"^\s*\d+\s*,\s*\S+\s*$")
        s = s.where(~ranked, s.str.split(",").str[-1])
        y, fam = label_to_binary(pd.Series([label] * len(s)))
        out = _frame(s, y, fam, path)
    bad = (out["item"] == "") | (out["item"].str.len() > MAX_ITEM) | out["item"].str.contains(r"\s", regex=True)
    if bad.any():
        report.skip(str(path), "empty, over-long or whitespace-holding item", n=int(bad.sum()))
        out = out[~bad].reset_index(drop=True)
    if not len(out):
        raise InputError(path, "no usable items")
    report.read(str(path), len(out))
    return out


def load_items(specs: list[str], label_column: str | None = None,
               report: ReadReport | None = None, invert: bool = False) -> pd.DataFrame:
    """Items (``item``), 0/1 labels (``y``), family and source file of every ``--data`` spec.

    ``invert``: the files' labels are known to be swapped; benign and malicious are exchanged
    (families are dropped: they would name the wrong class).
    """
    report = report if report is not None else ReadReport()
    if not specs:
        raise InputError("--data", "no data given")
    frames = [read_one(p, lab, label_column, report) for p, lab in map(parse_spec, specs)]
    out = pd.concat(frames, ignore_index=True)
    if invert:
        out["y"] = (1 - out["y"]).astype(np.int8)
        out["family"] = np.where(out["y"] == 1, "", "benign").astype(object)
        for src in out["source"].unique():
            report.note(str(src), "labels inverted on request (benign <-> malicious)", n=int((out["source"] == src).sum()))
    return out


def popular_ranks(domains: list[str], max_rank: int = 5000) -> pd.Series:
    """Registered domain -> best rank among ``domains`` (a top-sites list, best first), ranks <= ``max_rank``.

    The URL model keeps this as its reputation prior (``UrlModel.fit(..., popular=...)``).

    >>> popular_ranks(["www.google.com", "mail.google.com", "bbc.co.uk"]).to_dict()
    {'google.com': 1.0, 'bbc.co.uk': 3.0}
    """
    from threatml.web.tld import split_hosts

    reg = split_hosts(list(domains))["registered"].to_numpy(dtype=object)
    ranks = pd.Series(np.arange(1, len(reg) + 1, dtype=np.float64), index=pd.Index(reg))
    ranks = ranks[(ranks.index != "") & (ranks <= max_rank)]
    return ranks.groupby(level=0, sort=False).min().sort_values(kind="stable")
