"""Notifications in flight, written down before sending so a crash mid-send re-sends them at start."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alerting.channels import Notification
from alerting.model import Alert


@dataclass(frozen=True, slots=True)
class OutboxItem:
    integration: str  # "<receiver>/<kind>/<index>"
    notification: Notification

    @property
    def key(self) -> tuple[str, str]:
        return (self.notification.group_key, self.integration)


def encode_notification(notification: Notification) -> str:
    return json.dumps(
        {
            "receiver": notification.receiver,
            "group_key": notification.group_key,
            "group_labels": dict(notification.group_labels),
            "alerts": [_alert_fields(alert) for alert in notification.alerts],
            "now": notification.now,
            "external_url": notification.external_url,
        },
        separators=(",", ":"),
    )


def decode_notification(text: str) -> Notification:
    data = json.loads(text)
    return Notification(
        receiver=data["receiver"],
        group_key=data["group_key"],
        group_labels=data["group_labels"],
        alerts=[Alert(**fields) for fields in data["alerts"]],
        now=data["now"],
        external_url=data["external_url"],
    )


def _alert_fields(alert: Alert) -> dict[str, Any]:
    return {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "generator_url": alert.generator_url,
        "updated_at": alert.updated_at,
    }
