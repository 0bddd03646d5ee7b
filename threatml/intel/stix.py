"""STIX 2.1 indicators (and, optionally, cyber-observables) as an :class:`IndicatorSet`.

A STIX indicator says what to look for with a *pattern*. The patterns that
name one thing to match map to rows of the indicator table:

* ``[ipv4-addr:value = '198.51.100.7']``, ``[ipv6-addr:value = ...]`` (a CIDR
  value, or ``ISSUBSET '10.0.0.0/8'``, becomes a ``cidr`` row),
* ``[domain-name:value = ...]``, ``[url:value = ...]``, ``[email-addr:value = ...]``,
  ``[email-message:from_ref.value = ...]``,
* ``[file:hashes.MD5 = ...]``, ``'SHA-1'``, ``'SHA-256'`` (also ``artifact:hashes``),
* ``[network-traffic:dst_ref.value = ...]`` / ``src_ref.value`` (an address).

``OR`` (inside or between observations) and ``IN (...)`` give one row per
alternative: the pattern matches when any of them does. ``AND`` inside one
``file`` observation keeps its hashes (a hash names the file; the other
conditions only narrow it). Anything else - ``AND``/``FOLLOWEDBY`` across
observations, ``NOT``, ``LIKE``/``MATCHES``, ``WITHIN``/``REPEATS`` qualifiers,
other object types - cannot be matched one value at a time, so the indicator is
skipped and counted with the reason.

The canonical single-comparison patterns (nearly all of a real feed) are read
by one vectorised regular expression; every other pattern is parsed by the
``stix2`` pattern grammar (ANTLR), so malformed patterns are reported, never
guessed at.

>>> rows, why = pattern_values("[domain-name:value = 'evil.example' OR url:value = 'http://evil.example/x']")
>>> rows, why
([('domain', 'evil.example'), ('url', 'http://evil.example/x')], '')
>>> pattern_values("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a.example']")[1]
'compound pattern (FOLLOWEDBY) cannot be matched one value at a time'
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from threatml.errors import InputError, ReadReport
from threatml.intel.indicators import DEFAULT_CONFIDENCE, IndicatorSet, _build, extract

#: (object type, property path) -> indicator family
PATHS: dict[tuple[str, str], str] = {
    ("ipv4-addr", "value"): "ip", ("ipv6-addr", "value"): "ip",
    ("domain-name", "value"): "domain", ("url", "value"): "url", ("email-addr", "value"): "email",
    ("email-message", "from_ref.value"): "email", ("email-message", "sender_ref.value"): "email",
    ("network-traffic", "dst_ref.value"): "ip", ("network-traffic", "src_ref.value"): "ip",
}
#: STIX hash names (as written in patterns and ``hashes`` dictionaries) -> family
HASHES = {"md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256"}
_HASHED = ("file", "artifact")
#: SCO types loaded as indicators with ``observables=True``
OBSERVABLE_TYPES = {"ipv4-addr": "ip", "ipv6-addr": "ip", "domain-name": "domain", "url": "url", "email-addr": "email"}

_SIMPLE = (r"^\s*\[\s*(?P<obj>ipv4-addr|ipv6-addr|domain-name|url|email-addr):value\s*=\s*'(?P<val>[^'\\]*)'\s*\]\s*$")
_SIMPLE_HASH = (r"^\s*\[\s*file:hashes\.(?:'(?P<q>MD5|SHA-1|SHA-256)'|(?P<u>MD5|SHA1|SHA256))\s*=\s*'(?P<val>[0-9A-Fa-f]+)'\s*\]\s*$")
_SDO_SKIP_NOTE = "STIX objects other than indicators (not used for matching)"


def load_stix(path: str | Path, source: str | None = None, report: ReadReport | None = None,
              observables: bool = False, data: object | None = None) -> IndicatorSet:
    """Indicators of a STIX 2.x bundle file (or a TAXII envelope, a list of objects, one object).

    ``data`` is the already parsed JSON when the caller has it.
    """
    path, report = Path(path), report if report is not None else ReadReport()
    if data is None:
        from threatml.intel.jsonfeed import read_json

        data = read_json(path)
    return stix_set(stix_objects(data, str(path)), str(path), source, report, observables)


def stix_objects(data: object, where: str) -> list:
    """The object list of a bundle / envelope / object list, or an InputError saying why not."""
    if isinstance(data, dict):
        objs = data.get("objects")
        if data.get("type") == "bundle" or ("objects" in data and "type" not in data):
            if not isinstance(objs, list):
                raise InputError(where, "malformed STIX: 'objects' of the bundle is not a list")
            return objs
        if isinstance(data.get("type"), str) and isinstance(data.get("id"), str):
            return [data]
        raise InputError(where, "malformed STIX: neither a bundle nor a STIX object (no 'type'/'objects')")
    if isinstance(data, list):
        return data
    raise InputError(where, "malformed STIX: JSON is not an object or a list")


def pattern_values(pattern: str) -> tuple[list[tuple[str, str]], str]:
    """``(family, value)`` alternatives of a STIX pattern, or ``([], reason)`` when it cannot be mapped."""
    try:
        from stix2.pattern_visitor import create_pattern_object

        tree = create_pattern_object(pattern, version="2.1")
    except Exception as exc:  # the grammar raises several types; all mean "malformed"
        msg = " ".join(str(exc).split())[:160] or type(exc).__name__
        return [], f"malformed STIX pattern: {msg}"
    out: list[tuple[str, str]] = []
    why = _walk(tree, out)
    return (out, "") if not why else ([], why)


def _walk(node, out: list) -> str:
    """Collect alternatives from an expression tree; return a reason when the tree has no such reading."""
    import stix2.patterns as P

    if isinstance(node, P.QualifiedObservationExpression):
        return "qualified pattern (WITHIN/REPEATS/START) cannot be matched one value at a time"
    if isinstance(node, P.ParentheticalExpression):
        return _walk(node.expression, out)
    if isinstance(node, P.ObservationExpression):
        return _walk(node.operand, out)
    if isinstance(node, (P.OrObservationExpression, P.OrBooleanExpression)):
        for op in node.operands:
            why = _walk(op, out)
            if why:
                return why
        return ""
    if isinstance(node, (P.AndObservationExpression, P.FollowedByObservationExpression)):
        return f"compound pattern ({node.operator}) cannot be matched one value at a time"
    if isinstance(node, P.AndBooleanExpression):
        # one file described several ways: any of its hashes names it
        found: list[tuple[str, str]] = []
        for op in node.operands:
            if isinstance(op, P._ComparisonExpression) and not op.negated and op.operator == "=":
                obj, prop = _path(op.lhs)
                fam = HASHES.get(prop[len("hashes."):].lower()) if obj in _HASHED and prop.startswith("hashes.") else None
                if fam:
                    found.append((fam, _unescape(op.rhs.value)))
        if found:
            out.extend(found)
            return ""
        return "compound pattern (AND) cannot be matched one value at a time"
    if isinstance(node, P._ComparisonExpression):
        if node.negated:
            return "negated comparison (NOT) cannot be matched"
        obj, prop = _path(node.lhs)
        if obj in _HASHED and prop.startswith("hashes."):
            fam = HASHES.get(prop[len("hashes."):].lower())
            if fam is None:
                return f"hash type {prop[len('hashes.'):]} not supported (MD5, SHA-1, SHA-256)"
        else:
            fam = PATHS.get((obj, prop))
            if fam is None:
                return f"unsupported pattern path {obj}:{prop}"
        if node.operator == "=":
            out.append((fam, _unescape(node.rhs.value)))
        elif node.operator == "IN":
            out.extend((fam, _unescape(c.value)) for c in node.rhs.value)
        elif node.operator == "ISSUBSET" and fam == "ip":
            out.append((fam, _unescape(node.rhs.value)))
        else:
            return f"comparison operator {node.operator} cannot be matched exactly"
        return ""
    return f"unsupported pattern expression {type(node).__name__}"


def _unescape(value) -> str:
    """The grammar keeps ``\\'`` and ``\\\\`` escapes inside string constants."""
    return re.sub(r"\\(['\\])", r"\1", str(value))


def _path(lhs) -> tuple[str, str]:
    return lhs.object_type_name, ".".join(str(getattr(c, "property_name", c)) for c in lhs.property_path)


def stix_set(objects: list, where: str, source: str | None, report: ReadReport,
             observables: bool = False) -> IndicatorSet:
    """Indicator table from STIX objects; everything dropped is counted per reason in ``report``."""
    rows: list[tuple] = []  # (pos, id, pattern, pattern_type, valid_from, valid_until, confidence, tags, desc, modified)
    scos: list[tuple[int, str, str, str]] = []  # (pos, family, value, id)
    names: dict[str, str] = {}
    tag_keys: dict[str, str] = {}  # feeds repeat a few label sets: tidy each once
    other = 0
    for pos, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            report.skip(where, "malformed STIX object (not an object with a 'type')", f"object {pos + 1}")
            continue
        kind = obj["type"]
        if kind == "indicator":
            if obj.get("revoked") is True:
                report.skip(where, "revoked indicator", f"object {pos + 1}")
                continue
            # plain reads only: a million of these run in a Python loop; the rest is done per column
            tk = (obj.get("labels"), obj.get("indicator_types"))
            key = tag_keys.get(repr(tk))
            if key is None:
                key = tag_keys[repr(tk)] = _tags([t for v in tk if isinstance(v, list) for t in v if isinstance(t, str)])
            pat, vf, vu = obj.get("pattern"), obj.get("valid_from"), obj.get("valid_until")
            rows.append((pos, str(obj.get("id", "")), pat if isinstance(pat, str) else "",
                         str(obj.get("pattern_type", "stix")), vf if isinstance(vf, str) else "",
                         vu if isinstance(vu, str) else "", obj.get("confidence"), key,
                         str(obj.get("name") or obj.get("description") or ""), str(obj.get("created_by_ref", "")),
                         str(obj.get("modified", ""))))
        elif kind == "identity" and isinstance(obj.get("id"), str):
            names[obj["id"]] = str(obj.get("name", ""))
        elif observables and kind in OBSERVABLE_TYPES and isinstance(obj.get("value"), str):
            scos.append((pos, OBSERVABLE_TYPES[kind], obj["value"], str(obj.get("id", ""))))
        elif observables and kind in _HASHED and isinstance(obj.get("hashes"), dict):
            for name, value in obj["hashes"].items():
                fam = HASHES.get(str(name).lower())
                if fam and isinstance(value, str):
                    scos.append((pos, fam, value, str(obj.get("id", ""))))
        elif observables and kind == "observed-data" and isinstance(obj.get("objects"), dict):
            for sub in obj["objects"].values():  # STIX 2.0 style embedded observables
                if isinstance(sub, dict) and sub.get("type") in OBSERVABLE_TYPES and isinstance(sub.get("value"), str):
                    scos.append((pos, OBSERVABLE_TYPES[sub["type"]], sub["value"], str(obj.get("id", ""))))
        else:
            other += 1
    if other:
        report.note(where, _SDO_SKIP_NOTE, n=other)
    parts = [_indicator_rows(rows, names, where, source, report)]
    if scos:
        parts.append(_observable_rows(scos, where, source, report))
    frames = [p.frame for p in parts if p is not None and len(p.frame)]
    report.read(where, 0)  # the file counts as read even when nothing in it could be used
    report.formats[where] = "stix"
    if not frames:
        return IndicatorSet(report=report)
    return IndicatorSet(pd.concat(frames, ignore_index=True), report).deduplicate(where)


def _indicator_rows(rows: list[tuple], names: dict[str, str], where: str, source: str | None,
                    report: ReadReport) -> IndicatorSet | None:
    if not rows:
        return None
    f = pd.DataFrame(rows, columns=["pos", "id", "pattern", "pattern_type", "valid_from", "valid_until",
                                    "confidence", "tags", "name", "created_by", "modified"])
    # several versions of one indicator: the latest modified wins
    dup = f["id"].ne("") & f.duplicated("id", keep=False)
    if dup.any():
        f = f.sort_values(["modified", "pos"], kind="stable")
        keep = ~f.duplicated("id", keep="last") | f["id"].eq("")
        report.note(where, "older versions of a STIX indicator dropped", n=int((~keep).sum()))
        f = f[keep].sort_values("pos", kind="stable")
    f = f.set_index("pos")
    where_of = lambda mask: f"object {int(f.index[np.flatnonzero(mask)[0]]) + 1}"  # noqa: E731
    ptype = f["pattern_type"].astype("str").str.lower()
    not_stix = (ptype != "stix").to_numpy()
    for pt, n in ptype[not_stix].value_counts().items():
        report.skip(where, f"pattern_type '{pt}' not supported (only stix)", where_of((ptype == pt).to_numpy()), n=int(n))
    no_pat = ~not_stix & (f["pattern"].astype("str").str.strip() == "").to_numpy(dtype=bool)
    if no_pat.any():
        report.skip(where, "indicator without a pattern", where_of(no_pat), n=int(no_pat.sum()))
    f = f[~not_stix & ~no_pat]
    pat = f["pattern"].astype("str")

    # fast path: the canonical one-comparison patterns, one regex over the column
    simple, ok1 = extract(pat, _SIMPLE)
    hashed, ok2 = extract(pat, _SIMPLE_HASH)
    fam = simple["obj"].map({"ipv4-addr": "ip", "ipv6-addr": "ip", "domain-name": "domain", "url": "url",
                             "email-addr": "email"}).astype(object)
    hname = (hashed["q"] + hashed["u"]).str.lower().map(HASHES).astype(object)
    fam = fam.where(ok1, hname.where(ok2, None))
    val = simple["val"].where(ok1, hashed["val"])
    slow = fam.isna().to_numpy()

    exp_fam, exp_val, exp_pos = [], [], []
    reasons: dict[str, list[int]] = {}
    for pos, p in zip(f.index[slow], pat[slow]):  # everything else through the real grammar
        alts, why = pattern_values(p)
        if why:
            reasons.setdefault(why, []).append(int(pos))
        for a_fam, a_val in alts:
            exp_fam.append(a_fam), exp_val.append(a_val), exp_pos.append(pos)
    for why, where_pos in reasons.items():
        report.skip(where, why, f"object {where_pos[0] + 1}", n=len(where_pos))
    exp_fam = np.concatenate([fam[~slow].to_numpy(dtype=object), np.asarray(exp_fam, dtype=object)])
    exp_val = np.concatenate([val[~slow].to_numpy(dtype=object), np.asarray(exp_val, dtype=object)])
    exp_pos = np.concatenate([f.index[~slow].to_numpy(dtype=np.int64), np.asarray(exp_pos, dtype=np.int64)])
    if not len(exp_pos):
        report.formats[where] = "stix"
        report.read(where, 0)
        return None

    g = f.loc[exp_pos]
    first = _epoch(g["valid_from"], where, "valid_from", report)
    until = _epoch(g["valid_until"], where, "valid_until", report)
    conf = pd.to_numeric(g["confidence"], errors="coerce").clip(0, 100).fillna(DEFAULT_CONFIDENCE)
    tags = g["tags"].astype("str")
    desc = g["name"].astype("str").str.replace(",", ";", regex=False)
    if names:
        producer = g["created_by"].map(names).fillna("").astype("str")
        desc = desc + np.where(producer != "", " (by " + producer + ")", "")
    idx = pd.Index(exp_pos)
    values = pd.Series(exp_val, index=idx, dtype="str")
    expect = pd.Series(exp_fam, index=idx, dtype="str")
    return _build(where, source, report, values, conf.set_axis(idx), first.set_axis(idx), until.set_axis(idx),
                  tags.set_axis(idx), desc.set_axis(idx), "stix", refs=g["id"].set_axis(idx), expect=expect,
                  unit="object")


def _observable_rows(scos: list, where: str, source: str | None, report: ReadReport) -> IndicatorSet:
    pos, fam, val, ids = zip(*scos)
    idx = pd.Index(pos)
    return _build(where, source, report, pd.Series(val, index=idx, dtype="str"), DEFAULT_CONFIDENCE, np.nan, np.nan,
                  "observable", "STIX cyber-observable", "stix", refs=pd.Series(ids, index=idx, dtype="str"),
                  expect=pd.Series(fam, index=idx, dtype="str"), unit="object")


def _tags(values: list) -> str:
    return ",".join(sorted({t.strip().lower().replace(",", ";") for t in values if t.strip()}))


def _epoch(raw: pd.Series, where: str, name: str, report: ReadReport) -> pd.Series:
    """ISO timestamps -> epoch seconds (NaN when absent); unparseable ones noted, kept without the date."""
    text = raw.astype("str").str.strip()
    ts = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = ts.isna().to_numpy() & (text != "").to_numpy()
    if bad.any():
        report.note(where, f"unparseable {name} (kept without it)", n=int(bad.sum()))
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().astype(float)
