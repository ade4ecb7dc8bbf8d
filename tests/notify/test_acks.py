"""Acks belong to one incident of one alert, may expire, and make a group acknowledged only whole."""

from __future__ import annotations

from alerting.model import Alert
from alerting.notify.acks import Ack, Acks, ack_from_json, ack_to_json


def alert(instance: str, starts_at: float = 100.0) -> Alert:
    return Alert({"alertname": "Disk", "instance": instance}, starts_at=starts_at)


def ack_for(a: Alert, *, expires_at: float | None = None) -> Ack:
    return Ack(a.fingerprint, a.starts_at, "alice", 200.0, "on it", expires_at)


def test_an_ack_covers_its_incident_until_it_expires() -> None:
    a = alert("a")
    acks = Acks([ack_for(a, expires_at=500.0)])
    assert acks.covers(a, 499.0)
    assert not acks.covers(a, 500.0)
    refired = alert("a", starts_at=300.0)  # resolved, then fired again: a new incident
    assert not acks.covers(refired, 250.0)


def test_a_group_is_acknowledged_only_when_every_firing_alert_is() -> None:
    a, b = alert("a"), alert("b")
    acks = Acks([ack_for(a)])
    assert acks.all_acknowledged([a], 300.0)
    assert not acks.all_acknowledged([a, b], 300.0)  # b joined: unacknowledged again
    assert not acks.all_acknowledged([], 300.0)  # nothing firing is not "acknowledged"
    acks.put(ack_for(b))
    assert acks.all_acknowledged([a, b], 300.0)
    assert acks.remove(b.fingerprint) is not None
    assert not acks.all_acknowledged([a, b], 300.0)


def test_stale_acks_are_expired_or_for_ended_incidents() -> None:
    a, b, c = alert("a"), alert("b"), alert("c")
    acks = Acks([ack_for(a), ack_for(b, expires_at=250.0), ack_for(c)])
    current = {a.fingerprint: a, b.fingerprint: b, c.fingerprint: alert("c", starts_at=150.0)}
    assert {ack.fingerprint for ack in acks.stale(current, 300.0)} == {b.fingerprint, c.fingerprint}
    current[a.fingerprint] = Alert(a.labels, starts_at=a.starts_at, ends_at=290.0)  # resolved
    assert a.fingerprint in {ack.fingerprint for ack in acks.stale(current, 300.0)}
    assert [ack.fingerprint for ack in acks.stale({}, 0.0)] == [x.fingerprint for x in (a, b, c)]


def test_json_round_trip() -> None:
    ack = ack_for(alert("a"), expires_at=1e9)
    assert ack_from_json(ack_to_json(ack)) == ack
