"""The dedup decision: Alertmanager's table of when a flush notifies an integration again."""

from __future__ import annotations

import pytest

from alerting.notify.nflog import LogEntry, NotificationLog, needs_update

NOW = 10_000.0
REPEAT = 3600.0


def entry(
    firing: set[str], resolved: set[str] = frozenset(), sent_at: float = NOW - 60
) -> LogEntry:
    return LogEntry(
        "{}:{}", "r/webhook/0", sent_at, frozenset(firing), frozenset(resolved), NOW + 1
    )


@pytest.mark.parametrize(
    ("logged", "firing", "resolved", "send_resolved", "expected"),
    [
        # Never notified: only firing alerts are news.
        (None, {"a"}, set(), True, True),
        (None, set(), {"a"}, True, False),
        (None, set(), set(), True, False),
        # A new firing alert.
        (entry({"a"}), {"a", "b"}, set(), False, True),
        # Same firing set, inside repeat_interval.
        (entry({"a", "b"}), {"a", "b"}, set(), True, False),
        # Fewer firing alerts and nothing newly resolved... but one resolved with send_resolved.
        (entry({"a", "b"}), {"a"}, {"b"}, True, True),
        (entry({"a", "b"}), {"a"}, {"b"}, False, False),
        # Resolve already told.
        (entry({"a"}, {"b"}), {"a"}, {"b"}, True, False),
        # All resolved after firing was notified: sent whatever send_resolved says.
        (entry({"a"}), set(), {"a"}, False, True),
        (entry({"a"}), set(), {"a"}, True, True),
        # All resolved, but the receiver never heard of them firing.
        (entry(set(), {"x"}), set(), {"a"}, True, False),
        # Repeat interval passed.
        (entry({"a"}, sent_at=NOW - REPEAT - 1), {"a"}, set(), True, True),
        (entry({"a"}, sent_at=NOW - REPEAT), {"a"}, set(), True, False),
    ],
)
def test_needs_update(
    logged: LogEntry | None,
    firing: set[str],
    resolved: set[str],
    send_resolved: bool,
    expected: bool,
) -> None:
    decision = needs_update(
        logged,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=send_resolved,
        repeat_interval=REPEAT,
        now=NOW,
    )
    assert decision is expected


def test_log_keeps_the_latest_entry_per_group_and_integration() -> None:
    log = NotificationLog([entry({"a"})])
    log.record(entry({"a", "b"}, sent_at=NOW))
    latest = log.get("{}:{}", "r/webhook/0")
    assert latest is not None and latest.firing == {"a", "b"}
    assert len(log) == 1
    assert log.expired(NOW) == []
    assert log.expired(NOW + 1) == [latest]
    log.drop([latest])
    assert log.get("{}:{}", "r/webhook/0") is None
