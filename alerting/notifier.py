"""The notification side as one unit: built from the config, its state loaded and saved, reloaded."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress

import aiohttp

from alerting.channels import Channel, ChannelContext
from alerting.channels.webhook import webhook_channels
from alerting.clock import Clock
from alerting.config import Config, ReceiverSpec
from alerting.dispatch.dispatcher import Dispatcher
from alerting.dispatch.route import build_route_tree
from alerting.httpclient import new_session
from alerting.metrics import Metrics
from alerting.model import Alert
from alerting.notify.inhibit import Inhibitor
from alerting.notify.nflog import NotificationLog
from alerting.notify.pipeline import Integration, Pipeline, Stages
from alerting.notify.silence import Silences, silence_from_api, silence_to_api
from alerting.notify.time_intervals import TimeIntervals
from alerting.store import NotificationStore
from alerting.template.alertmanager import NotificationTemplates, load_templates

log = logging.getLogger(__name__)

# How often expired log entries and silences past retention are dropped (Alertmanager: 15 min).
MAINTENANCE_INTERVAL = 900.0
# Alertmanager's --data.retention: expired silences are kept this long, then forgotten.
SILENCE_RETENTION = 120 * 3600.0


def build_stages(
    config: Config,
    session: aiohttp.ClientSession,
    templates: NotificationTemplates,
    state: StoreChannelState,
) -> Stages:
    receivers = {
        receiver.name: receiver_integrations(
            receiver, ChannelContext(receiver.name, session, templates, config.global_, state)
        )
        for receiver in config.receivers
    }
    return Stages(
        receivers=receivers,
        inhibitor=Inhibitor(config.inhibit_rules),
        time_intervals=TimeIntervals([*config.time_intervals, *config.mute_time_intervals]),
        external_url=config.global_.external_url,
    )


def receiver_integrations(receiver: ReceiverSpec, ctx: ChannelContext) -> list[Integration]:
    """A receiver's integrations, numbered per kind as Alertmanager names them; none is valid
    and notifies nobody."""
    kinds: list[list[Channel]] = [
        list(webhook_channels(receiver.webhook_configs, ctx)),
    ]
    return [
        Integration(receiver.name, index, channel)
        for channels in kinds
        for index, channel in enumerate(channels)
    ]


class StoreChannelState:
    """Channels' durable state (alerting.channels.ChannelState) in the notification store."""

    def __init__(self, store: NotificationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def get(self, key: str) -> str | None:
        return await self._store.get_channel_state(key)

    async def put(self, key: str, value: str | None) -> None:
        await self._store.put_channel_state(key, value, self._clock.now())


class Notifier:
    """Alerts in (`ingest`), notifications out; owns the dispatcher, pipeline and their state."""

    def __init__(
        self, clock: Clock, store: NotificationStore, metrics: Metrics | None = None
    ) -> None:
        self.clock = clock
        self.store = store
        self.metrics = metrics or Metrics()
        self.silences = Silences()
        self.channel_state = StoreChannelState(store, clock)
        self._saved_silences: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.pipeline: Pipeline | None = None
        self.dispatcher: Dispatcher | None = None

    async def start(self, config: Config, templates: NotificationTemplates | None = None) -> None:
        assert config.route is not None, "a notifier needs a route"
        session = new_session()
        try:
            stages = build_stages(
                config, session, templates or load_templates(), self.channel_state
            )
        except BaseException:
            await session.close()
            raise
        self._session = session
        state = await self.store.load_notification_state()
        self.silences.load([silence_from_api(json.loads(body)) for body in state.silences.values()])
        self._saved_silences = dict(state.silences)
        self.pipeline = Pipeline(
            self.clock, self.store, NotificationLog(state.log), self.silences, stages, self.metrics
        )
        self.dispatcher = Dispatcher(
            self.clock,
            build_route_tree(config.route),
            self.pipeline.flush,
            resolve_timeout=config.global_.resolve_timeout,
            observers=[stages.inhibitor.observe],
        )
        self.dispatcher.start()
        self._tasks = [
            asyncio.create_task(self.pipeline.replay(state.outbox), name="outbox replay"),
            asyncio.create_task(self._maintain(), name="notification maintenance"),
        ]

    async def reload(self, config: Config, templates: NotificationTemplates | None = None) -> None:
        assert self.pipeline and self.dispatcher and self._session and config.route
        stages = build_stages(
            config, self._session, templates or load_templates(), self.channel_state
        )
        self.pipeline.stages = stages
        await self.dispatcher.reconfigure(
            build_route_tree(config.route),
            config.global_.resolve_timeout,
            observers=[stages.inhibitor.observe],
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.save_silences()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def ingest(self, alerts: list[Alert]) -> None:
        """The evaluator's sink, and later the push API's: both hand over the same shape."""
        if self.dispatcher is not None:
            self.metrics.alerts_received.inc(len(alerts))
            self.dispatcher.ingest(alerts)

    async def save_silences(self) -> None:
        """Persist what changed in the silences since the last save."""
        now = self.clock.now()
        current = {s.id: json.dumps(silence_to_api(s, now)) for s in self.silences.snapshot()}
        upserts = {i: body for i, body in current.items() if self._saved_silences.get(i) != body}
        deletes = [i for i in self._saved_silences if i not in current]
        if upserts or deletes:
            await self.store.save_silences(upserts, deletes)
            self._saved_silences = current

    async def _maintain(self) -> None:
        while True:
            await self.clock.sleep_until(self.clock.now() + MAINTENANCE_INTERVAL)
            try:
                await self._collect_garbage()
            except Exception:
                log.exception("notification maintenance failed")

    async def _collect_garbage(self) -> None:
        assert self.pipeline is not None
        now = self.clock.now()
        expired = self.pipeline.nflog.expired(now)
        if expired:
            await self.store.expire_log([entry.key for entry in expired])
            self.pipeline.nflog.drop(expired)
        self.pipeline.stages.inhibitor.gc(now)
        self.silences.gc(now, SILENCE_RETENTION)
        await self.save_silences()
