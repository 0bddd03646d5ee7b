"""Generated logs for the logs-domain tests (no shared data needed)."""

from __future__ import annotations

import json
import random
from pathlib import Path


def hdfs_like(path: Path, n_blocks: int = 300, anomalies: int = 6, seed: int = 1) -> set[str]:
    """HDFS-like lines keyed by block ids; returns the block ids made anomalous."""
    rng = random.Random(seed)
    lines, bad = [], set()
    for b in range(n_blocks):
        blk = f"blk_{rng.randint(10**17, 10**18)}"
        ip = f"10.250.{rng.randint(0, 20)}.{rng.randint(1, 250)}"
        seq = [f"BLOCK* NameSystem.allocateBlock: /user/root/part-{b} {blk}",
               f"Receiving block {blk} src: /{ip}:50010 dest: /{ip}:50010",
               f"Received block {blk} of size {rng.randint(1000, 67108864)} from /{ip}",
               f"PacketResponder {rng.randint(0, 2)} for block {blk} terminating",
               f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip}:50010 is added to {blk} size 67108864"]
        if b % (n_blocks // anomalies) == 7 and len(bad) < anomalies:
            bad.add(blk)
            seq = seq[:2] + [f"writeBlock {blk} received exception java.io.IOException: Connection reset by peer",
                             f"Exception in receiveBlock for block {blk} java.io.IOException: Broken pipe"]
        lines.extend(f"081109 20{b % 60:02d}{rng.randint(10, 59)} {rng.randint(1, 999)} INFO dfs.DataNode: {m}" for m in seq)
    path.write_text("\n".join(lines) + "\n")
    return bad


def syslog_3164(path: Path, n: int = 3000, planted: bool = True, seed: int = 2) -> None:
    """Five minutes of routine syslog per window over hours, with one window of planted attack lines."""
    rng = random.Random(seed)
    out = []
    t0 = 10 * 3600
    users = ["alice", "bob", "carol"]
    for i in range(n):
        t = t0 + i * 6
        hh, mm, ss = t // 3600 % 24, t // 60 % 60, t % 60
        stamp = f"Mar  3 {hh:02d}:{mm:02d}:{ss:02d}"
        kind = i % 4
        if kind == 0:
            msg = f"CRON[{rng.randint(1000, 9999)}]: (root) CMD (run-parts /etc/cron.hourly)"
        elif kind == 1:
            msg = f"systemd[1]: Started Session {rng.randint(1, 9999)} of user {rng.choice(users)}."
        elif kind == 2:
            msg = f"kernel: [ {rng.randint(1, 99999)}.{rng.randint(100, 999)}] eth0: link up, 1000 Mbps"
        else:
            msg = f"dhclient[{rng.randint(100, 999)}]: DHCPACK from 10.0.0.1 (xid=0x{rng.randint(0, 2**31):08x})"
        out.append(f"{stamp} host1 {msg}")
        if planted and i == n // 2:
            for k in range(40):
                out.append(f"{stamp} host1 kernel: Out of memory: Killed process {4000 + k} (java) "
                           f"total-vm:{k * 1000}kB")
                out.append(f"{stamp} host1 kernel: segfault at {k:08x} ip {k:08x} sp {k:08x} error 4 in libc.so.6")
    path.write_text("\n".join(out) + "\n")


def syslog_5424(path: Path, n: int = 50) -> None:
    path.write_text("".join(
        f"<34>1 2024-05-01T10:{i // 60:02d}:{i % 60:02d}.003Z mymachine su {100 + i} ID47 "
        f"[exampleSDID@32473 iut=\"3\"] 'su root' failed for lonvick on /dev/pts/{i}\n" for i in range(n)))


def journald(path: Path, n: int = 50) -> None:
    path.write_text("".join(json.dumps({
        "__REALTIME_TIMESTAMP": str(1714557600_000000 + i * 1_000_000), "_HOSTNAME": "box",
        "SYSLOG_IDENTIFIER": "nginx", "_PID": str(300 + i), "PRIORITY": "6",
        "MESSAGE": f"worker {i} started"}) + "\n" for i in range(n)))
