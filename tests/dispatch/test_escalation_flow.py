"""Escalation and acknowledgement end to end on a manual clock: levels on time, acks that stop
them, expiry and unack that resume them, a new alert in an acknowledged group, resolve, repeat
passes, and a restart in the middle that neither skips nor repeats a level."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alerting.clock import ManualClock
from alerting.config import load_config
from alerting.incidents import IncidentError, Incidents, group_id
from alerting.model import Alert
from alerting.notifier import Notifier
from alerting.store.sqlite_notifications import SqliteNotificationStore
from tests.peers.webhook import WebhookReceiver, webhook_receiver

T0 = 1_700_000_000.0

CONFIG = """
datasource: {{prometheus: {{url: "http://127.0.0.1:1"}}}}
route:
  receiver: chat
  escalation: db
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: chat
    webhook_configs: [{{url: "{url}/chat"}}]
  - name: primary
    webhook_configs: [{{url: "{url}/primary"}}]
  - name: secondary
    webhook_configs: [{{url: "{url}/secondary", send_resolved: false}}]
escalation_policies:
  - name: db
    levels:
      - {{after: 0s, receivers: [chat]}}
      - {{after: 10m, receivers: [primary]}}
      - {{after: 30m, receivers: [secondary]}}
    repeat: {repeat}
{ack_timeout}
"""


class Flow:
    def __init__(self, tmp_path: Path, receiver: WebhookReceiver) -> None:
        self.tmp_path = tmp_path
        self.receiver = receiver
        self.clock = ManualClock(T0)
        self.notifier: Notifier | None = None
        self.incidents: Incidents | None = None

    async def start(self, *, repeat: int = 0, ack_timeout: str = "") -> None:
        path = self.tmp_path / "alerting.yml"
        timeout = f"    ack_timeout: {ack_timeout}" if ack_timeout else ""
        path.write_text(CONFIG.format(url=self.receiver.url, repeat=repeat, ack_timeout=timeout))
        store = SqliteNotificationStore(str(self.tmp_path / "notify.db"))
        await store.open()
        self.notifier = Notifier(self.clock, store)
        await self.notifier.start(load_config(path))
        self.incidents = Incidents(self.notifier)

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
            await self.notifier.store.close()
            self.notifier = None

    async def push(self, *alerts: Alert) -> None:
        assert self.notifier is not None
        await self.notifier.ingest(list(alerts))

    async def at(self, minutes: float) -> None:
        """Move to T0 + `minutes`, letting every flush due on the way finish."""
        assert self.notifier is not None and self.notifier.dispatcher is not None
        target = T0 + minutes * 60
        while self.clock.now() < target:
            await self.clock.set(min(target, self.clock.now() + 15.0))
            await self.notifier.dispatcher.wait_idle()

    def sent(self) -> list[tuple[str, str]]:
        """(receiver path, status) per delivery, in order."""
        return [(d.path.strip("/"), d.payload["status"]) for d in self.receiver.deliveries]

    def new_since(self, count: int) -> list[tuple[str, str]]:
        return self.sent()[count:]


def firing(instance: str, at: float = T0) -> Alert:
    return Alert({"alertname": "DbDown", "instance": instance}, starts_at=at, ends_at=at + 86400)


def resolved(instance: str, start: float, at: float) -> Alert:
    return Alert({"alertname": "DbDown", "instance": instance}, starts_at=start, ends_at=at)


@pytest.fixture
async def flow(tmp_path: Path) -> AsyncIterator[Flow]:
    async with webhook_receiver() as receiver:
        f = Flow(tmp_path, receiver)
        yield f
        await f.stop()


async def test_levels_are_reached_on_time(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(0.5)
    assert flow.sent() == [("chat", "firing")]
    await flow.at(10.25)
    assert flow.new_since(1) == [("primary", "firing")]
    assert flow.receiver.deliveries[1].payload["receiver"] == "primary"
    await flow.at(30.25)
    assert flow.new_since(2) == [("secondary", "firing")]
    await flow.at(59)
    assert len(flow.sent()) == 3  # no repeat pass, and repeat_interval not yet reached


async def test_an_ack_stops_escalation_and_an_unack_resumes_it_where_it_stood(
    flow: Flow,
) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(5)
    assert flow.incidents is not None and flow.notifier is not None
    await flow.incidents.acknowledge(firing("a").fingerprint, "alice", "looking")
    await flow.at(120)
    assert flow.sent() == [("chat", "firing")]  # no level, and no repeat of the acked alert
    await flow.incidents.unacknowledge(firing("a").fingerprint, "alice")
    await flow.at(124.75)
    # The repeat held back while acknowledged goes out at once; level 1 is 5 minutes away.
    assert flow.new_since(1) == [("chat", "firing")]
    await flow.at(125.25)
    assert flow.new_since(2) == [("primary", "firing")]


async def test_a_new_alert_joining_an_acknowledged_group_resumes_escalation(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(5)
    assert flow.incidents is not None
    gid = group_id('{}:{alertname="DbDown"}')
    await flow.incidents.acknowledge_group(gid, "bob")
    await flow.at(20)
    assert flow.sent() == [("chat", "firing")]
    await flow.push(firing("b", at=T0 + 20 * 60))
    # The group's next flush (every 5 minutes from the ack's at 5.25) brings b to chat and
    # resumes the count: 5.25 minutes were counted, level 1 comes 4.75 minutes later.
    await flow.at(20.5)
    assert flow.new_since(1) == [("chat", "firing")]
    await flow.at(24.9)
    assert len(flow.sent()) == 2
    await flow.at(25.25)
    assert flow.new_since(2) == [("primary", "firing")]


async def test_an_ack_expires_after_the_policys_ack_timeout(flow: Flow) -> None:
    await flow.start(ack_timeout="15m")
    await flow.push(firing("a"))
    await flow.at(5)
    assert flow.incidents is not None
    ack = await flow.incidents.acknowledge(firing("a").fingerprint, "alice", expires_in=86400)
    assert ack.expires_at == T0 + 5 * 60 + 15 * 60  # the policy's timeout is shorter
    await flow.at(19.75)
    assert flow.sent() == [("chat", "firing")]
    await flow.at(25.25)  # ack gone at 20m; 5 minutes left to level 1
    assert flow.new_since(1) == [("primary", "firing")]


async def test_resolve_tells_everyone_reached_and_starts_over(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(31)
    assert [path for path, _ in flow.sent()] == ["chat", "primary", "secondary"]
    await flow.push(resolved("a", T0, T0 + 31 * 60))
    await flow.at(36)
    # secondary has send_resolved off: logged, not sent
    assert sorted(flow.new_since(3)) == [("chat", "resolved"), ("primary", "resolved")]
    assert flow.notifier is not None and flow.notifier.pipeline is not None
    assert len(flow.notifier.pipeline.escalations) == 0
    await flow.push(firing("a", at=T0 + 40 * 60))
    await flow.at(41.25)
    assert flow.new_since(5) == [("chat", "firing")]  # level 0 again, a new incident


async def test_repeat_passes_notify_the_levels_again(flow: Flow) -> None:
    await flow.start(repeat=1)
    await flow.push(firing("a"))
    await flow.at(31)
    await flow.at(50.25)  # pass 2 starts at 30m + 20m
    assert flow.new_since(3) == [("chat", "firing")]
    await flow.at(60.25)
    assert flow.new_since(4) == [("primary", "firing")]


async def test_a_restart_resumes_the_level_at_its_due_time_once(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(12)
    assert [path for path, _ in flow.sent()] == ["chat", "primary"]
    await flow.stop()
    await flow.start()
    await flow.push(firing("a"))  # the evaluator hands its alerts over again after a restart
    await flow.at(29.75)
    assert [path for path, _ in flow.sent()] == ["chat", "primary"]  # nothing repeated
    await flow.at(30.25)
    assert flow.new_since(2) == [("secondary", "firing")]


async def test_escalations_and_notifications_are_in_the_group_history(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(10.25)
    assert flow.notifier is not None
    store = flow.notifier.store
    events = await store.events(['group:{}:{alertname="DbDown"}'])
    escalated = [json.loads(e.detail) for e in events if e.kind == "escalated"]
    assert escalated == [
        {"policy": "db", "level": 1, "receivers": ["chat"]},
        {"policy": "db", "level": 2, "receivers": ["primary"]},
    ]
    assert [e.kind for e in events].count("notified") == 2


async def test_unknown_and_resolved_alerts_cannot_be_acknowledged(flow: Flow) -> None:
    await flow.start()
    assert flow.incidents is not None
    with pytest.raises(IncidentError, match="no alert with fingerprint") as unknown:
        await flow.incidents.acknowledge("0123456789abcdef", "alice")
    assert unknown.value.status == 404
    await flow.push(resolved("a", T0 - 60, T0))
    await flow.at(0.1)
    with pytest.raises(IncidentError, match="resolved") as done:
        await flow.incidents.acknowledge(firing("a").fingerprint, "alice")
    assert done.value.status == 409


async def test_history_shows_every_event_in_order(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(5)
    assert flow.incidents is not None
    fingerprint = firing("a").fingerprint
    await flow.incidents.acknowledge(fingerprint, "alice", "on it")
    await flow.at(6)
    await flow.incidents.unacknowledge(fingerprint, "alice")
    await flow.at(16.5)
    silence_id = await flow.incidents.suppress(fingerprint, 30, "bob", "maintenance")
    await flow.at(17)
    history = await flow.incidents.history(fingerprint, pending_since=T0 - 60)
    kinds = [(round((item["at"] - T0) / 60, 2), item["kind"]) for item in history]
    assert kinds == [
        (-1.0, "pending"),
        (0.0, "firing"),
        (0.5, "escalated"),
        (0.5, "notified"),
        (5.0, "acknowledged"),
        (6.0, "unacknowledged"),
        (11.0, "escalated"),
        (11.0, "notified"),
        (16.5, "suppressed"),
        (16.5, "silenced"),
    ]
    by_kind = {item["kind"]: item for item in history}
    assert (
        by_kind["acknowledged"]["by"] == "alice" and by_kind["acknowledged"]["comment"] == "on it"
    )
    assert by_kind["silenced"]["silence_id"] == silence_id
    assert by_kind["notified"]["receiver"] == "primary"
    assert by_kind["escalated"]["level"] == 2


async def test_suppress_makes_an_ordinary_silence_and_checks_its_range(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"))
    await flow.at(1)
    assert flow.incidents is not None and flow.notifier is not None
    fingerprint = firing("a").fingerprint
    for minutes in (0, 1441):
        with pytest.raises(IncidentError, match="between 1 and 1440") as bad:
            await flow.incidents.suppress(fingerprint, minutes, "bob")
        assert bad.value.status == 400
    silence_id = await flow.incidents.suppress(fingerprint, 60, "bob")
    silence = flow.notifier.silences.get(silence_id)
    assert silence is not None and silence.created_by == "bob"
    assert silence.ends_at - silence.starts_at == 3600
    assert [str(m) for m in silence.matchers] == ['alertname="DbDown"', 'instance="a"']


async def test_acks_of_ended_incidents_are_forgotten_by_maintenance(flow: Flow) -> None:
    await flow.start()
    await flow.push(firing("a"), firing("b"))
    await flow.at(1)
    assert flow.incidents is not None and flow.notifier is not None
    await flow.incidents.acknowledge(firing("a").fingerprint, "alice")
    await flow.incidents.acknowledge(firing("b").fingerprint, "alice")
    await flow.at(3)
    await flow.push(resolved("a", T0, T0 + 2 * 60))  # a's incident ended; b's goes on
    await flow.notifier.collect_garbage()  # what maintenance does every 15 minutes
    state = await flow.notifier.store.load_notification_state()
    assert [json.loads(body)["fingerprint"] for body in state.acks] == [firing("b").fingerprint]
