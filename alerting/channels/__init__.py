"""The one interface every integration (webhook, email, Slack, PagerDuty) implements.

The notification pipeline owns dedup, retry, deadlines and the notification log; a channel only
turns one notification into one delivery attempt and says whether a failure is worth retrying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from alerting.model import Alert


class DeliveryError(Exception):
    """One delivery attempt failed; `retryable` says whether trying again may help
    (5xx, 429 where the service documents it, connection errors) or not (other 4xx, bad config)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Notification:
    """What one flush of one aggregation group hands to one integration of its receiver."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    # In Alertmanager's order (sorted by labels); ends_at is 0 for every alert not resolved at `now`.
    alerts: Sequence[Alert]
    now: float  # the flush time: an alert is resolved when 0 < ends_at <= now
    external_url: str


class Channel(Protocol):
    """One integration of a receiver, such as one entry of its `webhook_configs`."""

    kind: str  # "webhook", "email", "slack", "pagerduty": the integration name in logs and metrics
    send_resolved: bool

    async def send(self, notification: Notification) -> None:
        """Deliver once; raise DeliveryError on failure. Cancellation means the deadline passed."""
        ...

    async def close(self) -> None:
        """Release connections; called when a reload replaces the channel and at shutdown."""
        ...
