"""CERT activity reader: sniffing by header, every file kind, r4.2 and r6 layouts, bad rows counted."""

import gzip

import numpy as np
import pytest

from threatml.errors import InputError, ReadReport
from threatml.readers import detect
from threatml.readers.cert import CertActivityReader


def read_all(path):
    rep = ReadReport()
    frames = [b.frame for b in CertActivityReader().read(path, rep, batch_size=2)]
    import pandas as pd

    return (pd.concat(frames, ignore_index=True) if frames else None), rep


@pytest.mark.parametrize("header", [
    "id,date,user,pc,activity",
    "id,date,user,pc,activity,file_tree",
    "id,date,user,pc,filename,content",
    "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content",
    "id,date,user,pc,to,cc,bcc,from,size,attachments,content",
    "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content",
    "id,date,user,pc,url,content",
    "id,date,user,pc,url,activity,content",
])
def test_sniffs_every_cert_header(header, tmp_path):
    p = tmp_path / "renamed.txt"
    p.write_text(header + "\n")
    assert CertActivityReader.sniff(p.read_bytes(), p)


@pytest.mark.parametrize("text", [
    "id,date,user,activity\n1,01/02/2010 07:12:34,a,Logon\n",  # no pc column
    "id,date,user,pc,colour\n1,01/02/2010 07:12:34,a,PC-1,red\n",  # no activity columns
    "time,src_user,dst_user\n1,a,b\n",
    "{X1},01/02/2010 07:12:34,ACM2278,PC-6427,not-a-url,words\n",
])
def test_does_not_take_other_tables(text, tmp_path):
    p = tmp_path / "x.csv"
    p.write_text(text)
    assert not CertActivityReader.sniff(p.read_bytes(), p)


def test_logon_and_device_rows(tmp_path):
    p = tmp_path / "logon.csv"
    p.write_text("id,date,user,pc,activity\n"
                 "{A1},01/04/2010 07:12:34,ACM2278,PC-6427,Logon\n"
                 "{A2},01/04/2010 17:02:00,ACM2278,PC-6427,Logoff\n"
                 "{A3},01/04/2010 10:00:00,ACM2278,PC-6427,Connect\n"
                 "{A4},01/04/2010 10:05:00,ACM2278,PC-6427,Disconnect\n"
                 "{A5},01/04/2010 10:06:00,ACM2278,PC-6427,Teleport\n")
    assert detect(p) is CertActivityReader
    f, rep = read_all(p)
    assert f["event.action"].tolist() == ["logon", "logoff", "connect", "disconnect"]
    assert f["event.dataset"].tolist() == ["cert.logon", "cert.logon", "cert.device", "cert.device"]
    assert f["user.name"].iloc[0] == "acm2278" and f["event.id"].iloc[0] == "{A1}"
    assert f["@timestamp"].iloc[0] == 1262589154.0  # 2010-01-04 07:12:34 as written
    assert rep.as_dict()["skipped"][0]["reason"].startswith("activity neither")


def test_email_r4_and_r6_layouts(tmp_path):
    r4 = tmp_path / "email.csv"
    r4.write_text("id,date,user,pc,to,cc,bcc,from,size,attachments,content\n"
                  "{E1},01/04/2010 09:00:00,ACM2278,PC-1,a@dtaa.com;b@gmail.com,c@dtaa.com,,acm2278@dtaa.com,25830,2,hi there\n")
    f, _ = read_all(r4)
    assert f["email.to.address"].iloc[0] == "a@dtaa.com,b@gmail.com,c@dtaa.com"
    assert f["email.from.address"].iloc[0] == "acm2278@dtaa.com"
    assert f["activity.bytes"].iloc[0] == 25830 and f["email.attachment_count"].iloc[0] == 2
    assert f["event.action"].iloc[0] == "email-send"
    r6 = tmp_path / "email6.csv"
    r6.write_text("id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content\n"
                  "{E2},01/04/2010 09:00:00,ACM2278,PC-1,x@y.com,,,acm2278@dtaa.com,View,100,"
                  "C:\\a\\b.doc(123);C:\\c.pdf(45),text\n"
                  "{E3},01/04/2010 09:01:00,ACM2278,PC-1,x@y.com,,,acm2278@dtaa.com,Send,100,,text\n")
    f, _ = read_all(r6)
    assert f["event.action"].tolist() == ["email-view", "email-send"]
    assert f["email.attachment_count"].tolist() == [2.0, 0.0]


def test_file_and_http_layouts_including_headerless_http(tmp_path):
    r6 = tmp_path / "file.csv"
    r6.write_text("id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content\n"
                  "{F1},01/04/2010 09:00:00,U1,PC-1,R:\\x.doc,File Copy,True,False,abc\n"
                  "{F2},01/04/2010 09:00:00,U1,PC-1,C:\\y.doc,File Open,False,False,abc\n")
    f, _ = read_all(r6)
    assert f["event.action"].tolist() == ["file-copy", "file-open"] and f["file.removable"].tolist() == [1.0, 0.0]
    r4 = tmp_path / "file4.csv"
    r4.write_text("id,date,user,pc,filename,content\n{F3},01/04/2010 09:00:00,U1,PC-1,x.doc,abc def\n")
    f, _ = read_all(r4)
    assert f["event.action"].tolist() == ["file-copy"] and f["file.removable"].tolist() == [1.0]
    http = tmp_path / "http.csv"
    http.write_text("{H1},01/04/2010 09:00:00,U1,PC-1,http://WikiLeaks.org/upload/a?b=1,some words here\n"
                    "{H2},01/04/2010 09:01:00,U1,PC-1,https://user@jobs.example.com:8080/x,more words\n")
    assert detect(http) is CertActivityReader
    f, _ = read_all(http)
    assert f["url.domain"].tolist() == ["wikileaks.org", "jobs.example.com"]
    assert f["event.action"].tolist() == ["web-visit", "web-visit"] and f["event.id"].iloc[1] == "{H2}"


def test_bad_dates_missing_users_and_broken_rows_are_counted(tmp_path):
    p = tmp_path / "device.csv.gz"
    rows = ["id,date,user,pc,activity",
            "{1},01/04/2010 09:00:00,U1,PC-1,Connect",
            "{2},2010-01-04 09:00:00,U1,PC-1,Connect",   # wrong date format
            "{3},13/40/2010 09:00:00,U1,PC-1,Connect",   # impossible date
            "{4},01/04/2010 09:00:00,,PC-1,Connect",     # no user
            "{5},01/04/2010 09:00:00,U1,PC-1",           # a field short
            "{6},01/05/2010 09:00:00,U2,PC-2,Disconnect"]
    p.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    f, rep = read_all(p)
    assert f["event.id"].tolist() == ["{1}", "{6}"]
    skipped = {s["reason"]: s["count"] for s in rep.as_dict()["skipped"]}
    assert skipped["unreadable date (expected MM/DD/YYYY HH:MM:SS)"] == 2
    assert skipped["row without a user"] == 1
    assert skipped["row with the wrong number of fields"] == 1
    assert not np.isnan(f["@timestamp"]).any()


def test_not_cert_is_an_input_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="not a CERT activity file"):
        list(CertActivityReader().read(p, ReadReport()))


def test_ldap_snapshot_gives_directory_entries(tmp_path):
    d = tmp_path / "LDAP"
    d.mkdir()
    p = d / "2010-02.csv"
    p.write_text("employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n"
                 "Calvin Hale,CAH0935,Calvin.Hale@dtaa.com,ITAdmin,1,5 - SalesAndMarketing,2 - Sales,5 - Sales,Ann Lee\n"
                 "Nobody,,x@dtaa.com,Salesman,1,,,,\n")
    assert detect(p) is CertActivityReader
    f, rep = read_all(p)
    assert f["event.action"].tolist() == ["directory-entry"] and f["user.name"].tolist() == ["cah0935"]
    assert f["user.roles"].tolist() == ["ITAdmin"] and f["organization.unit"].iloc[0] == "5 - SalesAndMarketing / 2 - Sales"
    assert f["@timestamp"].iloc[0] == 1264982400.0  # 2010-02-01, from the file name
    assert rep.skipped_total() == 1


def test_missing_columns(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text("id,date,user,pc,colour\n{1},01/04/2010 09:00:00,U1,PC-1,red\n")
    with pytest.raises(InputError, match="no known activity columns"):
        list(CertActivityReader().read(p, ReadReport()))
    lean = tmp_path / "email.csv"  # no cc, bcc, size or attachments: read with what is there
    lean.write_text("id,date,user,pc,to,from\n{1},01/04/2010 09:00:00,U1,PC-1,a@x.com,u1@dtaa.com\n")
    f, rep = read_all(lean)
    assert f["email.to.address"].tolist() == ["a@x.com"] and np.isnan(f["activity.bytes"].iloc[0])
    assert rep.skipped_total() == 0


def test_duplicated_records_are_counted_once(tmp_path):
    p = tmp_path / "logon.csv"
    row = "{D1},01/04/2010 09:00:00,U1,PC-1,Logon"
    p.write_text("id,date,user,pc,activity\n" + "\n".join([row, row, "{D2},01/04/2010 17:00:00,U1,PC-1,Logoff"]) + "\n")
    f, rep = read_all(p)
    assert f["event.id"].tolist() == ["{D1}", "{D2}"]
    assert {s["reason"]: s["count"] for s in rep.as_dict()["skipped"]} == {"duplicate record id (kept the first)": 1}
