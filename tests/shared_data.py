"""Where the shared data sets are, for the tests that use them (they skip without them).

``THREATML_DATASETS`` wins; otherwise ``../shared/datasets`` beside the repository
(as CI lays it out), then the workplace's ``/work/shared/datasets``.
"""

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def _find() -> Path:
    for cand in (os.environ.get("THREATML_DATASETS"), _REPO.parent / "shared" / "datasets", "/work/shared/datasets"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return _REPO.parent / "shared" / "datasets"  # absent: tests that need it skip


DATASETS = _find()
