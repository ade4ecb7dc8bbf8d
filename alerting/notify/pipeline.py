"""What a flush goes through: inhibition, time intervals, silences, then per integration dedup,
delivery with retry and the notification log, as Alertmanager's notification pipeline."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from alerting.channels import Channel, Notification
from alerting.clock import Clock
from alerting.metrics import Metrics
from alerting.model import Alert, fingerprints_at
from alerting.notify.acks import Acks
from alerting.notify.escalation import Escalations, Policy, advance
from alerting.notify.inhibit import Inhibitor
from alerting.notify.nflog import LOG_RETENTION, LogEntry, NotificationLog, needs_update
from alerting.notify.outbox import OutboxItem
from alerting.notify.retry import DeliveryFailed, deliver
from alerting.notify.silence import Silences
from alerting.notify.time_intervals import TimeIntervals
from alerting.store import GROUP_SUBJECT, IncidentEvent, NotificationStore
from alerting.template.alertmanager import Escalation

log = logging.getLogger(__name__)

# Alertmanager gives a flush at least this long before abandoning its notifications.
MIN_FLUSH_TIMEOUT = 10.0
# How long a notification found in flight at start may take to be re-sent.
REPLAY_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class Integration:
    """One entry of a receiver's `*_configs`, named as Alertmanager names it in its log."""

    receiver: str
    index: int  # position among the receiver's integrations of the same kind
    channel: Channel

    @property
    def name(self) -> str:
        return f"{self.receiver}/{self.channel.kind}/{self.index}"

    @property
    def labels(self) -> tuple[str, str]:
        """Its metrics' receiver and integration labels."""
        return (self.receiver, self.channel.kind)


@dataclass(frozen=True, slots=True)
class Flush:
    """One flush of one aggregation group, as its route configures it."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: Sequence[Alert]  # sorted; resolved are those with 0 < ends_at <= now
    now: float
    group_interval: float
    repeat_interval: float
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    escalation: str = ""  # the route's escalation policy, if any

    @property
    def deadline(self) -> float:
        """Notifications still unsent by the group's next flush are abandoned."""
        return self.now + max(self.group_interval, MIN_FLUSH_TIMEOUT)


@dataclass(slots=True)
class Stages:
    """The configured parts of the pipeline; a reload swaps them as a whole."""

    receivers: dict[str, list[Integration]]
    inhibitor: Inhibitor
    time_intervals: TimeIntervals
    external_url: str = ""
    policies: dict[str, Policy] = field(default_factory=dict)


@dataclass
class Pipeline:
    clock: Clock
    store: NotificationStore
    nflog: NotificationLog
    silences: Silences
    stages: Stages
    metrics: Metrics = field(default_factory=Metrics)
    acks: Acks = field(default_factory=Acks)
    escalations: Escalations = field(default_factory=Escalations)
    _busy: KeyedLocks = field(default_factory=lambda: KeyedLocks())
    # The store writes one outbox item at a time anyway; encoding each only when its write is
    # near keeps a few encoded notifications in memory, not one per group flushing at once.
    _outbox_writes: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))

    async def flush(self, flush: Flush) -> bool:
        """Notify every integration of the route's receiver and of the escalation levels the
        group has reached; true when none failed (muted counts as ok)."""
        alerts = self._unmuted(flush)
        told = await self._escalate(flush, alerts)
        if not alerts:
            return True
        results = await asyncio.gather(
            *(
                self._notify(integration, flush, alerts, told)
                for receiver in told.receivers
                for integration in self.stages.receivers.get(receiver, [])
            )
        )
        return all(results)

    async def _escalate(self, flush: Flush, unmuted: list[Alert]) -> _Told:
        """Who hears of this flush: the route's receiver, and those of every level reached."""
        receivers = (flush.receiver,) if flush.receiver else ()
        policy = self.stages.policies.get(flush.escalation) if flush.escalation else None
        if policy is None:
            return _Told(receivers)
        now = flush.now
        firing = [a for a in unmuted if not a.resolved_at(now)]
        step = advance(
            self.escalations.get(flush.group_key),
            policy,
            flush.group_key,
            firing=any(not a.resolved_at(now) for a in flush.alerts),
            needs_someone=not self.acks.all_acknowledged(firing, now) if firing else False,
            now=now,
            fired_at=min((a.starts_at for a in firing), default=None),
        )
        wake_at = step.state.next_due(policy) if step.state is not None else None
        expiry = self._ack_expiry(firing, now)
        if expiry is not None:
            wake_at = expiry if wake_at is None else min(wake_at, expiry)
        await self.escalations.put(flush.group_key, step.state, wake_at)
        level = step.level + 1 if step.level is not None else 0
        if step.new:
            detail = {"policy": policy.name, "level": level, "receivers": list(step.new)}
            await self._history(flush.group_key, now, "escalated", detail)
        return _Told(
            tuple(dict.fromkeys([*receivers, *step.receivers])),
            frozenset(step.new),
            Escalation(policy.name, level),
        )

    def _ack_expiry(self, firing: list[Alert], now: float) -> float | None:
        """When the first ack that holds one of `firing` back runs out."""
        expiries = [
            ack.expires_at
            for alert in firing
            if (ack := self.acks.get(alert.fingerprint)) is not None
            and ack.covers(alert, now)
            and ack.expires_at is not None
        ]
        return min(expiries, default=None)

    async def replay(self, items: Sequence[OutboxItem]) -> None:
        """Re-send what was in flight when the daemon last stopped, then log it as sent."""
        by_name = {i.name: i for ints in self.stages.receivers.values() for i in ints}
        for item in items:
            integration = by_name.get(item.integration)
            if integration is None:
                await self.store.drop_outbox(item.key)
                continue
            async with self._busy.hold(item.key):
                await self._send(integration, item.notification, self.clock.now() + REPLAY_TIMEOUT)

    def _unmuted(self, flush: Flush) -> list[Alert]:
        now = flush.now
        stages = self.stages
        alerts = stages.inhibitor.unmuted(flush.alerts, now)
        if not alerts:
            return []
        if not stages.time_intervals.active(flush.active_time_intervals, now):
            return []
        if stages.time_intervals.muted(flush.mute_time_intervals, now):
            return []
        if not len(self.silences):
            # Nothing to match, and no need to fill the silences' cache with every label set.
            return alerts
        return [a for a in alerts if not self.silences.mutes(a.labels, now)]

    async def _notify(
        self, integration: Integration, flush: Flush, alerts: list[Alert], told: _Told
    ) -> bool:
        firing, resolved = _sets(alerts, flush.now)
        key = (flush.group_key, integration.name)
        async with self._busy.hold(key):
            entry = self.nflog.get(*key)
            send_resolved = integration.channel.send_resolved
            forced = integration.receiver in told.new and bool(firing)
            if not forced and not needs_update(
                entry,
                firing,
                resolved,
                send_resolved=send_resolved,
                repeat_interval=self._repeat_interval(flush, alerts),
                now=flush.now,
            ):
                self.metrics.notifications_unchanged.labels(*integration.labels).inc()
                return True
            if not send_resolved and not firing:
                # Nothing to tell this receiver, but log it so the resolve is not news next time.
                await self._record(integration, flush.group_key, firing, resolved)
                return True
            notification = Notification(
                receiver=integration.receiver,
                group_key=flush.group_key,
                group_labels=flush.group_labels,
                alerts=alerts if send_resolved else _firing(alerts, flush.now),
                now=flush.now,
                external_url=self.stages.external_url,
                escalation=told.escalation,
                keep_encodings=entry is not None,
            )
            return await self._send(integration, notification, flush.deadline, (firing, resolved))

    def _repeat_interval(self, flush: Flush, alerts: list[Alert]) -> float:
        """Acknowledged alerts are not repeated: while every firing one is, nothing is."""
        if self.acks and self.acks.all_acknowledged(_firing(alerts, flush.now), flush.now):
            return math.inf
        return flush.repeat_interval

    async def _send(
        self,
        integration: Integration,
        notification: Notification,
        deadline: float,
        sets: tuple[frozenset[str], frozenset[str]] | None = None,
    ) -> bool:
        item = OutboxItem(integration.name, notification)
        async with self._outbox_writes:
            await self.store.put_outbox(item)
        labels = integration.labels
        self.metrics.notifications.labels(*labels).inc()
        started = time.monotonic()  # real time: on a manual clock a latency would mean nothing
        try:
            attempts = await deliver(integration.channel, notification, self.clock, deadline)
        except DeliveryFailed as error:
            self.metrics.notification_latency.labels(*labels).observe(time.monotonic() - started)
            self.metrics.notification_requests.labels(*labels).inc(error.attempts)
            self.metrics.notifications_failed.labels(*labels).inc()
            log.error(
                "notify failed",
                extra={
                    "receiver": integration.receiver,
                    "integration": integration.name,
                    "group_key": notification.group_key,
                    "attempts": error.attempts,
                    "error": str(error),
                },
            )
            await self.store.drop_outbox(item.key)
            await self._notified(integration, notification, str(error))
            return False
        self.metrics.notification_latency.labels(*labels).observe(time.monotonic() - started)
        self.metrics.notification_requests.labels(*labels).inc(attempts)
        firing, resolved = sets or _sets(notification.alerts, notification.now)
        await self._record(integration, notification.group_key, firing, resolved)
        await self._notified(integration, notification, "")
        return True

    async def _notified(
        self, integration: Integration, notification: Notification, error: str
    ) -> None:
        firing = len(fingerprints_at(notification.alerts, notification.now)[0])
        detail = {
            "receiver": integration.receiver,
            "integration": integration.name,
            "outcome": "failed" if error else "sent",
            "firing": firing,
            "resolved": len(notification.alerts) - firing,
        }
        if error:
            detail["error"] = error[:512]
        await self._history(notification.group_key, self.clock.now(), "notified", detail)

    async def _history(
        self, group_key: str, at: float, kind: str, detail: dict[str, object]
    ) -> None:
        event = IncidentEvent(GROUP_SUBJECT + group_key, at, kind, json.dumps(detail))
        await self.store.add_events([event])

    async def _record(
        self,
        integration: Integration,
        group_key: str,
        firing: frozenset[str],
        resolved: frozenset[str],
    ) -> None:
        now = self.clock.now()
        entry = LogEntry(group_key, integration.name, now, firing, resolved, now + LOG_RETENTION)
        await self.store.record_sent(entry)
        self.nflog.record(entry)


@dataclass(frozen=True, slots=True)
class _Told:
    """Who hears of one flush, and what the templates learn of the escalation."""

    receivers: tuple[str, ...]
    new: frozenset[str] = frozenset()  # receivers of levels reached just now: told regardless
    escalation: Escalation | None = None


class KeyedLocks:
    """One notification at a time per group and integration (a replay and a flush may meet);
    a lock lives only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _firing(alerts: Sequence[Alert], now: float) -> list[Alert]:
    return [a for a in alerts if not a.resolved_at(now)]


def _sets(alerts: Sequence[Alert], now: float) -> tuple[frozenset[str], frozenset[str]]:
    # From lists: a frozenset made from one is sized for its length; made from a generator, it
    # keeps the room it grew into (twice as much), for as long as the log keeps the entry.
    firing, resolved = fingerprints_at(alerts, now)
    return frozenset(firing), frozenset(resolved)
