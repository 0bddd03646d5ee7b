"""Detectors of the files domain: static malware verdicts (models, YARA, listed hashes).

Models and the default rules load on the first ``file`` batch. Rules given with
``--yara`` are compiled here, when the scan is set up, so that the files that do
not compile are in the load report the scan summary prints (and a bad path
fails before any scanning).
"""

from __future__ import annotations


def detectors(opts) -> list:
    from threatml.detectors.files.static import FileStaticDetector

    det = FileStaticDetector(yara_paths=tuple(opts.yara), intel=tuple(opts.intel), load_report=opts.load_report)
    if opts.yara:
        det.load_rules()
    return [det]
