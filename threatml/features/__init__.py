"""Feature extraction shared by the models: one canonical feature set per event kind."""

from threatml.features.flow import CANONICAL_FEATURES, FEATURE_DOCS, canonical_features

__all__ = ["CANONICAL_FEATURES", "FEATURE_DOCS", "canonical_features"]
