"""The alerts dispatch knows, one per fingerprint, merged as Alertmanager's alert provider merges."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from itertools import chain, compress, count, islice
from operator import eq

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
    fixed = with_times(alert, starts_at, ends_at, now)
    if "" in alert.labels.values():
        fixed.labels = {name: value for name, value in alert.labels.items() if value}
        fixed.cached_fingerprint = ""  # of the labels it no longer has
    return Received(fixed, timeout)


def with_times(alert: Alert, starts_at: float, ends_at: float, updated_at: float) -> Alert:
    """A copy of `alert` with other times. dataclasses.replace would do, but it inspects the
    class's fields on every call, and at once per alert on ingest and on flush that dominated."""
    return Alert(
        alert.labels,
        alert.annotations,
        starts_at,
        ends_at,
        alert.generator_url,
        updated_at,
        alert.cached_fingerprint,
    )


# with_times copies field by field: a field added to Alert must be added there too.
if [f.name for f in fields(Alert)] != [
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "generator_url",
    "updated_at",
    "cached_fingerprint",
    "encodings",  # not copied: they are of the old times
]:
    raise TypeError("Alert's fields changed: update alerting.dispatch.alerts.with_times")


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
        return self.merge(received).alert

    def merge(self, received: Received) -> Received:
        """As `put`, returning the stored entry with its timeout flag (what a store keeps)."""
        old = self._alerts.get(received.alert.fingerprint)
        if old is not None and _overlap(old.alert, received.alert):
            received = _merge(old, received)
        self._alerts[received.alert.fingerprint] = received
        return received

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
    return Received(with_times(new, starts_at, ends_at, new.updated_at), b.timeout)


# ---------------------------------------------------------------- Alertmanager's alert order


def sort_alerts(alerts: list[Alert]) -> None:
    """Sort as Alertmanager's AlertSlice: by job, then instance (a missing one last), then by the
    label sets (fewer labels first, then pairwise by the union of names).

    Job and instance mostly tell the alerts of a group apart, so the label sets are compared
    only within runs that share both: the full key costs ten times the short one to build.
    """
    keys = list(map(_job_instance, alerts))
    order = sorted(range(len(alerts)), key=keys.__getitem__)
    alerts[:] = map(alerts.__getitem__, order)
    for start, end in _equal_runs(list(map(keys.__getitem__, order))):
        alerts[start:end] = sorted(alerts[start:end], key=_label_set_order)


def _equal_runs(keys: list[tuple[bool, str, bool, str]]) -> list[tuple[int, int]]:
    """Where `keys` has runs of equal neighbours, as [start, end) ranges.

    The neighbours are compared in C: a group's alerts are sorted at every flush, and the Python
    loop this replaces took longer than the sort.
    """
    runs: list[tuple[int, int]] = []
    for i in compress(count(1), map(eq, keys, islice(keys, 1, None))):
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i - 1, i + 1))
    return runs


def _job_instance(alert: Alert) -> tuple[bool, str, bool, str]:
    labels = alert.labels
    job = labels.get("job")
    instance = labels.get("instance")
    # A missing job or instance sorts after every present one (False < True).
    return (job is None, job or "", instance is None, instance or "")


def _label_set_order(alert: Alert) -> tuple[object, ...]:
    labels = alert.labels
    names, descending = _sorted_names(tuple(labels))
    # _descending(name), labels[name], ... for the names in order: compared element by element,
    # as the (name key, value) pairs would be. Built in C, without a tuple per pair, since a
    # flush sorts every alert of its group.
    pairs = tuple(chain.from_iterable(zip(descending, map(labels.__getitem__, names), strict=True)))
    return (len(labels), pairs)


def label_set_key(labels: Mapping[str, str]) -> tuple[object, ...]:
    """A key ordering label sets as Alertmanager's LabelSet.Before (the API lists groups so)."""
    return _label_set_order(Alert(dict(labels)))


@lru_cache(maxsize=1024)
def _sorted_names(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """`names` sorted, and the _descending key of each: alerts of a source share their names."""
    ordered = tuple(sorted(names))
    return ordered, tuple(map(_descending, ordered))


@lru_cache(maxsize=4096)
def _descending(name: str) -> tuple[int, ...]:
    """A key that orders names backwards, prefixes after longer names ("a" after "ab").

    LabelSet.Before walks the union of both sets' names in order; at the first name only one set
    has, the set lacking it comes first. In a comparison of sorted (name, value) lists that is the
    set whose name there sorts later, hence the reversed name order.
    """
    return (*(-ord(ch) for ch in name), 0)
