"""The notification side as one unit: built from the config, its state loaded and saved, reloaded."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress

import aiohttp

from alerting.channels import Channel, ChannelContext, ChannelState
from alerting.channels.email import email_channels
from alerting.channels.pagerduty import pagerduty_channels
from alerting.channels.slack import slack_channels
from alerting.channels.webhook import webhook_channels
from alerting.clock import Clock
from alerting.config import Config, ReceiverSpec
from alerting.dispatch.alerts import Received
from alerting.dispatch.dispatcher import Dispatcher
from alerting.dispatch.group import AggregationGroup
from alerting.dispatch.route import build_route_tree
from alerting.dispatch.status import Muting
from alerting.httpclient import new_session
from alerting.metrics import Metrics
from alerting.model import Alert
from alerting.notify.acks import Acks, ack_from_json
from alerting.notify.escalation import Escalations, Policy, state_from_json
from alerting.notify.inhibit import Inhibitor
from alerting.notify.nflog import LOG_RETENTION, NotificationLog
from alerting.notify.pipeline import Integration, Pipeline, Stages
from alerting.notify.silence import Silences, silence_from_api, silence_to_api
from alerting.notify.time_intervals import TimeIntervals
from alerting.store import NotificationStore
from alerting.template.alertmanager import NotificationTemplates, load_templates

log = logging.getLogger(__name__)

# How often expired log entries and silences past retention are dropped (Alertmanager: 15 min).
MAINTENANCE_INTERVAL = 900.0
# How long what happened is remembered: alerts' and groups' histories, and when collected alerts
# resolved (for the alert statistics).
HISTORY_RETENTION = 7 * 86400.0


class NotNotifying(RuntimeError):
    """Pushed alerts need a route to take; the config has none."""


def build_stages(
    config: Config,
    session: aiohttp.ClientSession,
    templates: NotificationTemplates,
    state: ChannelState,
) -> Stages:
    interactive = config.server.callbacks.slack is not None
    receivers = {
        receiver.name: receiver_integrations(
            receiver,
            ChannelContext(receiver.name, session, templates, config.global_, state, interactive),
        )
        for receiver in config.receivers
    }
    return Stages(
        receivers=receivers,
        inhibitor=Inhibitor(config.inhibit_rules),
        time_intervals=TimeIntervals([*config.time_intervals, *config.mute_time_intervals]),
        external_url=config.global_.external_url,
        policies={spec.name: Policy.of(spec) for spec in config.escalation_policies},
    )


def receiver_integrations(receiver: ReceiverSpec, ctx: ChannelContext) -> list[Integration]:
    """A receiver's integrations, numbered per kind as Alertmanager names them; none is valid
    and notifies nobody."""
    kinds: list[list[Channel]] = [
        list(webhook_channels(receiver.webhook_configs, ctx)),
        list(email_channels(receiver.email_configs, ctx)),
        list(pagerduty_channels(receiver.pagerduty_configs, ctx)),
        list(slack_channels(receiver.slack_configs, ctx)),
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
        self._pushed: set[str] = set()  # fingerprints of pushed alerts the store keeps

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
            self.clock,
            self.store,
            NotificationLog(state.log),
            self.silences,
            stages,
            self.metrics,
            acks=Acks(ack_from_json(body) for body in state.acks),
            escalations=Escalations(
                [state_from_json(body) for body in state.escalations],
                save=self.store.put_escalation,
                wake=self._wake_group,
            ),
        )
        self.dispatcher = Dispatcher(
            self.clock,
            build_route_tree(config.route),
            self.pipeline.flush,
            resolve_timeout=config.global_.resolve_timeout,
            observers=[stages.inhibitor.observe],
        )
        self._resume_pushed(state.pushed)
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

    async def push(self, alerts: list[Alert]) -> None:
        """Alerts pushed over the API: dispatched as the evaluator's are, then kept in the store
        (a batch in one transaction), so that a restart has them. Returns once they are stored;
        raises NotNotifying when no route is configured."""
        if self.dispatcher is None:
            raise NotNotifying("no route is configured: pushed alerts have nowhere to go")
        stored = self.dispatcher.ingest(alerts)
        self.metrics.alerts_received.inc(len(alerts))
        self._pushed.update(entry.alert.fingerprint for entry in stored)
        await self.store.put_pushed_alerts(stored)

    def is_pushed(self, fingerprint: str) -> bool:
        return fingerprint in self._pushed

    def alerts(self) -> list[Alert]:
        """Every alert dispatch holds, pushed or evaluated (resolved ones until the GC)."""
        return list(self.dispatcher.alerts) if self.dispatcher is not None else []

    def groups(self) -> list[AggregationGroup]:
        return list(self.dispatcher.groups.values()) if self.dispatcher is not None else []

    def muting(self) -> Muting:
        """What mutes alerts now and where they are routed, for the APIs' alert status."""
        if self.pipeline is None or self.dispatcher is None:
            return Muting(self.silences)
        return Muting(self.silences, self.pipeline.stages.inhibitor, self.dispatcher.route)

    def receiver_names(self) -> list[str]:
        """The configured receivers, in config order."""
        return list(self.pipeline.stages.receivers) if self.pipeline is not None else []

    def _resume_pushed(self, pushed: list[Received]) -> None:
        """At start: the pushed alerts the store kept go back to dispatch, and from then on
        the store forgets each one the dispatcher's GC drops."""
        assert self.dispatcher is not None
        self.dispatcher.restore(pushed)
        self._pushed = {entry.alert.fingerprint for entry in pushed}
        self.dispatcher.collectors.append(self._forget_collected)

    async def _forget_collected(self, gone: list[Alert]) -> None:
        forget = [alert.fingerprint for alert in gone if alert.fingerprint in self._pushed]
        self._pushed.difference_update(forget)
        resolved = [(alert.fingerprint, alert.ends_at) for alert in gone]
        await self.store.collect_alerts(forget, resolved, self.clock.now() - HISTORY_RETENTION)

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
                await self.collect_garbage()
            except Exception:
                log.exception("notification maintenance failed")

    def _wake_group(self, group_key: str, at: float) -> None:
        if self.dispatcher is not None:
            self.dispatcher.flush_by(group_key, at)

    async def _forget_stale_acks(self, now: float) -> None:
        assert self.pipeline is not None and self.dispatcher is not None
        current = {a.fingerprint: a for a in self.dispatcher.alerts}
        stale = [ack.fingerprint for ack in self.pipeline.acks.stale(current, now)]
        for fingerprint in stale:
            self.pipeline.acks.remove(fingerprint)
        await self.store.put_acks([(fingerprint, None) for fingerprint in stale])

    async def collect_garbage(self) -> None:
        """Drop what has expired: log entries, silences, channel state, history, stale acks."""
        assert self.pipeline is not None
        now = self.clock.now()
        expired = self.pipeline.nflog.expired(now)
        if expired:
            await self.store.expire_log([entry.key for entry in expired])
            self.pipeline.nflog.drop(expired)
        self.pipeline.stages.inhibitor.gc(now)
        self.silences.gc(now)  # after Alertmanager's --data.retention
        await self.store.expire_channel_state(now - LOG_RETENTION)
        await self.store.expire_events(now - HISTORY_RETENTION)
        await self._forget_stale_acks(now)
        await self.save_silences()
