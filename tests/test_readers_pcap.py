"""PcapReader: pcap/pcapng -> bidirectional flows (fast engine, nfstream engine, bad input)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scapy")
from scapy.all import ARP, DNS, DNSQR, DNSRR, ICMP, IP, TCP, UDP, CookedLinux, Dot1Q, Ether, IPv6, Raw, wrpcap  # noqa: E402

from threatml.errors import InputError, ReadReport  # noqa: E402
from threatml.readers import detect  # noqa: E402
from threatml.readers.pcap import PcapReader  # noqa: E402
from threatml.readers.pcapflow.nfstream_engine import nfstream_available  # noqa: E402
from shared_data import DATASETS

REAL = DATASETS / "pcap"
T0 = 1_700_000_000.0
C, S = "10.0.0.1", "10.0.0.2"


def eth():
    # explicit MACs: scapy would otherwise try to resolve them through the host's routes (slow)
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def _at(pkts, times):
    for p, t in zip(pkts, times):
        p.time = t
    return pkts


def tcp_session(c=C, s=S, cport=40000, sport=80, t0=T0, ip=IP):
    """Handshake, 100 bytes up, 300 bytes down, FIN both ways: 6 packets from c, 4 from s."""
    cs, sc = ip(src=c, dst=s) / TCP(sport=cport, dport=sport), ip(src=s, dst=c) / TCP(sport=sport, dport=cport)

    def up(flags, data=b""):
        p = eth() / cs.copy()
        p[TCP].flags = flags
        return p / Raw(data) if data else p

    def down(flags, data=b""):
        p = eth() / sc.copy()
        p[TCP].flags = flags
        return p / Raw(data) if data else p

    pkts = [up("S"), down("SA"), up("A"), up("PA", b"x" * 100), down("A"), down("PA", b"y" * 300),
            up("A"), up("FA"), down("FA"), up("A")]
    return _at(pkts, [t0 + 0.01 * i for i in range(len(pkts))])


def mixed(t0=T0):
    """A little of everything the fast engine must handle."""
    pk = tcp_session(t0=t0)
    pk += _at([eth() / IP(src="10.0.0.3", dst=S) / TCP(sport=41000, dport=22, flags="S")], [t0 + 1])  # S0
    pk += _at([eth() / IP(src="10.0.0.4", dst=S) / TCP(sport=42000, dport=23, flags="S"),
               eth() / IP(src=S, dst="10.0.0.4") / TCP(sport=23, dport=42000, flags="RA")], [t0 + 2, t0 + 2.001])  # REJ
    q = DNS(id=7, rd=1, qd=DNSQR(qname="example.com"))
    a = DNS(id=7, qr=1, qd=DNSQR(qname="example.com"), an=DNSRR(rrname="example.com", rdata="1.2.3.4"))
    pk += _at([eth() / IP(src=C, dst="8.8.8.8") / UDP(sport=5353 + 1, dport=53) / q,
               eth() / IP(src="8.8.8.8", dst=C) / UDP(sport=53, dport=5354) / a], [t0 + 3, t0 + 3.02])
    pk += _at([eth() / IP(src=C, dst="10.0.0.9") / ICMP(type=8) / Raw(b"p" * 32),
               eth() / IP(src="10.0.0.9", dst=C) / ICMP(type=0) / Raw(b"p" * 32)], [t0 + 4, t0 + 4.001])
    pk += tcp_session("2001:db8::1", "2001:db8::2", 50000, 443, t0=t0 + 5, ip=IPv6)
    pk += _at([eth() / Dot1Q(vlan=100) / IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=1111, dport=2222) / Raw(b"v" * 10),
               eth() / Dot1Q(vlan=100) / IP(src="10.1.0.2", dst="10.1.0.1") / UDP(sport=2222, dport=1111) / Raw(b"w" * 20)],
              [t0 + 6, t0 + 6.5])
    pk += _at([eth() / ARP()], [t0 + 7])
    return pk


def read(path, **kw) -> tuple[pd.DataFrame, ReadReport]:
    rep = ReadReport()
    frames = [b.frame for b in PcapReader(**kw).read(Path(path), rep)]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), rep


def one(df, **match) -> pd.Series:
    m = np.ones(len(df), dtype=bool)
    for k, v in match.items():
        m &= (df[k.replace("__", ".")] == v).to_numpy()
    assert m.sum() == 1, f"{m.sum()} flows match {match}"
    return df[m].iloc[0]


@pytest.fixture
def mixed_pcap(tmp_path):
    p = tmp_path / "mixed.pcap"
    wrpcap(str(p), mixed())
    return p


def test_tcp_session_is_one_sf_flow_with_counts_per_direction(mixed_pcap):
    df, _ = read(mixed_pcap)
    f = one(df, source__ip=C, destination__port=80.0)
    assert f["destination.ip"] == S and f["source.port"] == 40000
    assert (f["source.packets"], f["destination.packets"]) == (6, 4)
    assert (f["source.bytes"], f["destination.bytes"]) == (100, 300)
    assert f["flow.state"] == "SF" and f["flow.history"] == "ShADadFf"
    assert f["network.transport"] == "tcp" and f["network.protocol"] == "http"
    assert f["@timestamp"] == pytest.approx(T0) and f["flow.duration"] == pytest.approx(0.09)
    assert f["event.dataset"] == "pcap" and f["event.id"] == "mixed.pcap:0"


def test_syn_without_answer_is_s0_and_syn_rst_is_rej(mixed_pcap):
    df, _ = read(mixed_pcap)
    s0 = one(df, source__ip="10.0.0.3")
    assert s0["flow.state"] == "S0" and s0["flow.history"] == "S" and s0["destination.packets"] == 0
    assert s0["network.protocol"] == ""  # no payload: no port-based guess
    rej = one(df, source__ip="10.0.0.4")
    assert rej["flow.state"] == "REJ" and rej["flow.history"] == "Sr" and rej["destination.port"] == 23


def test_dns_icmp_ipv6_vlan_and_arp(mixed_pcap):
    df, rep = read(mixed_pcap)
    assert len(df) == 7
    dns = one(df, destination__port=53.0)
    assert dns["network.transport"] == "udp" and dns["network.protocol"] == "dns" and dns["flow.state"] == "SF"
    assert dns["source.ip"] == C and dns["source.bytes"] > 20 and dns["destination.bytes"] > dns["source.bytes"]
    icmp = one(df, network__transport="icmp")
    assert icmp["destination.port"] == 8 and np.isnan(icmp["source.port"])
    assert (icmp["source.packets"], icmp["destination.packets"], icmp["source.bytes"]) == (1, 1, 32)
    v6 = one(df, network__type="ipv6")
    assert v6["source.ip"] == "2001:db8::1" and v6["destination.ip"] == "2001:db8::2"
    assert v6["flow.state"] == "SF" and (v6["source.bytes"], v6["destination.bytes"]) == (100, 300)
    vl = one(df, network__vlan__id=100.0)
    assert (vl["source.packets"], vl["destination.packets"], vl["source.bytes"], vl["destination.bytes"]) == (1, 1, 10, 20)
    assert rep.skipped[(str(mixed_pcap), "non-IP frame (ARP)")] == 1


def test_originator_is_the_syn_sender_even_if_the_synack_comes_first(tmp_path):
    p = tmp_path / "order.pcap"
    pk = _at([eth() / IP(src=S, dst=C) / TCP(sport=80, dport=40000, flags="SA"),
              eth() / IP(src=C, dst=S) / TCP(sport=40000, dport=80, flags="S")], [T0, T0 + 0.001])
    wrpcap(str(p), pk)
    f = one(read(p)[0], network__transport="tcp")
    assert f["source.ip"] == C and f["destination.port"] == 80 and f["flow.state"] == "S1"


def test_idle_and_active_timeouts_split_flows(tmp_path):
    p = tmp_path / "timeouts.pcap"
    u = eth() / IP(src=C, dst=S) / UDP(sport=1000, dport=2000)
    idle = _at([u.copy() for _ in range(3)], [T0, T0 + 10, T0 + 200])  # 190 s gap > 120 s
    act = eth() / IP(src=C, dst=S) / UDP(sport=1001, dport=2001)
    active = _at([act.copy() for _ in range(35)], [T0 + 60 * i for i in range(35)])  # 2040 s, never idle
    wrpcap(str(p), sorted(idle + active, key=lambda x: x.time))
    df, _ = read(p)
    a = df[df["source.port"] == 1000].sort_values("@timestamp")
    assert a["source.packets"].tolist() == [2, 1]
    b = df[df["source.port"] == 1001].sort_values("@timestamp")
    assert b["source.packets"].tolist() == [30, 5]  # new flow at t=1800 (>= 1800 s after the first)
    df2, _ = read(p, idle_timeout=5)
    assert len(df2[df2["source.port"] == 1000]) == 3


def test_results_do_not_depend_on_chunk_boundaries(tmp_path):
    p = tmp_path / "many.pcap"
    pk = []
    for i in range(30):
        pk += tcp_session(cport=40000 + i, t0=T0 + i * 0.003)  # interleaved sessions
    pk += mixed(T0 + 300)
    pk.sort(key=lambda x: x.time)
    wrpcap(str(p), pk)
    big, rep_big = read(p)
    small, rep_small = read(p, chunk_bytes=700)  # a few packets per chunk
    cols = ["event.id", "source.ip", "destination.ip", "source.port", "destination.port", "source.packets",
            "destination.packets", "source.bytes", "destination.bytes", "flow.state", "flow.history", "@timestamp"]
    key = lambda d: d[cols].sort_values("event.id").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(key(big), key(small))
    assert len(big) == 37 and dict(rep_big.skipped) == dict(rep_small.skipped)


def test_truncated_capture_keeps_readable_flows_and_reports_where(tmp_path):
    full = tmp_path / "full.pcap"
    pkts = tcp_session() + tcp_session(cport=40001, t0=T0 + 1)
    wrpcap(str(full), pkts)
    data = full.read_bytes()
    last_rec = len(data) - len(bytes(pkts[-1])) - 16  # file offset of the last record
    for cut, name in ((len(data) - 20, "mid_record.pcap"), (last_rec + 8, "mid_header.pcap")):
        p = tmp_path / name
        p.write_bytes(data[:cut])
        df, rep = read(p)
        assert len(df) == 2 and df["source.packets"].sum() + df["destination.packets"].sum() == 19
        (key,) = [k for k in rep.skipped if k[1] == "truncated capture"]
        assert rep.examples[key].startswith("byte ")
        assert rep.examples[key] == f"byte {last_rec}"


def test_ip_fragments_after_the_first_are_counted_not_flowed(tmp_path):
    from scapy.all import fragment

    big = eth() / IP(src=C, dst=S, id=9) / UDP(sport=3000, dport=4000) / Raw(b"f" * 3000)
    frags = [eth() / f for f in fragment(big[IP], fragsize=1000)]
    p = tmp_path / "frag.pcap"
    wrpcap(str(p), _at(frags, [T0 + i * 0.001 for i in range(len(frags))]))
    df, rep = read(p)
    f = one(df, destination__port=4000.0)
    assert f["source.packets"] == 1  # the first fragment carries the ports
    assert rep.skipped[(str(p), "IP fragment after the first (no ports)")] == len(frags) - 1 >= 2


def test_garbage_empty_and_wrong_files_raise_input_error(tmp_path):
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"\xff" * 100)
    with pytest.raises(InputError, match="not a valid pcap"):
        read(garbage)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read(empty)
    short = tmp_path / "short.pcap"
    short.write_bytes(bytes.fromhex("d4c3b2a1") + b"\x02\x00")
    with pytest.raises(InputError, match="truncated pcap file header"):
        read(short)


def test_zero_length_and_snaplen_cut_packets_are_counted(tmp_path):
    syn = bytes(eth() / IP(src=C, dst=S) / TCP(sport=1, dport=2, flags="S"))
    recs = [(b"", 60), (syn[:14 + 20 + 6], len(syn)), (syn, len(syn))]  # empty, TCP header cut, whole
    body = b"".join(struct.pack("<IIII", int(T0) + i, 0, len(d), o) + d for i, (d, o) in enumerate(recs))
    p = tmp_path / "cut.pcap"
    p.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 40, 1) + body)
    df, rep = read(p)
    reasons = {r: c for (_, r), c in rep.skipped.items()}
    assert reasons["packet shorter than its Ethernet header"] == 1
    assert reasons["TCP/UDP header cut by snapshot length (counted without ports)"] == 1
    assert df["source.packets"].sum() + df["destination.packets"].sum() == 2  # cut packet still counted
    assert len(df) == 2 and sorted(df["flow.state"]) == ["OTH", "S0"]


def _block(btype: int, body: bytes, e: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def test_pcapng_with_two_interfaces_and_gzip(tmp_path):
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    tsresol_ns = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
    idb_eth = _block(1, struct.pack("<HHI", 1, 0, 65535))  # default microseconds
    idb_raw = _block(1, struct.pack("<HHI", 101, 0, 65535) + tsresol_ns)  # raw IP, nanoseconds

    def epb(ifid: int, ticks: int, data: bytes) -> bytes:
        return _block(6, struct.pack("<IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data)

    up = bytes(eth() / IP(src=C, dst=S) / UDP(sport=1000, dport=53) / Raw(b"q" * 12))
    down = bytes(IP(src=S, dst=C) / UDP(sport=53, dport=1000) / Raw(b"a" * 40))
    other = bytes(IP(src="10.9.9.9", dst=S) / TCP(sport=5, dport=6, flags="S"))
    spb = _block(3, struct.pack("<I", len(up)) + up)  # simple packet block: interface 0, no time
    blob = (shb + idb_eth + idb_raw + epb(0, int(T0 * 1e6), up) + epb(1, int(T0 * 1e9) + 500_000_000, down)
            + epb(1, int(T0 * 1e9) + 600_000_000, other) + spb)
    p = tmp_path / "two.pcapng"
    p.write_bytes(blob)
    gz = tmp_path / "two.pcapng.gz"
    gz.write_bytes(gzip.compress(blob))
    for path in (p, gz):
        assert detect(path) is PcapReader
        df, rep = read(path)
        assert rep.skipped_total() == 0
        f = one(df, destination__port=53.0)
        assert (f["source.packets"], f["destination.packets"], f["source.bytes"], f["destination.bytes"]) == (2, 1, 24, 40)
        assert f["@timestamp"] == pytest.approx(T0) and f["flow.duration"] == pytest.approx(0.6, abs=1e-6)
        assert one(df, source__ip="10.9.9.9")["flow.state"] == "S0"


def test_pcapng_sections_of_both_byte_orders(tmp_path):
    out = b""
    for e, src in (("<", "10.5.0.1"), (">", "10.5.0.2")):  # each section restarts interface ids at 0
        out += _block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)
        out += _block(1, struct.pack(e + "HHI", 101, 0, 65535) + struct.pack(e + "HHB3x", 9, 1, 0x80 | 20) + bytes(4), e)
        d = bytes(IP(src=src, dst=S) / UDP(sport=9, dport=10) / Raw(b"k" * 7))
        ticks = int(T0) << 20  # if_tsresol 2^-20 s
        out += _block(6, struct.pack(e + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(d), len(d)) + d, e)
    p = tmp_path / "sections.pcapng"
    p.write_bytes(out)
    df, rep = read(p)
    assert sorted(df["source.ip"]) == ["10.5.0.1", "10.5.0.2"] and rep.skipped_total() == 0
    assert (df["@timestamp"] == T0).all() and (df["source.bytes"] == 7).all()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(out[:-5])
    df, rep = read(cut)
    assert df["source.ip"].tolist() == ["10.5.0.1"] and [r for (_, r) in rep.skipped] == ["truncated capture"]


def test_scapy_pcapng_and_linux_cooked_capture(tmp_path):
    from scapy.utils import PcapNgWriter

    p = tmp_path / "scapy.pcapng"
    w = PcapNgWriter(str(p))
    for pkt in tcp_session():
        w.write(pkt)
    w.close()
    f = one(read(p)[0], network__transport="tcp")
    assert f["flow.state"] == "SF" and f["source.packets"] == 6

    sll = tmp_path / "sll.pcap"
    pk = _at([CookedLinux(proto=0x0800) / IP(src=C, dst=S) / UDP(sport=7, dport=8) / Raw(b"z" * 5)], [T0])
    wrpcap(str(sll), pk, linktype=113)
    f = one(read(sll)[0], network__transport="udp")
    assert f["source.bytes"] == 5 and f["destination.port"] == 8


@pytest.mark.parametrize("magic,endian,units", [
    (0xA1B2C3D4, "<", 10**6), (0xA1B2C3D4, ">", 10**6), (0xA1B23C4D, "<", 10**9), (0xA1B23C4D, ">", 10**9)])
def test_both_byte_orders_and_nanosecond_pcaps(tmp_path, magic, endian, units):
    pkts = tcp_session()
    body = b""
    for pk in pkts:
        d = bytes(pk)
        t = round(float(pk.time) * units)
        body += struct.pack(endian + "IIII", t // units, t % units, len(d), len(d)) + d
    p = tmp_path / "x.pcap"
    p.write_bytes(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1) + body)
    f = one(read(p)[0], network__transport="tcp")
    assert f["flow.state"] == "SF" and f["@timestamp"] == pytest.approx(T0, abs=1e-6)
    assert f["flow.duration"] == pytest.approx(0.09, abs=1e-6)


def test_midstream_tcp_is_oth(tmp_path):
    p = tmp_path / "mid.pcap"
    pk = _at([eth() / IP(src=C, dst=S) / TCP(sport=5000, dport=80, flags="PA") / Raw(b"a" * 5),
              eth() / IP(src=S, dst=C) / TCP(sport=80, dport=5000, flags="A")], [T0, T0 + 1])
    wrpcap(str(p), pk)
    f = one(read(p)[0], network__transport="tcp")
    assert f["flow.state"] == "OTH" and f["flow.history"] == "Da" and f["source.ip"] == C


@pytest.mark.skipif(not nfstream_available(), reason="nfstream is not installed")
def test_stalled_nfstream_becomes_input_error(monkeypatch, mixed_pcap):
    import threading

    import nfstream

    release = threading.Event()

    class Stuck:
        def __init__(self, **kw):
            pass

        def to_pandas(self, **kw):
            release.wait(10)

    monkeypatch.setattr(nfstream, "NFStreamer", Stuck)
    try:
        with pytest.raises(InputError, match="did not finish"):
            read(mixed_pcap, engine="nfstream", nfstream_timeout_s=0.3)
    finally:
        release.set()


def test_sniff_accepts_all_capture_magics():
    for magic in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"):
        assert PcapReader.sniff(bytes.fromhex(magic) + bytes(20), Path("x"))
    assert PcapReader.sniff(bytes.fromhex("0a0d0d0a1c0000004d3c2b1a"), Path("x"))
    assert not PcapReader.sniff(b"#separator \\x09\n", Path("x"))


def test_engine_choice():
    assert PcapReader().resolved_engine == "fast"
    assert PcapReader(dpi=True).resolved_engine == "nfstream"
    with pytest.raises(ValueError):
        PcapReader(engine="turbo")  # type: ignore[arg-type]


@pytest.mark.skipif(not nfstream_available(), reason="nfstream is not installed")
def test_fast_engine_agrees_with_nfstream(mixed_pcap):
    fast, _ = read(mixed_pcap, engine="fast")
    nfs, _ = read(mixed_pcap, engine="nfstream")
    assert "nfstream.application_name" in nfs.columns
    assert len(fast) == len(nfs)
    key = ["source.ip", "destination.ip"]
    cols = ["source.packets", "destination.packets", "source.bytes", "destination.bytes"]
    a = fast.groupby(key)[cols].sum().sort_index()
    b = nfs.groupby(key)[cols].sum().sort_index()
    # both engines count L4 payload (nfstream runs with accounting_mode=3); ICMP payload aside
    tcp_udp = ~a.index.isin(fast.loc[fast["network.transport"] == "icmp", key].apply(tuple, axis=1))
    pd.testing.assert_frame_equal(a[["source.packets", "destination.packets"]], b[["source.packets", "destination.packets"]])
    pd.testing.assert_frame_equal(a[tcp_udp], b[tcp_udp])
    assert one(nfs, destination__port=53.0)["network.protocol"] == "dns"


@pytest.mark.skipif(not nfstream_available(), reason="nfstream is not installed")
def test_nfstream_engine_rejects_gzip_and_reports_truncation(tmp_path, mixed_pcap):
    gz = tmp_path / "m.pcap.gz"
    gz.write_bytes(gzip.compress(mixed_pcap.read_bytes()))
    with pytest.raises(InputError, match="gzipped"):
        read(gz, engine="nfstream")
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(mixed_pcap.read_bytes()[:-10])
    df, rep = read(cut, engine="nfstream")
    assert len(df) >= 6 and [r for (_, r) in rep.skipped] == ["truncated capture"]


REAL_FILES = {
    "CIC-DDoS-2019-SynFlood.pcap": lambda df: len(df) > 5000 and set(df["flow.state"]) <= {"S0", "REJ", "S1", "OTH"},
    "malicious-ssh-bruteforce.pcap": lambda df: 30 < len(df) < 200 and (df["destination.port"] == 902).any(),
    "test8-malicious.pcap": lambda df: len(df) >= 1 and (df["network.transport"] == "udp").all(),
    "test12-icmp-portscan.pcap": lambda df: len(df) > 5 and (df["network.transport"] == "icmp").all(),
}


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_captures(name):
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    df, rep = read(path)
    assert not rep.errors and REAL_FILES[name](df)
    assert df["event.id"].is_unique and (df["flow.duration"] >= 0).all()


# ---- property: any packet mix and any chunking gives the same flows as a plain reference tracker

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
_packet = st.tuples(
    st.floats(0, 400),  # gap to the previous packet, s
    st.sampled_from(_HOSTS), st.sampled_from(_HOSTS),
    st.sampled_from([80, 1234]), st.sampled_from([80, 1234]),
    st.sampled_from(["tcp", "udp"]), st.sampled_from(["S", "SA", "A", "FA", "R", "PA"]),
    st.integers(0, 40),
)


def _reference(pkts, idle, active):
    """Per-flow packet and payload counts from a straightforward per-packet tracker."""
    live, done = {}, []
    for i, (t, a, b, pa, pb, proto, _, n) in enumerate(pkts):
        key = (proto,) + tuple(sorted([(a, pa), (b, pb)]))
        f = live.get(key)
        if f and (t - f["last"] >= idle or t - f["first"] >= active):
            done.append(live.pop(key))
            f = None
        if f is None:
            f = live[key] = {"first": t, "last": t, "idx": i, "pk": 0, "by": 0}
        f["last"], f["pk"], f["by"] = t, f["pk"] + 1, f["by"] + n
    return sorted((f["idx"], f["pk"], f["by"]) for f in done + list(live.values()))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_packet, min_size=1, max_size=40), st.integers(200, 3000), st.sampled_from([60.0, 120.0]))
def test_flows_match_a_reference_tracker_for_any_chunking(tmp_path, spec, chunk, idle):
    t, pkts, frames = T0, [], []
    for gap, a, b, pa, pb, proto, flags, n in spec:
        t += gap
        pkts.append((t, a, b, pa, pb, proto, flags, n))
        l4 = TCP(sport=pa, dport=pb, flags=flags) if proto == "tcp" else UDP(sport=pa, dport=pb)
        frames.append(_at([eth() / IP(src=a, dst=b) / l4 / Raw(b"d" * n)], [t])[0])
    p = tmp_path / "prop.pcap"
    wrpcap(str(p), frames)
    df, rep = read(p, chunk_bytes=chunk, idle_timeout=idle, active_timeout=900)
    got = sorted(zip(df["event.id"].str.split(":").str[1].astype(int),
                     (df["source.packets"] + df["destination.packets"]).astype(int),
                     (df["source.bytes"] + df["destination.bytes"]).astype(int)))
    assert got == _reference(pkts, idle, 900) and rep.skipped_total() == 0
