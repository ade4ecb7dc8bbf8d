"""PagerDuty and Slack both ways, over HTTP on loopback: acks made here reach PagerDuty's Events
API and the group's Slack message; PagerDuty's webhooks (v3) and Slack's button clicks, signed
as each service documents, act here. Unsigned, tampered, wrongly signed and stale requests are
refused with a 401 and change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from alerting.channels.slack import ACKNOWLEDGE_ACTION, SILENCE_ACTION
from alerting.clock import ManualClock
from alerting.notify.silence import format_api_time
from tests.api.daemon import Daemon, decode, write_config
from tests.api.test_incidents_api import DB_A, DB_B, DB_GID, FP_A, FP_B, T0, advance, push, pushed
from tests.peers.pagerduty import PagerdutyFake, pagerduty_fake
from tests.peers.ports import free_port
from tests.peers.slack import FakeSlack, SlackRequest, fake_slack

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
PD_SECRET = "pd-subscription-secret"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = T0 + 60  # when the scene is set: the group has flushed once
UPDATE = "/api/chat.update"


def notify(pagerduty: PagerdutyFake, slack: FakeSlack) -> dict[str, Any]:
    """One receiver paging through PagerDuty and posting with a bot token to Slack."""
    return {
        "route": {
            "receiver": "oncall",
            "group_by": ["alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [
            {
                "name": "oncall",
                "pagerduty_configs": [{"routing_key": ROUTING_KEY, "url": pagerduty.enqueue_url}],
                "slack_configs": [
                    {
                        "api_url": slack.api_url,
                        "http_config": {"authorization": {"credentials": BOT_TOKEN}},
                        "channel": "#alerts",
                        "send_resolved": True,
                    }
                ],
            }
        ],
    }


def server(**options: Any) -> dict[str, Any]:
    """PagerDuty's secret in a file (re-read per request), Slack's inline."""
    callbacks = {
        "pagerduty": {"secret_file": "secrets/pagerduty"},
        "slack": {"signing_secret": SLACK_SECRET},
    }
    return {"listen": f"127.0.0.1:{free_port()}", "callbacks": callbacks, **options}


@dataclass
class Scene:
    daemon: Daemon
    pagerduty: PagerdutyFake
    slack: FakeSlack
    secret_file: Path
    http: aiohttp.ClientSession

    async def call(
        self, path: str, body: bytes, headers: dict[str, str], token: str = ""
    ) -> tuple[int, Any]:
        if token:
            headers = {**headers, "Authorization": f"Bearer {token}"}
        async with self.http.post(self.daemon.url + path, data=body, headers=headers) as r:
            return r.status, decode(await r.read())

    async def settled(self) -> None:
        """What the daemon passes on in the background has arrived."""
        await self.daemon.service.incidents.wait_idle()

    async def group(self) -> dict[str, Any]:
        _, body = await self.daemon.get("/api/v1/groups")
        (group,) = body["data"]["groups"]
        return group

    async def acks(self) -> list[tuple[str, str]]:
        """(by, comment) of every acknowledgement of a, in order."""
        _, body = await self.daemon.get(f"/api/v1/alerts/{FP_A}/history")
        events = body["data"]["events"]
        return [(e["by"], e["comment"]) for e in events if e["kind"] == "acknowledged"]

    @property
    def message_ts(self) -> str:
        """The `ts` Slack gave the group's message, the first one posted."""
        _, ts = next(iter(self.slack.messages))
        return ts

    def pagerduty_actions(self) -> list[str]:
        return [event["event_action"] for event in self.pagerduty.events()]


@asynccontextmanager
async def running(
    tmp_path: Path, notify_config: dict[str, Any], server_config: dict[str, Any]
) -> AsyncIterator[Daemon]:
    """The daemon with a and b firing in one group since T0, notified once (at T0 + 30 s)."""
    config = write_config(tmp_path, notify_config, server=server_config)
    async with Daemon(config, ManualClock(T0)) as daemon:
        await push(daemon, pushed(DB_A), pushed(DB_B))
        await advance(daemon, 60)
        yield daemon


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    secret_file = tmp_path / "secrets" / "pagerduty"
    secret_file.parent.mkdir()
    secret_file.write_text(PD_SECRET + "\n")
    async with (
        pagerduty_fake() as pagerduty,
        fake_slack(token=BOT_TOKEN) as slack,
        aiohttp.ClientSession() as http,
        running(tmp_path, notify(pagerduty, slack), server()) as daemon,
    ):
        scene = Scene(daemon, pagerduty, slack, secret_file, http)
        assert scene.pagerduty_actions() == ["trigger"]
        assert [r.path for r in slack.requests] == ["/api/chat.postMessage"]
        yield scene


# ---------------------------------------------------------------- signing as documented


def pagerduty_signature(body: bytes, *secrets: str) -> dict[str, str]:
    """PagerDuty's header: `v1=` and the hex HMAC-SHA256 of the body, one per secret."""
    signatures = ["v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets]
    return {"Content-Type": "application/json", "X-PagerDuty-Signature": ",".join(signatures)}


def pagerduty_event(event_type: str, incident_key: str = DB_GID, agent: str = "Earline") -> bytes:
    """A v3 webhook payload as PagerDuty's documentation shows one."""
    user = {
        "html_url": "https://acme.pagerduty.com/users/PXPGF42",
        "id": "PXPGF42",
        "self": "https://api.pagerduty.com/users/PXPGF42",
        "summary": agent,
        "type": "user_reference",
    }
    incident = {
        "id": "PT4KHLK",
        "type": "incident",
        "self": "https://api.pagerduty.com/incidents/PT4KHLK",
        "html_url": "https://acme.pagerduty.com/incidents/PT4KHLK",
        "number": 1234,
        "status": event_type.removeprefix("incident."),
        "incident_key": incident_key,
        "created_at": "2023-11-14T22:13:50Z",
        "title": "[FIRING:2] DbDown",
        "service": {"id": "PIJ90N7", "summary": "Databases", "type": "service_reference"},
        "assignees": [user],
        "urgency": "high",
        "resolve_reason": None,
    }
    event = {
        "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": "2023-11-14T22:15:00.000Z",
        "agent": user,
        "client": None,
        "data": incident,
    }
    return json.dumps({"event": event}).encode()


def slack_signature(body: bytes, timestamp: float, secret: str = SLACK_SECRET) -> dict[str, str]:
    """Slack's headers: `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    stamp = str(int(timestamp))
    basestring = f"v0:{stamp}:".encode() + body
    digest = hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def buttons(post: SlackRequest) -> dict[str, dict[str, Any]]:
    """The buttons of our blocks in a posted or updated message, by action_id."""
    return {
        element["action_id"]: element
        for attachment in post.json["attachments"]
        for block in attachment.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    }


def notes(post: SlackRequest) -> list[str]:
    return [
        element["text"]
        for attachment in post.json["attachments"]
        for block in attachment.get("blocks", [])
        if block["type"] == "context"
        for element in block["elements"]
    ]


def click(button: dict[str, Any], message_ts: str) -> bytes:
    """Slack's interactivity request for a click on `button` (form-encoded `payload=`), with
    the block_actions fields Slack documents."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": "C0ALERTS"},
        "trigger_id": "1234.5678.abcd",
        "team": {"id": "T0TEAM", "domain": "acme"},
        "channel": {"id": "C0ALERTS", "name": "alerts"},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "alerting.actions",
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": "1700000061.000100",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


# ---------------------------------------------------------------- acks made here go out


async def test_a_group_acknowledged_here_is_acknowledged_in_pagerduty_and_slack(
    scene: Scene,
) -> None:
    await scene.daemon.post(f"/api/v1/alerts/{FP_A}/acknowledge", {})
    await scene.settled()
    assert scene.pagerduty_actions() == ["trigger"]  # b still needs someone
    assert len(scene.slack.requests) == 1
    await scene.daemon.post(f"/api/v1/alerts/{FP_B}/acknowledge", {"by": "bob"})
    await scene.settled()
    acknowledge = scene.pagerduty.received[-1]
    assert acknowledge.status == 202  # the fake checked it against the documented shape
    assert acknowledge.event == {
        "routing_key": ROUTING_KEY,
        "dedup_key": DB_GID,
        "event_action": "acknowledge",
    }
    post, update = scene.slack.requests
    assert update.path == UPDATE
    assert (update.json["channel"], update.json["ts"]) == ("C0ALERTS", scene.message_ts)
    assert update.json["attachments"][0] == post.json["attachments"][0]  # the message stays
    assert notes(update) == [":white_check_mark: Acknowledged by *bob*"]
    assert list(buttons(update)) == [SILENCE_ACTION]  # acknowledged: one button left


async def test_bot_messages_carry_the_buttons_while_the_group_fires(scene: Scene) -> None:
    (post,) = scene.slack.requests
    first, ours = post.json["attachments"]
    assert first["title"] == "[FIRING:2] DbDown"
    assert ours["color"] == first["color"]
    assert buttons(post) == {
        ACKNOWLEDGE_ACTION: {
            "type": "button",
            "text": {"type": "plain_text", "text": "Acknowledge"},
            "action_id": ACKNOWLEDGE_ACTION,
            "value": DB_GID,
            "style": "primary",
        },
        SILENCE_ACTION: {
            "type": "button",
            "text": {"type": "plain_text", "text": "Silence 1h"},
            "action_id": SILENCE_ACTION,
            "value": DB_GID,
        },
    }
    await push(scene.daemon, pushed(DB_A, T0, NOW), pushed(DB_B, T0, NOW))
    await advance(scene.daemon, 300)
    resolve, reply = scene.slack.requests[1:]
    assert resolve.path == UPDATE and resolve.json["attachments"][0]["color"] == "good"
    assert len(resolve.json["attachments"]) == 1  # nothing left to act on
    assert reply.json["thread_ts"] == scene.message_ts


# ---------------------------------------------------------------- PagerDuty's webhook


async def pagerduty_webhook(scene: Scene, event_type: str, **options: str) -> tuple[int, Any]:
    body = pagerduty_event(event_type, **options)
    return await scene.call(
        "/api/v1/webhooks/pagerduty", body, pagerduty_signature(body, PD_SECRET)
    )


async def test_pagerduty_acknowledges_and_unacknowledges_groups_here(scene: Scene) -> None:
    assert await pagerduty_webhook(scene, "incident.acknowledged") == (
        200,
        {
            "status": "success",
            "data": {"event_type": "incident.acknowledged", "outcome": "acknowledged"},
        },
    )
    await scene.settled()
    assert (await scene.group())["acknowledged"] is True
    assert await scene.acks() == [("pagerduty:Earline", "acknowledged in PagerDuty")]
    assert scene.pagerduty_actions() == ["trigger"]  # PagerDuty knows: not told again
    assert notes(scene.slack.requests[-1]) == [
        ":white_check_mark: Acknowledged by *pagerduty:Earline*"
    ]

    _, body = await pagerduty_webhook(scene, "incident.acknowledged", agent="Someone")
    assert body["data"]["outcome"] == "already acknowledged"  # whose ack it is stays
    _, body = await pagerduty_webhook(scene, "incident.unacknowledged", agent="Timeout")
    assert body["data"]["outcome"] == "unacknowledged"
    assert (await scene.group())["acknowledged"] is False
    _, body = await pagerduty_webhook(scene, "incident.resolved")
    assert body["data"]["outcome"] == "acknowledged"  # only the alerts' source resolves them
    assert await scene.acks() == [
        ("pagerduty:Earline", "acknowledged in PagerDuty"),
        ("pagerduty:Earline", "resolved in PagerDuty"),
    ]
    _, history = await scene.daemon.get(f"/api/v1/alerts/{FP_A}/history")
    unacked = [e for e in history["data"]["events"] if e["kind"] == "unacknowledged"]
    assert [e["by"] for e in unacked] == ["pagerduty:Timeout"]


@pytest.mark.parametrize(
    ("event_type", "key"),
    [
        ("incident.acknowledged", "f" * 64),  # another tool's incident
        ("incident.acknowledged", ""),
        ("incident.triggered", DB_GID),
        ("incident.annotated", DB_GID),
        ("pagey.ping", DB_GID),
    ],
)
async def test_other_pagerduty_events_are_taken_and_ignored(
    scene: Scene, event_type: str, key: str
) -> None:
    # A 4xx would count as a failed delivery, and PagerDuty turns a failing subscription off.
    assert await pagerduty_webhook(scene, event_type, incident_key=key) == (
        200,
        {"status": "success", "data": {"event_type": event_type, "outcome": "ignored"}},
    )
    assert (await scene.group())["acknowledged"] is False


async def test_a_rotated_secret_is_accepted_in_either_signature(scene: Scene) -> None:
    body = pagerduty_event("incident.acknowledged")
    both = pagerduty_signature(body, "the-old-one", PD_SECRET)
    assert (await scene.call("/api/v1/webhooks/pagerduty", body, both))[0] == 200
    assert (await scene.group())["acknowledged"] is True


async def test_the_secret_file_is_read_at_each_request(scene: Scene) -> None:
    body = pagerduty_event("incident.acknowledged")
    scene.secret_file.write_text("\n")  # emptied: nothing can be verified
    status, answer = await scene.call("/api/v1/webhooks/pagerduty", body, {})
    assert (status, answer["error"]) == (
        401,
        "not signed by PagerDuty: the configured secret is empty",
    )
    scene.secret_file.write_text("rotated\n")
    old = pagerduty_signature(body, PD_SECRET)
    assert (await scene.call("/api/v1/webhooks/pagerduty", body, old))[0] == 401
    new = pagerduty_signature(body, "rotated")
    assert (await scene.call("/api/v1/webhooks/pagerduty", body, new))[0] == 200
    scene.secret_file.unlink()  # unreadable: a 5xx, which PagerDuty retries
    status, answer = await scene.call("/api/v1/webhooks/pagerduty", body, new)
    assert (status, answer["error"]) == (500, "cannot read the PagerDuty secret")


def tampered(body: bytes) -> bytes:
    return body.replace(b"Earline", b"Mallory")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda body: {}, "no X-PagerDuty-Signature"),
        (lambda body: pagerduty_signature(body, "not-the-secret"), "no signature matches"),
        (lambda body: pagerduty_signature(tampered(body), PD_SECRET), "no signature matches"),
        (lambda body: {"X-PagerDuty-Signature": "v1="}, "no signature matches"),
        (lambda body: {"X-PagerDuty-Signature": "v0=" + pagerduty_signature(body, PD_SECRET)[
            "X-PagerDuty-Signature"][3:]}, "no signature matches"),
    ],
)  # fmt: skip
async def test_unsigned_pagerduty_requests_are_refused_and_logged(
    scene: Scene, caplog: pytest.LogCaptureFixture, headers: Any, reason: str
) -> None:
    body = pagerduty_event("incident.acknowledged")
    with caplog.at_level(logging.WARNING, logger="alerting.api.callbacks"):
        status, answer = await scene.call("/api/v1/webhooks/pagerduty", body, headers(body))
    assert (status, answer) == (
        401,
        {
            "status": "error",
            "errorType": "unauthorized",
            "error": f"not signed by PagerDuty: {reason}",
        },
    )
    assert [r.getMessage() for r in caplog.records] == [f"PagerDuty callback refused: {reason}"]
    assert PD_SECRET not in caplog.text
    assert (await scene.group())["acknowledged"] is False
    assert await scene.acks() == []


# ---------------------------------------------------------------- Slack's buttons


async def slack_click(
    scene: Scene, action: str, *, at: float = NOW, secret: str = SLACK_SECRET
) -> tuple[int, Any]:
    post = scene.slack.requests[0]
    body = click(buttons(post)[action], scene.message_ts)
    return await scene.call("/api/v1/webhooks/slack", body, slack_signature(body, at, secret))


async def test_acknowledge_button(scene: Scene) -> None:
    assert await slack_click(scene, ACKNOWLEDGE_ACTION) == (
        200,
        {"status": "success", "data": {"done": ["acknowledged"]}},
    )
    await scene.settled()
    assert (await scene.group())["acknowledged"] is True
    assert await scene.acks() == [("slack:alice", "acknowledged in Slack")]
    update = scene.slack.requests[-1]
    assert update.path == UPDATE and update.json["ts"] == scene.message_ts
    assert notes(update) == [":white_check_mark: Acknowledged by *slack:alice*"]
    assert scene.pagerduty_actions() == ["trigger", "acknowledge"]
    # Withdrawn elsewhere: the buttons come back, with a word on who withdrew it.
    await scene.daemon.request("DELETE", f"/api/v1/groups/{DB_GID}/acknowledge")
    await scene.settled()
    update = scene.slack.requests[-1]
    assert notes(update) == [":arrow_right_hook: Acknowledgement withdrawn by *anonymous*"]
    assert list(buttons(update)) == [ACKNOWLEDGE_ACTION, SILENCE_ACTION]


async def test_silence_button(scene: Scene) -> None:
    assert await slack_click(scene, SILENCE_ACTION) == (
        200,
        {"status": "success", "data": {"done": ["silenced"]}},
    )
    await scene.settled()
    _, (silence,) = await scene.daemon.get("/api/v2/silences")
    assert (silence["createdBy"], silence["comment"]) == ("slack:alice", "silenced in Slack")
    assert silence["matchers"] == [
        {"name": "alertname", "value": "DbDown", "isRegex": False, "isEqual": True}
    ]
    assert (silence["startsAt"], silence["endsAt"]) == (
        format_api_time(NOW),
        format_api_time(NOW + 3600),
    )
    (note,) = notes(scene.slack.requests[-1])
    assert note.startswith(":no_bell: Silenced by *slack:alice* until <!date^1700003660^")
    assert list(buttons(scene.slack.requests[-1])) == [ACKNOWLEDGE_ACTION]


async def test_a_click_within_five_minutes_of_our_clock_counts(scene: Scene) -> None:
    assert (await slack_click(scene, ACKNOWLEDGE_ACTION, at=NOW - 299))[0] == 200


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"at": NOW - 301}, "X-Slack-Request-Timestamp is more than five minutes off"),
        ({"at": NOW + 301}, "X-Slack-Request-Timestamp is more than five minutes off"),
        ({"secret": "not-the-secret"}, "the signature does not match"),
    ],
)
async def test_stale_or_wrongly_signed_clicks_are_refused(
    scene: Scene, caplog: pytest.LogCaptureFixture, change: dict[str, Any], reason: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="alerting.api.callbacks"):
        status, answer = await slack_click(scene, ACKNOWLEDGE_ACTION, **change)
    assert (status, answer["error"]) == (401, f"not signed by Slack: {reason}")
    assert [r.getMessage() for r in caplog.records] == [f"Slack callback refused: {reason}"]
    assert SLACK_SECRET not in caplog.text
    assert (await scene.group())["acknowledged"] is False


async def test_tampered_or_unsigned_clicks_are_refused(scene: Scene) -> None:
    post = scene.slack.requests[0]
    body = click(buttons(post)[ACKNOWLEDGE_ACTION], scene.message_ts)
    signed = slack_signature(body, NOW)
    forged = body.replace(b"alice", b"mallory")
    assert (await scene.call("/api/v1/webhooks/slack", forged, signed))[0] == 401
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (await scene.call("/api/v1/webhooks/slack", body, unsigned))[0] == 401
    assert (await scene.group())["acknowledged"] is False
    await scene.settled()
    assert len(scene.slack.requests) == 1


# ---------------------------------------------------------------- configuration and auth


async def test_without_secrets_the_callbacks_are_off_and_messages_have_no_buttons(
    tmp_path: Path,
) -> None:
    async with (
        pagerduty_fake() as pagerduty,
        fake_slack(token=BOT_TOKEN) as slack,
        running(
            tmp_path, notify(pagerduty, slack), {"listen": f"127.0.0.1:{free_port()}"}
        ) as daemon,
    ):
        body = pagerduty_event("incident.acknowledged")
        assert await daemon.request("POST", "/api/v1/webhooks/pagerduty", raw=body) == (
            404,
            {
                "status": "error",
                "errorType": "not_found",
                "error": "the PagerDuty callback is off: configure server.callbacks.pagerduty",
            },
        )
        status, answer = await daemon.request("POST", "/api/v1/webhooks/slack", raw=b"payload=")
        assert (status, answer["error"]) == (
            404,
            "the Slack callback is off: configure server.callbacks.slack",
        )
        (post,) = slack.requests
        assert len(post.json["attachments"]) == 1  # Alertmanager's message, nothing added


async def test_callbacks_need_no_token_where_everything_else_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WRITER_TOKEN", "wr1te-t0ken")
    auth = {"tokens": [{"name": "ci", "token_env": "TEST_WRITER_TOKEN", "role": "write"}]}
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pagerduty").write_text(PD_SECRET)
    async with (
        pagerduty_fake() as pagerduty,
        fake_slack(token=BOT_TOKEN) as slack,
        aiohttp.ClientSession() as http,
    ):
        # The scene's pushes carry no token: set it up with one, through the same API.
        config = write_config(tmp_path, notify(pagerduty, slack), server=server(auth=auth))
        async with Daemon(config, ManualClock(T0)) as daemon:
            scene = Scene(daemon, pagerduty, slack, tmp_path / "secrets" / "pagerduty", http)
            alerts = json.dumps([pushed(DB_A), pushed(DB_B)]).encode()
            json_type = {"Content-Type": "application/json"}
            assert (await scene.call("/api/v2/alerts", alerts, json_type))[0] == 401
            assert (await scene.call("/api/v2/alerts", alerts, json_type, "wr1te-t0ken"))[0] == 200
            await advance(daemon, 60)
            body = pagerduty_event("incident.acknowledged")
            status, answer = await scene.call(
                "/api/v1/webhooks/pagerduty", body, pagerduty_signature(body, PD_SECRET)
            )
            assert (status, answer["data"]["outcome"]) == (200, "acknowledged")
            status, answer = await scene.call("/api/v1/webhooks/pagerduty", body, json_type)
            assert (status, answer["error"]) == (
                401,
                "not signed by PagerDuty: no X-PagerDuty-Signature",
            )
            assert (await scene.call("/api/v1/webhooks/slack", b"payload=", {}))[0] == 401
