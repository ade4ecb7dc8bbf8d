"""Persistence, so a restart resumes rule alerts, the notification log, notifications in flight
and silences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from alerting.dispatch.alerts import Received
from alerting.model import RuleAlert
from alerting.notify.nflog import LogEntry
from alerting.notify.outbox import OutboxItem

_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


class StoreError(Exception):
    """The store cannot be used as asked (for example, its schema is newer than this code)."""


@dataclass(frozen=True, slots=True)
class AlertKey:
    """Identity of a rule alert in the store."""

    group: str  # "<rule file path>;<group name>", as Prometheus's GroupKey
    rule: str  # rule identity within the group, opaque to the store
    fingerprint: str  # 16 hex digits, alerting.labels.fingerprint_hex(labels)


@dataclass(slots=True)
class GroupWrite:
    """Everything one evaluation of one group changed.

    Deletes apply before upserts, so a key in both ends up holding the upserted alert.
    """

    group: str
    evaluated_at: float  # last_evaluated only ever moves forward
    upserts: list[tuple[str, RuleAlert]] = field(default_factory=list)
    deletes: list[AlertKey] = field(default_factory=list)


@dataclass(slots=True)
class RuleState:
    """What a restart gets back."""

    alerts: dict[str, dict[str, list[RuleAlert]]]  # group -> rule identity -> alerts
    last_evaluated: dict[str, float]  # group -> last evaluated_at written


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None:
        """Flush pending writes, then release the database."""
        ...

    async def load_rule_state(self) -> RuleState: ...

    async def write(self, change: GroupWrite) -> None:
        """Return once `change` is durably committed; raise if it could not be."""
        ...

    async def forget_groups(self, keep: set[str]) -> None:
        """Drop the state of every group not in `keep` (groups no longer configured)."""
        ...


@dataclass(slots=True)
class NotificationState:
    """What the notification side gets back at start."""

    log: list[LogEntry]
    outbox: list[OutboxItem]
    silences: dict[str, str]  # id -> silence as Alertmanager API v2 JSON
    pushed: list[Received] = field(default_factory=list)  # as dispatch last held them
    acks: list[str] = field(default_factory=list)  # alerting.notify.acks JSON
    escalations: list[str] = field(default_factory=list)  # alerting.notify.escalation JSON


GROUP_SUBJECT = "group:"  # an IncidentEvent's subject prefix for groups; alerts go by fingerprint


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One line of an alert's or a group's history."""

    subject: str  # a fingerprint, or "group:" and a group key
    at: float
    kind: str
    detail: str  # JSON


class NotificationStore(Protocol):
    """The notification log, the outbox and silences. Each call is one durable transaction."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def load_notification_state(self) -> NotificationState: ...

    async def put_outbox(self, item: OutboxItem) -> None:
        """Written before the first attempt to send `item`."""
        ...

    async def record_sent(self, entry: LogEntry) -> None:
        """Log a notification as sent and take it out of the outbox, atomically."""
        ...

    async def drop_outbox(self, key: tuple[str, str]) -> None:
        """A notification given up on: the next flush of its group decides afresh."""
        ...

    async def expire_log(self, keys: list[tuple[str, str]]) -> None: ...

    async def save_silences(self, upserts: dict[str, str], deletes: list[str]) -> None: ...

    async def put_pushed_alerts(self, alerts: Sequence[Received]) -> None:
        """Keep pushed alerts (one transaction), replacing what is kept for their fingerprints."""
        ...

    async def collect_alerts(
        self, forget: Sequence[str], resolved: Sequence[tuple[str, float]], keep_since: float
    ) -> None:
        """After the dispatcher's GC: forget the pushed alerts `forget`, record `resolved`
        (fingerprint, resolved at), and drop records of resolutions before `keep_since`."""
        ...

    async def count_resolved(self, since: float) -> int:
        """How many resolutions recorded by `collect_alerts` happened at `since` or later."""
        ...

    async def get_channel_state(self, key: str) -> str | None:
        """What a channel kept for `key` (see alerting.channels.ChannelState), or None."""
        ...

    async def put_channel_state(self, key: str, value: str | None, now: float) -> None:
        """Keep `value` for `key`; None forgets it."""
        ...

    async def put_acks(self, acks: Sequence[tuple[str, str | None]]) -> None:
        """Keep alerts' acks (fingerprint, JSON) in one transaction; None forgets one."""
        ...

    async def put_escalation(self, group_key: str, body: str | None) -> None:
        """Keep a group's escalation state (JSON); None forgets it."""
        ...

    async def add_events(self, events: Sequence[IncidentEvent]) -> None: ...

    async def events(self, subjects: Sequence[str]) -> list[IncidentEvent]:
        """The events of `subjects`, oldest first."""
        ...

    async def expire_events(self, before: float) -> None: ...

    async def expire_channel_state(self, before: float) -> None:
        """Forget state not written since `before` (say, a Slack message of a group whose
        resolve was never sent)."""
        ...


def open_store(location: str) -> Store:
    """The store for a `storage.path` setting: a SQLite file path, or a PostgreSQL DSN."""
    if location.startswith(_POSTGRES_SCHEMES):
        raise NotImplementedError("PostgreSQL storage arrives with HA support")
    # Imported here so that a PostgreSQL deployment never loads the SQLite driver.
    from alerting.store.sqlite import SqliteStore

    return SqliteStore(location)


def open_notification_store(location: str) -> NotificationStore:
    if location.startswith(_POSTGRES_SCHEMES):
        raise NotImplementedError("PostgreSQL storage arrives with HA support")
    from alerting.store.sqlite_notifications import SqliteNotificationStore

    return SqliteNotificationStore(location)
