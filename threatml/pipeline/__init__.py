"""Pipelines: ``scan`` (files -> findings), ``train`` / ``evaluate`` (labeled data -> models, metrics)."""
