"""LSASS memory access (credential dumping): Sysmon 10 and 4656/4663 handles on lsass.exe.

A process opening ``lsass.exe`` with a memory-read right (``PROCESS_VM_READ``
0x10, or full access) is the signature of credential dumping (mimikatz
``sekurlsa``, procdump, comsvcs MiniDump). Known system readers (antivirus,
``csrss``, ``wininit``, ``services``, ``svchost``, ``wmiprvse``, ``MsMpEng`` ...)
are left out. One finding per (host, accessing image) and ``gap``; high
severity, critical when the image or the call trace names a dumping tool
(mimikatz, procdump, ``dbghelp``/``dbgcore`` MiniDumpWriteDump, comsvcs).
ATT&CK T1003.001.
"""

from __future__ import annotations


from threatml.detectors.base import Detector
from threatml.detectors.identity.common import IdentityState, when
from threatml.events import EventBatch
from threatml.findings import Finding
from threatml.findings.schema import MAX_EVIDENCE

BENIGN_IMAGES = frozenset({
    "csrss.exe", "wininit.exe", "services.exe", "svchost.exe", "wmiprvse.exe", "msmpeng.exe", "lsm.exe",
    "mrt.exe", "vmtoolsd.exe", "taskmgr.exe", "searchindexer.exe", "smartscreen.exe", "lsaiso.exe",
    "mssense.exe", "senseir.exe", "nissrv.exe", "securityhealthservice.exe", "wmiapsrv.exe",
})
TOOL_HINTS = ("mimikatz", "procdump", "dbghelp", "dbgcore", "comsvcs", "sqldumper", "nanodump", "pypykatz",
              "lsassy", "outminidump", "rdrleakdiag", "werfault")
VM_READ = 0x10


def _reads_memory(mask: str) -> bool:
    try:
        m = int(mask, 16) if mask.lower().startswith("0x") else int(mask)
    except ValueError:
        return False
    return bool(m & VM_READ) or m in (0x1F3FFF, 0x1FFFFF, 0x143A)


class LsassAccessDetector(Detector):
    name = "identity.lsass_access"
    version = "1"
    kinds = frozenset({"process"})

    def __init__(self, gap: float = 3600.0, state: IdentityState | None = None):
        self.gap = gap
        self.state = state or IdentityState()
        self.open: dict[tuple[str, str], dict] = {}

    def process(self, batch: EventBatch) -> list[Finding]:
        f = batch.frame
        if f.empty:
            return []
        tgt = f["process.target.executable"].astype("str").str.lower()
        m = tgt.str.endswith("lsass.exe").to_numpy()
        out: list[Finding] = []
        if not m.any():
            return out
        a = f.loc[m, ["@timestamp", "host.name", "process.executable", "process.granted_access",
                   "process.call_trace", "user.name", "event.id", "event.action"]]
        for t, host, img, mask, trace, user, eid, act in zip(
                a["@timestamp"].to_numpy("float64"), a["host.name"].to_numpy(object),
                a["process.executable"].to_numpy(object), a["process.granted_access"].to_numpy(object),
                a["process.call_trace"].to_numpy(object), a["user.name"].to_numpy(object),
                a["event.id"].to_numpy(object), a["event.action"].to_numpy(object)):
            base = img.replace("/", "\\").rsplit("\\", 1)[-1].lower()
            if base in BENIGN_IMAGES or not _reads_memory(mask or "0"):
                continue
            key = (host, img)
            c = self.open.get(key)
            if c is not None and t == t and t - c["end"] > self.gap:
                out.append(self._finding(key, self.open.pop(key)))
                c = None
            if c is None:
                c = self.open[key] = {"start": t, "end": t, "masks": set(), "trace": "", "users": set(),
                                      "evidence": [], "files": set(), "actions": set()}
            if t == t:
                c["start"] = min(c["start"], t) if c["start"] == c["start"] else t
                c["end"] = max(c["end"], t) if c["end"] == c["end"] else t
            c["masks"].add(mask)
            c["trace"] = c["trace"] or trace
            if user:
                c["users"].add(user)
            if len(c["evidence"]) < MAX_EVIDENCE:
                c["evidence"].append(eid)
            c["files"].add(batch.source)
            c["actions"].add(act)
        return out

    def flush(self) -> list[Finding]:
        out = [self._finding(k, c) for k, c in self.open.items()]
        self.open.clear()
        return out

    def _finding(self, key: tuple[str, str], c: dict) -> Finding:
        host, img = key
        text = f"{img} {c['trace']}".lower()
        tool = [h for h in TOOL_HINTS if h in text]
        score = 0.95 if tool else 0.8
        expl = [f"{img} opened lsass.exe on {host or 'an unknown host'} with access {', '.join(sorted(c['masks']))} "
                f"(includes reading process memory) at {when(c['start'])}.",
                "Baseline: only system processes (csrss, wininit, services, antivirus) read LSASS memory; "
                "any other reader is credential dumping until shown otherwise."]
        if tool:
            expl.insert(1, f"Dumping tool indicators in the image or call trace: {', '.join(tool)}.")
        users = sorted(c["users"])[:20]
        entity = host or img
        return Finding.make(
            detector=self.name, detector_version=self.version,
            title=f"LSASS memory access by {img.replace(chr(92), '/').rsplit('/', 1)[-1]} on {host}",
            start=c["start"], end=c["end"], entity_type="host", entity=entity, score=score, attack=["T1003.001"],
            evidence=c["evidence"], explanation=expl,
            related={k: v for k, v in {"host": [host] if host else [], "user": users}.items() if v},
            source_files=sorted(c["files"]),
            attributes={"image": img, "granted_access": ",".join(sorted(c["masks"])),
                        **self.state.risk_attrs(entity, score, c["end"])},
        )
