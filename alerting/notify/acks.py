"""Acknowledgements: someone is on it. An ack belongs to one incident of one alert.

An alert that resolves and fires again is a new incident (a new `startsAt`), so an ack names
the incident it was given for and does not carry over. An ack may expire; it is then as if it
had never been given, and escalation resumes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from alerting.model import Alert


@dataclass(frozen=True, slots=True)
class Ack:
    fingerprint: str
    incident: float  # the alert's starts_at when acknowledged
    by: str
    at: float
    comment: str = ""
    expires_at: float | None = None

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def covers(self, alert: Alert, now: float) -> bool:
        """True when this ack holds for `alert` as it is now."""
        return self.active(now) and alert.starts_at == self.incident


class Acks:
    """Every ack given and not withdrawn, by alert fingerprint."""

    def __init__(self, acks: Iterable[Ack] = ()) -> None:
        self._by_fingerprint = {ack.fingerprint: ack for ack in acks}

    def __len__(self) -> int:
        return len(self._by_fingerprint)

    def get(self, fingerprint: str) -> Ack | None:
        return self._by_fingerprint.get(fingerprint)

    def put(self, ack: Ack) -> None:
        self._by_fingerprint[ack.fingerprint] = ack

    def remove(self, fingerprint: str) -> Ack | None:
        return self._by_fingerprint.pop(fingerprint, None)

    def covers(self, alert: Alert, now: float) -> bool:
        ack = self._by_fingerprint.get(alert.fingerprint)
        return ack is not None and ack.covers(alert, now)

    def all_acknowledged(self, firing: Iterable[Alert], now: float) -> bool:
        """True when there is a firing alert and every one is acknowledged: a group is only
        acknowledged as a whole, so a new alert joining it makes it unacknowledged."""
        found = False
        for alert in firing:
            if not self.covers(alert, now):
                return False
            found = True
        return found

    def stale(self, current: dict[str, Alert], now: float) -> list[Ack]:
        """Acks that can never hold again: expired, or for an incident that has ended (the alert
        is gone or resolved, or fires again as a new incident)."""
        return [
            ack
            for ack in self._by_fingerprint.values()
            if not ack.active(now)
            or (alert := current.get(ack.fingerprint)) is None
            or alert.starts_at != ack.incident
            or alert.resolved_at(now)
        ]

    def snapshot(self) -> list[Ack]:
        return list(self._by_fingerprint.values())


def ack_to_json(ack: Ack) -> str:
    return json.dumps(asdict(ack), separators=(",", ":"))


def ack_from_json(text: str) -> Ack:
    return Ack(**json.loads(text))
