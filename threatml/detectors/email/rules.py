"""Rule signals of a message row that stand on their own, model or not.

Each signal is (score, sentence). They use the event columns the reader
fills (``email.f.*`` features, addresses, URL domains) and the user's
protected domains (``--protected-domain``), so they flag, for instance, a
lookalike of your own domain even where the model has never seen one.

>>> row = {"email.from.address": "it@examp1e.com", "email.url.domains": "", "email.reply_to.address": "",
...        "email.from.display_name": "", "email.f.att_executable": 0.0}
>>> [round(s, 2) for s, _ in rule_signals(row, ("example.com",))]
[0.9]
"""

from __future__ import annotations

from threatml.email.domains import lookalike_of, registered_domain
from threatml.email.headers import display_name_domains, domain_of

_HOW = {"homoglyph": "look-alike characters", "typo": "a one- or two-letter change", "combo": "the name plus extra words",
        "subdomain": "the name as a subdomain of another domain", "other-suffix": "the same name under another suffix"}


#: the event columns the rules read (the detector hands over only these for every message)
COLUMNS = ("email.from.address", "email.reply_to.address", "email.url.domains", "email.from.display_name",
           "email.auth.spf", "email.auth.dkim", "email.auth.dmarc",
           *(f"email.f.{n}" for n in ("att_executable", "att_archive_exec", "att_double_ext", "att_type_mismatch",
                                      "att_macro", "att_zip_bomb", "url_anchor_mismatch", "url_ip", "url_brand_outside",
                                      "dmarc_fail", "display_name_spoof")))


def _f(row: dict, name: str) -> float:
    v = row.get(f"email.f.{name}", 0.0)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if v != v else v


def rule_signals(row: dict, protected: tuple[str, ...] = ()) -> list[tuple[float, str]]:
    """Signals of one ``email`` event row, strongest first."""
    out: list[tuple[float, str]] = []
    sender = domain_of(str(row.get("email.from.address", "")))
    if protected:
        prot = tuple(p.lower() for p in protected)
        for role, dom in (("sender", sender), ("reply-to", domain_of(str(row.get("email.reply_to.address", ""))))):
            hit = lookalike_of(dom, prot) if dom else None
            if hit:
                out.append((0.9, f"{role} domain {dom} imitates your domain {hit[0]} ({_HOW.get(hit[1], hit[1])})"))
        for dom in [d for d in str(row.get("email.url.domains", "")).split(",") if d][:50]:
            hit = lookalike_of(dom, prot)
            if hit:
                out.append((0.85, f"a link goes to {dom}, which imitates your domain {hit[0]} ({_HOW.get(hit[1], hit[1])})"))
                break
        for d in display_name_domains(str(row.get("email.from.display_name", ""))):
            if registered_domain(d) in prot and registered_domain(sender) not in prot:
                out.append((0.7, f"the display name shows {d} but the mail comes from {sender or 'no address'}"))
                break
        if registered_domain(sender) in prot:
            verdicts = {k: str(row.get(f"email.auth.{k}", "")) for k in ("spf", "dkim", "dmarc")}
            failed = [k.upper() for k, v in verdicts.items() if v in ("fail", "softfail", "permerror")]
            if failed:
                out.append((0.8, f"claims to come from your domain {sender} but {', '.join(failed)} failed"))
    if _f(row, "att_executable") or _f(row, "att_archive_exec"):
        out.append((0.8, "carries an executable or script (attached or inside an archive)"))
    if _f(row, "att_double_ext"):
        out.append((0.75, "an attachment hides its type behind a double extension"))
    if _f(row, "att_type_mismatch"):
        out.append((0.75, "an attachment's content contradicts its extension (a program named as a document)"))
    if _f(row, "att_macro"):
        out.append((0.6, "carries a macro-enabled Office document"))
    if _f(row, "att_zip_bomb"):
        out.append((0.6, "carries an archive that declares an absurd unpacked size (zip bomb); it was not expanded"))
    if _f(row, "url_anchor_mismatch") and (_f(row, "url_ip") or _f(row, "url_brand_outside")):
        out.append((0.6, "a link shows one domain but goes to another (an IP address or a brand name outside its domain)"))
    if _f(row, "dmarc_fail") and _f(row, "display_name_spoof"):
        out.append((0.6, "DMARC failed and the display name claims another sender"))
    out.sort(key=lambda s: -s[0])
    return out
