"""Work the findings: analyst feedback, suppressions, alert budgets, entity risk and saved hunts.

Everything here reads and writes the DuckDB store (:mod:`threatml.store`), so
the verdicts an analyst gives today shape tomorrow's scan.
"""
