"""Tabular flow readers: Argus, nfdump, CICFlowMeter, UNSW-NB15, KDD (fixtures generated here)."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.errors import InputError, ReadReport
from threatml.events import field_names
from threatml.readers import detect
from threatml.readers.argus import ArgusReader
from threatml.readers.base import read_head
from threatml.readers.cicflowmeter import CICFlowMeterReader
from threatml.readers.kdd import ATTACK_CATEGORY, KDDReader
from threatml.readers.nfdump import NfdumpReader
from threatml.readers.tabular import argus_state
from threatml.readers.unsw import ORIGINAL_COLUMNS, UNSWReader
from shared_data import DATASETS

MINE = (ArgusReader, NfdumpReader, CICFlowMeterReader, UNSWReader, KDDReader)
SHARED = DATASETS


def read_all(reader, path: Path, batch_size: int = 200_000) -> tuple[pd.DataFrame, ReadReport]:
    report = ReadReport()
    batches = list(reader().read(path, report, batch_size=batch_size))
    for b in batches:
        assert b.kind == "flow" and len(b) <= batch_size
        assert set(field_names("flow")) <= set(b.frame.columns)
    frame = pd.concat([b.frame for b in batches], ignore_index=True) if batches else pd.DataFrame()
    return frame, report


def skipped(report: ReadReport) -> dict[str, tuple[int, str | None]]:
    return {r: (c, report.examples.get((p, r))) for (p, r), c in report.skipped.items()}


def write(path: Path, text: str | bytes) -> Path:
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


# --------------------------------------------------------------------------- Argus

ARGUS_CSV = """StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,SrcPkts,Label
2018/05/10 10:52:47.283479,1.5,tcp,10.0.0.5,49152,   ->,1.2.3.4,443,FSPA_FSPA,0,0,10,5000,1200,4,flow=From-Botnet-V42-TCP-Established
2018/05/10 10:52:48.000000,0.1,tcp,10.0.0.5,49153,   ->,1.2.3.4,23,S_RA,0,0,2,120,60,1,flow=Background-TCP-Attempt
2018/05/10 10:52:49.000000,0.0,icmp,10.0.0.5,0x0008,   ->,1.2.3.5,0x0d2f,ECO,0,,1,98,98,1,flow=To-Normal-V42-Grill
this,row,is,short
2018/05/10 10:52:50.000000,3.0,udp,10.0.0.6,,  <->,8.8.8.8,53,CON,0,0,2,200,80,1,
2018/05/10 10:52:51.000000,0.2,tcp,10.0.0.7,40000,   ->,1.2.3.6,80,S_,0,0,1,60,60,1,flow=From-Normal-V42-Jist
"""


def test_argus_fills_schema_from_binetflow(tmp_path):
    fr, rep = read_all(ArgusReader, write(tmp_path / "capture.binetflow", ARGUS_CSV))
    assert len(fr) == 5
    assert skipped(rep) == {"4 fields, expected 16": (1, "line 5")}
    assert fr["event.id"].tolist()[3] == "capture.binetflow:6"  # the line after the bad row keeps its number
    a = fr.iloc[0]
    assert a["@timestamp"] == pytest.approx(1525949567.283479)
    assert (a["source.ip"], a["destination.ip"], a["network.transport"]) == ("10.0.0.5", "1.2.3.4", "tcp")
    assert (a["source.bytes"], a["destination.bytes"], a["source.packets"], a["destination.packets"]) == (
        1200, 3800, 4, 6)
    assert fr["flow.state"].tolist() == ["SF", "REJ", "OTH", "SF", "S0"]
    assert fr["label"].tolist() == ["malicious", "", "benign", "", "benign"]
    assert fr["label.detail"].iat[0] == "From-Botnet-V42-TCP-Established"
    icmp = fr.iloc[2]  # Argus puts the ICMP type in Sport (hex)
    assert math.isnan(icmp["source.port"]) and icmp["destination.port"] == 8
    assert math.isnan(fr["source.port"].iat[3])  # empty Sport
    assert fr["orig.Sport"].dtype == np.float64 and fr["orig.Dport"].iat[2] == 0x0D2F
    assert fr["orig.TotBytes"].dtype == np.float64 and fr["orig.Label"].iat[0].startswith("flow=")


def test_argus_tab_separated_without_srcpkts_leaves_reply_packets_unknown(tmp_path):
    text = ("StartTime\tDur\tProto\tSrcAddr\tSport\tDir\tDstAddr\tDport\tState\tsTos\tdTos\tTotPkts\tTotBytes\t"
            "SrcBytes\tLabel\n"
            "2011/08/10 09:46:53.047277\t3550.182373\tudp\t212.50.71.179\t39678\t  <->\t147.32.84.229\t13363\tCON"
            "\t0\t0\t12\t875\t413\tflow=Background-UDP-Established\n"
            "2011/08/10 09:46:59.000000\t0\tman\t0\t0\t\t0\t0\tSTA\t\t\t0\t0\t0\t\n")
    fr, rep = read_all(ArgusReader, write(tmp_path / "ctu.binetflow", text))
    assert len(fr) == 1 and math.isnan(fr["destination.packets"].iat[0])
    assert fr["destination.bytes"].iat[0] == 462
    assert skipped(rep) == {"argus management record (not a flow)": (1, "line 3")}


def test_argus_state_mapping_to_zeek_vocabulary():
    assert argus_state("S_", "tcp") == "S0"
    assert argus_state("S_RA", "tcp") == "REJ"
    assert argus_state("FSPA_FSPA", "tcp") == "SF"
    assert argus_state("FSRPA_FSPA", "tcp") == "RSTO"
    assert argus_state("SPA_FSRPA", "tcp") == "RSTR"
    assert argus_state("PA_PA", "tcp") == "OTH"
    assert argus_state("INT", "udp") == "S0" and argus_state("CON", "udp") == "SF"
    assert argus_state("URP", "icmp") == "OTH" and argus_state("", "tcp") == ""


# --------------------------------------------------------------------------- nfdump

NF16 = """ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das
2016-05-16 14:38:42,2016-05-16 14:38:43,1.250,10.0.0.1,10.0.0.2,51514,443,TCP,.AP.SF,0,0,10,1200,0,0,0,0,0,0
2016-05-16 14:38:44.500,2016-05-16 14:38:44.500,0.000,10.0.0.1,10.0.0.3,0,8.0,ICMP,......,0,0,1,84,0,0,0,0,0,0
2016-05-16 14:38:45,2016-05-16 14:38:45,0.000,10.0.0.1,10.0.0.4,5353,53,UDP,......,0,0,1,60
Summary
flows,bytes,packets,avg_bps,avg_pps,avg_bpp
2,1284,11,0,0,0
"""


def test_nfdump_csv_ignores_summary_and_keeps_unidirectional_reply_unknown(tmp_path):
    fr, rep = read_all(NfdumpReader, write(tmp_path / "flows.csv", NF16))
    assert len(fr) == 2
    assert skipped(rep) == {"13 fields, expected 19": (1, "line 4")}  # the summary block is not counted
    assert fr["@timestamp"].tolist() == [1463409522.0, 1463409524.5]
    assert fr["network.transport"].tolist() == ["tcp", "icmp"]
    assert fr["source.bytes"].tolist() == [1200, 84] and fr["source.packets"].tolist() == [10, 1]
    assert fr["destination.bytes"].isna().all() and fr["destination.packets"].isna().all()
    assert fr["destination.port"].tolist() == [443, 8] and math.isnan(fr["source.port"].iat[1])
    assert fr["flow.duration"].iat[0] == 1.25 and fr["orig.flg"].iat[0] == ".AP.SF"


def test_nfdump_17_headers_and_bidirectional_counters(tmp_path):
    text = ("firstSeen,lastSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,inPackets,inBytes,outPackets,"
            "outBytes,flags\n"
            "2024-03-01 10:00:00.000,2024-03-01 10:00:02.000,2.000,6,192.0.2.1,40000,198.51.100.7,22,5,400,4,900,"
            "...AP.SF\n"
            "2024-03-01 10:00:01.000,2024-03-01 10:00:01.000,0.000,17,192.0.2.1,40001,198.51.100.8,53,1,70,0,0,"
            "........\n")
    path = write(tmp_path / "nf17.csv.gz", text)
    assert detect(path) is NfdumpReader
    fr, rep = read_all(NfdumpReader, path)
    assert fr["network.transport"].tolist() == ["tcp", "udp"]
    assert fr["destination.bytes"].tolist() == [900, 0] and fr["destination.packets"].tolist() == [4, 0]
    assert rep.skipped_total() == 0


def test_nfdump_csv_fast_layout_with_epoch_milliseconds(tmp_path):
    text = ("cnt,af,firstSeen,lastSeen,proto,srcAddr,srcPort,dstAddr,dstPort,srcAS,dstAS,input,output,flags,srcTos,"
            "packets,bytes\n1,2,1709287200000,1709287202500,6,192.0.2.1,40000,198.51.100.7,22,0,0,0,0,...AP.SF,0,5,400\n")
    path = write(tmp_path / "fast.csv", text)
    assert detect(path) is NfdumpReader
    fr, _ = read_all(NfdumpReader, path)
    assert fr["@timestamp"].iat[0] == 1709287200.0 and fr["flow.duration"].iat[0] == 2.5
    assert (fr["source.bytes"].iat[0], fr["source.packets"].iat[0]) == (400, 5)
    assert fr["network.transport"].iat[0] == "tcp" and math.isnan(fr["destination.bytes"].iat[0])


# --------------------------------------------------------------------------- CICFlowMeter

_CIC_ORIG_COLS = (" Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,"
                  "Total Length of Fwd Packets, Total Length of Bwd Packets,Flow Bytes/s, Flow Packets/s,"
                  "FIN Flag Count, SYN Flag Count, RST Flag Count, ACK Flag Count, Fwd Header Length,"
                  " Fwd Header Length, Label")


def cic_original() -> bytes:
    rows = [
        "80,2000000,3,2,100,2000,1050,2.5,2,2,0,4,60,60,BENIGN",
        "22,1000,1,0,0,0,Infinity,-Infinity,0,1,0,0,20,20,PortScan",
        "80,5,1,1,0,0,NaN,400000,0,1,1,1,20,20,Web Attack \x96 Brute Force",
        ",,,,,,,,,,,,,,",
        "443,7,2,1,0,0,0,1",
        "53,300,1,1,40,80,400000,6666,0,0,0,0,8,8,Web Attack \ufffd XSS",
    ]
    text = _CIC_ORIG_COLS + "\n" + "\n".join(rows) + "\n"
    return text.encode("utf-8").replace("\\x96".encode(), b"\x96").replace(b"\xc2\x96", b"\x96")


def test_cic_machinelearningcve_original_headers(tmp_path):
    path = write(tmp_path / "Friday-WorkingHours.pcap_ISCX.csv", cic_original())
    fr, rep = read_all(CICFlowMeterReader, path)
    assert len(fr) == 4
    assert skipped(rep) == {"empty row": (1, "line 5"), "8 fields, expected 15": (1, "line 6")}
    assert fr["flow.duration"].tolist() == [2.0, 0.001, 0.000005, 0.0003]  # microseconds -> seconds
    assert fr["source.bytes"].iat[0] == 100 and fr["destination.bytes"].iat[0] == 2000
    assert fr["source.packets"].iat[0] == 3 and fr["destination.packets"].iat[0] == 2
    assert fr["destination.port"].tolist() == [80, 22, 80, 53]
    assert fr["label"].tolist() == ["benign", "malicious", "malicious", "malicious"]
    assert fr["label.detail"].tolist() == ["", "PortScan", "Web Attack – Brute Force", "Web Attack – XSS"]
    assert fr["orig.Flow Bytes/s"].iloc[1:3].isna().all() and fr["orig.Flow Packets/s"].isna().iat[1]
    assert fr["orig.Flow Bytes/s"].dtype == np.float64
    assert "orig.Fwd Header Length.1" in fr.columns  # the duplicated CIC column survives
    # no protocol column: TCP inferred from the flags; the state follows the flag counts
    assert fr["network.transport"].tolist() == ["tcp", "tcp", "tcp", ""]
    assert fr["flow.state"].tolist()[:3] == ["SF", "S0", "REJ"]
    assert fr["@timestamp"].isna().all() and (fr["source.ip"] == "").all()


def test_cic_reextraction_headers_timestamps_and_icmp(tmp_path):
    header = ("id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Total Fwd Packet,"
              "Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,Fwd RST Flags,Bwd RST Flags,"
              "FIN Flag Count,SYN Flag Count,RST Flag Count,ACK Flag Count,ICMP Code,ICMP Type,Label,"
              "Attempted Category")
    rows = [
        "1,a,192.168.10.5,58181,192.168.10.3,53,17,2017-07-07 03:59:45.123456,245,2,2,70,102,0,0,0,0,0,0,-1,-1,"
        "BENIGN,-1",
        "2,b,172.16.0.1,23123,192.168.10.50,80,6,7/7/2017 3:59,4216645,7,5,20,11595,1,0,1,2,1,11,-1,-1,DDoS,-1",
        "3,c,192.168.10.9,0,192.168.10.3,0,1,not a time,10,1,1,56,56,0,0,0,0,0,0,0,8,BENIGN,-1",
    ]
    path = write(tmp_path / "DDoS_3.csv.gz", header + "\n" + "\n".join(rows) + "\n")
    assert detect(path) is CICFlowMeterReader
    fr, rep = read_all(CICFlowMeterReader, path)
    assert fr["@timestamp"].iat[0] == pytest.approx(1499399985.123456)
    assert fr["@timestamp"].iat[1] == 1499399940.0 and math.isnan(fr["@timestamp"].iat[2])
    assert skipped(rep) == {}
    assert {r: (c, rep.examples.get((p, r))) for (p, r), c in rep.notes.items()} == {
        "unparseable Timestamp: record kept with @timestamp NaN": (1, "line 4")
    }
    assert fr["network.transport"].tolist() == ["udp", "tcp", "icmp"]
    assert fr["flow.state"].tolist() == ["SF", "RSTO", "OTH"]
    assert fr["destination.port"].iat[2] == 8 and math.isnan(fr["source.port"].iat[2])
    assert fr["source.ip"].iat[1] == "172.16.0.1" and fr["orig.Flow ID"].iat[1] == "b"
    assert fr["orig.Attempted Category"].dtype == np.float64


def test_cic_python_tool_snake_case_headers(tmp_path):
    text = ("src_ip,dst_ip,src_port,dst_port,protocol,timestamp,flow_duration,flow_byts_s,tot_fwd_pkts,tot_bwd_pkts,"
            "totlen_fwd_pkts,totlen_bwd_pkts,fin_flag_cnt,syn_flag_cnt,rst_flag_cnt,ack_flag_cnt\n"
            "10.0.0.1,10.0.0.2,5000,80,6,2020-09-07 12:28:18,1500000.0,10.0,4,3,300,900,2,2,0,6\n")
    path = write(tmp_path / "out.csv", text)
    assert detect(path) is CICFlowMeterReader
    fr, _ = read_all(CICFlowMeterReader, path)
    assert fr["flow.duration"].iat[0] == 1.5 and fr["flow.state"].iat[0] == "SF"
    assert fr["@timestamp"].iat[0] == 1599481698.0 and fr["label"].iat[0] == ""


def test_cic_missing_required_columns_is_a_named_input_error(tmp_path):
    path = write(tmp_path / "partial.csv", " Destination Port, Flow Duration, Total Fwd Packets, Total Backward "
                                          "Packets, Label\n80,1,1,1,BENIGN\n")
    with pytest.raises(InputError) as exc:
        read_all(CICFlowMeterReader, path)
    assert "partial.csv" in str(exc.value)
    assert "Total Length of Fwd Packets" in str(exc.value) and "Total Length of Bwd Packets" in str(exc.value)


@pytest.mark.parametrize("reader,header,missing", [
    (ArgusReader, "StartTime,Dur,SrcAddr,Sport,Dport,TotBytes", ["Proto", "DstAddr"]),
    (NfdumpReader, "ts,te,td,sa,da,sp,dp,ibyt", ["pr/proto"]),
    (UNSWReader, "id,dur,proto,sbytes,dbytes,sttl,dttl,label", ["state", "spkts", "dpkts"]),
])
def test_missing_required_columns_are_named(tmp_path, reader, header, missing):
    path = write(tmp_path / "short_header.csv", header + "\n" + ",".join(["1"] * header.count(",")) + ",1\n")
    with pytest.raises(InputError) as exc:
        read_all(reader, path)
    assert "short_header.csv" in str(exc.value) and all(m in str(exc.value) for m in missing)


# --------------------------------------------------------------------------- UNSW-NB15

UNSW_PART = ("\ufeffid,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,sttl,dttl,sload,dload,attack_cat,"
             "label\r\n"
             "1,0.000011,udp,-,INT,2,0,496,0,90909.0902,254,0,180363632,0,Normal,0\r\n"
             "2,0.121478,tcp,http,FIN,6,4,258,172,74.08749,252,254,14158.94238,8495.365234, Exploits ,1\r\n"
             "3,0.5,tcp,-,REQ,1,0,40,0,2,62,0,0,0,Backdoors,1\r\n"
             "4,1,tcp\r\n")


def test_unsw_partitioned_set_with_bom(tmp_path):
    path = write(tmp_path / "UNSW_NB15_training-set.csv", UNSW_PART)
    assert detect(path) is UNSWReader
    fr, rep = read_all(UNSWReader, path)
    assert len(fr) == 3 and skipped(rep) == {"3 fields, expected 16": (1, "line 5")}
    assert "orig.id" in fr.columns and fr["orig.id"].tolist() == [1, 2, 3]
    assert fr["label"].tolist() == ["benign", "malicious", "malicious"]
    assert fr["label.detail"].tolist() == ["", "Exploits", "Backdoor"]
    assert fr["flow.state"].tolist() == ["S0", "SF", "S0"] and fr["orig.state"].tolist() == ["INT", "FIN", "REQ"]
    assert fr["network.protocol"].tolist() == ["", "http", ""]
    assert fr["source.bytes"].iat[1] == 258 and fr["destination.packets"].iat[1] == 4
    assert fr["orig.rate"].dtype == np.float64 and (fr["source.ip"] == "").all()


def unsw_original_row(srcip: str, sport: str, state: str, cat: str, label: int) -> str:
    values = {c: "0" for c in ORIGINAL_COLUMNS}
    values.update(srcip=srcip, sport=sport, dstip="149.171.126.6", dsport="53", proto="udp", state=state,
                  dur="0.001", sbytes="132", dbytes="164", service="dns", Spkts="2", Dpkts="2",
                  Stime="1421927414", Ltime="1421927414", attack_cat=cat, Label=str(label))
    return ",".join(values[c] for c in ORIGINAL_COLUMNS)


def test_unsw_original_headerless_files(tmp_path):
    rows = [unsw_original_row("59.166.0.0", "1390", "CON", "", 0),
            unsw_original_row("175.45.176.3", "0x000b", "INT", " Fuzzers ", 1),
            unsw_original_row("175.45.176.3", "-", "CON", "Backdoors", 1)]
    path = write(tmp_path / "UNSW-NB15_1.csv", "\n".join(rows) + "\n")
    assert detect(path) is UNSWReader
    fr, rep = read_all(UNSWReader, path)
    assert len(fr) == 3 and rep.skipped_total() == 0
    assert fr["source.ip"].iat[1] == "175.45.176.3" and fr["source.port"].iat[1] == 11
    assert math.isnan(fr["source.port"].iat[2]) and fr["destination.port"].iat[0] == 53
    assert fr["@timestamp"].iat[0] == 1421927414
    assert fr["label.detail"].tolist() == ["", "Fuzzers", "Backdoor"]
    assert fr["flow.state"].tolist() == ["SF", "S0", "SF"] and fr["network.protocol"].iat[0] == "dns"
    assert fr["orig.Stime"].dtype == np.float64 and fr["orig.sport"].iat[1] == 11


# --------------------------------------------------------------------------- KDD


def kdd_row(proto: str, service: str, flag: str, label: str, difficulty: int | None = None) -> str:
    feats = ["2", proto, service, flag, "181", "5450"] + ["0"] * 35
    return ",".join(feats + [label] + ([str(difficulty)] if difficulty is not None else []))


def test_kdd99_trailing_dots_and_categories(tmp_path):
    rows = [kdd_row("tcp", "http", "SF", "normal."), kdd_row("icmp", "ecr_i", "SF", "smurf."),
            kdd_row("tcp", "private", "REJ", "neptune."), "0,tcp,http,SF,1",
            kdd_row("tcp", "telnet", "RSTO", "buffer_overflow.")]
    path = write(tmp_path / "kddcup.data_10_percent.gz", "\n".join(rows) + "\n")
    assert detect(path) is KDDReader
    fr, rep = read_all(KDDReader, path, batch_size=2)
    assert len(fr) == 4 and skipped(rep) == {"5 fields, expected 42": (1, "line 4")}
    assert fr["event.id"].tolist()[-1].endswith(":5")
    assert fr["label"].tolist() == ["benign", "malicious", "malicious", "malicious"]
    assert fr["label.detail"].tolist() == ["", "smurf", "neptune", "buffer_overflow"]
    assert fr["orig.attack_category"].tolist() == ["normal", "dos", "dos", "u2r"]
    assert fr["flow.state"].tolist() == ["SF", "SF", "REJ", "RSTO"]
    assert fr["network.transport"].tolist() == ["tcp", "icmp", "tcp", "tcp"]
    assert fr["network.protocol"].iat[0] == "http" and fr["flow.duration"].iat[0] == 2
    assert (fr["source.bytes"].iat[0], fr["destination.bytes"].iat[0]) == (181, 5450)
    assert fr["orig.src_bytes"].dtype == np.float64 and "orig.difficulty" not in fr.columns


def test_nsl_kdd_difficulty_column_and_cr_line_endings(tmp_path):
    rows = [kdd_row("udp", "snmp", "SF", "snmpguess", 12), kdd_row("tcp", "http", "S0", "apache2", 3)]
    path = write(tmp_path / "Small_Training_Set.csv", "\r".join(rows) + "\r")  # old-Mac line ends
    assert detect(path) is KDDReader
    fr, _ = read_all(KDDReader, path)
    assert fr["orig.difficulty"].tolist() == [12, 3] and fr["orig.attack_category"].tolist() == ["r2l", "dos"]
    assert fr["event.id"].tolist() == ["Small_Training_Set.csv:1", "Small_Training_Set.csv:2"]


def test_kdd_category_map_covers_test_only_attacks():
    for name in ("apache2", "mailbomb", "processtable", "udpstorm", "mscan", "saint", "httptunnel", "ps",
                 "sqlattack", "xterm", "named", "sendmail", "snmpgetattack", "snmpguess", "worm", "xlock", "xsnoop"):
        assert ATTACK_CATEGORY[name] in ("dos", "probe", "r2l", "u2r"), name
    assert len(ATTACK_CATEGORY) == 40  # 22 training attacks + 17 test-only + normal


# --------------------------------------------------------------------------- shared behaviour


def test_batches_are_bounded_and_line_numbers_survive_batch_edges(tmp_path):
    rows = [kdd_row("tcp", "http", "SF", "normal") for _ in range(25)]
    rows[7] = "broken,row"
    rows.insert(12, "")  # a blank line: counted as an empty row, and line numbers stay exact
    path = write(tmp_path / "nsl.txt", "\n".join(rows) + "\n")
    fr, rep = read_all(KDDReader, path, batch_size=4)
    assert len(fr) == 24
    assert skipped(rep) == {"2 fields, expected 42": (1, "line 8"), "empty row": (1, "line 13")}
    lines = [int(e.rsplit(":", 1)[1]) for e in fr["event.id"]]
    assert lines == [n for n in range(1, 27) if n not in (8, 13)]


def test_line_numbers_stay_exact_with_many_bad_rows_across_small_batches(tmp_path):
    rng = np.random.default_rng(7)
    lines, good = [ARGUS_CSV.splitlines()[0]], []
    for i in range(600):
        r = rng.random()
        if r < 0.15:
            lines.append("bad,row")
        elif r < 0.2:
            lines.append("")
        else:
            lines.append(ARGUS_CSV.splitlines()[1])
            good.append(len(lines))
    fr, rep = read_all(ArgusReader, write(tmp_path / "many.binetflow", "\n".join(lines) + "\n"), batch_size=7)
    assert [int(e.rsplit(":", 1)[1]) for e in fr["event.id"]] == good
    assert len(fr) + rep.skipped_total() == len(lines) - 1


def test_repeated_header_inside_a_file_is_counted_not_read(tmp_path):
    lines = UNSW_PART.splitlines()
    text = "\n".join(lines[:3] + [lines[0].replace("\ufeff", "")] + lines[3:4]) + "\n"
    fr, rep = read_all(UNSWReader, write(tmp_path / "concat.csv", text))
    assert len(fr) == 3 and skipped(rep) == {"repeated header line": (1, "line 4")}
    assert fr["orig.id"].dtype == np.float64


def test_non_utf8_bytes_are_read_not_dropped(tmp_path):
    text = UNSW_PART.replace("Backdoors", "Back\xe9doors").encode().replace("\xe9".encode(), b"\xe9")
    fr, rep = read_all(UNSWReader, write(tmp_path / "latin.csv", text))
    assert fr["label.detail"].iat[2] == "Backédoors"


def test_truncated_gzip_keeps_the_rows_before_the_cut_and_reports_it(tmp_path):
    data = gzip.compress(("\n".join(kdd_row("tcp", "http", "SF", "normal") for _ in range(3000)) + "\n").encode())
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    fr, report = read_all(KDDReader, path)
    assert 0 < len(fr) < 3000
    assert (str(path), "truncated gzip stream: the rest of the file is missing") in report.skipped


def test_empty_and_header_only_files(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_all(ArgusReader, write(tmp_path / "empty.binetflow", ""))
    fr, rep = read_all(ArgusReader, write(tmp_path / "hdr.binetflow", ARGUS_CSV.splitlines()[0] + "\n"))
    assert len(fr) == 0 and rep.skipped_total() == 0


FOREIGN = {
    "conn.log": "#separator \\x09\n#set_separator\t,\n#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n",
    "eve.json": '{"timestamp":"2024-01-01T00:00:00.000000+0000","event_type":"flow","src_ip":"10.0.0.1",'
                '"proto":"TCP","flow":{"pkts_toserver":1,"bytes_toserver":60}}\n',
    "other.csv": "name,age,city\nann,30,paris\n",
}


@pytest.mark.parametrize(
    "name,content,expected",
    [("capture.binetflow", ARGUS_CSV, ArgusReader), ("flows.csv", NF16, NfdumpReader),
     ("cic.csv", cic_original(), CICFlowMeterReader), ("unsw.csv", UNSW_PART, UNSWReader),
     ("unsw1.csv", unsw_original_row("59.166.0.0", "1390", "CON", "", 0) + "\n", UNSWReader),
     ("kdd.txt", kdd_row("tcp", "http", "SF", "normal", 21) + "\n", KDDReader)],
)
def test_each_format_is_claimed_by_exactly_its_reader(tmp_path, name, content, expected):
    path = write(tmp_path / name, content)
    head = read_head(path)
    assert [r for r in MINE if r.sniff(head, path)] == [expected]
    assert detect(path) is expected


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_no_tabular_reader_claims_zeek_eve_or_other_csv(tmp_path, name):
    path = write(tmp_path / name, FOREIGN[name])
    head = read_head(path)
    assert [r.name for r in MINE if r.sniff(head, path)] == []


# --------------------------------------------------------------------------- real shared data

UNSW_TRAIN = SHARED / "network/unsw-nb15/UNSW_NB15_training-set.csv.gz"
NSL_20 = SHARED / "network/nsl-kdd/KDDTrain+_20Percent.txt.gz"
CIC_DIR = SHARED / "network/cicids2017-improved"
ARGUS_DIR = SHARED / "argus"


@pytest.mark.skipif(not UNSW_TRAIN.exists(), reason=f"shared data not present: {UNSW_TRAIN}")
def test_real_unsw_training_set():
    assert detect(UNSW_TRAIN) is UNSWReader
    fr, rep = read_all(UNSWReader, UNSW_TRAIN, batch_size=50_000)
    assert len(fr) == 82_332 and rep.skipped_total() == 0
    assert set(fr["label"]) == {"benign", "malicious"} and "Backdoor" in set(fr["label.detail"])
    assert fr["flow.state"].isin(["SF", "S0", "S1", "OTH", "RSTO", "REJ"]).all()


@pytest.mark.skipif(not NSL_20.exists(), reason=f"shared data not present: {NSL_20}")
def test_real_nsl_kdd_20_percent():
    assert detect(NSL_20) is KDDReader
    fr, rep = read_all(KDDReader, NSL_20)
    assert len(fr) == 25_192 and rep.skipped_total() == 0
    assert "unknown" not in set(fr["orig.attack_category"])


@pytest.mark.skipif(not CIC_DIR.exists(), reason=f"shared data not present: {CIC_DIR}")
@pytest.mark.parametrize("name,rows,family", [("BENIGN_first2500.csv.gz", 2500, ""),
                                              ("DDoS_5000.csv.gz", 5000, "DDoS"),
                                              ("DoS_Hulk_5000.csv.gz", 5000, "DoS Hulk"),
                                              ("FTP-Patator_3972.csv.gz", 3972, "FTP-Patator"),
                                              ("Portscan_5000.csv.gz", 5000, "Portscan")])
def test_real_cic_improved_files(name, rows, family):
    path = CIC_DIR / name
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    assert detect(path) is CICFlowMeterReader
    fr, rep = read_all(CICFlowMeterReader, path)
    assert len(fr) == rows and rep.skipped_total() == 0
    assert set(fr["label.detail"]) == {family}
    assert fr["@timestamp"].notna().all() and (fr["source.ip"] != "").all()


@pytest.mark.skipif(not ARGUS_DIR.exists(), reason=f"shared data not present: {ARGUS_DIR}")
def test_real_argus_binetflows():
    for path in sorted(ARGUS_DIR.glob("*.binetflow")):
        assert detect(path) is ArgusReader, path
        fr, rep = read_all(ArgusReader, path)
        lines = sum(1 for _ in open(path, "rb")) - 1
        assert len(fr) + rep.skipped_total() == lines
        assert fr["source.bytes"].notna().all()
