"""Behavioural flow detectors: quiet on a realistic benign background, one finding per injected attack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.detectors.network.beacon import BeaconDetector
from threatml.detectors.network.bruteforce import BruteForceDetector
from threatml.detectors.network.dos import DoSDetector
from threatml.detectors.network.exfil import ExfiltrationDetector
from threatml.detectors.network.portscan import PortScanDetector
from threatml.detectors.network.window import IncidentBook, WindowTable, flow_view
from threatml.errors import ReadReport
from threatml.events import EventBatch
from threatml.findings import MAX_EVIDENCE
from shared_data import DATASETS

T0 = 1_700_000_000.0
HOSTS = [f"10.1.0.{i}" for i in range(100, 140)]
RESOLVER, FILESERVER, WEBSERVER, SSHSERVER = "10.1.0.1", "10.1.0.10", "10.1.0.20", "10.1.0.22"
WEB = [f"93.184.{i // 200}.{i % 200 + 1}" for i in range(300)]
NTP = ["129.6.15.28", "129.6.15.29"]
COLS = ["@timestamp", "source.ip", "source.port", "destination.ip", "destination.port", "network.transport",
        "network.protocol", "flow.duration", "source.bytes", "destination.bytes", "source.packets",
        "destination.packets", "flow.state", "event.id"]


def _flows(ts, src, dst, dport, proto="tcp", app="", dur=1.0, sb=500.0, db=5000.0, state="SF", tag="x", rng=None):
    """Vectorised flow rows; scalars broadcast."""
    ts = np.asarray(ts, dtype="float64")
    n = len(ts)
    rng = rng or np.random.default_rng(0)

    def arr(v):
        a = np.asarray(v)
        return np.broadcast_to(a, (n,)).copy() if a.ndim == 0 else a

    sb_a, db_a = arr(sb).astype("float64"), arr(db).astype("float64")
    state_a = arr(state).astype(object)
    answered = ~np.isin(state_a, ["S0", "REJ"])
    return pd.DataFrame({
        "@timestamp": ts, "source.ip": arr(src), "source.port": rng.integers(32768, 61000, n).astype("float64"),
        "destination.ip": arr(dst), "destination.port": arr(dport).astype("float64"), "network.transport": arr(proto),
        "network.protocol": arr(app), "flow.duration": arr(dur).astype("float64"),
        "source.bytes": sb_a, "destination.bytes": np.where(answered, db_a, 0.0),
        "source.packets": np.maximum(1.0, np.ceil(sb_a / 1000) + 2),
        "destination.packets": np.where(answered, np.ceil(db_a / 1400) + 2, np.where(state_a == "REJ", 1.0, 0.0)),
        "flow.state": state_a, "event.id": [f"{tag}{i}" for i in range(n)],
    })


def background(hours: float = 2.0, seed: int = 7) -> pd.DataFrame:
    """40 workstations browsing, resolving names, syncing time, using a file server and SSH."""
    rng = np.random.default_rng(seed)
    span = hours * 3600
    parts = []
    for h_i, host in enumerate(HOSTS):
        # browsing: bursty Poisson sessions to a popular-site distribution
        n = rng.poisson(span / 12)
        ts = T0 + np.sort(rng.uniform(0, span, n))
        dst = np.array(WEB)[np.minimum(rng.zipf(1.5, n) - 1, len(WEB) - 1)]
        port = rng.choice([443.0, 80.0], n, p=[0.85, 0.15])
        state = rng.choice(["SF", "S1", "RSTO", "S0", "REJ"], n, p=[0.85, 0.06, 0.05, 0.03, 0.01])
        parts.append(_flows(ts, host, dst, port, app=np.where(port == 443, "ssl", "http"),
                            dur=rng.lognormal(0.5, 1.5, n), sb=rng.lognormal(7, 1, n), db=rng.lognormal(10, 2, n),
                            state=state, tag=f"w{h_i}_", rng=rng))
        # DNS to the resolver, a bit more often than browsing
        n = rng.poisson(span / 8)
        ts = T0 + np.sort(rng.uniform(0, span, n))
        parts.append(_flows(ts, host, RESOLVER, 53.0, proto="udp", app="dns", dur=0.02, sb=60.0, db=rng.normal(120, 30, n),
                            state="SF", tag=f"d{h_i}_", rng=rng))
        # NTP every 64 s to one of two servers: periodic but benign
        ts = T0 + rng.uniform(0, 64) + np.arange(0, span - 64, 64.0)
        parts.append(_flows(ts, host, NTP[h_i % 2], 123.0, proto="udp", app="ntp", dur=0.05, sb=48.0, db=48.0,
                            tag=f"n{h_i}_", rng=rng))
        # a few file-server sessions and an occasional admin SSH login
        n = rng.poisson(hours * 4)
        ts = T0 + np.sort(rng.uniform(0, span, n))
        parts.append(_flows(ts, host, FILESERVER, 445.0, app="smb", dur=rng.uniform(5, 600, n),
                            sb=rng.lognormal(9, 1, n), db=rng.lognormal(12, 1.5, n), tag=f"f{h_i}_", rng=rng))
        if h_i % 10 == 0:
            ts = T0 + rng.uniform(0, span, 3)
            parts.append(_flows(ts, host, SSHSERVER, 22.0, app="ssh", dur=rng.uniform(60, 1800, 3), sb=2e4, db=2e5,
                                tag=f"s{h_i}_", rng=rng))
    # external clients using the company web server (normal load)
    n = int(span / 2)
    ts = T0 + np.sort(rng.uniform(0, span, n))
    clients = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(500)]
    parts.append(_flows(ts, np.array(clients)[rng.integers(0, 500, n)], WEBSERVER, 443.0, app="ssl",
                        dur=rng.lognormal(0, 1, n), sb=rng.lognormal(7, 1, n), db=rng.lognormal(10, 1.5, n),
                        tag="c", rng=rng))
    return pd.concat(parts, ignore_index=True)


# -- the attacks ---------------------------------------------------------------
def vertical_scan(t: float = T0 + 1800) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    ports = np.arange(1, 1001)
    state = np.where(np.isin(ports, [22, 80, 445]), "RSTO", "REJ")
    return _flows(t + np.sort(rng.uniform(0, 60, 1000)), "10.1.0.66", FILESERVER, ports.astype(float),
                  dur=0.0, sb=0.0, db=0.0, state=state, tag="vs", rng=rng)


def horizontal_scan(t: float = T0 + 2400) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    dst = [f"10.1.4.{i}" for i in range(1, 255)]
    return _flows(t + np.sort(rng.uniform(0, 90, 254)), "10.1.0.67", dst, 3389.0, dur=0.0, sb=0.0, db=0.0,
                  state="S0", tag="hs", rng=rng)


def icmp_sweep(t: float = T0 + 3000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    dst = [f"192.168.5.{i}" for i in range(1, 255)]
    fr = _flows(t + np.sort(rng.uniform(0, 30, 254)), "10.1.0.68", dst, 0.0, proto="icmp", dur=0.0, sb=8.0,
                db=np.where(rng.random(254) < 0.1, 8.0, 0.0), state="OTH", tag="sw", rng=rng)
    fr["source.port"] = 8.0  # Zeek puts the ICMP type in the originator port
    fr["destination.packets"] = (fr["destination.bytes"] > 0).astype(float)
    return fr


def syn_flood(t: float = T0 + 4000) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 20_000
    src = np.array([f"203.0.{i // 200}.{i % 200 + 1}" for i in range(300)])[rng.integers(0, 300, n)]
    return _flows(t + np.sort(rng.uniform(0, 120, n)), src, WEBSERVER, 80.0, dur=0.0, sb=0.0, db=0.0,
                  state="S0", tag="syn", rng=rng)


def ssh_bruteforce(t: float = T0 + 5000, n: int = 200, tag: str = "bf") -> pd.DataFrame:
    rng = np.random.default_rng(5)
    ts = t + np.cumsum(rng.exponential(3.0, n))
    return _flows(ts, "203.0.113.50", SSHSERVER, 22.0, app="ssh", dur=rng.normal(2.0, 0.2, n),
                  sb=rng.normal(1500, 30, n), db=rng.normal(2100, 50, n), state=rng.choice(["SF", "RSTO"], n),
                  tag=tag, rng=rng)


def beacon(t: float = T0 + 600, minutes: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(6)
    ts = t + np.cumsum(rng.uniform(0.85, 1.15, minutes) * 60.0)
    return _flows(ts, "10.1.0.30", "198.51.100.77", 443.0, app="ssl", dur=rng.uniform(0.2, 0.5, minutes),
                  sb=rng.normal(310, 10, minutes), db=rng.normal(900, 20, minutes), tag="bc", rng=rng)


def exfil(t: float = T0 + 6000) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    return _flows(t + np.cumsum(rng.uniform(20, 300, 10)), "10.1.0.31", "198.51.100.99", 443.0, app="ssl", dur=100.0,
                  sb=2e8, db=rng.normal(4e5, 1e4, 10), tag="ex", rng=rng)


def detectors():
    return [PortScanDetector(), DoSDetector(), BruteForceDetector(), BeaconDetector(), ExfiltrationDetector()]


def run(frame: pd.DataFrame, dets=None, batches: int = 4, shuffle: bool = True, seed: int = 0):
    """Feed ``frame`` in time-ordered chunks (rows shuffled inside each chunk); findings per detector name."""
    dets = dets or detectors()
    frame = frame.sort_values("@timestamp", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    found: dict[str, list] = {d.name: [] for d in dets}
    for chunk in np.array_split(np.arange(len(frame)), batches):
        part = frame.iloc[rng.permutation(chunk) if shuffle else chunk]
        batch = EventBatch.of("flow", part, source="synthetic.log")
        for d in dets:
            found[d.name] += d.process(batch)
    for d in dets:
        found[d.name] += d.flush()
    return found


@pytest.fixture(scope="module")
def bg() -> pd.DataFrame:
    return background()


def test_benign_background_is_quiet(bg):
    found = run(bg)
    assert len(bg) > 50_000
    assert {k: [f.title for f in v] for k, v in found.items() if v} == {}


ATTACKS = {
    "network.portscan": {"10.1.0.66": "Vertical port scan of 10.1.0.10", "10.1.0.67": "Horizontal scan of port 3389/tcp",
                         "10.1.0.68": "Host sweep of 254 hosts"},
    "network.dos": {WEBSERVER: "DDoS SYN flood against 10.1.0.20"},
    "network.bruteforce": {"203.0.113.50": "SSH brute force against 10.1.0.22"},
    "network.beacon": {"10.1.0.30": "Beaconing from 10.1.0.30 to 198.51.100.77:443"},
    "network.exfiltration": {"10.1.0.31": "Large upload from 10.1.0.31 to 198.51.100.99"},
}


@pytest.fixture(scope="module")
def attacked(bg):
    frame = pd.concat([bg, vertical_scan(), horizontal_scan(), icmp_sweep(), syn_flood(), ssh_bruteforce(),
                       beacon(), exfil()], ignore_index=True)
    return run(frame, batches=5)


@pytest.mark.parametrize("detector", sorted(ATTACKS))
def test_each_attack_found_exactly_once(attacked, detector):
    got = {f.entity: f.title for f in attacked[detector]}
    assert len(attacked[detector]) == len(got), "one finding per incident"
    assert got == ATTACKS[detector]


def test_findings_are_complete(attacked):
    for name, findings in attacked.items():
        for f in findings:
            assert 0.0 <= f.score <= 1.0 and f.severity in ("low", "medium", "high", "critical")
            assert f.attack and f.explanation and 2 <= len(f.explanation) <= 4
            assert f.evidence and len(f.evidence) <= MAX_EVIDENCE and f.evidence_count >= len(f.evidence)
            assert f.start <= f.end and f.source_files == ["synthetic.log"]
    scan = {f.entity: f for f in attacked["network.portscan"]}["10.1.0.66"]
    assert "T1046" in scan.attack and scan.attributes["ports"] == 1000
    assert scan.explanation[0].startswith("10.1.0.66 tried 1,000 ports on 10.1.0.10 in")
    assert all(e.startswith("vs") for e in scan.evidence)
    flood = attacked["network.dos"][0]
    assert flood.entity_type == "host" and len(flood.related["sources"]) == 50
    assert flood.related["sources"][0].startswith("203.0.") and "T1498.001" in flood.attack
    assert 20_000 <= flood.evidence_count <= 20_400  # plus the normal clients of the server meanwhile
    brute = attacked["network.bruteforce"][0]
    assert brute.evidence_count == 200 and "T1110.001" in brute.attack
    assert all(e.startswith("bf") for e in brute.evidence)
    bc = attacked["network.beacon"][0]
    assert abs(bc.attributes["median_interval_s"] - 60) < 6 and bc.evidence_count == 90
    assert {"T1071", "T1071.001", "T1573"} <= set(bc.attack)
    ex = attacked["network.exfiltration"][0]
    assert ex.attributes["bytes_out"] == pytest.approx(2e9) and ex.attack[0] == "T1041"


def test_attack_split_across_batches_gives_one_finding():
    # each half alone is below the brute-force threshold (30), together above it
    bf = ssh_bruteforce(n=40)
    scan = vertical_scan()
    for frame, det, count in ((bf, BruteForceDetector(), 40), (scan, PortScanDetector(), 1000)):
        frame = frame.sort_values("@timestamp")
        half = len(frame) // 2
        out = det.process(EventBatch.of("flow", frame.iloc[:half]))
        out += det.process(EventBatch.of("flow", frame.iloc[half:]))
        out += det.flush()
        assert len(out) == 1 and out[0].evidence_count == count


def test_consecutive_windows_extend_one_incident():
    # a slow scan: 40 ports every 5 minutes for an hour is one incident, not twelve
    rng = np.random.default_rng(9)
    parts = [_flows(T0 + w * 300 + np.sort(rng.uniform(0, 290, 40)), "10.1.0.66", FILESERVER,
                    np.arange(w * 40 + 1, w * 40 + 41).astype(float), state="REJ", sb=0.0, db=0.0, tag=f"s{w}_")
             for w in range(12)]
    det = PortScanDetector()
    out = []
    for p in parts:
        out += det.process(EventBatch.of("flow", p))
    out += det.flush()
    assert len(out) == 1 and out[0].evidence_count == 480 and out[0].attributes["ports"] == 480
    # and a second burst long after the first is a new incident
    det = PortScanDetector()
    out = det.process(EventBatch.of("flow", parts[0]))
    later = parts[1].assign(**{"@timestamp": parts[1]["@timestamp"] + 86_400})
    out += det.process(EventBatch.of("flow", later)) + det.flush()
    assert len(out) == 2


def test_out_of_order_rows_give_the_same_findings():
    frame = pd.concat([vertical_scan(), syn_flood(), ssh_bruteforce(), beacon(), exfil()], ignore_index=True)
    ordered = run(frame, batches=1, shuffle=False)
    shuffled = run(frame.sample(frac=1.0, random_state=3), batches=1, shuffle=True)
    for name in ordered:
        a = sorted((f.entity, f.title, f.evidence_count, round(f.start, 3), round(f.end, 3)) for f in ordered[name])
        b = sorted((f.entity, f.title, f.evidence_count, round(f.start, 3), round(f.end, 3)) for f in shuffled[name])
        assert a == b and a, name


def test_missing_columns_do_not_crash_and_degrade_as_documented():
    frame = pd.concat([vertical_scan(), syn_flood(), ssh_bruteforce(), beacon(), exfil()], ignore_index=True)
    bare = frame[["@timestamp", "source.ip", "destination.ip", "destination.port", "network.transport", "event.id"]]
    found = run(bare, batches=2)
    # without state or bytes the failure share is unknown: the 1,000-port scan still passes 3x the threshold
    assert [f.entity for f in found["network.portscan"]] == ["10.1.0.66"]
    assert found["network.portscan"][0].attributes["failed_share"] == "unknown"
    # 20,000 flows is 20x the threshold: volume alone makes it a flood
    assert [f.entity for f in found["network.dos"]] == [WEBSERVER]
    assert [f.entity for f in found["network.beacon"]] == ["10.1.0.30"]
    assert found["network.exfiltration"] == []  # no byte counts, nothing to measure
    # all string columns empty, numbers NaN, timestamps missing
    empty = pd.DataFrame({"source.ip": ["", "1.2.3.4"], "@timestamp": [np.nan, np.nan]})
    for d in detectors():
        assert d.process(EventBatch.of("flow", empty)) + d.flush() == []
        assert d.process(EventBatch.of("flow", pd.DataFrame())) == []


def test_state_is_bounded():
    det = PortScanDetector(window=60)
    for k in range(5):
        fr = _flows(T0 + k * 600 + np.arange(100.0), "10.1.0.5", WEB[:100], 443.0, tag=f"b{k}_")
        det.process(EventBatch.of("flow", fr))
    assert set(det.table.state["bucket"]) <= {int((T0 + 4 * 600 + 99) // 60) - 1, int((T0 + 4 * 600 + 99) // 60)}
    bc = BeaconDetector(max_pairs=50, idle_timeout=100)
    for k in range(5):
        fr = _flows(T0 + k * 1000 + np.arange(100.0), [f"10.2.{k}.{i}" for i in range(100)], "198.51.100.1", 443.0,
                    tag=f"p{k}_")
        bc.process(EventBatch.of("flow", fr))
    assert bc.used.sum() <= 50 and len(bc.rowmap) == bc.used.sum()


def test_building_blocks():
    book = IncidentBook(gap=100)
    book.observe("a", 0, 10, counts={0: 5}, ids=[str(i) for i in range(150)])
    book.observe("a", 20, 30, counts={0: 6, 1: 2}, ids=["x"])
    assert book.expire(now=100) == []
    (inc,) = book.expire(now=200)
    assert inc.count == 8 and len(inc.evidence) == MAX_EVIDENCE and (inc.start, inc.end) == (0, 30)
    table = WindowTable({"n": "sum"}, window=10, keep=2)
    table.update(pd.DataFrame({"bucket": [0, 5], "key": [1, 1], "n": [1, 1]}))
    assert sorted(table.windows()["win"].tolist()) == [0, 1, 5]  # window 6 would end past the newest bucket
    table.prune(now=59)
    assert table.state["bucket"].tolist() == [5]
    fv = flow_view(EventBatch.of("flow", pd.DataFrame({"flow.state": ["S0", "RSTO", "SF"], "source.bytes": [0, 0, 5],
                                                        "destination.bytes": [0, 0, 9]})))
    assert fv["failed"].tolist() == [1.0, 1.0, 0.0] and fv["half_open"].tolist() == [1.0, 0.0, 0.0]


DATA = DATASETS
ZEEK_SCAN = DATA / "zeek/002-zeek-scenario-port-scanning/conn.log"


def _scan_real(path: Path, batch_size: int = 1000) -> list:
    """All five detectors over a real file, read by whichever reader claims it."""
    readers = pytest.importorskip("threatml.readers")
    cls = readers.detect(path)
    assert cls is not None, f"no reader for {path}"
    dets, out = detectors(), []
    for batch in cls().read(path, ReadReport(), batch_size=batch_size):
        for d in dets:
            if batch.kind in d.kinds:
                out += d.process(batch)
    for d in dets:
        out += d.flush()
    return out


@pytest.mark.skipif(not ZEEK_SCAN.exists(), reason="Stratosphere Zeek port-scan capture not present in the shared data sets")
def test_real_zeek_port_scan_capture():
    out = _scan_real(ZEEK_SCAN)
    assert [(f.detector, f.entity) for f in out] == [("network.portscan", "172.16.1.11")]
    assert out[0].attributes["hosts"] > 100 and out[0].attributes["ports"] >= 100


REAL_CASES = [
    ("pcap/CIC-DDoS-2019-SynFlood.pcap", "network.dos", "192.168.50.4"),
    ("pcap/malicious-ssh-bruteforce.pcap", "network.bruteforce", "147.32.80.40"),
    ("network/cicids2017-improved/FTP-Patator_3972.csv.gz", "network.bruteforce", "172.16.0.1"),
    ("argus/test11-portscan.binetflow", "network.portscan", "10.8.0.69"),
]


@pytest.mark.parametrize("rel,detector,entity", REAL_CASES)
def test_real_attack_captures(rel, detector, entity):
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"{path} not present in the shared data sets")
    found = [(f.detector, f.entity) for f in _scan_real(path, batch_size=2000)]
    assert found.count((detector, entity)) == 1, found


@pytest.mark.skipif(not (DATA / "network/cicids2017-improved/BENIGN_first2500.csv.gz").exists(),
                    reason="CIC-IDS2017 benign sample not present in the shared data sets")
def test_real_benign_sample_is_quiet():
    assert _scan_real(DATA / "network/cicids2017-improved/BENIGN_first2500.csv.gz") == []


# -- false-positive controls: prevalence, internal destinations, SMTP ------------------------------
def _heartbeats(hosts, dst: str, period: float, jitter: float, hours: float, port: float = 443.0, seed: int = 11,
                tag: str = "hb") -> pd.DataFrame:
    """Each host calls ``dst`` every ``period`` s (± ``jitter`` share), like telemetry or an implant."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, h in enumerate(hosts):
        n = int(hours * 3600 / period)
        ts = T0 + rng.uniform(0, period) + np.cumsum(rng.uniform(1 - jitter, 1 + jitter, n) * period)
        parts.append(_flows(ts, h, dst, port, app="ssl", dur=rng.uniform(0.2, 0.6, n), sb=rng.normal(3200, 60, n),
                            db=rng.normal(5200, 80, n), tag=f"{tag}{k}_", rng=rng))
    return pd.concat(parts, ignore_index=True)


def _beacons(frame: pd.DataFrame, batches: int = 12, **kw) -> list[str]:
    """Titles of the beacon findings when ``frame`` is streamed in ``batches`` batches."""
    return sorted(f.title for f in run(frame, dets=[BeaconDetector(**kw)], batches=batches)["network.beacon"])


def test_prevalent_destination_is_common_software_but_shared_c2_is_not():
    telemetry = _heartbeats(HOSTS[:30], "13.107.7.131", 900.0, 0.2, hours=6.0)
    c2 = _heartbeats(HOSTS[30:32], "198.51.100.23", 60.0, 0.1, hours=3.0, seed=12, tag="c2")
    both = pd.concat([telemetry, c2], ignore_index=True)
    assert _beacons(both) == [f"Beaconing from {h} to 198.51.100.23:443" for h in sorted(HOSTS[30:32])]
    # without the prevalence rule every workstation's heartbeat would be a finding (the test can fail)
    assert len(_beacons(both, max_prevalence=None)) == 32
    # three infected hosts in a five-host office stay reported: a destination needs four sources to be "common"
    small = pd.concat([_heartbeats(HOSTS[:3], "198.51.100.23", 60.0, 0.1, hours=3.0, seed=13),
                       _heartbeats(HOSTS[3:5], "13.107.7.131", 900.0, 0.2, hours=6.0, seed=14, tag="t")])
    found = _beacons(small)
    assert sum("198.51.100.23" in t for t in found) == 3
    assert len(_beacons(small, prevalence_min_sources=3)) == 2  # the threshold is a real knob


def test_prevalence_shows_in_the_finding():
    c2 = _heartbeats(HOSTS[:2], "198.51.100.23", 60.0, 0.1, hours=2.0, seed=15)
    noise = _heartbeats(HOSTS[2:20], "13.107.7.131", 900.0, 0.2, hours=2.0, seed=16, tag="t")
    (f, g) = run(pd.concat([c2, noise]), dets=[BeaconDetector()], batches=6)["network.beacon"]
    assert f.attributes["destination_sources"] == 2 and 0 < f.attributes["destination_prevalence"] < 0.2
    assert any(line.startswith("1 other host also called 198.51.100.23:443 (") for line in f.explanation)


def test_internal_destinations_are_ignored_by_default():
    rng = np.random.default_rng(21)
    servers = ["10.1.0.10", "10.1.0.20", "10.1.0.22"]
    parts = [_flows(T0 + np.arange(0, 3 * 3600, 60.0) + rng.uniform(0, 2, 180), "10.1.0.40", s, 0.0, proto="icmp",
                    dur=0.001, sb=64.0, db=64.0, state="OTH", tag=f"m{i}_", rng=rng) for i, s in enumerate(servers)]
    monitoring = pd.concat(parts, ignore_index=True)
    assert _beacons(monitoring) == []
    assert _beacons(monitoring, internal_destinations=True) == [f"Beaconing from 10.1.0.40 to {s}:0" for s in servers]
    # an organisation's own public range counts as internal too
    c2 = beacon()
    assert len(_beacons(c2)) == 1 and _beacons(c2, internal_networks=("198.51.100.0/24",)) == []


def _inbound_mail(port: float) -> pd.DataFrame:
    """Mail servers on the internet delivering to the company's MX: short sessions, near-identical replies."""
    rng = np.random.default_rng(31)
    n = 400
    senders = np.array([f"198.18.{i // 200}.{i % 200 + 1}" for i in range(60)])
    src = np.concatenate([senders[rng.integers(0, 60, n)], np.full(80, "198.18.9.9")])  # plus one busy bulk sender
    ts = T0 + np.sort(rng.uniform(0, 900, n + 80))
    return _flows(ts, src, "10.1.0.25", port, app="smtp" if port == 25 else "", dur=rng.uniform(0.5, 3, n + 80),
                  sb=rng.lognormal(9, 1, n + 80), db=rng.normal(450, 10, n + 80), tag="mx", rng=rng)


def test_inbound_smtp_is_not_brute_force():
    assert run(_inbound_mail(25.0), dets=[BruteForceDetector()])["network.bruteforce"] == []
    # the same shape on the submission port (SMTP AUTH) is password guessing
    found = run(_inbound_mail(587.0), dets=[BruteForceDetector()])["network.bruteforce"]
    assert found and all("SMTP submission brute force" in f.title for f in found)
