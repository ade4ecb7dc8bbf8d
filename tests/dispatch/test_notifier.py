"""Alerts in, webhook notifications out, on a manual clock: grouping timers, dedup, repeat,
resolve, retry, muting, and restarts that neither lose nor repeat a notification."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from alerting.clock import ManualClock
from alerting.config import Config, load_config
from alerting.labels import Matcher, MatchType
from alerting.model import Alert
from alerting.notifier import Notifier
from alerting.notify.silence import Silence
from alerting.store.sqlite_notifications import SqliteNotificationStore
from tests.peers.webhook import WebhookReceiver, webhook_receiver

T0 = 1_700_000_000.0

CONFIG = """
datasource: {{prometheus: {{url: "http://127.0.0.1:1"}}}}
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
{extra_routes}
receivers:
  - name: hook
    webhook_configs:
      - url: {url}/hook
        send_resolved: {send_resolved}
  - name: quiet
{extra}
"""


class Harness:
    def __init__(self, tmp_path: Path, receiver: WebhookReceiver) -> None:
        self.tmp_path = tmp_path
        self.receiver = receiver
        self.clock = ManualClock(T0)
        self.notifier: Notifier | None = None

    def config(
        self, *, send_resolved: bool = True, extra_routes: str = "", extra: str = ""
    ) -> Config:
        path = self.tmp_path / "alerting.yml"
        path.write_text(
            CONFIG.format(
                url=self.receiver.url,
                send_resolved=str(send_resolved).lower(),
                extra_routes=extra_routes,
                extra=extra,
            )
        )
        return load_config(path)

    async def start(self, config: Config) -> Notifier:
        store = SqliteNotificationStore(str(self.tmp_path / "notify.db"))
        await store.open()
        self.notifier = Notifier(self.clock, store)
        await self.notifier.start(config)
        return self.notifier

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
            await self.notifier.store.close()
            self.notifier = None

    async def push(self, *alerts: Alert) -> None:
        assert self.notifier is not None
        await self.notifier.ingest(list(alerts))

    async def advance_to(self, offset: float) -> None:
        """Move to T0 + offset, letting every flush due on the way finish."""
        assert self.notifier is not None and self.notifier.dispatcher is not None
        while self.clock.now() < T0 + offset:
            step = min(T0 + offset, self.clock.now() + 30.0)
            await self.clock.set(step)
            await self.notifier.dispatcher.wait_idle()

    async def retry_until_idle(self, before: float) -> None:
        """Until the flushes finish, move the manual clock past each backoff wait (a retry
        sleeping until a time earlier than `before`)."""
        assert self.notifier is not None and self.notifier.dispatcher is not None
        while True:
            idle = asyncio.ensure_future(self.notifier.dispatcher.wait_idle())
            backoff = asyncio.ensure_future(self.clock.wait_for_sleeper(before))
            await asyncio.wait({idle, backoff}, return_when=asyncio.FIRST_COMPLETED)
            idle.cancel()
            backoff.cancel()
            if idle.done() and not idle.cancelled():
                return
            await self.clock.advance(2)

    def sent(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Per delivery: status, then (status, alertname/instance) per alert."""
        return [
            (d.payload["status"], [(a["status"], _name(a["labels"])) for a in d.payload["alerts"]])
            for d in self.receiver.deliveries
        ]


def _name(labels: dict[str, str]) -> str:
    return f"{labels['alertname']}/{labels.get('instance', '')}"


def firing(name: str, instance: str = "a", at: float = T0, **labels: str) -> Alert:
    return Alert(
        {"alertname": name, "instance": instance, **labels}, starts_at=at, ends_at=at + 864_000
    )


def resolved(name: str, instance: str = "a", start: float = T0, at: float = T0) -> Alert:
    return Alert({"alertname": name, "instance": instance}, starts_at=start, ends_at=at)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with webhook_receiver() as receiver:
        h = Harness(tmp_path, receiver)
        yield h
        await h.stop()


async def test_first_flush_after_group_wait_with_everything_that_arrived(harness: Harness) -> None:
    await harness.start(harness.config())
    await harness.push(firing("Disk", "a"))
    await harness.advance_to(10)
    await harness.push(firing("Disk", "b", at=T0 + 10))
    await harness.advance_to(29)
    assert harness.sent() == []
    await harness.advance_to(30)
    assert harness.sent() == [("firing", [("firing", "Disk/a"), ("firing", "Disk/b")])]
    payload = harness.receiver.deliveries[0].payload
    assert payload["groupKey"] == '{}:{alertname="Disk"}'
    assert payload["groupLabels"] == {"alertname": "Disk"}


async def test_new_alert_waits_for_group_interval_then_repeat_after_repeat_interval(
    harness: Harness,
) -> None:
    await harness.start(harness.config())
    await harness.push(firing("Disk", "a"))
    await harness.advance_to(30)
    await harness.push(firing("Disk", "b", at=T0 + 40))
    await harness.advance_to(329)
    assert len(harness.sent()) == 1
    await harness.advance_to(330)
    assert harness.sent()[1] == ("firing", [("firing", "Disk/a"), ("firing", "Disk/b")])
    # Unchanged: nothing until a flush finds the last notification older than repeat_interval.
    await harness.advance_to(330 + 3600)
    assert len(harness.sent()) == 2
    await harness.advance_to(330 + 3600 + 300)
    assert len(harness.sent()) == 3


async def test_resolve_is_sent_and_the_group_forgets_the_alert(harness: Harness) -> None:
    await harness.start(harness.config())
    await harness.push(firing("Disk", "a"), firing("Disk", "b"))
    await harness.advance_to(100)
    await harness.push(resolved("Disk", "a", at=T0 + 100))
    await harness.advance_to(330)
    assert harness.sent()[1] == ("firing", [("resolved", "Disk/a"), ("firing", "Disk/b")])
    assert harness.receiver.deliveries[1].payload["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    await harness.advance_to(400)
    await harness.push(resolved("Disk", "b", at=T0 + 400))
    await harness.advance_to(630)
    assert harness.sent()[2] == ("resolved", [("resolved", "Disk/b")])
    await harness.advance_to(630 + 7200)
    assert len(harness.sent()) == 3


async def test_without_send_resolved_only_firing_alerts_are_sent(harness: Harness) -> None:
    await harness.start(harness.config(send_resolved=False))
    await harness.push(firing("Disk", "a"), firing("Disk", "b"))
    await harness.advance_to(100)
    await harness.push(resolved("Disk", "a", at=T0 + 100))
    await harness.advance_to(330 + 3600)
    # The resolve is not news; the repeat carries the firing alert only.
    assert harness.sent()[1:] == [("firing", [("firing", "Disk/b")])]
    await harness.advance_to(4000)
    await harness.push(resolved("Disk", "b", at=T0 + 4000))
    await harness.advance_to(4000 + 7200)
    assert len(harness.sent()) == 2


async def test_an_alert_older_than_group_wait_flushes_its_new_group_at_once(
    harness: Harness,
) -> None:
    await harness.start(harness.config())
    await harness.push(firing("Disk", "a", at=T0 - 600))
    await harness.advance_to(0.001)
    assert harness.sent() == [("firing", [("firing", "Disk/a")])]


async def test_server_errors_are_retried_until_delivered(harness: Harness) -> None:
    await harness.start(harness.config())
    harness.receiver.script = [500, 503]
    await harness.push(firing("Disk", "a"))
    await harness.clock.set(T0 + 30)
    await harness.retry_until_idle(before=T0 + 60)
    assert harness.receiver.requests == 3
    assert harness.sent() == [("firing", [("firing", "Disk/a")])]
    keys = {d.headers["Idempotency-Key"] for d in harness.receiver.deliveries}
    assert len(keys) == 1


async def test_client_errors_are_not_retried_and_the_next_flush_tries_again(
    harness: Harness,
) -> None:
    await harness.start(harness.config())
    harness.receiver.script = [404]
    await harness.push(firing("Disk", "a"))
    await harness.advance_to(60)
    assert harness.receiver.requests == 1 and harness.sent() == []
    await harness.advance_to(330)
    assert harness.receiver.requests == 2
    assert harness.sent() == [("firing", [("firing", "Disk/a")])]
    assert harness.notifier is not None
    sample = harness.notifier.metrics.registry.get_sample_value
    labels = {"receiver": "hook", "integration": "webhook"}
    assert sample("alerting_notifications_total", labels) == 2
    assert sample("alerting_notifications_failed_total", labels) == 1
    assert sample("alerting_notification_requests_total", labels) == 2
    assert sample("alerting_notification_latency_seconds_count", labels) == 2


async def test_routes_continue_and_a_receiver_without_integrations(harness: Harness) -> None:
    routes = """
  routes:
    - matchers: ['team="db"']
      receiver: quiet
      continue: true
    - matchers: ['severity=~"page|critical"']
      group_by: [alertname, instance]
"""
    await harness.start(harness.config(extra_routes=routes))
    await harness.push(
        firing("Disk", "a", team="db", severity="page"),
        firing("Disk", "b", severity="page"),
        firing("Disk", "c", team="db"),
    )
    await harness.advance_to(30)
    keys = sorted(d.payload["groupKey"] for d in harness.receiver.deliveries)
    assert keys == [
        '{}/{severity=~"page|critical"}:{alertname="Disk", instance="a"}',
        '{}/{severity=~"page|critical"}:{alertname="Disk", instance="b"}',
    ]


async def test_inhibited_and_silenced_alerts_are_not_sent(harness: Harness) -> None:
    extra = """
inhibit_rules:
  - source_matchers: [alertname="NodeDown"]
    target_matchers: [alertname="Disk"]
    equal: [instance]
"""
    notifier = await harness.start(harness.config(extra=extra))
    notifier.silences.set(
        Silence(
            id="",
            matchers=(Matcher("instance", MatchType.EQUAL, "c"),),
            starts_at=T0,
            ends_at=T0 + 3600,
            updated_at=T0,
            created_by="test",
            comment="maintenance",
        ),
        T0,
    )
    await harness.push(
        firing("NodeDown", "a"), firing("Disk", "a"), firing("Disk", "b"), firing("Disk", "c")
    )
    await harness.advance_to(30)
    assert sorted(harness.sent()) == [
        ("firing", [("firing", "Disk/b")]),
        ("firing", [("firing", "NodeDown/a")]),
    ]
    # The silence ends: the silenced alert is news at the next flush.
    await harness.advance_to(3600 + 30)
    assert ("firing", [("firing", "Disk/b"), ("firing", "Disk/c")]) in harness.sent()


async def test_mute_time_interval_holds_notifications_back(harness: Harness) -> None:
    # T0 is Tuesday 2023-11-14 22:13:20 UTC.
    routes = """
  routes:
    - matchers: [alertname="Disk"]
      mute_time_intervals: [night]
"""
    extra = """
time_intervals:
  - name: night
    time_intervals:
      - times: [{start_time: "22:00", end_time: "24:00"}]
"""
    await harness.start(harness.config(extra_routes=routes, extra=extra))
    await harness.push(firing("Disk", "a"), firing("Load", "a"))
    await harness.advance_to(30)
    assert harness.sent() == [("firing", [("firing", "Load/a")])]
    # Midnight ends the interval; the next flush of the Disk group sends.
    await harness.advance_to(6400 + 300)
    assert ("firing", [("firing", "Disk/a")]) in harness.sent()


async def test_restart_inside_repeat_interval_sends_nothing_twice(harness: Harness) -> None:
    config = harness.config()
    await harness.start(config)
    await harness.push(firing("Disk", "a"))
    await harness.advance_to(30)
    assert len(harness.sent()) == 1
    await harness.stop()
    await harness.start(config)
    await harness.push(firing("Disk", "a"))  # the evaluator hands its firing alerts on again
    await harness.advance_to(90)
    assert len(harness.sent()) == 1
    await harness.push(firing("Disk", "b", at=T0 + 100))
    await harness.advance_to(400)
    assert harness.sent()[1] == ("firing", [("firing", "Disk/a"), ("firing", "Disk/b")])


async def test_a_later_notification_in_flight_comes_back_from_its_groups_segments(
    harness: Harness,
) -> None:
    """The group's third notification is stored as what changed since its second; the replay
    must still hold every alert, each in its latest version, in order."""
    config = harness.config()
    stalled, release = asyncio.Event(), asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        stalled.set()
        await release.wait()
        return web.Response(status=200)

    harness.receiver.script = [200, 200, stall]
    await harness.start(config)
    await harness.push(firing("Disk", "b"), firing("Disk", "d"))
    await harness.advance_to(30)  # first notification: written whole
    await harness.push(firing("Disk", "c", at=T0 + 40))
    await harness.advance_to(330)  # second: kept track of from here on
    updated = replace(firing("Disk", "d", at=T0 + 5), annotations={"version": "2"})
    await harness.push(firing("Disk", "a", at=T0 + 340), updated)
    await harness.clock.set(T0 + 630)
    await stalled.wait()  # the third, in flight: a segment of the new "a" and the updated "d"
    await harness.stop()
    release.set()
    with sqlite3.connect(harness.tmp_path / "notify.db") as db:
        segments = db.execute("SELECT seq FROM outbox_segment ORDER BY seq").fetchall()
    assert segments == [(0,), (1,)]  # the second notification whole, then what changed
    await harness.start(config)
    await harness.receiver.wait_for(4)
    names = [("firing", f"Disk/{i}") for i in "abcd"]
    assert harness.sent()[2:] == [("firing", names)] * 2
    replayed = harness.receiver.deliveries[3].payload["alerts"]
    assert replayed[3]["annotations"] == {"version": "2"}


async def test_a_notification_in_flight_at_shutdown_is_sent_again_at_start(
    harness: Harness,
) -> None:
    config = harness.config()
    stalled, release = asyncio.Event(), asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        stalled.set()
        await release.wait()  # the receiver is slow: it answers only after the restart
        return web.Response(status=200)

    harness.receiver.script = [stall]
    await harness.start(config)
    await harness.push(firing("Disk", "a"))
    await harness.clock.set(T0 + 30)
    await stalled.wait()
    await harness.stop()  # the send was in flight: it stays in the outbox
    release.set()
    assert harness.sent() == []
    await harness.start(config)
    # The slow receiver did take the first one in the end: it gets the replay as a duplicate,
    # with the same Idempotency-Key so that it can tell.
    deliveries = await harness.receiver.wait_for(2)
    assert harness.sent() == [("firing", [("firing", "Disk/a")])] * 2
    assert len({d.headers["Idempotency-Key"] for d in deliveries}) == 1
    # Logged as sent: the alert coming back does not notify again within repeat_interval.
    await harness.push(firing("Disk", "a"))
    await harness.advance_to(400)
    assert len(harness.sent()) == 2
