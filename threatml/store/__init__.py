"""The embedded DuckDB store of scans, findings and incidents (see ``duckdb_store.py``)."""

from threatml.store.duckdb_store import SCHEMA_VERSION, Store

__all__ = ["Store", "SCHEMA_VERSION"]
