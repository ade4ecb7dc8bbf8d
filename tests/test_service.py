"""The daemon end to end against a real Prometheus: restart, outage, reload, API, recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from alerting.clock import ManualClock
from alerting.model import AlertState
from alerting.service import Service
from tests.peers.ports import free_port
from tests.peers.series import BASE_TIME, to_openmetrics

RULES = """
groups:
  - name: node
    interval: 1m
    rules:
      - alert: InstanceDown
        expr: up{job="node"} == 0
        for: 5m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} down"}
"""

# Instance a is down for two hours; b is up.
HISTORY = to_openmetrics(
    {'up{job="node",instance="a"}': "0x120", 'up{job="node",instance="b"}': "1x120"},
    BASE_TIME,
    60,
)


def write_config(tmp_path: Path, prometheus_url: str, rules: str = RULES, **extra: str) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "node.yaml").write_text(rules)
    port = extra.get("port") or free_port()
    config = tmp_path / "alerting.yaml"
    config.write_text(
        f"""
global: {{evaluation_interval: 1m, outage_tolerance: {extra.get("tolerance", "1h")}}}
datasource: {{prometheus: {{url: "{prometheus_url}", timeout: 5s}}}}
rule_files: [rules/*.yaml]
storage: {{path: state/alerting.db}}
server: {{listen: "127.0.0.1:{port}"}}
"""
    )
    return config


class Daemon:
    """A Service on a manual clock, stepped one group evaluation at a time."""

    def __init__(self, config: Path, now: float) -> None:
        self.clock = ManualClock(now)
        self.service = Service(config, clock=self.clock)
        self.base = "http://{}:{}".format(*self.service.listen)

    async def __aenter__(self) -> Daemon:
        await self.service.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.service.stop()

    @property
    def group(self):
        return next(iter(self.service.manager.groups.values()))

    def next_evaluation(self) -> float:
        return self.group.first_timestamp(self.clock.now())

    async def evaluate_at(self, ts: float) -> None:
        await self.clock.set(ts)
        await asyncio.wait_for(self.service.manager.wait_for_evaluation(self.group.key, ts), 10)

    def alerts(self) -> dict[str, object]:
        rule = self.group.alerting[0]
        return {a.labels["instance"]: a for a in rule.active.values()}

    async def get(self, path: str) -> tuple[int, object]:
        async with aiohttp.ClientSession() as http, http.get(self.base + path) as response:
            body = (
                await response.json()
                if response.content_type == "application/json"
                else await response.text()
            )
            return response.status, body


@pytest.fixture
def prometheus(prometheus_peer):
    return prometheus_peer(HISTORY)


async def test_restart_mid_for_keeps_the_for_clock(tmp_path, prometheus) -> None:
    config = write_config(tmp_path, prometheus.url)
    async with Daemon(config, BASE_TIME + 1800) as daemon:
        first = daemon.next_evaluation()
        await daemon.evaluate_at(first)
        await daemon.evaluate_at(first + 60)
        alert = daemon.alerts()["a"]
        assert alert.state is AlertState.PENDING and alert.active_at == first
    async with Daemon(config, first + 120) as daemon:
        restored = daemon.alerts()["a"]
        assert restored.state is AlertState.PENDING and restored.active_at == first
        ts = daemon.next_evaluation()
        while ts < first + 300:
            await daemon.evaluate_at(ts)
            ts += 60
        assert daemon.alerts()["a"].state is AlertState.PENDING
        await daemon.evaluate_at(ts)  # 5m after the first activeAt, across the restart
        assert daemon.alerts()["a"].state is AlertState.FIRING
        assert daemon.alerts()["a"].fired_at == first + 300


async def test_restart_while_firing_is_not_a_new_alert(tmp_path, prometheus) -> None:
    config = write_config(tmp_path, prometheus.url)
    sent: list = []
    async with Daemon(config, BASE_TIME + 1800) as daemon:
        ts = daemon.next_evaluation()
        for step in range(6):
            await daemon.evaluate_at(ts + 60 * step)
        fired = daemon.alerts()["a"]
        assert fired.state is AlertState.FIRING
    async with Daemon(config, ts + 400) as daemon:
        daemon.service.manager._sink = _collect(sent)
        again = daemon.alerts()["a"]
        assert again.state is AlertState.FIRING and again.fired_at == fired.fired_at
        await daemon.evaluate_at(daemon.next_evaluation())
    assert [a.starts_at for a in sent[0]] == [fired.fired_at]  # same startsAt: the same alert


async def test_outage_longer_than_tolerance_discards_pending(tmp_path, prometheus) -> None:
    config = write_config(tmp_path, prometheus.url, tolerance="10m")
    async with Daemon(config, BASE_TIME + 1800) as daemon:
        first = daemon.next_evaluation()
        await daemon.evaluate_at(first)
    async with Daemon(config, first + 1200) as daemon:
        assert daemon.alerts() == {}


async def test_api_reports_rules_and_alerts_in_prometheus_shape(tmp_path, prometheus) -> None:
    config = write_config(tmp_path, prometheus.url)
    async with Daemon(config, BASE_TIME + 1800) as daemon:
        await daemon.evaluate_at(daemon.next_evaluation())
        status, body = await daemon.get("/api/v1/alerts")
        assert status == 200 and body["status"] == "success"
        (alert,) = body["data"]["alerts"]
        assert alert["state"] == "pending" and alert["value"] == "0e+00"
        assert alert["labels"] == {
            "alertname": "InstanceDown",
            "instance": "a",
            "job": "node",
            "severity": "page",
        }
        status, body = await daemon.get("/api/v1/rules")
        (group,) = body["data"]["groups"]
        (rule,) = group["rules"]
        assert (group["name"], group["interval"]) == ("node", 60)
        assert (rule["type"], rule["health"], rule["state"], rule["duration"]) == (
            "alerting",
            "ok",
            "pending",
            300,
        )
        assert (await daemon.get("/-/ready"))[0] == 200
        status, text = await daemon.get("/metrics")
        assert 'alerting_alerts{state="pending"} 1.0' in text
        assert (await daemon.get("/api/v1/nothing"))[0] == 404


async def test_reload_keeps_state_and_rejects_a_bad_config(tmp_path, prometheus) -> None:
    config = write_config(tmp_path, prometheus.url)
    async with Daemon(config, BASE_TIME + 1800) as daemon:
        first = daemon.next_evaluation()
        await daemon.evaluate_at(first)
        rules = tmp_path / "rules" / "node.yaml"
        rules.write_text(RULES.replace("down", "is down"))
        async with aiohttp.ClientSession() as http:
            async with http.post(daemon.base + "/-/reload") as response:
                assert response.status == 200
            assert daemon.alerts()["a"].active_at == first  # unchanged rule keeps its state
            rules.write_text(RULES.replace("for: 5m", "for: 5x"))
            async with http.post(daemon.base + "/-/reload") as response:
                assert response.status == 500
                assert 'not a valid duration string: "5x"' in await response.text()
        assert daemon.group.spec.rules[0].for_ == 300  # the old config keeps running
        await daemon.evaluate_at(first + 60)
        assert daemon.alerts()["a"].annotations["summary"] == "a is down"


async def test_recovers_when_prometheus_comes_back(tmp_path, monkeypatch, prometheus_peer) -> None:
    port = free_port()
    config = write_config(tmp_path, f"http://127.0.0.1:{port}")
    async with Daemon(config, BASE_TIME + 1800) as daemon:
        first = daemon.next_evaluation()
        await daemon.evaluate_at(first)
        status = daemon.group.status[0]
        assert status.health == "err" and status.last_error
        monkeypatch.setattr("tests.peers.server.free_port", lambda: port)
        prometheus_peer(HISTORY)
        await daemon.evaluate_at(first + 60)
        assert daemon.group.status[0].health == "ok"
        assert daemon.alerts()["a"].state is AlertState.PENDING


def _collect(into: list):
    async def sink(alerts) -> None:
        into.append(alerts)

    return sink
