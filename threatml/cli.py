"""The ``threatml`` command line: scan, demo, train, evaluate, models, hunt.

Each command is a thin layer over the library: argument parsing and printing
here, the work in ``threatml.pipeline`` and friends. Errors that come from the
user's input (``ThreatMLError``) print one clear line and exit 2.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from threatml import __version__
from threatml.errors import ThreatMLError

if TYPE_CHECKING:
    from threatml.detectors.registry import ScanOptions

app = typer.Typer(
    name="threatml",
    help="Machine-learning threat detection over pcaps, Zeek/Suricata logs and flow records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train a model and write it as a model folder with its card.", no_args_is_help=True)
evaluate_app = typer.Typer(help="Measure a model on labeled data (metrics as JSON).", no_args_is_help=True)
models_app = typer.Typer(help="List and inspect model folders (shipped and your own).", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(models_app, name="models")

console = Console(stderr=True)
out_console = Console()


class OutFormat(str, Enum):
    ecs = "ecs"
    ocsf = "ocsf"


class PcapEngine(str, Enum):
    auto = "auto"
    fast = "fast"
    nfstream = "nfstream"


class FeatureSet(str, Enum):
    auto = "auto"
    canonical = "canonical"
    native = "native"


class Split(str, Enum):
    random = "random"
    time = "time"


StoreOpt = Annotated[Path, typer.Option("--store", help="DuckDB file for findings, incidents and scan metadata.")]


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[records]:>12,} events"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@contextmanager
def _busy(description: str):
    """A pulsing bar with elapsed time for work whose length is not known in advance."""
    with Progress(SpinnerColumn(), TextColumn("[bold blue]{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as prog:
        prog.add_task(description, total=None)
        yield


def run_scan(
    paths: list[str],
    *,
    store: Path | None,
    out: Path | None,
    fmt: OutFormat,
    report: Path | None,
    model: str | None,
    baseline: str | None,
    use_model: bool,
    pcap_engine: PcapEngine,
    limit: int,
    command: str,
    options: "ScanOptions | None" = None,
    budget: Path | None = None,
):
    """Scan ``paths`` and write every output; returns (result, incidents)."""
    from threatml.detectors.registry import ScanOptions, default_detectors
    from threatml.findings.incidents import group_incidents
    from threatml.output.terminal import print_incidents, print_summary
    from threatml.pipeline.scan import Scanner, require_paths, total_bytes

    require_paths(paths)
    readers = {}
    if pcap_engine != PcapEngine.auto:
        from threatml.readers.pcap import PcapReader

        readers["pcap"] = PcapReader(engine=pcap_engine.value)
    opts = options or ScanOptions()
    opts.model, opts.baseline, opts.use_model, opts.store = model, baseline, use_model, store
    try:
        detectors = default_detectors(opts)
    except ValueError as exc:  # e.g. a malformed --internal-net
        raise ThreatMLError(str(exc)) from None
    scanner = Scanner(detectors, readers=readers)
    scanner.report.merge(opts.load_report)  # what feeds and rule files skipped shows in the scan summary
    total = max(total_bytes(paths), 1)
    with _progress() as prog:
        task = prog.add_task("scanning", total=total, records=0)

        def tick(done: int, records: int, current: str) -> None:
            prog.update(task, completed=done, records=records, description=f"scanning {Path(current).name}")

        result = scanner.scan(paths, progress=tick)
    filtered = _triage_filters(result, store, budget)
    incidents = group_incidents(result.findings)
    summary = result.summary()
    summary.update(filtered)
    summary["incidents"] = len(incidents)

    if store is not None:
        from threatml.store import Store

        st = Store(store)
        scan_id = st.begin_scan([str(p) for p in paths], command)
        st.add_findings(scan_id, result.findings)
        st.add_incidents(scan_id, incidents)
        from threatml.triage.hunts import run_saved

        hunts = run_saved(st, scan_id)
        if hunts:
            summary["hunts"] = {h.name: (f"error: {h.error}" if h.error else len(h.rows)) for h in hunts}
        st.finish_scan(scan_id, summary)
        st.close()
        summary["store"] = str(store)
        summary["scan_id"] = scan_id
    if out is not None:
        _write_findings(result.findings, out, fmt)
    if report is not None:
        from threatml.output.html_report import write_html_report

        write_html_report(report, incidents, result.findings, summary)

    by_id = {f.id: f for f in result.findings}
    # with --out - stdout carries the JSON lines alone, so a SIEM pipe stays clean
    show = console if out is not None and str(out) == "-" else out_console
    print_incidents(show, incidents, by_id, limit=limit)
    print_summary(show, summary)
    if out is not None and str(out) != "-":
        show.print(f"Findings ({fmt.value.upper()} JSON lines): {out}")
    if report is not None:
        show.print(f"HTML report: {report}")
    if store is not None:
        show.print(f"Store: {store} (scan {summary['scan_id']}); query it with `threatml hunt --store {store} \"SQL\"`")
    return result, incidents


def _triage_filters(result, store: Path | None, budget: Path | None) -> dict:
    """Drop findings that analysts suppressed (rules in the store) or that fall under
    the alert budget; returns what was dropped, for the summary."""
    from threatml.triage import budget as alert_budget
    from threatml.triage import suppress

    out: dict = {}
    if store is not None and store.exists():
        from threatml.store import Store

        with Store(store) as st:
            rules = suppress.active(st)
        result.findings, hits = suppress.apply(result.findings, rules)
        if hits:
            out["suppressed"] = sum(hits.values())
            out["suppressed_by_rule"] = {str(k): v for k, v in sorted(hits.items())}
    if budget is not None:
        result.findings, dropped = alert_budget.apply(result.findings, alert_budget.load(budget))
        if dropped:
            out["below_budget"] = dict(sorted(dropped.items()))
    if out:
        counts: dict[str, int] = {}
        for f in result.findings:
            counts[f.detector] = counts.get(f.detector, 0) + 1
        result.detector_counts = counts
    return out


def print_metrics(metrics: dict, title: str, as_json: bool, extra_rows: list[tuple[str, str]] = ()) -> None:
    """Every domain's ``evaluate`` output: the metrics as JSON, or their numbers (and ``extra_rows``) as a table."""
    if as_json:
        print(json.dumps(metrics, indent=2, default=str))
        return
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else f"{v:,}")
    for k, v in extra_rows:
        table.add_row(k, v)
    out_console.print(table)


def _write_findings(findings, out: Path, fmt: OutFormat) -> None:
    from threatml.output.ecs import write_ecs
    from threatml.output.ocsf import write_ocsf

    writer = write_ecs if fmt == OutFormat.ecs else write_ocsf
    if str(out) == "-":
        writer(findings, sys.stdout)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        writer(findings, fh)


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(help="Files or folders; formats are detected from content.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write findings as JSON lines here ('-' for stdout).")] = None,
    fmt: Annotated[OutFormat, typer.Option("--format", "-f", help="JSON flavour for --out.")] = OutFormat.ecs,
    store: StoreOpt = Path("threatml.duckdb"),
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not write the DuckDB store.")] = False,
    report: Annotated[Path, typer.Option("--report", help="Self-contained HTML report path.")] = Path("threatml-report.html"),
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write the HTML report.")] = False,
    model: Annotated[Optional[str], typer.Option("--model", help="Flow model folder or name (default: the shipped model).")] = None,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Unsupervised baseline model of this network (from `train network --unsupervised`).")] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="Behavioural and signature detectors only.")] = False,
    pcap_engine: Annotated[PcapEngine, typer.Option("--pcap-engine", help="fast (vectorised) or nfstream (nDPI application names).")] = PcapEngine.auto,
    limit: Annotated[int, typer.Option("--limit", help="Incidents to show in the terminal.")] = 20,
    internal_net: Annotated[Optional[list[str]], typer.Option("--internal-net", help="CIDR of your own network besides the private ranges (repeatable), e.g. 198.51.100.0/24.")] = None,
    intel: Annotated[Optional[list[str]], typer.Option("--intel", help="Indicator feed file, folder (MISP feed folders too) or TAXII 2.1 collection URL taxii+https://HOST/API-ROOT/collections/ID/ (credentials from THREATML_TAXII_USER / THREATML_TAXII_PASSWORD); repeatable. Plain lists, CSV (abuse.ch), IPsum, STIX 2.1, MISP.")] = None,
    yara: Annotated[Optional[list[str]], typer.Option("--yara", help="YARA rule file or folder (repeatable), applied to scanned files.")] = None,
    sigma: Annotated[Optional[list[str]], typer.Option("--sigma", help="Sigma rule file or folder (repeatable), applied to auth, process and log events.")] = None,
    protected_domain: Annotated[Optional[list[str]], typer.Option("--protected-domain", help="Your own mail/web domain (repeatable); lookalikes of it are flagged.")] = None,
    session_regex: Annotated[Optional[str], typer.Option("--session-regex", help="Regex whose first group keys text-log sessions, e.g. '(blk_-?\\d+)'.")] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Time window for text-log anomaly counts, e.g. 5m, 1h.")] = None,
    log_model: Annotated[Optional[str], typer.Option("--log-model", help="Log model folder or name from `threatml train log`.")] = None,
    budget: Annotated[Optional[Path], typer.Option("--budget", help="Alert budget file from `threatml budget`: per-detector score thresholds.")] = None,
) -> None:
    """Scan network captures and logs, mail, files, auth and system logs; rank, explain and store incidents."""
    from threatml.detectors.registry import ScanOptions

    run_scan(
        paths,
        store=None if no_store else store,
        out=out,
        fmt=fmt,
        report=None if no_report else report,
        model=model,
        baseline=baseline,
        use_model=not no_model,
        pcap_engine=pcap_engine,
        limit=limit,
        command="scan",
        budget=budget,
        options=ScanOptions(
            internal_networks=tuple(internal_net or ()),
            intel=tuple(intel or ()),
            yara=tuple(yara or ()),
            sigma=tuple(sigma or ()),
            protected_domains=tuple(protected_domain or ()),
            session_regex=session_regex,
            window=window,
            log_model=log_model,
        ),
    )


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--dir", help="Where the synthetic network's logs are written.")] = Path("threatml-demo"),
    hours: Annotated[float, typer.Option(help="Hours of traffic to simulate.")] = 6.0,
    hosts: Annotated[int, typer.Option(help="Number of internal hosts.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same network).")] = 7,
    store: StoreOpt = Path("threatml-demo/threatml.duckdb"),
    report: Annotated[Path, typer.Option("--report", help="HTML report path.")] = Path("threatml-demo/report.html"),
) -> None:
    """Simulate a small office (network, mail, SSH jump host) with injected attacks, scan it and show what was found."""
    from threatml.demo.ground_truth import match_ground_truth
    from threatml.demo.network import PUBLIC_DOMAIN, generate
    from threatml.demo.story import add_story
    from threatml.detectors.registry import ScanOptions

    with _busy("generating a synthetic network"):
        scenario = generate(out_dir, hours=hours, hosts=hosts, seed=seed)
        story_paths, _ = add_story(scenario, seed=seed)
    out_console.print(
        f"Simulated {hours:g} h of traffic from {hosts} hosts, a mail folder and an SSH jump host's auth.log, "
        f"with {len(scenario.attacks)} injected attacks, in {out_dir}/"
    )
    if store.exists():
        store.unlink()  # the demo store describes this run only
    _, incidents = run_scan(
        [str(p) for p in scenario.log_paths + story_paths],
        store=store,
        out=None,
        fmt=OutFormat.ecs,
        report=report,
        model=None,
        baseline=None,
        use_model=True,
        pcap_engine=PcapEngine.auto,
        limit=20,
        command="demo",
        options=ScanOptions(protected_domains=(PUBLIC_DOMAIN,)),
    )
    found = match_ground_truth(scenario, incidents)
    table = Table(title="Injected attacks")
    for col in ("attack", "attacker", "victim", "found in incident"):
        table.add_column(col)
    for attack, incident in found:
        table.add_row(attack.kind, attack.attacker, attack.victim, incident.title if incident else "[red]missed[/red]")
    out_console.print(table)
    hit = sum(1 for _, inc in found if inc is not None)
    out_console.print(f"{hit}/{len(found)} injected attacks found; {len(incidents)} incidents in total.")


@train_app.command("network")
def train_network_cmd(
    data: Annotated[list[str], typer.Option("--data", help="Labeled file or folder, or LABEL=PATH to label all of it. Repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    label_column: Annotated[Optional[str], typer.Option("--label-column", help="Label column for generic CSV files.")] = None,
    features: Annotated[FeatureSet, typer.Option(help="canonical flow features, or the data set's native columns.")] = FeatureSet.auto,
    split: Annotated[Split, typer.Option(help="Held-out split for the card's metrics and threshold (random or time-ordered) when leave-one-source-out is not possible: canonical models from two or more --data sources are measured on each source held out in turn.")] = Split.random,
    unsupervised: Annotated[bool, typer.Option("--unsupervised", help="Learn this network's normal without labels (baseline).")] = False,
    binary: Annotated[bool, typer.Option("--binary", help="Benign/attack only, no attack-family classes.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a network flow model (supervised LightGBM, or an unsupervised baseline)."""
    from threatml.pipeline.train import train_network

    with _busy("reading data and training"):
        card = train_network(
            data,
            out,
            label_column=label_column,
            features=features.value,
            multiclass=not binary,
            unsupervised=unsupervised,
            split=split.value,
            seed=seed,
        )
    out_console.print(f"Wrote model {card.name}@{card.version} to {out}")
    if card.metrics:
        out_console.print_json(json.dumps(card.metrics, default=str))


@evaluate_app.command("network")
def evaluate_network_cmd(
    data: Annotated[list[str], typer.Option("--data", help="Labeled file or folder, or LABEL=PATH. Repeatable.")],
    model: Annotated[str, typer.Option("--model", help="Model folder or name.")] = "network-flow",
    label_column: Annotated[Optional[str], typer.Option("--label-column", help="Label column for generic CSV files.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Evaluate a network model: ROC-AUC, detection rate at 1% and 0.1% FPR, per-class results."""
    from threatml.pipeline.evaluate import evaluate_network

    with _busy("reading data and evaluating"):
        metrics = evaluate_network(model, data, label_column=label_column)
    print_metrics(metrics, f"Evaluation of {model}", as_json)


@models_app.command("list")
def models_list() -> None:
    """Every model folder found (shipped defaults and THREATML_MODELS paths)."""
    from threatml.models.registry import list_models

    table = Table(title="Models")
    for col in ("name", "version", "domain", "kind", "created", "folder"):
        table.add_column(col)
    for folder, card in list_models():
        table.add_row(card.name, card.version, card.domain, card.kind, card.created, str(folder))
    out_console.print(table)


@models_app.command("show")
def models_show(ref: Annotated[str, typer.Argument(help="Model folder, name or name@version.")]) -> None:
    """Print a model's card (data and hashes, features, parameters, metrics)."""
    from threatml.models.card import read_card
    from threatml.models.registry import resolve

    folder = resolve(ref)
    card = read_card(folder)  # verifies artifact hashes too
    out_console.print(f"[bold]{card.name}@{card.version}[/bold] in {folder} (artifact hashes verified)")
    out_console.print_json(card.model_dump_json())


@app.command()
def hunt(
    sql: Annotated[Optional[str], typer.Argument(help="SQL over the store's tables: scans, findings, incidents, incident_findings, feedback, suppressions, hunts, hunt_results.")] = None,
    store: StoreOpt = Path("threatml.duckdb"),
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    save: Annotated[Optional[str], typer.Option("--save", help="Save the SQL as a hunt with this name; it runs after every scan ($scan_id = that scan).")] = None,
    description: Annotated[str, typer.Option("--description", help="What a saved hunt looks for.")] = "",
    list_saved: Annotated[bool, typer.Option("--list", help="List the saved hunts.")] = False,
    delete: Annotated[Optional[str], typer.Option("--delete", help="Delete the saved hunt with this name.")] = None,
) -> None:
    """Query the embedded store with SQL; save hunts that run with every scan."""
    from threatml.store import Store
    from threatml.triage import hunts

    if not store.exists():
        raise ThreatMLError(f"{store}: no store here yet (run `threatml scan` first or pass --store)")
    if list_saved or delete:
        with Store(store) as st:
            if delete:
                hunts.delete(st, delete)
                out_console.print(f"Deleted hunt {delete!r}")
                return
            _print_rows(["name", "sql", "description"], hunts.saved(st), as_json)
        return
    if not sql:
        raise ThreatMLError("give the SQL to run (or --list / --delete NAME)")
    if save:
        with Store(store) as st:
            hunts.save(st, save, sql, description)
        out_console.print(f"Saved hunt {save!r}; it runs after every scan that writes {store}")
        return
    st = Store(store, read_only=True)
    try:
        cols, rows = st.query(sql)
    finally:
        st.close()
    _print_rows(cols, rows, as_json)


def _print_rows(cols: list[str], rows: list[tuple], as_json: bool) -> None:
    if as_json:
        for r in rows:
            print(json.dumps(dict(zip(cols, r)), default=str))
        return
    table = Table()
    for c in cols:
        table.add_column(str(c))
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r))
    out_console.print(table)


@app.command()
def version() -> None:
    """Print the ThreatML version."""
    out_console.print(f"threatml {__version__}")


def _load_domain_commands() -> None:
    import importlib

    from threatml.commands import MODULES

    for name in MODULES:
        importlib.import_module(f"threatml.commands.{name}")


_load_domain_commands()


def main() -> None:
    try:
        app()
    except ThreatMLError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug of ours, not the user's input: one line unless asked
        if os.environ.get("THREATML_DEBUG"):
            raise
        console.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} (set THREATML_DEBUG=1 for the traceback)", highlight=False)
        sys.exit(70)


if __name__ == "__main__":
    # domain commands register on the imported module's apps, not on this __main__ copy
    import threatml.cli as _cli

    _cli.main()
