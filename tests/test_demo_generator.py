"""The synthetic demo network: real Zeek TSV, consistent records, attacks as listed."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threatml.demo.network import (
    C2_DOMAIN,
    C2_IP,
    DEFAULT_START,
    EXFIL_IP,
    SERVERS,
    generate,
    load_ground_truth,
)

# 21:30-22:30: the window holds every attack and the 22:00 nightly backup.
START = DEFAULT_START + 4.5 * 3600
HOURS = 1.0

CONN_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state "
    "local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents"
).split()
CONN_TYPES = (
    "time string addr port addr port enum string interval count count string bool bool count string count count "
    "count count set[string]"
).split()
DNS_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass qclass_name qtype qtype_name "
    "rcode rcode_name AA TC RD RA Z answers TTLs rejected"
).split()
NUMERIC = {"time", "interval", "count", "port"}


def read_zeek(path: Path) -> tuple[list[str], pd.DataFrame]:
    """A deliberately naive Zeek TSV parser, independent of threatml's reader."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    lines = lines[:-1]
    header = [ln for ln in lines if ln.startswith("#")]
    fields = next(ln for ln in header if ln.startswith("#fields\t")).split("\t")[1:]
    types = next(ln for ln in header if ln.startswith("#types\t")).split("\t")[1:]
    rows = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert all(len(r) == len(fields) for r in rows), f"{path.name}: a line has the wrong number of fields"
    df = pd.DataFrame(rows, columns=fields, dtype=object)
    for name, typ in zip(fields, types):
        if typ in NUMERIC:
            df[name] = pd.to_numeric(df[name].replace("-", np.nan)).astype(float)
    return header, df


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("demo"), hours=HOURS, hosts=14, seed=3, start=START)


@pytest.fixture(scope="module")
def logs(scenario):
    return {name: read_zeek(scenario.out_dir / f"{name}.log") for name in ("conn", "dns", "http", "ssl")}


@pytest.fixture(scope="module")
def conn(logs):
    return logs["conn"][1].set_index("uid", drop=False)


def attack(scenario, kind, victim=None):
    found = [a for a in scenario.attacks if a.kind == kind and (victim is None or a.victim == victim)]
    assert len(found) == 1, f"expected one {kind} attack, got {len(found)}"
    return found[0]


# --------------------------------------------------------------------------- format


@pytest.mark.parametrize("name", ["conn", "dns", "http", "ssl"])
def test_header_is_the_one_zeek_writes(logs, name):
    header, df = logs[name]
    assert header[0] == "#separator \\x09"
    assert header[1:5] == ["#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", f"#path\t{name}"]
    assert re.fullmatch(r"#open\t\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d", header[5])
    assert header[6].startswith("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\t")
    assert header[7].startswith("#types\ttime\tstring\taddr\tport\taddr\tport\t")
    assert len(header[6].split("\t")) == len(header[7].split("\t"))
    assert re.fullmatch(r"#close\t\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d", header[-1]) and len(header) == 9
    assert len(df) > 0


def test_conn_and_dns_have_the_exact_zeek_columns(logs):
    conn_header = logs["conn"][0]
    assert conn_header[6].split("\t")[1:] == CONN_FIELDS
    assert conn_header[7].split("\t")[1:] == CONN_TYPES
    assert logs["dns"][0][6].split("\t")[1:] == DNS_FIELDS


def test_uids_are_zeek_style_and_unique(conn):
    assert conn["uid"].str.fullmatch(r"C[0-9A-Za-z]{17}").all()
    assert conn["uid"].is_unique


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate(tmp_path / "a", hours=0.3, hosts=12, seed=11)
    b = generate(tmp_path / "b", hours=0.3, hosts=12, seed=11)
    c = generate(tmp_path / "c", hours=0.3, hosts=12, seed=12)
    for name in ("conn.log", "dns.log", "http.log", "ssl.log", "ground_truth.json"):
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    assert (a.out_dir / "conn.log").read_bytes() != (c.out_dir / "conn.log").read_bytes()
    # Even an 18-minute window holds every attack inside it.
    assert len(a.attacks) == 6 and all(a.start <= x.start <= x.end < a.end for x in a.attacks)


def test_rejects_too_few_hosts_or_no_time(tmp_path):
    with pytest.raises(ValueError, match="hosts"):
        generate(tmp_path, hours=1, hosts=5)
    with pytest.raises(ValueError, match="hours"):
        generate(tmp_path, hours=0)


# --------------------------------------------------------------------------- consistency


def test_side_logs_point_at_conn_rows_with_the_same_endpoints(logs, conn):
    for name in ("dns", "http", "ssl"):
        side = logs[name][1]
        assert side["uid"].isin(conn.index).all(), name
        c = conn.loc[side["uid"]]
        for col in ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"):
            assert (c[col].to_numpy() == side[col].to_numpy()).all(), (name, col)
        # The protocol record starts inside its connection.
        assert (side["ts"].to_numpy() >= c["ts"].to_numpy()).all(), name
    assert (conn.loc[logs["dns"][1]["uid"], "service"] == "dns").all()
    assert conn.loc[logs["http"][1]["uid"], "service"].eq("http").all()


def test_conn_states_agree_with_packets_bytes_and_history(conn):
    c = conn
    for col in ("orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "duration"):
        assert (c[col].dropna() >= 0).all(), col
    s0, rej = c["conn_state"] == "S0", c["conn_state"] == "REJ"
    assert (c.loc[s0, "resp_pkts"] == 0).all() and (c.loc[s0, "history"] == "S").all()
    assert c.loc[s0, "resp_bytes"].fillna(0).eq(0).all()
    assert (c.loc[rej, "history"] == "Sr").all() and (c.loc[rej, "resp_bytes"] == 0).all()
    est = c["conn_state"].isin(["SF", "RSTO", "RSTR"]) & (c["proto"] == "tcp")
    assert c.loc[est, "history"].str.startswith("ShA").all()
    assert (c.loc[est, "orig_pkts"] >= 2).all() and (c.loc[est, "resp_pkts"] >= 1).all()
    # Zeek leaves duration and byte counts unset for one-packet connections only.
    one_packet = (c["orig_pkts"] + c["resp_pkts"]) == 1
    assert (c["duration"].isna() == one_packet).all()
    assert (c["orig_bytes"].isna() == one_packet).all()
    # IP bytes include at least 20 header bytes a packet.
    for side in ("orig", "resp"):
        b = c[f"{side}_bytes"].fillna(0)
        assert (c[f"{side}_ip_bytes"] >= b + 20 * c[f"{side}_pkts"]).all(), side
    assert set(c["proto"]) <= {"tcp", "udp", "icmp"}
    assert c.loc[c["proto"] == "udp", "service"].isin(["dns", "ntp"]).all()
    assert (c.loc[c["service"] == "dns", "id.resp_p"] == 53).all()
    assert (c.loc[c["service"] == "ntp", "id.resp_p"] == 123).all()
    assert c.loc[c["service"] == "ssl", "id.resp_p"].isin([443, 993]).all()
    assert c.loc[c["service"] == "ssh", "id.resp_p"].eq(22).all()
    assert c.loc[c["conn_state"].isin(["S0", "REJ"]), "service"].eq("-").all()


def test_times_stay_in_the_window_and_conn_is_ordered_by_end(scenario, conn):
    assert conn["ts"].min() >= scenario.start and conn["ts"].max() < scenario.end
    end = (conn["ts"] + conn["duration"].fillna(0)).to_numpy()
    assert (np.diff(end) >= -1e-6).all()


def test_local_flags_follow_the_10_8_network(conn):
    internal = conn["id.orig_h"].str.startswith("10.")
    assert (conn["local_orig"] == np.where(internal, "T", "F")).all()


def test_benign_background_is_varied_and_heavy_tailed(scenario, conn):
    attack_uids = {u for a in scenario.attacks for u in a.uids}
    benign = conn[~conn.index.isin(attack_uids)]
    web = benign[(benign["service"] == "ssl") & (benign["local_resp"] == "F")]
    assert len(web) > 1000  # a quiet late evening with a handful of workstations
    assert web["id.resp_h"].nunique() > 80
    rb = web["resp_bytes"]
    assert rb.max() > 100 * rb.median()  # heavy tail
    failed = benign["conn_state"].isin(["S0", "REJ"]).mean()
    assert 0.001 < failed < 0.05
    services = set(benign["service"])
    assert {"dns", "ssl", "http", "smb", "ntp", "ssh", "krb_tcp", "smtp"} <= services


def test_dns_answers_lead_to_the_addresses_that_are_contacted(logs, conn):
    dns = logs["dns"][1]
    ok = dns[(dns["qtype_name"] == "A") & (dns["rcode_name"] == "NOERROR") & dns["id.orig_h"].str.startswith("10.10.2.")]
    answered = {(h, ip) for h, ans in zip(ok["id.orig_h"], ok["answers"]) for ip in ans.split(",")}
    web = conn[(conn["service"] == "ssl") & (conn["local_resp"] == "F")]
    pairs = set(zip(web["id.orig_h"], web["id.resp_h"]))
    assert len(pairs & answered) > 0.5 * len(pairs)


def test_nightly_backup_is_large_internal_traffic_not_an_attack(scenario, conn):
    backup = conn[(conn["id.resp_h"] == SERVERS["backup01"]) & (conn["id.resp_p"] == 9103)]
    assert len(backup) >= 5
    assert backup["id.orig_h"].str.startswith("10.10.1.").all()
    assert backup["orig_bytes"].sum() > 10e9
    assert not set(backup.index) & {u for a in scenario.attacks for u in a.uids}


# --------------------------------------------------------------------------- attacks


def test_ground_truth_lists_every_attack_with_existing_uids(scenario, conn):
    kinds = sorted(a.kind for a in scenario.attacks)
    assert kinds == ["beacon", "bruteforce", "ddos", "exfiltration", "portscan", "portscan"]
    assert load_ground_truth(scenario.ground_truth) == scenario.attacks
    doc = json.loads(scenario.ground_truth.read_text())
    assert doc["counts"]["conn"] == len(conn)
    for a in scenario.attacks:
        assert a.uids and set(a.uids) <= set(conn.index), a.kind
        assert a.technique.startswith("T1") and a.description
        flows = conn.loc[list(a.uids)]
        assert flows["ts"].min() == pytest.approx(a.start, abs=1e-5)
        assert flows["ts"].max() == pytest.approx(a.end, abs=1e-5)
    all_uids = [u for a in scenario.attacks for u in a.uids]
    assert len(all_uids) == len(set(all_uids))


def test_ddos_is_a_syn_flood_of_spoofed_sources(scenario, conn):
    a = attack(scenario, "ddos")
    flows = conn.loc[list(a.uids)]
    assert a.victim == SERVERS["web01"]
    assert (flows["conn_state"] == "S0").all() and (flows["id.resp_h"] == a.victim).all()
    assert set(flows["id.resp_p"]) == {80.0, 443.0}
    assert len(flows) > 5000 and flows["id.orig_h"].nunique() > 300
    assert set(flows["id.orig_h"]) == set(a.attackers) and a.attacker in a.attackers
    assert all(ipaddress.ip_address(ip).is_global for ip in a.attackers)
    assert a.end - a.start < 600


def test_vertical_scan_touches_a_thousand_ports_mostly_closed(scenario, conn):
    a = attack(scenario, "portscan", victim=SERVERS["files01"])
    flows = conn.loc[list(a.uids)]
    assert (flows["id.orig_h"] == a.attacker).all() and (flows["id.resp_h"] == a.victim).all()
    assert flows["id.resp_p"].nunique() >= 900
    assert flows["conn_state"].isin(["REJ", "S0"]).mean() > 0.95
    assert (flows["conn_state"] == "SF").sum() >= 1


def test_horizontal_sweep_hits_445_across_the_subnet(scenario, conn):
    a = attack(scenario, "portscan", victim="10.10.2.0/24")
    flows = conn.loc[list(a.uids)]
    assert (flows["id.resp_p"] == 445).all() and flows["id.resp_h"].nunique() >= 200
    assert set(flows["id.resp_h"]) == set(a.victims)
    assert a.attacker.startswith("10.10.2.")


def test_ssh_bruteforce_is_many_short_similar_connections(scenario, conn):
    a = attack(scenario, "bruteforce")
    flows = conn.loc[list(a.uids)]
    assert a.victim == SERVERS["jump01"] and not a.attacker.startswith("10.")
    assert len(flows) >= 100 and (flows["id.resp_p"] == 22).all() and (flows["service"] == "ssh").all()
    assert flows["orig_bytes"].std() / flows["orig_bytes"].mean() < 0.1
    assert flows["duration"].max() < 10
    assert a.end - a.start > 5 * 60


def test_beacon_calls_home_every_minute_with_jitter(scenario, conn, logs):
    a = attack(scenario, "beacon")
    flows = conn.loc[list(a.uids)].sort_values("ts")
    assert (flows["id.orig_h"] == a.attacker).all() and (flows["id.resp_h"] == C2_IP).all()
    gaps = np.diff(flows["ts"].to_numpy())
    assert 54 <= gaps.min() and gaps.max() <= 66 and 0.02 < gaps.std() / gaps.mean() < 0.1
    assert np.median(flows["orig_bytes"]) < 1000
    ssl = logs["ssl"][1]
    c2 = ssl[ssl["uid"].isin(a.uids)]
    assert len(c2) == len(flows)
    assert (c2["server_name"] == C2_DOMAIN).all() and (c2["validation_status"] == "self signed certificate").all()
    assert (c2["subject"] == c2["issuer"]).all()
    dns = logs["dns"][1]
    q = dns[(dns["query"] == C2_DOMAIN)]
    assert len(q) >= 5 and (q["id.orig_h"] == a.attacker).all() and (q["answers"] == C2_IP).all()


def test_exfiltration_uploads_gigabytes_from_the_beaconing_host(scenario, conn):
    a = attack(scenario, "exfiltration")
    flows = conn.loc[list(a.uids)]
    assert a.attacker == attack(scenario, "beacon").attacker and a.victim == EXFIL_IP
    assert (flows["id.resp_h"] == EXFIL_IP).all() and 2 <= len(flows) <= 6
    assert 2e9 <= flows["orig_bytes"].sum() <= 5e9
    assert (flows["orig_bytes"] > 50 * flows["resp_bytes"]).all()


# --------------------------------------------------------------------------- the real reader


def test_threatml_zeek_reader_reads_every_line(scenario, logs):
    zeek = pytest.importorskip("threatml.readers.zeek", reason="threatml.readers.zeek is not available")
    from threatml.errors import ReadReport

    for name, kind in (("conn", "flow"), ("ssl", "tls"), ("dns", "dns"), ("http", "http")):
        report = ReadReport()
        batches = list(zeek.ZeekReader().read(scenario.out_dir / f"{name}.log", report))
        assert report.skipped_total() == 0, (name, dict(report.skipped))
        assert {b.kind for b in batches} == {kind}
        ids = pd.concat([b.frame["event.id"] for b in batches])
        assert list(ids) == list(logs[name][1]["uid"]), name


# --------------------------------------------------------------------------- default size


def test_default_size_generates_hundreds_of_thousands_of_flows_in_bounded_memory(tmp_path):
    """The demo's default run, in a fresh interpreter so its peak RSS is its own."""
    code = textwrap.dedent(
        f"""
        import json, resource
        from pathlib import Path
        from threatml.demo.network import generate
        s = generate(Path({str(tmp_path)!r}))
        print(json.dumps({{"counts": s.counts, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert 150_000 <= res["counts"]["conn"] <= 600_000
    assert res["maxrss_kb"] < 1_000_000, f"peak RSS {res['maxrss_kb'] / 1024:.0f} MiB"
    _, conn = read_zeek(tmp_path / "conn.log")
    # Working-day curve: the first hour (17:00) is busier than the last (22:00), attacks aside.
    hour = ((conn["ts"] - DEFAULT_START) // 3600).astype(int)
    ddos = conn["conn_state"].eq("S0") & conn["id.resp_h"].eq(SERVERS["web01"])
    per_hour = hour[~ddos].value_counts()
    assert per_hour[0] > 2 * per_hour[5]
    # The hourly update check: each workstation 5-7 times in 6 h, not a fixed period.
    upd = conn[conn["id.resp_h"].isin(_addresses_of(tmp_path, "update.googleapis.com"))]
    per_host = upd.groupby("id.orig_h")["ts"]
    assert per_host.size().between(4, 8).all()
    gaps = per_host.apply(lambda t: np.diff(np.sort(t.to_numpy()))).explode().astype(float)
    assert gaps.std() > 60


def _addresses_of(out_dir: Path, name: str) -> set[str]:
    _, dns = read_zeek(out_dir / "dns.log")
    return {ip for ans in dns.loc[dns["query"] == name, "answers"] for ip in ans.split(",")}


def test_story_writes_mail_and_auth_log_in_step_with_the_network(tmp_path):
    import email
    from email import policy

    from threatml.demo.network import BRUTEFORCE_IP, generate, load_ground_truth
    from threatml.demo.story import PHISH_DOMAIN, VICTIM_MAILBOX, VICTIM_USER, add_story

    sc = generate(tmp_path, hours=2.0, hosts=14, seed=5)
    paths, added = add_story(sc, seed=5)
    mail_dir, auth_log = paths
    msgs = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(mail_dir.glob("*.eml"))]
    phish = [m for m in msgs if PHISH_DOMAIN in m["From"]]
    assert len(msgs) == 49 and len(phish) == 1 and phish[0]["To"] == VICTIM_MAILBOX
    assert "dmarc=fail" in phish[0]["Authentication-Results"]
    brute = next(a for a in sc.attacks if a.kind == "bruteforce")
    assert phish[0]["Date"].datetime.timestamp() == pytest.approx(brute.start - 5400)
    text = auth_log.read_text()
    assert text.count(f"from {BRUTEFORCE_IP}") >= len(brute.uids)
    assert f"Accepted password for {VICTIM_USER} from {BRUTEFORCE_IP}" in text
    assert [a.kind for a in load_ground_truth(sc.ground_truth)][-2:] == ["phishing", "account-compromise"]
    assert [a.kind for a in added] == ["phishing", "account-compromise"]
