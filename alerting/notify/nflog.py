"""The notification log: what each integration last sent for each group, and whether to send again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Alertmanager's --data.retention default: how long a log entry outlives its notification.
LOG_RETENTION = 120 * 3600.0


@dataclass(frozen=True, slots=True)
class LogEntry:
    group_key: str
    integration: str  # "<receiver>/<kind>/<index>", as Alertmanager keys its log
    sent_at: float
    firing: frozenset[str]  # fingerprints
    resolved: frozenset[str]
    expires_at: float

    @property
    def key(self) -> tuple[str, str]:
        return (self.group_key, self.integration)


def needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> bool:
    """Alertmanager's dedup decision for one flush of one group to one integration."""
    if entry is None:
        return bool(firing)  # nothing sent yet: only firing alerts are news
    if not firing <= entry.firing:
        return True  # a firing alert the receiver has not heard of
    if not firing:
        # Everything resolved. Send (or, without send_resolved, just log) only if the receiver
        # was told about firing alerts; alerts that came and went between flushes are not news.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.sent_at < now - repeat_interval


class NotificationLog:
    """The log in memory; the store holds the durable copy and loads it back at start."""

    def __init__(self, entries: Iterable[LogEntry] = ()) -> None:
        self._entries = {entry.key: entry for entry in entries}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, group_key: str, integration: str) -> LogEntry | None:
        return self._entries.get((group_key, integration))

    def record(self, entry: LogEntry) -> None:
        self._entries[entry.key] = entry

    def expired(self, now: float) -> list[LogEntry]:
        return [entry for entry in self._entries.values() if entry.expires_at <= now]

    def drop(self, entries: Iterable[LogEntry]) -> None:
        for entry in entries:
            self._entries.pop(entry.key, None)
