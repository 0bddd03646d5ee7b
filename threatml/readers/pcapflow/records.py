"""Walk pcap / pcapng record structure in chunks: where each packet is, nothing more.

The only per-record Python work in the fast engine happens here: a tight loop
that reads one length field per record and remembers the record's offset.
Everything else (timestamps, lengths, interfaces) is gathered afterwards with
numpy over those offsets, so the loop stays at a few hundred ns per packet.

A chunk is a byte buffer (with zero padding at the end, so that later header
gathers may read a little past a short packet without bounds checks) plus
per-packet arrays. Partial records at a chunk end are carried to the next read;
at end of file they are reported as a truncated capture.

>>> import io, struct
>>> hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
>>> rec = struct.pack("<IIII", 10, 5, 3, 3) + b"abc"
>>> chunks = list(iter_chunks(io.BytesIO(hdr + rec), "x.pcap", skips=[]))
>>> chunks[0].n, chunks[0].caplen.tolist(), round(float(chunks[0].ts[0]), 6)
(1, [3], 10.000005)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from threatml.errors import InputError

#: bytes read per chunk; a 60-byte SYN flood gives ~440k packets per chunk. Bigger
#: chunks were not faster here (more page faults) and cost more memory
CHUNK_BYTES = 32 * 1024 * 1024
#: zero bytes after the data so header gathers never index out of the buffer
PAD = 256
#: a record claiming more than this is garbage, not a packet
MAX_RECORD = 16 * 1024 * 1024

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),  # little endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

# (code, skip reason, where) tuples collected for the caller's ReadReport
Skip = tuple[str, str, int]


@dataclass
class RecordChunk:
    """Packets of one chunk: ``buf[data_off[i] : data_off[i] + caplen[i]]`` is packet i."""

    buf: np.ndarray  # uint8, zero padded by PAD bytes
    data_off: np.ndarray  # int64 offsets into buf
    caplen: np.ndarray  # int64 captured bytes
    origlen: np.ndarray  # int64 bytes on the wire
    ts: np.ndarray  # float64 seconds since the epoch
    linktype: np.ndarray  # int32 per packet (pcapng interfaces differ)
    file_off: np.ndarray  # int64 byte offset of each record in the file
    index0: int  # capture-wide index of the first packet

    @property
    def n(self) -> int:
        return len(self.data_off)


def _u32(buf: np.ndarray, off: np.ndarray, big: bool) -> np.ndarray:
    b = [buf[off + k].astype(np.uint64) for k in range(4)]
    if big:
        return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
    return (b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]


def _headers(buf: np.ndarray, off: np.ndarray, big: bool) -> np.ndarray:
    """The four 32-bit fields of classic pcap record headers at ``off``, as (n, 4) uint32."""
    raw = np.ascontiguousarray(buf[off[:, None] + np.arange(16)])
    return raw.view(">u4" if big else "<u4").reshape(len(off), 4).astype(np.uint32)


def _u16(buf: np.ndarray, off: np.ndarray, big: bool) -> np.ndarray:
    a, b = buf[off].astype(np.int64), buf[off + 1].astype(np.int64)
    return (a << 8) | b if big else (b << 8) | a


def _read_more(fh: BinaryIO, left: bytes, want: int, path: str) -> tuple[bytearray, int, bool]:
    """A buffer holding ``left`` plus up to ``want`` new bytes, PAD zeros after; (buf, size, eof)."""
    buf = bytearray(len(left) + want + PAD)
    buf[: len(left)] = left
    view = memoryview(buf)
    pos, end = len(left), len(left) + want
    eof = False
    try:
        while pos < end:
            got = fh.readinto(view[pos:end])
            if not got:
                eof = True
                break
            pos += got
    except (OSError, EOFError) as exc:  # e.g. a cut .gz stream
        raise InputError(path, f"cannot read capture: {exc}") from None
    finally:
        view.release()
    return buf, pos, eof


def sniff_capture(head: bytes) -> str | None:
    """'pcap', 'pcapng' or None from the first bytes of a file."""
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC and len(head) >= 12 and head[8:12] in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
        return "pcapng"
    return None


def iter_chunks(fh: BinaryIO, path: str, skips: list[Skip], chunk_bytes: int = CHUNK_BYTES) -> Iterator[RecordChunk]:
    """Yield :class:`RecordChunk` objects for a pcap or pcapng stream.

    Problems that end or thin the capture are appended to ``skips`` as
    (reason, where, count); a file that is not a capture at all raises
    :class:`InputError`.
    """
    head = fh.read(24)
    if not head:
        raise InputError(path, "empty file")
    kind = sniff_capture(head)
    if kind == "pcap":
        yield from _pcap_chunks(fh, head, path, skips, chunk_bytes)
    elif kind == "pcapng" or head[:4] == PCAPNG_MAGIC:
        yield from _pcapng_chunks(fh, head, path, skips, chunk_bytes)
    else:
        raise InputError(path, "not a pcap or pcapng capture (unknown magic number)", "byte 0")


# ---------------------------------------------------------------- classic pcap


def _pcap_chunks(fh: BinaryIO, head: bytes, path: str, skips: list[Skip], chunk_bytes: int) -> Iterator[RecordChunk]:
    if len(head) < 24:
        raise InputError(path, f"truncated pcap file header ({len(head)} of 24 bytes)", "byte 0")
    endian, units = PCAP_MAGICS[head[:4]]
    big = endian == ">"
    snaplen, network = struct.unpack(endian + "II", head[16:24])
    linktype = network & 0x0FFFFFFF  # upper bits carry FCS information
    max_rec = min(max(snaplen, 262_144), MAX_RECORD)
    incl_at = struct.Struct(endian + "8xI").unpack_from  # the record's captured length

    left = b""
    base = 24  # file offset of buf[0]
    index0 = 0
    while True:
        buf, end, eof = _read_more(fh, left, chunk_bytes, path)
        offs: list[int] = []
        ap = offs.append
        off, lim = 0, end - 16
        bad = False
        while off <= lim:  # the hot loop: keep it minimal, checks come after
            nxt = off + 16 + incl_at(buf, off)[0]
            if nxt > end:
                break
            ap(off)
            off = nxt
        if off <= lim and incl_at(buf, off)[0] > max_rec:
            bad, incl = True, incl_at(buf, off)[0]
        arr = np.frombuffer(buf, dtype=np.uint8)
        o = np.asarray(offs, dtype=np.int64)
        hdr = _headers(arr, o, big)  # (n, 4): seconds, fraction, captured, original length
        over = np.flatnonzero(hdr[:, 2] > max_rec)
        if len(over):  # garbage that happened to fit in the buffer: stop at the first bad record
            k = int(over[0])
            bad, incl, off = True, int(hdr[k, 2]), int(o[k])
            o, hdr = o[:k], hdr[:k]
        n = len(o)
        if n:
            yield RecordChunk(
                buf=arr,
                data_off=o + 16,
                caplen=hdr[:, 2].astype(np.int64),
                origlen=hdr[:, 3].astype(np.int64),
                ts=hdr[:, 0].astype(np.float64) + hdr[:, 1].astype(np.float64) / units,
                linktype=np.full(n, linktype, dtype=np.int32),
                file_off=o + base,
                index0=index0,
            )
            index0 += n
        if bad:
            if index0 == 0:
                raise InputError(path, f"not a valid pcap: first record claims {incl} bytes", f"byte {base + off}")
            skips.append((f"malformed record (claims {incl} bytes), rest of capture ignored", f"byte {base + off}", 1))
            return
        left = bytes(buf[off:end])
        if eof:
            if left:
                skips.append(("truncated capture", f"byte {base + off}", 1))
            return
        base += off


# ---------------------------------------------------------------- pcapng

_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6


@dataclass
class _Iface:
    linktype: int
    snaplen: int
    units: int  # timestamp units per second
    offset: float  # seconds added to every timestamp (if_tsoffset)


def _parse_idb(body: bytes, endian: str) -> _Iface:
    linktype, _, snaplen = struct.unpack_from(endian + "HHI", body, 0)
    units, offset = 1_000_000, 0.0
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        val = body[pos + 4 : pos + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:  # if_tsresol: 10^-v, or 2^-v when the top bit is set
            v = val[0]
            units = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
        elif code == 14 and length >= 8:  # if_tsoffset, seconds
            offset = float(struct.unpack_from(endian + "q", val, 0)[0])
        pos += 4 + ((length + 3) & ~3)
    return _Iface(linktype, snaplen or MAX_RECORD, units, offset)


def _pcapng_chunks(fh: BinaryIO, head: bytes, path: str, skips: list[Skip], chunk_bytes: int) -> Iterator[RecordChunk]:
    ifaces: list[_Iface] = []
    left = head
    base = 0
    index0 = 0
    endian = "<"
    iface_base = 0  # interfaces of earlier sections come first in ``ifaces``
    first = True
    while True:
        buf, end, eof = _read_more(fh, left, chunk_bytes, path)
        offs: list[int] = []
        others: list[tuple[int, int]] = []  # (packet number, block type) of non-EPB packets
        # (first packet index, big endian?, interface base) for each section run in this chunk
        runs: list[tuple[int, bool, int]] = [(0, endian == ">", iface_base)]
        ap = offs.append
        hdr = struct.Struct(endian + "II").unpack_from
        off = 0
        problem = None
        while off + 12 <= end:
            btype, blen = hdr(buf, off)
            nxt = off + blen
            if btype == _EPB and nxt <= end and blen >= 32 and not blen & 3:  # the hot path
                ap(off)
                off = nxt
                continue
            if btype == _SHB:
                bom = bytes(buf[off + 8 : off + 12])
                if bom == b"\x4d\x3c\x2b\x1a":
                    endian = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    endian = ">"
                else:
                    problem = "malformed pcapng section header"
                    break
                hdr = struct.Struct(endian + "II").unpack_from
                blen = hdr(buf, off)[1]
                iface_base = len(ifaces)
                runs.append((len(offs), endian == ">", iface_base))
                first = False
            elif first:
                raise InputError(path, "pcapng does not start with a section header block", "byte 0")
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                problem = f"malformed pcapng block (length {blen})"
                break
            if off + blen > end:
                break
            if btype == _EPB or btype == _SPB or btype == _PB:
                others.append((len(offs), btype))
                ap(off)
            elif btype == _IDB:
                try:
                    ifaces.append(_parse_idb(bytes(buf[off + 8 : off + blen - 4]), endian))
                except struct.error:
                    problem = "malformed pcapng interface block"
                    break
            off += blen
        if offs:
            yield _pcapng_chunk(np.frombuffer(buf, dtype=np.uint8), offs, others, runs, ifaces, base, index0, skips)
            index0 += len(offs)
        if problem:
            if index0 == 0 and not ifaces:
                raise InputError(path, f"not a valid pcapng: {problem}", f"byte {base + off}")
            skips.append((f"{problem}, rest of capture ignored", f"byte {base + off}", 1))
            return
        left = bytes(buf[off:end])
        if eof:
            if left:
                skips.append(("truncated capture", f"byte {base + off}", 1))
            return
        base += off


def _pcapng_chunk(arr, offs, others, runs, ifaces, base, index0, skips) -> RecordChunk:
    o = np.asarray(offs, dtype=np.int64)
    n = len(o)
    t = np.full(n, _EPB, dtype=np.int32)
    for i, btype in others:
        t[i] = btype
    big = np.zeros(n, dtype=bool)
    ifbase = np.zeros(n, dtype=np.int64)
    for (start, is_big, ib), nxt in zip(runs, [r[0] for r in runs[1:]] + [n]):
        big[start:nxt] = is_big
        ifbase[start:nxt] = ib

    def u32(off):
        return np.where(big, _u32(arr, off, True), _u32(arr, off, False)).astype(np.int64)

    def u16(off):
        return np.where(big, _u16(arr, off, True), _u16(arr, off, False))

    blen = u32(o + 4)
    is_spb = t == _SPB
    is_pb = t == _PB
    ifid = np.where(is_pb, u16(o + 8), u32(o + 8))
    ifid = np.where(is_spb, 0, ifid) + ifbase
    caplen = u32(o + 20)
    origlen = u32(o + 24)
    data_off = o + 28
    spb_orig = u32(o + 8)
    origlen = np.where(is_spb, spb_orig, origlen)
    caplen = np.where(is_spb, np.minimum(spb_orig, blen - 16), caplen)
    data_off = np.where(is_spb, o + 12, data_off)

    known = ifid < len(ifaces)
    if not known.all():
        skips.append(("packet names an undeclared pcapng interface", f"byte {base + int(o[~known][0])}", int((~known).sum())))
    bad_len = known & (caplen > np.where(is_spb, blen - 16, blen - 32))
    if bad_len.any():
        skips.append(("malformed pcapng packet block (captured length exceeds block)", f"byte {base + int(o[bad_len][0])}", int(bad_len.sum())))
    ok = known & ~bad_len

    lt_tab = np.array([i.linktype for i in ifaces] + [-1], dtype=np.int32)
    units_tab = np.array([i.units for i in ifaces] + [1], dtype=np.uint64)
    offs_tab = np.array([i.offset for i in ifaces] + [0.0])
    ifx = np.where(ok, ifid, len(ifaces))
    linktype = np.where(ok, lt_tab[ifx], -1).astype(np.int32)  # -1: dropped later as a skip-free hole
    units = units_tab[ifx]
    ts64 = (u32(o + 12).astype(np.uint64) << np.uint64(32)) | u32(o + 16).astype(np.uint64)
    ts = (ts64 // units).astype(np.float64) + (ts64 % units).astype(np.float64) / units.astype(np.float64) + offs_tab[ifx]
    if is_spb.any():  # simple packet blocks carry no time: take the previous packet's
        ts = ts.copy()
        ts[is_spb] = np.nan
        ts = _ffill(ts)
    caplen = np.where(ok, caplen, 0)
    return RecordChunk(
        buf=arr,
        data_off=data_off,
        caplen=caplen.astype(np.int64),
        origlen=origlen.astype(np.int64),
        ts=ts,
        linktype=linktype,
        file_off=o + base,
        index0=index0,
    )


def _ffill(x: np.ndarray) -> np.ndarray:
    idx = np.where(np.isnan(x), 0, np.arange(len(x)))
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    return np.where(np.isnan(out), 0.0, out)
