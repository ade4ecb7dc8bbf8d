"""Prometheus rule files: loading, validation and evaluation of alerting rule groups."""
