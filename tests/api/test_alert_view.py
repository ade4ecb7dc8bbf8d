"""Our alert view, GET /api/v1/alerts and /api/v1/alerts/stats: rule alerts (evaluated against a
real Prometheus) and pushed ones together in Prometheus's response shape, with status, muting
and source per alert; the status, severity and matcher filters; pages; the statistics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alerting.clock import ManualClock
from alerting.labels import fingerprint_hex
from alerting.notify.silence import format_api_time
from tests.api.daemon import Daemon, write_config
from tests.peers.prometheus import PrometheusServer

T0 = 1_700_000_000.0
AT = format_api_time
RULES = """
groups:
  - name: view
    interval: 1m
    rules:
      - alert: RuleFiring
        expr: vector(1)
        labels: {severity: critical}
        annotations: {summary: "value {{ $value }}"}
      - alert: RulePending
        expr: vector(2)
        for: 1h
        labels: {severity: warning, instance: w}
"""
FIRING = {"alertname": "RuleFiring", "severity": "critical"}


@pytest.fixture(scope="module")
def prometheus(module_prometheus_peer: Callable[..., PrometheusServer]) -> PrometheusServer:
    return module_prometheus_peer()  # no data: the rules' expressions are constants


@dataclass
class Scene:
    daemon: Daemon
    silence_id: str


@pytest.fixture
async def scene(tmp_path: Path, prometheus: PrometheusServer) -> AsyncIterator[Scene]:
    """The rules evaluated once (RuleFiring fires, RulePending waits), and four pushed alerts:
    one firing, one inhibited by RuleFiring, one silenced, one resolved."""
    config = write_config(tmp_path, prometheus_url=prometheus.url, rules=RULES)
    clock = ManualClock(T0)
    async with Daemon(config, clock) as running:
        manager = running.service.manager
        (group,) = manager.groups.values()
        ts = group.first_timestamp(clock.now())
        await clock.set(ts)
        await asyncio.wait_for(manager.wait_for_evaluation(group.key, ts), 10)
        pushed = [
            {"labels": {"alertname": "Pushed", "severity": "warning", "instance": "p"}},
            {"labels": {"alertname": "PushedInhibited", "severity": "warning"}},
            {"labels": {"alertname": "PushedSilenced", "severity": "info"}},
            {
                "labels": {"alertname": "PushedResolved", "severity": "warning"},
                "startsAt": AT(ts - 600),
                "endsAt": AT(ts - 60),
            },
        ]
        assert await running.post("/api/v2/alerts", pushed) == (200, None)
        quiet = {
            "matchers": [{"name": "alertname", "value": "PushedSilenced", "isRegex": False}],
            "startsAt": AT(ts),
            "endsAt": AT(ts + 3600),
            "createdBy": "tests",
            "comment": "",
        }
        status, body = await running.post("/api/v2/silences", quiet)
        assert status == 200
        yield Scene(running, body["silenceID"])


@pytest.fixture
def daemon(scene: Scene) -> Daemon:
    return scene.daemon


async def view(daemon: Daemon, **params: Any) -> dict[str, dict[str, Any]]:
    status, body = await daemon.get("/api/v1/alerts", **params)
    assert status == 200 and body["status"] == "success", body
    return {a["labels"]["alertname"]: a for a in body["data"]["alerts"]}


async def test_rule_and_pushed_alerts_in_prometheus_shape(scene: Scene) -> None:
    daemon = scene.daemon
    alerts = await view(daemon)
    assert sorted(alerts) == [
        "Pushed",
        "PushedInhibited",
        "PushedSilenced",
        "RuleFiring",
        "RulePending",
    ]
    firing = alerts["RuleFiring"]
    assert list(firing) == [
        "labels",
        "annotations",
        "state",
        "activeAt",
        "value",
        "fingerprint",
        "status",
        "silencedBy",
        "inhibitedBy",
        "source",
    ]
    assert firing["labels"] == FIRING and firing["annotations"] == {"summary": "value 1"}
    assert (firing["state"], firing["status"], firing["source"], firing["value"]) == (
        "firing",
        "firing",
        "rule",
        "1e+00",
    )
    assert firing["fingerprint"] == fingerprint_hex(FIRING)
    pending = alerts["RulePending"]
    assert (pending["state"], pending["status"], pending["source"]) == (
        "pending",
        "pending",
        "rule",
    )
    pushed = alerts["Pushed"]
    assert "value" not in pushed
    assert (pushed["state"], pushed["status"], pushed["source"]) == ("firing", "firing", "push")
    inhibited = alerts["PushedInhibited"]
    assert (inhibited["status"], inhibited["inhibitedBy"], inhibited["silencedBy"]) == (
        "suppressed",
        [fingerprint_hex(FIRING)],
        [],
    )
    silenced = alerts["PushedSilenced"]
    assert (silenced["status"], silenced["silencedBy"]) == ("suppressed", [scene.silence_id])
    _, body = await daemon.get("/api/v1/alerts")
    fingerprints = [a["fingerprint"] for a in body["data"]["alerts"]]
    assert fingerprints == sorted(fingerprints) and "nextCursor" not in body["data"]


async def test_filters_by_status_severity_and_matchers(daemon: Daemon) -> None:
    resolved = await view(daemon, status="resolved")
    assert list(resolved) == ["PushedResolved"]
    assert resolved["PushedResolved"]["state"] == "inactive"
    assert sorted(await view(daemon, status="suppressed,pending")) == [
        "PushedInhibited",
        "PushedSilenced",
        "RulePending",
    ]
    assert sorted(await view(daemon, status=["firing", "resolved"])) == [
        "Pushed",
        "PushedResolved",
        "RuleFiring",
    ]
    assert sorted(await view(daemon, severity="warning")) == [
        "Pushed",
        "PushedInhibited",
        "RulePending",
    ]
    assert sorted(await view(daemon, severity="critical,info")) == ["PushedSilenced", "RuleFiring"]
    assert sorted(await view(daemon, filter='alertname=~"Pushed.*"', severity="warning")) == [
        "Pushed",
        "PushedInhibited",
    ]
    assert list(await view(daemon, status="acknowledged")) == []


async def test_pages_follow_fingerprint_order(daemon: Daemon) -> None:
    _, whole = await daemon.get("/api/v1/alerts", status="firing,pending,suppressed,resolved")
    everything = [a["fingerprint"] for a in whole["data"]["alerts"]]
    assert len(everything) == 6
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"status": "firing,pending,suppressed,resolved", "limit": 4}
        if cursor is not None:
            params["cursor"] = cursor
        _, page = await daemon.get("/api/v1/alerts", **params)
        seen += [a["fingerprint"] for a in page["data"]["alerts"]]
        cursor = page["data"].get("nextCursor")
        if cursor is None:
            break
    assert seen == everything


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "burning"}, "unknown status 'burning'"),
        ({"limit": "0"}, "limit: '0' is not a positive integer"),
        ({"limit": "many"}, "limit: 'many' is not a positive integer"),
        ({"limit": "\u00b2"}, "limit: '\u00b2' is not a positive integer"),
        ({"limit": "9" * 5000}, "limit: '999"),
        ({"cursor": "not-ours"}, "cursor: not a cursor this API gave out"),
        ({"filter": "bad"}, "filter: bad matcher format: bad"),
    ],
)
async def test_bad_parameters_are_refused(
    daemon: Daemon, params: dict[str, str], message: str
) -> None:
    status, body = await daemon.get("/api/v1/alerts", **params)
    assert status == 400 and body["errorType"] == "bad_data"
    assert body["error"].startswith(message)


async def test_stats_count_alerts_rules_silences_and_receivers(daemon: Daemon) -> None:
    status, body = await daemon.get("/api/v1/alerts/stats")
    assert status == 200
    assert body["data"] == {
        "alerts": {
            "byStatus": {
                "firing": 2,
                "pending": 1,
                "suppressed": 2,
                "acknowledged": 0,
                "resolved": 1,
            },
            "bySeverity": {"critical": 1, "info": 1, "warning": 3},
            "resolvedLast7Days": 1,
        },
        "rules": 2,
        "silences": {"active": 1, "pending": 0, "expired": 0},
        "receivers": 3,
    }
