"""The webhook integration: its config against amtool, its message against a real Alertmanager
0.25 byte for byte, and its deliveries against a real loopback receiver."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from alerting.channels import ChannelContext, DeliveryError, Notification
from alerting.channels.webhook import (
    USER_AGENT,
    WebhookChannel,
    WebhookSpec,
    idempotency_key,
    webhook_channels,
    webhook_payload,
)
from alerting.config import GlobalConfig
from alerting.configbase import HTTPClientConfig
from alerting.httpclient import http_settings, new_session
from alerting.model import Alert
from alerting.template.alertmanager import load_templates
from tests.channels.support import amtool_check, starting_soon
from tests.channels.test_httpclient import (
    PKI,
    Receiver,
    basic,
    make_pki,
    server_context,
    start_receiver,
)
from tests.peers.alertmanager import AlertmanagerServer
from tests.peers.ports import free_port

# ---------------------------------------------------------------- config, with amtool as oracle

# (webhook_configs entry, whether our message must equal Alertmanager's)
SPEC_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"url": "http://x/y"}, True),
    ({"url": "HTTPS://hooks.example.com:8443/a?b=c#d"}, True),
    ({"url": "http://u:p@[::1]:80/"}, True),
    ({"url": "http://x", "send_resolved": False, "max_alerts": 3}, True),
    ({"url": "http://x", "http_config": {"bearer_token": "t"}}, True),
    ({"send_resolved": True}, True),  # missing URL in webhook config
    ({"url": None}, True),
    ({"url": "http://x", "http_config": None}, True),  # inherits global.http_config
    ({"url": ""}, True),
    ({"url": "ftp://x/y"}, True),
    ({"url": "/relative"}, True),
    ({"url": "http:opaque"}, True),
    ({"url": "http://"}, True),
    ({"url": "http://x y"}, True),
    ({"url": "  http://x"}, True),
    ({"url": "http://x/%zz"}, True),
    ({"url": "http://x:port"}, True),
    ({"url": "http://x/\x01"}, True),
    ({"url": "http://u ser@x"}, True),
    ({"url": "http://[::1/"}, True),
    ({"url": ":x"}, True),
    ({"url": 5}, False),  # Go reads "5"; pydantic will not turn a number into a URL
    ({"url_file": "/etc/hook-url"}, False),  # Alertmanager 0.26's; 0.25 does not know it
    ({"url": "http://x", "max_alerts": -1}, False),
    ({"url": "http://x", "max_alerts": "3"}, False),
    ({"url": "http://x", "send_resolved": "yes"}, False),
    ({"url": "http://x", "http_config": {"bearer_token": "t", "basic_auth": {"username": "u"}}}, False),
    ({"url": "http://x", "unknown": 1}, False),
]  # fmt: skip


def amtool_verdict(entry: dict[str, Any], directory: Path) -> str | None:
    return amtool_check("webhook_configs", entry, directory)


def our_verdict(entry: dict[str, Any]) -> str | None:
    try:
        WebhookSpec.model_validate(entry)
    except ValidationError as exc:
        return exc.errors()[0]["msg"].removeprefix("Value error, ")
    return None


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed")
@pytest.mark.parametrize(("entry", "same_message"), SPEC_CASES, ids=repr)
def test_spec_accepts_what_amtool_accepts(
    entry: dict[str, Any], same_message: bool, tmp_path: Path
) -> None:
    theirs = amtool_verdict(entry, tmp_path)
    ours = our_verdict(entry)
    assert (ours is None) == (theirs is None), (ours, theirs)
    if same_message:
        assert ours == theirs


def test_spec_defaults() -> None:
    spec = WebhookSpec.model_validate({"url": "http://x"})
    assert (spec.send_resolved, spec.http_config, spec.max_alerts) == (True, None, 0)


# ---------------------------------------------------------------- the message, against Alertmanager

RECEIVER = "team.a+b"  # Alertmanager shows it through regexp.QuoteMeta: team\.a\+b
TRICKY = "line1\nline2\ttab \\ back \"q\" 'single' \x01 \x1f \x7f \u2028 \u2029 <b>&amp;</b>"
POSTED: list[dict[str, Any]] = [
    {
        "labels": {
            "alertname": "Tricky",
            "team": 'a"b<&>',
            "instance": "ünïcødé 日本 🚨",
            "detail": TRICKY,
        },
        "annotations": {"summary": "<b>bold</b> & more", "description": "é\nè"},
        "startsAt": "2023-11-14T00:00:00.123Z",
        "generatorURL": "http://prom.example:9090/graph?g0.expr=up%3D%3D0&g0.tab=1",
    },
    {
        "labels": {"alertname": "Tricky", "team": 'a"b<&>', "instance": "b"},
        "annotations": {"summary": "<b>bold</b> & more"},
        "startsAt": "2023-11-14T00:00:01.000456Z",
    },
]
ENDS_AT = ["2023-11-14T00:10:00.5Z", "2023-11-14T00:20:00Z"]


def unix(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


class Capture:
    """Alertmanager's webhook requests, one queue per path."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[tuple[dict[str, str], bytes, float]]] = {}

    def queue(self, path: str) -> asyncio.Queue[tuple[dict[str, str], bytes, float]]:
        return self.queues.setdefault(path, asyncio.Queue())

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.queue(request.path).put_nowait((dict(request.headers), body, time.time()))
        return web.Response(status=200)

    async def next(self, path: str) -> tuple[dict[str, str], bytes, float]:
        return await asyncio.wait_for(self.queue(path).get(), timeout=20)


@pytest.fixture
async def capture() -> AsyncIterator[tuple[Capture, str]]:
    recorder = Capture()
    app = web.Application()
    app.router.add_post("/{name}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield recorder, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def alertmanager_config(base: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "team"],
            # Real time cannot be avoided with the real Alertmanager; 1s is its smallest step
            # that still lets one POST's alerts land in one group before the first flush.
            "group_wait": "1s",
            "group_interval": "1s",
        },
        "receivers": [
            {
                "name": RECEIVER,
                "webhook_configs": [
                    {"url": f"{base}/full"},
                    {"url": f"{base}/truncated", "max_alerts": 1},
                ],
            }
        ],
    }


async def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{url}/api/v2/alerts", json=alerts) as response,
    ):
        assert response.status == 200, await response.text()


def our_alerts(resolved: set[int], now: float, first: list[str]) -> dict[str, Alert]:
    """The posted alerts by fingerprint, as dispatch hands them on at `now`: the firing ones as
    first posted (starting at `first`), the resolved ones as posted with their end."""
    out: dict[str, Alert] = {}
    for i, posted in enumerate(POSTED):
        # A firing alert's end is in the future (Alertmanager sets now + resolve_timeout);
        # the message must hide it.
        ends_at = unix(ENDS_AT[i]) if i in resolved else now + 300
        alert = Alert(
            labels=posted["labels"],
            annotations=posted["annotations"],
            starts_at=unix(posted["startsAt"] if i in resolved else first[i]),
            ends_at=ends_at,
            generator_url=posted.get("generatorURL", ""),
        )
        out[alert.fingerprint] = alert
    return out


async def test_payload_bytes_match_alertmanager(
    alertmanager_peer: Callable[..., AlertmanagerServer],
    capture: tuple[Capture, str],
) -> None:
    recorder, base = capture
    am = await asyncio.to_thread(alertmanager_peer, alertmanager_config(base))
    # First posted starting soon; the ends posted later replace them (their ranges do not meet).
    first = starting_soon([0.123, 1.000456])
    phases: list[tuple[set[int], list[dict[str, Any]]]] = [
        (set(), [{**p, "startsAt": first[i]} for i, p in enumerate(POSTED)]),  # both firing
        ({0}, [{**POSTED[0], "endsAt": ENDS_AT[0]}]),  # one resolved: the group still fires
        ({0, 1}, [{**POSTED[1], "endsAt": ENDS_AT[1]}]),  # all resolved
    ]
    statuses: list[str] = []
    first_full = b""
    for resolved, post in phases:
        await post_alerts(am.url, post)
        headers, full, now = await recorder.next("/full")
        _, truncated, _ = await recorder.next("/truncated")
        document = json.loads(full)
        statuses.append(f"{document['status']} {len(document['alerts'])}")
        first_full = first_full or full
        assert headers["Content-Type"] == "application/json"
        assert USER_AGENT.startswith(headers["User-Agent"] + " ")
        mine = our_alerts(resolved, now, first)
        notification = Notification(
            receiver=RECEIVER,
            group_key=document["groupKey"],  # the routing tree's business, not the channel's
            group_labels={"alertname": "Tricky", "team": 'a"b<&>'},
            alerts=[mine[alert["fingerprint"]] for alert in document["alerts"]],
            now=now,
            external_url=document["externalURL"],
        )
        assert webhook_payload(notification) == full
        assert b'"receiver":"team\\\\.a\\\\+b"' in full
        assert webhook_payload(notification, max_alerts=1) == truncated
    # The tricky characters did reach Alertmanager's encoder.
    for escaped in (b"\\u003cb\\u003e", b"\\u0026", b"\\u2028", b"\\u0001", b"\\n", "🚨".encode()):
        assert escaped in first_full, escaped
    # Alertmanager drops a resolved alert once notified, so the last message holds one alert.
    assert statuses == ["firing 2", "firing 2", "resolved 1"]


# ---------------------------------------------------------------- the message, unit cases


def notification(
    alerts: list[Alert], now: float = 1_700_000_000.0, group_key: str = '{}:{a="1"}'
) -> Notification:
    return Notification(
        receiver="r",
        group_key=group_key,
        group_labels={"a": "1"},
        alerts=alerts,
        now=now,
        external_url="http://am.example",
    )


FIRING = Alert({"a": "1", "b": "x"}, {"s": "1"}, starts_at=1_699_999_000.0)
FIRING_2 = Alert({"a": "1", "b": "y"}, {"s": "2"}, starts_at=1_699_999_500.25)
RESOLVED = Alert(
    {"a": "1", "b": "z"}, {"s": "1"}, starts_at=1_699_000_000.0, ends_at=1_699_999_999.0
)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        # Go 1.19 writes \b and \f as \u0008 and \u000c and leaves DEL raw.
        ("\b\f\x7f\x00\x1f", b'"\\u0008\\u000c\x7f\\u0000\\u001f"'),
        ("\\b \\f \\\b \\\\f", b'"\\\\b \\\\f \\\\\\u0008 \\\\\\\\f"'),  # backslash, then b
        ("<a href='x'>&</a>", b"\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\""),
        ("\u2028\u2029\u2027", b'"\\u2028\\u2029\xe2\x80\xa7"'),
        ("\ud800é", b'"\\ufffd\xc3\xa9"'),  # invalid UTF-8 becomes U+FFFD
        ('"/\n\r\t', b'"\\"/\\n\\r\\t"'),
    ],
)
def test_go_json_strings(text: str, encoded: bytes) -> None:
    body = webhook_payload(notification([Alert({"a": "1"}, {"v": text})]))
    assert b'"annotations":{"v":' + encoded + b"}" in body


def test_zero_start_time_is_go_zero_time() -> None:
    body = webhook_payload(notification([Alert({"a": "1"}, starts_at=0.0)]))
    assert b'"startsAt":"0001-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z"' in body


def test_truncation_counts_dropped_alerts_and_recomputes_common_sets() -> None:
    document = json.loads(webhook_payload(notification([FIRING, FIRING_2, RESOLVED]), 2))
    assert [a["labels"]["b"] for a in document["alerts"]] == ["x", "y"]
    assert document["truncatedAlerts"] == 1
    assert document["commonLabels"] == {"a": "1"}
    assert document["commonAnnotations"] == {}
    one = json.loads(webhook_payload(notification([RESOLVED, FIRING]), 1))
    assert (one["status"], one["truncatedAlerts"]) == ("resolved", 1)
    assert one["commonAnnotations"] == {"s": "1"}
    assert json.loads(webhook_payload(notification([FIRING]), 5))["truncatedAlerts"] == 0


def test_resolved_is_judged_at_notification_time() -> None:
    document = json.loads(webhook_payload(notification([RESOLVED], now=1_699_999_998.0)))
    assert document["status"] == "firing"
    assert document["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    document = json.loads(webhook_payload(notification([RESOLVED], now=1_699_999_999.0)))
    assert document["status"] == "resolved"
    assert document["alerts"][0]["endsAt"] == "2023-11-14T22:13:19Z"


def test_encodings_kept_from_flush_to_flush_change_nothing_sent() -> None:
    """A group's alerts are encoded once and reused; the message must not show it, also when
    one of them resolves between flushes and when a new one joins in the middle."""
    alerts = [replace(FIRING), replace(RESOLVED)]  # copies: nothing kept on them yet
    for now in (1_699_999_998.0, 1_699_999_999.0):  # all firing, then one resolved
        for group in (alerts, [alerts[0], replace(FIRING_2), alerts[1]]):
            kept = replace(notification(group, now=now), keep_encodings=True)
            assert webhook_payload(kept) == webhook_payload(
                notification(list(map(replace, group)), now=now)
            )
    assert alerts[1].encodings is not None
    assert set(alerts[1].encodings) == {"webhook/firing", "webhook/resolved"}


def test_idempotency_key() -> None:
    key = idempotency_key(notification([FIRING, RESOLVED]))
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    # Fixed across processes and releases: a replay after a restart must carry the same key.
    assert key == "67ecc46a9004e92b3cafbb3123c07c8a"
    assert idempotency_key(notification([RESOLVED, FIRING])) == key
    others = {
        idempotency_key(notification([FIRING, RESOLVED], now=1_700_000_100.0)),  # a repeat
        idempotency_key(notification([FIRING])),
        idempotency_key(notification([FIRING, FIRING_2, RESOLVED])),
        idempotency_key(notification([FIRING, RESOLVED], now=1_699_999_998.0)),  # both firing
        idempotency_key(notification([FIRING, RESOLVED], group_key='{}:{a="2"}')),
    }
    assert key not in others
    assert len(others) == 5


# ---------------------------------------------------------------- deliveries


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server, runner = await start_receiver()
    yield server
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_session(timeout=5) as client:
        yield client


def channel(
    url: str, session: aiohttp.ClientSession, http: dict[str, Any] | None = None, **spec: Any
) -> WebhookChannel:
    parsed = WebhookSpec.model_validate({"url": url, **spec})
    cfg = HTTPClientConfig.model_validate(http or {})
    return WebhookChannel(parsed, session=session, http_settings=http_settings(cfg))


def respond_with(status: int, body: str = "") -> Callable[[web.Request], Any]:
    async def respond(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body)

    return respond


async def test_post_carries_the_message_and_headers(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    sent = notification([FIRING, RESOLVED])
    await channel(receiver.url + "/hook", session, max_alerts=1).send(sent)
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.url == receiver.url + "/hook"
    assert request.body == webhook_payload(sent, max_alerts=1)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Idempotency-Key"] == idempotency_key(sent)
    assert "Authorization" not in request.headers


async def test_idempotency_key_is_stable_across_retries(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.respond = respond_with(503)
    webhook = channel(receiver.url + "/hook", session)
    first, reordered = notification([FIRING, RESOLVED]), notification([RESOLVED, FIRING])
    for attempt in (first, first, reordered):
        with pytest.raises(DeliveryError):
            await webhook.send(attempt)
    changed = notification([FIRING])
    receiver.respond = None
    await webhook.send(changed)
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    # `reordered` is the same flush with its alerts in another order: the same notification.
    assert keys[0] == keys[1] == keys[2] != keys[3]


@pytest.mark.parametrize(
    ("status", "body", "retryable", "message"),
    [
        (200, "", None, ""),
        (201, "created", None, ""),
        (204, "", None, ""),
        (500, "boom", True, "unexpected status code 500: boom"),
        (503, "", True, "unexpected status code 503"),
        (404, "not here\n", False, "unexpected status code 404: not here"),
        (400, "bad", False, "unexpected status code 400: bad"),
        (429, "slow down", False, "unexpected status code 429: slow down"),
    ],
)
async def test_status_classification(
    receiver: Receiver,
    session: aiohttp.ClientSession,
    status: int,
    body: str,
    retryable: bool | None,
    message: str,
) -> None:
    receiver.respond = respond_with(status, body)
    webhook = channel(receiver.url + "/hook", session)
    if retryable is None:
        await webhook.send(notification([FIRING]))
        return
    with pytest.raises(DeliveryError) as failed:
        await webhook.send(notification([FIRING]))
    assert (failed.value.retryable, str(failed.value)) == (retryable, message)


async def test_error_body_excerpt_is_bounded(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.respond = respond_with(404, "x" * 100_000)
    with pytest.raises(DeliveryError) as failed:
        await channel(receiver.url + "/hook", session).send(notification([FIRING]))
    assert str(failed.value) == "unexpected status code 404: " + "x" * 512 + " ..."


async def test_redirect_not_followed_is_final(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    receiver.respond = redirect
    webhook = channel(receiver.url + "/hook", session, {"follow_redirects": False})
    with pytest.raises(DeliveryError, match="unexpected status code 302") as failed:
        await webhook.send(notification([FIRING]))
    assert not failed.value.retryable
    assert len(receiver.requests) == 1


async def test_connection_refused_is_retryable(session: aiohttp.ClientSession) -> None:
    url = f"http://alice:s3cret@127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError) as failed:
        await channel(url, session).send(notification([FIRING]))
    assert failed.value.retryable
    message = str(failed.value)
    assert message.startswith(f'Post "http://alice:xxxxx@127.0.0.1:{url.split(":")[3]}')
    assert "s3cret" not in message


async def test_timeout_is_retryable(receiver: Receiver) -> None:
    released = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await released.wait()
        return web.Response()

    receiver.respond = stall
    async with new_session(timeout=0.2) as client:
        with pytest.raises(DeliveryError, match="timeout") as failed:
            await channel(receiver.url + "/hook", client).send(notification([FIRING]))
    released.set()
    assert failed.value.retryable


async def test_unreadable_credentials_file_is_retryable(
    receiver: Receiver, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    http = {"authorization": {"credentials_file": str(tmp_path / "token")}}
    webhook = channel(receiver.url + "/hook", session, http)
    with pytest.raises(DeliveryError, match="unable to read file") as failed:
        await webhook.send(notification([FIRING]))
    assert failed.value.retryable
    (tmp_path / "token").write_text("tok\n")  # appears later, e.g. mounted by a sidecar
    await webhook.send(notification([FIRING]))
    assert receiver.requests[0].headers["Authorization"] == "Bearer tok"


async def test_factory_inherits_global_http_config(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    specs = [
        WebhookSpec.model_validate({"url": receiver.url + "/inherits"}),
        WebhookSpec.model_validate(
            {
                "url": receiver.url + "/own",
                "http_config": {"basic_auth": {"username": "u", "password": "p"}},
            }
        ),
        WebhookSpec.model_validate(
            {"url": receiver.url + "/token", "http_config": {"authorization": {"type": "Token", "credentials": "c"}}}
        ),
    ]  # fmt: skip
    global_ = GlobalConfig.model_validate({"http_config": {"bearer_token": "global"}})
    ctx = ChannelContext("r", session, load_templates(), global_, NoState())
    for webhook in webhook_channels(specs, ctx):
        assert webhook.kind == "webhook"
        await webhook.send(notification([FIRING]))
        await webhook.close()  # the shared session stays open for the others
    seen = {r.url.rsplit("/", 1)[1]: r.headers["Authorization"] for r in receiver.requests}
    assert seen == {"inherits": "Bearer global", "own": basic("u", "p"), "token": "Token c"}


class NoState:
    async def get(self, key: str) -> str | None:
        return None

    async def put(self, key: str, value: str | None) -> None:
        raise AssertionError("webhooks keep no state")


async def test_send_resolved_is_for_the_pipeline(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    webhook = channel(receiver.url + "/hook", session, send_resolved=False)
    assert webhook.send_resolved is False
    await webhook.send(notification([RESOLVED]))  # the channel sends what it is given
    assert json.loads(receiver.requests[0].body)["status"] == "resolved"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def test_https_with_ca_file(session: aiohttp.ClientSession, pki: PKI) -> None:
    server, runner = await start_receiver(server_context(pki.server_cert, pki.server_key))
    try:
        url = server.url + "/hook"
        with pytest.raises(DeliveryError, match="certificate verify failed") as failed:
            await channel(url, session).send(notification([FIRING]))
        assert failed.value.retryable
        await channel(url, session, {"tls_config": {"ca_file": str(pki.ca)}}).send(
            notification([FIRING])
        )
        assert len(server.requests) == 1
    finally:
        await runner.cleanup()
