"""The alerts dispatch knows, one per fingerprint, merged as Alertmanager's alert provider merges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from alerting.model import Alert


@dataclass(frozen=True, slots=True)
class Received:
    """An alert as received, before the defaults of `normalize` apply to its times."""

    alert: Alert
    timeout: bool  # endsAt was not given: it resolves by itself after resolve_timeout


def normalize(alert: Alert, now: float, resolve_timeout: float) -> Received:
    """Alertmanager's ingest defaults: a label with an empty value is no label; no startsAt means
    now (or endsAt when only that is set), no endsAt means now + resolve_timeout; updatedAt is
    the time of receipt."""
    starts_at = alert.starts_at or (alert.ends_at or now)
    timeout = not alert.ends_at
    ends_at = now + resolve_timeout if timeout else alert.ends_at
    fixed = replace(alert, starts_at=starts_at, ends_at=ends_at, updated_at=now)
    if "" in alert.labels.values():
        fixed.labels = {name: value for name, value in alert.labels.items() if value}
        fixed.cached_fingerprint = ""  # of the labels it no longer has
    return Received(fixed, timeout)


class AlertStore:
    """Every alert not yet garbage-collected, by fingerprint."""

    def __init__(self) -> None:
        self._alerts: dict[str, Received] = {}

    def __len__(self) -> int:
        return len(self._alerts)

    def __iter__(self) -> Iterator[Alert]:
        return (received.alert for received in self._alerts.values())

    def get(self, fingerprint: str) -> Alert | None:
        received = self._alerts.get(fingerprint)
        return received.alert if received else None

    def put(self, received: Received) -> Alert:
        """Store `received`, merged with the alert it continues if their active ranges overlap."""
        old = self._alerts.get(received.alert.fingerprint)
        if old is not None and _overlap(old.alert, received.alert):
            received = _merge(old, received)
        self._alerts[received.alert.fingerprint] = received
        return received.alert

    def gc(self, now: float) -> list[Alert]:
        """Drop resolved alerts, as the provider's periodic GC does; returns what it dropped."""
        gone = [r.alert for r in self._alerts.values() if r.alert.resolved_at(now)]
        for alert in gone:
            del self._alerts[alert.fingerprint]
        return gone


def _overlap(old: Alert, new: Alert) -> bool:
    return (old.starts_at < new.ends_at < old.ends_at) or (
        old.starts_at < new.starts_at < old.ends_at
    )


def _merge(a: Received, b: Received) -> Received:
    """The younger update wins, keeping the earliest start; an explicit end beats a timeout."""
    if b.alert.updated_at < a.alert.updated_at:
        a, b = b, a
    old, new = a.alert, b.alert
    now = new.updated_at  # Alertmanager asks Resolved() of both at the time of the merge
    starts_at = min(old.starts_at, new.starts_at)
    ends_at = new.ends_at
    if new.resolved_at(now):
        if old.resolved_at(now) and old.ends_at > new.ends_at:
            ends_at = old.ends_at
    elif old.ends_at > new.ends_at and not a.timeout:
        ends_at = old.ends_at
    if (starts_at, ends_at) == (new.starts_at, new.ends_at):
        return b
    return Received(replace(new, starts_at=starts_at, ends_at=ends_at), b.timeout)


# ---------------------------------------------------------------- Alertmanager's alert order


def sort_alerts(alerts: list[Alert]) -> None:
    """Sort as Alertmanager's AlertSlice: by job, then instance (a missing one last), then by the
    label sets (fewer labels first, then pairwise by the union of names)."""
    alerts.sort(key=_order_key)


def _order_key(alert: Alert) -> tuple[object, ...]:
    labels = alert.labels
    job = labels.get("job")
    instance = labels.get("instance")
    pairs = tuple((_descending(name), labels[name]) for name in sorted(labels))
    return (
        (0, job) if job is not None else (1, ""),
        (0, instance) if instance is not None else (1, ""),
        len(labels),
        pairs,
    )


@lru_cache(maxsize=4096)
def _descending(name: str) -> tuple[int, ...]:
    """A key that orders names backwards, prefixes after longer names ("a" after "ab").

    LabelSet.Before walks the union of both sets' names in order; at the first name only one set
    has, the set lacking it comes first. In a comparison of sorted (name, value) lists that is the
    set whose name there sorts later, hence the reversed name order.
    """
    return (*(-ord(ch) for ch in name), 0)
