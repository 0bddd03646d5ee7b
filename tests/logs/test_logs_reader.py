import numpy as np

from logs_fixtures import hdfs_like, journald, syslog_3164, syslog_5424
from threatml.errors import ReadReport
from threatml.readers import detect
from threatml.readers.textlog import TextLogReader


def _read(path, **kw):
    r = ReadReport()
    frames = [b.frame for b in TextLogReader(**kw).read(path, r)]
    import pandas as pd

    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), r


def test_formats_are_parsed(tmp_path):
    syslog_5424(tmp_path / "a.log")
    journald(tmp_path / "j.json")
    syslog_3164(tmp_path / "s.log", n=20, planted=False)
    hdfs_like(tmp_path / "h.log", n_blocks=10, anomalies=1)
    f, _ = _read(tmp_path / "a.log")
    assert set(f["event.dataset"]) == {"syslog.5424"} and f["host.name"][0] == "mymachine"
    assert f["@timestamp"][0] == 1714557600 + 0.003 - 0 or abs(f["@timestamp"][0] - 1714557600.003) < 1e-3
    f, _ = _read(tmp_path / "j.json")
    assert set(f["event.dataset"]) == {"journald"} and f["message"][1] == "worker 1 started"
    assert f["@timestamp"][1] == 1714557601.0 and f["log.level"][0] == "INFO"
    f, _ = _read(tmp_path / "s.log")
    assert set(f["event.dataset"]) == {"syslog.3164"} and f["process.name"][0] == "CRON"
    f, _ = _read(tmp_path / "h.log")
    assert set(f["event.dataset"]) == {"hdfs"} and f["@timestamp"].notna().all()


def test_bad_input_is_counted_not_raised(tmp_path):
    p = tmp_path / "mixed.log"
    good = b"2024-05-01 10:00:00 INFO service started\n"
    p.write_bytes(good + b"\x00\x01\x02binary\x00junk\x03\x04\n" + b"2024-05-01 10:00:01 WARN caf\xe9 latin1\n"
                  + b"2024-13-45 99:99:99 ERROR bad clock\n" + b"x" * 300_000 + b"\n" + good
                  + b"Oct 11 22:14:15 host app[1]: interleaved syslog\n")
    f, r = _read(p, max_line=1000)
    d = r.as_dict()
    reasons = {x["reason"]: x["count"] for x in d["skipped"] + d["notes"]}
    assert any("binary" in k for k in reasons)
    assert any("Latin-1" in k for k in reasons)
    assert any("timestamp not understood" in k for k in reasons)
    assert any("longer than" in k for k in reasons)
    assert f["message"].str.len().max() <= 1000
    assert "café latin1" in f["message"].tolist()
    assert set(f["event.dataset"]) >= {"app", "syslog.3164"}
    assert f["event.id"].iloc[-1].endswith(":7")  # line numbers survive skipped lines


def test_sniff_rejects_binary_accepts_text(tmp_path):
    b = tmp_path / "blob.bin"
    b.write_bytes(bytes(range(256)) * 100)
    assert not TextLogReader.sniff(b.read_bytes(), b)
    t = tmp_path / "app.log"
    t.write_text("2024-05-01 10:00:00 INFO hello\n")
    assert detect(t) is TextLogReader
    # a text log with a stretch of binary near its start is still a text log; the binary lines are counted
    m = tmp_path / "mixed.log"
    m.write_bytes(b"2024-05-01 10:00:00 INFO ok\n" + bytes(range(256)) * 8 + b"\n2024-05-01 10:00:01 INFO ok2\n")
    assert detect(m) is TextLogReader
    f, r = _read(m)
    assert f["message"].tolist() == ["ok", "ok2"] and r.skipped_total() >= 1


def test_session_csv_is_skipped_by_scan_reader(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("BlockId,Label,EventSequence\nblk_1,0,E1 E2\n")
    f, r = _read(p)
    assert f.empty and any("session CSV" in x["reason"] for x in r.as_dict()["skipped"])


def test_bgl_alert_labels(tmp_path):
    p = tmp_path / "bgl.log"
    p.write_text("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 "
                 "RAS KERNEL INFO instruction cache parity error corrected\n"
                 "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 "
                 "RAS KERNEL FATAL data TLB error interrupt\n")
    f, _ = _read(p)
    assert f["label"].tolist() == ["benign", "malicious"] and f["label.detail"][1] == "KERNDTLB"
    assert np.isclose(f["@timestamp"][0], 1117838570)
