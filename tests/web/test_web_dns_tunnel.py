"""Per-query lexical tunnel score and the low-volume / low-and-slow rules of web.dns-tunnel (generated data)."""

import base64

import numpy as np
import pandas as pd

from threatml.detectors.web.tunnel import DnsTunnelDetector, encoded_query_scores
from threatml.events import EventBatch

from web_gen import benign_domains


def _encoded(kind: str, n: int, zone: str, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        raw = rng.bytes(int(rng.integers(24, 90)))
        if kind == "base32":
            data = base64.b32encode(raw).decode().rstrip("=").lower()
        elif kind == "base64":
            data = base64.b64encode(raw).decode().rstrip("=")
        else:
            data = raw.hex()
        out.append(".".join(data[i:i + 60] for i in range(0, len(data), 60)) + "." + zone)
    return out


def _batch(names: list[str], times, client: str = "10.9.9.9", qtype: str = "A") -> EventBatch:
    fr = pd.DataFrame({"@timestamp": np.asarray(times, dtype=float), "source.ip": client, "dns.question.name": names,
                       "dns.question.type": qtype, "event.id": [f"e{i}" for i in range(len(names))]})
    return EventBatch.of("dns", fr, source="generated")


BENIGN_LONG = [
    "newsletter-archive.mail.example.com", "www.google.com", "smtp-relay-server-eu-west.mail.company.com",
    "e2c7e7d3-4f0f-4c8e-9a12-0b0f2f1a0a5d.cloudapp.net", "r4---sn-aigl6nek.googlevideo.com",
    "ec2-54-123-45-67.compute-1.amazonaws.com", "WwW.sOmEvErYlOnGhOsTnAmEhErE.gOoGlE.cOm",
    "_ldap._tcp.default-first-site-name._sites.dc._msdcs.example.com", "d3ag4hukkh62yn.cloudfront.net",
    "autodiscover.internationalbusinessmachines.co.uk", "4.3.2.1.in-addr.arpa",
]


def test_encoded_data_parts_score_high_and_host_names_low():
    for kind in ("base32", "base64", "hex"):
        s = encoded_query_scores(_encoded(kind, 50, "t.zone-example.net", seed=len(kind)))
        assert (s >= 0.5).mean() >= 0.95, kind
    s = encoded_query_scores(BENIGN_LONG + benign_domains(200))
    assert (s >= 0.5).sum() == 0, [n for n, x in zip(BENIGN_LONG, s) if x >= 0.5]


def test_base64_slashes_and_case_are_read_as_data_not_as_a_path():
    # "/" would make the suffix splitter see a URL path; the zone, not the data, decides the domain
    name = "q+aHR4dfCKhdZiZddeOWCPtW+HIztoABNmUd5sj/Ek3gKxH5/uIIoHsr03dUYl2.x.tcp-zone.info"
    assert encoded_query_scores([name, name.lower()])[0] >= 0.5
    # a whole name in random case (DNS 0x20) is not base64 evidence
    assert encoded_query_scores(["wWw.ExAmPlE-sHoP-oNlInE.cOm"])[0] == 0.0


def test_low_volume_window_is_flagged_by_encoded_names():
    tun = _encoded("base32", 20, "t.low-zone.net", seed=3)  # 20 in 10 minutes: under min_unique=40
    det = DnsTunnelDetector()
    found = det.process(_batch(tun, np.linspace(0, 500, 20))) + det.flush()
    assert [f.entity for f in found] == ["low-zone.net"]
    assert found[0].attributes["encoded_subdomains"] == 20 and not found[0].attributes["low_and_slow"]
    # the old count rule alone would not have flagged it
    det = DnsTunnelDetector(min_encoded=10_000, slow_min_encoded=10_000)
    assert det.process(_batch(tun, np.linspace(0, 500, 20))) + det.flush() == []


def test_low_and_slow_tunnel_found_among_benign_and_benign_alone_quiet():
    rng = np.random.default_rng(1)
    tun = _encoded("hex", 60, "s.slow-zone.org", seed=4)  # 60 queries over 12 hours, ~1 per window
    ben = [str(x) for x in rng.choice(BENIGN_LONG[:3] + ["www." + d for d in benign_domains(300, seed=2)], 3000)]
    t_tun = np.sort(rng.uniform(0, 12 * 3600, len(tun)))
    t_ben = np.sort(rng.uniform(0, 12 * 3600, len(ben)))
    names = pd.Series(tun + ben)
    times = np.r_[t_tun, t_ben]
    order = np.argsort(times, kind="stable")
    names, times = names.iloc[order].tolist(), times[order]
    det = DnsTunnelDetector()
    found = []
    for i in range(0, len(names), 500):  # batches in time order, so windows close as time moves
        found += det.process(_batch(names[i:i + 500], times[i:i + 500]))
    found += det.flush()
    assert [f.entity for f in found] == ["slow-zone.org"]
    assert found[0].attributes["low_and_slow"] and found[0].attributes["encoded_subdomains"] >= 30
    assert any("low-and-slow" in e for e in found[0].explanation)
    det = DnsTunnelDetector()
    assert det.process(_batch(ben, t_ben)) + det.flush() == []


def test_slow_state_is_bounded_and_released():
    det = DnsTunnelDetector(max_slow=5, slow_horizon=3600)
    names = [n for i in range(20) for n in _encoded("base32", 1, f"t.zone{i}.net", seed=i)]
    det.process(_batch(names, np.arange(20.0)))
    det.process(_batch(["www.example.com"], [2000.0]))  # closes the first window
    assert len(det._slow) == 5
    det.process(_batch(["www.example.com"], [3 * 3600.0]))  # an hour-long horizon later
    assert det._slow == {}


def test_cloud_customer_names_do_not_add_up_under_the_cloud_domain():
    # random bucket / CDN names of many customers: each is its own zone (public-suffix private part)
    rng = np.random.default_rng(8)
    alpha = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    buckets = ["".join(rng.choice(alpha, 40)) + ".s3.amazonaws.com" for _ in range(60)]
    sites = ["".join(rng.choice(alpha, 30)) + ".azurewebsites.net" for _ in range(60)]
    det = DnsTunnelDetector()
    names = buckets + sites
    assert det.process(_batch(names, np.linspace(0, 300, len(names)))) + det.flush() == []
    # while the same random labels under one zone of their own are a tunnel
    own = [b.replace(".s3.amazonaws.com", ".x.own-zone.com") for b in buckets]
    det = DnsTunnelDetector()
    assert [f.entity for f in det.process(_batch(own, np.linspace(0, 300, 60))) + det.flush()] == ["own-zone.com"]
