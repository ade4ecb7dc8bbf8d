"""What people do about alerts: acknowledge, unacknowledge and suppress them, one alert or a
whole aggregation group at a time. The HTTP API, the CLI and the PagerDuty and Slack callbacks
all come through here.

A group is named by its id: the SHA-256 of its group key, which is also the `dedup_key` of its
PagerDuty incident, so a PagerDuty webhook finds its group without a lookup table.

What people do is passed on to the integrations that told them of the group, through optional
methods of their channels (see `Told`): PagerDuty acknowledges its incident, a Slack message
shows who acknowledged or silenced. That runs in the background, so a slow service never holds
up the person who acted, and its failures are logged, never undo what was done here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from alerting.dispatch.group import AggregationGroup
from alerting.labels import Matcher, MatchType
from alerting.model import Alert
from alerting.notifier import Notifier
from alerting.notify.acks import Ack, ack_to_json
from alerting.notify.pipeline import Pipeline
from alerting.notify.silence import Silence
from alerting.store import GROUP_SUBJECT, IncidentEvent

log = logging.getLogger(__name__)

MIN_SUPPRESS_MINUTES = 1
MAX_SUPPRESS_MINUTES = 1440
# The longest ack that may be asked to expire; one that should last is given without expiry.
MAX_ACK_SECONDS = 366 * 86400.0


class IncidentError(Exception):
    """A request about alerts that cannot be done; `status` is the HTTP code that says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def group_id(group_key: str) -> str:
    """A group's id: Alertmanager's PagerDuty dedup_key for it."""
    return hashlib.sha256(group_key.encode()).hexdigest()


class Told(Protocol):
    """What a channel may be told of people's actions on a group besides notifications. Every
    method is optional: a channel without one is not told that."""

    async def acknowledged(self, group_key: str, by: str) -> None:
        """Every firing alert of the group is acknowledged now."""

    async def unacknowledged(self, group_key: str, by: str) -> None:
        """The group was acknowledged as a whole and no longer is."""

    async def silenced(self, group_key: str, by: str, until: float) -> None:
        """A silence of the group's labels holds until `until`."""


@dataclass(frozen=True, slots=True)
class EscalationView:
    policy: str
    level: int  # 1 for the first level, 0 before any
    next_due: float | None  # None while paused (acknowledged, silenced) or past the last level


@dataclass(frozen=True, slots=True)
class GroupView:
    id: str
    key: str
    receiver: str
    escalation: EscalationView | None  # None: the route has no policy
    acknowledged: bool  # every firing alert is
    alerts: list[Alert]


class Incidents:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ acknowledging

    async def acknowledge(
        self, fingerprint: str, by: str, comment: str = "", expires_in: float | None = None
    ) -> Ack:
        """Acknowledge one firing alert (its current incident)."""
        alert = self._firing_alert(fingerprint)
        acks = await self._acknowledge([alert], by, comment, expires_in)
        return acks[0]

    async def acknowledge_group(
        self,
        gid: str,
        by: str,
        comment: str = "",
        expires_in: float | None = None,
        *,
        source: str = "",
    ) -> list[Ack]:
        """Acknowledge every alert firing in the group now; a new one joining it later makes
        the group unacknowledged again. `source` is the kind of integration the ack was made
        in (PagerDuty): its channels already know and are not told."""
        now = self._now()
        alerts = {f: a for g in self._groups(gid) for f, a in g.alerts.items()}
        firing = [a for a in alerts.values() if not a.resolved_at(now)]
        if not firing:
            raise IncidentError(f"group {gid} has no firing alert to acknowledge", 409)
        return await self._acknowledge(firing, by, comment, expires_in, source)

    async def unacknowledge(self, fingerprint: str, by: str) -> None:
        """Withdraw an alert's ack: its groups escalate again from where they stood, at once."""
        self._alert(fingerprint)
        pipeline = self._pipeline()
        groups = self._groups_with(fingerprint)
        were = self._acknowledged_groups(groups)
        if pipeline.acks.remove(fingerprint) is None:
            raise IncidentError(f"alert {fingerprint} is not acknowledged", 404)
        await self.notifier.store.put_acks([(fingerprint, None)])
        await self._record([fingerprint], "unacknowledged", {"by": by})
        log.info("unacknowledged", extra={"fingerprint": fingerprint, "by": by})
        self._reconsider(groups)
        self._tell(were, "unacknowledged", by)

    async def unacknowledge_group(self, gid: str, by: str, *, source: str = "") -> list[str]:
        """Withdraw the acks of the group's alerts; returns the fingerprints that had one."""
        groups = self._groups(gid)
        pipeline = self._pipeline()
        were = self._acknowledged_groups(groups)
        fingerprints = dict.fromkeys(f for g in groups for f in g.alerts)
        withdrawn = [f for f in fingerprints if pipeline.acks.remove(f) is not None]
        await self.notifier.store.put_acks([(f, None) for f in withdrawn])
        await self._record(withdrawn, "unacknowledged", {"by": by})
        log.info("unacknowledged group", extra={"group_key": groups[0].key, "by": by})
        self._reconsider(groups)
        self._tell(were, "unacknowledged", by, source=source)
        return withdrawn

    def acknowledgement(self, fingerprint: str) -> Ack | None:
        """The ack that holds for the alert now, if any."""
        pipeline = self.notifier.pipeline
        ack = pipeline.acks.get(fingerprint) if pipeline is not None else None
        if ack is None:  # most alerts: no need to look further
            return None
        alert = self._dispatcher_alert(fingerprint)
        return ack if alert is not None and ack.covers(alert, self._now()) else None

    # ------------------------------------------------------------ suppressing

    async def suppress(self, fingerprint: str, minutes: int, by: str, comment: str = "") -> str:
        """A silence of exactly this alert's labels for `minutes`; an ordinary silence, seen by
        /api/v2/silences and amtool. Returns its id."""
        if not MIN_SUPPRESS_MINUTES <= minutes <= MAX_SUPPRESS_MINUTES:
            raise IncidentError(
                f"duration_minutes must be between {MIN_SUPPRESS_MINUTES} and "
                f"{MAX_SUPPRESS_MINUTES}, not {minutes}",
                400,
            )
        alert = self._alert(fingerprint)
        silence_id = await self._silence(alert.labels, minutes * 60.0, by, comment or "suppressed")
        detail = {"by": by, "minutes": minutes, "silence_id": silence_id}
        await self._record([fingerprint], "suppressed", detail)
        return silence_id

    async def silence_group(self, gid: str, seconds: float, by: str, comment: str) -> str:
        """A silence of the group's labels (for Slack's "Silence 1h" button)."""
        groups = self._groups(gid)
        silence_id = await self._silence(groups[0].labels, seconds, by, comment)
        self._tell(groups, "silenced", by, self._now() + seconds)
        return silence_id

    # ------------------------------------------------------------ looking up

    async def history(
        self, fingerprint: str, pending_since: float | None = None
    ) -> list[dict[str, Any]]:
        """The alert's timeline, oldest first: when it went pending (given by the caller, who
        knows rule alerts), fired and resolved; what was sent about its groups since it
        fired; acks, escalations and suppressions; and the silences that applied to it."""
        alert = self._dispatcher_alert(fingerprint)
        groups = self._groups_with(fingerprint)
        subjects = [fingerprint, *(GROUP_SUBJECT + g.key for g in groups)]
        events = await self.notifier.store.events(subjects)
        if alert is None and not events and pending_since is None:
            raise IncidentError(f"no alert with fingerprint {fingerprint}", 404)
        since = alert.starts_at if alert is not None else 0.0
        timeline = [_event_item(e) for e in events if e.subject == fingerprint or e.at >= since]
        if pending_since is not None:
            timeline.append({"at": pending_since, "kind": "pending"})
        if alert is not None:
            timeline += self._lifecycle(alert)
        return sorted(timeline, key=lambda item: item["at"])

    def _lifecycle(self, alert: Alert) -> list[dict[str, Any]]:
        now = self._now()
        items: list[dict[str, Any]] = [{"at": alert.starts_at, "kind": "firing"}]
        end = alert.ends_at if alert.resolved_at(now) else now
        if alert.resolved_at(now):
            items.append({"at": alert.ends_at, "kind": "resolved"})
        for silence in self.notifier.silences.snapshot():
            if (
                silence.mutes(alert.labels)
                and silence.starts_at <= end
                and silence.ends_at > alert.starts_at
            ):
                items.append(
                    {
                        "at": max(silence.starts_at, alert.starts_at),
                        "kind": "silenced",
                        "silence_id": silence.id,
                        "by": silence.created_by,
                        "comment": silence.comment,
                        "until": silence.ends_at,
                    }
                )
        return items

    def groups(self) -> list[GroupView]:
        dispatcher = self.notifier.dispatcher
        if dispatcher is None:
            return []
        return [self._view(group) for group in dispatcher.groups.values() if group.alerts]

    def find_group(self, gid: str) -> GroupView:
        return self._view(self._groups(gid)[0])

    async def wait_idle(self) -> None:
        """Until what was passed on to integrations so far has been sent (or has failed)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _view(self, group: AggregationGroup) -> GroupView:
        return GroupView(
            group_id(group.key),
            group.key,
            group.route.receiver,
            self._escalation_view(group),
            bool(self._acknowledged_groups([group])),
            list(group.alerts.values()),
        )

    def _escalation_view(self, group: AggregationGroup) -> EscalationView | None:
        name = group.route.escalation
        pipeline = self.notifier.pipeline
        policy = pipeline.stages.policies.get(name) if name and pipeline is not None else None
        if pipeline is None or policy is None:
            return None
        state = pipeline.escalations.get(group.key)
        if state is None or state.policy != name:  # not flushed under this policy yet
            return EscalationView(name, 0, None)
        level = policy.level(state.reached - 1) + 1 if state.reached else 0
        return EscalationView(name, level, state.next_due(policy))

    # ------------------------------------------------------------ the work

    async def _acknowledge(
        self,
        alerts: list[Alert],
        by: str,
        comment: str,
        expires_in: float | None,
        source: str = "",
    ) -> list[Ack]:
        if expires_in is not None and not (0 < expires_in <= MAX_ACK_SECONDS):
            raise IncidentError(
                f"expires_in must be more than 0 and at most {MAX_ACK_SECONDS:.0f} seconds "
                "(leave it out for an ack that lasts)",
                400,
            )
        pipeline = self._pipeline()
        now = self._now()
        groups = {id(g): g for a in alerts for g in self._groups_with(a.fingerprint)}
        lifetime = _shortest(expires_in, self._ack_timeouts(groups.values()))
        acks = [
            Ack(a.fingerprint, a.starts_at, by, now, comment, now + lifetime if lifetime else None)
            for a in alerts
        ]
        for ack in acks:
            pipeline.acks.put(ack)
        await self.notifier.store.put_acks([(ack.fingerprint, ack_to_json(ack)) for ack in acks])
        detail = {"by": by, "comment": comment, "expires_at": acks[0].expires_at}
        await self._record([a.fingerprint for a in acks], "acknowledged", detail)
        log.info("acknowledged", extra={"alerts": len(acks), "by": by})
        self._reconsider(groups.values())
        self._tell(self._acknowledged_groups(groups.values()), "acknowledged", by, source=source)
        return acks

    def _ack_timeouts(self, groups: Iterable[AggregationGroup]) -> list[float]:
        policies = self._pipeline().stages.policies
        return [
            timeout
            for group in groups
            if (policy := policies.get(group.route.escalation)) is not None
            and (timeout := policy.ack_timeout) is not None
        ]

    def _reconsider(self, groups: Iterable[AggregationGroup]) -> None:
        """Flush now, so an escalation pauses or resumes at once; the log prevents repeats."""
        now = self._now()
        for group in groups:
            group.flush_by(now)

    def _acknowledged_groups(self, groups: Iterable[AggregationGroup]) -> list[AggregationGroup]:
        """Those of `groups` acknowledged as a whole now: every firing alert is."""
        pipeline = self.notifier.pipeline
        if pipeline is None:
            return []
        now = self._now()
        return [
            group
            for group in groups
            if pipeline.acks.all_acknowledged(
                (a for a in group.alerts.values() if not a.resolved_at(now)), now
            )
        ]

    def _tell(
        self, groups: Iterable[AggregationGroup], what: str, *args: object, source: str = ""
    ) -> None:
        """Call `what` (a method of Told) in the background on every channel of every receiver
        the groups have notified, except channels of the kind `source`."""
        pipeline = self._pipeline()
        for group in groups:
            state = pipeline.escalations.get(group.key)
            told = {group.route.receiver, *(state.notified if state else ())}
            for receiver in sorted(told):
                for integration in pipeline.stages.receivers.get(receiver, []):
                    hook = getattr(integration.channel, what, None)
                    if hook is not None and integration.channel.kind != source:
                        self._spawn(hook(group.key, *args), f"{what} {integration.name}")

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as error:  # logged; what was done here stands either way
                log.warning("not passed on", extra={"task": name, "error": str(error)})

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _silence(self, labels: dict[str, str], seconds: float, by: str, comment: str) -> str:
        now = self._now()
        matchers = tuple(Matcher(n, MatchType.EQUAL, v) for n, v in sorted(labels.items()))
        silence = Silence("", matchers, now, now + seconds, now, by, comment)
        silence_id = self.notifier.silences.set(silence, now)
        await self.notifier.save_silences()
        return silence_id

    # ------------------------------------------------------------ helpers

    async def _record(self, fingerprints: list[str], kind: str, detail: dict[str, Any]) -> None:
        text = json.dumps(detail)
        now = self._now()
        await self.notifier.store.add_events(
            [IncidentEvent(f, now, kind, text) for f in fingerprints]
        )

    def _now(self) -> float:
        return self.notifier.clock.now()

    def _pipeline(self) -> Pipeline:
        if self.notifier.pipeline is None:
            raise IncidentError("notifications are off: the config has no route", 409)
        return self.notifier.pipeline

    def _dispatcher_alert(self, fingerprint: str) -> Alert | None:
        dispatcher = self.notifier.dispatcher
        return dispatcher.alerts.get(fingerprint) if dispatcher is not None else None

    def _alert(self, fingerprint: str) -> Alert:
        alert = self._dispatcher_alert(fingerprint)
        if alert is None:
            raise IncidentError(f"no alert with fingerprint {fingerprint}", 404)
        return alert

    def _firing_alert(self, fingerprint: str) -> Alert:
        alert = self._alert(fingerprint)
        if alert.resolved_at(self._now()):
            raise IncidentError(f"alert {fingerprint} is resolved: nothing to acknowledge", 409)
        return alert

    def _groups_with(self, fingerprint: str) -> list[AggregationGroup]:
        dispatcher = self.notifier.dispatcher
        if dispatcher is None:
            return []
        return [g for g in dispatcher.groups.values() if fingerprint in g.alerts]

    def _groups(self, gid: str) -> list[AggregationGroup]:
        """The groups with id `gid`: one, unless sibling routes with the same matchers each
        have a group of the same labels (their group keys are equal, as in Alertmanager)."""
        dispatcher = self.notifier.dispatcher
        groups = [
            group
            for group in (dispatcher.groups.values() if dispatcher is not None else ())
            if group.alerts and group_id(group.key) == gid
        ]
        if not groups:
            raise IncidentError(f"no group with id {gid}", 404)
        return groups


def _event_item(event: IncidentEvent) -> dict[str, Any]:
    item: dict[str, Any] = {"at": event.at, "kind": event.kind}
    if event.subject.startswith(GROUP_SUBJECT):
        item["group_key"] = event.subject[len(GROUP_SUBJECT) :]
    item.update(json.loads(event.detail))
    return item


def _shortest(asked: float | None, limits: list[float]) -> float | None:
    candidates = [x for x in (asked, *limits) if x is not None]
    return min(candidates) if candidates else None
