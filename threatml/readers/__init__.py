"""Readers turn telemetry files into event batches; ``detect`` picks one by content.

Add a reader by writing a :class:`~threatml.readers.base.Reader` subclass in its
own module and listing it in ``_REGISTRY`` below (order matters: the first
reader whose ``sniff`` accepts a file wins, so specific formats go first).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from threatml.errors import InputError
from threatml.readers.base import Reader, read_head

# module:Class, most specific first. Imported lazily so that a missing optional
# dependency of one reader cannot break the others.
_REGISTRY: list[str] = [
    "threatml.readers.pcap:PcapReader",
    # binary formats recognised by magic bytes go before the text sniffers, which
    # would otherwise spend time decoding executables as CSV
    "threatml.readers.files:FileReader",
    "threatml.readers.evtx:EvtxReader",
    "threatml.readers.zeek:ZeekReader",
    "threatml.readers.suricata:SuricataReader",
    "threatml.readers.argus:ArgusReader",
    "threatml.readers.nfdump:NfdumpReader",
    "threatml.readers.cicflowmeter:CICFlowMeterReader",
    "threatml.readers.unsw:UNSWReader",
    "threatml.readers.kdd:KDDReader",
    # ---- mail ----
    "threatml.readers.email:EmailReader",
    # ---- identity (auth.log, EVTX, Winlogbeat JSON, LANL, CERT) ----
    "threatml.readers.authlog:AuthLogReader",
    "threatml.readers.winlog_json:WinlogJsonReader",
    "threatml.readers.lanl:LanlAuthReader",
    "threatml.readers.cert:CertActivityReader",
    # ---- web server access logs ----
    "threatml.readers.weblog:AccessLogReader",
    # ---- text logs (last: the most permissive sniffers) ----
    "threatml.readers.textlog:TextLogReader",
]


def reader_classes() -> list[type[Reader]]:
    out = []
    for spec in _REGISTRY:
        mod, cls = spec.split(":")
        try:
            out.append(getattr(importlib.import_module(mod), cls))
        except (ImportError, AttributeError):
            continue
    return out


def by_name(name: str) -> type[Reader]:
    for cls in reader_classes():
        if cls.name == name:
            return cls
    raise KeyError(f"no reader named {name!r}; known: {[c.name for c in reader_classes()]}")


def detect(path: Path) -> type[Reader] | None:
    """The reader for ``path`` judged by its content, or None if no reader knows it."""
    head = read_head(Path(path))
    if not head:
        raise InputError(path, "empty file")
    for cls in reader_classes():
        if cls.sniff(head, Path(path)):
            return cls
    return None
