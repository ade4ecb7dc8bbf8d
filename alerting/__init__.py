"""Prometheus rule evaluation and Alertmanager-compatible notification in one daemon."""

__version__ = "0.1.0"
