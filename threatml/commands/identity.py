"""`threatml` commands of the identity domain: ``train auth`` and ``evaluate auth``.

``threatml scan`` reads auth.log, journald, EVTX, Winlogbeat/OTRF JSON and LANL
files itself (readers + ``threatml.detectors.identity``); with ``--store`` the
per-user baselines are kept in the store between scans.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from threatml.cli import _busy, evaluate_app, out_console, train_app, print_metrics
from threatml.errors import ThreatMLError


def _epoch(text: str | None, opt: str) -> float | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ThreatMLError(f"{opt}: {text!r} is not an ISO date or date-time (e.g. 2017-03-30 or "
                            f"2017-03-30T12:00)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


@train_app.command("auth")
def train_auth_cmd(
    data: Annotated[list[str], typer.Option("--data", help="auth.log, journald JSON, EVTX, Winlogbeat/OTRF JSON or "
                                                            "LANL file or folder. Repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    since: Annotated[Optional[str], typer.Option("--since", help="Start of the training period (ISO, UTC).")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="End of the training period (ISO, UTC, exclusive).")] = None,
    store: Annotated[Optional[Path], typer.Option("--store", help="Also put the baselines into this store, so that "
                                                                  "`threatml scan --store` starts from them.")] = None,
) -> None:
    """Learn per-user logon baselines over a training period and write them as a model folder."""
    from threatml.identity.model import learn, save_model
    from threatml.pipeline.scan import require_paths

    require_paths(data)
    t0, t1 = _epoch(since, "--since"), _epoch(until, "--until")
    with _busy("reading authentication events and learning baselines"):
        b, stats = learn(data, since=t0, until=t1)
        card = save_model(out, b, data, stats, {"since": since, "until": until})
        if store is not None:
            from threatml.detectors.identity.common import IdentityState

            state = IdentityState(store=store)
            state.use(b)
            state.save()
    out_console.print(f"Wrote model {card.name}@{card.version} to {out}"
                      + (f" and its baselines into the store {store}" if store else ""))
    out_console.print_json(json.dumps(card.metrics, default=str))


@evaluate_app.command("auth")
def evaluate_auth_cmd(
    data: Annotated[list[str], typer.Option("--data", help="Files or folders to evaluate on. Repeatable.")],
    model: Annotated[Optional[Path], typer.Option("--model", help="Baseline model folder from `train auth` "
                                                                   "(default: learn online from the data).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")] = False,
) -> None:
    """Run the identity detectors with a baseline; metrics (common keys) where events carry labels."""
    from threatml.identity.model import evaluate
    from threatml.pipeline.scan import require_paths

    require_paths(data)
    with _busy("reading data and evaluating"):
        metrics = evaluate(model, data)
    rows = [(k, json.dumps(v) if isinstance(v, dict) else v) for k, v in metrics.items() if isinstance(v, (dict, str))]
    print_metrics(metrics, f"Evaluation of {model or 'online baselines'}", as_json, rows)
