"""One self-contained HTML report: charts, ranked incidents and the scan summary.

The file works offline and from a mail attachment: plotly.js is inlined from
the installed plotly package, there is no CDN, web font or other network
reference, and chart data is embedded as JSON. Everything that comes from
the data is escaped (jinja2 autoescape for HTML; JSON blocks escape ``<``,
``>`` and ``&``), so a hostile hostname or rule name cannot inject markup or
script.

Charts are aggregated in Python (bins, top-N), so the file size depends on
the number of incidents shown (at most :data:`MAX_INCIDENTS`), not on the
number of findings.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from threatml import __version__
from threatml.findings.incidents import Incident, duration_text, utc_text
from threatml.findings.schema import SEVERITY_RANK, Finding
from threatml.findings.attack import technique

#: incidents listed in the report (the store and JSON exports keep all of them)
MAX_INCIDENTS = 500
#: findings shown inside one incident, and evidence ids shown per finding
MAX_FINDINGS_PER_INCIDENT = 20
MAX_EVIDENCE_SHOWN = 20
TOP_ENTITIES = 15

SEVERITY_COLOR = {
    "critical": "#b42318",
    "high": "#e8590c",
    "medium": "#d4a20b",
    "low": "#1c7ed6",
    "info": "#868e96",
}
_PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#0c8599", "#c92a2a", "#5c940d", "#d9480f", "#1864ab",
            "#862e9c", "#087f5b", "#e67700"]
_NICE_BINS = [1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]
_TEMPLATES = Path(__file__).parent / "templates"


def write_html_report(path: str | Path, incidents: list[Incident], findings: list[Finding], summary: dict) -> Path:
    """Write the report to ``path`` (parent folders are created); returns the path."""
    from plotly.offline import get_plotlyjs

    path = Path(path)
    env = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("report.html.j2").render(
        plotly_js=Markup(get_plotlyjs()),
        charts=_charts(findings),
        incidents=_incident_rows(incidents, {f.id: f for f in findings}),
        incidents_total=len(incidents),
        max_incidents=MAX_INCIDENTS,
        overview=_overview(incidents, findings, summary),
        scan=_scan_tables(summary),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        version=__version__,
        severity_color=SEVERITY_COLOR,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


# --- charts ------------------------------------------------------------------


def script_json(obj: Any) -> Markup:
    """JSON safe to place inside ``<script type="application/json">``.

    >>> str(script_json({"x": "</script><b>"}))
    '{"x": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def _label(s: str) -> str:
    """Chart labels: plotly renders a few HTML-like tags in text, so angle brackets are swapped out."""
    return s.replace("<", "‹").replace(">", "›")


def _count_axis(peak: int) -> dict:
    """Axis settings for a count: whole-number ticks even when the counts are small."""
    return dict(rangemode="tozero", tickformat=",d", **({"dtick": 1} if peak <= 10 else {}))


def _layout(fig: go.Figure, **kw: Any) -> go.Figure:
    kw.setdefault("height", 300)
    fig.update_layout(
        template="plotly_white",
        margin=dict(l=50, r=20, t=34, b=40),
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif", size=12,
                  color="#343a40"),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
        **kw,
    )
    return fig


def _bin_width(span: float) -> int:
    for w in _NICE_BINS:
        if span / w <= 60:
            return w
    return int(math.ceil(span / 60 / 86400)) * 86400


def timeline_figure(findings: list[Finding]) -> go.Figure:
    """Stacked bars: findings started per time bin, one colour per detector."""
    fig = go.Figure()
    t = np.array([f.start for f in findings], dtype=float)
    ok = np.isfinite(t)
    if ok.any():
        t0, t1 = float(t[ok].min()), float(t[ok].max())
        w = _bin_width(max(t1 - t0, 1.0))
        origin = math.floor(t0 / w) * w
        nbins = int((t1 - origin) // w) + 1
        centers = [datetime.fromtimestamp(origin + (i + 0.5) * w, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                   for i in range(nbins)]
        det = np.array([f.detector for f in findings], dtype=object)
        for k, name in enumerate(sorted(set(det[ok]))):
            sel = ok & (det == name)
            counts = np.bincount(((t[sel] - origin) // w).astype(np.int64), minlength=nbins)
            fig.add_trace(go.Bar(x=centers, y=counts.tolist(), name=_label(name), width=w * 1000 * 0.9,
                                 marker_color=_PALETTE[k % len(_PALETTE)]))
        peak = int(sum(np.asarray(tr.y) for tr in fig.data).max()) if fig.data else 0
        fig.update_layout(barmode="stack", xaxis_title=f"time (UTC), bins of {duration_text(w)}",
                          yaxis_title="findings", yaxis=_count_axis(peak))
    return _layout(fig)


def top_entities_figure(findings: list[Finding], n: int = TOP_ENTITIES) -> go.Figure:
    """Horizontal bars: the entities with the most findings, coloured by their worst severity."""
    counts = Counter(f.entity for f in findings)
    worst: dict[str, str] = {}
    for f in findings:
        if f.entity not in worst or SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst[f.entity]]:
            worst[f.entity] = f.severity
    top = counts.most_common(n)[::-1]  # largest at the top of a horizontal bar chart
    fig = go.Figure(go.Bar(
        x=[c for _, c in top], y=[_label(e) for e, _ in top], orientation="h",
        marker_color=[SEVERITY_COLOR[worst[e]] for e, _ in top],
        customdata=[worst[e] for e, _ in top],
        hovertemplate="%{y}: %{x} findings (worst: %{customdata})<extra></extra>",
    ))
    return _layout(fig, xaxis_title="findings", height=max(300, 22 * len(top) + 60),
                   xaxis=_count_axis(max((c for _, c in top), default=0)))


def score_figure(findings: list[Finding]) -> go.Figure:
    """Histogram of finding scores in 20 bins over [0, 1]."""
    scores = np.array([f.score for f in findings], dtype=float)
    counts, edges = np.histogram(scores, bins=20, range=(0.0, 1.0))
    mids = ((edges[:-1] + edges[1:]) / 2).round(3).tolist()
    colors = [SEVERITY_COLOR[s] for s in _severity_of(mids)]
    fig = go.Figure(go.Bar(x=mids, y=counts.tolist(), width=0.045, marker_color=colors,
                           hovertemplate="score %{x:.3f}: %{y} findings<extra></extra>"))
    return _layout(fig, xaxis_title="score", yaxis_title="findings", xaxis_range=[0, 1],
                   yaxis=_count_axis(int(counts.max()) if len(counts) else 0))


def detector_figure(findings: list[Finding]) -> go.Figure:
    """Bars: findings per detector."""
    counts = Counter(f.detector for f in findings).most_common()
    fig = go.Figure(go.Bar(x=[_label(d) for d, _ in counts], y=[c for _, c in counts],
                           marker_color=[_PALETTE[i % len(_PALETTE)] for i in range(len(counts))]))
    return _layout(fig, yaxis_title="findings", yaxis=_count_axis(max((c for _, c in counts), default=0)))


def _severity_of(scores: list[float]) -> list[str]:
    from threatml.findings.schema import severity_from_score

    return [severity_from_score(s) for s in scores]


def _charts(findings: list[Finding]) -> list[dict]:
    specs = [
        ("chart-timeline", "Findings over time, by detector", timeline_figure, "wide"),
        ("chart-entities", "Top entities", top_entities_figure, ""),
        ("chart-detectors", "Findings per detector", detector_figure, ""),
        ("chart-scores", "Score distribution of findings", score_figure, ""),
    ]
    out = []
    for div, title, build, cls in specs:
        fig = build(findings) if findings else _layout(go.Figure())
        out.append({"div": div, "title": title, "json": script_json(fig.to_json()), "cls": cls,
                    "empty": not findings})
    return out


# --- incidents, overview, scan tables -----------------------------------------


def _incident_rows(incidents: list[Incident], by_id: dict[str, Finding]) -> list[dict]:
    rows = []
    for rank, inc in enumerate(incidents[:MAX_INCIDENTS], 1):
        members = [by_id[i] for i in inc.finding_ids if i in by_id]
        members.sort(key=lambda f: -f.score)
        shown = []
        for f in members[:MAX_FINDINGS_PER_INCIDENT]:
            total = max(f.evidence_count, len(f.evidence))
            shown.append({
                "detector": f.detector,
                "version": f.detector_version,
                "title": f.title,
                "score": f"{f.score:.2f}",
                "severity": f.severity,
                "when": f"{utc_text(f.start, '?')} +{duration_text(f.end - f.start)}",
                "explanation": f.explanation,
                "evidence": f.evidence[:MAX_EVIDENCE_SHOWN],
                "evidence_more": total - min(len(f.evidence), MAX_EVIDENCE_SHOWN),
                "related": [(k, v[:20], len(v) - 20) for k, v in f.related.items() if v],
                "files": f.source_files[:5],
                "id": f.id,
            })
        techniques = []
        for tid in inc.attack:
            t = technique(tid)
            techniques.append({"id": tid, "name": t.name or "", "tactic": t.tactic_name or ""})
        rows.append({
            "rank": rank,
            "id": inc.id,
            "severity": inc.severity,
            "score": f"{inc.score:.2f}",
            "score_pct": round(inc.score * 100),
            "entity": inc.entity,
            "entity_type": inc.entity_type,
            "title": inc.title,
            "detectors": inc.detectors,
            "attack": techniques,
            "start": utc_text(inc.start, "?"),
            "span": duration_text(inc.end - inc.start),
            "n_findings": len(inc.finding_ids),
            "summary": inc.summary,
            "findings": shown,
            "findings_more": len(members) - len(shown),
            "missing": len(inc.finding_ids) - len(members),
        })
    return rows


def _overview(incidents: list[Incident], findings: list[Finding], summary: dict) -> dict:
    sev = Counter(i.severity for i in incidents)
    t = [f.start for f in findings if math.isfinite(f.start)] + [f.end for f in findings if math.isfinite(f.end)]
    return {
        "incidents": len(incidents),
        "findings": len(findings),
        "records": int(summary.get("records", 0) or 0),
        "files": int(summary.get("files_read", len(summary.get("formats") or {})) or 0),
        "skipped": sum(int(s.get("count", 0)) for s in summary.get("skipped") or []),
        "errors": len(summary.get("errors") or []),
        "elapsed": summary.get("elapsed_s"),
        "rate": summary.get("records_per_s"),
        "severity": [(s, sev.get(s, 0)) for s in ("critical", "high", "medium", "low", "info")],
        "first": utc_text(min(t), "?") if t else None,
        "last": utc_text(max(t), "?") if t else None,
        "scan_id": summary.get("scan_id"),
        "store": summary.get("store"),
    }


def _scan_tables(summary: dict) -> dict:
    formats = Counter((summary.get("formats") or {}).values())
    skipped = sorted(summary.get("skipped") or [], key=lambda s: -int(s.get("count", 0)))
    by_file: dict[str, str] = summary.get("formats") or {}
    return {
        "formats": sorted(formats.items(), key=lambda kv: -kv[1]),
        "kinds": list((summary.get("events_by_kind") or {}).items()),
        "detectors": list((summary.get("findings_by_detector") or {}).items()),
        "skipped": skipped[:100],
        "skipped_more": max(0, len(skipped) - 100),
        "errors": (summary.get("errors") or [])[:100],
        "errors_more": max(0, len(summary.get("errors") or []) - 100),
        "files": sorted(by_file.items())[:200],
        "files_more": max(0, len(by_file) - 200),
    }
