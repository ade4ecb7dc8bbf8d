"""The outbox row: what a crash leaves behind must come back as the same notification."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from alerting.channels import Notification
from alerting.model import Alert
from alerting.notify.outbox import (
    Segments,
    SegmentWrite,
    decode_notification,
    encode_head,
)
from alerting.template.alertmanager import Escalation


def _write(segments: Segments, notification: Notification) -> tuple[bytes, SegmentWrite]:
    """As the store writes a notification: its head and what it adds to the segments."""
    fingerprints = [a.fingerprint for a in notification.alerts]
    key = (notification.group_key, "hook/webhook/0")
    write = segments.plan(key, notification, fingerprints)
    segments.written(key, write)
    return encode_head(notification, fingerprints), write


def _round_trip(notification: Notification) -> Notification:
    head, write = _write(Segments(), notification)
    assert write.replace and write.segment is not None
    return decode_notification(head, [write.segment])


def test_a_notification_comes_back_whole() -> None:
    alerts = [
        Alert({"alertname": "Disk", "ü": "\u2028"}, {"summary": "<full>"}, 10.5, 0.0, "http://g", 11.0),
        Alert({"alertname": "Disk", "instance": "b"}, {}, 9.0, 12.0, "", 12.0),
    ]  # fmt: skip
    sent = Notification("hook", '{}:{alertname="Disk"}', {"alertname": "Disk"}, alerts, 12.5, "x")
    back = _round_trip(sent)
    assert back == sent
    escalated = replace(sent, escalation=Escalation("db", 2))
    assert _round_trip(escalated) == escalated
    assert [a.fingerprint for a in back.alerts] == [a.fingerprint for a in alerts]


def test_alerts_come_back_in_the_order_sent() -> None:
    alerts = [Alert({"n": str(n)}) for n in (3, 1, 2)]
    back = _round_trip(Notification("hook", "k", {}, alerts, 1.0, ""))
    assert back.alerts == alerts


def test_a_groups_first_notification_is_written_whole_and_kept_track_of_from_the_next() -> None:
    alert = Alert({"alertname": "Disk"}, {}, 10.0, 0.0, "", 11.0)
    first = Notification("hook", "k", {}, [alert], 12.5, "x")
    segments = Segments()
    head, write = _write(segments, first)
    assert write.replace and write.kept is None and alert.encodings is None
    assert write.segment is not None
    assert decode_notification(head, [write.segment]) == first
    again = replace(first, now=13.5, keep_encodings=True)
    head, write = _write(segments, again)
    assert write.replace and write.kept is not None  # nothing known yet: whole again
    assert alert.encodings is not None and "outbox" in alert.encodings
    assert write.segment is not None
    assert decode_notification(head, [write.segment]) == again


def test_a_head_without_its_alerts_is_refused() -> None:
    alert = Alert({"alertname": "Disk"})
    head = encode_head(Notification("hook", "k", {}, [alert], 1.0, ""), [alert.fingerprint])
    with pytest.raises(ValueError, match=f"lacks its alerts {alert.fingerprint}"):
        decode_notification(head, [])


def test_a_row_written_before_alerts_were_kept_apart_still_decodes() -> None:
    """Format 1, met in the outbox after an upgrade: the alerts are in the row itself."""
    alert = ({"alertname": "Disk"}, {"summary": "s"}, 10.5, 0.0, "g", 11.0, "0123456789abcdef")
    row = pickle.dumps((1, "hook", "k", {"alertname": "Disk"}, [alert], 12.5, "x", None), 5)
    back = decode_notification(row, [])
    assert back.alerts == [Alert(*alert[:6])]
    assert back.alerts[0].fingerprint == "0123456789abcdef"
    assert (back.receiver, back.group_key, back.now, back.escalation) == ("hook", "k", 12.5, None)


@pytest.mark.parametrize(
    "row",
    [
        (3, "r", "k", {}, [], 0.0, "", dict),  # a class: would be looked up by name
        (3, "r", "k", {}, [], 0.0, "", print),  # a function: would be callable on load
    ],
)
def test_rows_naming_anything_but_plain_data_are_refused(row: tuple[object, ...]) -> None:
    with pytest.raises(pickle.UnpicklingError, match="plain data only"):
        decode_notification(pickle.dumps(row), [])


def test_an_alert_naming_anything_but_plain_data_is_refused() -> None:
    segment = pickle.dumps([(dict, {}, 0.0, 0.0, "", 0.0, "f")])
    head = pickle.dumps((3, "r", "k", {}, ["f"], 0.0, "", None))
    with pytest.raises(pickle.UnpicklingError, match="plain data only"):
        decode_notification(head, [segment])


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 2"):
        decode_notification(pickle.dumps((2, "r", "k", {}, [], 0.0, "", None)), [])


# ---------------------------------------------------------------- segments from flush to flush


def _alert(n: int, ends_at: float = 0.0) -> Alert:
    return Alert({"alertname": "Disk", "instance": str(n)}, {}, 10.0, ends_at, "", 11.0)


def _flush(alerts: list[Alert], now: float) -> Notification:
    return Notification("hook", "k", {}, alerts, now, "", keep_encodings=True)


def test_a_flush_appends_only_the_alerts_that_changed() -> None:
    segments = Segments()
    alerts = [_alert(n) for n in range(10)]
    _, first = _write(segments, _flush(alerts, 20.0))
    assert first.replace and first.seq == 0
    # One alert joins and one is updated (a new version is a new Alert); the rest are the same.
    later = [*alerts[:4], _alert(4, ends_at=30.0), *alerts[5:], _alert(10)]
    head, second = _write(segments, _flush(later, 21.0))
    assert not second.replace and second.seq == 1
    assert second.segment is not None
    assert len(pickle.loads(second.segment)) == 2
    assert first.segment is not None
    back = decode_notification(head, [first.segment, second.segment])
    assert back.alerts == later  # the updated alert's latest version, the new one, in order
    _, third = _write(segments, _flush(later, 22.0))  # a repeat: nothing changed
    assert third.segment is None and not third.replace


def test_alerts_that_left_are_not_in_the_notification() -> None:
    segments = Segments()
    alerts = [_alert(n) for n in range(4)]
    _, first = _write(segments, _flush(alerts, 20.0))
    head, second = _write(segments, _flush(alerts[1:], 21.0))
    assert second.segment is None
    assert first.segment is not None
    assert decode_notification(head, [first.segment]).alerts == alerts[1:]


def test_segments_are_rewritten_whole_once_they_hold_twice_what_the_group_has() -> None:
    segments = Segments()
    alerts = [_alert(n) for n in range(10)]
    _write(segments, _flush(alerts, 20.0))
    _, update = _write(segments, _flush([_alert(n, ends_at=30.0) for n in range(10)], 21.0))
    assert not update.replace  # twice: at the limit
    _, again = _write(segments, _flush([_alert(0, ends_at=31.0)], 22.0))
    assert again.replace and again.seq == 0
    assert again.segment is not None and len(pickle.loads(again.segment)) == 1


def test_a_forgotten_or_failed_key_is_written_whole() -> None:
    segments = Segments()
    alerts = [_alert(n) for n in range(3)]
    _write(segments, _flush(alerts, 20.0))
    segments.forget(("k", "hook/webhook/0"))
    _, write = _write(segments, _flush(alerts, 21.0))
    assert write.replace and write.segment is not None
    # A write that failed: the store forgets the key, and the next is whole again.
    fingerprints = [a.fingerprint for a in alerts]
    assert not segments.plan(("k", "hook/webhook/0"), _flush(alerts, 22.0), fingerprints).replace
    segments.forget(("k", "hook/webhook/0"))
    assert segments.plan(("k", "hook/webhook/0"), _flush(alerts, 23.0), fingerprints).replace
