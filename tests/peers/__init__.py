"""Real Prometheus and Alertmanager servers, started and stopped by tests.

Nothing here imitates either server: the binaries from Debian are the oracle.
"""
