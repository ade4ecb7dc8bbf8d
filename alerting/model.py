"""The shapes alerts take as they flow: query samples, rule alerts, and Alertmanager-style alerts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from alerting.labels import fingerprint_hex


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant-vector result; a scalar result is one sample with no labels."""

    labels: dict[str, str]
    value: float


class AlertState(StrEnum):
    """Prometheus's alert states; `inactive` alerts are the resolved ones still retained."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(slots=True)
class RuleAlert:
    """One active alert of an alerting rule, as Prometheus's rule manager keeps it."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    value: float
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    last_sent_at: float | None = None
    valid_until: float | None = None
    keep_firing_since: float | None = None
    # Computed once: the labels never change, and hashing them is not cheap in Python.
    cached_fingerprint: str = field(default="", repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        if not self.cached_fingerprint:
            self.cached_fingerprint = fingerprint_hex(self.labels)
        return self.cached_fingerprint


@dataclass(slots=True)
class Alert:
    """An alert as Alertmanager sees it: what rule evaluation and pushes both hand to dispatch.

    Read-only downstream: its label and annotation dicts may be shared with the evaluator.
    """

    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float = 0.0
    generator_url: str = ""
    updated_at: float = 0.0
    # Sources that already know it (the evaluator) pass it in; otherwise computed once.
    cached_fingerprint: str = field(default="", repr=False, compare=False)
    # What encoders made of this version, by encoder; see `encoded`. Not an __init__ argument,
    # so that dataclasses.replace, which makes another version, does not carry it over.
    encodings: dict[str, object] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        if not self.cached_fingerprint:
            self.cached_fingerprint = fingerprint_hex(self.labels)
        return self.cached_fingerprint

    def resolved_at(self, now: float) -> bool:
        return 0.0 < self.ends_at <= now


def fingerprints_at(alerts: Sequence[Alert], now: float) -> tuple[list[str], list[str]]:
    """The fingerprints of `alerts` firing at `now`, and of those resolved, in order.

    Alert.resolved_at written out: flushes ask it of every alert of a group, and the call cost
    more than the comparison.
    """
    firing = [a.fingerprint for a in alerts if not 0.0 < a.ends_at <= now]
    resolved = [a.fingerprint for a in alerts if 0.0 < a.ends_at <= now]
    return firing, resolved


T = TypeVar("T")


def encoded(
    alerts: Sequence[Alert], encoder: str, encode: Callable[[Alert], T], keep: bool
) -> list[T]:
    """`[encode(a) for a in alerts]`, reusing what `encoder` kept of an alert before; with
    `keep`, keeping what it makes now.

    A group flushes every group_interval with all its alerts, mostly the same ones as last time:
    re-encoding each of them at every flush was most of what a large group cost. Alerts are
    never changed once made (a new time is a new Alert), so what is kept stays true. Only
    encoders whose output depends on the alert alone may keep it, and never as None.
    """
    found = [m.get(encoder) if (m := a.encodings) is not None else None for a in alerts]
    if None in found:
        for i, value in enumerate(found):
            if value is None:
                alert = alerts[i]
                found[i] = value = encode(alert)
                if keep:
                    if alert.encodings is None:
                        alert.encodings = {}
                    alert.encodings[encoder] = value
    return found  # type: ignore[return-value]  # no None left: each is a T
