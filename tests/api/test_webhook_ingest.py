"""POST /api/v1/webhooks/alertmanager: a real Alertmanager 0.25 whose webhook receiver points at
the daemon forwards its alerts, firing and then resolved, and they appear in our API; and the
payload's edge cases (Go's zero time, bad alerts, other versions) on their own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from alerting.clock import ManualClock
from alerting.notify.silence import format_api_time
from tests.api.daemon import Daemon, write_config

T0 = 1_700_000_000.0
ZERO = "0001-01-01T00:00:00Z"
FORWARD_DEADLINE = 15.0  # Alertmanager flushes after group_wait (1 s here)


def payload(*alerts: dict[str, Any], version: str = "4") -> dict[str, Any]:
    """A webhook message as Alertmanager 0.25 sends one."""
    return {
        "receiver": "forward",
        "status": "firing",
        "alerts": list(alerts),
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "version": version,
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def forwarded(name: str, starts: float, ends: str = ZERO, **extra: Any) -> dict[str, Any]:
    return {
        "status": "firing" if ends == ZERO else "resolved",
        "labels": {"alertname": name},
        "annotations": {"summary": f"{name} forwarded"},
        "startsAt": format_api_time(starts),
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "0000000000000000",  # Alertmanager's; ours is computed afresh
        **extra,
    }


async def test_payload_alerts_keep_their_fields(tmp_path: Path) -> None:
    async with Daemon(write_config(tmp_path), ManualClock(T0)) as daemon:
        body = payload(
            forwarded("Firing", T0 - 60),
            forwarded("Resolved", T0 - 600, format_api_time(T0 - 30)),
        )
        assert await daemon.post("/api/v1/webhooks/alertmanager", body) == (
            200,
            {"status": "success", "data": {"accepted": 2}},
        )
        _, listed = await daemon.get("/api/v2/alerts")
        (firing,) = listed  # the resolved one is no longer listed by API v2
        assert firing["labels"] == {"alertname": "Firing"}
        assert firing["annotations"] == {"summary": "Firing forwarded"}
        assert firing["generatorURL"] == "http://prometheus:9090/graph"
        # Go's zero endsAt means none: it resolves after resolve_timeout unless forwarded again.
        assert (firing["startsAt"], firing["endsAt"]) == (
            format_api_time(T0 - 60),
            format_api_time(T0 + 300),
        )
        _, view = await daemon.get("/api/v1/alerts", status="resolved")
        (resolved,) = view["data"]["alerts"]
        assert (resolved["labels"], resolved["source"]) == ({"alertname": "Resolved"}, "push")


async def test_bad_payloads_are_refused_by_path(tmp_path: Path) -> None:
    async with Daemon(write_config(tmp_path), ManualClock(T0)) as daemon:
        hook = "/api/v1/webhooks/alertmanager"

        def bad(message: str) -> tuple[int, dict[str, str]]:
            return 400, {"status": "error", "errorType": "bad_data", "error": message}

        assert await daemon.post(hook, []) == bad("payload: expected an object")
        assert await daemon.post(hook, payload(version="3")) == bad("version: '3' is not '4'")
        assert await daemon.post(hook, {"alerts": {}}) == bad("alerts: expected an array")
        mixed = payload(forwarded("Good", T0), {"labels": {"alertname": "Bad"}, "startsAt": 5})
        assert await daemon.post(hook, mixed) == bad("alerts[1].startsAt: expected a string")
        status, body = await daemon.request("POST", hook, raw=b"{not json")
        assert status == 400 and body["error"].startswith("invalid JSON")
        _, listed = await daemon.get("/api/v2/alerts")
        assert [a["labels"]["alertname"] for a in listed] == ["Good"]


async def test_a_real_alertmanager_forwards_to_us(tmp_path: Path, alertmanager_peer) -> None:
    async with Daemon(write_config(tmp_path / "daemon")) as daemon:
        oracle = alertmanager_peer(
            {
                "route": {
                    "receiver": "forward",
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "group_by": ["alertname"],
                },
                "receivers": [
                    {
                        "name": "forward",
                        "webhook_configs": [{"url": daemon.url + "/api/v1/webhooks/alertmanager"}],
                    }
                ],
            }
        )
        now = time.time()
        sent = {
            "labels": {"alertname": "Upstream", "instance": "i1"},
            "annotations": {"summary": "from the other Alertmanager"},
            "startsAt": format_api_time(now - 60),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        }
        await _post_json(oracle.url + "/api/v2/alerts", [sent])
        alert = await _until(daemon, lambda alerts: alerts[0] if alerts else None)
        assert alert["labels"] == sent["labels"]
        assert alert["annotations"] == sent["annotations"]
        assert alert["generatorURL"] == sent["generatorURL"]
        assert alert["startsAt"] == sent["startsAt"]

        resolved_at = format_api_time(time.time())
        await _post_json(oracle.url + "/api/v2/alerts", [{**sent, "endsAt": resolved_at}])
        await _until(daemon, lambda alerts: not alerts or None)  # resolved: API v2 lists it no more
        _, view = await daemon.get("/api/v1/alerts", status="resolved")
        (gone,) = view["data"]["alerts"]
        assert gone["labels"] == sent["labels"] and gone["status"] == "resolved"


async def _post_json(url: str, body: Any) -> None:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        assert response.status == 200, await response.text()


async def _until(daemon: Daemon, check: Callable[[list[Any]], Any]) -> Any:
    """Poll our alerts (Alertmanager is an external process) until `check` returns a value."""
    deadline = time.monotonic() + FORWARD_DEADLINE
    while time.monotonic() < deadline:
        _, alerts = await daemon.get("/api/v2/alerts")
        found = check(alerts)
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"Alertmanager did not forward within {FORWARD_DEADLINE}s")
