"""What encoders keep on an alert between flushes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from alerting.model import Alert, encoded


def _counting() -> tuple[list[str], Callable[[Alert], str]]:
    calls: list[str] = []

    def encode(alert: Alert) -> str:
        calls.append(alert.labels["n"])
        return "<" + alert.labels["n"] + ">"

    return calls, encode


def test_kept_encodings_are_made_once_per_alert() -> None:
    alerts = [Alert({"n": "1"}), Alert({"n": "2"})]
    calls, encode = _counting()
    assert encoded(alerts, "test", encode, keep=True) == ["<1>", "<2>"]
    later = [*alerts, Alert({"n": "3"})]
    assert encoded(later, "test", encode, keep=True) == ["<1>", "<2>", "<3>"]
    assert calls == ["1", "2", "3"]


def test_without_keep_nothing_stays_on_the_alert() -> None:
    alerts = [Alert({"n": "1"})]
    calls, encode = _counting()
    assert encoded(alerts, "test", encode, keep=False) == ["<1>"]
    assert encoded(alerts, "test", encode, keep=False) == ["<1>"]
    assert calls == ["1", "1"]
    assert alerts[0].encodings is None


def test_encoders_keep_apart() -> None:
    alert = Alert({"n": "1"})
    encoded([alert], "one", lambda a: "a", keep=True)
    assert encoded([alert], "two", lambda a: "b", keep=True) == ["b"]
    assert alert.encodings == {"one": "a", "two": "b"}


def test_kept_encodings_are_no_part_of_an_alerts_identity() -> None:
    alert = Alert({"n": "1"})
    encoded([alert], "one", lambda a: "a", keep=True)
    assert alert == Alert({"n": "1"})
    assert "encodings" not in repr(alert)


def test_a_replaced_alert_keeps_nothing_of_the_old_version() -> None:
    alert = Alert({"n": "1"}, ends_at=5.0)
    encoded([alert], "one", lambda a: "a", keep=True)
    assert replace(alert, ends_at=6.0).encodings is None
