"""Threat intelligence: indicators of compromise, their loaders and a fast matcher.

See ``docs/intel.md``. Typical use::

    from threatml.intel import load_feeds, IndicatorMatcher
    iocs = load_feeds(["feodo.csv", "ipsum.txt", "bundle.json", "misp-feed/",
                       "taxii+https://intel.example/api1/collections/ID/"])
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
    normalise_urls,
)
from threatml.intel.matcher import IndicatorMatcher, Matches
from threatml.intel.misp import load_misp, load_misp_feed
from threatml.intel.stix import load_stix
from threatml.intel.taxii import load_taxii

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
    "load_misp",
    "load_misp_feed",
    "load_stix",
    "load_taxii",
    "load_plain",
    "normalise_domain",
    "normalise_url",
    "normalise_urls",
]
