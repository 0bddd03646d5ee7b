"""ThreatML: machine-learning threat detection over the telemetry you already have."""

__version__ = "0.1.0"
