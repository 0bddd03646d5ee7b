"""Detectors of the logs domain: template mining and session/window anomalies over ``log`` events."""

from __future__ import annotations


def detectors(opts) -> list:
    """Cheap to build: the miner starts empty and a trained model loads on the first log batch."""
    from threatml.detectors.logs.anomaly import LogAnomalyDetector

    return [LogAnomalyDetector(session_regex=opts.session_regex, window=opts.window, model=opts.log_model)]
