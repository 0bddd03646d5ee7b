"""PE header tables (ClaMP and other data sets with pefile's field names) and the
header model's features.

:func:`load_header_table` reads a CSV whose columns are pefile header field
names (ClaMP raw, the Kaggle-style PE header sets, exports of
:func:`~threatml.files.pe_header.read_header`): names are matched
case-insensitively, ``TimeDateStamp`` and ``CreationYear`` stand in for each
other, absent fields are NaN, and the label column is found by name
(``class``, ``label``, ``malware``, ``legitimate`` - the last one inverted).

:func:`header_model_features` is what the model sees. It keeps the raw header
fields but, so that a model trained on one collection carries over to files
from another, leaves out what identifies a collection rather than malware:

* ``TimeDateStamp`` / ``CreationYear``: build dates differ by collection era,
  and reproducible builds (modern Windows) put a hash there.
* ``CheckSum``: only whether it is set (exact values identify files).
* ``ImageBase``: only whether it is a linker default (exact values identify
  system DLLs' rebased addresses).
* ``Characteristics`` and ``DllCharacteristics`` become one feature per flag
  bit (a tree cannot split an OR of flags well), plus a few ratios of the
  layout (entry point inside the code, code and data shares of the image).

>>> import pandas as pd
>>> X = header_model_features(pd.DataFrame({"Characteristics": [0x2102], "CheckSum": [5]}))
>>> float(X.loc[0, "char_dll"]), float(X.loc[0, "checksum_set"]), "CheckSum" in X
(1.0, 1.0, False)
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError
from threatml.files.pe_header import HEADER_FIELDS, creation_year

#: raw fields passed to the model as they are
RAW_KEPT: tuple[str, ...] = (
    "e_cblp", "e_cp", "e_crlc", "e_cparhdr", "e_minalloc", "e_maxalloc", "e_ss", "e_sp", "e_csum", "e_ip", "e_cs",
    "e_lfarlc", "e_ovno", "e_oemid", "e_oeminfo", "e_lfanew", "Machine", "NumberOfSections", "PointerToSymbolTable",
    "NumberOfSymbols", "SizeOfOptionalHeader", "Magic", "MajorLinkerVersion", "MinorLinkerVersion", "SizeOfCode",
    "SizeOfInitializedData", "SizeOfUninitializedData", "AddressOfEntryPoint", "BaseOfCode", "SectionAlignment",
    "FileAlignment", "MajorOperatingSystemVersion", "MinorOperatingSystemVersion", "MajorImageVersion",
    "MinorImageVersion", "MajorSubsystemVersion", "MinorSubsystemVersion", "SizeOfImage", "SizeOfHeaders",
    "Subsystem", "SizeOfStackReserve", "SizeOfStackCommit", "SizeOfHeapReserve", "SizeOfHeapCommit", "LoaderFlags",
    "NumberOfRvaAndSizes",
)

CHAR_BITS = {0x0001: "relocs_stripped", 0x0002: "executable_image", 0x0004: "line_nums_stripped",
             0x0008: "local_syms_stripped", 0x0010: "aggressive_ws_trim", 0x0020: "large_address_aware",
             0x0080: "bytes_reversed_lo", 0x0100: "32bit_machine", 0x0200: "debug_stripped",
             0x0400: "removable_run_from_swap", 0x0800: "net_run_from_swap", 0x1000: "system",
             0x2000: "dll", 0x4000: "up_system_only", 0x8000: "bytes_reversed_hi"}
DLLCHAR_BITS = {0x0020: "high_entropy_va", 0x0040: "dynamic_base", 0x0080: "force_integrity", 0x0100: "nx_compat",
                0x0200: "no_isolation", 0x0400: "no_seh", 0x0800: "no_bind", 0x1000: "appcontainer",
                0x2000: "wdm_driver", 0x4000: "guard_cf", 0x8000: "terminal_server_aware"}
DEFAULT_IMAGE_BASES = (0x400000, 0x10000000, 0x140000000, 0x180000000, 0x1000000, 0x10000)

#: label column names recognised (lower case) -> True when the value 1 means malicious
LABEL_COLUMNS = {"class": True, "label": True, "malware": True, "malicious": True, "is_malware": True,
                 "legitimate": False}


def _flags(raw: np.ndarray, bits: dict[int, str], prefix: str) -> dict[str, np.ndarray]:
    known = np.isfinite(raw)
    v = np.where(known, raw, 0).astype(np.int64)
    return {f"{prefix}_{name}": np.where(known, ((v & bit) != 0).astype("float64"), np.nan) for bit, name in bits.items()}


#: header fields the model features are computed from
NEEDED = (*RAW_KEPT, "CheckSum", "ImageBase", "Characteristics", "DllCharacteristics")


def header_model_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The header model's feature table from header fields (absent columns are NaN)."""
    cols = frame.reindex(columns=list(NEEDED))
    if any(cols[c].dtype != np.float64 for c in cols.columns):
        cols = cols.apply(pd.to_numeric, errors="coerce")
    M, names = header_feature_matrix(cols.to_numpy(dtype="float64"))
    return pd.DataFrame(M, columns=names)


def header_feature_matrix(M: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The same from a float matrix whose columns are :data:`NEEDED` (no pandas: scans
    score one file per batch, where per-column pandas work would cost more than the model)."""
    at = {k: i for i, k in enumerate(NEEDED)}

    def col(name: str) -> np.ndarray:
        return M[:, at[name]]

    out: dict[str, np.ndarray] = {k: col(k) for k in RAW_KEPT}
    checksum = col("CheckSum")
    out["checksum_set"] = np.where(np.isfinite(checksum), (checksum > 0).astype("float64"), np.nan)
    base = col("ImageBase")
    out["imagebase_default"] = np.where(np.isfinite(base), np.isin(base, DEFAULT_IMAGE_BASES).astype("float64"), np.nan)
    out.update(_flags(col("Characteristics"), CHAR_BITS, "char"))
    out.update(_flags(col("DllCharacteristics"), DLLCHAR_BITS, "dllchar"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ep, boc, soc, soi = (col(k) for k in ("AddressOfEntryPoint", "BaseOfCode", "SizeOfCode", "SizeOfImage"))
        soi_pos = np.where(soi > 0, soi, np.nan)
        out["ep_in_code"] = np.where(np.isfinite(ep + boc + soc), ((ep >= boc) & (ep < boc + soc)).astype("float64"), np.nan)
        out["ep_share_of_image"] = ep / soi_pos
        out["code_share_of_image"] = soc / soi_pos
        out["data_share_of_image"] = col("SizeOfInitializedData") / soi_pos
        out["headers_share_of_image"] = col("SizeOfHeaders") / soi_pos
    names = list(out)
    return (np.column_stack([out[k] for k in names]) if len(M) else np.zeros((0, len(names)))), names


FEATURES: tuple[str, ...] = tuple(header_model_features(pd.DataFrame(index=[0])).columns)


#: other names for header fields in published PE feature tables (lower case) -> pefile name;
#: used only when the table lacks the pefile name itself
ALIASES = {"sectionsnb": "NumberOfSections", "sectionslength": "NumberOfSections", "numberofsection": "NumberOfSections",
           "timestamp": "TimeDateStamp"}


def _canonical_columns(columns: list[str]) -> dict[str, str]:
    """Map a table's column names onto pefile header names, case-insensitively (then aliases)."""
    wanted = {f.lower(): f for f in (*HEADER_FIELDS, "CheckSum", "ImageBase")}
    out = {c: wanted[c.strip().lower()] for c in columns if c.strip().lower() in wanted}
    have = set(out.values())
    for c in columns:
        target = ALIASES.get(c.strip().lower())
        if target and target not in have:
            out[c] = target
            have.add(target)
    return out


def _delimiter(first_line: str) -> str:
    """The separator of a header line: ``,`` unless ``|``, ``;`` or a tab is clearly it.

    >>> _delimiter("Name|md5|Machine|legitimate"), _delimiter("a,b;c,d")
    ('|', ',')
    """
    counts = {d: first_line.count(d) for d in (",", "|", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def find_label_column(columns: list[str], given: str | None = None) -> tuple[str | None, bool]:
    """(label column, whether 1 means malicious); ``given`` must exist when set."""
    if given:
        if given not in columns:
            raise KeyError(given)
        return given, LABEL_COLUMNS.get(given.lower(), True)
    for c in columns:
        if c.strip().lower() in LABEL_COLUMNS:
            return c, LABEL_COLUMNS[c.strip().lower()]
    return None, True


def labels_to_binary(values: pd.Series, one_is_malicious: bool = True) -> np.ndarray:
    """1/0, true/false or words (malware, benign, goodware, clean, ...) -> 1 malicious, 0 benign, -1 unknown.

    >>> labels_to_binary(pd.Series(["1", "0", "malware", "x"])).tolist(), labels_to_binary(pd.Series([1, 0]), False).tolist()
    ([1, 0, 1, -1], [0, 1])
    """
    s = values.astype(str).str.strip().str.lower()
    one = 1 if one_is_malicious else 0
    conds = [s.isin({"malware", "malicious", "mal", "bad"}).to_numpy(), s.isin({"benign", "goodware", "clean", "legitimate", "good"}).to_numpy(),
             s.isin({"1", "1.0", "true", "yes"}).to_numpy(), s.isin({"0", "0.0", "false", "no"}).to_numpy()]
    return np.select(conds, [1, 0, one, 1 - one], -1)


def load_header_table(path: str | Path, label_column: str | None = None) -> tuple[pd.DataFrame, np.ndarray | None, list[str]]:
    """Header fields (pefile names), labels (1/0, -1 unknown; None without a label column) and notes."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            sep = _delimiter(fh.readline())
            fh.seek(0)
            header = next(csv.reader(fh, delimiter=sep), None)
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from None
    if not header:
        raise InputError(path, "empty file")
    mapping = _canonical_columns(header)
    if len(mapping) < 5:
        raise InputError(path, "not a PE header table: fewer than 5 columns carry pefile header field names", "line 1")
    try:
        lab, one_is_mal = find_label_column(header, label_column)
    except KeyError:
        raise InputError(path, f"no label column {label_column!r}; columns are {', '.join(header[:12])}...", "line 1") from None
    try:
        raw = pd.read_csv(path, sep=sep, usecols=list(mapping) + ([lab] if lab else []), low_memory=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(path, f"unreadable CSV: {exc}") from None
    frame = raw[list(mapping)].rename(columns=mapping).apply(pd.to_numeric, errors="coerce").astype("float64")
    notes = [f"{path.name}: {len(mapping)} pefile header columns recognised"]
    if "CreationYear" not in frame and "TimeDateStamp" in frame:
        frame["CreationYear"] = frame["TimeDateStamp"].map(creation_year)
    y = labels_to_binary(raw[lab], one_is_mal) if lab else None
    if y is not None and (y < 0).any():
        notes.append(f"{path.name}: {int((y < 0).sum())} rows with an unknown label value in {lab!r}")
    return frame, y, notes
