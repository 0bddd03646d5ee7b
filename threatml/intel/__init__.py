"""Threat intelligence: indicators of compromise, their loaders and a fast matcher.

See ``docs/intel.md``. Typical use::

    from threatml.intel import load_feeds, IndicatorMatcher
    iocs = load_feeds(["feodo.csv", "ipsum.txt"])
    matcher = IndicatorMatcher(iocs)
"""

from threatml.intel.indicators import (
    DEFAULT_HALF_LIFE_DAYS,
    IndicatorSet,
    classify,
    decay,
    load_csv,
    load_feeds,
    load_file,
    load_ipsum,
    load_loki_filenames,
    load_plain,
    normalise_domain,
    normalise_url,
)
from threatml.intel.matcher import IndicatorMatcher, Matches

__all__ = [
    "DEFAULT_HALF_LIFE_DAYS",
    "IndicatorMatcher",
    "IndicatorSet",
    "Matches",
    "classify",
    "decay",
    "load_csv",
    "load_feeds",
    "load_file",
    "load_ipsum",
    "load_loki_filenames",
    "load_plain",
    "normalise_domain",
    "normalise_url",
]
