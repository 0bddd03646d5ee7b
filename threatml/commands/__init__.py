"""Command modules per domain. Each registers its commands on the typer apps of
:mod:`threatml.cli` (``app``, ``train_app``, ``evaluate_app``) when imported."""

MODULES = ("email", "url", "files", "identity", "fraud", "logs", "intel", "triage", "sigma", "weblog")
