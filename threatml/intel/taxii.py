"""TAXII 2.1 collections as an indicator source (client: ``taxii2-client``).

``--intel taxii+https://host/api-root/collections/<id>/`` fetches every object
of the collection, page by page (``limit``/``next``), and loads it as STIX
(:func:`threatml.intel.stix.stix_set`). ``taxii+http://`` is for a server on
a trusted network (tests, a local relay); ``taxii://`` means https.

Credentials come from the environment, never from the command line:
``THREATML_TAXII_USER`` / ``THREATML_TAXII_PASSWORD`` (HTTP basic auth);
``THREATML_TAXII_CA_BUNDLE`` names a CA file for a private server's
certificate. Every request has a timeout and the number of objects is capped
(``max_objects``), so a slow or endless server cannot hang a scan or fill memory.
Only the URL the user gave is contacted.

>>> split_taxii_url("taxii+https://intel.example/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/")
('https://intel.example/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/', '91a7b528-80eb-42ed-a74d-c6fbd5a26116')
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from threatml.errors import InputError, ReadReport
from threatml.intel.indicators import IndicatorSet

USER_ENV, PASSWORD_ENV, CA_ENV = "THREATML_TAXII_USER", "THREATML_TAXII_PASSWORD", "THREATML_TAXII_CA_BUNDLE"
_FORM = "expected taxii+https://HOST/API-ROOT/collections/COLLECTION-ID/"


def split_taxii_url(url: str) -> tuple[str, str]:
    """``taxii+https://...`` -> (plain collection URL with a trailing slash, collection id)."""
    raw = url.strip()
    low = raw.lower()
    if low.startswith("taxii+"):
        raw = raw[len("taxii+"):]
    elif low.startswith("taxii://"):
        raw = "https://" + raw[len("taxii://"):]
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(url, f"not a TAXII collection URL ({_FORM})")
    if parts.username or parts.password:
        raise InputError(_redact(url), f"credentials in the URL are not accepted: set {USER_ENV} and {PASSWORD_ENV}")
    m = re.search(r"/collections/([^/]+)/?$", parts.path)
    if not m:
        raise InputError(url, f"no collection in the URL ({_FORM})")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), m.group(1)


def load_taxii(url: str, report: ReadReport | None = None, observables: bool = False, per_request: int = 1000,
               max_objects: int = 2_000_000, timeout: float = 60.0) -> IndicatorSet:
    """Fetch a TAXII 2.1 collection's objects (all pages) and load them as STIX indicators.

    Network, HTTP, authentication and protocol failures become an
    :class:`~threatml.errors.InputError` naming the URL. Reaching ``max_objects``
    stops the download and is counted in the report.
    """
    import requests
    from taxii2client.exceptions import TAXIIServiceException
    from taxii2client.v21 import Collection, as_pages

    from threatml.intel.stix import stix_set

    report = report if report is not None else ReadReport()
    coll_url, coll_id = split_taxii_url(url)
    where = url.strip()
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    verify: bool | str = os.environ.get(CA_ENV) or True
    objects: list = []
    truncated = False
    try:
        coll = Collection(coll_url, user=user, password=password, verify=verify)
        _bound_requests(coll._conn.session, timeout)
        try:
            if not coll.can_read:
                raise InputError(where, "the TAXII collection does not allow reading")
            for envelope in as_pages(coll.get_objects, per_request=per_request):
                if not isinstance(envelope, dict):
                    raise InputError(where, "not a TAXII 2.1 collection: an answer is not a JSON object")
                page = envelope.get("objects") or []
                if not isinstance(page, list):
                    raise InputError(where, "not a TAXII 2.1 collection: 'objects' is not a list")
                room = max_objects - len(objects)
                objects.extend(page[:room])
                if len(page) > room or (len(objects) >= max_objects and envelope.get("more")):
                    truncated = True
                    break
                if not page:  # a server that says "more" but sends nothing would loop forever
                    break
        finally:
            coll.close()
    except InputError:
        raise
    except requests.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        hint = f" (set {USER_ENV}/{PASSWORD_ENV})" if code in (401, 403) else ""
        raise InputError(where, f"TAXII server answered HTTP {code}{hint}") from None
    except requests.RequestException as exc:
        raise InputError(where, f"cannot reach the TAXII server: {type(exc).__name__}: {_short(exc)}") from None
    except (TAXIIServiceException, ValueError, KeyError, TypeError) as exc:
        raise InputError(where, f"not a TAXII 2.1 collection: {_short(exc)}") from None
    if truncated:
        report.skip(where, f"objects beyond max_objects={max_objects:,} not fetched", n=1)
    host = urlsplit(coll_url).netloc
    out = stix_set(objects, where, f"taxii:{host}/{coll_id}", report, observables)
    report.formats[where] = "taxii"
    return out


def _bound_requests(session, timeout: float) -> None:
    """Give every request of this session a timeout (taxii2-client sets none)."""
    from requests.adapters import HTTPAdapter

    class _Timeout(HTTPAdapter):
        def send(self, request, **kw):
            kw["timeout"] = kw.get("timeout") or timeout
            return super().send(request, **kw)

    for prefix in ("http://", "https://"):
        session.mount(prefix, _Timeout(max_retries=1))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
