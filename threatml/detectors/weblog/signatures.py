"""Request normalisation and attack signatures for access-log requests.

Attackers hide payloads behind URL encoding (often twice), ``+`` for spaces,
mixed case, SQL comments for spaces and backslashes for slashes. Every
request target is decoded until it stops changing (at most ``MAX_DECODE``
rounds), lower-cased, SQL comments and runs of white space collapsed to one
space, then matched against the signatures below, each a named regular
expression in one family. Matching runs once per *distinct* target per
batch (access logs repeat targets heavily), with RE2 (pyarrow) over
whole columns.

>>> normalise("/a?id=1%2527%2520UNION%2f**%2fSELECT+1--")
"/a?id=1' union select 1--"
>>> sorted(match_families(["/x?q=%3Cscript%3Ealert(1)%3C/script%3E", "/about"])[0])
['xss']
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_DECODE = 3

#: family -> {signature name: regex over the normalised target}
SIGNATURES: dict[str, dict[str, str]] = {
    "sqli": {
        "union-select": r"union(?:\s+all|\s+distinct)?\s+select\b",
        "quote-boolean": r"['\")]\s*(?:or|and|\|\||&&)\s+['\"(]?\w+['\")]?\s*(?:=|<|>|like\b)",
        "numeric-tautology": r"\b(?:or|and)\s+\(?\d+\)?\s*(?:=|<|>)\s*\(?\d+\b",
        "time-delay": r"\b(?:sleep|benchmark|pg_sleep)\s*\(|waitfor\s+delay\b",
        "error-function": r"\b(?:extractvalue|updatexml)\s*\(|convert\s*\(\s*int\s*,",
        "stacked-query": r";\s*(?:drop|insert|update|delete|exec|execute|shutdown|declare|create|alter)\s",
        "system-objects": r"xp_cmdshell|information_schema|@@version|sys\.objects|sqlite_master|pg_catalog",
        "quote-comment": r"['\"]\)?\s*(?:--(?:\s|$|-)|#|/\*|;\s*--)",
        "select-from": r"\bselect\b[^&]{1,80}\bfrom\b\s*[\w.(]",
    },
    "xss": {
        "script-tag": r"<\s*/?\s*script\b",
        "event-handler": r"<[^>]*[\s/\"']on[a-z]{3,20}\s*=",
        "js-uri": r"(?:java|vb)script\s*:",
        "html-injection": r"<\s*(?:svg|iframe|img|body|details|video|object|embed)\b",
        "dom-access": r"document\s*\.\s*(?:cookie|domain|location)|\b(?:alert|prompt|confirm)\s*\(",
        "data-html": r"data:text/html",
        "template-injection": r"\{\{.{0,40}constructor",
    },
    "traversal": {
        "dot-dot": r"(?:\.\.[/\\;]){2,}|(?:\.\.\.\./){2,}|\.\.[/\\](?:etc|windows|boot|proc|var|web-inf)",
        "sensitive-file": r"(?:^|[/=:])etc/(?:passwd|shadow|hosts)\b|win\.ini|boot\.ini|/proc/self/|web-inf/web\.xml",
        "wrapper": r"\b(?:php|file|zip|phar|expect)://",
        "null-byte": r"\x00|%00",
    },
    "cmdi": {
        "separator-command": r"(?:[;|`]|&&|\|\||\n)\s*(?:id|whoami|uname|cat|ls|wget|curl|nc|ncat|ping|sleep|bash|sh|echo)\b"
                             r"(?:\s+-|\s+/|\s+http|\s+\d|\s*$|\s*[;|&`)'])",
        "substitution": r"\$\(\s*(?:id|whoami|uname|cat|ls|wget|curl|nc|ping|sleep|echo|bash|sh)\b|`\s*(?:id|whoami|uname|cat|ls|wget|curl|sleep|ping|echo)\b",
        "shellshock": r"\(\)\s*\{\s*:\s*;\s*\}",
        "jndi": r"\$\{\s*jndi\s*:",
        "code-eval": r"<\?php|\b(?:system|exec|passthru|shell_exec|popen|proc_open)\s*\(",
    },
}
# checked once with Python's engine; matching passes the text patterns so pandas runs them in RE2 (pyarrow)
_COMPILED = {f: {n: re.compile(p).pattern for n, p in sigs.items()} for f, sigs in SIGNATURES.items()}
_SPACE = re.compile(r"(?:/\*.*?\*/|\s|\+)+")
#: a normalised target without any of these cannot match a signature (skips most benign rows)
_MAYBE = (r"['\"<>;|`$\\{}\x00]|\.\.|%00|union|select|sleep|benchmark|waitfor|extractvalue|updatexml|"
                    r"convert|xp_|information_schema|@@|script|on[a-z]+=|document|alert|prompt|confirm|data:|passwd|"
                    r"shadow|\.ini|proc/|web-inf|://|jndi|php|system|exec|passthru|popen|\b(?:or|and)\b|=\s*(?:id|whoami|uname|cat|ls|wget|curl|nc|ping|sleep)\b")
re.compile(_MAYBE)


def normalise(target: str) -> str:
    """Decode repeatedly (``%xx``, then ``+`` in the query), lower-case, collapse comments and spaces."""
    t = target
    for _ in range(MAX_DECODE):
        path, sep, query = t.partition("?")
        nxt = unquote(path, errors="replace") + sep + (unquote_plus(query, errors="replace") if sep else "")
        if nxt == t:
            break
        t = nxt
    return _SPACE.sub(" ", t.lower().replace("\\", "/"))


def normalise_many(targets: pd.Series) -> pd.Series:
    """:func:`normalise` over a column: once per distinct value, and in Python only for values with
    ``%`` escapes (the rest is lower-cased and collapsed by vectorised string operations)."""
    codes, uniq = pd.factorize(targets, sort=False)
    if not len(uniq):
        return pd.Series([], index=targets.index, dtype="str")
    u = pd.Series(uniq, dtype="str")
    esc = u.str.contains("%", regex=False).to_numpy(dtype=bool)
    low = pc.replace_substring(pc.utf8_lower(pa.array(uniq.astype(object), type=pa.string())), "\\", "/")
    out = pc.replace_substring_regex(low, r"(?:/\*.*?\*/|\s|\+)+", " ").to_numpy(zero_copy_only=False).astype(object)
    if esc.any():
        out[esc] = [normalise(t) for t in u[esc]]
    return pd.Series(out[codes], index=targets.index, dtype="str")


def match_signatures(norm: pd.Series) -> dict[str, np.ndarray]:
    """``family:signature`` -> boolean array over ``norm`` (already normalised, one per row).

    The patterns run in RE2 through pyarrow (``\\w``, ``\\s``, ``\\b`` are ASCII there, which
    is what URL text needs); a cheap pre-pattern first drops rows that cannot match any signature.
    """
    arr = pa.array(norm.to_numpy(dtype=object), type=pa.string())
    maybe = pc.fill_null(pc.match_substring_regex(arr, _MAYBE), False).to_numpy(zero_copy_only=False)
    sub = arr.filter(pa.array(maybe))
    out = {}
    for fam, sigs in _COMPILED.items():
        for name, rx in sigs.items():
            hit = np.zeros(len(norm), dtype=bool)
            if len(sub):
                hit[maybe] = pc.fill_null(pc.match_substring_regex(sub, rx), False).to_numpy(zero_copy_only=False)
            out[f"{fam}:{name}"] = hit
    return out


def match_families(targets: list[str]) -> list[set[str]]:
    """Families whose signatures match each raw target (convenience for small inputs)."""
    norm = normalise_many(pd.Series(targets, dtype="str"))
    m = match_signatures(norm)
    return [{k.split(":")[0] for k, v in m.items() if v[i]} for i in range(len(targets))]
