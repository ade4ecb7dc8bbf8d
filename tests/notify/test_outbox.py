"""The outbox row: what a crash leaves behind must come back as the same notification."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from alerting.channels import Notification
from alerting.model import Alert
from alerting.notify.outbox import decode_notification, encode_notification
from alerting.template.alertmanager import Escalation


def test_a_notification_comes_back_whole() -> None:
    alerts = [
        Alert({"alertname": "Disk", "ü": "\u2028"}, {"summary": "<full>"}, 10.5, 0.0, "http://g", 11.0),
        Alert({"alertname": "Disk", "instance": "b"}, {}, 9.0, 12.0, "", 12.0),
    ]  # fmt: skip
    sent = Notification("hook", '{}:{alertname="Disk"}', {"alertname": "Disk"}, alerts, 12.5, "x")
    back = decode_notification(encode_notification(sent))
    assert back == sent
    escalated = replace(sent, escalation=Escalation("db", 2))
    assert decode_notification(encode_notification(escalated)) == escalated
    assert [a.fingerprint for a in back.alerts] == [a.fingerprint for a in alerts]


@pytest.mark.parametrize(
    "row",
    [
        (1, "r", "k", {}, [], 0.0, "", dict),  # a class: would be looked up by name
        (1, "r", "k", {}, [], 0.0, "", print),  # a function: would be callable on load
    ],
)
def test_rows_naming_anything_but_plain_data_are_refused(row: tuple[object, ...]) -> None:
    with pytest.raises(pickle.UnpicklingError, match="plain data only"):
        decode_notification(pickle.dumps(row))


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 2"):
        decode_notification(pickle.dumps((2, "r", "k", {}, [], 0.0, "", None)))
