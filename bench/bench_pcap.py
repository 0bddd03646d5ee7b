"""Benchmark pcap -> flows: packets/s, flows and peak RSS for the fast (and nfstream) engine.

Generates a seeded, SYN-flood-heavy pcap (~2M packets: spoofed SYN flood, some
of it answered by RST, complete TCP sessions with data, DNS query/answer
pairs) by writing raw pcap bytes with numpy, then times each engine in a fresh
subprocess so peak RSS is per engine. CPU time is printed next to wall time because on a
shared machine the wall clock also measures other people's work. Also runs on the real CIC-DDoS-2019
SYN-flood pcap when it is present.

    .venv/bin/python bench/bench_pcap.py               # fast engine
    .venv/bin/python bench/bench_pcap.py --nfstream    # also nfstream (slow)
    .venv/bin/python bench/bench_pcap.py --packets 500000 --pcapng
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pcap" / "CIC-DDoS-2019-SynFlood.pcap"
ETH_HDR = bytes.fromhex("00112233445566778899aabb0800")


def _packets(ts, src, dst, sport, dport, proto, flags, payload: int) -> tuple[np.ndarray, np.ndarray]:
    """Records (pcap header + Ethernet + IPv4 + TCP/UDP + zero payload) as an (n, L) uint8 array."""
    n = len(ts)
    l4 = 20 if proto == 6 else 8
    iplen = 20 + l4 + payload
    rec = np.zeros((n, 16 + 14 + iplen), dtype=np.uint8)
    sec = ts.astype(np.int64)
    usec = ((ts - sec) * 1e6).astype(np.int64)
    hdr = np.stack([sec, usec, np.full(n, 14 + iplen), np.full(n, 14 + iplen)], axis=1).astype("<u4")
    rec[:, :16] = hdr.view(np.uint8).reshape(n, 16)
    rec[:, 16:30] = np.frombuffer(ETH_HDR, dtype=np.uint8)
    ip = rec[:, 30:]
    ip[:, 0] = 0x45
    ip[:, 2:4] = np.frombuffer(np.uint16(iplen).astype(">u2").tobytes(), dtype=np.uint8)
    ip[:, 8] = 64
    ip[:, 9] = proto
    ip[:, 12:16] = src.astype(">u4").view(np.uint8).reshape(n, 4)
    ip[:, 16:20] = dst.astype(">u4").view(np.uint8).reshape(n, 4)
    ip[:, 20:22] = sport.astype(">u2").view(np.uint8).reshape(n, 2)
    ip[:, 22:24] = dport.astype(">u2").view(np.uint8).reshape(n, 2)
    if proto == 6:
        ip[:, 32] = 0x50
        ip[:, 33] = flags
    else:
        ip[:, 24:26] = np.frombuffer(np.uint16(8 + payload).astype(">u2").tobytes(), dtype=np.uint8)
    return ts, rec


def make_pcap(path: Path, n_packets: int = 2_000_000, seed: int = 7) -> int:
    rng = np.random.default_rng(seed)
    span = 900.0 * n_packets / 2_000_000  # seconds: same packet rate whatever the size; idle timeouts matter
    parts = []
    n_flood = int(n_packets * 0.70)
    n_sess = int(n_packets * 0.20) // 10
    n_dns = int(n_packets * 0.10) // 2
    victim = np.uint32(0x0A000050)

    # SYN flood from spoofed sources, ~10% answered by RST
    t = np.sort(rng.uniform(0, span, n_flood))
    src = rng.integers(0x01000000, 0xDF000000, n_flood, dtype=np.uint32)
    sp = rng.integers(1024, 65535, n_flood, dtype=np.uint32)
    dst = np.full(n_flood, victim, dtype=np.uint32)
    dp = np.full(n_flood, 80, dtype=np.uint32)
    parts.append(_packets(t, src, dst, sp, dp, 6, 0x02, 0))
    ans = rng.random(n_flood) < 0.10
    parts.append(_packets(t[ans] + 0.0005, dst[ans], src[ans], dp[ans], sp[ans], 6, 0x14, 0))

    # complete TCP sessions: handshake, request, response, FIN both ways
    st = rng.uniform(0, span, n_sess)
    cli = rng.integers(0xC0A80001, 0xC0A8FFFE, n_sess, dtype=np.uint32)
    srv = rng.integers(0x0A010001, 0x0A0100FF, n_sess, dtype=np.uint32)
    cp = rng.integers(1024, 65535, n_sess, dtype=np.uint32)
    spt = np.full(n_sess, 443, dtype=np.uint32)
    script = [(0, 0x02, 0), (1, 0x12, 0), (0, 0x10, 0), (0, 0x18, 200), (1, 0x10, 0),
              (1, 0x18, 1200), (0, 0x10, 0), (0, 0x11, 0), (1, 0x11, 0), (0, 0x10, 0)]
    for i, (from_srv, fl, pay) in enumerate(script):
        a, b, pa, pb = (srv, cli, spt, cp) if from_srv else (cli, srv, cp, spt)
        parts.append(_packets(st + 0.01 * i, a, b, pa, pb, 6, fl, pay))

    # DNS query / answer pairs
    dt = rng.uniform(0, span, n_dns)
    cl = rng.integers(0xC0A80001, 0xC0A8FFFE, n_dns, dtype=np.uint32)
    rs = np.full(n_dns, 0x08080808, dtype=np.uint32)
    qp = rng.integers(1024, 65535, n_dns, dtype=np.uint32)
    p53 = np.full(n_dns, 53, dtype=np.uint32)
    parts.append(_packets(dt, cl, rs, qp, p53, 17, 0, 40))
    parts.append(_packets(dt + 0.02, rs, cl, p53, qp, 17, 0, 90))

    ts = np.concatenate([p[0] for p in parts])
    lens = np.concatenate([np.full(len(p[0]), p[1].shape[1]) for p in parts])
    order = np.argsort(ts, kind="stable")
    pos = np.empty(len(ts), dtype=np.int64)
    pos[order] = np.concatenate([[0], np.cumsum(lens[order])[:-1]])
    out = np.zeros(int(lens.sum()), dtype=np.uint8)
    start = 0
    for _, rec in parts:
        k = len(rec)
        p = pos[start : start + k]
        out[p[:, None] + np.arange(rec.shape[1])] = rec
        start += k
    head = np.array([0xA1B2C3D4], "<u4").tobytes() + np.array([2, 4], "<u2").tobytes() + np.array([0, 0, 65535, 1], "<u4").tobytes()
    with open(path, "wb") as fh:
        fh.write(head)
        fh.write(out.tobytes())
    return len(ts)


_CHILD = r"""
import json, resource, sys, time
from threatml.errors import ReadReport
from threatml.readers.pcap import PcapReader
path, engine = sys.argv[1], sys.argv[2]
r = ReadReport()
t, c = time.perf_counter(), time.process_time()
flows = pkts = 0
for b in PcapReader(engine=engine).read(path, r):
    flows += len(b)
    pkts += int(b.frame["source.packets"].sum() + b.frame["destination.packets"].sum())
el, cpu = time.perf_counter() - t, time.process_time() - c
# VmHWM is this process's own peak RSS (ru_maxrss would include the parent's before exec)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # nfstream's meter process
print(json.dumps({"seconds": el, "cpu": cpu + kids.ru_utime + kids.ru_stime, "flows": flows, "packets_in_flows": pkts,
                  "skipped": r.skipped_total(), "peak_rss_mb": hwm / 1024, "child_rss_mb": kids.ru_maxrss / 1024}))
"""


def run(path: Path, engine: str, n_packets: int) -> None:
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-c", _CHILD, str(path), engine], capture_output=True, text=True, cwd=root)
    if res.returncode:
        print(f"  {engine:9s} FAILED: {res.stderr.strip().splitlines()[-1:]}")
        return
    d = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"  {engine:9s} {n_packets / d['seconds']:>10,.0f} packets/s wall ({d['seconds']:.2f} s), "
          f"{n_packets / d['cpu']:>10,.0f} packets/s of CPU time ({d['cpu']:.2f} s)  "
          f"{d['flows']:>9,} flows  {d['packets_in_flows']:>10,} pkts in flows  skipped {d['skipped']}  "
          f"peak RSS {d['peak_rss_mb']:,.0f} MB" + (f" (+ child {d['child_rss_mb']:,.0f} MB)" if d["child_rss_mb"] > 1 else ""))


def to_pcapng(src: Path, dst: Path) -> None:
    """Rewrite a classic pcap as pcapng (one interface, enhanced packet blocks), vectorised."""
    import struct

    from threatml.readers.pcapflow.records import iter_chunks

    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack("<IIHHII", 1, 20, 1, 0, 65535, 20)
    with open(src, "rb") as fh, open(dst, "wb") as out:
        out.write(shb + idb)
        for ch in iter_chunks(fh, str(src), []):
            cap = ch.caplen
            blen = 32 + ((cap + 3) // 4) * 4
            pos = np.concatenate([[0], np.cumsum(blen)[:-1]])
            buf = np.zeros(int(blen.sum()), dtype=np.uint8)
            us = np.round(ch.ts * 1e6).astype(np.uint64)
            hdr = np.stack([np.full(ch.n, 6), blen, np.zeros(ch.n), us >> np.uint64(32), us & np.uint64(0xFFFFFFFF),
                            cap, ch.origlen], axis=1).astype("<u4")
            buf[pos[:, None] + np.arange(28)] = hdr.view(np.uint8).reshape(ch.n, 28)
            buf[(pos + blen - 4)[:, None] + np.arange(4)] = blen.astype("<u4").view(np.uint8).reshape(ch.n, 4)
            for length in np.unique(cap):  # copy packet bytes, grouped by length
                sel = np.flatnonzero(cap == length)
                buf[(pos[sel] + 28)[:, None] + np.arange(length)] = ch.buf[ch.data_off[sel][:, None] + np.arange(length)]
            out.write(buf.tobytes())


def count_packets(path: Path) -> int:
    from threatml.readers.pcapflow.records import iter_chunks

    with open(path, "rb") as fh:
        return sum(c.n for c in iter_chunks(fh, str(path), []))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--nfstream", action="store_true", help="also run the (slow) nfstream engine")
    ap.add_argument("--pcapng", action="store_true", help="also time the same packets written as pcapng")
    args = ap.parse_args()
    engines = ["fast"] + (["nfstream"] if args.nfstream else [])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synflood_mix.pcap"
        n = make_pcap(path, args.packets)
        print(f"synthetic SYN-flood mix: {n:,} packets, {os.path.getsize(path) / 1e6:,.0f} MB")
        for e in engines:
            run(path, e, n)
        if args.pcapng:
            ng = Path(tmp) / "synflood_mix.pcapng"
            to_pcapng(path, ng)
            print(f"same packets as pcapng: {os.path.getsize(ng) / 1e6:,.0f} MB")
            for e in engines:
                run(ng, e, n)
    if REAL.exists():
        n = count_packets(REAL)
        print(f"{REAL.name}: {n:,} packets, {REAL.stat().st_size / 1e6:,.1f} MB")
        for e in engines:
            run(REAL, e, n)
    else:
        print(f"{REAL} absent: real-capture run skipped")


if __name__ == "__main__":
    main()
