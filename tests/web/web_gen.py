"""Generated URLs, domain names and Zeek dns.log files for the web tests (no shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = ["news", "sport", "weather", "music", "video", "travel", "garden", "kitchen", "book", "photo", "market",
         "school", "health", "river", "stone", "light", "paper", "green", "house", "table", "city", "world"]
TLDS = ["com", "net", "org", "de", "co.uk", "fr"]


def benign_domains(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(WORDS, rng.integers(1, 3))) + str(rng.choice(["", "", "", "24", "hq"])) + "."
            + str(rng.choice(TLDS)) for _ in range(n)]


def random_dga(n: int, seed: int = 1, tld: str = "biz") -> list[str]:
    rng = np.random.default_rng(seed)
    alpha = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    return ["".join(rng.choice(alpha, rng.integers(10, 20))) + "." + tld for _ in range(n)]


def benign_urls(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    doms = benign_domains(60, seed)
    return [f"http://www.{rng.choice(doms)}/" + "/".join(rng.choice(WORDS, rng.integers(0, 4))) for _ in range(n)]


def phishing_urls(n: int, seed: int = 2) -> list[str]:
    rng = np.random.default_rng(seed)
    brands = ["paypal", "appleid", "microsoft", "netflix"]
    out = []
    for _ in range(n):
        host = f"{rng.choice(brands)}.com-{rng.choice(['verify', 'secure', 'account'])}{rng.integers(100)}." \
               f"{rng.choice(['tk', 'xyz', 'top'])}"
        path = "/".join(rng.choice(["login.php", "webscr", "signin", "update", "cmd=_login"], rng.integers(1, 3)))
        out.append(f"http://{host}/{path}")
    return out


ZEEK_DNS_HEADER = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tdns
#open\t2026-01-01-00-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool
"""


def tunnel_queries(n: int, domain: str = "t.exfil-tunnel.net", seed: int = 5) -> list[str]:
    """iodine/dnscat-like names: base32-ish data labels under one domain."""
    rng = np.random.default_rng(seed)
    alpha = np.array(list("abcdefghijklmnopqrstuvwxyz234567"))
    return ["".join(rng.choice(alpha, 50)) + "." + "".join(rng.choice(alpha, 40)) + "." + domain for _ in range(n)]


def write_zeek_dns(path: Path, rows: list[tuple[float, str, str, str, str]]) -> Path:
    """rows: (ts, client, query, qtype, rcode)."""
    lines = [ZEEK_DNS_HEADER.rstrip("\n")]
    for i, (ts, client, q, qt, rc) in enumerate(rows):
        lines.append("\t".join([f"{ts:.6f}", f"C{i:08d}", client, "53211", "10.0.0.1", "53", "udp", str(i % 65536), q,
                                "1", "C_INTERNET", "16" if qt == "TXT" else "1", qt, "3" if rc == "NXDOMAIN" else "0",
                                rc, "F", "F", "T", "T", "0", "-", "-", "F"]))
    lines.append("#close\t2026-01-01-01-00-00")
    path.write_text("\n".join(lines) + "\n")
    return path
