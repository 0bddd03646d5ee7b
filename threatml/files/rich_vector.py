"""Turn EMBER-layout raw dicts (ours or EMBER's jsonl) into one numeric table, in batches.

Fixed-width parts (histograms, counts) are plain numbers; variable parts
(section names, imports as ``library:function``, exports, header flag names)
are hashed into fixed buckets with scikit-learn's ``FeatureHasher`` - so the
column set never depends on the data and a model trained on EMBER's jsonl
scores files scanned here. Fields a source lacks (EMBER 2017 has no data
directories, EMBER has no ``threatml`` extras) are NaN: unknown, not zero.

>>> from threatml.files.rich_raw import rich_raw
>>> X = vectorize([rich_raw(b"MZ" + bytes(300))[0]])
>>> X.shape[0], X.shape[1] == len(COLUMNS), float(X.loc[0, "general.size"])
(1, True, 302.0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction import FeatureHasher

from threatml.files.rich_raw import DATA_DIRECTORIES

_GENERAL = ("size", "vsize", "has_debug", "exports", "imports", "has_relocations", "has_resources", "has_signature",
            "has_tls", "symbols")
_STRINGS = ("numstrings", "avlength", "printables", "entropy", "paths", "urls", "registry", "MZ")
_OPTIONAL = ("major_image_version", "minor_image_version", "major_linker_version", "minor_linker_version",
             "major_operating_system_version", "minor_operating_system_version", "major_subsystem_version",
             "minor_subsystem_version", "sizeof_code", "sizeof_headers", "sizeof_heap_commit")
_EXTRA = ("is_pe", "wx_sections", "overlay_size", "overlay_ratio", "overlay_entropy", "has_signature",
          "signature_in_file", "entry_entropy", "entry_writable", "entry_not_first_exec", "entry_outside_sections",
          "few_imports_with_loader", "high_entropy_sections", "n_packer_sections")
_HASHED = {  # part -> buckets
    "header.machine": 10, "header.characteristics": 10, "header.subsystem": 10, "header.dll_characteristics": 10,
    "header.magic": 10, "section.size": 50, "section.entropy": 50, "section.vsize": 50, "section.entry_name": 50,
    "section.entry_props": 50, "imports.libraries": 256, "imports.functions": 1024, "exports": 128,
}

#: what the numbered feature columns mean, for explanations
DESCRIPTIONS = {
    "threatml.wx_sections": "sections both writable and executable",
    "threatml.overlay_ratio": "share of the file after the last section",
    "threatml.entry_entropy": "entropy of the entry-point section",
    "threatml.n_packer_sections": "sections named like a packer's",
    "strings.urls": "URLs in the strings", "strings.registry": "registry keys in the strings",
    "strings.MZ": "embedded MZ headers", "general.has_signature": "Authenticode signature present",
}


def _columns() -> list[str]:
    cols = [f"histogram.{i}" for i in range(256)] + [f"byteentropy.{i}" for i in range(256)]
    cols += [f"strings.{k}" for k in _STRINGS] + [f"strings.printabledist.{i}" for i in range(96)]
    cols += [f"general.{k}" for k in _GENERAL]
    cols += ["header.timestamp"] + [f"header.{k}" for k in _OPTIONAL]
    cols += ["section.count", "section.zero_size", "section.empty_name", "section.rx", "section.w"]
    cols += [f"datadirectories.{n}.{w}" for n in DATA_DIRECTORIES for w in ("size", "virtual_address")]
    cols += [f"threatml.{k}" for k in _EXTRA]
    for part, n in _HASHED.items():
        cols += [f"{part}.h{i}" for i in range(n)]
    return cols


COLUMNS: tuple[str, ...] = tuple(_columns())


def _norm(rows: list[list], width: int) -> np.ndarray:
    a = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        if r:
            v = np.asarray(r[:width], dtype="float64")
            a[i, : len(v)] = v
    s = a.sum(axis=1, keepdims=True)
    return np.divide(a, s, out=np.zeros_like(a), where=s > 0)


def _hash(items: list, n: int, input_type: str) -> np.ndarray:
    return FeatureHasher(n, input_type=input_type, alternate_sign=False).transform(items).toarray()


def vectorize(raws: list[dict]) -> pd.DataFrame:
    """One row per raw dict, columns :data:`COLUMNS`."""
    n = len(raws)
    parts: list[np.ndarray] = [_norm([r.get("histogram") for r in raws], 256),
                               _norm([r.get("byteentropy") for r in raws], 256)]
    st = [r.get("strings") or {} for r in raws]
    parts.append(np.array([[float(s.get(k, np.nan)) for k in _STRINGS] for s in st]).reshape(n, len(_STRINGS)))
    parts.append(_norm([s.get("printabledist") for s in st], 96))
    gen = [r.get("general") or {} for r in raws]
    parts.append(np.array([[float(g.get(k, np.nan)) for k in _GENERAL] for g in gen]).reshape(n, len(_GENERAL)))
    hdr = [r.get("header") or {} for r in raws]
    coff = [h.get("coff") or {} for h in hdr]
    opt = [h.get("optional") or {} for h in hdr]
    parts.append(np.array([[float(c.get("timestamp", np.nan))] + [float(o.get(k, np.nan)) for k in _OPTIONAL]
                           for c, o in zip(coff, opt)]).reshape(n, 1 + len(_OPTIONAL)))
    secs = [((r.get("section") or {}).get("sections") or []) for r in raws]
    parts.append(np.array([[len(s), sum(1 for x in s if x.get("size", 0) == 0), sum(1 for x in s if not x.get("name")),
                            sum(1 for x in s if "MEM_READ" in x.get("props", []) and "MEM_EXECUTE" in x.get("props", [])),
                            sum(1 for x in s if "MEM_WRITE" in x.get("props", []))] for s in secs],
                          dtype="float64").reshape(n, 5))
    dd = np.full((n, 2 * len(DATA_DIRECTORIES)), np.nan)
    for i, r in enumerate(raws):
        entries = r.get("datadirectories")
        if entries is None:
            continue  # EMBER 2017: unknown
        dd[i] = 0.0
        for j, e in enumerate(entries[: len(DATA_DIRECTORIES)]):
            dd[i, 2 * j], dd[i, 2 * j + 1] = float(e.get("size", 0)), float(e.get("virtual_address", 0))
    parts.append(dd)
    ex = np.full((n, len(_EXTRA)), np.nan)
    for i, r in enumerate(raws):
        t = r.get("threatml")
        if t is None:
            continue
        ex[i] = [float(len(t.get("packer_sections", []))) if k == "n_packer_sections" else float(t.get(k, np.nan))
                 for k in _EXTRA]
    parts.append(ex)
    sections_named = [[(str(x.get("name", "")), x) for x in s] for s in secs]
    hashed = {
        "header.machine": ([[str(c.get("machine", ""))] for c in coff], "string"),
        "header.characteristics": ([list(map(str, c.get("characteristics", []))) for c in coff], "string"),
        "header.subsystem": ([[str(o.get("subsystem", ""))] for o in opt], "string"),
        "header.dll_characteristics": ([list(map(str, o.get("dll_characteristics", []))) for o in opt], "string"),
        "header.magic": ([[str(o.get("magic", ""))] for o in opt], "string"),
        "section.size": ([[(nm, float(x.get("size", 0))) for nm, x in s] for s in sections_named], "pair"),
        "section.entropy": ([[(nm, float(x.get("entropy", 0))) for nm, x in s] for s in sections_named], "pair"),
        "section.vsize": ([[(nm, float(x.get("vsize", 0))) for nm, x in s] for s in sections_named], "pair"),
        "section.entry_name": ([[str((r.get("section") or {}).get("entry", ""))] for r in raws], "string"),
        "section.entry_props": ([_entry_props(r) for r in raws], "string"),
        "imports.libraries": ([list((r.get("imports") or {}).keys()) for r in raws], "string"),
        "imports.functions": ([[f"{lib}:{f}" for lib, fs in (r.get("imports") or {}).items() for f in fs] for r in raws],
                              "string"),
        "exports": ([list(map(str, r.get("exports") or [])) for r in raws], "string"),
    }
    for part, n_buckets in _HASHED.items():
        items, kind = hashed[part]
        parts.append(_hash(items, n_buckets, kind) if n else np.zeros((0, n_buckets)))
    return pd.DataFrame(np.hstack(parts) if n else np.zeros((0, len(COLUMNS))), columns=list(COLUMNS))


def _entry_props(raw: dict) -> list[str]:
    sec = raw.get("section") or {}
    entry = sec.get("entry", "")
    for s in sec.get("sections") or []:
        if s.get("name") == entry:
            return list(map(str, s.get("props", [])))
    return []
