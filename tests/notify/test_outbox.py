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
    with pytest.raises(ValueError, match="unknown format 3"):
        decode_notification(pickle.dumps((3, "r", "k", {}, [], 0.0, "", None)))


def test_alerts_kept_encoded_for_the_next_flush_come_back_whole() -> None:
    alerts = [
        Alert({"alertname": "Disk", "instance": "a"}, {"summary": "full"}, 10.5, 0.0, "g", 11.0),
        Alert({"alertname": "Disk", "instance": "b"}, {}, 9.0, 12.0, "", 12.0),
    ]
    first = Notification("hook", "k", {}, alerts, 12.5, "x", keep_encodings=True)
    row = encode_notification(first)
    assert all(a.encodings and "outbox" in a.encodings for a in alerts)
    # The next flush reuses what the first kept, and a new alert joins them.
    joined = Alert({"alertname": "Disk", "instance": "c"}, {}, 12.0, 0.0, "", 13.0)
    second = replace(first, alerts=[*alerts, joined], now=13.5)
    assert decode_notification(row) == first
    assert decode_notification(encode_notification(second)) == second


def test_a_row_of_an_earlier_release_still_decodes() -> None:
    """Format 1, as the release before kept alerts encoded wrote it: met after an upgrade."""
    alert = ({"alertname": "Disk"}, {"summary": "s"}, 10.5, 0.0, "g", 11.0, "0123456789abcdef")
    row = pickle.dumps((1, "hook", "k", {"alertname": "Disk"}, [alert], 12.5, "x", None), 5)
    back = decode_notification(row)
    assert back.alerts == [Alert(*alert[:6])]
    assert back.alerts[0].fingerprint == "0123456789abcdef"
    assert (back.receiver, back.now, back.escalation) == ("hook", 12.5, None)


def test_an_alert_naming_anything_but_plain_data_is_refused() -> None:
    inner = pickle.dumps((dict, {}, 0.0, 0.0, "", 0.0, ""))
    with pytest.raises(pickle.UnpicklingError, match="plain data only"):
        decode_notification(pickle.dumps((2, "r", "k", {}, [inner], 0.0, "", None)))
