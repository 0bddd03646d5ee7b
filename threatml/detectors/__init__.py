"""Detectors, grouped by domain: ``network/`` holds the flow detectors.

``default_detectors()`` builds the set that ``threatml scan`` runs.
"""
