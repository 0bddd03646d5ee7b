"""Incident grouping and every output: ECS, OCSF, terminal, HTML report."""

import io
import json
import re

import pytest
from rich.console import Console

from threatml.findings import Finding
from threatml.findings.incidents import COMBINED_CAP, combined_score, group_incidents
from threatml.output.ecs import finding_to_ecs, write_ecs
from threatml.output.html_report import write_html_report
from threatml.output.ocsf import finding_to_ocsf, write_ocsf
from threatml.output.terminal import print_incidents, print_summary

T0 = 1_700_000_000.0
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def mk(detector="network.portscan", start=0.0, dur=60.0, entity="10.0.0.5", score=0.5, **kw) -> Finding:
    kw.setdefault("title", f"{detector} on {entity}")
    return Finding.make(detector=detector, detector_version="1", start=T0 + start, end=T0 + start + dur,
                        entity=entity, score=score, **kw)


def attack_chain() -> list[Finding]:
    return [
        mk("network.portscan", 0, 300, score=0.6, attack=["T1046"], evidence=["C1", "C2"],
           explanation=["Probed 900 ports on 12 hosts in 5 min."], related={"destinations": ["10.0.0.9"]}),
        mk("network.bruteforce", 600, 900, score=0.7, attack=["T1110.001"], explanation=["812 failed SSH logins."]),
        mk("network.beacon", 2000, 7000, score=0.5, attack=["T1071.001", "T1573"],
           explanation=["Connections every 60 s (jitter 2%)."]),
    ]


# --- incidents ---------------------------------------------------------------


def test_same_entity_within_gap_merges_into_one_titled_incident():
    (inc,) = group_incidents(attack_chain())
    assert inc.entity == "10.0.0.5" and len(inc.finding_ids) == 3
    assert inc.title == "Port scan, brute force and C2 beaconing from 10.0.0.5"
    assert inc.attack == ["T1110.001", "T1046", "T1071.001", "T1573"]  # kill-chain order of tactics
    assert inc.tactics == ["Credential Access", "Discovery", "Command and Control"]
    assert inc.detectors == ["network.portscan", "network.bruteforce", "network.beacon"]
    assert inc.start == T0 and inc.end == T0 + 9000
    assert inc.summary and "3 findings from 3 detectors" in inc.summary[0]


def test_far_apart_or_other_entity_stays_separate():
    fs = [mk(start=0), mk(start=0, entity="10.0.0.6"), mk(start=60 + 3601)]
    incs = group_incidents(fs, gap_seconds=3600)
    assert len(incs) == 3
    assert sorted(len(i.finding_ids) for i in incs) == [1, 1, 1]
    # just inside the gap merges
    assert len(group_incidents([mk(start=0), mk(start=60 + 3599)], gap_seconds=3600)) == 1


def test_chain_of_findings_each_within_gap_merges_transitively():
    fs = [mk(start=0), mk("network.beacon", start=3000), mk("network.exfil", start=6500)]
    assert len(group_incidents(fs, gap_seconds=3600)) == 1


def test_severity_bumped_when_three_detectors_agree():
    (inc,) = group_incidents(attack_chain())
    assert inc.severity == "critical"  # worst finding is high (0.7), three detectors agree -> critical
    two = group_incidents(attack_chain()[:2])[0]
    assert two.severity == "high"  # two detectors: no bump
    same = group_incidents([mk(score=0.5, start=i * 100, title=f"t{i}") for i in range(4)])[0]
    assert same.severity == "medium"  # one detector four times is not agreement


def test_score_is_noisy_or_over_distinct_detectors_and_capped():
    (inc,) = group_incidents([mk("a", score=0.5), mk("a", start=10, score=0.5, title="x"), mk("b", score=0.5)])
    assert inc.score == pytest.approx(0.75)  # detector a counted once
    assert combined_score([0.9, 0.9, 0.9]) == COMBINED_CAP
    assert combined_score([0.999]) == 0.999  # a single strong finding keeps its own score


def test_ranking_by_score_then_severity_then_time():
    fs = [mk(entity="a", score=0.3), mk(entity="b", score=0.9), mk(entity="c", start=100, score=0.6),
          mk(entity="d", start=50, score=0.6)]
    assert [i.entity for i in group_incidents(fs)] == ["b", "d", "c", "a"]
    # equal scores: higher severity first (severity set explicitly, e.g. by a rule)
    fs = [mk(entity="x", score=0.5), mk(entity="y", score=0.5, severity="high")]
    assert [i.entity for i in group_incidents(fs)] == ["y", "x"]


def test_dos_findings_are_grouped_under_the_victim():
    fs = [
        mk("network.flow-classifier", entity="1.2.3.4", score=0.8, attack=["T1498"],
           related={"destinations": ["10.0.0.9"]}, title="Flow model: DoS activity from 1.2.3.4"),
        mk("network.dos", start=30, entity="10.0.0.9", score=0.9, attack=["T1498.001"],
           related={"sources": ["1.2.3.4", "5.6.7.8"]}, title="SYN flood against 10.0.0.9"),
        mk("network.portscan", entity="1.2.3.4", start=5000, attack=["T1046"]),
    ]
    incs = group_incidents(fs)
    by_entity = {i.entity: i for i in incs}
    assert set(by_entity) == {"10.0.0.9", "1.2.3.4"}
    victim = by_entity["10.0.0.9"]
    assert len(victim.finding_ids) == 2 and victim.role == "victim"
    assert victim.title == "Denial of service against 10.0.0.9"
    assert len(by_entity["1.2.3.4"].finding_ids) == 1


def test_grouping_empty_and_unknown_detector_titles():
    assert group_incidents([]) == []
    (inc,) = group_incidents([mk("email.phish", entity="bob@example.com", entity_type="mailbox",
                                 title="Phishing mail to bob@example.com")])
    assert inc.title == "Phishing mail for bob@example.com"
    (inc,) = group_incidents([mk("windows.logon", entity="alice", entity_type="user", title="Odd logon")])
    assert inc.title == "Odd logon for alice"  # no accidental keyword match ("windows" is not "dos")


# --- ECS ---------------------------------------------------------------------


def test_ecs_documents_are_valid_json_lines_with_ecs_fields():
    fs = attack_chain() + [mk("network.dos", entity="10.0.0.9", attack=["T1498.001", "T9999"],
                              related={"sources": ["1.2.3.4"]}, attributes={"pps": float("nan")})]
    buf = io.StringIO()
    assert write_ecs(fs, buf) == len(fs)
    lines = buf.getvalue().splitlines()
    docs = [json.loads(line) for line in lines]  # strict JSON: NaN would fail below
    assert "NaN" not in buf.getvalue()
    scan = docs[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", scan["@timestamp"])
    assert scan["event"]["kind"] == "alert" and "intrusion_detection" in scan["event"]["category"]
    assert isinstance(scan["event"]["severity"], int) and 0 <= scan["event"]["risk_score"] <= 100
    assert scan["event"]["start"] < scan["event"]["end"] and scan["event"]["duration"] == 300 * 10**9
    assert scan["rule"]["id"] == "network.portscan" and scan["rule"]["version"] == "1"
    assert scan["threat"]["framework"] == "MITRE ATT&CK"
    assert scan["threat"]["technique"] == {"id": ["T1046"], "name": ["Network Service Discovery"],
                                           "reference": ["https://attack.mitre.org/techniques/T1046/"]}
    assert scan["threat"]["tactic"]["name"] == ["Discovery"]
    assert scan["source"]["ip"] == "10.0.0.5" and scan["destination"]["ip"] == "10.0.0.9"
    assert scan["related"]["ip"] == ["10.0.0.5", "10.0.0.9"]
    assert scan["message"].startswith("network.portscan on 10.0.0.5. Probed 900 ports")
    assert scan["threatml"]["evidence"] == {"ids": ["C1", "C2"], "count": 2}
    assert scan["threatml"]["score"] == 0.6 and scan["threatml"]["detector"]["version"] == "1"

    brute = docs[1]["threat"]["technique"]
    assert brute["id"] == ["T1110"] and brute["subtechnique"]["id"] == ["T1110.001"]
    assert brute["subtechnique"]["name"] == ["Password Guessing"]

    dos = docs[-1]
    assert dos["destination"]["ip"] == "10.0.0.9" and dos["source"]["ip"] == "1.2.3.4"  # entity is the victim
    assert "T9999" in dos["threat"]["technique"]["id"] and len(dos["threat"]["technique"]["name"]) == 1
    assert dos["threatml"]["attributes"]["pps"] is None


def test_ecs_non_ip_entities_never_land_in_ip_fields():
    doc = finding_to_ecs(mk(entity="alice", entity_type="user", related={"hosts": ["srv-1", "10.1.1.1"]}))
    assert doc["user"]["name"] == "alice" and "source" not in doc and "host" not in doc
    assert doc["related"]["ip"] == ["10.1.1.1"] and doc["related"]["user"] == ["alice"]
    doc = finding_to_ecs(mk(entity="gateway-7"))
    assert doc["host"] == {"name": "gateway-7"} and "related" not in doc


# --- OCSF --------------------------------------------------------------------


def test_ocsf_detection_finding_fields_and_types():
    fs = attack_chain()
    buf = io.StringIO()
    assert write_ocsf(fs, buf) == 3
    docs = [json.loads(line) for line in buf.getvalue().splitlines()]
    d = docs[0]
    assert (d["class_uid"], d["category_uid"], d["activity_id"], d["type_uid"]) == (2004, 2, 1, 200401)
    assert d["time"] == int(T0 * 1000) and isinstance(d["time"], int)
    assert d["severity_id"] == 3 and d["severity"] == "Medium"
    assert d["metadata"]["product"]["name"] == "ThreatML" and d["metadata"]["version"] == "1.1.0"
    assert isinstance(d["risk_score"], int) and isinstance(d["confidence_score"], int)
    info = d["finding_info"]
    assert info["uid"] == fs[0].id and info["title"] == fs[0].title and info["types"] == ["port scan"]
    assert info["analytic"]["type_id"] == 2 and info["analytic"]["name"] == "network.portscan"
    assert info["first_seen_time"] == int(T0 * 1000) and info["last_seen_time"] == int((T0 + 300) * 1000)
    assert info["attacks"][0]["technique"] == {"uid": "T1046", "name": "Network Service Discovery",
                                               "src_url": "https://attack.mitre.org/techniques/T1046/"}
    assert info["attacks"][0]["tactic"] == {"uid": "TA0007", "name": "Discovery"}
    assert d["evidences"] == [{"src_endpoint": {"ip": "10.0.0.5"}, "dst_endpoint": {"ip": "10.0.0.9"}}]
    assert {o["value"] for o in d["observables"]} == {"10.0.0.5", "10.0.0.9"}
    assert all(o["type_id"] == 2 for o in d["observables"])
    assert d["unmapped"]["evidence"] == ["C1", "C2"] and d["unmapped"]["explanation"]
    brute = docs[1]["finding_info"]["attacks"][0]
    assert brute["technique"]["uid"] == "T1110" and brute["sub_technique"]["uid"] == "T1110.001"


@pytest.mark.parametrize("score,severity_id", [(0.05, 1), (0.2, 2), (0.5, 3), (0.8, 4), (0.95, 5)])
def test_ocsf_severity_scale(score, severity_id):
    assert finding_to_ocsf(mk(score=score))["severity_id"] == severity_id


def test_ocsf_analytic_type_and_unknown_technique():
    ml = finding_to_ocsf(mk("network.flow-classifier", attack=["T4242"]))
    assert ml["finding_info"]["analytic"]["type"] == "Learning (ML/DL)"
    assert ml["finding_info"]["attacks"] == [{"technique": {"uid": "T4242",
                                              "src_url": "https://attack.mitre.org/techniques/T4242/"},
                                              "version": ml["finding_info"]["attacks"][0]["version"]}]
    assert finding_to_ocsf(mk("network.signature"))["finding_info"]["analytic"]["type_id"] == 1
    assert "attacks" not in finding_to_ocsf(mk())["finding_info"]


# --- terminal ----------------------------------------------------------------


def test_terminal_shows_ranked_incidents_and_prints_data_literally():
    fs = attack_chain() + [mk("network.signature", entity="10.9.9.9", score=0.95, title="[bold red]fake[/] rule",
                              explanation=["[link=http://x]click[/link]"])]
    incs = group_incidents(fs)
    con = Console(record=True, width=200, color_system=None)
    print_incidents(con, incs, {f.id: f for f in fs})
    out = con.export_text()
    assert "Port scan, brute force and C2 beaconing from 10.0.0.5" in out
    assert "[link=http://x]click[/link]" in out  # markup in data is shown, not interpreted
    assert out.index("IDS alerts from 10.9.9.9") < out.index("Port scan, brute force")  # 0.95 ranks above 0.94
    assert "[bold red]fake[/] rule" in out
    con = Console(record=True, width=120)
    print_incidents(con, [], {})
    assert "No incidents" in con.export_text()


def test_terminal_summary_lists_skips_with_reason_and_location():
    con = Console(record=True, width=160, color_system=None)
    print_summary(con, {
        "files_read": 2, "records": 5000, "formats": {"a.log": "zeek", "b.pcap": "pcap"},
        "skipped": [{"file": "a.log", "reason": "3 fields, expected 21", "count": 7, "first_at": "line 12"}],
        "errors": [{"file": "c.bin", "error": "unrecognised format"}],
        "findings": 3, "findings_by_detector": {"network.portscan": 3}, "elapsed_s": 2.0, "records_per_s": 2500.0,
    })
    out = con.export_text()
    for text in ("pcap 1, zeek 1", "5,000", "7 × 3 fields, expected 21 in a.log (first at line 12)",
                 "c.bin: unrecognised format", "portscan 3", "2,500 records/s"):
        assert text in out


# --- HTML report ---------------------------------------------------------------


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> str:
    fs = attack_chain() + [mk("network.signature", entity=HOSTILE, score=0.95, title=HOSTILE,
                              explanation=["</script><script>alert(2)</script>"], evidence=["<b>id</b>"])]
    summary = {"files_read": 1, "records": 10, "formats": {"conn.log": "zeek"},
               "skipped": [{"file": "conn.log", "reason": HOSTILE, "count": 1, "first_at": "line 3"}],
               "errors": [], "findings": len(fs), "findings_by_detector": {}, "elapsed_s": 1.0}
    path = tmp_path_factory.mktemp("report") / "sub" / "report.html"
    write_html_report(path, group_incidents(fs), fs, summary)
    return path.read_text(encoding="utf-8")


def test_html_is_offline(report_html):
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", report_html, flags=re.I)
    assert tags and not [t for t in tags if re.search(r"(src|href)\s*=", t, flags=re.I)]
    assert "@import" not in report_html and "fonts.googleapis" not in report_html
    assert "Plotly.newPlot" in report_html and len(report_html) > 1_000_000  # plotly.js inlined


def test_html_escapes_hostile_strings(report_html):
    assert "<script>alert(" not in report_html and "<img src=x" not in report_html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in report_html
    assert "&lt;b&gt;id&lt;/b&gt;" in report_html
    # JSON chart data cannot close its <script> block
    for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', report_html, flags=re.S):
        assert "<" not in block
        json.loads(block)


def test_html_has_charts_incidents_and_summary(report_html):
    for div in ("chart-timeline", "chart-entities", "chart-detectors", "chart-scores"):
        assert f'id="{div}"' in report_html
    assert "Port scan, brute force and C2 beaconing from 10.0.0.5" in report_html
    assert "C1, C2" in report_html and "Probed 900 ports on 12 hosts in 5 min." in report_html
    assert "line 3" in report_html and "zeek" in report_html


def test_html_with_no_findings_still_renders(tmp_path):
    path = write_html_report(tmp_path / "empty.html", [], [], {})
    html = path.read_text(encoding="utf-8")
    assert "No incidents" in html and "no findings" in html


def test_distributed_attack_on_a_target_reads_against_it():
    f = mk("network.bruteforce", entity="10.0.0.9", attack=["T1110", "T1110.001"],
           related={"sources": ["1.1.1.1", "2.2.2.2"]}, title="SSH brute force against 10.0.0.9")
    (inc,) = group_incidents([f])
    assert inc.title == "Brute force against 10.0.0.9" and inc.role == "victim"
