"""The SQLite notification store, opened on a path for the length of a `with` block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alerting.store.sqlite_notifications import SqliteNotificationStore


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[SqliteNotificationStore]:
    store = SqliteNotificationStore(str(path))
    await store.open()
    try:
        yield store
    finally:
        await store.close()
