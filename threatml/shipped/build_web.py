"""Build the shipped web models: ``url-classifier`` and ``dga-classifier``.

    python -m threatml.shipped.build --only web      (data root: ../shared/datasets)

* ``threatml/shipped/web/url/``: :class:`threatml.web.url_model.UrlModel`
  trained on PhishTank verified phishing URLs and the links of the Nazario
  phishing mbox (phishing) against the ISCX-URL2016 benign URLs, the home
  pages of the 10,000 top domains of the DGA sample and the links of the
  SpamAssassin easy_ham and hard_ham mail (benign), with the top 5,000
  registered domains as a reputation prior. ISCX alone is 310 sites with deep
  paths and no home pages: a model trained on it flags every other site
  (measured: ROC-AUC 0.57 on mail links), so the other benign sources matter.
* ``threatml/shipped/web/dga/``: :class:`threatml.web.dga_model.DgaModel`
  trained on the 360netlab DGA feed sample (11 families) against the 10,000
  top domains, with the English vocabulary and character model learned from
  the SpamAssassin and SMS mail text (Python's pydoc text when those are absent).

Both are deterministic (fixed seeds, one thread) and small.
"""

from __future__ import annotations

import re
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
URL_DIR = HERE / "web" / "url"
DGA_DIR = HERE / "web" / "dga"

PHISHTANK = "url/phishtank_unb_urls/DataFiles/2.online-valid.csv"
ISCX_BENIGN = "url/phishtank_unb_urls/DataFiles/1.Benign_list_big_final.csv"
DGA_FEED = "url/dga_netlab360_sample/dga.txt"
TOP_DOMAINS = "url/dga_netlab360_sample/top_domains_dga1m.csv"
SPAMASSASSIN = "email/spamassassin-easy_ham-hard_ham-spam.tar.gz"
SMS = "email/sms_spam_collection/SMSSpamCollection"
NAZARIO = "email/nazario-phishing-20051114.mbox"

_HREF_RE = re.compile(r"""(?:href\s*=\s*["']?|\b)(https?://[^\s"'<>()\]]{4,300})""", re.IGNORECASE)


def _message_urls(raw: bytes) -> set[str]:
    """http(s) URLs in the text parts of one raw message (stdlib parser; never fetched)."""
    import email
    from email import policy

    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
        texts = []
        for part in msg.walk():
            if part.get_content_maintype() != "text":
                continue
            try:
                texts.append(part.get_content())
            except (LookupError, ValueError, AssertionError):
                payload = part.get_payload(decode=True) or b""
                texts.append(payload.decode("latin-1", "replace"))
        text = "\n".join(t for t in texts if isinstance(t, str))
    except Exception:  # a malformed message still gives its raw text
        text = raw.decode("latin-1", "replace")
    return {u.rstrip(".,;:!?'\"") for u in _HREF_RE.findall(text)}


def mail_urls(root: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """URLs of SpamAssassin easy_ham and hard_ham (benign) and of Nazario phishing mail (phishing),
    and the files used.

    Phishing mail also links to the real brand's site (logos, policies), so
    links into the top-10k domains are dropped from *all* sets: what is left
    are the links to sites outside the popular list, on both sides.
    """
    from threatml.web.tld import split_hosts
    from threatml.web.urls import normalize_urls

    easy: set[str] = set()
    hard: set[str] = set()
    phish: set[str] = set()
    used = []
    sa = root / SPAMASSASSIN
    if sa.exists():
        with tarfile.open(sa) as tf:
            for m in tf:
                if m.isfile() and ("easy_ham/" in m.name or "hard_ham/" in m.name):
                    fh = tf.extractfile(m)
                    if fh is not None:
                        (easy if "easy_ham/" in m.name else hard).update(_message_urls(fh.read(1 << 20)))
        used.append(SPAMASSASSIN)
    nz = root / NAZARIO
    if nz.exists():
        import mailbox

        for msg in mailbox.mbox(str(nz)):
            phish |= _message_urls(msg.as_bytes())
        used.append(NAZARIO)
    top = set(top_domains(root)) if (root / TOP_DOMAINS).exists() else set()

    def outside(urls: set[str]) -> list[str]:
        u = sorted(urls)
        if not u:
            return []
        reg = split_hosts(normalize_urls(u)["host"])["registered"]
        return [x for x, r in zip(u, reg) if r not in top]

    return outside(easy), outside(hard - easy), outside(phish), used


def english_word_counts(root: Path, max_bytes: int = 64 << 20) -> tuple[Counter, list[str]]:
    """Word counts of the mail text under ``root`` (SpamAssassin, SMS), else Python's pydoc text.

    Returns the counts and the files they came from.
    """
    from threatml.web.words import count_words, stdlib_text

    counts: Counter = Counter()
    used = []
    sa = root / SPAMASSASSIN
    if sa.exists():
        read = 0
        with tarfile.open(sa) as tf:
            for m in tf:  # sequential: random access into a .tar.gz decompresses again and again
                if read > max_bytes:
                    break
                if not m.isfile():
                    continue
                fh = tf.extractfile(m)
                if fh is None:
                    continue
                raw = fh.read(1 << 20)
                read += len(raw)
                counts.update(count_words([raw.decode("latin-1")]))
        used.append(SPAMASSASSIN)
    sms = root / SMS
    if sms.exists():
        counts.update(count_words(sms.read_text(errors="replace").splitlines()))
        used.append(SMS)
    if not counts:
        counts = count_words(stdlib_text())
        used.append("python:pydoc_data.topics")
    return counts, used


def top_domains(root: Path) -> list[str]:
    p = root / TOP_DOMAINS
    return pd.read_csv(p, header=None, names=["rank", "domain"], dtype=str)["domain"].dropna().str.strip().tolist()


#: ranks of the top list kept as the URL model's reputation prior; the rest of the list are
#: benign home pages of *unranked* sites, so the model also learns what those look like
POPULAR_MAX_RANK = 5000


def popular_domains(root: Path, max_rank: int = POPULAR_MAX_RANK) -> pd.Series:
    """Registered domain -> best rank among the top-list names under it, for ranks <= ``max_rank``."""
    from threatml.web.data import popular_ranks

    return popular_ranks(top_domains(root), max_rank)


def _card(name: str, kind: str, description: str, files: list[tuple[Path, str | None]], root: Path, notes: list[str],
          version: str = "1"):
    from threatml.models.card import ModelCard, describe_data, library_versions, relative_to_root

    data = relative_to_root(describe_data(files), root)
    return ModelCard(name=name, version=version, domain="url", kind=kind, description=description, training_data=data,
                     libraries=library_versions("tldextract"), notes=notes)


def url_training_items(root: Path, mail: bool = True) -> tuple[pd.DataFrame, list[tuple[Path, str | None]]]:
    """PhishTank phishing, ISCX benign, top-domain home pages as benign and, with ``mail``,
    links of SpamAssassin ham (benign) and Nazario phishing mail (phishing)."""
    from threatml.web.data import load_items

    files = [(root / PHISHTANK, None), (root / ISCX_BENIGN, "benign")]
    d = load_items([str(root / PHISHTANK), f"benign={root / ISCX_BENIGN}"])
    d["source"] = np.where(d["y"] == 1, "phishtank", "iscx")
    home = pd.DataFrame({"item": ["http://" + t + "/" for t in top_domains(root)], "y": 0, "family": "benign",
                         "source": "top-homepages"})
    files.append((root / TOP_DOMAINS, "benign"))
    parts = [d, home]
    if mail:
        easy, hard, phish, used = mail_urls(root)
        parts.append(pd.DataFrame({"item": easy, "y": 0, "family": "benign", "source": "spamassassin-ham-links"}))
        parts.append(pd.DataFrame({"item": hard, "y": 0, "family": "benign", "source": "spamassassin-hard-ham-links"}))
        parts.append(pd.DataFrame({"item": phish, "y": 1, "family": "phishing", "source": "nazario-phish-links"}))
        files += [(root / u, None) for u in used]
    return pd.concat(parts, ignore_index=True), files


URL_MODEL_VERSION = "3"

#: settings of the shipped URL model (chosen by site-grouped cross-validation and the
#: Nazario-vs-SpamAssassin cross-source check; see docs/urls-domains.md)
URL_PARAMS = dict(n_features=2**18, n_estimators=150, learning_rate=0.07, num_leaves=31, folds=5, monotone=True, site_weight_power=0.0,
                  ngram_parts="host+path", seed=0)


def fit_url_model(d: pd.DataFrame, root: Path, **overrides):
    """The shipped recipe on the items of ``d`` (``item``, ``y``): :data:`URL_PARAMS` and the popular-domain prior."""
    from threatml.web.url_model import UrlModel

    return UrlModel(**{**URL_PARAMS, **overrides}).fit(d["item"].tolist(), d["y"].to_numpy(), popular_domains(root))


def build_url(root: Path, out: Path = URL_DIR, log=print):
    from threatml.models.card import read_card

    d, files = url_training_items(root)
    d = d.drop_duplicates("item").reset_index(drop=True)
    log(f"url: {len(d)} URLs ({int(d.y.sum())} phishing)")
    m = fit_url_model(d, root)
    card = _card("url-classifier", "url-classifier",
                 "Phishing/malicious URL classifier: logistic regression on hashed character 3-5-grams of host and path, then "
                 "LightGBM on lexical features, a popular-domain prior and the n-gram score (out-of-fold stacking, "
                 "folds by registered domain, monotone in the features whose direction is known)",
                 files, root,
                 ["PhishTank (2008-2020 verified phish) and links of Nazario phishing mail (2005) vs ISCX-URL2016 "
                  "benign (310 sites), top-10k home pages and links of SpamAssassin easy_ham and hard_ham mail (2002); "
                  "mail links into the top-10k domains are left out on both sides",
                  f"reputation prior: registered domains of the top list ranked 1-{POPULAR_MAX_RANK} (stored in the "
                  "model); the rest of the list are benign home pages of unranked sites",
                  "metrics are out-of-fold with folds grouped by registered domain: sites unseen by the scoring model",
                  "not features: the scheme, a leading www., a trailing slash (they separate these corpora, not phishing)",
                  "version 3: n-grams of the host and of the path+query as two parts (none spans the boundary)"],
                 version=URL_MODEL_VERSION)
    card.metrics = m.metrics_
    m.save(out, card)
    return read_card(out)


def build_dga(root: Path, out: Path = DGA_DIR, log=print):
    from threatml.models.card import read_card
    from threatml.web.data import load_items
    from threatml.web.dga_model import DgaModel

    counts, used = english_word_counts(root)
    dga = load_items([str(root / DGA_FEED)])
    ben = top_domains(root)
    names = ben + dga["item"].tolist()
    y = np.r_[np.zeros(len(ben)), np.ones(len(dga))]
    fam = np.r_[np.full(len(ben), "benign", dtype=object), dga["family"].to_numpy(dtype=object)]
    log(f"dga: {len(ben)} benign, {len(dga)} DGA names, {len(counts)} distinct words from {used}")
    m = DgaModel(n_estimators=250, num_leaves=15, folds=3, seed=0).fit(names, y, fam, word_counts=counts)
    files = [(root / DGA_FEED, None), (root / TOP_DOMAINS, "benign")] + [(root / u, None) for u in used if "/" in u]
    card = _card("dga-classifier", "dga-classifier",
                 "DGA domain classifier: LightGBM on character statistics, English and popular-domain character "
                 "trigram likelihoods and word segmentation; family model (LightGBM multiclass) for trained families",
                 files, root,
                 [f"English vocabulary and character model from {', '.join(used)} (word statistics only)",
                  "synthetic priors added to the DGA class: random-word concatenations (word-list DGAs), names cut "
                  "from running text, random pronounceable syllables and uniform random strings; they are not "
                  "reported as families",
                  "names under free dynamic-DNS providers are scored on the customer label (x.ddns.net -> x)"])
    card.metrics = m.metrics_
    m.save(out, card)
    return read_card(out)


def _size(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir()) / 1e6


def build(root: Path) -> str:
    """Rebuild both web models from the datasets under ``root``; one summary line."""
    root = Path(root)
    parts = []
    if (root / PHISHTANK).exists() and (root / ISCX_BENIGN).exists() and (root / TOP_DOMAINS).exists():
        c = build_url(root)
        oof = c.metrics.get("out_of_fold", {})
        parts.append(f"url-classifier ({_size(URL_DIR):.2f} MB, out-of-fold f1={oof.get('f1')} "
                     f"roc_auc={oof.get('roc_auc')})")
    else:
        parts.append("url-classifier skipped (PhishTank/ISCX/top-domain files missing)")
    if (root / DGA_FEED).exists() and (root / TOP_DOMAINS).exists():
        c = build_dga(root)
        oof = c.metrics.get("out_of_fold", {})
        parts.append(f"dga-classifier ({_size(DGA_DIR):.2f} MB, out-of-fold roc_auc={oof.get('roc_auc')} "
                     f"families={len(c.classes) - 2})")
    else:
        parts.append("dga-classifier skipped (360netlab feed or top domains missing)")
    return "web: " + "; ".join(parts)
