"""IDS alerts fold into findings: per source and rule, and many low-severity sources per target."""

import pandas as pd

from threatml.detectors.network.signature_alerts import SignatureAlertDetector
from threatml.events import EventBatch


def alerts(rows):
    fr = pd.DataFrame(rows, columns=["@timestamp", "source.ip", "destination.ip", "rule.id", "rule.name", "event.severity"])
    fr["event.id"] = [f"a{i}" for i in range(len(fr))]
    return EventBatch.of("alert", fr)


def run(det, batch):
    return det.process(batch) + det.flush()


def test_repeats_of_one_rule_by_one_source_are_one_finding():
    rows = [(float(t), "1.2.3.4", "10.0.0.5", "2001", "ET SCAN x", 2) for t in range(0, 600, 10)]
    (f,) = run(SignatureAlertDetector(), alerts(rows))
    assert f.entity == "1.2.3.4" and f.evidence_count == 60 and f.attributes["alerts"] == 60


def test_alerts_further_apart_than_the_gap_are_separate_incidents():
    rows = [(0.0, "1.2.3.4", "10.0.0.5", "2001", "x", 1), (10_000.0, "1.2.3.4", "10.0.0.5", "2001", "x", 1)]
    found = run(SignatureAlertDetector(gap=3600), alerts(rows))
    assert len(found) == 2


def test_many_low_severity_sources_against_one_target_fold_into_one_finding():
    rows = [(float(i * 50), f"198.51.100.{i}", "10.0.0.5", str(2400000 + i % 7), f"ET CINS group {i % 7}", 2)
            for i in range(40)]
    (f,) = run(SignatureAlertDetector(), alerts(rows))
    assert f.entity == "10.0.0.5" and f.attributes["source_hosts"] == 40 and len(f.related["sources"]) == 40
    assert f.evidence_count == 40


def test_high_severity_alerts_and_few_sources_are_never_folded():
    low = [(float(i), f"198.51.100.{i}", "10.0.0.5", "2001", "x", 2) for i in range(5)]
    high = [(float(i), f"203.0.113.{i}", "10.0.0.5", "2002", "exploit", 1) for i in range(20)]
    found = run(SignatureAlertDetector(fold_sources=10), alerts(low + high))
    assert len(found) == 25 and {f.entity for f in found} == {r[1] for r in low + high}
