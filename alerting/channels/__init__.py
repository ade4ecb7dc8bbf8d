"""The one interface every integration (webhook, email, Slack, PagerDuty) implements.

The notification pipeline owns dedup, retry, deadlines and the notification log; a channel only
turns one notification into one delivery attempt and says whether a failure is worth retrying.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import aiohttp

from alerting.httpclient import CredentialsError
from alerting.model import Alert
from alerting.template.alertmanager import (
    Escalation,
    NotificationData,
    NotificationTemplates,
    notification_data,
)

if TYPE_CHECKING:  # config imports the channels' specs; the channels only read its globals
    from alerting.config import GlobalConfig


class DeliveryError(Exception):
    """One delivery attempt failed; `retryable` says whether trying again may help
    (5xx, 429 where the service documents it, connection errors) or not (other 4xx, bad config).
    `retry_after` (seconds) is the service's own wish, such as a 429's Retry-After header; the
    next attempt waits at least that long."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Notification:
    """What one flush of one aggregation group hands to one integration of its receiver."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    # In Alertmanager's order (sorted by labels); resolved are those with 0 < ends_at <= now.
    alerts: Sequence[Alert]
    now: float  # the flush time: an alert is resolved when 0 < ends_at <= now
    external_url: str
    escalation: Escalation | None = None  # set when the group's route has a policy
    # Set when the group was notified before, so its alerts will likely be sent again at its next
    # flush: encoders then keep their encoding of each alert (alerting.model.encoded).
    keep_encodings: bool = field(default=False, compare=False)


def template_data(notification: Notification) -> NotificationData:
    """What the receiver's templates see for `notification` (Alertmanager's data, and ours)."""
    n = notification
    return notification_data(
        n.receiver, dict(n.group_labels), n.alerts, n.external_url, n.now, n.escalation
    )


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


class ChannelState(Protocol):
    """Durable strings a channel keeps between flushes and across restarts, such as the Slack
    message a group's later notifications update. Keys are the channel's own."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str | None) -> None:
        """Keep `value`; None forgets the key."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a receiver's channel factories get besides their own config entries."""

    receiver: str
    session: aiohttp.ClientSession  # pooled, shared, owned by the notifier: never close it
    templates: NotificationTemplates  # Alertmanager's defaults, ours, then `templates:` files
    global_: GlobalConfig  # smtp_*, slack_api_url, pagerduty_url, http_config defaults
    state: ChannelState
    # The daemon takes Slack's interactivity requests (server.callbacks.slack is set), so bot
    # messages may carry buttons and show who acknowledged them.
    interactive: bool = False


@contextmanager
def posting(where: str) -> Iterator[None]:
    """Failures of the HTTP transport in the block (an unreadable credentials file, a timeout,
    a refused connection) as retryable DeliveryErrors that begin with `where`."""
    try:
        yield
    except CredentialsError as exc:
        raise DeliveryError(f"{where}: {exc}", retryable=True) from None
    except TimeoutError:  # aiohttp's timeouts are TimeoutErrors, some also ClientErrors
        raise DeliveryError(f"{where}: timeout", retryable=True) from None
    except aiohttp.ClientError as exc:
        reason = str(exc) or type(exc).__name__
        raise DeliveryError(f"{where}: {reason}", retryable=True) from None
