"""Detectors of the sigma domain: Sigma rules over auth, process and log events (``--sigma PATH``).

Rules are loaded when the factory runs (only when ``--sigma`` is given), so
that what failed to load is in ``opts.load_report`` before the scan starts
and shows in the scan summary; a path with no loadable rule at all is an
error.
"""

from __future__ import annotations

from threatml.errors import InputError


def detectors(opts) -> list:
    paths = tuple(getattr(opts, "sigma", ()) or ())
    if not paths:
        return []
    from threatml.detectors.sigma.rules import SigmaDetector

    det = SigmaDetector(paths, load_report=opts.load_report)
    rs = det.ruleset
    if rs.loaded == 0:
        first = rs.issues[0] if rs.issues else None
        raise InputError(", ".join(map(str, paths)), "no Sigma rule could be loaded"
                         + (f" (first problem: {first.file}: {first.reason})" if first else ""))
    return [det]
