"""The PagerDuty integration: its config against amtool, its events against a real Alertmanager
0.25, and its deliveries against a loopback PagerDuty Events API v2 (tests/peers/pagerduty.py)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from alerting.channels import ChannelContext, DeliveryError, Notification
from alerting.channels.pagerduty import (
    DEFAULT_DETAILS,
    MAX_EVENT_BYTES,
    PagerdutyChannel,
    PagerdutySpec,
    dedup_key,
    encode_event,
    pagerduty_channels,
    pagerduty_problems,
    retry_after,
    truncate,
)
from alerting.channels.webhook import USER_AGENT
from alerting.clock import ManualClock
from alerting.config import GlobalConfig
from alerting.httpclient import new_session
from alerting.model import Alert
from alerting.notify.retry import DeliveryFailed, deliver
from alerting.template.alertmanager import load_templates, notification_data
from tests.channels.support import MemoryState, amtool_check, starting_soon
from tests.peers.alertmanager import AlertmanagerServer
from tests.peers.pagerduty import (
    PagerdutyFake,
    Reply,
    failed,
    invalid,
    pagerduty_fake,
    throttled,
)
from tests.peers.ports import free_port
from tests.peers.webhook import webhook_receiver

KEY = "0123456789abcdef0123456789abcdef"  # PagerDuty's integration keys are 32 characters
OTHER_KEY = "fedcba9876543210fedcba9876543210"
TEMPLATES = load_templates()

# ---------------------------------------------------------------- config, with amtool as oracle

# (pagerduty_configs entry, whether our message must equal Alertmanager's)
SPEC_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"routing_key": KEY}, True),
    ({"routing_key_file": "/run/secrets/pd"}, True),
    ({"routing_key": KEY, "url": "https://events.eu.pagerduty.com/v2/enqueue"}, True),
    ({"routing_key": KEY, "send_resolved": False, "severity": "", "source": "", "class": "c", "component": "x", "group": "g"}, True),
    ({"routing_key": KEY, "images": [{"src": "s", "alt": "a", "href": "h"}], "links": [{"href": "h", "text": "t"}]}, True),
    ({"routing_key": KEY, "details": {"a": "b", "firing": "x"}}, True),
    ({"routing_key": KEY, "details": {"n": 5}}, True),  # Go reads a number into a string
    ({"routing_key": KEY, "details": None}, True),
    ({"routing_key": KEY, "http_config": {"bearer_token": "t"}}, True),
    ({"routing_key": KEY, "http_config": None}, True),
    ({"client": "x"}, True),  # missing service or routing key in PagerDuty config
    ({"routing_key": ""}, True),
    ({"routing_key": KEY, "routing_key_file": "/f"}, True),
    ({"routing_key": KEY, "url": "ftp://x"}, True),
    ({"routing_key": KEY, "url": "http://"}, True),
    ({"routing_key": KEY, "url": ""}, True),
    ({"routing_key": KEY, "url": "http://x y"}, True),
    ({"routing_key": KEY, "timestamp": "now"}, False),  # not a key of 0.25's config
    ({"routing_key": KEY, "images": [{"source": "s"}]}, False),
    ({"routing_key": KEY, "send_resolved": "yes"}, False),
    ({"routing_key": KEY, "details": {"a": ["b"]}}, False),
]  # fmt: skip


def amtool_verdict(entry: dict[str, Any], directory: Path) -> str | None:
    return amtool_check("pagerduty_configs", entry, directory)


def our_verdict(entry: dict[str, Any]) -> str | None:
    try:
        PagerdutySpec.model_validate(entry)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
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


def test_spec_defaults_are_alertmanagers() -> None:
    spec = PagerdutySpec.model_validate({"routing_key": KEY})
    assert spec.send_resolved is True
    assert (spec.http_config, spec.url, spec.routing_key_file) == (None, None, "")
    assert spec.client == '{{ template "pagerduty.default.client" . }}'
    assert spec.client_url == '{{ template "pagerduty.default.clientURL" . }}'
    assert spec.description == '{{ template "pagerduty.default.description" .}}'
    assert spec.details == dict(DEFAULT_DETAILS)
    assert set(spec.details) == {"firing", "resolved", "num_firing", "num_resolved"}
    assert spec.severity == "error"
    assert (spec.source, spec.class_, spec.component, spec.group) == ("", "", "", "")
    assert (spec.images, spec.links) == ([], [])


def test_user_details_override_and_extend_the_defaults() -> None:
    spec = PagerdutySpec.model_validate({"routing_key": KEY, "details": {"firing": "f", "n": 5}})
    assert spec.details == {**DEFAULT_DETAILS, "firing": "f", "n": "5"}


@pytest.mark.parametrize(
    ("key", "instead"), [("service_key", "routing_key"), ("service_key_file", "routing_key_file")]
)
def test_events_api_v1_keys_are_refused_with_advice(key: str, instead: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PagerdutySpec.model_validate({key: "abc", "routing_key": KEY})
    [error] = refused.value.errors()
    assert error["loc"] == (key,)
    message = error["msg"]
    assert "Events API v2 only" in message
    assert message.endswith(f"write its integration key as {instead}")


def test_problems_need_a_global_url_when_the_entry_has_none() -> None:
    specs = [
        PagerdutySpec.model_validate({"routing_key": KEY}),
        PagerdutySpec.model_validate({"routing_key": KEY, "url": "http://pd.example/v2/enqueue"}),
    ]
    assert pagerduty_problems(specs, GlobalConfig()) == []
    assert pagerduty_problems(specs, GlobalConfig(pagerduty_url="")) == [
        (("pagerduty_configs", 0), "no global PagerDuty URL set")
    ]
    assert pagerduty_problems(specs, GlobalConfig(pagerduty_url="ftp://pd")) == [
        (("pagerduty_configs", 0), 'global.pagerduty_url: unsupported scheme "ftp" for URL')
    ]


def test_routing_key_stays_out_of_reprs_and_validation_errors() -> None:
    spec = PagerdutySpec.model_validate({"routing_key": KEY})
    assert KEY not in repr(spec) and KEY not in str(spec)
    with pytest.raises(ValidationError) as refused:
        PagerdutySpec.model_validate({"routing_key": KEY, "routing_key_file": "/f"})
    assert KEY not in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        PagerdutySpec.model_validate({"routing_key": 12345678901234567890})  # not a YAML string
    assert "12345678901234567890" not in str(refused.value)


# ---------------------------------------------------------------- the event, unit cases

NOW = 1_700_000_000.0
EXTERNAL_URL = "http://am.example"


def notification(
    alerts: list[Alert], group_key: str = '{}:{alertname="Disk"}', now: float = NOW
) -> Notification:
    return Notification(
        receiver="team-pd",
        group_key=group_key,
        group_labels={"alertname": "Disk"},
        alerts=alerts,
        now=now,
        external_url=EXTERNAL_URL,
    )


FIRING = Alert(
    {"alertname": "Disk", "instance": "a", "team": "ops"},
    {"summary": "disk full"},
    starts_at=NOW - 600,
    ends_at=NOW + 300,
    generator_url="http://prom/graph",
)
RESOLVED = Alert(
    {"alertname": "Disk", "instance": "b", "team": "ops"},
    {"summary": "disk full"},
    starts_at=NOW - 900,
    ends_at=NOW - 60,
)
# Alertmanager's pagerduty.default.instances of each.
FIRING_DETAILS = (
    "Labels:\n - alertname = Disk\n - instance = a\n - team = ops\n"
    "Annotations:\n - summary = disk full\nSource: http://prom/graph\n"
)
RESOLVED_DETAILS = (
    "Labels:\n - alertname = Disk\n - instance = b\n - team = ops\n"
    "Annotations:\n - summary = disk full\nSource: \n"
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_session(timeout=5) as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[PagerdutyFake]:
    async with pagerduty_fake() as server:
        yield server


def make_channel(session: aiohttp.ClientSession, url: str, **spec: Any) -> PagerdutyChannel:
    entry = {"routing_key": KEY, "url": url, **spec}
    ctx = ChannelContext("team-pd", session, TEMPLATES, GlobalConfig(), MemoryState())
    [channel] = pagerduty_channels([PagerdutySpec.model_validate(entry)], ctx)
    return channel


async def sent(
    fake: PagerdutyFake, session: aiohttp.ClientSession, n: Notification, **spec: Any
) -> dict[str, Any]:
    """The event one channel with `spec` sends for `n`, as the fake received it."""
    await make_channel(session, fake.enqueue_url, **spec).send(n)
    received = await fake.next()
    assert received.status == 202, received.body
    return received.event


async def test_default_trigger_event(fake: PagerdutyFake, session: aiohttp.ClientSession) -> None:
    await make_channel(session, fake.enqueue_url).send(notification([FIRING, RESOLVED]))
    received = await fake.next()
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"] == USER_AGENT
    assert received.body.endswith(b"}\n")  # Go's encoder ends the value with a newline
    assert received.event == {
        "routing_key": KEY,
        "dedup_key": dedup_key('{}:{alertname="Disk"}'),
        "event_action": "trigger",
        "payload": {
            "summary": "[FIRING:1] Disk (ops)",
            "source": "Alertmanager",
            "severity": "error",
            "custom_details": {
                "firing": FIRING_DETAILS,
                "resolved": RESOLVED_DETAILS,
                "num_firing": "1",
                "num_resolved": "1",
            },
        },
        "client": "Alertmanager",
        "client_url": "http://am.example/#/alerts?receiver=team-pd",
    }


async def test_resolve_event_carries_the_whole_payload(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    event = await sent(fake, session, notification([RESOLVED]))
    assert event["event_action"] == "resolve"
    assert event["dedup_key"] == dedup_key('{}:{alertname="Disk"}')
    assert event["payload"]["summary"] == "[RESOLVED] Disk (b ops)"
    assert event["payload"]["custom_details"]["num_resolved"] == "1"
    assert event["payload"]["custom_details"]["firing"] == ""
    assert event["client"] == "Alertmanager"


async def test_every_option_shows_up_in_the_event(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    spec = {
        "client": "client of {{ .Receiver }}",
        "client_url": "{{ .ExternalURL }}/ui",
        "description": "{{ .CommonLabels.team }} & <{{ .Status }}>",
        "details": {"team": "{{ .CommonLabels.team }}", "num_firing": "many", "n": 5},
        "images": [
            {"src": "http://img/{{ .Status }}.png", "alt": "graph", "href": "http://g"},
            {"src": "", "alt": "dropped: no src"},
        ],
        "links": [
            {"href": "http://runbook/{{ .GroupLabels.alertname }}", "text": "runbook"},
            {"href": "{{ if false }}x{{ end }}", "text": "dropped: no href"},
        ],
        "source": "{{ .CommonLabels.instance }}",
        "severity": "{{ if eq .Status `firing` }}critical{{ end }}",
        "class": "disk",
        "component": "{{ .CommonLabels.team }}-storage",
        "group": "prod",
    }
    await make_channel(session, fake.enqueue_url, **spec).send(notification([FIRING]))
    received = await fake.next()
    assert received.event == {
        "routing_key": KEY,
        "dedup_key": dedup_key('{}:{alertname="Disk"}'),
        "event_action": "trigger",
        "payload": {
            "summary": "ops & <firing>",
            "source": "a",
            "severity": "critical",
            "class": "disk",
            "component": "ops-storage",
            "group": "prod",
            "custom_details": {
                "firing": FIRING_DETAILS,
                "n": "5",
                "num_firing": "many",
                "num_resolved": "0",
                "resolved": "",
                "team": "ops",
            },
        },
        "client": "client of team-pd",
        "client_url": "http://am.example/ui",
        "images": [{"src": "http://img/firing.png", "alt": "graph", "href": "http://g"}],
        "links": [{"href": "http://runbook/Disk", "text": "runbook"}],
    }
    # Go's encoder: <, > and & escaped, map keys sorted, struct fields in declaration order.
    assert b'"summary":"ops \\u0026 \\u003cfiring\\u003e"' in received.body
    assert received.body.index(b'"custom_details"') > received.body.index(b'"group"')


async def test_source_follows_client_and_empty_severity_is_error(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    event = await sent(fake, session, notification([FIRING]), client="cli", severity="", source="")
    assert (event["payload"]["source"], event["payload"]["severity"]) == ("cli", "error")
    assert "class" not in event["payload"]  # empty fields are left out, as Go's omitempty does


async def test_summary_is_cut_at_1024_characters(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    long = "é🚨" * 600  # 1200 characters, 3600 bytes: the limit counts characters
    alert = Alert({"alertname": "Disk"}, {"long": long}, starts_at=NOW - 1)
    description = "{{ .CommonAnnotations.long }}"
    event = await sent(fake, session, notification([alert]), description=description)
    summary = event["payload"]["summary"]
    assert len(summary) == 1024
    assert summary == long[:1023] + "…"
    exact = await sent(fake, session, notification([alert]), description=long[:1024])
    assert exact["payload"]["summary"] == long[:1024]  # at the limit: untouched


def test_truncate_is_alertmanagers() -> None:
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdef", 5) == "abcd…"
    assert truncate("abcdef", 3) == "abc"  # too short for the ellipsis


def test_dedup_key_is_sha256_of_the_group_key() -> None:
    # What Alertmanager 0.25 sent for this group; a changed key would open a second incident
    # for every group open during an upgrade.
    expected = "ad4b39d3af6c5f089ddb8504a474cd124febe3ef322f263d58074fb0c51dc572"
    assert dedup_key('{}:{alertname="A"}') == expected
    assert len(dedup_key('{}/{a="b"}:{alertname="X"}')) == 64


# ---------------------------------------------------------------- events over 512 KB

CUT = re.compile(r"\n… \[(\d+) characters cut: PagerDuty takes events of at most 512 KB\]$")


def kept_and_cut(value: str) -> tuple[str, int]:
    match = CUT.search(value)
    assert match, value[-200:]
    return value[: match.start()], int(match.group(1))


async def test_oversized_details_are_cut_longest_first(
    fake: PagerdutyFake, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    # <, & take six bytes each in Go's JSON and é two: the cut must count bytes, not characters.
    big = ("<é&" * 100 + "x" * 200) * 2_000  # 1,000,000 characters
    alert = Alert({"alertname": "Disk"}, {"big": big, "small": "kept"}, starts_at=NOW - 1)
    details = {"big": "{{ .CommonAnnotations.big }}", "small": "{{ .CommonAnnotations.small }}"}
    await make_channel(session, fake.enqueue_url, details=details).send(notification([alert]))
    received = await fake.next()
    assert received.status == 202  # the fake refuses events over 512 KB
    assert MAX_EVENT_BYTES - 1_000 < len(received.body) <= MAX_EVENT_BYTES
    custom = received.event["payload"]["custom_details"]
    data = notification_data("team-pd", {"alertname": "Disk"}, [alert], EXTERNAL_URL, NOW)
    # `firing` (the alert list, `big` in it) and `big` were the longest values: both are cut,
    # each keeping its beginning and saying how much went.
    for name, template in (("firing", DEFAULT_DETAILS["firing"]), ("big", details["big"])):
        original = TEMPLATES.render(template, data)
        kept, cut = kept_and_cut(custom[name])
        assert original.startswith(kept)
        assert cut == len(original) - len(kept)
    assert (custom["small"], custom["num_firing"], custom["resolved"]) == ("kept", "1", "")
    assert "trimmed to PagerDuty's 512 KB limit" in caplog.text
    assert KEY not in caplog.text


async def test_oversized_free_text_is_cut_then_images_dropped(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    huge = "h" * 600_000
    alert = Alert({"alertname": "Disk"}, {"huge": huge, "pad": "p" * 3_000}, starts_at=NOW - 1)
    images = [{"src": f"http://img/{i}/{{{{ .CommonAnnotations.pad }}}}"} for i in range(200)]
    spec = {
        "details": {"firing": "", "resolved": ""},  # small details: nothing to cut there
        "component": "{{ .CommonAnnotations.huge }}",
        "images": images,
    }
    await make_channel(session, fake.enqueue_url, **spec).send(notification([alert]))
    received = await fake.next()
    assert received.status == 202
    event = received.event
    assert event["payload"]["component"] == truncate(huge, 1024)
    sent_images = event["images"]
    assert 0 < len(sent_images) < 200
    assert [image["src"] for image in sent_images] == [
        f"http://img/{i}/{'p' * 3_000}" for i in range(len(sent_images))
    ]  # the first ones, in order
    one_more = len(json.dumps(sent_images[0], separators=(",", ":"))) + 1
    assert len(received.body) <= MAX_EVENT_BYTES < len(received.body) + one_more


def test_events_that_fit_are_left_alone() -> None:
    event = {"routing_key": KEY, "event_action": "trigger", "payload": {"summary": "x" * 400_000}}
    body, trimmed = encode_event(event)
    assert trimmed == []
    assert json.loads(body) == event


# ---------------------------------------------------------------- template errors


async def test_template_error_names_the_field_and_is_final(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    channel = make_channel(session, fake.enqueue_url, component="{{ .Nope }}")
    with pytest.raises(DeliveryError) as refused:
        await channel.send(notification([FIRING]))
    assert not refused.value.retryable
    assert str(refused.value) == (
        "failed to template PagerDuty v2 message: component: "
        'template: :1:3: executing "" at <.Nope>: can\'t evaluate field Nope in type *template.Data'
    )
    channel = make_channel(session, fake.enqueue_url, details={"x": "{{ len 3 }}"})
    with pytest.raises(DeliveryError, match=r"message: details\.x: template: ") as refused:
        await channel.send(notification([FIRING]))
    assert fake.received == []


async def test_templated_routing_key(fake: PagerdutyFake, session: aiohttp.ClientSession) -> None:
    alert = Alert({"alertname": "Disk", "pd": OTHER_KEY}, starts_at=NOW - 1)
    channel = make_channel(session, fake.enqueue_url, routing_key="{{ .CommonLabels.pd }}")
    await channel.send(notification([alert]))
    assert (await fake.next()).event["routing_key"] == OTHER_KEY
    # A broken one: Go's message would quote the template, which is the secret.
    secret = "{{ .Nope }}" + KEY
    with pytest.raises(DeliveryError) as refused:
        await make_channel(session, fake.enqueue_url, routing_key=secret).send(
            notification([alert])
        )
    assert not refused.value.retryable
    assert "routing_key" in str(refused.value)
    assert KEY not in str(refused.value) and ".Nope" not in str(refused.value)
    empty = make_channel(session, fake.enqueue_url, routing_key="{{ .CommonLabels.none }}")
    with pytest.raises(DeliveryError, match=r"^routing key cannot be empty$"):
        await empty.send(notification([alert]))


# ---------------------------------------------------------------- acknowledge


async def test_acknowledge_sends_the_groups_dedup_key(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    channel = make_channel(session, fake.enqueue_url)
    group_key = '{}:{alertname="Disk"}'
    await channel.send(notification([FIRING], group_key))
    await channel.acknowledge(group_key)
    trigger, ack = (await fake.next()).event, await fake.next()
    assert ack.status == 202
    assert ack.event == {
        "routing_key": KEY,
        "dedup_key": trigger["dedup_key"],
        "event_action": "acknowledge",
    }


async def test_acknowledge_with_a_templated_routing_key_needs_the_notification(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    alert = Alert({"alertname": "Disk", "pd": OTHER_KEY}, starts_at=NOW - 1)
    channel = make_channel(session, fake.enqueue_url, routing_key="{{ .CommonLabels.pd }}")
    with pytest.raises(DeliveryError, match="routing_key is a template") as refused:
        await channel.acknowledge("{}:{}")
    assert not refused.value.retryable
    await channel.acknowledge("{}:{}", notification([alert]))
    assert (await fake.next()).event["routing_key"] == OTHER_KEY


# ---------------------------------------------------------------- responses


async def test_invalid_event_is_final_with_pagerdutys_reasons(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    # The fake checks routing keys as PagerDuty does: 32 characters.
    channel = make_channel(session, fake.enqueue_url, routing_key="too-short-for-pagerduty")
    with pytest.raises(DeliveryError) as refused:
        await channel.send(notification([FIRING]))
    assert not refused.value.retryable
    assert str(refused.value) == (
        "unexpected status code 400: Event object is invalid: "
        "Length of 'routing_key' is incorrect (should be 32 characters)"
    )
    fake.script.append(invalid("first", "second"))
    clock = ManualClock(1000.0)
    with pytest.raises(DeliveryFailed, match=r"invalid: first,second \(not retried\)") as gave_up:
        await deliver(
            make_channel(session, fake.enqueue_url), notification([FIRING]), clock, 2000.0
        )
    assert gave_up.value.attempts == 1
    assert len(fake.received) == 2


async def test_routing_key_echoed_by_the_service_is_redacted(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    fake.script.append(Reply(400, {"message": f"unknown key {KEY}", "errors": [KEY]}))
    with pytest.raises(DeliveryError) as refused:
        await make_channel(session, fake.enqueue_url).send(notification([FIRING]))
    assert str(refused.value) == "unexpected status code 400: unknown key <secret>: <secret>"


@pytest.mark.parametrize("status", [401, 403, 404, 413])
async def test_other_client_errors_are_final(
    fake: PagerdutyFake, session: aiohttp.ClientSession, status: int
) -> None:
    fake.script.append(Reply(status, "no"))
    with pytest.raises(DeliveryError) as refused:
        await make_channel(session, fake.enqueue_url).send(notification([FIRING]))
    assert (str(refused.value), refused.value.retryable) == (
        f"unexpected status code {status}",
        False,
    )


@pytest.mark.parametrize(
    ("reply", "message", "wait"),
    [
        (throttled("7"), "unexpected status code 429", 7.0),
        (throttled(), "unexpected status code 429", None),
        (failed(500), "unexpected status code 500", None),
        (Reply(503, headers={"Retry-After": "2"}), "unexpected status code 503", 2.0),
    ],
)
async def test_throttling_and_server_errors_are_retryable(
    fake: PagerdutyFake,
    session: aiohttp.ClientSession,
    reply: Reply,
    message: str,
    wait: float | None,
) -> None:
    fake.script.append(reply)
    with pytest.raises(DeliveryError) as failure:
        await make_channel(session, fake.enqueue_url).send(notification([FIRING]))
    assert (str(failure.value), failure.value.retryable) == (message, True)
    assert failure.value.retry_after == wait


async def test_retries_honour_retry_after_on_the_pipelines_clock(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    fake.script += [throttled("30"), failed(503)]
    clock = ManualClock(1000.0)
    channel = make_channel(session, fake.enqueue_url)
    task = asyncio.create_task(deliver(channel, notification([FIRING]), clock, 2000.0, lambda: 0.5))
    assert (await fake.next()).status == 429
    await clock.wait_for_sleeper(2000.0)
    await clock.advance(29.0)
    assert len(fake.received) == 1  # Retry-After: 30 holds the next attempt back
    await clock.advance(1.0)
    assert (await fake.next()).status == 503
    await clock.wait_for_sleeper(2000.0)
    await clock.advance(1.0)  # Alertmanager's second backoff step: 0.75 s
    assert (await fake.next()).status == 202
    assert await task == 3
    assert clock.now() == 1031.0
    assert len({r.body for r in fake.received}) == 1  # every attempt sent the same event


def test_retry_after_header() -> None:
    assert retry_after("120") == 120.0
    assert retry_after(" 0 ") == 0.0
    date = "Tue, 14 Nov 2023 22:13:20 GMT"
    assert retry_after("Tue, 14 Nov 2023 22:14:05 GMT", date) == 45.0
    assert retry_after("Tue, 14 Nov 2023 22:13:00 GMT", date) == 0.0  # already past
    assert retry_after("soon") is None
    assert retry_after("-5") is None
    assert retry_after(None) is None


async def test_connection_refused_is_retryable(session: aiohttp.ClientSession) -> None:
    url = f"http://user:pa55word@127.0.0.1:{free_port()}/v2/enqueue"
    with pytest.raises(DeliveryError) as failure:
        await make_channel(session, url).send(notification([FIRING]))
    assert failure.value.retryable
    message = str(failure.value)
    port = url.split(":")[3].split("/")[0]
    assert message.startswith(
        f'failed to post message to PagerDuty: Post "http://user:xxxxx@127.0.0.1:{port}/v2/enqueue": '
    )
    assert "pa55word" not in message and KEY not in message


async def test_timeout_is_retryable(fake: PagerdutyFake) -> None:
    released = asyncio.Event()
    fake.script.append(Reply(202, hold=released))
    async with new_session(timeout=0.2) as client:
        with pytest.raises(DeliveryError, match=r": timeout$") as failure:
            await make_channel(client, fake.enqueue_url).send(notification([FIRING]))
    released.set()
    assert failure.value.retryable


async def test_routing_key_file_is_read_at_every_send(
    fake: PagerdutyFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    key_file = tmp_path / "routing-key"
    key_file.write_text(KEY + "\n")
    channel = make_channel(
        session, fake.enqueue_url, routing_key=None, routing_key_file=str(key_file)
    )
    await channel.send(notification([FIRING]))
    key_file.write_text(OTHER_KEY)  # rotated: no reload needed
    await channel.send(notification([FIRING]))
    assert [r.event["routing_key"] for r in fake.received] == [KEY, OTHER_KEY]
    key_file.unlink()
    with pytest.raises(DeliveryError, match="failed to read routing key from file") as failure:
        await channel.send(notification([FIRING]))
    assert failure.value.retryable  # a mounted secret may come back before the deadline
    assert OTHER_KEY not in str(failure.value)


async def test_factory_inherits_global_url_and_http_config(
    fake: PagerdutyFake, session: aiohttp.ClientSession
) -> None:
    global_ = GlobalConfig.model_validate(
        {"pagerduty_url": fake.enqueue_url, "http_config": {"bearer_token": "global"}}
    )
    specs = [
        PagerdutySpec.model_validate({"routing_key": KEY}),
        PagerdutySpec.model_validate(
            {"routing_key": OTHER_KEY, "send_resolved": False, "http_config": {"authorization": {"type": "Token", "credentials": "own"}}}
        ),
    ]  # fmt: skip
    ctx = ChannelContext("team-pd", session, TEMPLATES, global_, MemoryState())
    channels = pagerduty_channels(specs, ctx)
    kinds = [(c.kind, c.send_resolved) for c in channels]
    assert kinds == [("pagerduty", True), ("pagerduty", False)]
    for channel in channels:
        await channel.send(notification([FIRING]))
        await channel.close()  # the shared session stays open for the others
    seen = {r.event["routing_key"]: r.headers["Authorization"] for r in fake.received}
    assert seen == {KEY: "Bearer global", OTHER_KEY: "Token own"}


# ---------------------------------------------------------------- against Alertmanager 0.25

RECEIVER = "team.pd+x"  # Alertmanager shows it through regexp.QuoteMeta: team\.pd\+x
LONG = "é🚨<" * 500  # a description over 1024 characters, multibyte and escaped
EVERY_OPTION: dict[str, Any] = {
    "routing_key": "{{ .CommonLabels.pdkey }}",
    "client": "client of {{ .Receiver }}",
    "client_url": "{{ .ExternalURL }}/ui?team={{ .GroupLabels.team | urlquery }}",
    "description": "{{ .CommonAnnotations.long }}",
    "details": {
        "starts": "{{ range .Alerts }}{{ .StartsAt }} {{ .Fingerprint }};{{ end }}",
        "num_firing": "{{ len .Alerts.Firing }} of {{ len .Alerts }}",
        "n": 5,
    },
    "images": [
        {"src": "http://img/{{ .Status }}.png", "alt": "<alt>", "href": "http://h"},
        {"src": "", "alt": "dropped"},
    ],
    "links": [
        {"href": "http://runbook/{{ .GroupLabels.alertname }}", "text": "runbook & more"},
        {"href": "", "text": "dropped"},
    ],
    "source": "{{ .CommonLabels.team }}",
    "severity": '{{ if eq .Status "firing" }}critical{{ else }}info{{ end }}',
    "class": "disk",
    "component": "{{ .CommonLabels.team }}-storage",
    "group": "prod",
}
POSTED: list[dict[str, Any]] = [
    {
        "labels": {"alertname": "Disk", "team": "ops<&>", "instance": "ünï 🚨", "pdkey": OTHER_KEY},
        "annotations": {"summary": "<b>full</b>", "long": LONG},
        "startsAt": "2023-11-14T00:00:00.123Z",
        "generatorURL": "http://prom.example:9090/graph?g0.expr=up%3D%3D0&g0.tab=1",
    },
    {
        "labels": {"alertname": "Disk", "team": "ops<&>", "instance": "b", "pdkey": OTHER_KEY},
        "annotations": {"summary": "<b>full</b>", "long": LONG},
        "startsAt": "2023-11-14T00:00:01.000456Z",
    },
]
ENDS_AT = ["2023-11-14T00:10:00.5Z", "2023-11-14T00:20:00Z"]


def unix(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def our_alerts(resolved: set[int], now: float, first: list[str]) -> dict[str, Alert]:
    """The posted alerts by fingerprint, as dispatch hands them on at `now`: the firing ones as
    first posted (starting at `first`), the resolved ones as posted with their end."""
    out: dict[str, Alert] = {}
    for i, posted in enumerate(POSTED):
        alert = Alert(
            labels=posted["labels"],
            annotations=posted["annotations"],
            starts_at=unix(posted["startsAt"] if i in resolved else first[i]),
            ends_at=unix(ENDS_AT[i]) if i in resolved else now + 300,
            generator_url=posted.get("generatorURL", ""),
        )
        out[alert.fingerprint] = alert
    return out


async def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{url}/api/v2/alerts", json=alerts) as response,
    ):
        assert response.status == 200, await response.text()


async def test_events_match_alertmanager(
    alertmanager_peer: Callable[..., AlertmanagerServer],
    session: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "routing-key"
    key_file.write_text(KEY + "\n")
    defaults = {"routing_key_file": str(key_file)}
    async with pagerduty_fake() as theirs, pagerduty_fake() as ours, webhook_receiver() as hook:
        config = {
            "route": {
                "receiver": RECEIVER,
                "group_by": ["alertname", "team"],
                # Real time cannot be avoided with the real Alertmanager; 1s is its smallest
                # step that still lets one POST's alerts land in one group.
                "group_wait": "1s",
                "group_interval": "1s",
            },
            "receivers": [
                {
                    "name": RECEIVER,
                    # The webhook tells us the group key and the alerts of each flush.
                    "webhook_configs": [{"url": hook.url + "/hook"}],
                    "pagerduty_configs": [
                        {**defaults, "url": theirs.enqueue_url},
                        {**EVERY_OPTION, "url": theirs.enqueue_url},
                    ],
                }
            ],
        }
        am = await asyncio.to_thread(alertmanager_peer, config)
        ctx = ChannelContext(RECEIVER, session, TEMPLATES, GlobalConfig(), MemoryState())
        specs = [
            PagerdutySpec.model_validate({**defaults, "url": ours.enqueue_url}),
            PagerdutySpec.model_validate({**EVERY_OPTION, "url": ours.enqueue_url}),
        ]
        by_key = dict(zip((KEY, OTHER_KEY), pagerduty_channels(specs, ctx), strict=True))
        # First posted starting soon; the ends posted later replace them (their ranges do not meet).
        first = starting_soon([0.123, 1.000456])
        phases: list[tuple[set[int], list[dict[str, Any]]]] = [
            (set(), [{**p, "startsAt": first[i]} for i, p in enumerate(POSTED)]),  # both firing
            ({0}, [{**POSTED[0], "endsAt": ENDS_AT[0]}]),  # one resolved: still a trigger
            ({0, 1}, [{**POSTED[1], "endsAt": ENDS_AT[1]}]),  # all resolved
        ]
        events: dict[str, list[dict[str, Any]]] = {KEY: [], OTHER_KEY: []}
        for phase, (resolved, post) in enumerate(phases, 1):
            await post_alerts(am.url, post)
            flush = (await hook.wait_for(phase))[-1].payload
            now = time.time()
            mine = our_alerts(resolved, now, first)
            n = Notification(
                receiver=RECEIVER,
                group_key=flush["groupKey"],
                group_labels={"alertname": "Disk", "team": "ops<&>"},
                alerts=[mine[a["fingerprint"]] for a in flush["alerts"]],
                now=now,
                external_url=flush["externalURL"],
            )
            for _ in range(2):
                received = await theirs.next()
                assert received.status == 202, received.body
                assert USER_AGENT.startswith(received.headers["User-Agent"] + " ")
                await by_key[received.event["routing_key"]].send(n)
                mine_received = await ours.next()
                assert mine_received.event == received.event  # field by field, with a diff
                assert mine_received.body == received.body  # and byte for byte
                events[received.event["routing_key"]].append(received.event)
            assert received.event["dedup_key"] == dedup_key(flush["groupKey"])
    # What was compared covers what the options are for.
    for sent_events in events.values():
        assert [e["event_action"] for e in sent_events] == ["trigger", "trigger", "resolve"]
    defaults_summaries = [e["payload"]["summary"] for e in events[KEY]]
    assert [s.split("]")[0] for s in defaults_summaries] == ["[FIRING:2", "[FIRING:1", "[RESOLVED"]
    for event in events[OTHER_KEY]:
        assert event["payload"]["summary"] == LONG[:1023] + "…"
        assert event["links"] == [{"href": "http://runbook/Disk", "text": "runbook & more"}]
    assert [e["images"][0]["src"] for e in events[OTHER_KEY]] == [
        "http://img/firing.png", "http://img/firing.png", "http://img/resolved.png",
    ]  # fmt: skip
