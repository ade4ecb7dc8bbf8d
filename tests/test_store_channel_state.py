"""Channel state (such as the Slack message of a group) in the SQLite file, across reopening."""

from __future__ import annotations

from pathlib import Path

from alerting.store.sqlite_notifications import SqliteNotificationStore


async def test_channel_state_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = SqliteNotificationStore(path)
    await store.open()
    await store.put_channel_state("slack/r/0/{}:{}", '{"ts": "1.0"}', 10.0)
    await store.put_channel_state("slack/r/0/{}:{}", '{"ts": "2.0"}', 11.0)
    await store.put_channel_state("gone", "x", 12.0)
    await store.put_channel_state("gone", None, 13.0)
    await store.close()

    reopened = SqliteNotificationStore(path)
    await reopened.open()
    try:
        assert await reopened.get_channel_state("slack/r/0/{}:{}") == '{"ts": "2.0"}'
        assert await reopened.get_channel_state("gone") is None
        assert await reopened.get_channel_state("never") is None
    finally:
        await reopened.close()


async def test_state_not_written_since_a_time_expires(tmp_path: Path) -> None:
    store = SqliteNotificationStore(str(tmp_path / "state.db"))
    await store.open()
    try:
        await store.put_channel_state("old", "a", 10.0)
        await store.put_channel_state("new", "b", 20.0)
        await store.expire_channel_state(15.0)
        assert await store.get_channel_state("old") is None
        assert await store.get_channel_state("new") == "b"
    finally:
        await store.close()
