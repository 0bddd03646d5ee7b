"""Structured features of a parsed message: what the LightGBM model and the explanations use.

Each feature is a column ``email.f.<name>`` of an ``email`` event batch (the
reader computes them once), with a description used to explain verdicts.
Header features are NaN for texts without headers (SMS, body-only corpora),
so the model reads them as unknown rather than as "absent".

>>> from threatml.email.parse import parse_text
>>> f = features_of(parse_text("Call now! http://192.168.1.9:8080/x"))
>>> f["url_ip"], f["url_unusual_port"], f["spf_fail"] != f["spf_fail"]
(1.0, 1.0, True)
"""

from __future__ import annotations

import math
import re

from threatml.email.domains import BRAND_DOMAINS, BRAND_WORDS, has_non_ascii, lookalike_of, split_host
from threatml.email.headers import display_name_domains, domain_of
from threatml.email.parse import ParsedEmail

FREE_MAIL = frozenset({"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "live.com", "msn.com",
                       "mail.ru", "yandex.ru", "gmx.com", "gmx.de", "protonmail.com", "icloud.com", "mail.com",
                       "yahoo.co.uk", "hotmail.co.uk", "qq.com", "163.com"})

#: name -> description (what a high value means), in model order
FEATURES: dict[str, str] = {
    # headers
    "missing_message_id": "no Message-ID header",
    "missing_date": "no Date header",
    "missing_to": "no To/Cc recipient",
    "n_received": "number of Received hops",
    "n_relay_ips": "public relay addresses in the Received chain",
    "replyto_differs": "Reply-To domain differs from the From domain",
    "returnpath_differs": "Return-Path domain differs from the From domain",
    "display_name_address": "the display name holds an e-mail address",
    "display_name_spoof": "the display name shows an address or brand of another domain than the sender's",
    "sender_lookalike": "sender domain imitates a well-known brand domain",
    "sender_non_ascii": "sender domain is punycode / non-ASCII",
    "sender_free_mail": "sender uses a free-mail provider",
    "sender_digits": "digits in the sender's domain name",
    "auth_results": "Authentication-Results present",
    "spf_fail": "SPF failed (fail/softfail)",
    "dkim_fail": "DKIM failed",
    "dmarc_fail": "DMARC failed",
    "spf_pass": "SPF passed",
    "dkim_pass": "DKIM passed",
    "dmarc_pass": "DMARC passed",
    "is_reply": "In-Reply-To/References present (part of a conversation)",
    "date_skew_hours": "hours between the Date header and arrival",
    "subject_len": "subject length",
    "subject_upper": "share of capital letters in the subject",
    "subject_exclaim": "exclamation and dollar signs in the subject",
    "n_to": "number of recipients",
    # body
    "log_text_len": "length of the visible text (log)",
    "html_only": "HTML body without a plain-text alternative",
    "n_parts": "MIME parts",
    "hidden_chars": "characters hidden by CSS (display:none, visibility:hidden, ...)",
    "zero_font_chars": "characters in zero or 1px fonts",
    "invisible_chars": "zero-width / invisible characters",
    "n_scripts": "HTML scripts",
    "n_forms": "HTML forms",
    "n_iframes": "HTML iframes",
    "n_images": "HTML images",
    "meta_refresh": "HTML meta refresh",
    "text_upper": "share of capital letters in the text",
    "text_exclaim": "exclamation marks per 1000 characters",
    "money": "currency signs and amounts per 1000 characters",
    "brand_words": "brand names mentioned in the subject or the first 6,000 characters",
    "long_numbers": "phone-number-like digit runs (5 or more digits)",
    # lure language: what phishing asks for, in any year (counts of distinct terms / phrases)
    "credential_words": "words about accounts, passwords and verification",
    "threat_words": "words threatening suspension, locking or expiry, or pressing for speed",
    "action_phrases": "requests to click, log in, verify, confirm or update",
    "generic_greeting": "a generic greeting (dear customer / member / user ...)",
    # urls
    "n_urls": "URLs",
    "n_url_domains": "distinct URL domains",
    "url_ip": "URLs with an IP-address host",
    "url_shortener": "URLs on a link shortener",
    "url_unusual_port": "URLs on a port other than 80/443",
    "url_at_sign": "URLs with '@' in the host part",
    "url_punycode": "URLs with punycode / non-ASCII hosts",
    "url_suspicious_tld": "URLs on high-abuse top-level domains",
    "url_brand_outside": "URLs naming a brand outside their registered domain",
    "url_anchor_mismatch": "links whose text shows another domain than their target",
    "url_max_len": "longest URL",
    "url_max_subdomains": "most subdomain levels in a URL host",
    "url_other_domain_share": "share of URL domains other than the sender's",
    "form_external": "HTML forms posting to a URL",
    "password_inputs": "HTML password fields",
    "url_action_anchor": "links whose text asks to click, log in, verify or update",
    "url_login_path": "URLs whose path looks like a sign-in or account page",
    # attachments
    "n_attachments": "attachments",
    "att_executable": "executable or script attachments",
    "att_macro": "macro-enabled Office attachments",
    "att_archive": "archive attachments",
    "att_double_ext": "attachment names with a double extension",
    "att_html": "HTML attachments",
    "att_type_mismatch": "attachments whose content contradicts their extension",
    "att_archive_exec": "executables inside archives",
    "att_nested_archive": "archives inside archives",
    "att_encrypted": "password-protected archives",
    "att_zip_bomb": "archives declaring an absurd unpacked size",
    # parse problems
    "n_defects": "MIME defects and limits hit",
    "unknown_charset": "parts in unknown charsets",
}
#: yes/no features, explained as a statement rather than "= 1"
FLAGS = frozenset({"missing_message_id", "missing_date", "missing_to", "replyto_differs", "returnpath_differs",
                   "display_name_address", "display_name_spoof", "sender_lookalike", "sender_non_ascii",
                   "sender_free_mail", "auth_results", "spf_fail", "dkim_fail", "dmarc_fail", "spf_pass", "dkim_pass",
                   "dmarc_pass", "is_reply", "html_only", "generic_greeting"})
HEADER_FEATURES = frozenset(list(FEATURES)[: list(FEATURES).index("n_to") + 1])
COLUMNS = [f"email.f.{k}" for k in FEATURES]
_CURRENCY = re.compile(r"[$€£¥]\s?\d")
_MONEY_WORD = re.compile(r"\b\d+(?:[.,]\d+)?\s?(?:usd|eur|dollars?|euros?|pounds?)\b")
_DIGITS5 = re.compile(r"\d{5,}(?![\w.])")


def _money(t: str) -> int:
    """Currency amounts: ``$5``, ``€ 20``, ``100 dollars`` (the word form only looked for when a currency word is there).

    >>> _money("Win $5,000 or 300 USD, not 12 apples")
    2
    """
    n = len(_CURRENCY.findall(t))
    low = t.lower()
    if "usd" in low or "eur" in low or "dollar" in low or "pound" in low:
        n += len(_MONEY_WORD.findall(low))
    return n


def _long_numbers(t: str) -> int:
    """Runs of 5+ digits standing alone (phone numbers, reference numbers); the regular expression starts
    at a digit and the character before is checked here, which is much faster than a look-behind.

    >>> _long_numbers("call 0800123456 ref A12345 or 3.14159 99999")
    2
    """
    n = 0
    for m in _DIGITS5.finditer(t):
        s = m.start()
        if s == 0 or not (t[s - 1].isalnum() or t[s - 1] in "._"):
            n += 1
    return n
_NAN = float("nan")


_UPPER = bytes(range(65, 91))
_LETTERS = _UPPER + bytes(range(97, 123))
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script: lures come in every language
CREDENTIAL_WORDS = frozenset({
    "password", "passwords", "passcode", "pin", "login", "logon", "signin", "username", "userid", "credentials",
    "verify", "verification", "confirm", "confirmation", "validate", "validation", "authenticate", "ssn", "cvv",
    "cvv2", "billing", "account", "accounts", "identity", "reactivate", "unlock", "mailbox", "webmail",
    # the same requests in the other languages phishing kits ship most (de, fr, es, pt, it, nl)
    "passwort", "kennwort", "konto", "zugangsdaten", "bestätigen", "verifizieren", "anmelden", "anmeldung",
    "mot", "passe", "compte", "identifiant", "vérifier", "confirmer", "connexion", "contraseña", "cuenta",
    "verificar", "confirmar", "senha", "conta", "acesso", "cadastro", "credenziali", "verifica", "wachtwoord",
    "rekening", "inloggen", "bevestigen"})
THREAT_WORDS = frozenset({
    "suspend", "suspended", "suspension", "locked", "limited", "restricted", "unauthorized", "unusual", "terminated",
    "deactivated", "disabled", "expire", "expires", "expired", "expiration", "urgent", "urgently", "immediately",
    "fraud", "fraudulent", "compromised", "violation", "blocked", "deleted", "closure", "permanently",
    "gesperrt", "sperrung", "dringend", "abgelaufen", "eingeschränkt", "suspendu", "bloqué", "urgent", "expiré",
    "suspendida", "bloqueada", "bloqueado", "urgente", "expira", "suspensa", "sospeso", "bloccato", "geblokkeerd"})
ACTION_PHRASES = ("click here", "click the link", "click below", "click on the link", "log in", "login to",
                  "sign in", "sign on", "update your", "verify your", "confirm your", "validate your",
                  "restore your", "reactivate your", "unlock your", "follow the link")
GREETINGS = ("dear customer", "dear member", "dear user", "dear client", "dear valued", "dear account",
             "dear sir/madam", "dear account holder", "dear email user", "dear paypal", "dear ebay")
_ACTION_ANCHOR = re.compile(r"click|log ?in|sign ?in|verify|update|confirm|unlock|restore|validate|review", re.I)
_LOGIN_PATH = re.compile(r"log-?in|sign-?in|logon|verif|account|secure|update|webscr|confirm|auth|wp-", re.I)


def _upper_share(s: str) -> float:
    """Share of capital letters among ASCII letters (bytes.translate: C speed).

    >>> _upper_share("ABcd é")
    0.5
    """
    b = s[:2000].encode("ascii", "ignore")
    n = len(b) - len(b.translate(None, _LETTERS))
    return (len(b) - len(b.translate(None, _UPPER))) / n if n else 0.0


LURE_CHARS = 6000  # a lure sits at the top of a message; the rest of a long newsletter only costs time


def lure_features(subject: str, text: str) -> dict[str, float]:
    """Phishing language that does not depend on the era or the brand.

    >>> f = lure_features("Account suspended", "Dear Customer, verify your password immediately: click here")
    >>> f["credential_words"], f["threat_words"], f["action_phrases"], f["generic_greeting"]
    (3.0, 2.0, 2.0, 1.0)
    """
    low = (subject + "\n" + text[:LURE_CHARS]).lower()
    words = set(_WORD.findall(low))
    return {"credential_words": float(len(words & CREDENTIAL_WORDS)),
            "threat_words": float(len(words & THREAT_WORDS)),
            "action_phrases": float(sum(ph in low for ph in ACTION_PHRASES)),
            "generic_greeting": float(any(g in low for g in GREETINGS)),
            "brand_words": float(len(words & BRAND_WORDS))}


def features_of(p: ParsedEmail) -> dict[str, float]:
    """Every feature of :data:`FEATURES` for one message (floats, NaN = unknown)."""
    f: dict[str, float] = {}
    sender = domain_of(p.from_addr)
    s_sub, s_label, s_suffix = split_host(sender) if sender else ("", "", "")
    s_reg = f"{s_label}.{s_suffix}" if s_label and s_suffix else sender
    if p.has_headers:
        h = p.header_names
        f["missing_message_id"] = float("message-id" not in h)
        f["missing_date"] = float("date" not in h)
        f["missing_to"] = float(not p.to_addrs)
        f["n_received"] = float(len(p.received))
        f["n_relay_ips"] = float(len(p.relay_ips))
        rt, rp = domain_of(p.reply_to), domain_of(p.return_path)
        f["replyto_differs"] = float(bool(rt and sender and rt != sender and not rt.endswith("." + s_reg)))
        f["returnpath_differs"] = float(bool(rp and sender and rp != sender and not rp.endswith("." + s_reg)
                                             and not sender.endswith("." + rp)))
        shown = display_name_domains(p.from_name)
        f["display_name_address"] = float(bool(shown))
        name_words = set(re.findall(r"[a-z0-9]+", p.from_name.lower()))
        brand_in_name = {b for b in BRAND_WORDS if b in name_words}
        f["display_name_spoof"] = float(any(d != sender for d in shown) or bool(brand_in_name and s_label not in brand_in_name))
        f["sender_lookalike"] = float(bool(sender and lookalike_of(sender, BRAND_DOMAINS)))
        f["sender_non_ascii"] = float(has_non_ascii(sender))
        f["sender_free_mail"] = float(s_reg in FREE_MAIL)
        f["sender_digits"] = float(sum(c.isdigit() for c in s_label))
        a = p.auth
        f["auth_results"] = float(bool(a))
        f["spf_fail"] = float(a.get("spf") in ("fail", "softfail")) if a else _NAN
        f["dkim_fail"] = float(a.get("dkim") in ("fail", "permerror")) if a else _NAN
        f["dmarc_fail"] = float(a.get("dmarc") == "fail") if a else _NAN
        f["spf_pass"] = float(a.get("spf") == "pass") if a else _NAN
        f["dkim_pass"] = float(a.get("dkim") == "pass") if a else _NAN
        f["dmarc_pass"] = float(a.get("dmarc") == "pass") if a else _NAN
        f["is_reply"] = float("in-reply-to" in h or "references" in h)
        f["date_skew_hours"] = abs(p.date - p.received_at) / 3600 if p.date == p.date and p.received_at == p.received_at else _NAN
        f["subject_len"] = float(len(p.subject))
        f["subject_upper"] = _upper_share(p.subject)
        f["subject_exclaim"] = float(p.subject.count("!") + p.subject.count("$"))
        f["n_to"] = float(len(p.to_addrs))
    else:
        for k in HEADER_FEATURES:
            f[k] = _NAN
    t = p.text
    n = max(1, len(t))
    f["log_text_len"] = math.log1p(len(t))
    f["html_only"] = float(p.html_chars > 0 and p.plain_chars == 0)
    f["n_parts"] = float(p.n_parts)
    hh = p.html
    f["hidden_chars"] = math.log1p(hh.hidden_chars)
    f["zero_font_chars"] = math.log1p(hh.zero_font_chars)
    f["invisible_chars"] = float(p.invisible_chars)
    f["n_scripts"] = float(hh.scripts)
    f["n_forms"] = float(hh.forms)
    f["n_iframes"] = float(hh.iframes)
    f["n_images"] = float(hh.images)
    f["meta_refresh"] = float(hh.meta_refresh)
    f["text_upper"] = _upper_share(t)
    f["text_exclaim"] = 1000.0 * t.count("!") / n
    f["money"] = 1000.0 * _money(t[:20_000]) / n
    f["long_numbers"] = float(_long_numbers(t[:20_000]))
    f.update(lure_features(p.subject, t))
    u = p.urls
    doms = {x.domain for x in u if x.domain}
    f["n_urls"] = float(len(u))
    f["n_url_domains"] = float(len(doms))
    f["url_ip"] = float(sum(x.ip_host for x in u))
    f["url_shortener"] = float(sum(x.shortener for x in u))
    f["url_unusual_port"] = float(sum(x.unusual_port for x in u))
    f["url_at_sign"] = float(sum(x.at_sign for x in u))
    f["url_punycode"] = float(sum(x.punycode for x in u))
    f["url_suspicious_tld"] = float(sum(x.suspicious_tld for x in u))
    f["url_brand_outside"] = float(sum(x.brand_outside_domain for x in u))
    f["url_anchor_mismatch"] = float(sum(x.anchor_mismatch for x in u))
    f["url_max_len"] = float(max((x.length for x in u), default=0))
    f["url_max_subdomains"] = float(max((x.subdomain_depth for x in u), default=0))
    f["url_other_domain_share"] = (sum(d != s_reg for d in doms) / len(doms)) if doms and p.has_headers else _NAN
    f["form_external"] = float(sum(a.lower().startswith(("http:", "https:", "//")) for a in hh.form_actions))
    f["password_inputs"] = float(hh.password_inputs)
    f["url_action_anchor"] = float(sum(bool(x.anchor) and _ACTION_ANCHOR.search(x.anchor) is not None for x in u))
    f["url_login_path"] = float(sum(_LOGIN_PATH.search(x.url[8:]) is not None for x in u))
    at = p.attachments
    f["n_attachments"] = float(len(at))
    f["att_executable"] = float(sum(a.executable for a in at))
    f["att_macro"] = float(sum(a.macro_office for a in at))
    f["att_archive"] = float(sum(a.archive for a in at))
    f["att_double_ext"] = float(sum(a.double_extension for a in at))
    f["att_html"] = float(sum(a.html for a in at))
    f["att_type_mismatch"] = float(sum(a.type_mismatch for a in at))
    f["att_archive_exec"] = float(sum(a.archive_executables for a in at))
    f["att_nested_archive"] = float(sum(a.archive_nested for a in at))
    f["att_encrypted"] = float(sum(a.archive_encrypted for a in at))
    f["att_zip_bomb"] = float(sum(a.zip_bomb for a in at))
    f["n_defects"] = float(len(p.defects))
    f["unknown_charset"] = float(p.unknown_charsets)
    return f


def headerless_features(subject: str, text: str) -> dict[str, float]:
    """The features the same message has when only its subject and visible text are known.

    That is what a plain-text corpus (Enron-Spam-like dumps, SMS) gives; the classifier trains on
    this view of every message too, so header-less text follows a learned path.

    >>> f = headerless_features("Verify now", "Your account is locked. http://10.1.2.3/x")
    >>> f["url_ip"], f["credential_words"], f["spf_fail"] != f["spf_fail"]
    (1.0, 2.0, True)
    """
    from threatml.email.parse import parse_text

    p = parse_text(text)
    p.subject = subject
    return features_of(p)


def describe(name: str, value: float) -> str:
    """One phrase for a feature and its value, for explanations.

    >>> describe("url_ip", 2.0), describe("spf_fail", 1.0), describe("is_reply", 0.0)
    ('URLs with an IP-address host = 2', 'SPF failed (fail/softfail): yes', 'In-Reply-To/References present (part of a conversation): no')
    """
    d = FEATURES.get(name, name)
    if value != value:
        return f"{d}: unknown"
    if name in FLAGS:
        return f"{d}: {'yes' if value else 'no'}"
    if name in ("log_text_len", "hidden_chars", "zero_font_chars"):
        value = math.expm1(value)
    if float(value).is_integer():
        return f"{d} = {int(value)}"
    return f"{d} = {value:.2f}"
