"""Acknowledge, unacknowledge, suppress, groups and history over HTTP, against the daemon on a
manual clock: every answer's shape, every refusal with its status and message, the
"acknowledged" status in the alert views, and the role each route needs."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alerting.api.jsonfmt import rfc3339
from alerting.clock import ManualClock
from alerting.labels import fingerprint_hex
from alerting.notify.silence import format_api_time
from tests.api.daemon import Daemon, decode, write_config
from tests.peers.ports import free_port
from tests.peers.prometheus import PrometheusServer

T0 = 1_700_000_000.0

# One policy: the route's receiver at once, on-call after ten minutes. No integrations: what is
# checked is the API, not deliveries.
NOTIFY: dict[str, Any] = {
    "route": {
        "receiver": "team",
        "escalation": "db",
        "group_by": ["alertname"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    },
    "receivers": [{"name": "team"}, {"name": "oncall"}],
    "escalation_policies": [
        {
            "name": "db",
            "levels": [
                {"after": "0s", "receivers": ["team"]},
                {"after": "10m", "receivers": ["oncall"]},
            ],
        }
    ],
}
DB_A = {"alertname": "DbDown", "instance": "a"}
DB_B = {"alertname": "DbDown", "instance": "b"}
OLD = {"alertname": "Gone", "instance": "c"}
FP_A, FP_B, FP_OLD = (fingerprint_hex(labels) for labels in (DB_A, DB_B, OLD))
DB_GROUP = '{}:{alertname="DbDown"}'
DB_GID = hashlib.sha256(DB_GROUP.encode()).hexdigest()


def pushed(labels: dict[str, str], start: float = T0, end: float = T0 + 86400) -> dict[str, Any]:
    return {
        "labels": labels,
        "startsAt": format_api_time(start),
        "endsAt": format_api_time(end),
    }


async def advance(daemon: Daemon, seconds: float) -> None:
    """Move the daemon's manual clock on, letting every flush due on the way finish."""
    clock = daemon.service.clock
    dispatcher = daemon.service.notifier.dispatcher
    assert isinstance(clock, ManualClock) and dispatcher is not None
    target = clock.now() + seconds
    while clock.now() < target:
        await clock.set(min(target, clock.now() + 15.0))
        await dispatcher.wait_idle()


async def push(daemon: Daemon, *alerts: dict[str, Any]) -> None:
    assert await daemon.post("/api/v2/alerts", list(alerts)) == (200, None)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """DbDown a and b firing since T0 in one group, Gone resolved; the first flush done."""
    async with Daemon(write_config(tmp_path, NOTIFY), ManualClock(T0)) as running:
        await push(running, pushed(DB_A), pushed(DB_B), pushed(OLD, T0 - 600, T0 - 60))
        await advance(running, 60)
        yield running


def ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def refused(status: int, error_type: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "errorType": error_type, "error": message}


async def statuses(daemon: Daemon) -> dict[str, str]:
    _, body = await daemon.get("/api/v1/alerts", status="firing,acknowledged,resolved")
    return {a["fingerprint"]: a["status"] for a in body["data"]["alerts"]}


# ---------------------------------------------------------------- one alert


async def test_acknowledge_and_unacknowledge_an_alert(daemon: Daemon) -> None:
    now = T0 + 60
    answer = await daemon.post(
        f"/api/v1/alerts/{FP_A}/acknowledge", {"comment": "on it", "expires_in": "2h"}
    )
    assert answer == (
        200,
        ok(
            {
                "fingerprint": FP_A,
                "acknowledged_by": "anonymous",  # no server.auth: nobody to name
                "acknowledged_at": rfc3339(now),
                "comment": "on it",
                "expires_at": rfc3339(now + 7200),
            }
        ),
    )
    assert await statuses(daemon) == {FP_A: "acknowledged", FP_B: "firing", FP_OLD: "resolved"}
    _, stats = await daemon.get("/api/v1/alerts/stats")
    by_status = stats["data"]["alerts"]["byStatus"]
    assert (by_status["acknowledged"], by_status["firing"]) == (1, 1)

    assert await daemon.request("DELETE", f"/api/v1/alerts/{FP_A}/acknowledge") == (
        200,
        ok({"fingerprint": FP_A}),
    )
    assert (await statuses(daemon))[FP_A] == "firing"
    assert await daemon.request("DELETE", f"/api/v1/alerts/{FP_A}/acknowledge") == refused(
        404, "not_found", f"alert {FP_A} is not acknowledged"
    )


async def test_expires_in_as_seconds_or_never(daemon: Daemon) -> None:
    status, body = await daemon.post(f"/api/v1/alerts/{FP_A}/acknowledge", {"expires_in": 600})
    assert (status, body["data"]["expires_at"]) == (200, rfc3339(T0 + 660))
    status, body = await daemon.post(f"/api/v1/alerts/{FP_B}/acknowledge", None)  # no body
    assert (status, body["data"]["expires_at"], body["data"]["comment"]) == (200, None, "")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"expires_in": "soon"}, 'expires_in: not a valid duration string: "soon"'),
        ({"expires_in": True}, 'expires_in: expected a duration such as "2h" or seconds'),
        ({"expires_in": 0}, "expires_in must be more than 0 and at most 31622400 seconds"
                            " (leave it out for an ack that lasts)"),
        ({"expires_in": -5}, "expires_in must be more than 0 and at most 31622400 seconds"
                             " (leave it out for an ack that lasts)"),
        ({"expires_in": 10**400}, "expires_in: too long"),
        ({"expires_in": "367d"}, "expires_in must be more than 0 and at most 31622400 seconds"
                                 " (leave it out for an ack that lasts)"),
        ({"comment": 5}, "comment: expected a string"),
        ({"by": ["alice"]}, "by: expected a string"),
        ([], "request body: expected a JSON object"),
    ],
)  # fmt: skip
async def test_bad_acknowledgements_are_400(daemon: Daemon, body: Any, message: str) -> None:
    assert await daemon.post(f"/api/v1/alerts/{FP_A}/acknowledge", body) == refused(
        400, "bad_data", message
    )
    assert (await statuses(daemon))[FP_A] == "firing"


async def test_unknown_and_resolved_alerts(daemon: Daemon) -> None:
    unknown = "0123456789abcdef"
    expected = refused(404, "not_found", f"no alert with fingerprint {unknown}")
    assert await daemon.post(f"/api/v1/alerts/{unknown}/acknowledge", {}) == expected
    assert await daemon.request("DELETE", f"/api/v1/alerts/{unknown}/acknowledge") == expected
    assert await daemon.post(f"/api/v1/alerts/{unknown}/suppress?duration_minutes=5", {}) == (
        expected
    )
    assert await daemon.get(f"/api/v1/alerts/{unknown}/history") == expected
    assert await daemon.post(f"/api/v1/alerts/{FP_OLD}/acknowledge", {}) == refused(
        409, "conflict", f"alert {FP_OLD} is resolved: nothing to acknowledge"
    )
    status, body = await daemon.request(
        "POST", f"/api/v1/alerts/{FP_A}/acknowledge", raw=b"{not json"
    )
    assert (status, body["error"]) == (400, "request body: invalid JSON: Expecting property"
                                            " name enclosed in double quotes at line 1 column 2")  # fmt: skip


# ---------------------------------------------------------------- suppress


async def test_suppress_makes_a_silence_of_the_alerts_labels(daemon: Daemon) -> None:
    status, body = await daemon.post(
        f"/api/v1/alerts/{FP_A}/suppress?duration_minutes=30", {"comment": "deploying"}
    )
    assert status == 200 and list(body["data"]) == ["silenceID"]
    status, silence = await daemon.get(f"/api/v2/silence/{body['data']['silenceID']}")
    assert status == 200
    assert silence["matchers"] == [
        {"name": "alertname", "value": "DbDown", "isRegex": False, "isEqual": True},
        {"name": "instance", "value": "a", "isRegex": False, "isEqual": True},
    ]
    assert (silence["startsAt"], silence["endsAt"]) == (
        format_api_time(T0 + 60),
        format_api_time(T0 + 60 + 1800),
    )
    assert (silence["createdBy"], silence["comment"]) == ("anonymous", "deploying")
    _, view = await daemon.get("/api/v1/alerts")
    assert {a["fingerprint"]: a["status"] for a in view["data"]["alerts"]} == {
        FP_A: "suppressed",
        FP_B: "firing",
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "duration_minutes is required: whole minutes, from 1 to 1440"),
        ("?duration_minutes=1.5", "duration_minutes: '1.5' is not a whole number of minutes"),
        ("?duration_minutes=ten", "duration_minutes: 'ten' is not a whole number of minutes"),
        ("?duration_minutes=0", "duration_minutes must be between 1 and 1440, not 0"),
        ("?duration_minutes=1441", "duration_minutes must be between 1 and 1440, not 1441"),
    ],
)
async def test_bad_suppressions_are_400(daemon: Daemon, query: str, message: str) -> None:
    answer = await daemon.post(f"/api/v1/alerts/{FP_A}/suppress{query}", None)
    assert answer == refused(400, "bad_data", message)
    _, silences = await daemon.get("/api/v2/silences")
    assert silences == []


# ---------------------------------------------------------------- groups


async def test_groups_and_group_acknowledgement(daemon: Daemon) -> None:
    status, body = await daemon.get("/api/v1/groups")
    assert status == 200
    db = {
        "id": DB_GID,
        "groupKey": DB_GROUP,
        "receiver": "team",
        "acknowledged": False,
        # Level 1 reached at the first flush; level 2 ten minutes after the alerts fired.
        "escalation": {"policy": "db", "level": 1, "next_due": rfc3339(T0 + 600)},
        "alerts": sorted([FP_A, FP_B]),
    }
    # Gone's group has sent its resolve and is empty: not listed.
    assert body["data"]["groups"] == [db]

    assert await daemon.post(f"/api/v1/groups/{DB_GID}/acknowledge", {"comment": "all"}) == (
        200,
        ok({"group_id": DB_GID, "acknowledged": sorted([FP_A, FP_B])}),
    )
    await advance(daemon, 1)  # the flush the ack asked for pauses the escalation
    _, body = await daemon.get("/api/v1/groups")
    paused = {**db, "acknowledged": True, "escalation": {**db["escalation"], "next_due": None}}
    assert body["data"]["groups"][0] == paused
    assert set((await statuses(daemon)).values()) == {"acknowledged", "resolved"}

    assert await daemon.request("DELETE", f"/api/v1/groups/{DB_GID}/acknowledge") == (
        200,
        ok({"group_id": DB_GID, "unacknowledged": sorted([FP_A, FP_B])}),
    )
    await advance(daemon, 1)
    _, body = await daemon.get("/api/v1/groups")
    # Resumed where it stood: the second it was acknowledged does not count.
    resumed = {**db, "escalation": {**db["escalation"], "next_due": rfc3339(T0 + 601)}}
    assert body["data"]["groups"][0] == resumed


async def test_unknown_group_and_group_with_nothing_firing(daemon: Daemon) -> None:
    unknown = "f" * 64
    expected = refused(404, "not_found", f"no group with id {unknown}")
    assert await daemon.post(f"/api/v1/groups/{unknown}/acknowledge", {}) == expected
    assert await daemon.request("DELETE", f"/api/v1/groups/{unknown}/acknowledge") == expected
    # A group formed by a resolved alert, before its first flush: nothing to acknowledge.
    await push(daemon, pushed({"alertname": "Over"}, T0 + 60, T0 + 60))
    gone = hashlib.sha256(b'{}:{alertname="Over"}').hexdigest()
    assert await daemon.post(f"/api/v1/groups/{gone}/acknowledge", {}) == refused(
        409, "conflict", f"group {gone} has no firing alert to acknowledge"
    )


# ---------------------------------------------------------------- history


async def test_history_shows_every_event_in_order(daemon: Daemon) -> None:
    await advance(daemon, 4 * 60)  # T0 + 5m
    await daemon.post(f"/api/v1/alerts/{FP_A}/acknowledge", {"comment": "on it"})
    await advance(daemon, 60)
    await daemon.request("DELETE", f"/api/v1/alerts/{FP_A}/acknowledge")
    await advance(daemon, 10 * 60)  # T0 + 16m
    _, body = await daemon.post(f"/api/v1/alerts/{FP_A}/suppress?duration_minutes=30", None)
    silence_id = body["data"]["silenceID"]
    status, body = await daemon.get(f"/api/v1/alerts/{FP_A}/history")
    assert status == 200 and body["data"]["fingerprint"] == FP_A
    events = body["data"]["events"]
    assert [(e["at"], e["kind"]) for e in events] == [
        (rfc3339(T0), "firing"),
        (rfc3339(T0 + 30), "escalated"),
        (rfc3339(T0 + 300), "acknowledged"),
        (rfc3339(T0 + 360), "unacknowledged"),
        # b was never acknowledged: the group went on needing someone.
        (rfc3339(T0 + 600), "escalated"),
        (rfc3339(T0 + 960), "suppressed"),
        (rfc3339(T0 + 960), "silenced"),
    ]
    acknowledged, silenced = events[2], events[6]
    assert acknowledged == {
        "at": rfc3339(T0 + 300),
        "kind": "acknowledged",
        "by": "anonymous",
        "comment": "on it",
        "expires_at": None,
    }
    assert events[4]["level"] == 2 and events[4]["receivers"] == ["oncall"]
    assert silenced["silence_id"] == silence_id
    assert silenced["until"] == rfc3339(T0 + 960 + 1800)


RULES = """
groups:
  - name: slow
    interval: 1m
    rules:
      - alert: Waiting
        expr: vector(1)
        for: 1h
"""


@pytest.fixture(scope="module")
def prometheus(module_prometheus_peer: Callable[..., PrometheusServer]) -> PrometheusServer:
    return module_prometheus_peer()  # no data: the rule's expression is a constant


async def test_history_of_a_pending_rule_alert(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    config = write_config(tmp_path, NOTIFY, prometheus_url=prometheus.url, rules=RULES)
    clock = ManualClock(T0)
    async with Daemon(config, clock) as daemon:
        manager = daemon.service.manager
        (group,) = manager.groups.values()
        ts = group.first_timestamp(clock.now())
        await clock.set(ts)
        await asyncio.wait_for(manager.wait_for_evaluation(group.key, ts), 10)
        fingerprint = fingerprint_hex({"alertname": "Waiting"})
        status, body = await daemon.get(f"/api/v1/alerts/{fingerprint}/history")
        # Pending: dispatch has not seen it; only the rule knows since when.
        assert (status, body["data"]["events"]) == (200, [{"at": rfc3339(ts), "kind": "pending"}])
        assert await daemon.post(f"/api/v1/alerts/{fingerprint}/acknowledge", {}) == refused(
            404, "not_found", f"no alert with fingerprint {fingerprint}"
        )


# ---------------------------------------------------------------- who acts


async def test_author_is_the_token_unless_an_admin_names_someone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CI_TOKEN", "wr1te-t0ken")
    monkeypatch.setenv("TEST_BOT_TOKEN", "adm1n-t0ken")
    monkeypatch.setenv("TEST_READER_TOKEN", "r3ad-t0ken")
    server_auth = {
        "tokens": [
            {"name": "ci", "token_env": "TEST_CI_TOKEN", "role": "write"},
            {"name": "chatbot", "token_env": "TEST_BOT_TOKEN", "role": "admin"},
            {"name": "reader", "token_env": "TEST_READER_TOKEN", "role": "read"},
        ]
    }
    server = {"listen": f"127.0.0.1:{free_port()}", "auth": server_auth}
    config = write_config(tmp_path, NOTIFY, server=server)
    async with Daemon(config, ManualClock(T0)) as daemon, aiohttp.ClientSession() as http:

        async def call(method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.request(method, daemon.url + path, json=body, headers=headers) as r:
                return r.status, decode(await r.read())

        status, _ = await call(
            "POST", "/api/v2/alerts", "wr1te-t0ken", [pushed(DB_A), pushed(DB_B)]
        )
        assert status == 200
        ack = f"/api/v1/alerts/{FP_A}/acknowledge"
        status, body = await call("POST", ack, "wr1te-t0ken", {"by": "alice"})
        assert (status, body["data"]["acknowledged_by"]) == (200, "ci")
        status, body = await call("POST", ack, "adm1n-t0ken", {"by": "alice"})
        assert (status, body["data"]["acknowledged_by"]) == (200, "alice")
        assert (await call("POST", ack, "r3ad-t0ken"))[0] == 403
        assert (await call("GET", "/api/v1/groups", "r3ad-t0ken"))[0] == 200
        status, body = await call("GET", f"/api/v1/alerts/{FP_A}/history", "r3ad-t0ken")
        assert [e["by"] for e in body["data"]["events"] if e["kind"] == "acknowledged"] == [
            "ci",
            "alice",
        ]


async def test_without_a_route_nothing_can_be_acknowledged(tmp_path: Path) -> None:
    async with Daemon(write_config(tmp_path, {}), ManualClock(T0)) as daemon:
        assert await daemon.post(f"/api/v1/alerts/{FP_A}/acknowledge", {}) == refused(
            404, "not_found", f"no alert with fingerprint {FP_A}"
        )
        assert await daemon.get("/api/v1/groups") == (200, ok({"groups": []}))
