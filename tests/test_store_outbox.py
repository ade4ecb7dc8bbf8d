"""The outbox in the SQLite file: heads, the segments of each group's alerts, and upgrades."""

from __future__ import annotations

import pickle
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from alerting.channels import Notification
from alerting.model import Alert
from alerting.notify.nflog import LogEntry
from alerting.notify.outbox import OutboxItem
from alerting.store.migrations import MIGRATIONS
from alerting.store.sqlite_notifications import SqliteNotificationStore
from tests.notification_store import opened

INTEGRATION = "hook/webhook/0"
GROUP = '{}:{alertname="Disk"}'


def item(alerts: list[Alert], now: float, *, again: bool = True) -> OutboxItem:
    notification = Notification("hook", GROUP, {}, alerts, now, "", keep_encodings=again)
    return OutboxItem(INTEGRATION, notification)


def disk(instance: str, ends_at: float = 0.0) -> Alert:
    return Alert({"alertname": "Disk", "instance": instance}, {}, 10.0, ends_at, "", 11.0)


def segments(path: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT integration, seq FROM outbox_segment ORDER BY seq")
        return [(str(i), int(s)) for i, s in rows]


def sent(now: float) -> LogEntry:
    return LogEntry(GROUP, INTEGRATION, now, frozenset(), frozenset(), now + 3600)


async def notify(store: SqliteNotificationStore, alerts: list[Alert], now: float) -> None:
    """A notification written to the outbox, then logged as sent."""
    await store.put_outbox(item(alerts, now))
    await store.record_sent(sent(now))


async def test_what_is_in_flight_at_a_stop_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    alerts = [disk("a"), disk("b")]
    async with opened(path) as store:
        await notify(store, alerts, 20.0)
        later = [disk("a", ends_at=21.0), alerts[1], disk("c")]
        await store.put_outbox(item(later, 30.0))
    assert segments(path) == [(INTEGRATION, 0), (INTEGRATION, 1)]
    async with opened(path) as store:
        state = await store.load_notification_state()
    [back] = state.outbox
    assert back.integration == INTEGRATION
    assert back.notification == item(later, 30.0).notification


async def test_segments_outlive_a_send_and_go_with_a_given_up_one(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with opened(path) as store:
        await notify(store, [disk("a")], 20.0)
        assert segments(path) == [(INTEGRATION, 0)]  # for the next notification to build on
        assert (await store.load_notification_state()).outbox == []
        await store.put_outbox(item([disk("a"), disk("b")], 30.0))
        await store.drop_outbox((GROUP, INTEGRATION))
        assert segments(path) == []


async def test_segments_expire_with_their_log_entry(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with opened(path) as store:
        await notify(store, [disk("a")], 20.0)
        await store.expire_log([(GROUP, INTEGRATION)])
        assert segments(path) == []
        # Forgotten in memory too: the next write is whole, not a segment over nothing.
        await store.put_outbox(item([disk("a")], 30.0))
        assert segments(path) == [(INTEGRATION, 0)]


async def test_a_restarted_store_writes_each_group_whole_first(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    alerts = [disk("a"), disk("b")]
    async with opened(path) as store:
        await notify(store, alerts, 20.0)
        await notify(store, [*alerts, disk("c")], 30.0)
    assert len(segments(path)) == 2
    async with opened(path) as store:
        await store.load_notification_state()
        await store.put_outbox(item([alerts[0]], 40.0))
        assert segments(path) == [(INTEGRATION, 0)]
        state = await store.load_notification_state()
    assert [a.labels["instance"] for a in state.outbox[0].notification.alerts] == ["a"]


async def test_segments_of_groups_without_log_or_outbox_are_dropped_at_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    async with opened(path) as store:
        await notify(store, [disk("a")], 20.0)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM notification_log")  # as if expired while we were stopped
    async with opened(path) as store:
        await store.load_notification_state()
    assert segments(path) == []


async def test_a_row_in_flight_at_an_upgrade_is_sent_after_it(tmp_path: Path) -> None:
    """A database of schema version 5 holds whole notifications in the outbox row."""
    path = tmp_path / "state.db"
    with closing(sqlite3.connect(path)) as db:
        for migration in MIGRATIONS[:5]:
            for statement in migration.statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 5")
        fields = ({"alertname": "Disk"}, {"summary": "s"}, 10.5, 0.0, "g", 11.0, "0123456789abcdef")
        row = pickle.dumps((1, "hook", GROUP, {"alertname": "Disk"}, [fields], 12.5, "x", None), 5)
        db.execute("INSERT INTO outbox VALUES (?, ?, ?)", (GROUP, INTEGRATION, row))
        db.commit()
    async with opened(path) as store:
        [back] = (await store.load_notification_state()).outbox
    assert back.integration == INTEGRATION
    assert back.notification.alerts == [Alert(*fields[:6])]
    assert (back.notification.group_labels, back.notification.now) == ({"alertname": "Disk"}, 12.5)


async def test_after_a_failed_write_the_group_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    alerts = [disk("a"), disk("b")]
    async with opened(path) as store:
        await notify(store, alerts, 20.0)
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("ALTER TABLE outbox RENAME TO outbox_away")  # the head's write fails
        with pytest.raises(sqlite3.OperationalError):
            await store.put_outbox(item([*alerts, disk("c")], 30.0))
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("ALTER TABLE outbox_away RENAME TO outbox")
        # Had the failed segment been taken as written, this one would hold only "d".
        await store.put_outbox(item([*alerts, disk("c"), disk("d")], 40.0))
        assert segments(path) == [(INTEGRATION, 0)]
        [back] = (await store.load_notification_state()).outbox
    assert [a.labels["instance"] for a in back.notification.alerts] == ["a", "b", "c", "d"]
