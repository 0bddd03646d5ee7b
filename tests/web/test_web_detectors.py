"""The web detectors on generated event batches: tunneling, DGA campaigns, URL visits."""

import numpy as np
import pandas as pd

from threatml.detectors.registry import ScanOptions
from threatml.detectors.web import detectors
from threatml.detectors.web.dga import DgaDetector
from threatml.detectors.web.tunnel import DnsTunnelDetector
from threatml.detectors.web.url import UrlDetector, urls_of
from threatml.events import EventBatch
from web_gen import benign_domains, random_dga, tunnel_queries


def dns_batch(names, clients, ts, qtype="A", rcode="NOERROR"):
    n = len(names)
    return EventBatch.of("dns", pd.DataFrame({
        "@timestamp": np.asarray(ts, float), "source.ip": clients, "dns.question.name": names,
        "dns.question.type": [qtype] * n if isinstance(qtype, str) else qtype,
        "dns.response_code": [rcode] * n, "event.id": [f"e{i}" for i in range(n)]}), source="gen.log")


def test_factory_builds_cheaply_without_loading_models():
    dets = detectors(ScanOptions())
    assert {d.name for d in dets} == {"web.url", "web.dga", "web.dns-tunnel"}
    assert all(getattr(d, "_model", None) is None for d in dets)


def test_tunnel_found_among_benign_and_benign_alone_is_quiet():
    rng = np.random.default_rng(0)
    benign = [f"www.{d}" for d in benign_domains(200)] * 5
    # a DNS block list look-up stream: many unique names, but allow-listed and short
    dnsbl = [f"{rng.integers(1, 255)}.{rng.integers(1, 255)}.{rng.integers(1, 255)}.7.zen.spamhaus.org" for _ in range(300)]
    # a CDN-like stream: repeated names, short labels
    cdn = [f"e{rng.integers(1000, 1020)}.a.akamaiedge.net" for _ in range(300)]
    quiet = benign + dnsbl + cdn
    det = DnsTunnelDetector()
    ts = np.sort(rng.uniform(0, 3600, len(quiet)))
    assert det.process(dns_batch(quiet, ["10.0.0.5"] * len(quiet), ts)) + det.flush() == []
    tun = tunnel_queries(400)
    names = quiet + tun
    ts = np.r_[ts, np.linspace(100, 1900, len(tun))]
    clients = ["10.0.0.5"] * len(quiet) + ["10.0.0.66"] * len(tun)
    qt = ["A"] * len(quiet) + ["TXT"] * len(tun)
    det = DnsTunnelDetector()
    found = det.process(dns_batch(names, clients, ts, qtype=qt)) + det.flush()
    assert [f.entity for f in found] == ["exfil-tunnel.net"]
    f = found[0]
    assert f.related["source.ip"] == ["10.0.0.66"] and "T1071.004" in f.attack
    # the last, short window (22 names) is below min_unique and not counted
    assert 350 <= f.attributes["unique_subdomains"] <= 400 and f.evidence_count == 100


def test_tunnel_state_is_released_as_time_moves():
    det = DnsTunnelDetector(window=60)
    tun = tunnel_queries(100)
    out = det.process(dns_batch(tun, ["10.0.0.9"] * 100, np.linspace(0, 50, 100), qtype="TXT"))
    out += det.process(dns_batch(["www.example.com"], ["10.0.0.9"], [1000.0]))
    assert len(out) == 1 and not det._win and not det._inc


def test_dga_campaign_one_finding_per_client_with_shipped_model():
    dga = random_dga(30, seed=4, tld="net")
    benign = ["www.google.com", "mail.python.org", "github.com", "client.wns.windows.com",
              "d3ag4hukkh62yn.cloudfront.net", "e1234.dscb.akamaiedge.net"] * 20
    names = benign + dga
    clients = ["10.0.0.2"] * len(benign) + ["10.0.0.99"] * len(dga)
    det = DgaDetector()
    found = det.process(dns_batch(names, clients, np.arange(len(names)), rcode="NXDOMAIN")) + det.flush()
    assert [f.entity for f in found] == ["10.0.0.99"]
    f = found[0]
    assert f.attributes["domains"] >= 20 and f.attributes["nxdomain"] == f.attributes["domains"] and "T1568.002" in f.attack
    assert any("NXDOMAIN" in e for e in f.explanation)


def test_dga_min_domains_keeps_single_odd_names_quiet():
    det = DgaDetector(score_fn=lambda n: np.full(len(n), 0.99), threshold=0.5, min_domains=3)
    found = det.process(dns_batch(["qxq1.com", "qxq2.com"], ["10.0.0.3"] * 2, [1.0, 2.0])) + det.flush()
    assert found == []


def test_url_detector_skips_access_logs_and_scores_hosts():
    fr = pd.DataFrame({
        "event.dataset": ["apache.access", "zeek.http", "zeek.http", "zeek.http"],
        "source.ip": ["198.51.100.7", "10.0.0.4", "10.0.0.4", "10.0.0.5"],
        "url.domain": ["", "paypal.com.account-verify-login.tk", "paypal.com.account-verify-login.tk", "www.python.org"],
        "url.original": ["/wp-login.php", "/webscr/signin.php?cmd=_login", "/webscr/update.php", "/downloads/"],
        "@timestamp": [1.0, 2.0, 3.0, 4.0], "event.id": ["a", "b", "c", "d"]})
    assert urls_of(fr).tolist()[0] == ""
    det = UrlDetector()
    found = det.process(EventBatch.of("http", fr, source="x")) + det.flush()
    assert [(f.entity, f.related["domain"]) for f in found] == [("10.0.0.4", ["account-verify-login.tk"])]
    assert found[0].attributes["requests"] == 2 and found[0].explanation


def test_url_flags_on_a_domain_every_client_uses_are_dropped_as_normal():
    import pandas as pd

    from threatml.detectors.web.url import UrlDetector
    from threatml.events import EventBatch

    det = UrlDetector(score_fn=lambda urls: [0.99] * len(urls), threshold=0.5, popular_clients=10)
    n = 12
    fr = pd.DataFrame({"source.ip": [f"10.0.0.{i}" for i in range(n)] + ["10.0.0.99"],
                       "@timestamp": [float(i) for i in range(n + 1)],
                       "url.domain": ["ctldl.update-cdn.com"] * n + ["paypa1-login.com"],
                       "url.original": ["/cert.cab"] * n + ["/login"], "event.id": [str(i) for i in range(n + 1)]})
    found = det.process(EventBatch.of("http", fr)) + det.flush()
    assert [f.entity for f in found] == ["10.0.0.99"]
    assert det.dropped_popular == {"update-cdn.com": 12}
