"""One aggregation group: the alerts of a route that share group labels, flushed on its timers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

from alerting.clock import Clock
from alerting.dispatch.alerts import sort_alerts
from alerting.dispatch.route import Route
from alerting.model import Alert
from alerting.notify.pipeline import Flush

log = logging.getLogger(__name__)

Notify = Callable[[Flush], Awaitable[bool]]


class AggregationGroup:
    """First flush `group_wait` after creation (at once for an alert older than that), then
    every `group_interval`; resolved alerts leave after a flush that succeeded."""

    def __init__(
        self, route: Route, labels: dict[str, str], key: str, clock: Clock, notify: Notify
    ) -> None:
        self.route = route
        self.labels = labels
        self.key = key
        self.alerts: dict[str, Alert] = {}
        self._clock = clock
        self._notify = notify
        self._has_flushed = False
        self._next_flush = clock.now() + route.group_wait
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"group {self.key}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def insert(self, alert: Alert, now: float) -> None:
        self.alerts[alert.fingerprint] = alert
        if not self._has_flushed and alert.starts_at + self.route.group_wait < now:
            self._next_flush = now
            self._wake.set()

    def empty(self) -> bool:
        return not self.alerts

    def flush_by(self, at: float) -> None:
        """Flush no later than `at`: an escalation level falls due between regular flushes."""
        if at < self._next_flush:
            self._next_flush = at
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._sleep_until_due()
            now = self._clock.now()
            self._next_flush = now + self.route.group_interval
            self._has_flushed = True
            try:
                await self._flush(now)
            except Exception:  # a bug in one flush must not stop the group's timer
                log.exception("flush failed", extra={"group_key": self.key})

    async def _sleep_until_due(self) -> None:
        while self._clock.now() < self._next_flush:
            self._wake.clear()
            sleeper = asyncio.ensure_future(self._clock.sleep_until(self._next_flush))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    async def _flush(self, now: float) -> None:
        if not self.alerts:
            return
        # The alerts as they are now. Stored alerts are never changed, only replaced, and every
        # stage judges "resolved" at the flush's `now`; so an alert resolving during the flush
        # still fires in it, as in Alertmanager (which copies each alert with a zero end time).
        snapshot = list(self.alerts.values())
        sort_alerts(snapshot)
        route = self.route
        flush = Flush(
            receiver=route.receiver,
            group_key=self.key,
            group_labels=self.labels,
            alerts=snapshot,
            now=now,
            group_interval=route.group_interval,
            repeat_interval=route.repeat_interval,
            mute_time_intervals=tuple(route.mute_time_intervals),
            active_time_intervals=tuple(route.active_time_intervals),
            escalation=route.escalation,
        )
        if await self._notify(flush):
            self._drop_resolved(snapshot, now)

    def _drop_resolved(self, sent: list[Alert], now: float) -> None:
        for alert in sent:
            if not alert.resolved_at(now):  # firing (most of a large group): no lookup
                continue
            current = self.alerts.get(alert.fingerprint)
            # Unless it was updated since, e.g. fired again during the flush.
            if current is not None and current.updated_at == alert.updated_at:
                del self.alerts[alert.fingerprint]
