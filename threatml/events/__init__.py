"""Typed event batches and their schemas (see ``schema.py``)."""

from threatml.events.batch import EventBatch
from threatml.events.schema import SCHEMAS, Field, conform, field_names

__all__ = ["EventBatch", "SCHEMAS", "Field", "conform", "field_names"]
