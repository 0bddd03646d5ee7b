"""Features of a domain name's registered label for DGA detection.

A DGA registers *second-level* names, so the label scored is the one left of
the public suffix (``xjw3kq`` in ``a.xjw3kq.com``); names with no known suffix
(bare labels from DGA lists) are scored whole. The features are chosen to
generalise to families never seen in training: character statistics,
pronounceability under an English character model, and how well the label
splits into English words (word-list DGAs such as matsnu and suppobox glue
dictionary words together, so they look pronounceable but split into many
words). The TLD is deliberately not a feature of the binary model: family TLD
choices are easy to learn and do not carry over to new families.

>>> import numpy as np
>>> from threatml.web.words import CharTrigramLM
>>> lm = CharTrigramLM.fit(["google", "face", "book", "mail"] * 5)
>>> f = domain_features(["mail.google.com", "xkq3zv9w.biz"], lm, frozenset({"google", "mail"}))
>>> f["label_len"].tolist(), f["digits"].tolist()
([6.0, 8.0], [0.0, 2.0])
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from threatml.web.textvec import as_arrow, byte_histograms, entropy_from_hist, longest_run
from threatml.web.tld import split_hosts
from threatml.web.words import CharTrigramLM, segment_features

DOMAIN_FEATURES = (
    "label_len", "digits", "digit_ratio", "hyphens", "unique_ratio", "entropy", "vowel_ratio",
    "max_consonant_run", "max_vowel_run", "max_digit_run", "letter_digit_switches", "lm_mean", "lm_min", "lm_rare",
    "word_cover", "words", "mean_word_len", "longest_word", "uncovered", "words_per_10",
)

_VOWELS = b"aeiouy"
_CONSONANTS = bytes(c for c in b"abcdefghijklmnopqrstuvwxyz" if c not in _VOWELS)
_NOT_VOWEL = bytes(c for c in range(256) if c not in _VOWELS)
_NOT_CONSONANT = bytes(c for c in range(256) if c not in _CONSONANTS)
_NOT_DIGIT = bytes(c for c in range(256) if not (48 <= c <= 57))


#: free dynamic-DNS and subdomain providers: the name a customer picks is the label left of
#: these, so it is what gets scored (``eharavut.ddns.net`` -> ``eharavut``). CDNs and clouds
#: are deliberately not here: their machine-made labels are not chosen by malware.
SUBDOMAIN_PROVIDERS = frozenset("""
ddns.net ddns.info no-ip.org no-ip.biz no-ip.info no-ip.com noip.me hopto.org zapto.org sytes.net serveftp.com
servebeer.com servegame.com bounceme.net myftp.org myftp.biz redirectme.net duckdns.org dyndns.org dyndns.info
dynu.net changeip.com dnsalias.com dnsalias.net mooo.com chickenkiller.com strangled.net publicvm.com co.cc
cz.cc 3utilities.com ddnsking.com gotdns.ch freeddns.org dynv6.net dnsdynamic.org linkpc.net
""".split())


def registered_labels(names, private: bool = False) -> pd.DataFrame:
    """Columns ``name`` (lower case), ``label`` (scored), ``suffix``, ``registered``, ``subdomain``.

    >>> registered_labels(["www.eharavut.ddns.net", "a.b.example.co.uk", "x.qwkzj.bit"])[["label", "registered"]].values.tolist()
    [['eharavut', 'eharavut.ddns.net'], ['example', 'example.co.uk'], ['qwkzj', 'qwkzj.bit']]
    """
    hs = split_hosts(names, private=private)
    name = pd.Series(names, dtype="object").fillna("").astype(str).str.strip().str.lower().str.rstrip(".")
    out = pd.DataFrame({"name": name, "label": hs["domain"], "suffix": hs["suffix"],
                        "registered": hs["registered"], "subdomain": hs["subdomain"]})
    # a TLD the snapshot does not know (.bit, a new gTLD): its last label stands in for the suffix
    unknown = (out["suffix"] == "") & (out["subdomain"] != "") & ~out["name"].str.fullmatch(r"[\d.]+")
    if unknown.any():
        out.loc[unknown, "suffix"] = out.loc[unknown, "label"]
        sub = out.loc[unknown, "subdomain"].str.rsplit(".", n=1)
        out.loc[unknown, "label"] = sub.str[-1]
        out.loc[unknown, "registered"] = sub.str[-1] + "." + out.loc[unknown, "suffix"]
        out.loc[unknown, "subdomain"] = sub.map(lambda p: p[0] if len(p) > 1 else "")
    prov = out["registered"].isin(SUBDOMAIN_PROVIDERS) & (out["subdomain"] != "")
    if prov.any():
        sub = out.loc[prov, "subdomain"].str.rsplit(".", n=1)
        lab = sub.str[-1]
        out.loc[prov, "suffix"] = out.loc[prov, "registered"]
        out.loc[prov, "registered"] = lab + "." + out.loc[prov, "registered"]
        out.loc[prov, "label"] = lab
        out.loc[prov, "subdomain"] = sub.map(lambda p: p[0] if len(p) > 1 else "")
    return out


#: likelihood under a character model of *benign domain labels* (added when the model has one)
BENIGN_LM_FEATURES = ("blm_mean", "blm_min", "blm_rare")


def benign_lm_features(labels, blm: CharTrigramLM) -> pd.DataFrame:
    s = blm.score(as_arrow(labels))
    return pd.DataFrame({"blm_mean": s["lm_mean"], "blm_min": s["lm_min"], "blm_rare": s["lm_rare"]})


def label_features(labels, lm: CharTrigramLM, vocab: frozenset[str], blm: CharTrigramLM | None = None) -> pd.DataFrame:
    """Features of bare labels (no dots), one row each, columns :data:`DOMAIN_FEATURES`
    (then :data:`BENIGN_LM_FEATURES` when ``blm`` is given)."""
    arr = as_arrow(labels)
    hist = byte_histograms(arr)
    n = hist.sum(1).astype(np.float64)
    letters = hist[:, ord("a"):ord("z") + 1]
    nl = np.maximum(letters.sum(1), 1)
    dig = hist[:, ord("0"):ord("9") + 1].sum(1).astype(np.float64)
    vow = hist[:, list(_VOWELS)].sum(1)
    lmf = lm.score(arr)
    seg = segment_features(arr.to_pylist(), vocab)
    f = {
        "label_len": n,
        "digits": dig,
        "digit_ratio": dig / np.maximum(n, 1),
        "hyphens": hist[:, ord("-")].astype(np.float64),
        "unique_ratio": (hist > 0).sum(1) / np.maximum(n, 1),
        "entropy": entropy_from_hist(hist),
        "vowel_ratio": vow / nl,
        "max_consonant_run": longest_run(arr, _NOT_CONSONANT),
        "max_vowel_run": longest_run(arr, _NOT_VOWEL),
        "max_digit_run": longest_run(arr, _NOT_DIGIT),
        "letter_digit_switches": np.asarray(pc.count_substring_regex(arr, r"[a-z][0-9]|[0-9][a-z]"), dtype=np.float64),
        "lm_mean": lmf["lm_mean"], "lm_min": lmf["lm_min"], "lm_rare": lmf["lm_rare"],
        "word_cover": seg[:, 0], "words": seg[:, 1], "mean_word_len": seg[:, 2], "longest_word": seg[:, 3],
        "uncovered": seg[:, 4], "words_per_10": seg[:, 5],
    }
    out = pd.DataFrame({k: f[k] for k in DOMAIN_FEATURES})
    if blm is not None:
        out = pd.concat([out, benign_lm_features(arr, blm)], axis=1)
    return out


def domain_features(names, lm: CharTrigramLM, vocab: frozenset[str], private: bool = False) -> pd.DataFrame:
    """Features of the registered label of each name (see the module text)."""
    return label_features(registered_labels(names, private=private)["label"], lm, vocab)
