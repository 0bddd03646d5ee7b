"""`threatml triage`, `threatml budget` and `threatml risk`: work the findings in the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from threatml.cli import StoreOpt, app, out_console
from threatml.errors import ThreatMLError

triage_app = typer.Typer(help="Mark findings true/false positive, suppress what is noise, export labels.",
                         no_args_is_help=True)
app.add_typer(triage_app, name="triage")


def _open(store: Path):
    from threatml.store import Store

    if not store.exists():
        raise ThreatMLError(f"{store}: no store here yet (run `threatml scan` first or pass --store)")
    return Store(store)


@triage_app.command("list")
def triage_list(
    store: StoreOpt = Path("threatml.duckdb"),
    scan: Annotated[Optional[int], typer.Option("--scan", help="Only this scan (default: the latest).")] = None,
    untriaged: Annotated[bool, typer.Option("--untriaged", help="Only findings without a verdict.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show.")] = 50,
) -> None:
    """Findings of a scan with their verdicts, highest score first."""
    with _open(store) as st:
        scan_id = scan if scan is not None else st.con.execute("SELECT max(scan_id) FROM scans").fetchall()[0][0]
        rows = st.con.execute(
            f"""SELECT f.id, f.severity, round(f.score, 3), f.detector, f.entity, f.title, coalesce(fb.verdict, '')
                FROM findings f LEFT JOIN feedback fb ON fb.finding_id = f.id
                WHERE f.scan_id = ? {"AND fb.verdict IS NULL" if untriaged else ""}
                ORDER BY f.score DESC, f.id LIMIT ?""", [scan_id, limit]).fetchall()
    table = Table(title=f"Findings of scan {scan_id}")
    for c in ("id", "severity", "score", "detector", "entity", "title", "verdict"):
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(str(v) for v in r))
    out_console.print(table)


@triage_app.command("mark")
def triage_mark(
    finding: Annotated[list[str], typer.Argument(help="Finding id(s) or unique prefixes (6+ characters).")],
    verdict: Annotated[str, typer.Option("--verdict", "-v", help="tp (true positive), fp (false positive) or btp (benign true positive).")],
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why; kept with the label.")] = "",
    analyst: Annotated[str, typer.Option("--analyst", help="Who decided.")] = "",
    suppress: Annotated[bool, typer.Option("--suppress", help="Also stop alerting on this detector and entity (fp/btp).")] = False,
    days: Annotated[Optional[float], typer.Option("--days", help="Suppression lifetime in days (default: until removed).")] = None,
    store: StoreOpt = Path("threatml.duckdb"),
) -> None:
    """Record an analyst verdict on findings (optionally suppressing their detector + entity)."""
    from threatml.triage import feedback
    from threatml.triage import suppress as sup

    if suppress and verdict.lower() == "tp":
        raise ThreatMLError("--suppress is for fp and btp verdicts: a true positive should keep alerting")
    with _open(store) as st:
        for ref in finding:
            f = feedback.mark(st, ref, verdict, comment, analyst)
            out_console.print(f"{f['id']}: {feedback.VERDICTS[verdict.lower()]} ({f['detector']} on {f['entity']})")
            if suppress:
                rule = sup.add(st, detector=f["detector"], entity_type=f["entity_type"], entity=f["entity"],
                               reason=comment or f"marked {verdict.lower()}", days=days, from_finding=f["id"])
                out_console.print(f"  suppression rule {rule.id}: {f['detector']} on {f['entity']}")


@triage_app.command("suppress")
def triage_suppress(
    detector: Annotated[str, typer.Option("--detector", help="Detector name, e.g. network.beacon.")] = "",
    entity: Annotated[str, typer.Option("--entity", help="Entity (address, user, mailbox, hash).")] = "",
    entity_type: Annotated[str, typer.Option("--entity-type", help="host, user, mailbox, file, domain, url, ...")] = "",
    title: Annotated[str, typer.Option("--title", help="Title pattern with * and ?, case-insensitive.")] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why this is noise.")] = "",
    days: Annotated[Optional[float], typer.Option("--days", help="Lifetime in days (default: until removed).")] = None,
    store: StoreOpt = Path("threatml.duckdb"),
) -> None:
    """Add a suppression rule; later scans drop matching findings and count them."""
    from threatml.triage import suppress as sup

    with _open(store) as st:
        rule = sup.add(st, detector=detector, entity=entity, entity_type=entity_type, title_like=title,
                       reason=reason, days=days)
    out_console.print(f"Suppression rule {rule.id} added")


@triage_app.command("suppressions")
def triage_suppressions(store: StoreOpt = Path("threatml.duckdb")) -> None:
    """List active suppression rules and how many findings each dropped in past scans."""
    from threatml.triage import suppress as sup

    with _open(store) as st:
        rules = sup.active(st)
        fired: dict[str, int] = {}
        for (summary,) in st.con.execute("SELECT summary::VARCHAR FROM scans WHERE summary IS NOT NULL").fetchall():
            for k, v in (json.loads(summary).get("suppressed_by_rule") or {}).items():
                fired[k] = fired.get(k, 0) + int(v)
    table = Table(title="Suppression rules")
    for c in ("id", "detector", "entity_type", "entity", "title", "reason", "expires", "suppressed so far"):
        table.add_column(c, overflow="fold")
    for r in rules:
        table.add_row(str(r.id), r.detector, r.entity_type, r.entity, r.title_like, r.reason,
                      str(r.expires or "never"), str(fired.get(str(r.id), 0)))
    out_console.print(table)


@triage_app.command("unsuppress")
def triage_unsuppress(rule: Annotated[int, typer.Argument(help="Rule id from `triage suppressions`.")],
                      store: StoreOpt = Path("threatml.duckdb")) -> None:
    """Remove a suppression rule."""
    from threatml.triage import suppress as sup

    with _open(store) as st:
        sup.remove(st, rule)
    out_console.print(f"Suppression rule {rule} removed")


@triage_app.command("export")
def triage_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Labels file: .csv, or .jsonl for JSON lines.")],
    store: StoreOpt = Path("threatml.duckdb"),
) -> None:
    """Export every verdict with its finding as labels for retraining."""
    from threatml.triage import feedback

    with _open(store) as st:
        n = feedback.export_labels(st, out)
    out_console.print(f"{n} labeled findings written to {out}")


@app.command("budget")
def budget_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Budget file to write (JSON).")] = Path("threatml-budget.json"),
    alerts_per_day: Annotated[Optional[float], typer.Option("--alerts-per-day", help="Findings per detector and day to keep on the baseline scans.")] = None,
    max_fpr: Annotated[Optional[float], typer.Option("--max-fpr", help="Share of analyst-marked false positives allowed to alert (needs verdicts).")] = None,
    scan: Annotated[Optional[list[int]], typer.Option("--scan", help="Baseline scan id (repeatable; default: every scan).")] = None,
    store: StoreOpt = Path("threatml.duckdb"),
) -> None:
    """Learn per-detector thresholds from a baseline period; apply them with `scan --budget`."""
    from threatml.triage import budget

    if (alerts_per_day is None) == (max_fpr is None):
        raise ThreatMLError("give exactly one of --alerts-per-day or --max-fpr")
    with _open(store) as st:
        if alerts_per_day is not None:
            findings = [f for s in (scan or [None]) for f in st.findings(s)]
            thresholds = budget.fit_alerts_per_day(findings, alerts_per_day)
            how = {"alerts_per_day": alerts_per_day, "scans": scan or "all"}
        else:
            thresholds = budget.fit_max_fpr(st, max_fpr)
            how = {"max_fpr": max_fpr}
    budget.save(out, thresholds, how)
    table = Table(title=f"Alert budget ({out})")
    cols = sorted({k for v in thresholds.values() for k in v})
    table.add_column("detector")
    for c in cols:
        table.add_column(c)
    for det, v in thresholds.items():
        table.add_row(det, *(str(v.get(c, "")) for c in cols))
    out_console.print(table)


@app.command("risk")
def risk_cmd(
    store: StoreOpt = Path("threatml.duckdb"),
    half_life: Annotated[float, typer.Option("--half-life", help="Days after which a finding's risk has halved.")] = 7.0,
    top: Annotated[int, typer.Option("--top", help="Entities to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Entity risk over every scan in the store, decayed with age (risk-based alerting).

    Findings an analyst marked fp or btp add no risk."""
    from threatml.triage.feedback import verdicts
    from threatml.triage.risk import DAY, RISK_ALERT, entity_risk

    with _open(store) as st:
        dismissed = {fid for fid, v in verdicts(st).items() if v in ("fp", "btp")}
        risks = entity_risk([f for f in st.findings() if f.id not in dismissed], half_life=half_life * DAY)[:top]
    if as_json:
        for r in risks:
            print(json.dumps({"entity_type": r.entity_type, "entity": r.entity, "risk": round(r.risk, 2),
                              "alert": r.alert, "findings": r.findings, "detectors": r.detectors,
                              "last_seen": r.last_seen}))
        return
    table = Table(title=f"Entity risk (half-life {half_life:g} d; alert at {RISK_ALERT:g})")
    for c in ("entity", "type", "risk", "alert", "findings", "detectors"):
        table.add_column(c, overflow="fold")
    for r in risks:
        table.add_row(r.entity, r.entity_type, f"{r.risk:.1f}", "yes" if r.alert else "", str(r.findings),
                      ", ".join(r.detectors))
    out_console.print(table)


class ExportFormat(str, __import__("enum").Enum):
    stix = "stix"
    misp = "misp"


@app.command("export")
def export_cmd(
    fmt: Annotated[ExportFormat, typer.Argument(help="stix (STIX 2.1 bundle with indicators and sightings) or misp (MISP event JSON).")],
    incident: Annotated[Optional[list[str]], typer.Option("--incident", help="Incident id or unique prefix (repeatable).")] = None,
    confirmed: Annotated[bool, typer.Option("--confirmed", help="Every incident with a finding marked tp.")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: one JSON file per incident.")] = Path("threatml-export"),
    store: StoreOpt = Path("threatml.duckdb"),
) -> None:
    """Export incidents as threat intelligence: STIX 2.1 (indicators + sightings) or a MISP event."""
    from threatml.intel.export import to_misp_event, to_stix_bundle
    from threatml.triage.feedback import verdicts

    if not incident and not confirmed:
        raise ThreatMLError("name incidents with --incident ID, or export every --confirmed one")
    with _open(store) as st:
        rows = st.con.execute("SELECT scan_id, id FROM incidents ORDER BY scan_id DESC").fetchall()
        if confirmed:
            tps = {fid for fid, v in verdicts(st).items() if v == "tp"}
            linked = st.con.execute("SELECT scan_id, incident_id, finding_id FROM incident_findings").fetchall()
            chosen = list(dict.fromkeys((s, i) for s, i, f in linked if f in tps))
            chosen.sort(key=lambda x: -x[0])
            latest: dict[str, int] = {}
            for s, i in chosen:
                latest.setdefault(i, s)  # the newest scan's copy of each incident
            picks = [(s, i) for i, s in latest.items()]
        else:
            picks = []
            for ref in incident or []:
                hits = list(dict.fromkeys(i for _, i in rows if i.startswith(ref.strip().lower())))
                if len(hits) != 1:
                    raise ThreatMLError(f"incident {ref!r}: " + ("no such incident" if not hits else
                                                                 f"ambiguous ({', '.join(hits[:5])})"))
                picks.append(next((s, i) for s, i in rows if i == hits[0]))
        if not picks:
            raise ThreatMLError("no confirmed incidents: mark findings with `threatml triage mark ID -v tp` first")
        out.mkdir(parents=True, exist_ok=True)
        loaded: dict[int, tuple[dict, list]] = {}  # scan -> (incidents by id, findings): read each scan once
        for scan_id, inc_id in picks:
            if scan_id not in loaded:
                loaded[scan_id] = ({x.id: x for x in st.incidents(scan_id)}, st.findings(scan_id))
            incidents, scan_findings = loaded[scan_id]
            inc = incidents[inc_id]
            members = set(inc.finding_ids)
            findings = [f for f in scan_findings if f.id in members]
            doc = (to_stix_bundle if fmt == ExportFormat.stix else to_misp_event)(findings, inc.id, inc.title)
            path = out / f"incident-{inc.id}.{fmt.value}.json"
            path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            out_console.print(f"{path}: {inc.title} ({len(findings)} findings)")
