"""Where the shared data sets are, for the tests that use them (they skip without them).

``THREATML_DATASETS`` wins (even when it does not exist, so the suite can be run as if
the data were absent); otherwise ``../shared/datasets`` beside the repository
(as CI lays it out), then the workplace's ``/work/shared/datasets``.
"""

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def _find() -> Path:
    if os.environ.get("THREATML_DATASETS"):  # as given, even if absent: that is how to test without the data
        return Path(os.environ["THREATML_DATASETS"])
    for cand in (_REPO.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if cand.is_dir():
            return cand
    return _REPO.parent / "shared" / "datasets"  # absent: tests that need it skip


DATASETS = _find()
