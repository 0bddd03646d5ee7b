"""Fraud scoring for tabular transaction and account data.

A :class:`~threatml.fraud.model.FraudModel` joins a class-weighted LightGBM
classifier with an unsupervised Isolation Forest (exported to JSON, never
pickled) and, when entity and time columns are named, per-entity velocity
features (counts and amounts over the last hour, day and week).
"""

from threatml.fraud.model import FraudModel

__all__ = ["FraudModel"]
