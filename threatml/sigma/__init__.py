"""Sigma rules: load (pySigma), compile (SQLite backend in DuckDB dialect), evaluate over our events."""

from threatml.sigma.ruleset import RuleSet, load_ruleset

__all__ = ["RuleSet", "load_ruleset"]
