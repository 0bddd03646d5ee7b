"""EmailReader: sniffing that does not steal other formats, eml / mbox / Maildir / short texts, bad rows counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from email_samples import message

from threatml.errors import InputError, ReadReport
from threatml.readers import detect
from threatml.readers.email import EmailReader


def _read(path: Path, report: ReadReport | None = None):
    import pandas as pd

    report = report or ReadReport()
    frames = [b.frame for b in EmailReader().read(path, report)]
    return pd.concat(frames, ignore_index=True), report


def test_sniff_accepts_mail_and_refuses_other_formats():
    yes = [
        message(),
        b"Received: from a by b; Tue, 1 Oct 2002 10:00:00 +0000\nFrom: x@y.example\nSubject: s\n\nbody",
        b"From bob@example.org Tue Oct  1 10:00:00 2002\nFrom: bob@example.org\nSubject: s\n\nbody\n",
        b"label\ttext\nham\tsee you at lunch\nspam\tWIN a free prize now\n",
        b"ham\tOk lar... Joking wif u oni...\nspam\tFree entry in 2 a wkly comp\nham\tU dun say so early hor\n",
    ]
    no = [
        b"Nov 29 10:00:01 host sshd[1]: Accepted password for bob from 10.0.0.1 port 22 ssh2\n" * 3,
        b'{"timestamp": "2024-01-01T00:00:00Z", "event_type": "dns", "src_ip": "10.0.0.1"}\n' * 3,
        b"#separator \\x09\n#path\tconn\n#fields\tts\tuid\n",
        b"url,label\nhttp://a.example/x,phishing\nhttp://b.example/,benign\n",
        b"Host: example.com\nContent-Type: text/html\nX-Thing: 1\n\n",  # HTTP-ish headers, no mail header
        b"From: just one line of prose that happens to start like a header\nand then text\n",
        b"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n",
    ]
    for head in yes:
        assert EmailReader.sniff(head, Path("x")), head[:40]
    for head in no:
        assert not EmailReader.sniff(head, Path("x")), head[:40]


def test_single_eml_and_registry_detection(tmp_path):
    p = tmp_path / "one.eml"
    p.write_bytes(message(subject="Quarterly report", text="see http://reports.example/q3"))
    assert detect(p).name == "email"
    fr, report = _read(p)
    assert len(fr) == 1 and fr["event.dataset"][0] == "eml"
    assert fr["email.subject"][0] == "Quarterly report"
    assert fr["email.urls"][0] == "http://reports.example/q3"
    assert fr["email.url.domains"][0] == "reports.example"
    assert fr["@timestamp"][0] == pytest.approx(1709294400.0)
    assert "email.f.n_urls" in fr and fr["email.f.n_urls"][0] == 1


def test_mbox_with_escaped_from_lines(tmp_path):
    msgs = []
    for i in range(3):
        body = message(subject=f"m{i}", text=f"hello {i}\n>From the archive\nbye").replace(b"\r\n", b"\n")
        msgs.append(b"From sender@example.org Mon Jan  1 10:00:0%d 2024\n" % i + body + b"\n")
    p = tmp_path / "box.mbox"
    p.write_bytes(b"".join(msgs))
    fr, _ = _read(p)
    assert fr["email.subject"].tolist() == ["m0", "m1", "m2"]
    assert fr["event.id"].tolist() == [f"{p}:1", f"{p}:2", f"{p}:3"]
    assert all(">From the archive" in b for b in fr["email.body"])


def test_maildir_folder_is_read_file_by_file(tmp_path):
    from threatml.pipeline.scan import Scanner

    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    (tmp_path / "Maildir" / "cur" / "1700000000.1.host:2,S").write_bytes(message(subject="read"))
    (tmp_path / "Maildir" / "new" / "1700000001.2.host").write_bytes(message(subject="unread"))
    sc = Scanner([])
    batches = [b for f in sorted((tmp_path / "Maildir").rglob("*")) if f.is_file() for b in sc.read_file(f)]
    assert sorted(b.frame["email.subject"][0] for b in batches) == ["read", "unread"]
    assert {b.frame["event.dataset"][0] for b in batches} == {"maildir"}


def test_short_texts_tsv_csv_and_bad_rows(tmp_path):
    tsv = tmp_path / "sms.tsv"
    tsv.write_text("Label\tSMS\nham\tsee you at 5\nspam\tWIN cash! txt 80082 now\tstill the text\nham\n"
                   "maybe\tunknown label here\n")
    fr, report = _read(tsv)
    assert fr["label"].tolist() == ["ham", "spam", ""]
    assert fr["email.body"][1] == "WIN cash! txt 80082 now\tstill the text"
    assert fr["event.dataset"].eq("sms").all()
    assert fr["email.f.missing_to"].isna().all()  # no headers: unknown, not "missing"
    assert report.skipped_total() == 1 and sum(report.notes.values()) >= 1
    csv = tmp_path / "spam.csv"
    csv.write_text('v1,v2\nham,"Hello, how are you"\nspam,"FREE ringtone, reply YES"\n')
    fr2, _ = _read(csv)
    assert fr2["label"].tolist() == ["ham", "spam"] and fr2["email.body"][0] == "Hello, how are you"


def test_not_mail_is_an_input_error_naming_the_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("just some words\nand more words\n")
    with pytest.raises(InputError) as exc:
        list(EmailReader().read(p, ReadReport()))
    assert "notes.txt" in str(exc.value)
