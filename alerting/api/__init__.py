"""The HTTP API: health, reload, metrics, and the Prometheus- and Alertmanager-shaped views."""
