"""Vectorised header decoding: link layer -> IPv4/IPv6 -> TCP/UDP/ICMP for a whole chunk.

Every field is a numpy gather over the packets' offsets (``buf[off + k]``), so
the cost per packet is a few dozen array operations shared by ~1M packets.
The chunk buffer is zero padded, so reading past a short packet is safe; such
reads are masked by comparing header ends with the captured length.

Link types: Ethernet (with up to two 802.1Q/802.1ad tags), Linux cooked
capture v1/v2, raw IP (101, 12, 14, 228, 229) and BSD loopback (0, 108).

The first fragment of a fragmented IP datagram carries the ports and joins its
flow with its own length; later fragments have no ports and are skipped.
Packets that cannot become part of a flow are counted per reason in
:attr:`Packets.skips` (non-IP frames such as ARP, IP fragments after the first,
headers cut by the snapshot length, unknown link types).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from threatml.readers.pcapflow.records import RecordChunk

ETH, NULL, RAW, RAW_BSD12, RAW_BSD14, LOOP, SLL, IPV4, IPV6, SLL2 = 1, 0, 101, 12, 14, 108, 113, 228, 229, 276
_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
_ETHERTYPE_NAMES = {0x0806: "ARP", 0x88CC: "LLDP", 0x8035: "RARP", 0x8863: "PPPoE", 0x8864: "PPPoE", 0x8847: "MPLS"}
TCP, UDP, ICMP, ICMP6 = 6, 17, 1, 58
_V6_EXT = (0, 43, 60)  # hop-by-hop, routing, destination options
_V6_FRAG = 44

# TCP flag bits
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass
class Packets:
    """Decoded IP packets of one chunk (struct of arrays, all the same length)."""

    idx: np.ndarray  # int64 capture-wide packet index
    ts: np.ndarray  # float64
    ipver: np.ndarray  # int64 4 or 6
    proto: np.ndarray  # int64 IP protocol number
    vlan: np.ndarray  # int64 outer VLAN id, 0 if untagged
    src_hi: np.ndarray  # uint64 upper 64 bits of the source address (0 for IPv4)
    src_lo: np.ndarray  # uint64 lower 64 bits (the IPv4 address for IPv4)
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    sport: np.ndarray  # int64, 0 when the protocol has no ports
    dport: np.ndarray
    flags: np.ndarray  # int64 TCP flags, 0 for other protocols
    icmp_type: np.ndarray  # int64, -1 when not ICMP
    payload: np.ndarray  # int64 L4 payload bytes (from IP lengths)
    ip_bytes: np.ndarray  # int64 IP packet length
    skips: list[tuple[str, str, int]] = field(default_factory=list)  # (reason, where, count)

    def __len__(self) -> int:
        return len(self.idx)


def _be16(buf: np.ndarray, off: np.ndarray) -> np.ndarray:
    return (buf[off].astype(np.int64) << 8) | buf[off + 1]


def _be64(buf: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Big-endian 8-byte integers at ``off`` (a 2-D gather viewed as >u8)."""
    if len(off) == 0:
        return np.zeros(0, dtype=np.uint64)
    raw = np.ascontiguousarray(buf[off[:, None] + np.arange(8)])
    return raw.view(">u8").ravel().astype(np.uint64)


def decode(chunk: RecordChunk) -> Packets:
    buf, n = chunk.buf, chunk.n
    skips: list[tuple[str, str, int]] = []
    gidx = chunk.index0 + np.arange(n, dtype=np.int64)

    def note(reason: str, mask: np.ndarray) -> None:
        c = int(mask.sum())
        if c:
            i = int(np.flatnonzero(mask)[0])
            skips.append((reason, f"packet {int(gidx[i])} (byte {int(chunk.file_off[i])})", c))

    d, cap, lt = chunk.data_off, chunk.caplen, chunk.linktype
    l3 = np.zeros(n, dtype=np.int64)  # L3 offset relative to the packet start
    etype = np.full(n, -1, dtype=np.int64)
    vlan = np.zeros(n, dtype=np.int64)

    eth = lt == ETH
    if eth.any():
        e = eth & (cap >= 14)
        note("packet shorter than its Ethernet header", eth & ~e)
        et = np.where(e, _be16(buf, d + 12), -1)
        pos = np.full(n, 14, dtype=np.int64)
        for depth in range(2):  # 802.1Q / Q-in-Q tags
            tagged = e & np.isin(et, _VLAN_TPIDS) & (cap >= pos + 4)
            if not tagged.any():
                break
            if depth == 0:
                vlan = np.where(tagged, _be16(buf, d + pos) & 0x0FFF, vlan)
            et = np.where(tagged, _be16(buf, d + pos + 2), et)
            pos = np.where(tagged, pos + 4, pos)
        etype = np.where(e, et, etype)
        l3 = np.where(e, pos, l3)
    for code, ofs, at in ((SLL, 16, 14), (SLL2, 20, 0)):
        m = lt == code
        if m.any():
            ok = m & (cap >= ofs)
            note("packet shorter than its Linux cooked header", m & ~ok)
            etype = np.where(ok, _be16(buf, d + at), etype)
            l3 = np.where(ok, ofs, l3)
    raw = np.isin(lt, (RAW, RAW_BSD12, RAW_BSD14, IPV4, IPV6))
    if raw.any():
        ok = raw & (cap >= 1)
        ver = buf[d] >> 4
        etype = np.where(ok & (ver == 4), 0x0800, np.where(ok & (ver == 6), 0x86DD, np.where(ok, 0, etype)))
        note("empty packet", raw & ~ok)
    loop = (lt == NULL) | (lt == LOOP)
    if loop.any():
        ok = loop & (cap >= 4)
        fam = buf[d].astype(np.int64) | buf[d + 3]  # host or network order: the other bytes are 0
        etype = np.where(ok & (fam == 2), 0x0800, np.where(ok & np.isin(fam, (10, 24, 28, 30)), 0x86DD, np.where(ok, 0, etype)))
        l3 = np.where(ok, 4, l3)
        note("packet shorter than its loopback header", loop & ~ok)
    known_lt = eth | raw | loop | (lt == SLL) | (lt == SLL2) | (lt == -1)
    if not known_lt.all():
        for code in np.unique(lt[~known_lt]):
            note(f"unsupported link type {int(code)}", lt == code)

    is4 = etype == 0x0800
    is6 = etype == 0x86DD
    nonip = (etype >= 0) & ~is4 & ~is6
    if nonip.any():
        named = np.zeros(n, dtype=bool)
        for et_val in np.unique(etype[nonip]):
            name = _ETHERTYPE_NAMES.get(int(et_val))
            if name:
                m = nonip & (etype == et_val)
                note(f"non-IP frame ({name})", m)
                named |= m
        note("non-IP frame", nonip & ~named)

    a = d + l3  # absolute L3 offset
    # ---- IPv4
    v4 = is4 & (cap >= l3 + 20)
    note("IP header cut by snapshot length", is4 & ~v4)
    ver4 = buf[a] >> 4
    ihl = (buf[a] & 0x0F).astype(np.int64) * 4
    bad4 = v4 & ((ver4 != 4) | (ihl < 20))
    note("malformed IPv4 header", bad4)
    v4 &= ~bad4
    tot4 = _be16(buf, a + 2)
    frag = _be16(buf, a + 6)
    foff4 = frag & 0x1FFF
    src4 = ((buf[a + 12].astype(np.uint64) << 24) | (buf[a + 13].astype(np.uint64) << 16)
            | (buf[a + 14].astype(np.uint64) << 8) | buf[a + 15].astype(np.uint64))
    dst4 = ((buf[a + 16].astype(np.uint64) << 24) | (buf[a + 17].astype(np.uint64) << 16)
            | (buf[a + 18].astype(np.uint64) << 8) | buf[a + 19].astype(np.uint64))
    proto = np.where(v4, buf[a + 9], -1).astype(np.int64)
    l4 = np.where(v4, l3 + ihl, 0)
    # IP length 0 happens with TSO offload captures: fall back to the wire length
    iplen = np.where(v4, np.where(tot4 > 0, tot4, chunk.origlen - l3), 0)
    later_frag = v4 & (foff4 > 0)

    # ---- IPv6
    v6 = is6 & (cap >= l3 + 40)
    note("IP header cut by snapshot length", is6 & ~v6)
    bad6 = v6 & ((buf[a] >> 4) != 6)
    note("malformed IPv6 header", bad6)
    v6 &= ~bad6
    sel6 = np.flatnonzero(v6)
    src_hi = np.zeros(n, dtype=np.uint64)
    dst_hi = np.zeros(n, dtype=np.uint64)
    src_lo = np.where(v4, src4, np.uint64(0)).astype(np.uint64)
    dst_lo = np.where(v4, dst4, np.uint64(0)).astype(np.uint64)
    if len(sel6):
        a6 = a[sel6]
        src_hi[sel6], src_lo[sel6] = _be64(buf, a6 + 8), _be64(buf, a6 + 16)
        dst_hi[sel6], dst_lo[sel6] = _be64(buf, a6 + 24), _be64(buf, a6 + 32)
        nh = np.where(v6, buf[a + 6], -1).astype(np.int64)
        l4 = np.where(v6, l3 + 40, l4)
        iplen = np.where(v6, _be16(buf, a + 4) + 40, iplen)
        for _ in range(4):  # walk a few extension headers
            ext = v6 & np.isin(nh, _V6_EXT) & (cap >= l4 + 8)
            if not ext.any():
                break
            p = d + l4
            nxt = buf[p].astype(np.int64)
            l4 = np.where(ext, l4 + (buf[p + 1].astype(np.int64) + 1) * 8, l4)
            nh = np.where(ext, nxt, nh)
        fr = v6 & (nh == _V6_FRAG) & (cap >= l4 + 8)
        p = d + l4
        later_frag |= fr & ((_be16(buf, p + 2) >> 3) > 0)
        nh = np.where(fr, buf[p], nh)
        l4 = np.where(fr, l4 + 8, l4)
        proto = np.where(v6, nh, proto)

    ok = v4 | v6
    note("IP fragment after the first (no ports)", later_frag)
    ok &= ~later_frag
    l4a = d + l4
    iplen = np.where(ok, iplen, 0)
    l4_room = np.minimum(cap, l3 + iplen) - l4  # header bytes really present

    is_tcp = ok & (proto == TCP)
    is_udp = ok & (proto == UDP)
    is_icmp = ok & ((proto == ICMP) | (proto == ICMP6))
    tcp_ok = is_tcp & (l4_room >= 14)
    udp_ok = is_udp & (l4_room >= 8)
    icmp_ok = is_icmp & (l4_room >= 1)
    note("TCP/UDP header cut by snapshot length (counted without ports)", (is_tcp & ~tcp_ok) | (is_udp & ~udp_ok))
    ported = tcp_ok | udp_ok
    sport = np.where(ported, _be16(buf, l4a), 0)
    dport = np.where(ported, _be16(buf, l4a + 2), 0)
    doff = (buf[l4a + 12] >> 4).astype(np.int64) * 4
    flags = np.where(tcp_ok, buf[l4a + 13], 0).astype(np.int64)
    icmp_type = np.where(icmp_ok, buf[l4a], -1).astype(np.int64)
    ip_payload = l3 + iplen - l4  # bytes after the IP header(s)
    hdr = np.where(tcp_ok, np.maximum(doff, 20), np.where(udp_ok | icmp_ok, 8, 0))
    payload = np.maximum(ip_payload - hdr, 0)

    sel = np.flatnonzero(ok)
    return Packets(
        idx=gidx[sel],
        ts=chunk.ts[sel],
        ipver=np.where(v4, 4, 6)[sel],
        proto=proto[sel],
        vlan=vlan[sel],
        src_hi=src_hi[sel],
        src_lo=src_lo[sel],
        dst_hi=dst_hi[sel],
        dst_lo=dst_lo[sel],
        sport=sport[sel],
        dport=dport[sel],
        flags=flags[sel],
        icmp_type=icmp_type[sel],
        payload=payload[sel],
        ip_bytes=iplen[sel],
        skips=skips,
    )
