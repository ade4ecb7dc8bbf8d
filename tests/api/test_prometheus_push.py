"""Prometheus 2.42 with `alerting: alertmanagers:` pointing at the daemon delivers its firing
alerts to us over API v2, as it would to an Alertmanager."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.labels import fingerprint_hex
from tests.api.daemon import Daemon, write_config
from tests.peers.prometheus import PrometheusServer

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus")

RULES = """
groups:
  - name: always
    rules:
      - alert: FromPrometheus
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: "value is {{ $value }}"}
"""
DELIVERY_DEADLINE = 30.0  # discovery takes about 5 s, then a send every second


class AlertingPrometheus(PrometheusServer):
    """A Prometheus evaluating `rules` every second and sending alerts to `alertmanager`."""

    def __init__(self, alertmanager: str, rules: str, workdir: Path) -> None:
        # Prometheus drops what it sends before discovering its Alertmanagers (a few seconds
        # after start) and sends again only after the resend delay: one second, not a minute.
        super().__init__(workdir=workdir, extra_args=["--rules.alert.resend-delay=1s"])
        self.alertmanager = alertmanager
        self.rules = rules

    def command_line(self, port: int) -> list[str]:
        args = super().command_line(port)
        (self.workdir / "rules.yml").write_text(self.rules)
        config = {
            "global": {"evaluation_interval": "1s"},
            "rule_files": [str(self.workdir / "rules.yml")],
            "alerting": {
                "alertmanagers": [
                    {"api_version": "v2", "static_configs": [{"targets": [self.alertmanager]}]}
                ]
            },
        }
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        return args


async def test_prometheus_delivers_firing_alerts_to_us(tmp_path: Path) -> None:
    async with Daemon(write_config(tmp_path / "daemon")) as daemon:
        target = daemon.url.removeprefix("http://")
        async with AlertingPrometheus(target, RULES, tmp_path / "prometheus") as prometheus:
            alert = await _first_alert(daemon)
            assert alert["labels"] == {"alertname": "FromPrometheus", "severity": "page"}
            assert alert["annotations"] == {"summary": "value is 1"}
            assert alert["fingerprint"] == fingerprint_hex(alert["labels"])
            assert alert["generatorURL"].startswith("http://")
            assert "g0.expr=vector%281%29" in alert["generatorURL"]
            assert alert["status"]["state"] == "active"
            assert alert["receivers"] == [{"name": "team"}]
            _, view = await daemon.get("/api/v1/alerts")
            (listed,) = view["data"]["alerts"]
            assert (listed["source"], listed["status"], listed["state"]) == (
                "push",
                "firing",
                "firing",
            )
            assert prometheus.url  # it was up while it delivered


async def _first_alert(daemon: Daemon) -> dict[str, Any]:
    """Poll (Prometheus is an external process) until its alert has arrived."""
    deadline = time.monotonic() + DELIVERY_DEADLINE
    while time.monotonic() < deadline:
        _, alerts = await daemon.get("/api/v2/alerts")
        if alerts:
            return alerts[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no alert from Prometheus within {DELIVERY_DEADLINE}s")
