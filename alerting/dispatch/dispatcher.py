"""Takes alerts in from every source, keeps them, routes them and runs their aggregation groups."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress

from alerting.clock import Clock
from alerting.dispatch.alerts import AlertStore, Received, normalize
from alerting.dispatch.group import AggregationGroup, Notify
from alerting.dispatch.route import Route, group_key, group_labels
from alerting.labels import Labels, label_key
from alerting.model import Alert
from alerting.notify.pipeline import Flush

log = logging.getLogger(__name__)

# Alertmanager's intervals: empty groups are removed every 30 s, resolved alerts every 30 min.
MAINTENANCE_INTERVAL = 30.0
ALERT_GC_INTERVAL = 1800.0

Observer = Callable[[Alert], None]
# Told of the alerts the periodic GC dropped, once they are gone.
Collector = Callable[[list[Alert]], Awaitable[None]]
GroupIdentity = tuple[str | None, ...]


def group_identity(route: Route, labels: Labels) -> GroupIdentity:
    """Equal for two alerts exactly when `route` puts them in one group (their group labels
    are equal), and cheaper than those labels: the value of each group_by name, None where the
    alert lacks it (a frozenset iterates in the same order every time); or, grouping by all
    labels, every pair."""
    if route.group_by_all:
        return label_key(labels)
    return tuple(map(labels.get, route.group_by))


class Dispatcher:
    """The one path alerts take in, whether from rule evaluation or `POST /api/v2/alerts`."""

    def __init__(
        self,
        clock: Clock,
        route: Route,
        notify: Notify,
        *,
        resolve_timeout: float = 300.0,
        observers: Iterable[Observer] = (),
    ) -> None:
        self.clock = clock
        self.alerts = AlertStore()
        self.route = route
        self.resolve_timeout = resolve_timeout
        # By route and group identity: sibling routes with the same matchers share a key, not
        # groups. The identity tells groups apart as well as the key does; formatting the key
        # (Go-quoting every value) for each alert cost more than all the rest of routing.
        self.groups: dict[tuple[int, GroupIdentity], AggregationGroup] = {}
        self._notify = notify
        self._observers = list(observers)
        self.collectors: list[Collector] = []
        self._maintenance: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        self._maintenance = asyncio.create_task(self._maintain(), name="dispatch maintenance")

    async def stop(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            with suppress(asyncio.CancelledError):
                await self._maintenance
            self._maintenance = None
        await self._stop_groups()

    async def reconfigure(
        self, route: Route, resolve_timeout: float, observers: Iterable[Observer]
    ) -> None:
        """As Alertmanager after a reload: new groups, every known alert routed afresh. Alerts
        older than group_wait make their new group flush at once; the log prevents repeats."""
        await self._stop_groups()
        self.route = route
        self.resolve_timeout = resolve_timeout
        self._observers = list(observers)
        now = self.clock.now()
        for alert in list(self.alerts):
            self._observe(alert)
            self._route(alert, now)

    def ingest(self, alerts: Iterable[Alert]) -> list[Received]:
        """Accept alerts as Alertmanager's API does: fill in times, merge, route. Returns each
        as stored, merged with the alert it continues."""
        now = self.clock.now()
        stored: list[Received] = []
        for alert in alerts:
            received = self.alerts.merge(normalize(alert, now, self.resolve_timeout))
            self._observe(received.alert)
            self._route(received.alert, now)
            stored.append(received)
        return stored

    def restore(self, entries: Iterable[Received]) -> None:
        """Take back alerts kept across a restart, times as they were stored; their groups
        flush at once if older than group_wait, and the notification log prevents repeats."""
        now = self.clock.now()
        for entry in entries:
            alert = self.alerts.merge(entry).alert
            self._observe(alert)
            self._route(alert, now)

    def flush_by(self, group_key: str, at: float) -> None:
        """Have the group with `group_key` flush by `at` (an escalation step falls due); a
        group not formed yet decides at its first flush."""
        for group in self.groups.values():
            if group.key == group_key:
                group.flush_by(at)

    async def wait_idle(self) -> None:
        """Return once no flush is in progress (tests advance a manual clock, then wait here)."""
        await self._idle.wait()

    async def _tracked_notify(self, flush: Flush) -> bool:
        self._in_flight += 1
        self._idle.clear()
        try:
            return await self._notify(flush)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    def _observe(self, alert: Alert) -> None:
        for observe in self._observers:
            observe(alert)

    def _route(self, alert: Alert, now: float) -> None:
        for route in self.route.match(alert.labels):
            identity = (id(route), group_identity(route, alert.labels))
            group = self.groups.get(identity)
            if group is None:
                labels = group_labels(route, alert.labels)
                key = group_key(route, labels)
                group = AggregationGroup(route, labels, key, self.clock, self._tracked_notify)
                self.groups[identity] = group
                group.insert(alert, now)
                group.start()
            else:
                group.insert(alert, now)

    async def _maintain(self) -> None:
        next_gc = self.clock.now() + ALERT_GC_INTERVAL
        while True:
            await self.clock.sleep_until(self.clock.now() + MAINTENANCE_INTERVAL)
            await self._drop_empty_groups()
            if self.clock.now() >= next_gc:
                await self._collect_garbage(self.clock.now())
                next_gc = self.clock.now() + ALERT_GC_INTERVAL

    async def _collect_garbage(self, now: float) -> None:
        gone = self.alerts.gc(now)
        for collect in self.collectors:
            try:
                await collect(gone)
            except Exception:  # the store may be down; the next GC must still run
                log.exception("alert collector failed")

    async def _drop_empty_groups(self) -> None:
        for key, group in list(self.groups.items()):
            if group.empty():
                del self.groups[key]
                await group.stop()

    async def _stop_groups(self) -> None:
        groups, self.groups = list(self.groups.values()), {}
        await asyncio.gather(*(group.stop() for group in groups))
