"""The DuckDB store: round trip, reopen, append, SQL hunting, and refusing what is not a store."""

import math

import duckdb
import pytest

from threatml.errors import ThreatMLError
from threatml.findings import Finding
from threatml.findings.incidents import group_incidents
from threatml.store import SCHEMA_VERSION, Store

T0 = 1_700_000_000.0


def _findings(host: str = "10.0.0.5", n_extra: int = 0) -> list[Finding]:
    base = [
        Finding.make(detector="network.portscan", detector_version="2", title=f"Port scan from {host}",
                     start=T0, end=T0 + 60.123456, entity=host, score=0.7, attack=["T1046"],
                     evidence=["C1", "C2"], explanation=["Touched 500 ports.", "SYN only."],
                     related={"destinations": ["10.0.0.9"], "destination_ports": ["22", "80"]},
                     source_files=["conn.log"], attributes={"ports": 500, "ratio": 0.25, "proto": "tcp"}),
        Finding.make(detector="network.bruteforce", detector_version="1", title=f"SSH brute force from {host}",
                     start=T0 + 300, end=T0 + 900, entity=host, score=0.8, attack=["T1110.001"],
                     evidence=[f"E{i}" for i in range(150)]),
        Finding.make(detector="network.dos", detector_version="1", title="SYN flood", start=T0 + 50, end=T0 + 70,
                     entity="10.0.0.9", score=0.95, attack=["T1498.001"], related={"sources": ["1.2.3.4", "5.6.7.8"]}),
    ]
    for i in range(n_extra):
        base.append(Finding.make(detector="network.beacon", detector_version="1", title=f"Beacon {i}",
                                 start=T0 + i, end=T0 + i + 1, entity=f"10.1.{i // 250}.{i % 250}", score=0.3))
    return base


def _save(st: Store, findings: list[Finding], command: str = "scan") -> int:
    sid = st.begin_scan(["/data/a.pcap", "/data/logs"], command)
    st.add_findings(sid, findings)
    st.add_incidents(sid, group_incidents(findings))
    st.finish_scan(sid, {"records": 1234, "findings": len(findings), "rate": float("nan")})
    return sid


def test_findings_and_incidents_round_trip(tmp_path):
    fs = _findings()
    incs = group_incidents(fs)
    with Store(tmp_path / "s.duckdb") as st:
        sid = _save(st, fs)
        back = st.findings(sid)
        back_inc = st.incidents(sid)
    assert sorted(f.model_dump_json() for f in back) == sorted(f.model_dump_json() for f in fs)
    assert {f.id for f in back} == {f.id for f in fs}
    assert [i.model_dump() for i in back_inc] == [i.model_dump() for i in incs]  # rank order kept


def test_reopen_keeps_data_and_schema_version(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as st:
        _save(st, _findings())
    with Store(path) as st:
        assert len(st.findings()) == 3
        assert st.query("SELECT value FROM meta WHERE key = 'schema_version'")[1] == [(str(SCHEMA_VERSION),)]
        scans = st.scans()
    assert len(scans) == 1 and scans[0]["command"] == "scan"
    assert scans[0]["paths"] == ["/data/a.pcap", "/data/logs"]
    assert scans[0]["finished"] is not None
    assert scans[0]["summary"]["records"] == 1234 and scans[0]["summary"]["rate"] == "nan"


def test_second_scan_appends_even_with_the_same_findings(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as st:
        first = _save(st, _findings())
    with Store(path) as st:
        second = _save(st, _findings() + _findings("10.0.0.6"))
        assert (first, second) == (1, 2)
        assert len(st.findings(first)) == 3 and len(st.findings(second)) == 5
        assert len(st.findings()) == 8
        assert [s["scan_id"] for s in st.scans()] == [1, 2]
        # adding the same findings to the same scan again is a no-op
        assert st.add_findings(second, _findings()) == 0
        assert len(st.findings(second)) == 5


def test_sql_hunting_over_joined_tables_lists_and_json(tmp_path):
    with Store(tmp_path / "s.duckdb") as st:
        _save(st, _findings())
        cols, rows = st.query(
            """SELECT i.rank, i.entity, count(*) AS n, max(f.evidence_count) AS ev
               FROM incidents i JOIN incident_findings l ON l.scan_id = i.scan_id AND l.incident_id = i.id
               JOIN findings f ON f.scan_id = l.scan_id AND f.id = l.finding_id
               GROUP BY ALL ORDER BY i.rank""")
        assert cols == ["rank", "entity", "n", "ev"]
        assert rows == [(1, "10.0.0.9", 1, 0), (2, "10.0.0.5", 2, 150)]
        _, rows = st.query("SELECT related->>'$.destinations[0]', attributes->>'$.ports' FROM findings "
                           "WHERE detector = 'network.portscan'")
        assert rows == [("10.0.0.9", "500")]
        _, rows = st.query("SELECT unnest(attack) AS t FROM findings ORDER BY t")
        assert [r[0] for r in rows] == ["T1046", "T1110.001", "T1498.001"]
        _, rows = st.query("SELECT entity FROM findings WHERE start_time >= TIMESTAMP '2023-11-14 22:18:00'")
        assert rows == [("10.0.0.5",)]  # only the brute force starts 300 s after T0 (22:13:20 UTC)
        assert st.query("SELECT 1 WHERE false") == (["1"], [])


@pytest.mark.parametrize("sql", ["DELETE FROM findings", "DROP TABLE scans", "INSERT INTO meta VALUES ('a', 'b')",
                                 "SELECT 1; DROP TABLE findings", "ATTACH 'other.duckdb'"])
def test_query_is_read_only(tmp_path, sql):
    with Store(tmp_path / "s.duckdb") as st:
        _save(st, _findings())
        with pytest.raises(ThreatMLError, match="read-only"):
            st.query(sql)
        assert len(st.findings()) == 3


def test_bad_sql_is_a_clear_error(tmp_path):
    with Store(tmp_path / "s.duckdb") as st:
        with pytest.raises(ThreatMLError, match="SQL error.*no_such_table"):
            st.query("SELECT * FROM no_such_table")
        with pytest.raises(ThreatMLError, match="SQL error"):
            st.query("SELEC oops")


def test_corrupt_file_names_the_file(tmp_path):
    bad = tmp_path / "notastore.duckdb"
    bad.write_bytes(b"this is not a database\n" * 500)
    with pytest.raises(ThreatMLError, match="notastore.duckdb"):
        Store(bad)
    assert bad.read_bytes().startswith(b"this is not")  # left untouched


def test_foreign_duckdb_and_newer_schema_are_refused(tmp_path):
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(ThreatMLError, match="not a ThreatML store"):
        Store(other)

    newer = tmp_path / "newer.duckdb"
    Store(newer).close()
    con = duckdb.connect(str(newer))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(ThreatMLError, match="newer"):
        Store(newer)


def test_read_only_open_and_empty_placeholder(tmp_path):
    with pytest.raises(ThreatMLError, match="no store"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    empty = tmp_path / "sub" / "empty.duckdb"
    empty.parent.mkdir()
    empty.touch()
    with Store(empty) as st:  # a 0-byte file holds nothing: it becomes a store
        _save(st, _findings())
    with Store(empty, read_only=True) as st:
        assert len(st.findings()) == 3


def test_batch_of_thousands_and_odd_values(tmp_path):
    fs = _findings(n_extra=3000)
    odd = Finding.make(detector="x", detector_version="1", title="odd ' \" ; -- é 😀", start=float("nan"),
                       end=T0, entity="h'); DROP TABLE findings; --", score=0.5,
                       attributes={"inf": float("inf"), "nan": float("nan")})
    with Store(tmp_path / "s.duckdb") as st:
        sid = st.begin_scan([], "scan")
        assert st.add_findings(sid, fs + [odd]) == len(fs) + 1
        back = {f.id: f for f in st.findings(sid)}
        _, rows = st.query("SELECT start_time, start_epoch FROM findings WHERE detector = 'x'")
    got = back[odd.id]
    assert got.title == odd.title and got.entity == odd.entity and math.isnan(got.start)
    assert got.attributes == {"inf": "inf", "nan": "nan"}  # JSON has no NaN/inf: kept as names
    assert rows[0][0] is None and rows[0][1] is None
    assert len(back) == len(fs) + 1
