"""The dispatcher's alert store: ingest defaults, merging updates, and Alertmanager's alert order."""

from __future__ import annotations

from alerting.dispatch.alerts import AlertStore, normalize, sort_alerts
from alerting.model import Alert

NOW = 1_000.0


def test_missing_times_default_as_alertmanager_does() -> None:
    received = normalize(Alert({"a": "1"}), NOW, resolve_timeout=300)
    assert (received.alert.starts_at, received.alert.ends_at) == (NOW, NOW + 300)
    assert received.timeout and received.alert.updated_at == NOW
    only_end = normalize(Alert({"a": "1"}, ends_at=900.0), NOW, resolve_timeout=300)
    assert (only_end.alert.starts_at, only_end.alert.ends_at) == (900.0, 900.0)
    assert not only_end.timeout


def test_a_continuing_alert_keeps_its_earliest_start() -> None:
    store = AlertStore()
    store.put(normalize(Alert({"a": "1"}, starts_at=100.0, ends_at=2000.0), NOW, 300))
    later = normalize(Alert({"a": "1"}, starts_at=500.0, ends_at=2500.0), NOW + 10, 300)
    merged = store.put(later)
    assert (merged.starts_at, merged.ends_at) == (100.0, 2500.0)
    assert len(store) == 1


def test_an_explicit_end_outlives_a_later_timeout_update() -> None:
    store = AlertStore()
    store.put(normalize(Alert({"a": "1"}, starts_at=100.0, ends_at=5000.0), NOW, 300))
    # A push without endsAt: its timeout end (NOW + 10 + 300) is earlier than the explicit one.
    merged = store.put(normalize(Alert({"a": "1"}, starts_at=200.0), NOW + 10, 300))
    assert merged.ends_at == 5000.0


def test_a_resolve_replaces_a_firing_alert() -> None:
    store = AlertStore()
    store.put(normalize(Alert({"a": "1"}, starts_at=100.0, ends_at=5000.0), NOW, 300))
    resolved = store.put(normalize(Alert({"a": "1"}, starts_at=100.0, ends_at=NOW), NOW + 5, 300))
    assert resolved.ends_at == NOW and resolved.resolved_at(NOW + 5)


def test_gc_drops_only_resolved_alerts() -> None:
    store = AlertStore()
    store.put(normalize(Alert({"a": "1"}, starts_at=1.0, ends_at=NOW - 1), NOW, 300))
    store.put(normalize(Alert({"a": "2"}, starts_at=1.0, ends_at=NOW + 60), NOW, 300))
    gone = store.gc(NOW)
    assert [a.labels for a in gone] == [{"a": "1"}]
    assert [a.labels for a in store] == [{"a": "2"}]


def order(*label_sets: dict[str, str]) -> list[dict[str, str]]:
    alerts = [Alert(labels) for labels in label_sets]
    sort_alerts(alerts)
    return [a.labels for a in alerts]


def test_order_job_then_instance_with_missing_last() -> None:
    assert order(
        {"x": "1"},
        {"job": "b", "instance": "1"},
        {"job": "a", "instance": "2"},
        {"job": "a"},
        {"job": "a", "instance": "1"},
    ) == [
        {"job": "a", "instance": "1"},
        {"job": "a", "instance": "2"},
        {"job": "a"},
        {"job": "b", "instance": "1"},
        {"x": "1"},
    ]


def test_order_fewer_labels_first_then_by_union_of_names() -> None:
    assert order({"a": "1", "b": "1"}, {"z": "9"}) == [{"z": "9"}, {"a": "1", "b": "1"}]
    # Same size: at the first name only one set has, the set lacking it comes first.
    assert order({"a": "1"}, {"b": "1"}) == [{"b": "1"}, {"a": "1"}]
    assert order({"ab": "1"}, {"a": "1"}) == [{"ab": "1"}, {"a": "1"}]
    assert order({"a": "2"}, {"a": "10"}) == [{"a": "10"}, {"a": "2"}]
