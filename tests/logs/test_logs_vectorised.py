"""The chunk-at-a-time paths (masking by line shape, mining distinct texts, block reading, grouped
session updates) must give exactly what the simple per-line definitions give."""

import random

import numpy as np
import pandas as pd
import pyarrow as pa

from logs_fixtures import hdfs_like, syslog_3164
from threatml.detectors.logs.anomaly import LogAnomalyDetector
from threatml.errors import ReadReport
from threatml.logs.masking import Masker, shape_safe
from threatml.logs.miner import TemplateMiner
from threatml.logs.sessions import session_keys, window_indices, window_keys
from threatml.readers.textlog import TextLogReader


def _messages(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    forms = [
        "sshd[{p}]: Accepted publickey for {u} from 10.{a}.{b}.{c} port {q} ssh2",
        "kernel: [{p}.{q}] eth0: renamed from veth{a}",  # veth<digits> is not masked: a kept digit
        "app[{p}]: request id=req-{p}-{q} took {c} ms",  # ids glued by '-' stay as written
        "disk ext{a} at 0x{h} remounted on /dev/sd{u}/part{b}",
        "job {uuid} done 2024-05-{b:02d}T10:00:{c:02d}Z code {q}",
        "caf\u00e9 {u} \u0663\u0664 unicode digits {p}",  # non-ASCII digits are left to the per-token rule
        "{p}",
        "",
    ]
    out = []
    for _ in range(n):
        f = rng.choice(forms)
        out.append(f.format(p=rng.randint(1, 99999), q=rng.randint(0, 65535), a=rng.randint(0, 255),
                            b=rng.randint(1, 28), c=rng.randint(0, 59), u=rng.choice(["alice", "bob", "x1"]),
                            h=f"{rng.randint(0, 2**32):x}", uuid="3f2c1a9e-0b7d-4c1e-9a3b-5d6e7f8a9b0c"))
    return out


def test_masking_by_shape_equals_masking_each_line():
    msgs = _messages(3000)
    m = Masker()
    assert m._shape_ok
    expected = Masker()._mask_each(msgs)  # the per-line, per-token definition
    assert m.mask_many(msgs) == expected
    assert Masker().mask_many(pa.array(msgs)) == expected
    assert Masker().mask_many(pd.Series(msgs, dtype="str")) == expected
    codes, uniques = Masker().mask_codes(msgs)
    assert [uniques[c] for c in codes] == expected
    assert uniques == list(dict.fromkeys(expected))  # numbered in order of first use


def test_patterns_that_name_a_digit_turn_the_shape_path_off():
    assert shape_safe(r"\d{1,3}\.[0-9a-f]{8,}|0[xX]")
    assert not shape_safe(r"port 22\b")
    m = Masker(patterns={"ssh": r"=22\b"})
    assert not m._shape_ok
    assert m.mask_many(["port=22 open", "port=23 open"]) == ["port<*> open", "port=23 open"]


def test_chunked_mining_equals_line_by_line():
    msgs = _messages(2000, seed=1)
    one = TemplateMiner()
    ids_one = np.array([one.add(x) for x in msgs])
    chunked = TemplateMiner()
    ids_chunk = np.concatenate([chunked.add_many(msgs[i:i + 333]) for i in range(0, len(msgs), 333)])
    assert ids_chunk.tolist() == ids_one.tolist()
    assert chunked.templates() == one.templates()
    assert {c.id: c.last for c in chunked.clusters.values()} == {c.id: c.last for c in one.clusters.values()}
    assert chunked.lines == one.lines == len(msgs)


def _frame(path, **kw) -> pd.DataFrame:
    batch_size = kw.pop("batch_size", 100_000)
    frames = [b.frame for b in TextLogReader(year=2024, **kw).read(path, ReadReport(), batch_size=batch_size)]
    return pd.concat(frames, ignore_index=True)


def test_block_boundaries_and_line_endings_do_not_change_the_result(tmp_path):
    syslog_3164(tmp_path / "s.log", n=400, planted=True)
    text = (tmp_path / "s.log").read_bytes()
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes(text.replace(b"\n", b"\r\n").replace(b"\r\n", b"\r\n\r\n", 3) + b"tail without newline")
    base = _frame(crlf)
    assert base["message"].iloc[-1] == "tail without newline"
    assert not base["message"].str.contains("\r").any() and (base["message"] != "").all()
    for block, batch in ((97, 100_000), (4096, 7), (1, 50)):
        other = _frame(crlf, block_bytes=block, batch_size=batch)
        pd.testing.assert_frame_equal(other, base)
    # line numbers count the blank lines that were dropped
    lines = text.count(b"\n") + 3 + 1
    assert base["event.id"].iloc[-1].endswith(f":{lines}")


def test_bad_lines_inside_a_clean_block_are_handled_one_by_one(tmp_path):
    p = tmp_path / "m.log"
    good = "2024-05-01 10:00:{:02d} INFO step {}\n"
    p.write_bytes("".join(good.format(i, i) for i in range(30)).encode() + b"caf\xe9 latin1 line\n"
                  + b"\x00\x01bin\x00\n" + "2024-05-01 10:01:00 INFO caf\u00e9 utf8\n".encode() + b"y" * 500 + b"\n")
    r = ReadReport()
    f = pd.concat([b.frame for b in TextLogReader(max_line=200, block_bytes=64).read(p, r)], ignore_index=True)
    reasons = " ".join(x["reason"] for x in r.as_dict()["skipped"] + r.as_dict()["notes"])
    assert "Latin-1" in reasons and "binary" in reasons and "longer than" in reasons
    assert "café latin1 line" in f["message"].tolist() and "café utf8" in f["message"].tolist()
    assert len(f) == 33 and f["event.id"].iloc[-1].endswith(":34") and f["message"].str.len().max() <= 200


def test_window_indices_match_window_keys():
    ts = np.array([0.0, 59.9, 60.0, 125.0, np.nan, 3600.5])
    rows, wins = window_indices(ts, 60.0)
    assert rows.tolist() == [0, 1, 2, 3, 5] and wins.tolist() == [0, 0, 1, 2, 60]
    assert window_keys(ts, 60.0) == [["0"], ["0"], ["60"], ["120"], [], ["3600"]]
    assert window_keys(ts, 120.0, 60.0) == [["-60", "0"], ["-60", "0"], ["0", "60"], ["60", "120"], [],
                                             ["3540", "3600"]]


def test_session_keys_same_with_re2_and_python():
    msgs = ["open blk_-12 x", "close blk_3", "none", "id=ab12 blk_7"]
    assert session_keys(msgs, r"(blk_-?\d+)") == ["blk_-12", "blk_3", "", "blk_7"]
    assert session_keys(pd.Series(msgs, dtype="str"), r"blk_-?\d+") == ["blk_-12", "blk_3", "", "blk_7"]
    assert session_keys(msgs, r"(?:id=)(\w+)") == ["", "", "", "ab12"]
    assert session_keys(msgs, r"(?<=id=)(\w+)") == ["", "", "", "ab12"]  # look-behind: Python's re


def test_detector_sessions_do_not_depend_on_batch_size(tmp_path):
    hdfs_like(tmp_path / "h.log", n_blocks=60, anomalies=2)
    syslog_3164(tmp_path / "s.log", n=600, planted=True)

    def state(path, batch_size, **kw):
        det = LogAnomalyDetector(keep_events=7, **kw)
        for b in TextLogReader().read(path, ReadReport(), batch_size=batch_size):
            det.process(b)
        src = det._sources[str(path)]
        return {k: (dict(s.counts), s.events, s.n, s.start, s.end) for k, s in src.sessions.items()}, src.first_seen

    for path, kw in ((tmp_path / "h.log", {"session_regex": r"(blk_-?\d+)"}), (tmp_path / "s.log", {"window": "5m/1m"}),
                     (tmp_path / "s.log", {})):
        big, first_big = state(path, 100_000, **kw)
        small, first_small = state(path, 13, **kw)
        assert list(big) == list(small) and big == small and first_big == first_small
        assert all(len(v[1]) <= 7 for v in big.values())
    sliding, _ = state(tmp_path / "s.log", 100_000, window="5m/1m")
    assert sum(v[2] for v in sliding.values()) >= 4.5 * 600  # each line is in about five 5-minute windows


def test_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    p = tmp_path / "bom.log"
    p.write_bytes("\ufeffOct 11 22:14:15 web01 sshd[42]: Accepted password for bob\n".encode("utf-8"))
    f = _frame(p)
    assert f["event.dataset"].tolist() == ["syslog.3164"] and f["host.name"].tolist() == ["web01"]


def test_training_sessions_equal_the_per_line_definition(tmp_path):
    from threatml.logs.pipeline import load_log_data
    from threatml.logs.sessions import build_sessions

    hdfs_like(tmp_path / "h.log", n_blocks=80, anomalies=2)
    syslog_3164(tmp_path / "s.log", n=500, planted=True)
    for path, regex, window in ((tmp_path / "h.log", r"(blk_-?\d+)", None), (tmp_path / "s.log", None, "10m/5m")):
        data = load_log_data([str(path)], regex, window)
        # the definition: every line's keys, then sessions in order of first appearance
        miner, keys, ids = TemplateMiner(), [], []
        for b in TextLogReader().read(path, ReadReport(), batch_size=97):
            msgs = b.frame["message"].tolist()
            ids.extend(miner.add_many(msgs).tolist())
            if regex:
                keys.extend(session_keys(msgs, regex))
            else:
                keys.extend(window_keys(b.frame["@timestamp"].to_numpy(), 600.0, 300.0))
        keys = [[f"{path.name}@{k}" for k in key] if isinstance(key, list) else (f"{path.name}@{key}" if key else "")
                for key in keys]
        want = build_sessions(keys, ids)
        assert [(s.key, s.events) for s in data.sessions] == [(s.key, s.events) for s in want]
        assert len(want) > 5
