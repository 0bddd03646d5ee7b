"""A real TAXII 2.1 server for the intel tests: medallion (memory backend) in a subprocess on a free port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

API_ROOT = "api1"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
USER, PASSWORD = "analyst", "s3cret-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, objects: list[dict], port: int, page_size: int) -> Path:
    """medallion's JSON config plus its memory-backend data file, seeded with ``objects``."""
    base = f"http://127.0.0.1:{port}"
    manifest = [{"id": o["id"], "date_added": f"2026-01-01T00:00:{i // 1000:02d}.{i % 1000:03d}000Z",
                 "version": o.get("modified", o.get("created", "2026-01-01T00:00:00.000Z")),
                 "media_type": "application/stix+json;version=2.1"} for i, o in enumerate(objects)]
    data = {
        "/discovery": {"title": "ThreatML test TAXII server", "default": f"{base}/{API_ROOT}/",
                       "api_roots": [f"{base}/{API_ROOT}/"]},
        API_ROOT: {
            "information": {"title": "test api root", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 100_000_000},
            "status": [],
            "collections": [{"id": COLLECTION, "title": "indicators", "can_read": True, "can_write": False,
                             "media_types": ["application/stix+json;version=2.1"],
                             "objects": objects, "manifest": manifest}],
        },
    }
    (folder / "data.json").write_text(json.dumps(data))
    cfg = {"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                       "filename": str(folder / "data.json")},
           "users": {USER: PASSWORD}, "taxii": {"max_page_size": page_size}}
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder / "config.json"


@contextmanager
def taxii_server(folder: Path, objects: list[dict], page_size: int = 50):
    """Start medallion serving ``objects``; yields the collection URL (``taxii+http://...``)."""
    port = _free_port()
    cfg = write_config(folder, objects, port, page_size)
    log = (folder / "medallion.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1", "--port", str(port),
                             str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/{API_ROOT}/collections/{COLLECTION}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"medallion exited: {(folder / 'medallion.log').read_text()[-2000:]}")
            try:
                r = requests.get(f"http://127.0.0.1:{port}/taxii2/", auth=(USER, PASSWORD), timeout=2,
                                 headers={"Accept": "application/taxii+json;version=2.1"})
                if r.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("medallion did not start within 20 s")
            time.sleep(0.1)
        yield "taxii+" + url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
