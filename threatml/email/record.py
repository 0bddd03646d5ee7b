"""ParsedEmail -> one ``email`` event row (schema fields, plus ``email.f.*`` features).

>>> from threatml.email.parse import parse_text
>>> r = to_row(parse_text("hi http://a.example/x"), "sms.tsv:2", "sms", label="ham")
>>> r["event.id"], r["email.urls"], r["email.f.n_urls"], r["label"]
('sms.tsv:2', 'http://a.example/x', 1.0, 'ham')
"""

from __future__ import annotations

from threatml.email.domains import registered_domain
from threatml.email.features import features_of
from threatml.email.headers import clean, domain_of
from threatml.email.parse import ParsedEmail

MAX_BODY = 20_000  # characters of visible text carried in the event (the model reads up to this)


def to_row(p: ParsedEmail, event_id: str, dataset: str, label: str = "", detail: str = "") -> dict:
    sender = domain_of(p.from_addr)
    row = {
        "event.id": event_id,
        "event.dataset": dataset,
        "@timestamp": p.time,
        "email.message_id": p.message_id,
        "email.from.address": p.from_addr,
        "email.from.display_name": p.from_name,
        "email.to.address": ",".join(p.to_addrs),
        "email.subject": p.subject,
        "email.reply_to.address": p.reply_to,
        "email.return_path": p.return_path,
        "email.sender.domain": registered_domain(sender) if sender else "",
        "email.body": p.text[:MAX_BODY],
        "email.urls": " ".join(u.url.replace(" ", "%20") for u in p.urls[:100]),
        "email.url.domains": ",".join(dict.fromkeys(u.domain for u in p.urls if u.domain)),
        "email.attachments.file.name": ",".join(a.name.replace(",", " ") for a in p.attachments),
        "email.attachments.file.hash.sha256": ",".join(a.sha256 for a in p.attachments),
        "email.attachments.file.type": ",".join(a.file_type for a in p.attachments),
        "email.auth.spf": p.auth.get("spf", ""),
        "email.auth.dkim": p.auth.get("dkim", ""),
        "email.auth.dmarc": p.auth.get("dmarc", ""),
        "email.received.count": float(len(p.received)) if p.has_headers else float("nan"),
        "source.ip": p.relay_ips[-1] if p.relay_ips else "",
        "email.defects": ";".join(p.defects),
        "label": label,
        "label.detail": detail,
    }
    for k, v in row.items():
        if isinstance(v, str):
            row[k] = clean(v)
    row.update({f"email.f.{k}": v for k, v in features_of(p).items()})
    return row
