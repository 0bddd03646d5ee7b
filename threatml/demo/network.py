"""A synthetic office network with injected attacks, written as real Zeek logs.

``threatml demo`` scans what this module writes, so the demo goes through the
same Zeek reader and detectors as a real deployment.

The simulated network (local time is UTC; the default window is 17:00-23:00):

* **Servers** on ``10.10.1.0/24``: ``dc01`` 10.10.1.2 (DNS resolver, NTP,
  Kerberos), ``files01`` 10.10.1.5 (SMB 445), ``mail01`` 10.10.1.10 (IMAPS,
  submission, SMTP in and out), ``web01`` 10.10.1.20 (public web site on
  80/443 and the intranet), ``jump01`` 10.10.1.22 (SSH jump host, reachable
  from the internet), ``backup01`` 10.10.1.30 (backup storage) and ``mon01``
  10.10.1.40 (monitoring).
* **Workstations** on ``10.10.2.0/24`` (``hosts`` minus the 7 servers): HTTPS
  browsing to a few hundred external addresses behind ~150 popular domains
  (Zipf popularity, heavy-tailed lognormal/Pareto sizes), DNS lookups before
  connections, plain-HTTP OCSP and connectivity checks, SMB, mail, Kerberos,
  NTP every 64-1024 s, an hourly update check and a 15-minute telemetry
  heartbeat (both jittered like real software), a low rate of failed (S0/REJ)
  connections. Activity follows a working-day curve. Three workstations
  belong to admins who open long SSH sessions to the jump host.
* **Server background**: internet visitors to the web site, SMTP in and out,
  upstream DNS and NTP from dc01, monitoring pings and health checks every
  minute from mon01, a little internet scanning noise against the exposed
  servers, and a nightly backup at 22:00 that uploads tens of GB from the
  servers to backup01 (large internal-to-internal transfers, not exfiltration).

Injected attacks (listed with their flow uids in ``ground_truth.json``):

1. ``portscan``: a compromised workstation SYN-scans ~1000 ports of files01
   (mostly REJ/S0, open ports answer), then sweeps port 445 across the
   workstation subnet (two entries, vertical and horizontal).
2. ``bruteforce``: an internet address tries SSH passwords against jump01,
   hundreds of short, near-identical connections over ~25 minutes.
3. ``ddos``: a SYN flood from hundreds of spoofed sources against web01's
   80/443 for a few minutes; every flow is S0.
4. ``beacon``: another workstation calls a C2 server over TLS every 60 s
   +-10 % with small, uniform sizes, an odd SNI and a self-signed
   certificate, resolving the C2 domain whenever its TTL expires.
5. ``exfiltration``: late in the window the same workstation uploads 2-5 GB
   over a few long TLS connections to another internet address.

Attacker addresses are taken from the RFC 5737 documentation ranges so that
no real organisation is named (spoofed DDoS sources are random). Same seed,
same bytes.

The logs are what Zeek 5/6 writes with ``Site::local_nets = 10.0.0.0/8``, the
default ``local.zeek`` (``validate-certs``), the ja3 package and
``SSL::log_include_server_certificate_subject_issuer = T``; conn.log is in
connection-end order like a live sensor's. ``ground_truth.json`` holds the
attacks (kind, MITRE technique, attacker, victim, start, end, uids), the host
roles and the benign look-alikes that detectors should not report. The whole
simulation is held in memory (about 1 KB a connection), so ``hosts x hours``
is capped at 1000; the default 40 hosts x 6 h gives ~285,000 connections.

>>> import tempfile; from pathlib import Path
>>> s = generate(Path(tempfile.mkdtemp()), hours=1.0, hosts=12, seed=1)
>>> sorted({a.kind for a in s.attacks})
['beacon', 'bruteforce', 'ddos', 'exfiltration', 'portscan']
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["DemoScenario", "InjectedAttack", "generate", "load_ground_truth", "DEFAULT_START"]

#: Tuesday 2026-03-10 17:00 UTC: the default window covers the end of the
#: working day, the evening, the nightly backup and a late-evening exfiltration.
DEFAULT_START = datetime(2026, 3, 10, 17, 0, tzinfo=timezone.utc).timestamp()

SERVERS = {
    "dc01": "10.10.1.2",
    "files01": "10.10.1.5",
    "mail01": "10.10.1.10",
    "web01": "10.10.1.20",
    "jump01": "10.10.1.22",
    "backup01": "10.10.1.30",
    "mon01": "10.10.1.40",
}
WORKSTATION_NET = "10.10.2"
MIN_HOSTS = len(SERVERS) + 5
MAX_HOST_HOURS = 1000
AD_DOMAIN = "corp.northwind.example"
PUBLIC_DOMAIN = "northwind.example"

C2_DOMAIN = "static.cdn-metrics.xyz"
C2_IP = "198.51.100.23"
EXFIL_DOMAIN = "files.securecloud-drop.net"
EXFIL_IP = "192.0.2.200"
BRUTEFORCE_IP = "203.0.113.77"

# Benign traffic that looks like an attack at first sight: detectors should stay quiet.
_LOOKALIKES = [
    {"what": "nightly backup", "flows": "servers -> 10.10.1.30:9103 at 22:00", "looks_like": "exfiltration (GBs, one direction)"},
    {"what": "hourly update check", "flows": "every workstation -> update.googleapis.com:443, 3600 s +-10 %", "looks_like": "beacon"},
    {"what": "telemetry heartbeat", "flows": "every workstation -> v10.events.data.microsoft.com:443, 900 s +-20 %", "looks_like": "beacon"},
    {"what": "monitoring", "flows": "10.10.1.40 -> every server, ICMP and HTTPS every 60 s", "looks_like": "beacon, sweep"},
    {"what": "NTP", "flows": "workstations -> 10.10.1.2:123/udp every 64-1024 s", "looks_like": "beacon"},
    {"what": "cloud uploads", "flows": "workstations -> sharepoint/onedrive, tens of MB", "looks_like": "exfiltration"},
    {"what": "admin SSH", "flows": "3 admin workstations -> 10.10.1.22:22, long sessions", "looks_like": "SSH brute force"},
    {"what": "internet noise", "flows": "random internet hosts probing 10.10.1.20/.22/.10", "looks_like": "port scan"},
]

MITRE = {
    "portscan": ("T1046", "Network Service Discovery"),
    "bruteforce": ("T1110.001", "Brute Force: Password Guessing"),
    "ddos": ("T1498.001", "Network Denial of Service: Direct Network Flood"),
    "beacon": ("T1071.001", "Application Layer Protocol: Web Protocols"),
    "exfiltration": ("T1048.002", "Exfiltration Over Asymmetric Encrypted Non-C2 Protocol"),
}


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class InjectedAttack:
    """One injected attack and the conn.log uids of its flows.

    ``attacker``/``victim`` are single addresses except where the attack has
    many: the DDoS ``attacker`` is its busiest spoofed source (all sources in
    ``attackers``) and the 445 sweep's ``victim`` is the swept subnet (every
    address in ``victims``).
    """

    kind: str
    technique: str
    technique_name: str
    attacker: str
    victim: str
    start: float
    end: float
    uids: tuple[str, ...]
    description: str
    attackers: tuple[str, ...] = ()
    victims: tuple[str, ...] = ()

    def to_json(self) -> dict:
        d = asdict(self)
        d["uids"] = list(self.uids)
        d["attackers"] = list(self.attackers)
        d["victims"] = list(self.victims)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "InjectedAttack":
        kw = {k: d[k] for k in ("kind", "technique", "technique_name", "attacker", "victim", "description")}
        return cls(
            **kw,
            start=float(d["start"]),
            end=float(d["end"]),
            uids=tuple(d["uids"]),
            attackers=tuple(d.get("attackers", ())),
            victims=tuple(d.get("victims", ())),
        )


@dataclass
class DemoScenario:
    """What :func:`generate` wrote: the log paths, the injected attacks, row counts."""

    out_dir: Path
    conn_log: Path
    dns_log: Path
    http_log: Path
    ssl_log: Path
    ground_truth: Path
    attacks: list[InjectedAttack]
    counts: dict[str, int]
    start: float
    end: float
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def log_paths(self) -> list[Path]:
        return [self.conn_log, self.dns_log, self.http_log, self.ssl_log]


def load_ground_truth(path: Path) -> list[InjectedAttack]:
    """The attacks listed in a ``ground_truth.json`` written by :func:`generate`."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return [InjectedAttack.from_json(a) for a in doc["attacks"]]


def generate(
    out_dir: Path, hours: float = 6.0, hosts: int = 40, seed: int = 7, start: float | None = None
) -> DemoScenario:
    """Simulate ``hours`` of an office network of ``hosts`` hosts and write Zeek logs.

    Writes conn.log, dns.log, http.log, ssl.log and ground_truth.json into
    ``out_dir`` and returns what was written. Deterministic for a seed.
    """
    if hours <= 0:
        raise ValueError("hours must be positive")
    if hosts < MIN_HOSTS:
        raise ValueError(f"hosts must be at least {MIN_HOSTS} ({len(SERVERS)} servers and 5 workstations)")
    if hosts * hours > MAX_HOST_HOURS:
        # The whole simulation is held in memory (~1 KB a connection, ~1500 connections a host-hour).
        raise ValueError(f"hosts x hours must stay under {MAX_HOST_HOURS} (e.g. 24 h x 40 hosts) for the demo")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = float(DEFAULT_START if start is None else start)
    t1 = t0 + hours * 3600.0
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(16)]
    sim = _Sim(t0, t1, _build_network(streams[0], hosts))

    _workstation_activity(streams[1], sim)
    _periodic_benign(streams[2], sim)
    _server_background(streams[3], sim)
    _admin_and_backup(streams[4], sim)
    attacks = [
        *_attack_portscan(streams[5], sim),
        _attack_bruteforce(streams[6], sim),
        _attack_ddos(streams[7], sim),
        *_attack_beacon_and_exfil(streams[8], sim),
    ]
    uids = _unique_uids(streams[9], sim.conn.n)
    cf = sim.conn.columns()
    counts = {
        "conn": _write_conn(out_dir / "conn.log", sim, cf, uids),
        "dns": _write_side(out_dir / "dns.log", "dns", sim.dns, sim, cf, uids),
        "http": _write_side(out_dir / "http.log", "http", sim.http, sim, cf, uids),
        "ssl": _write_side(out_dir / "ssl.log", "ssl", sim.ssl, sim, cf, uids),
    }
    resolved = [a.resolve(uids) for a in attacks]
    counts["attack_flows"] = sum(len(a.uids) for a in resolved)
    roles = {**SERVERS, **{f"{k}_workstation": v for k, v in sim.net.special.items()}}
    gt = out_dir / "ground_truth.json"
    gt.write_text(
        json.dumps(
            {
                "generator": "threatml.demo.network",
                "seed": seed,
                "hours": hours,
                "hosts": hosts,
                "start": t0,
                "end": t1,
                "roles": roles,
                "workstations": list(sim.net.workstations),
                "benign_lookalikes": _LOOKALIKES,
                "counts": counts,
                "attacks": [a.to_json() for a in resolved],
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return DemoScenario(
        out_dir=out_dir,
        conn_log=out_dir / "conn.log",
        dns_log=out_dir / "dns.log",
        http_log=out_dir / "http.log",
        ssl_log=out_dir / "ssl.log",
        ground_truth=gt,
        attacks=resolved,
        counts=counts,
        start=t0,
        end=t1,
        roles=roles,
    )


# --------------------------------------------------------------------------- the network


# (domain, provider). Popularity follows list order (Zipf), so the big
# platforms come first. Providers map to address blocks below.
_DOMAINS: list[tuple[str, str]] = [
    ("www.google.com", "google"), ("outlook.office365.com", "microsoft"), ("teams.microsoft.com", "microsoft"),
    ("www.gstatic.com", "google"), ("login.microsoftonline.com", "microsoft"), ("fonts.googleapis.com", "google"),
    ("www.youtube.com", "google"), ("i.ytimg.com", "google"), ("graph.microsoft.com", "microsoft"),
    ("northwind.sharepoint.com", "microsoft"), ("www.office.com", "microsoft"), ("aadcdn.msftauth.net", "akamai"),
    ("fonts.gstatic.com", "google"), ("www.googletagmanager.com", "google"), ("www.google-analytics.com", "google"),
    ("slack.com", "aws"), ("app.slack.com", "aws"), ("a.slack-edge.com", "aws"), ("wss-primary.slack.com", "aws"),
    ("www.linkedin.com", "akamai"), ("static.licdn.com", "akamai"), ("github.com", "github"),
    ("api.github.com", "github"), ("avatars.githubusercontent.com", "fastly"), ("raw.githubusercontent.com", "fastly"),
    ("www.bing.com", "microsoft"), ("edge.microsoft.com", "microsoft"), ("statics.teams.cdn.office.net", "akamai"),
    ("res.cdn.office.net", "akamai"), ("onedrive.live.com", "microsoft"), ("login.live.com", "microsoft"),
    ("docs.google.com", "google"), ("drive.google.com", "google"), ("mail.google.com", "google"),
    ("accounts.google.com", "google"), ("apis.google.com", "google"), ("play.google.com", "google"),
    ("googleads.g.doubleclick.net", "google"), ("safebrowsing.googleapis.com", "google"),
    ("content-autofill.googleapis.com", "google"), ("clients4.google.com", "google"),
    ("www.wikipedia.org", "wikimedia"), ("en.wikipedia.org", "wikimedia"), ("upload.wikimedia.org", "wikimedia"),
    ("stackoverflow.com", "cloudflare"), ("cdn.sstatic.net", "fastly"), ("cdnjs.cloudflare.com", "cloudflare"),
    ("cdn.jsdelivr.net", "fastly"), ("www.reddit.com", "fastly"), ("www.redditstatic.com", "fastly"),
    ("www.amazon.com", "aws"), ("m.media-amazon.com", "akamai"), ("images-na.ssl-images-amazon.com", "akamai"),
    ("s3.amazonaws.com", "aws"), ("d1.awsstatic.com", "aws"), ("zoom.us", "zoom"), ("us05web.zoom.us", "zoom"),
    ("northwind.atlassian.net", "aws"), ("api.atlassian.com", "aws"), ("www.atlassian.com", "aws"),
    ("www.notion.so", "cloudflare"), ("www.figma.com", "aws"), ("www.canva.com", "cloudflare"),
    ("www.dropbox.com", "dropbox"), ("www.salesforce.com", "akamai"), ("northwind.my.salesforce.com", "salesforce"),
    ("www.facebook.com", "facebook"), ("static.xx.fbcdn.net", "facebook"), ("connect.facebook.net", "facebook"),
    ("www.instagram.com", "facebook"), ("web.whatsapp.com", "facebook"), ("x.com", "twitter"),
    ("abs.twimg.com", "fastly"), ("pbs.twimg.com", "fastly"), ("www.nytimes.com", "fastly"),
    ("www.theguardian.com", "fastly"), ("www.bbc.co.uk", "bbc"), ("www.cnn.com", "fastly"),
    ("www.msn.com", "akamai"), ("assets.msn.com", "akamai"), ("ntp.msn.com", "akamai"), ("c.bing.com", "microsoft"),
    ("www.apple.com", "akamai"), ("www.icloud.com", "apple"), ("gateway.icloud.com", "apple"),
    ("pypi.org", "fastly"), ("files.pythonhosted.org", "fastly"), ("registry.npmjs.org", "cloudflare"),
    ("www.npmjs.com", "cloudflare"), ("registry-1.docker.io", "aws"), ("auth.docker.io", "aws"),
    ("production.cloudflare.docker.com", "cloudflare"), ("www.docker.com", "cloudflare"),
    ("chatgpt.com", "cloudflare"), ("cdn.oaistatic.com", "cloudflare"), ("api.openai.com", "cloudflare"),
    ("www.grammarly.com", "aws"), ("gnar.grammarly.com", "aws"), ("www.gravatar.com", "automattic"),
    ("secure.gravatar.com", "automattic"), ("www.zendesk.com", "cloudflare"), ("js.hs-scripts.com", "cloudflare"),
    ("www.hubspot.com", "cloudflare"), ("www.paypal.com", "akamai"), ("open.spotify.com", "google"),
    ("www.spotify.com", "google"), ("www.netflix.com", "aws"), ("www.twitch.tv", "fastly"),
    ("duckduckgo.com", "aws"), ("www.yahoo.com", "yahoo"), ("s.yimg.com", "yahoo"), ("www.weather.com", "akamai"),
    ("www.adobe.com", "akamai"), ("use.typekit.net", "akamai"), ("www.ebay.com", "akamai"),
    ("www.booking.com", "akamai"), ("www.tripadvisor.com", "fastly"), ("www.imdb.com", "aws"),
    ("news.ycombinator.com", "ycombinator"), ("www.economist.com", "cloudflare"), ("www.ft.com", "fastly"),
    ("www.bloomberg.com", "akamai"), ("www.reuters.com", "akamai"), ("medium.com", "cloudflare"),
    ("www.shopify.com", "cloudflare"), ("cdn.shopify.com", "cloudflare"), ("www.mozilla.org", "google"),
    ("addons.mozilla.org", "google"), ("www.python.org", "fastly"), ("docs.python.org", "fastly"),
    ("www.w3schools.com", "akamai"), ("developer.mozilla.org", "google"), ("www.udemy.com", "cloudflare"),
    ("www.coursera.org", "aws"), ("update.googleapis.com", "google"), ("v10.events.data.microsoft.com", "microsoft"),
    ("settings-win.data.microsoft.com", "microsoft"), ("nav.smartscreen.microsoft.com", "microsoft"),
    ("fe2.update.microsoft.com", "microsoft"), ("slscr.update.microsoft.com", "microsoft"),
]
# Plain-HTTP endpoints that still carry real traffic: OCSP, CRLs, connectivity checks, apt.
_HTTP_DOMAINS: list[tuple[str, str]] = [
    ("ocsp.digicert.com", "akamai"), ("ocsp.pki.goog", "google"), ("r3.o.lencr.org", "akamai"),
    ("ocsp.sectigo.com", "cloudflare"), ("crl3.digicert.com", "akamai"), ("ctldl.windowsupdate.com", "akamai"),
    ("www.msftconnecttest.com", "akamai"), ("ocsp.apple.com", "apple"),
]
_LINUX_HTTP = [("archive.ubuntu.com", "canonical"), ("security.ubuntu.com", "canonical")]
_PROVIDER_BLOCKS = {
    "google": ["142.250", "172.217", "216.58", "142.251"], "microsoft": ["13.107", "20.190", "52.96", "40.126"],
    "akamai": ["23.32", "104.96", "2.16", "23.215"], "aws": ["52.84", "54.230", "3.160", "18.155"],
    "cloudflare": ["104.16", "172.67", "104.18"], "fastly": ["151.101", "146.75"], "github": ["140.82"],
    "facebook": ["157.240", "31.13"], "apple": ["17.253", "17.248"], "wikimedia": ["208.80"],
    "zoom": ["170.114", "206.247"], "dropbox": ["162.125"], "salesforce": ["101.53", "136.146"],
    "twitter": ["104.244"], "bbc": ["151.101"], "yahoo": ["98.137", "69.147"], "automattic": ["192.0"],
    "ycombinator": ["209.216"], "canonical": ["91.189", "185.125"],
}
# Contacted only by the periodic agents below (update check, telemetry), never by browsing.
_AGENT_ONLY = {"update.googleapis.com", "v10.events.data.microsoft.com"}
_USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Microsoft-CryptoAPI/10.0",
]
# Made-up JA3/JA3S values (stable per software), not copied fingerprints.
_BROWSER_JA3 = np.array(
    ["b32309a26951912be7dba376398abc3b", "773906b0efdefa24a7f2b8eb6985bf37", "579ccef312d18482fc42e2b822ca2430"], dtype=object
)
_IMPLANT_JA3 = "72a7c4e1f3b0d6c2a9e8b17f04d35c61"


@dataclass
class _Domains:
    names: np.ndarray  # per domain
    ip_start: np.ndarray  # first index into ips for the domain
    ip_count: np.ndarray
    ips: np.ndarray  # all external addresses
    answers: np.ndarray  # "ip1,ip2" per domain
    ttls: np.ndarray  # "300.000000,300.000000" per domain
    certs: np.ndarray  # cert chain fingerprints per domain
    subjects: np.ndarray
    issuers: np.ndarray
    ja3s: np.ndarray  # server fingerprint per domain
    weights: np.ndarray  # popularity

    def cert(self, dom: np.ndarray) -> "_Cert":
        return _Cert(self.certs[dom], self.subjects[dom], self.issuers[dom])

    def index(self, name: str) -> int:
        return int(np.flatnonzero(self.names == name)[0])

    def pick_ips(self, rng: np.random.Generator, dom: np.ndarray) -> np.ndarray:
        off = (rng.random(len(dom)) * self.ip_count[dom]).astype(np.int64)
        return self.ips[self.ip_start[dom] + off]


@dataclass
class _Cert:
    """A server certificate as ssl.log shows it (arrays or scalars)."""

    fps: object
    subject: object
    issuer: object


# Issuing CAs: (issuer DN, made-up fingerprint). DNs follow the public CAs' naming.
_CAS = {
    "google": ("CN=WR2,O=Google Trust Services,C=US", "9f2c1b7e4d5a6c3b8e0f1a2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3"),
    "microsoft": ("CN=Microsoft Azure RSA TLS Issuing CA 04,O=Microsoft Corporation,C=US",
                  "1b2c3d4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccddeeff0"),
    "aws": ("CN=Amazon RSA 2048 M02,O=Amazon,C=US", "2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00112"),
    "digicert": ("CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US",
                 "3d4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccddeeff00123"),
    "sectigo": ("CN=Sectigo RSA Domain Validation Secure Server CA,O=Sectigo Limited,L=Salford,ST=Greater Manchester,C=GB",
                "4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccddeeff0012345"),
    "globalsign": ("CN=GlobalSign Atlas R3 DV TLS CA 2024 Q1,O=GlobalSign nv-sa,C=BE",
                   "5f60718293a4b5c6d7e8f9011223344556677889900aabbccddeeff001234567"),
    "letsencrypt": ("CN=R11,O=Let's Encrypt,C=US", "60718293a4b5c6d7e8f9011223344556677889900aabbccddeeff00123456789"),
    "internal": ("CN=Northwind Issuing CA 01,DC=corp,DC=northwind,DC=example",
                 "718293a4b5c6d7e8f9011223344556677889900aabbccddeeff00123456789ab"),
}
_PROVIDER_CA = {"google": "google", "microsoft": "microsoft", "aws": "aws", "akamai": "digicert", "facebook": "digicert",
                "github": "sectigo", "apple": "digicert", "cloudflare": "google"}
# The subject and issuer `openssl req -x509` writes when nobody edits the defaults.
_OPENSSL_DEFAULT_DN = "CN=localhost,O=Internet Widgits Pty Ltd,ST=Some-State,C=AU"


def _own_cert(name: str, ca: str) -> _Cert:
    return _Cert(f"{_stable_hex(name)},{_CAS[ca][1]}", f"CN={name}", _CAS[ca][0])


def _stable_hex(text: str) -> str:
    """A fixed 64-hex fingerprint for one of our own certificates."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Network:
    workstations: np.ndarray
    activity: np.ndarray  # per-workstation activity multiplier
    admins: np.ndarray  # indices into workstations
    special: dict[str, str]  # role -> workstation address (compromised, scanner)
    web: _Domains
    http: _Domains
    linux_http: _Domains
    visitors: np.ndarray  # internet clients of the public web site
    visitor_w: np.ndarray
    mail_peers: np.ndarray
    upstream_dns: np.ndarray
    ntp_pool: np.ndarray


def _hex(rng: np.random.Generator, nbytes: int) -> str:
    return rng.bytes(nbytes).hex()


def _public_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct random unicast public IPv4 addresses (no private or reserved blocks)."""
    out = np.empty(0, dtype=np.uint32)
    while len(out) < n:
        x = rng.integers(1 << 24, 224 << 24, size=2 * n, dtype=np.uint32)
        a, b = x >> 24, (x >> 16) & 0xFF
        bad = (a == 10) | (a == 127) | ((a == 100) & (b >= 64) & (b < 128)) | ((a == 169) & (b == 254))
        bad |= ((a == 172) & (b >= 16) & (b < 32)) | ((a == 192) & (b == 168)) | ((a == 192) & (b == 0))
        bad |= ((a == 198) & ((b == 18) | (b == 19) | (b == 51))) | ((a == 203) & (b == 0)) | ((x & 0xFF) == 0)
        out = np.unique(np.concatenate([out, x[~bad]]))
    out = rng.permutation(out)[:n]
    return np.array([f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}" for v in out.tolist()])


def _domains(rng: np.random.Generator, table: list[tuple[str, str]], ttl: int) -> _Domains:
    ips, start, count, answers, ttls, certs, ja3s, subjects, issuers = [], [], [], [], [], [], [], [], []
    for name, provider in table:
        k = int(rng.choice([1, 1, 2, 2, 3, 4]))
        blocks = _PROVIDER_BLOCKS[provider]
        mine = [
            f"{blocks[int(rng.integers(len(blocks)))]}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
            for _ in range(k)
        ]
        start.append(len(ips))
        count.append(k)
        ips.extend(mine)
        answers.append(",".join(mine))
        ttls.append(",".join([f"{ttl:.6f}"] * k))
        ca = _PROVIDER_CA.get(provider) or str(rng.choice(["digicert", "sectigo", "globalsign", "letsencrypt"]))
        labels = name.split(".")
        cn = "*." + ".".join(labels[1:]) if len(labels) > 2 and rng.random() < 0.5 else name
        certs.append(f"{_hex(rng, 32)},{_CAS[ca][1]}")
        subjects.append(f"CN={cn}")
        issuers.append(_CAS[ca][0])
        ja3s.append(_hex(rng, 16))
    w = 1.0 / np.arange(1, len(table) + 1) ** 1.05
    w[[i for i, (name, _) in enumerate(table) if name in _AGENT_ONLY]] = 0.0  # software talks to these, not people
    # Long strings live in object arrays: indexing them shares one Python string per value.
    return _Domains(
        names=np.array([n for n, _ in table], dtype=object),
        ip_start=np.array(start),
        ip_count=np.array(count),
        ips=np.array(ips),
        answers=np.array(answers, dtype=object),
        ttls=np.array(ttls, dtype=object),
        certs=np.array(certs, dtype=object),
        subjects=np.array(subjects, dtype=object),
        issuers=np.array(issuers, dtype=object),
        ja3s=np.array(ja3s, dtype=object),
        weights=w / w.sum(),
    )


def _build_network(rng: np.random.Generator, hosts: int) -> _Network:
    n_ws = hosts - len(SERVERS)
    # 10.10.2.20-249, then further /24s for very large networks.
    ws = np.array([
        f"{WORKSTATION_NET}.{20 + i}" if i < 230 else f"10.10.{3 + (i - 230) // 250}.{1 + (i - 230) % 250}"
        for i in range(n_ws)
    ])
    order = rng.permutation(n_ws)
    admins, compromised, scanner = order[:3], order[3], order[4]
    visitors = _public_ips(rng, 3000)
    vw = 1.0 / np.arange(1, len(visitors) + 1) ** 0.8
    return _Network(
        workstations=ws,
        activity=rng.lognormal(0.0, 0.45, n_ws),
        admins=np.sort(admins),
        special={"compromised": str(ws[compromised]), "scanner": str(ws[scanner])},
        web=_domains(rng, _DOMAINS, 300),
        http=_domains(rng, _HTTP_DOMAINS, 3600),
        linux_http=_domains(rng, _LINUX_HTTP, 600),
        visitors=visitors,
        visitor_w=vw / vw.sum(),
        mail_peers=_public_ips(rng, 400),
        upstream_dns=np.array(["8.8.8.8", "1.1.1.1"]),
        ntp_pool=np.array(["162.159.200.1", "216.239.35.0", "129.6.15.28"]),
    )


# --------------------------------------------------------------------------- record tables

_CONN_COLS = (
    "ts", "orig_h", "orig_p", "resp_h", "resp_p", "proto", "service", "duration", "orig_bytes", "resp_bytes",
    "conn_state", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
)


class _Table:
    """Column blocks appended by the generators, concatenated once at the end."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []
        self.n = 0

    def add(self, **cols) -> np.ndarray:
        n = np.size(cols["row"] if "row" in cols else cols["ts"])
        if n == 0:
            return np.zeros(0, np.int64)
        block = {k: _compact(np.broadcast_to(np.asarray(v), (n,))) for k, v in cols.items()}
        self.blocks.append(block)
        rows = np.arange(self.n, self.n + n)
        self.n += n
        return rows

    def columns(self) -> dict[str, np.ndarray]:
        """All rows, column by column; the blocks are released."""
        blocks, self.blocks = self.blocks, []
        if not blocks:
            return {}
        return {k: np.concatenate([b.pop(k) for b in blocks]) for k in list(blocks[0])}


def _compact(v: np.ndarray) -> np.ndarray:
    """Long fixed-width strings (4 bytes a character) become shared Python strings.

    Hashes, certificate chains and domain names are long; the pools they come
    from are object arrays already, so this only catches the rest.
    """
    if v.dtype.kind != "U" or v.dtype.itemsize <= 64 or v.size < 1000:
        return v
    if v.strides == (0,):  # a broadcast scalar
        return np.full(v.shape, v[0].item() if v.size else "", dtype=object)
    return v.astype(object)


@dataclass
class _PendingAttack:
    kind: str
    attacker: str
    victim: str
    rows: np.ndarray
    ts: np.ndarray
    description: str
    attackers: tuple[str, ...] = ()
    victims: tuple[str, ...] = ()

    def resolve(self, uids: np.ndarray) -> InjectedAttack:
        tech, name = MITRE[self.kind]
        return InjectedAttack(
            kind=self.kind,
            technique=tech,
            technique_name=name,
            attacker=self.attacker,
            victim=self.victim,
            start=round(float(self.ts.min()), 6),
            end=round(float(self.ts.max()), 6),
            uids=tuple(uids[self.rows].tolist()),
            description=self.description,
            attackers=self.attackers,
            victims=self.victims,
        )


class _Sim:
    """The simulation window, the network and the four record tables."""

    def __init__(self, t0: float, t1: float, net: _Network) -> None:
        self.t0, self.t1, self.net = t0, t1, net
        self.conn, self.dns, self.ssl, self.http = _Table(), _Table(), _Table(), _Table()

    @property
    def span(self) -> float:
        return self.t1 - self.t0

    def at(self, frac: float) -> float:
        return self.t0 + frac * self.span

    # -- connections -----------------------------------------------------------------

    def tcp(self, rng, ts, src, dst, dport, service, ob, rb, dur, state="SF", sport=None) -> np.ndarray:
        """Established TCP connections (SF, RSTO or RSTR) with consistent packets and history."""
        ts = np.asarray(ts, float)
        n = len(ts)
        if n == 0:
            return np.zeros(0, np.int64)
        ob = np.maximum(np.round(np.broadcast_to(np.asarray(ob, float), (n,))), 0)
        rb = np.maximum(np.round(np.broadcast_to(np.asarray(rb, float), (n,))), 0)
        state = np.broadcast_to(np.asarray(state), (n,))
        d_o, d_r = np.ceil(ob / 1448), np.ceil(rb / 1448)
        op = 3 + d_o + np.ceil(d_r / 2)
        rp = 2 + d_r + np.ceil(d_o / 2)
        hist = np.where(
            (ob > 0) & (rb > 0),
            np.where(rng.random(n) < 0.7, "ShADadFf", "ShADadfF"),
            np.where(rb > 0, "ShAdaFf", np.where(ob > 0, "ShADaFf", "ShAFf")),
        )
        hist = np.where(state == "RSTO", np.char.replace(np.char.replace(hist, "Ff", "R"), "fF", "R"), hist)
        hist = np.where(state == "RSTR", np.char.replace(np.char.replace(hist, "Ff", "r"), "fF", "r"), hist)
        rp = np.where(state == "RSTO", rp - 1, rp)
        op = np.where(state == "RSTR", op - 1, op)
        if sport is None:
            sport = rng.integers(49152, 65536, n)
        dur = np.maximum(np.broadcast_to(np.asarray(dur, float), (n,)), 1e-4)
        return self.conn.add(
            ts=ts, orig_h=src, orig_p=sport, resp_h=dst, resp_p=dport, proto="tcp", service=service,
            duration=dur, orig_bytes=ob, resp_bytes=rb, conn_state=state, history=hist,
            orig_pkts=op.astype(np.int64), orig_ip_bytes=(ob + 52 * op).astype(np.int64),
            resp_pkts=rp.astype(np.int64), resp_ip_bytes=(rb + 52 * rp).astype(np.int64),
        )

    def tcp_failed(self, rng, ts, src, dst, dport, state, syns=None, sport=None) -> np.ndarray:
        """Unanswered (S0, 1-3 SYNs) or refused (REJ) TCP attempts.

        A one-packet connection has no duration in Zeek, so its duration and
        byte counts are unset, exactly as Zeek logs them.
        """
        ts = np.asarray(ts, float)
        n = len(ts)
        if n == 0:
            return np.zeros(0, np.int64)
        state = np.broadcast_to(np.asarray(state), (n,))
        rej = state == "REJ"
        if syns is None:
            syns = rng.choice([1, 2, 3], n, p=[0.75, 0.2, 0.05])
        syns = np.where(rej, 1, np.broadcast_to(syns, (n,)))
        retrans = np.array([np.nan, np.nan, 1.0, 3.0])[syns] * rng.uniform(0.98, 1.05, n)
        dur = np.where(rej, rng.uniform(2e-4, 0.04, n), retrans)
        zero = np.where(np.isnan(dur), np.nan, 0.0)
        if sport is None:
            sport = rng.integers(49152, 65536, n)
        return self.conn.add(
            ts=ts, orig_h=src, orig_p=sport, resp_h=dst, resp_p=dport, proto="tcp", service="-",
            duration=dur, orig_bytes=zero, resp_bytes=zero, conn_state=state, history=np.where(rej, "Sr", "S"),
            orig_pkts=syns.astype(np.int64), orig_ip_bytes=(52 * syns).astype(np.int64),
            resp_pkts=rej.astype(np.int64), resp_ip_bytes=(40 * rej).astype(np.int64),
        )

    def udp(self, rng, ts, src, dst, dport, service, ob, rb, dur, sport=None) -> np.ndarray:
        ts = np.asarray(ts, float)
        n = len(ts)
        if sport is None:
            sport = rng.integers(49152, 65536, n)
        ob = np.broadcast_to(np.asarray(ob, float), (n,)).round()
        rb = np.broadcast_to(np.asarray(rb, float), (n,)).round()
        return self.conn.add(
            ts=ts, orig_h=src, orig_p=sport, resp_h=dst, resp_p=dport, proto="udp", service=service,
            duration=dur, orig_bytes=ob, resp_bytes=rb, conn_state="SF", history="Dd",
            orig_pkts=1, orig_ip_bytes=(ob + 28).astype(np.int64), resp_pkts=1, resp_ip_bytes=(rb + 28).astype(np.int64),
        )

    def dns_lookup(self, rng, ts, client, server, query, qtype, rcode, answers, ttls, rtt=None) -> np.ndarray:
        """DNS queries over UDP: a conn row and a dns.log row each; returns the conn rows."""
        ts = np.asarray(ts, float)
        n = len(ts)
        if n == 0:
            return np.zeros(0, np.int64)
        if rtt is None:
            rtt = rng.lognormal(np.log(0.004), 0.8, n)
        query = np.broadcast_to(np.asarray(query), (n,))
        qtype = np.broadcast_to(np.asarray(qtype), (n,))
        rcode = np.broadcast_to(np.asarray(rcode), (n,))
        answers = np.broadcast_to(np.asarray(answers), (n,))
        q_text, a_text = query.astype(str), answers.astype(str)
        n_ans = np.where(a_text == "-", 0, np.char.count(a_text, ",") + 1)
        qlen = 17 + np.char.str_len(q_text)
        rlen = qlen + np.where(qtype == "AAAA", 28, 16) * n_ans + np.where(rcode == "NXDOMAIN", 60, 0)
        rows = self.udp(rng, ts, client, server, 53, "dns", qlen, rlen, rtt)
        qcodes = {"A": 1, "AAAA": 28, "SRV": 33, "PTR": 12, "TXT": 16}
        self.dns.add(
            row=rows, ts=ts, proto="udp", trans_id=rng.integers(0, 65536, n), rtt=rtt, query=query,
            qclass=1, qclass_name="C_INTERNET", qtype=np.vectorize(qcodes.get, otypes=[np.int64])(qtype),
            qtype_name=qtype, rcode=np.where(rcode == "NXDOMAIN", 3, 0), rcode_name=rcode,
            AA=np.where(np.char.endswith(q_text, AD_DOMAIN), "T", "F"), TC="F", RD="T", RA="T", Z=0,
            answers=answers, TTLs=np.broadcast_to(np.asarray(ttls), (n,)), rejected="F",
        )
        return rows

    def tls(self, rng, rows, ts, sni, ja3, ja3s, cert: "_Cert", v13=0.75, validation="ok", alpn=True) -> None:
        """ssl.log rows for TLS connections; TLS 1.3 hides the certificate chain from Zeek."""
        n = len(rows)
        if n == 0:
            return
        is13 = rng.random(n) < v13
        hidden = lambda v: np.where(is13, "-", np.broadcast_to(np.asarray(v, dtype=object), (n,)))  # noqa: E731
        self.ssl.add(
            row=rows, ts=np.asarray(ts, float) + rng.uniform(5e-4, 5e-3, n),  # the client hello follows the handshake
            version=np.where(is13, "TLSv13", "TLSv12"),
            cipher=np.where(is13, "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            curve=np.where(rng.random(n) < 0.85, "x25519", "secp256r1"), server_name=sni,
            resumed=np.where(rng.random(n) < 0.2, "T", "F"), last_alert="-",
            next_protocol=np.where(rng.random(n) < 0.8, "h2", "http/1.1") if alpn else "-", established="T",
            ssl_history=np.where(is13, "CsiI", "CsxknGIi"),
            cert_chain_fps=hidden(cert.fps), client_cert_chain_fps=hidden("(empty)"),
            subject=hidden(cert.subject), issuer=hidden(cert.issuer),
            sni_matches_cert=hidden("T"), validation_status=hidden(validation),
            ja3=ja3, ja3s=ja3s,
        )

    def http_req(self, rng, rows, ts, method, host, uri, ua, req_len, resp_len, status, mime) -> None:
        n = len(rows)
        if n == 0:
            return
        status = np.broadcast_to(np.asarray(status), (n,))
        msgs = {200: "OK", 301: "Moved Permanently", 304: "Not Modified", 404: "Not Found"}
        resp_len = np.broadcast_to(np.asarray(resp_len), (n,))
        has_body = resp_len > 0
        self.http.add(
            row=rows, ts=np.asarray(ts, float) + rng.uniform(5e-4, 5e-3, n), trans_depth=1, method=method,
            host=host, uri=uri, referrer="-", version="1.1", user_agent=ua, origin="-",
            request_body_len=req_len, response_body_len=resp_len, status_code=status,
            status_msg=np.vectorize(msgs.get, otypes=[object])(status).astype(str) if n else np.zeros(0, "U2"),
            info_code="-", info_msg="-", tags="(empty)", username="-", password="-", proxied="-",
            orig_fuids="-", orig_filenames="-", orig_mime_types="-",
            resp_fuids=np.where(has_body, _fuids(rng, n), "-"), resp_filenames="-",
            resp_mime_types=np.where(has_body, mime, "-"),
        )


def _base62(rng: np.random.Generator, n: int, prefix: str) -> np.ndarray:
    alphabet = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    buf = np.empty((n, 18), dtype=np.uint8)
    buf[:, 0] = ord(prefix)
    buf[:, 1:] = alphabet[rng.integers(0, 62, size=(n, 17))]
    return buf.view("S18").ravel().astype("U18")


def _fuids(rng: np.random.Generator, n: int) -> np.ndarray:
    return _base62(rng, n, "F")


def _unique_uids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Zeek-style connection uids: 'C' and 17 base62 characters, all distinct."""
    uids = _base62(rng, n, "C")
    while True:
        _, first = np.unique(uids, return_index=True)
        if len(first) == n:
            return uids
        dup = np.setdiff1d(np.arange(n), first)
        uids[dup] = _base62(rng, len(dup), "C")


# --------------------------------------------------------------------------- benign traffic

# Share of active users by hour of day (local time = UTC here).
_DIURNAL = np.array(
    [0.04, 0.03, 0.03, 0.03, 0.03, 0.05, 0.10, 0.35, 0.80, 1.00, 1.00, 0.95,
     0.80, 0.95, 1.00, 0.95, 0.90, 0.75, 0.50, 0.30, 0.22, 0.15, 0.10, 0.06]
)


def _diurnal(t: np.ndarray) -> np.ndarray:
    h = (np.asarray(t) % 86400) / 3600.0
    return np.interp(h, np.arange(25), np.append(_DIURNAL, _DIURNAL[0]))


def _poisson_times(rng, sim: _Sim, rate_per_s: np.ndarray, shape_fn=_diurnal) -> tuple[np.ndarray, np.ndarray]:
    """Event times of independent Poisson processes, one per ``rate_per_s`` entry,
    modulated per minute by ``shape_fn``. Returns (times, process index)."""
    minutes = np.arange(sim.t0, sim.t1, 60.0)
    width = np.minimum(60.0, sim.t1 - minutes)
    lam = np.outer(np.asarray(rate_per_s, float), shape_fn(minutes + 30.0) * width)
    counts = rng.poisson(lam)
    who, minute = np.nonzero(counts)
    k = counts[who, minute]
    who, minute = np.repeat(who, k), np.repeat(minute, k)
    t = minutes[minute] + rng.random(len(who)) * width[minute]
    return t, who


def _periodic(rng, sim: _Sim, n_proc: int, period: np.ndarray, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Times of ``n_proc`` periodic timers with a random phase and relative jitter."""
    period = np.broadcast_to(np.asarray(period, float), (n_proc,))
    k = int(np.ceil(sim.span / period.min())) + 2
    steps = period[:, None] * (1.0 + rng.uniform(-jitter, jitter, (n_proc, k)))
    t = sim.t0 + rng.random(n_proc)[:, None] * period[:, None] + np.cumsum(steps, axis=1) - steps[:, :1]
    who = np.repeat(np.arange(n_proc)[:, None], k, axis=1)
    keep = t < sim.t1
    return t[keep], who[keep]


def _workstation_activity(rng, sim: _Sim) -> None:
    """User-driven traffic: browsing, plain HTTP, SMB, intranet, mail, Kerberos, failures."""
    net = sim.net
    ws = net.workstations
    t, who = _poisson_times(rng, sim, 0.48 * net.activity)
    kind = rng.choice(7, len(t), p=[0.64, 0.05, 0.12, 0.05, 0.06, 0.05, 0.03])
    src_all = ws[who]

    # HTTPS browsing: each user action opens a burst of connections to popular domains.
    sel = kind == 0
    burst = rng.geometric(0.45, sel.sum())
    first = np.repeat(np.cumsum(burst) - burst, burst)  # row of each burst's first connection
    later = np.arange(burst.sum()) > first
    tb = np.repeat(t[sel], burst) + later * rng.exponential(0.4, burst.sum())
    src = np.repeat(src_all[sel], burst)
    _browse(rng, sim, tb, src)

    # Plain HTTP: OCSP, CRL, connectivity checks.
    sel = kind == 1
    _plain_http(rng, sim, t[sel], src_all[sel])

    # SMB to the file server: mostly small, sometimes a large copy.
    sel = kind == 2
    n = sel.sum()
    big = rng.random(n) < 0.04
    rb = np.where(big, np.minimum(rng.pareto(1.3, n) * 3e6 + 1e6, 2e9), rng.lognormal(np.log(40e3), 1.4, n))
    ob = np.where(rng.random(n) < 0.15, rng.lognormal(np.log(200e3), 1.5, n), rng.lognormal(np.log(6e3), 0.9, n))
    dur = 0.02 + (ob + rb) / rng.lognormal(np.log(40e6), 0.6, n) + rng.exponential(30.0, n)
    sim.tcp(rng, t[sel], src_all[sel], SERVERS["files01"], 445, "smb", ob, rb, dur)

    # Intranet on web01.
    sel = kind == 3
    n = sel.sum()
    rows = sim.tcp(rng, t[sel], src_all[sel], SERVERS["web01"], 443, "ssl", rng.lognormal(np.log(1500), 0.7, n),
                   rng.lognormal(np.log(25e3), 1.3, n), rng.lognormal(np.log(8.0), 1.0, n))
    # Signed by the company's own CA, which Zeek's Mozilla root store does not know.
    sim.tls(rng, rows, t[sel], f"intranet.{AD_DOMAIN}", rng.choice(_BROWSER_JA3, n), "1f2e3d4c5b6a79880716253443526170",
            _own_cert(f"intranet.{AD_DOMAIN}", "internal"), v13=0.0, validation="unable to get local issuer certificate")

    # Mail client: IMAPS and submission to mail01.
    sel = kind == 4
    n = sel.sum()
    submit = rng.random(n) < 0.2
    rows = sim.tcp(rng, t[sel], src_all[sel], SERVERS["mail01"], np.where(submit, 587, 993),
                   np.where(submit, "smtp,ssl", "ssl"),
                   np.where(submit, rng.lognormal(np.log(60e3), 1.2, n), rng.lognormal(np.log(2e3), 0.6, n)),
                   np.where(submit, rng.lognormal(np.log(2e3), 0.3, n), rng.lognormal(np.log(30e3), 1.5, n)),
                   rng.lognormal(np.log(20.0), 1.2, n))
    sim.tls(rng, rows, t[sel], f"mail.{PUBLIC_DOMAIN}", _BROWSER_JA3[0],
            "0aa9b8c7d6e5f4a3b2c1d0e9f8a7b6c5", _own_cert(f"mail.{PUBLIC_DOMAIN}", "letsencrypt"), v13=0.0, alpn=False)

    # Kerberos tickets from the domain controller.
    sel = kind == 5
    n = sel.sum()
    sim.tcp(rng, t[sel], src_all[sel], SERVERS["dc01"], 88, "krb_tcp", rng.normal(1650, 120, n),
            rng.normal(1550, 150, n), rng.uniform(0.002, 0.02, n))

    # Failed connections: dead external hosts (S0) and closed internal ports (REJ).
    sel = kind == 6
    n = sel.sum()
    ext = rng.random(n) < 0.6
    dst = np.where(ext, net.web.ips[rng.integers(0, len(net.web.ips), n)],
                   rng.choice([SERVERS["files01"], SERVERS["web01"], SERVERS["mail01"]], n))
    port = np.where(ext, 443, rng.choice([8080, 3389, 5985, 8443], n))
    sim.tcp_failed(rng, t[sel], src_all[sel], dst, port, np.where(ext, "S0", "REJ"))

    # Background lookups not tied to a connection: AD service records, WPAD, reverse lookups.
    tq, wq = _poisson_times(rng, sim, np.full(len(ws), 0.004), lambda x: 0.3 + 0.7 * _diurnal(x))
    n = len(tq)
    q = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    names = np.array([f"_ldap._tcp.dc._msdcs.{AD_DOMAIN}", f"wpad.{AD_DOMAIN}", "2.1.10.10.in-addr.arpa"])
    sim.dns_lookup(rng, tq, ws[wq], SERVERS["dc01"], names[q], np.array(["SRV", "A", "PTR"])[q],
                   np.where(q == 1, "NXDOMAIN", "NOERROR"),
                   np.array([f"dc01.{AD_DOMAIN}", "-", f"dc01.{AD_DOMAIN}"])[q],
                   np.array(["600.000000", "-", "3600.000000"])[q], rtt=rng.uniform(2e-4, 2e-3, n))


def _dns_then(rng, sim: _Sim, t, src, doms: _Domains, dom, p_lookup: float, forward: float = 0.25) -> None:
    """Resolve a share of the connections' names just before they start (the rest hit caches)."""
    look = rng.random(len(t)) < p_lookup
    n = int(look.sum())
    if not n:
        return
    rtt = np.where(rng.random(n) < forward, rng.lognormal(np.log(0.025), 0.5, n), rng.uniform(2e-4, 2e-3, n))
    tq = t[look] - rtt - rng.uniform(0.001, 0.02, n)
    d = dom[look]
    sim.dns_lookup(rng, tq, src[look], SERVERS["dc01"], doms.names[d], "A", "NOERROR", doms.answers[d], doms.ttls[d],
                   rtt=rtt)
    # Cache misses are forwarded upstream by the resolver.
    up = rtt > 0.005
    m = int(up.sum())
    if m:
        sim.dns_lookup(rng, tq[up] + 2e-4, SERVERS["dc01"], rng.choice(sim.net.upstream_dns, m), doms.names[d[up]],
                       "A", "NOERROR", doms.answers[d[up]], doms.ttls[d[up]], rtt=rtt[up] * 0.9)


def _browse(rng, sim: _Sim, t: np.ndarray, src: np.ndarray) -> None:
    web = sim.net.web
    n = len(t)
    dom = rng.choice(len(web.names), n, p=web.weights)
    dst = web.pick_ips(rng, dom)
    ob = 517 + rng.lognormal(np.log(900), 1.0, n)
    # Now and then a user uploads a file to the office cloud: large outbound, benign.
    cloud = np.isin(web.names[dom], ["northwind.sharepoint.com", "onedrive.live.com"]) & (rng.random(n) < 0.03)
    ob = np.where(cloud, np.minimum(rng.lognormal(np.log(15e6), 1.0, n), 4e8), ob)
    download = rng.random(n) < 0.02
    rb = np.where(download, (rng.pareto(1.2, n) + 1) * 1.5e6, 3000 + rng.lognormal(np.log(9e3), 1.6, n))
    rb = np.minimum(rb, 1.5e9)
    idle = np.where(rng.random(n) < 0.6, rng.lognormal(np.log(30.0), 1.0, n), 0.0)
    dur = 0.03 + rb / rng.lognormal(np.log(4e6), 0.9, n) + idle
    state = rng.choice(np.array(["SF", "RSTO", "RSTR"]), n, p=[0.94, 0.035, 0.025])
    rows = sim.tcp(rng, t, src, dst, 443, "ssl", ob, rb, dur, state=state)
    sim.tls(rng, rows, t, web.names[dom], rng.choice(_BROWSER_JA3, n, p=[0.55, 0.3, 0.15]), web.ja3s[dom], web.cert(dom))
    _dns_then(rng, sim, t, src, web, dom, 0.3)


_HTTP_URIS = {
    "ocsp": ("POST", "/", 83, 1400, "application/ocsp-response"),
    "crl": ("GET", "/DigiCertGlobalRootCA.crl", 0, 900, "application/pkix-crl"),
    "ctl": ("GET", "/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab", 0, 9000, "application/vnd.ms-cab-compressed"),
    "ncsi": ("GET", "/connecttest.txt", 0, 22, "text/plain"),
}


def _plain_http(rng, sim: _Sim, t: np.ndarray, src: np.ndarray) -> None:
    doms = sim.net.http
    n = len(t)
    dom = rng.integers(0, len(doms.names), n)
    names = doms.names[dom].astype(str)
    kind = np.where(np.char.startswith(names, "crl"), "crl",
                    np.where(np.char.startswith(names, "ctldl"), "ctl",
                             np.where(np.char.endswith(names, "msftconnecttest.com"), "ncsi", "ocsp")))
    spec = {k: np.array([_HTTP_URIS[x][i] for x in kind]) if n else np.zeros(0) for i, k in
            enumerate(("method", "uri", "req", "resp", "mime"))}
    req = spec["req"].astype(float)
    body = spec["resp"].astype(float) * rng.uniform(0.8, 1.2, n)
    status = np.where((kind == "ctl") & (rng.random(n) < 0.5), 304, 200)
    body = np.where(status == 304, 0, np.round(body))
    ob = 180 + req + rng.integers(0, 80, n)
    rb = 220 + body
    rows = sim.tcp(rng, t, src, doms.pick_ips(rng, dom), 80, "http", ob, rb, rng.lognormal(np.log(0.08), 0.7, n))
    ua = np.where(kind == "ncsi", "Microsoft NCSI", np.where(kind == "ocsp", "Microsoft-CryptoAPI/10.0", _USER_AGENTS[0]))
    sim.http_req(rng, rows, t, spec["method"], names, spec["uri"], ua, req.astype(np.int64), body.astype(np.int64),
                 status, spec["mime"])
    _dns_then(rng, sim, t, src, doms, dom, 0.5)


def _periodic_benign(rng, sim: _Sim) -> None:
    """NTP, the hourly update check, the telemetry heartbeat and the monitoring checks."""
    net = sim.net
    ws = net.workstations
    nw = len(ws)
    # NTP: each client polls its server at a fixed power-of-two interval.
    poll = rng.choice([64, 128, 256, 512, 1024], nw, p=[0.1, 0.1, 0.2, 0.2, 0.4]).astype(float)
    t, who = _periodic(rng, sim, nw, poll, 0.01)
    sim.udp(rng, t, ws[who], SERVERS["dc01"], 123, "ntp", 48, 48, rng.uniform(2e-4, 2e-3, len(t)), sport=123)
    t, who = _periodic(rng, sim, 1, 1024.0, 0.01)
    sim.udp(rng, t, SERVERS["dc01"], rng.choice(net.ntp_pool, len(t)), 123, "ntp", 48, 48,
            rng.uniform(0.01, 0.04, len(t)), sport=123)

    # Hourly update check and 15-minute telemetry heartbeat, with the jitter real agents use.
    web = net.web
    for name, period, jitter, ob, rb in (
        ("update.googleapis.com", 3600.0, 0.1, 1900.0, 5200.0),
        ("v10.events.data.microsoft.com", 900.0, 0.2, 3200.0, 4800.0),
    ):
        d = web.index(name)
        t, who = _periodic(rng, sim, nw, period, jitter)
        n = len(t)
        dom = np.full(n, d)
        big = rng.random(n) < 0.05  # an actual update or a batch of events
        rows = sim.tcp(rng, t, ws[who], web.pick_ips(rng, dom), 443, "ssl",
                       ob * rng.lognormal(0, 0.15, n) * np.where(big, 8, 1),
                       rb * rng.lognormal(0, 0.2, n) * np.where(big, 40, 1), rng.lognormal(np.log(0.6), 0.5, n))
        sim.tls(rng, rows, t, web.names[dom], _BROWSER_JA3[1], web.ja3s[dom], web.cert(dom), v13=0.9)
        _dns_then(rng, sim, t, ws[who], web, dom, 0.7)

    # Monitoring: ICMP echo to every server and an HTTPS health check of web01, every minute.
    targets = np.array([ip for name, ip in SERVERS.items() if name != "mon01"])
    t, who = _periodic(rng, sim, len(targets), 60.0, 0.005)
    n = len(t)
    sim.conn.add(ts=t, orig_h=SERVERS["mon01"], orig_p=8, resp_h=targets[who], resp_p=0, proto="icmp", service="-",
                 duration=rng.uniform(2.0, 2.01, n), orig_bytes=168.0, resp_bytes=168.0, conn_state="OTH", history="-",
                 orig_pkts=3, orig_ip_bytes=252, resp_pkts=3, resp_ip_bytes=252)
    t, _ = _periodic(rng, sim, 1, 60.0, 0.005)
    n = len(t)
    rows = sim.tcp(rng, t, SERVERS["mon01"], SERVERS["web01"], 443, "ssl", rng.normal(620, 4, n), rng.normal(3900, 30, n),
                   rng.uniform(0.01, 0.03, n), sport=rng.integers(32768, 61000, n))
    sim.tls(rng, rows, t, f"www.{PUBLIC_DOMAIN}", "e7d705a3286e19ea42f587b344ee6865", "ae4edc6faf64d08308082ad26be60767",
            _own_cert(f"www.{PUBLIC_DOMAIN}", "letsencrypt"), v13=1.0)


def _server_background(rng, sim: _Sim) -> None:
    """Web visitors, mail in and out, upstream DNS noise and internet scanning noise."""
    net = sim.net
    web_ip = SERVERS["web01"]
    # Visitors of the public web site, from everywhere (flatter daily curve).
    t, _ = _poisson_times(rng, sim, [0.55], lambda x: 0.45 + 0.55 * _diurnal(x))
    n = len(t)
    src = net.visitors[rng.choice(len(net.visitors), n, p=net.visitor_w)]
    tls = rng.random(n) < 0.88
    sport = rng.integers(32768, 65536, n)
    rows = sim.tcp(rng, t[tls], src[tls], web_ip, 443, "ssl", 517 + rng.lognormal(np.log(700), 0.8, tls.sum()),
                   rng.lognormal(np.log(30e3), 1.3, tls.sum()), rng.lognormal(np.log(5.0), 1.2, tls.sum()), sport=sport[tls])
    m = len(rows)
    sim.tls(rng, rows, t[tls], np.where(rng.random(m) < 0.9, f"www.{PUBLIC_DOMAIN}", PUBLIC_DOMAIN),
            rng.choice(_BROWSER_JA3, m), "ae4edc6faf64d08308082ad26be60767",
            _own_cert(f"www.{PUBLIC_DOMAIN}", "letsencrypt"))
    pl = ~tls
    m = int(pl.sum())
    rows = sim.tcp(rng, t[pl], src[pl], web_ip, 80, "http", rng.integers(300, 450, m), rng.integers(350, 420, m),
                   rng.uniform(0.02, 0.2, m), sport=sport[pl])
    sim.http_req(rng, rows, t[pl], "GET", f"www.{PUBLIC_DOMAIN}", "/", rng.choice(_USER_AGENTS[:3], m), 0, 162, 301,
                 "text/html")

    # Mail: external MTAs deliver to mail01, mail01 relays out.
    for rate, inbound in ((0.05, True), (0.03, False)):
        t, _ = _poisson_times(rng, sim, [rate], lambda x: 0.3 + 0.7 * _diurnal(x))
        n = len(t)
        peer = rng.choice(net.mail_peers, n)
        msg = rng.lognormal(np.log(30e3), 1.3, n)
        ctl = rng.normal(1800, 150, n)
        src, dst = (peer, SERVERS["mail01"]) if inbound else (SERVERS["mail01"], peer)
        sim.tcp(rng, t, src, dst, 25, "smtp", msg, ctl, rng.lognormal(np.log(1.5), 0.8, n),
                sport=rng.integers(32768, 61000, n))

    # Internet background radiation against the exposed servers: single probes of closed
    # ports, and SSH banner grabs on the jump host (its port 22 is open).
    t, _ = _poisson_times(rng, sim, [18 / 3600.0], lambda x: np.ones_like(x))
    n = len(t)
    exposed = np.array([web_ip, SERVERS["jump01"], SERVERS["mail01"]])
    dst = rng.choice(exposed, n)
    dport = rng.choice([23, 22, 3389, 445, 8080, 5900, 1433, 3306, 6379, 8443], n)
    src = _public_ips(rng, max(n, 1))[:n]
    grab = (dport == 22) & (dst == SERVERS["jump01"])
    m = int(grab.sum())
    sim.tcp(rng, t[grab], src[grab], dst[grab], 22, "ssh", rng.integers(20, 45, m), rng.integers(38, 60, m),
            rng.uniform(0.1, 1.5, m), sport=rng.integers(1024, 65536, m))
    sim.tcp_failed(rng, t[~grab], src[~grab], dst[~grab], dport[~grab], rng.choice(["REJ", "S0"], n - m), syns=1,
                   sport=rng.integers(1024, 65536, n - m))


def _admin_and_backup(rng, sim: _Sim) -> None:
    """Admins' SSH sessions through the jump host, its apt updates, and the nightly backup."""
    net = sim.net
    jump = SERVERS["jump01"]
    admins = net.workstations[net.admins]
    for a in admins:
        k = 1 + rng.poisson(1.2 * sim.span / 21600.0)
        t = np.sort(sim.t0 + rng.random(k) * sim.span * 0.9)
        dur = np.minimum(rng.lognormal(np.log(1500), 0.8, k), sim.t1 - t)
        sim.tcp(rng, t, a, jump, 22, "ssh", rng.lognormal(np.log(60e3), 1.2, k), rng.lognormal(np.log(400e3), 1.5, k), dur)
        # From the jump host to the servers being administered.
        for ti, di in zip(t, dur):
            m = 1 + int(rng.integers(0, 3))
            tt = ti + rng.random(m) * di * 0.5
            dd = np.minimum(rng.lognormal(np.log(300), 0.8, m), ti + di - tt)
            dst = rng.choice([SERVERS[s] for s in ("files01", "mail01", "web01", "backup01", "dc01")], m)
            sim.tcp(rng, tt, jump, dst, 22, "ssh", rng.lognormal(np.log(20e3), 1.0, m), rng.lognormal(np.log(90e3), 1.2, m),
                    dd, sport=rng.integers(32768, 61000, m))
    # Ubuntu updates on the jump host, every 6 hours (apt-daily), and the resolver's upstream lookups.
    doms = net.linux_http
    t, _ = _periodic(rng, sim, 1, 6 * 3600.0, 0.15)
    for ti in t:
        m = int(rng.integers(2, 6))
        tt = ti + np.sort(rng.random(m)) * 20
        d = rng.integers(0, len(doms.names), m)
        rows = sim.tcp(rng, tt, jump, doms.pick_ips(rng, d), 80, "http", rng.integers(200, 400, m),
                       rng.lognormal(np.log(120e3), 1.5, m) + 300, rng.lognormal(np.log(1.0), 1.0, m),
                       sport=rng.integers(32768, 61000, m))
        sim.http_req(rng, rows, tt, "GET", doms.names[d], "/ubuntu/dists/jammy-updates/InRelease",
                     "Debian APT-HTTP/1.3 (2.4.11)", 0, rng.integers(100e3, 130e3, m), 200, "text/plain")
        _dns_then(rng, sim, tt, np.full(m, jump), doms, d, 1.0)

    # Nightly backup at 22:00: every server uploads to backup01 (Bacula storage daemon, port 9103).
    # The volumes are large but the same night after night.
    day0 = math.floor(sim.t0 / 86400) * 86400
    volumes = {"files01": 14e9, "mail01": 5e9, "dc01": 0.8e9, "web01": 1.2e9, "jump01": 0.3e9}
    for day in np.arange(day0, sim.t1, 86400.0):
        tb = day + 22 * 3600 + rng.uniform(0.05, 0.4)  # cron fires on the minute
        if not (sim.t0 <= tb < sim.t1):
            continue
        sim.tcp(rng, tb + np.arange(len(volumes)) * 5.0, SERVERS["backup01"], [SERVERS[s] for s in volumes], 9102, "-",
                rng.integers(2000, 4000, len(volumes)), rng.integers(3000, 6000, len(volumes)), 1800.0,
                sport=rng.integers(32768, 61000, len(volumes)))
        start = tb + 10.0
        for name, vol in volumes.items():
            k = 3 if vol > 2e9 else 1
            size = vol * rng.uniform(0.97, 1.03) / k * rng.uniform(0.9, 1.1, k)
            dur = size / rng.uniform(60e6, 90e6, k)
            ts = start + np.concatenate([[0.0], np.cumsum(dur[:-1] + 2.0)])
            sim.tcp(rng, ts, SERVERS[name], SERVERS["backup01"], 9103, "-", size, size * 2e-4, dur,
                    sport=rng.integers(32768, 61000, k))
            start = ts[-1] + dur[-1] + 5.0


# --------------------------------------------------------------------------- attacks


def _attack_portscan(rng, sim: _Sim) -> list[_PendingAttack]:
    """Vertical SYN scan of files01's top ~1000 ports, then a 445 sweep of the workstation subnet."""
    attacker = sim.net.special["scanner"]
    victim = SERVERS["files01"]
    ports = np.unique(np.concatenate([[21, 22, 23, 25, 53, 80, 88, 110, 135, 139, 143, 389, 443, 445, 636, 1433, 3389, 5985],
                                      rng.choice(np.arange(1, 10000), 1100, replace=False)]))[:1000]
    ports = rng.permutation(ports)
    n = len(ports)
    t0 = sim.at(0.20 + rng.uniform(-0.01, 0.01))
    span = min(180.0, 0.05 * sim.span)
    t = np.sort(t0 + rng.random(n) * span)
    sport = rng.integers(40000, 60000)  # nmap keeps one source port for a scan
    open_ = np.isin(ports, [135, 139, 445, 3389, 5985])
    filtered = (~open_) & (rng.random(n) < 0.3)
    rows_f = sim.tcp_failed(rng, t[~open_], attacker, victim, ports[~open_], np.where(filtered[~open_], "S0", "REJ"),
                            syns=np.where(filtered[~open_], 2, 1), sport=sport)
    # Open ports: the scanner completes the handshake and grabs a banner.
    m = int(open_.sum())
    rows_o = sim.tcp(rng, t[open_], attacker, victim, ports[open_], np.where(ports[open_] == 445, "smb", "-"),
                     rng.integers(0, 60, m), rng.integers(20, 300, m), rng.uniform(0.01, 0.5, m),
                     sport=rng.integers(40000, 60000, m))
    vertical = _PendingAttack("portscan", attacker, victim, np.concatenate([rows_f, rows_o]), t,
                              f"SYN scan of {n} TCP ports on {victim} from {attacker}")

    # Horizontal sweep of 445 across the workstation subnet (most addresses are unused).
    subnet = [f"{WORKSTATION_NET}.{i}" for i in range(1, 255)]
    targets = rng.permutation(np.array([ip for ip in subnet if ip != attacker]))  # scanners shuffle targets
    m = len(targets)
    ts = sim.at(0.23 + rng.uniform(-0.01, 0.01)) + np.sort(rng.random(m)) * min(90.0, 0.03 * sim.span)
    live = np.isin(targets, sim.net.workstations)
    state = np.where(live & (rng.random(m) < 0.5), "REJ", "S0")  # unused addresses never answer
    rows_h = sim.tcp_failed(rng, ts, attacker, targets, 445, state, sport=rng.integers(40000, 60000, m))
    horizontal = _PendingAttack("portscan", attacker, f"{WORKSTATION_NET}.0/24", rows_h, ts,
                                f"SMB (445/tcp) sweep of {m} addresses in {WORKSTATION_NET}.0/24 from {attacker}",
                                victims=tuple(targets.tolist()))
    return [vertical, horizontal]


def _attack_bruteforce(rng, sim: _Sim) -> _PendingAttack:
    """SSH password guessing from the internet against jump01: short, near-identical connections."""
    victim = SERVERS["jump01"]
    t0 = sim.at(0.35 + rng.uniform(-0.02, 0.02))
    span = min(25 * 60.0, 0.12 * sim.span)
    gaps = rng.exponential(3.0 * span / 1500.0, int(span / (3.0 * span / 1500.0)) + 50)
    t = t0 + np.cumsum(gaps)
    t = t[t < t0 + span]
    n = len(t)
    state = np.where(rng.random(n) < 0.04, "RSTO", "SF")
    rows = sim.tcp(rng, t, BRUTEFORCE_IP, victim, 22, "ssh", rng.normal(1720, 25, n), rng.normal(2650, 25, n),
                   rng.uniform(1.8, 3.2, n), state=state, sport=rng.integers(32768, 61000, n))
    return _PendingAttack("bruteforce", BRUTEFORCE_IP, victim, rows, t,
                          f"{n} SSH login attempts from {BRUTEFORCE_IP} against {victim}")


def _attack_ddos(rng, sim: _Sim) -> _PendingAttack:
    """SYN flood from spoofed sources against web01: thousands of S0 flows in a few minutes."""
    victim = SERVERS["web01"]
    span = min(240.0, 0.05 * sim.span)
    t0 = sim.at(0.55 + rng.uniform(-0.02, 0.02))
    n = int(span * rng.uniform(90, 110))
    sources = _public_ips(rng, int(rng.integers(350, 600)))
    src = sources[rng.integers(0, len(sources), n)]
    t = np.sort(t0 + rng.random(n) * span)
    rows = sim.tcp_failed(rng, t, src, victim, np.where(rng.random(n) < 0.8, 443, 80), "S0",
                          syns=rng.choice([1, 2], n, p=[0.9, 0.1]), sport=rng.integers(1024, 65536, n))
    vals, cnt = np.unique(src, return_counts=True)
    return _PendingAttack("ddos", str(vals[np.argmax(cnt)]), victim, rows, t,
                          f"TCP SYN flood of {n} connections from {len(sources)} spoofed sources against {victim} 80/443",
                          attackers=tuple(sources.tolist()))


def _attack_beacon_and_exfil(rng, sim: _Sim) -> list[_PendingAttack]:
    """C2 beaconing every 60 s +-10 % from the compromised workstation, then a late bulk upload."""
    host = sim.net.special["compromised"]
    t_start = sim.at(0.04) + rng.uniform(0, 60)
    t_stop = sim.t1 - 30.0
    gaps = 60.0 * rng.uniform(0.9, 1.1, int(sim.span / 54) + 2)
    t = t_start + np.concatenate([[0.0], np.cumsum(gaps)])
    t = t[t < t_stop]
    n = len(t)
    tasked = rng.random(n) < 0.03  # now and then the server hands out a task
    ob = np.where(tasked, rng.normal(2400, 200, n), rng.normal(780, 12, n))
    rb = np.where(tasked, rng.normal(14e3, 3e3, n), rng.normal(1650, 15, n))
    rows = sim.tcp(rng, t, host, C2_IP, 443, "ssl", ob, rb, rng.uniform(0.25, 0.6, n))
    self_signed = _hex(rng, 32)
    sim.ssl.add(
        row=rows, ts=t + rng.uniform(0.02, 0.06, n), version="TLSv12", cipher="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        curve="secp256r1", server_name=C2_DOMAIN, resumed="F", last_alert="-", next_protocol="-", established="T",
        ssl_history="CsxknGIi", cert_chain_fps=self_signed, client_cert_chain_fps="(empty)",
        subject=_OPENSSL_DEFAULT_DN, issuer=_OPENSSL_DEFAULT_DN, sni_matches_cert="F",
        validation_status="self signed certificate", ja3=_IMPLANT_JA3, ja3s="b742b407517bac9536a77a7b0fee28e9",
    )
    # The implant re-resolves its C2 domain whenever the 300 s TTL has run out.
    lookups, last = [], -1e18
    for ti in t:
        if ti - last >= 300.0:
            lookups.append(ti - 0.03)
            last = ti
    tq = np.array(lookups)
    sim.dns_lookup(rng, tq, host, SERVERS["dc01"], C2_DOMAIN, "A", "NOERROR", C2_IP, "300.000000",
                   rtt=rng.uniform(0.015, 0.025, len(tq)))
    beacon = _PendingAttack("beacon", host, C2_IP, rows, t,
                            f"TLS beacon every ~60 s from {host} to {C2_IP} ({C2_DOMAIN}, self-signed certificate)")

    # Exfiltration: 2-5 GB over a few long uploads, late in the window.
    k = int(rng.integers(3, 5))
    total = rng.uniform(2e9, 5e9)
    size = total * rng.dirichlet(np.full(k, 6.0))
    span = min(40 * 60.0, 0.12 * sim.span)
    tx0 = sim.at(0.86) + rng.uniform(0, 60)
    dur = size / size.sum() * span * 0.92
    tx = tx0 + np.concatenate([[0.0], np.cumsum(dur[:-1] + rng.uniform(5, 30, k - 1))])
    squeeze = min(1.0, (sim.t1 - 1.0 - tx0) / (tx[-1] + dur[-1] - tx0))  # short windows: compress the timeline
    tx, dur = tx0 + (tx - tx0) * squeeze, dur * squeeze
    xrows = sim.tcp(rng, tx, host, EXFIL_IP, 443, "ssl", size, size * rng.uniform(0.004, 0.006, k), dur)
    sim.ssl.add(
        row=xrows, ts=tx + 0.05, version="TLSv12", cipher="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", curve="x25519",
        server_name=EXFIL_DOMAIN, resumed="F", last_alert="-", next_protocol="http/1.1", established="T",
        ssl_history="CsxknGIi", cert_chain_fps=f"{_hex(rng, 32)},{_CAS['letsencrypt'][1]}",
        client_cert_chain_fps="(empty)", subject=f"CN={EXFIL_DOMAIN}", issuer=_CAS["letsencrypt"][0],
        sni_matches_cert="T", validation_status="ok", ja3=_IMPLANT_JA3, ja3s="c0ffee77d54c2e1f7b3a9e0d4f6a8b2c",
    )
    sim.dns_lookup(rng, tx[:1] - 0.05, host, SERVERS["dc01"], EXFIL_DOMAIN, "A", "NOERROR", EXFIL_IP, "60.000000")
    exfil = _PendingAttack("exfiltration", host, EXFIL_IP, xrows, tx,
                           f"{size.sum() / 1e9:.1f} GB uploaded from {host} to {EXFIL_IP} ({EXFIL_DOMAIN}) "
                           f"over {k} TLS connections")
    return [beacon, exfil]


# --------------------------------------------------------------------------- Zeek TSV writing

_LOG_SPECS = {
    "conn": [
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
        ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"), ("duration", "interval"),
        ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"), ("local_orig", "bool"),
        ("local_resp", "bool"), ("missed_bytes", "count"), ("history", "string"), ("orig_pkts", "count"),
        ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"), ("tunnel_parents", "set[string]"),
    ],
    "dns": [
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
        ("id.resp_p", "port"), ("proto", "enum"), ("trans_id", "count"), ("rtt", "interval"), ("query", "string"),
        ("qclass", "count"), ("qclass_name", "string"), ("qtype", "count"), ("qtype_name", "string"), ("rcode", "count"),
        ("rcode_name", "string"), ("AA", "bool"), ("TC", "bool"), ("RD", "bool"), ("RA", "bool"), ("Z", "count"),
        ("answers", "vector[string]"), ("TTLs", "vector[interval]"), ("rejected", "bool"),
    ],
    "http": [
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
        ("id.resp_p", "port"), ("trans_depth", "count"), ("method", "string"), ("host", "string"), ("uri", "string"),
        ("referrer", "string"), ("version", "string"), ("user_agent", "string"), ("origin", "string"),
        ("request_body_len", "count"), ("response_body_len", "count"), ("status_code", "count"), ("status_msg", "string"),
        ("info_code", "count"), ("info_msg", "string"), ("tags", "set[enum]"), ("username", "string"),
        ("password", "string"), ("proxied", "set[string]"), ("orig_fuids", "vector[string]"),
        ("orig_filenames", "vector[string]"), ("orig_mime_types", "vector[string]"), ("resp_fuids", "vector[string]"),
        ("resp_filenames", "vector[string]"), ("resp_mime_types", "vector[string]"),
    ],
    # ssl.log as written with the default local.zeek (validate-certs), the ja3 package and
    # `redef SSL::log_include_server_certificate_subject_issuer = T`.
    "ssl": [
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
        ("id.resp_p", "port"), ("version", "string"), ("cipher", "string"), ("curve", "string"),
        ("server_name", "string"), ("resumed", "bool"), ("last_alert", "string"), ("next_protocol", "string"),
        ("established", "bool"), ("ssl_history", "string"), ("cert_chain_fps", "vector[string]"),
        ("client_cert_chain_fps", "vector[string]"), ("subject", "string"), ("issuer", "string"),
        ("sni_matches_cert", "bool"), ("validation_status", "string"),
        ("ja3", "string"), ("ja3s", "string"),
    ],
}


_WRITE_CHUNK = 50_000


def _zeek_time(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


def _fmt_time(x: np.ndarray) -> pa.Array:
    """Zeek's %.6f for time and interval values, '-' where unset (NaN)."""
    x = np.asarray(x, float)
    nan = np.isnan(x)
    micros = np.round(np.where(nan, 0.0, x) * 1e6).astype(np.int64)
    whole = pc.cast(pa.array(micros // 1_000_000), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(micros % 1_000_000), pa.string()), 6, "0")
    text = pc.binary_join_element_wise(whole, frac, ".")
    return pc.if_else(pa.array(nan), "-", text)


def _fmt_count(x: np.ndarray) -> pa.Array:
    """Integers as text, '-' where unset (NaN)."""
    x = np.asarray(x)
    if x.dtype.kind in "UO":  # already text, e.g. an all-unset column
        return pa.array(x.astype(str))
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        text = pc.cast(pa.array(np.where(nan, 0, x).astype(np.int64)), pa.string())
        return pc.if_else(pa.array(nan), "-", text)
    return pc.cast(pa.array(x.astype(np.int64)), pa.string())


def _write_tsv(
    path: Path, log: str, cols: dict[str, np.ndarray], t_open: float, t_close: float, order: np.ndarray | None = None
) -> int:
    """Write one Zeek TSV log; rows in ``order`` (an index array) if given."""
    spec = _LOG_SPECS[log]
    header = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        f"#path\t{log}",
        f"#open\t{_zeek_time(t_open)}",
        "#fields\t" + "\t".join(name for name, _ in spec),
        "#types\t" + "\t".join(typ for _, typ in spec),
    ]
    n = len(cols["ts"])
    with open(path, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode())
        # Zeek never quotes; our values hold no tabs, newlines or quotes.
        opts = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
        for lo in range(0, n, _WRITE_CHUNK):  # chunks keep the text copies small
            idx = np.arange(lo, min(n, lo + _WRITE_CHUNK)) if order is None else order[lo : lo + _WRITE_CHUNK]
            part = {name: cols[name][idx] for name, _ in spec}
            pacsv.write_csv(pa.table({name: _fmt(part[name], typ) for name, typ in spec}), fh, opts)
        fh.write(f"#close\t{_zeek_time(t_close)}\n".encode())
    return n


def _fmt(v: np.ndarray, typ: str) -> pa.Array:
    if typ in ("time", "interval"):
        return _fmt_time(v)
    if typ in ("count", "port"):
        return _fmt_count(v)
    return pa.array(np.asarray(v), type=pa.string())


def _local(addr: np.ndarray) -> np.ndarray:
    return np.where(np.char.startswith(addr.astype(str), "10."), "T", "F")


def _write_conn(path: Path, sim: _Sim, cf: dict[str, np.ndarray], uids: np.ndarray) -> int:
    # Zeek writes a connection when it ends, so conn.log is ordered by end time.
    end = cf["ts"].astype(float) + np.nan_to_num(cf["duration"].astype(float))
    order = np.argsort(end, kind="stable")
    n = len(order)
    cols = {
        "ts": cf["ts"], "uid": uids, "id.orig_h": cf["orig_h"], "id.orig_p": cf["orig_p"],
        "id.resp_h": cf["resp_h"], "id.resp_p": cf["resp_p"], "proto": cf["proto"], "service": cf["service"],
        "duration": cf["duration"], "orig_bytes": cf["orig_bytes"], "resp_bytes": cf["resp_bytes"],
        "conn_state": cf["conn_state"], "local_orig": _local(cf["orig_h"]), "local_resp": _local(cf["resp_h"]),
        "missed_bytes": np.zeros(n, np.int64), "history": cf["history"], "orig_pkts": cf["orig_pkts"],
        "orig_ip_bytes": cf["orig_ip_bytes"], "resp_pkts": cf["resp_pkts"], "resp_ip_bytes": cf["resp_ip_bytes"],
        "tunnel_parents": np.full(n, "-"),
    }
    close = float(end.max()) + 1.0 if n else sim.t1
    return _write_tsv(path, "conn", cols, sim.t0, max(close, sim.t1), order=order)


def _write_side(path: Path, log: str, table: _Table, sim: _Sim, cf: dict[str, np.ndarray], uids: np.ndarray) -> int:
    """dns/http/ssl rows take their uid and 4-tuple from the conn row they belong to."""
    f = table.columns()
    if not f:
        cols = {name: np.zeros(0, "U1") for name, _ in _LOG_SPECS[log]}
        return _write_tsv(path, log, cols, sim.t0, sim.t1)
    order = np.argsort(f["ts"].astype(float), kind="stable")
    row = f["row"][order]
    cols = {c: v[order] for c, v in f.items() if c != "row"}
    cols["uid"] = uids[row]
    for zeek, ours in (("id.orig_h", "orig_h"), ("id.orig_p", "orig_p"), ("id.resp_h", "resp_h"), ("id.resp_p", "resp_p")):
        cols[zeek] = cf[ours][row]
    return _write_tsv(path, log, cols, sim.t0, sim.t1)
