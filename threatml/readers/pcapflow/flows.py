"""Bidirectional flow aggregation over decoded packet chunks, with nfstream-like timeouts.

Both directions of a conversation share one canonical key: the two endpoints
(address, port) are ordered so the smaller one is side 0 ("lo") and the other
side 1 ("hi"), plus IP protocol, VLAN id and IP version. Per chunk, packets are
grouped by key (exact multi-column factorisation, no hashing shortcuts), split
into flows where the idle timeout (gap >= ``idle``) or the active timeout
(time since the flow's first packet >= ``active``) expires, and reduced with
``np.*.reduceat``. Flows still open at the chunk end (last packet less than
``idle`` before the newest time seen) are carried as aggregate rows and merged
with their continuation in the next chunk, so results do not depend on chunk
boundaries and memory holds only recently active flows.

The originator is chosen after aggregation: for TCP the side that sent the
first SYN without ACK, else the side that did not send the first SYN-ACK, else
the sender of the first packet. ``flow.state`` follows Zeek's conn_state
vocabulary and ``flow.history`` Zeek's letters S H A D F R (upper case
originator, lower case responder, each once, in order of first appearance).
"""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from threatml.readers.pcapflow.decode import ACK, FIN, ICMP, ICMP6, RST, SYN, TCP, UDP, Packets

BIG = np.iinfo(np.int64).max
LETTERS = "SHADFR"  # SYN, SYN-ACK, pure ACK, data, FIN, RST (Zeek history letters)
_SUM_COLS = ("pk0", "pk1", "by0", "by1", "ib0", "ib1")
_MIN_COLS = tuple(f"L{s}{c}" for s in (0, 1) for c in LETTERS)
_KEY_COLS = ("k0", "k1", "k2", "k3", "k4")
Agg = dict  # column name -> numpy array, one row per flow

#: application protocol guessed from the responder (else originator) port when a
#: flow carried payload; deliberately short: ports are only a hint without DPI.
#: Names follow Zeek's service names (TLS is "ssl"); UDP/443 becomes "quic".
WELL_KNOWN_PORTS = {
    20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns", 67: "dhcp", 68: "dhcp",
    80: "http", 110: "pop3", 123: "ntp", 143: "imap", 161: "snmp", 443: "ssl", 445: "smb",
    587: "smtp", 993: "imap", 995: "pop3", 3389: "rdp", 5353: "dns", 8080: "http",
}
TRANSPORTS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmp", 132: "sctp"}

_PORT_NAMES = [""] + sorted(set(WELL_KNOWN_PORTS.values()) | {"quic"})
_PORT_CODE = np.zeros(65536, dtype=np.int64)  # port -> index into _PORT_NAMES
for _p, _name in WELL_KNOWN_PORTS.items():
    _PORT_CODE[_p] = _PORT_NAMES.index(_name)
_OCTETS = pa.array([str(i) for i in range(256)], type=pa.large_string())
_TRANSPORT_NAMES = [TRANSPORTS.get(i, str(i)) for i in range(256)]


def factorize_rows(cols: list[np.ndarray]) -> np.ndarray:
    """Dense int64 ids such that equal rows (across all ``cols``) get equal ids."""
    # constant columns carry no information; two columns that fit in 32 bits
    # (IPv4 addresses) are packed into one, so there is less to factorize
    varying = [c for c in cols if len(c) and c.min() != c.max()]
    small = [c for c in varying if c.dtype == np.uint64 and c.max() < 2**32]
    rest = [c for c in varying if not any(c is sm for sm in small)]
    while len(small) >= 2:
        a, b = small.pop(), small.pop()
        rest.append((a << np.uint64(32)) | b)
    rest += small
    code: np.ndarray | None = None
    card = 1
    for c in rest:
        cc, uniq = pd.factorize(c)
        k = max(len(uniq), 1)
        if k == 1:
            continue
        if code is None:
            code, card = cc.astype(np.int64), k
            continue
        if card * k >= 2**62:  # re-densify before the combined code could overflow
            code = pd.factorize(code)[0].astype(np.int64)
            card = int(code.max()) + 1
        code = code * k + cc
        card *= k
    if code is None:
        return np.zeros(len(cols[0]), dtype=np.int64)
    return pd.factorize(code)[0].astype(np.int64)


def canonical(p: Packets) -> tuple[np.ndarray, list[np.ndarray]]:
    """(side of each packet's sender, key columns) for the bidirectional flow key."""
    sp, dp = p.sport.astype(np.uint64), p.dport.astype(np.uint64)
    src_less = (p.src_hi < p.dst_hi) | (
        (p.src_hi == p.dst_hi) & ((p.src_lo < p.dst_lo) | ((p.src_lo == p.dst_lo) & (sp <= dp)))
    )
    side = (~src_less).astype(np.int64)  # 0: sender is the "lo" endpoint
    lo_hi = np.where(src_less, p.src_hi, p.dst_hi)
    lo_lo = np.where(src_less, p.src_lo, p.dst_lo)
    hi_hi = np.where(src_less, p.dst_hi, p.src_hi)
    hi_lo = np.where(src_less, p.dst_lo, p.src_lo)
    lo_port = np.where(src_less, sp, dp)
    hi_port = np.where(src_less, dp, sp)
    k4 = ((lo_port << np.uint64(48)) | (hi_port << np.uint64(32)) | (p.proto.astype(np.uint64) << np.uint64(24))
          | (p.vlan.astype(np.uint64) << np.uint64(8)) | p.ipver.astype(np.uint64))
    return side, [lo_hi, lo_lo, hi_hi, hi_lo, k4]


def _letters(p: Packets) -> list[np.ndarray]:
    f = p.flags
    syn, ack, fin, rst = (f & SYN) > 0, (f & ACK) > 0, (f & FIN) > 0, (f & RST) > 0
    return [syn & ~ack, syn & ack, ack & ~syn & ~fin & ~rst & (p.payload == 0), p.payload > 0, fin, rst]


def _take(agg: Agg, rows: np.ndarray) -> Agg:
    return {k: v[rows] for k, v in agg.items()}


def _select(agg: Agg, mask: np.ndarray) -> Agg:
    """Rows where ``mask``; no copy when all rows are kept (the common case for a flood)."""
    if mask.all():
        return agg
    return _take(agg, np.flatnonzero(mask))


def _concat(parts: list[Agg]) -> Agg:
    parts = [a for a in parts if a and len(a["first_ts"])]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([a[k] for a in parts]) for k in parts[0]}


def agg_len(agg: Agg) -> int:
    return len(agg["first_ts"]) if agg else 0


class FlowTable:
    """Turns successive :class:`Packets` chunks into finished flow aggregates.

    >>> t = FlowTable(idle=120.0, active=1800.0)
    >>> agg_len(t.flush())
    0
    """

    def __init__(self, idle: float = 120.0, active: float = 1800.0):
        self.idle, self.active = float(idle), float(active)
        self.carry: Agg = {}
        self.now = -np.inf  # newest packet time seen

    def add(self, p: Packets) -> Agg:
        """Account ``p``; return the flows that finished (timed out) so far."""
        if len(p) == 0:
            return {}
        side, keys = canonical(p)
        m = agg_len(self.carry)
        cols = [np.concatenate([self.carry[k], keys[i]]) if m else keys[i] for i, k in enumerate(_KEY_COLS)]
        ids = factorize_rows(cols)
        G = int(ids.max()) + 1
        carry_of = np.full(G, -1, dtype=np.int64)
        if m:
            carry_of[ids[:m]] = np.arange(m)
        gid = ids[m:]

        order = np.argsort(gid, kind="stable")
        g, t = gid[order], p.ts[order]
        n = len(g)
        newg = np.ones(n, dtype=bool)
        newg[1:] = g[1:] != g[:-1]
        gap = np.zeros(n)
        gap[1:] = t[1:] - t[:-1]
        crow = carry_of[g]
        has = crow >= 0
        c_last = np.where(has, self.carry["last_ts"][crow] if m else 0.0, np.nan)
        start = np.where(newg, ~has | (t - c_last >= self.idle), gap >= self.idle)
        self._active_splits(g, t, newg, has, crow, start)

        bounds = newg | start
        seg = np.flatnonzero(bounds)
        merges = has[seg] & ~start[seg]
        new = self._reduce(p, side, keys, order, seg, n)

        # merge carried aggregates into their continuation
        emitted: list[Agg] = []
        if m:
            mi = np.flatnonzero(merges)
            ci = crow[seg[mi]]
            if len(mi):
                c = _take(self.carry, ci)
                for k in ("first_ts", "first_idx", "first_side", "icmp_type"):
                    new[k][mi] = c[k]
                new["last_ts"][mi] = np.maximum(new["last_ts"][mi], c["last_ts"])
                for k in _SUM_COLS:
                    new[k][mi] += c[k]
                for k in _MIN_COLS:
                    new[k][mi] = np.minimum(new[k][mi], c[k])
            merged = np.zeros(m, dtype=bool)
            merged[ci] = True
            present = np.zeros(m, dtype=bool)
            present[crow[has]] = True
        self.now = max(self.now, float(p.ts.max()))
        if m:
            expired = ~merged & (present | (self.now - self.carry["last_ts"] >= self.idle))
            emitted.append(_select(self.carry, expired))
            kept = _select(self.carry, ~merged & ~expired)
        else:
            kept = {}

        last_seg = np.ones(len(seg), dtype=bool)
        last_seg[:-1] = g[seg[1:]] != g[seg[:-1]]
        is_open = last_seg & (self.now - new["last_ts"] < self.idle)
        emitted.append(_select(new, ~is_open))
        self.carry = _concat([kept, _select(new, is_open)])
        return _concat(emitted)

    def flush(self) -> Agg:
        """All flows still open (end of capture)."""
        out, self.carry = self.carry, {}
        return out

    def _active_splits(self, g, t, newg, has, crow, start) -> None:
        """Exact active-timeout splits; only groups spanning >= ``active`` s need the slow loop."""
        gs = np.flatnonzero(newg)
        ge = np.append(gs[1:], len(g))
        gmax = np.maximum.reduceat(t, gs)
        gmin = np.minimum.reduceat(t, gs)
        c_first = np.where(has[gs], self.carry["first_ts"][crow[gs]] if agg_len(self.carry) else 0.0, np.inf)
        cand = np.flatnonzero(gmax - np.minimum(gmin, c_first) >= self.active)
        idle, active = self.idle, self.active
        for j in cand:
            s, e = int(gs[j]), int(ge[j])
            if has[s]:
                r = int(crow[s])
                first, last, is_open = float(self.carry["first_ts"][r]), float(self.carry["last_ts"][r]), True
            else:
                first, last, is_open = 0.0, 0.0, False
            for i in range(s, e):
                ti = float(t[i])
                brk = (not is_open) or ti - last >= idle or ti - first >= active
                start[i] = brk
                if brk:
                    first, last, is_open = ti, ti, True
                else:
                    last = max(last, ti)

    @staticmethod
    def _reduce(p: Packets, side, keys, order, seg, n) -> Agg:
        sd = side[order]
        idx = p.idx[order]
        cnt = np.diff(np.append(seg, n))
        out: Agg = {k: keys[i][order][seg] for i, k in enumerate(_KEY_COLS)}
        ts = p.ts[order]
        out["first_ts"] = np.minimum.reduceat(ts, seg)
        out["last_ts"] = np.maximum.reduceat(ts, seg)
        out["first_idx"] = idx[seg]
        out["first_side"] = sd[seg]
        out["icmp_type"] = p.icmp_type[order][seg]
        out["pk1"] = np.add.reduceat(sd, seg)
        out["pk0"] = cnt - out["pk1"]
        for name, arr in (("by", p.payload), ("ib", p.ip_bytes)):
            a = arr[order]
            tot = np.add.reduceat(a, seg)
            out[f"{name}1"] = np.add.reduceat(a * sd, seg)
            out[f"{name}0"] = tot - out[f"{name}1"]
        for c, mask in zip(LETTERS, _letters(p)):
            ms = mask[order]
            for s in (0, 1):
                out[f"L{s}{c}"] = np.minimum.reduceat(np.where(ms & (sd == s), idx, BIG), seg)
        return out


# ---------------------------------------------------------------- to the flow schema


def _str_series(values: list[str] | np.ndarray, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a pandas ``str`` column built in Arrow (no per-row Python objects)."""
    table = pa.array(list(values), type=pa.large_string())
    return pd.Series(table.take(pa.array(np.asarray(codes, dtype=np.int64))), dtype="str")


def _ip_strings(ipver: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> pd.Series:
    v4 = ipver == 4
    octets = [_OCTETS.take(pa.array(((lo >> np.uint64(s)) & np.uint64(255)).astype(np.int64))) for s in (24, 16, 8, 0)]
    dotted = pc.binary_join_element_wise(*octets, pa.scalar(".", pa.large_string()))
    if v4.all():
        return pd.Series(dotted, dtype="str")
    out = np.array(dotted.to_pylist(), dtype=object)
    codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([hi[~v4], lo[~v4]]))
    raw = np.stack([uniq.get_level_values(0).to_numpy(np.uint64), uniq.get_level_values(1).to_numpy(np.uint64)],
                   axis=1).astype(">u8").tobytes()
    names = np.array([socket.inet_ntop(socket.AF_INET6, raw[i : i + 16]) for i in range(0, len(raw), 16)], dtype=object)
    out[~v4] = names[codes]
    return pd.Series(out, dtype="str")


def _history(firsts: np.ndarray) -> pd.Series:
    """Zeek history strings from a (flows, 12) array of first-occurrence packet indexes."""
    ordr = np.argsort(firsts, axis=1, kind="stable")
    present = np.take_along_axis(firsts, ordr, axis=1) < BIG
    # each history as a 48-bit number: 4 bits per position (letter number + 1, 0 = none)
    digits = np.where(present, ordr + 1, 0).astype(np.uint64)
    code = np.zeros(len(firsts), dtype=np.uint64)
    for j in range(firsts.shape[1]):
        code = (code << np.uint64(4)) | digits[:, j]
    codes, uniq = pd.factorize(code)
    alphabet = LETTERS + LETTERS.lower()
    names = []
    for u in np.asarray(uniq, dtype=np.uint64):
        ds = [(int(u) >> (4 * (11 - j))) & 0xF for j in range(12)]
        names.append("".join(alphabet[d - 1] for d in ds if d))
    return _str_series(names, codes)


def _conn_state(tcp, udp_like, o, r, resp_pk) -> np.ndarray:
    """Zeek conn_state from per-side flag presence (order inside a side is not checked)."""
    o_syn, o_fin, o_rst = o["S"] < BIG, o["F"] < BIG, o["R"] < BIG
    r_synack, r_fin, r_rst = r["H"] < BIG, r["F"] < BIG, r["R"] < BIG
    est = o_syn & r_synack
    conds = [
        ~tcp & udp_like & (resp_pk > 0),
        ~tcp & udp_like,
        ~tcp,
        est & o_rst,
        est & r_rst,
        est & o_fin & r_fin,
        est & o_fin,
        est & r_fin,
        est,
        o_syn & r_rst,
        o_syn & o_rst,
        o_syn & o_fin,
        o_syn & (resp_pk == 0),
        r_synack & ~o_syn & r_rst,
        r_synack & ~o_syn & r_fin,
    ]
    choices = ["SF", "S0", "OTH", "RSTO", "RSTR", "SF", "S2", "S3", "S1", "REJ", "RSTOS0", "SH", "S0", "RSTRH", "SHR"]
    names = sorted(set(choices))
    codes = np.select(conds, [names.index(c) for c in choices], default=names.index("OTH"))
    return _str_series(names, codes)


def to_frame(agg: Agg, basename: str) -> pd.DataFrame:
    """Flow-schema columns (plus a few extras) for finished aggregates, oldest first."""
    n = agg_len(agg)
    if n == 0:
        return pd.DataFrame()
    if (np.diff(agg["first_idx"]) < 0).any():
        agg = _take(agg, np.argsort(agg["first_idx"], kind="stable"))
    k4 = agg["k4"]
    lo_port = (k4 >> np.uint64(48)).astype(np.int64)
    hi_port = ((k4 >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
    proto = ((k4 >> np.uint64(24)) & np.uint64(0xFF)).astype(np.int64)
    vlan = ((k4 >> np.uint64(8)) & np.uint64(0xFFF)).astype(np.int64)
    ipver = (k4 & np.uint64(0xFF)).astype(np.int64)
    tcp = proto == TCP

    L = {(s, c): agg[f"L{s}{c}"] for s in (0, 1) for c in LETTERS}
    s_lo, s_hi, h_lo, h_hi = L[0, "S"], L[1, "S"], L[0, "H"], L[1, "H"]
    any_s = np.minimum(s_lo, s_hi) < BIG
    any_h = np.minimum(h_lo, h_hi) < BIG
    orig = np.where(tcp & any_s, (s_hi < s_lo).astype(np.int64),
                    np.where(tcp & any_h, (h_hi >= h_lo).astype(np.int64), agg["first_side"]))
    o0 = orig == 0

    def pick(a0, a1, resp=False):
        return np.where(o0 != resp, a0, a1)

    o = {c: pick(L[0, c], L[1, c]) for c in LETTERS}
    r = {c: pick(L[0, c], L[1, c], resp=True) for c in LETTERS}
    src_pk, dst_pk = pick(agg["pk0"], agg["pk1"]), pick(agg["pk0"], agg["pk1"], True)
    src_by, dst_by = pick(agg["by0"], agg["by1"]), pick(agg["by0"], agg["by1"], True)

    # history: letters ordered by the capture index of their first packet
    history = _history(np.stack([o[c] for c in LETTERS] + [r[c] for c in LETTERS], axis=1))

    icmp = (proto == ICMP) | (proto == ICMP6)
    ported = tcp | (proto == UDP)
    sport = pick(lo_port, hi_port).astype(np.float64)
    dport = pick(lo_port, hi_port, True).astype(np.float64)
    sport[~ported] = np.nan
    dport = np.where(ported, dport, np.where(icmp & (agg["icmp_type"] >= 0), agg["icmp_type"], np.nan))
    # protocol guess: responder's port, else originator's; code 0 = "" (no payload, not TCP/UDP)
    by_resp, by_orig = _PORT_CODE[pick(lo_port, hi_port, True)], _PORT_CODE[pick(lo_port, hi_port)]
    guess = np.where(by_resp > 0, by_resp, by_orig)
    guess = np.where((proto == UDP) & (guess == _PORT_NAMES.index("ssl")), _PORT_NAMES.index("quic"), guess)
    protocol = np.where(ported & ((src_by + dst_by) > 0), guess, 0)

    src_ip = _ip_strings(ipver, pick(agg["k0"], agg["k2"]), pick(agg["k1"], agg["k3"]))
    dst_ip = _ip_strings(ipver, pick(agg["k0"], agg["k2"], True), pick(agg["k1"], agg["k3"], True))
    ids = pc.binary_join_element_wise(pa.scalar(basename, pa.large_string()), pc.cast(pa.array(agg["first_idx"]), pa.large_string()), pa.scalar(":", pa.large_string()))
    return pd.DataFrame(
        {
            "event.id": pd.Series(ids, dtype="str"),
            "event.dataset": _str_series(["pcap"], np.zeros(n, dtype=np.int64)),
            "@timestamp": agg["first_ts"],
            "source.ip": src_ip,
            "source.port": sport,
            "destination.ip": dst_ip,
            "destination.port": dport,
            "network.transport": _str_series(_TRANSPORT_NAMES, proto),
            "network.protocol": _str_series(_PORT_NAMES, protocol),
            "flow.duration": agg["last_ts"] - agg["first_ts"],
            "source.bytes": src_by.astype(np.float64),
            "destination.bytes": dst_by.astype(np.float64),
            "source.packets": src_pk.astype(np.float64),
            "destination.packets": dst_pk.astype(np.float64),
            "flow.state": _conn_state(tcp, ported, o, r, dst_pk),
            "flow.history": history,
            "source.ip_bytes": pick(agg["ib0"], agg["ib1"]).astype(np.float64),
            "destination.ip_bytes": pick(agg["ib0"], agg["ib1"], True).astype(np.float64),
            "network.type": _str_series(["ipv4", "ipv6"], (ipver == 6).astype(np.int64)),
            "network.vlan.id": np.where(vlan > 0, vlan, np.nan),
        }
    )
