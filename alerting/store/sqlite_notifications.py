"""The notification log, outbox, silences and pushed alerts in the SQLite file, on a connection of
their own.

A connection separate from rule state's keeps the two writers independent: evaluation batches
never wait behind a notification write, and WAL mode lets SQLite order the two safely.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

import aiosqlite

from alerting.dispatch.alerts import Received
from alerting.model import Alert
from alerting.notify.nflog import LogEntry
from alerting.notify.outbox import (
    Key,
    OutboxItem,
    Segments,
    decode_notification,
    encode_head,
)
from alerting.plaindata import dump, load
from alerting.store import IncidentEvent, NotificationState, StoreError
from alerting.store.sqlite import connect, transaction

log = logging.getLogger(__name__)

_UPSERT_LOG = """
    INSERT INTO notification_log (group_key, integration, sent_at, firing, resolved, expires_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (group_key, integration) DO UPDATE SET
        sent_at = excluded.sent_at, firing = excluded.firing, resolved = excluded.resolved,
        expires_at = excluded.expires_at
"""
_DELETE_LOG = "DELETE FROM notification_log WHERE group_key = ? AND integration = ?"
_PUT_OUTBOX = """
    INSERT INTO outbox (group_key, integration, notification) VALUES (?, ?, ?)
    ON CONFLICT (group_key, integration) DO UPDATE SET notification = excluded.notification
"""
_DELETE_OUTBOX = "DELETE FROM outbox WHERE group_key = ? AND integration = ?"
_PUT_SEGMENT = """
    INSERT INTO outbox_segment (group_key, integration, seq, alerts) VALUES (?, ?, ?, ?)
"""
_DELETE_SEGMENTS = "DELETE FROM outbox_segment WHERE group_key = ? AND integration = ?"
# Segments of groups with neither a notification in flight nor a log entry: left by a store
# that stopped before expiring the entry.
_DELETE_ORPHAN_SEGMENTS = """
    DELETE FROM outbox_segment WHERE (group_key, integration) NOT IN (
        SELECT group_key, integration FROM outbox
        UNION SELECT group_key, integration FROM notification_log
    )
"""
_UPSERT_SILENCE = """
    INSERT INTO silence (id, body) VALUES (?, ?)
    ON CONFLICT (id) DO UPDATE SET body = excluded.body
"""
_PUSHED_COLUMNS = (
    "fingerprint, labels, annotations, starts_at, ends_at, generator_url, updated_at, timeout"
)
_PUT_PUSHED = f"""
    INSERT INTO pushed_alert ({_PUSHED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (fingerprint) DO UPDATE SET
        labels = excluded.labels, annotations = excluded.annotations,
        starts_at = excluded.starts_at, ends_at = excluded.ends_at,
        generator_url = excluded.generator_url, updated_at = excluded.updated_at,
        timeout = excluded.timeout
"""
_RECORD_RESOLVED = "INSERT OR IGNORE INTO resolved_alert (fingerprint, resolved_at) VALUES (?, ?)"
# json's C encoder called directly: JSONEncoder.encode costs more per call than encoding a
# label set, and a push stores two mappings per alert.
_chunks = c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, True)
_raw_loads = json.JSONDecoder().raw_decode  # for the JSON _dumps wrote: no whitespace checks
_PUT_CHANNEL_STATE = """
    INSERT INTO channel_state (key, value, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
"""


# Pushed batches: folding starts once this many wait, a turn folds this many, and waits for
# this long without a push, unless more than FOLD_NOW wait.
FOLD_AT = 64
FOLD_TURN = 8
FOLD_QUIET = 0.5
FOLD_NOW = 1024


class SqliteNotificationStore:
    def __init__(self, location: str) -> None:
        self._location = location
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._segments = Segments()
        # Pushed batches not yet folded into pushed_alert, as far as this process knows.
        self._unfolded = 0
        self._last_push = 0.0
        self._folding: asyncio.Task[None] | None = None
        self.fold_at = FOLD_AT
        self.fold_quiet = FOLD_QUIET

    async def open(self) -> None:
        self._conn = await connect(self._location, "NORMAL")

    async def close(self) -> None:
        if self._folding is not None:
            self._folding.cancel()  # its transaction rolls back; the batches stay for next time
            with suppress(asyncio.CancelledError):
                await self._folding
        if self._conn is not None:
            async with self._lock:
                await self._conn.close()
                self._conn = None

    async def load_notification_state(self) -> NotificationState:
        async with self._transaction() as conn:
            await conn.execute(_DELETE_ORPHAN_SEGMENTS)
            await self._fold(conn, None)
            log_rows = await conn.execute_fetchall(
                "SELECT group_key, integration, sent_at, firing, resolved, expires_at"
                " FROM notification_log"
            )
            outbox_rows = await conn.execute_fetchall(
                "SELECT group_key, integration, notification FROM outbox"
            )
            segment_rows = await conn.execute_fetchall(
                "SELECT group_key, integration, alerts"
                " FROM outbox_segment JOIN outbox USING (group_key, integration)"
                " ORDER BY group_key, integration, seq"
            )
            silence_rows = await conn.execute_fetchall("SELECT id, body FROM silence")
            pushed_rows = await conn.execute_fetchall(f"SELECT {_PUSHED_COLUMNS} FROM pushed_alert")
            ack_rows = await conn.execute_fetchall("SELECT body FROM ack")
            escalation_rows = await conn.execute_fetchall("SELECT body FROM escalation")
        return NotificationState(
            log=[_log_entry(row) for row in log_rows],
            outbox=_outbox_items(outbox_rows, segment_rows),
            silences=dict(silence_rows),
            pushed=[_pushed_alert(row) for row in pushed_rows],
            acks=[str(body) for (body,) in ack_rows],
            escalations=[str(body) for (body,) in escalation_rows],
        )

    async def put_outbox(self, item: OutboxItem) -> None:
        """The head, and a segment of the alerts that changed since the group's last write."""
        key = item.key
        fingerprints = [a.fingerprint for a in item.notification.alerts]
        head = encode_head(item.notification, fingerprints)
        try:
            async with self._transaction() as conn:
                write = self._segments.plan(key, item.notification, fingerprints)
                if write.replace:
                    await conn.execute(_DELETE_SEGMENTS, key)
                if write.segment is not None:
                    await conn.execute(_PUT_SEGMENT, (*key, write.seq, write.segment))
                await conn.execute(_PUT_OUTBOX, (*key, head))
                self._segments.written(key, write)  # undone below if the commit fails
        except BaseException:
            self._segments.forget(key)
            raise

    async def record_sent(self, entry: LogEntry) -> None:
        """The segments stay, for the group's next notification to build on."""
        async with self._transaction() as conn:
            await conn.execute(_UPSERT_LOG, _log_row(entry))
            await conn.execute(_DELETE_OUTBOX, entry.key)

    async def drop_outbox(self, key: Key) -> None:
        async with self._transaction() as conn:
            self._segments.forget(key)
            await conn.execute(_DELETE_OUTBOX, key)
            await conn.execute(_DELETE_SEGMENTS, key)

    async def expire_log(self, keys: list[Key]) -> None:
        """With the groups' segments: no notification has gone to them in a long time."""
        async with self._transaction() as conn:
            for key in keys:
                self._segments.forget(key)
            await conn.executemany(_DELETE_LOG, keys)
            await conn.executemany(_DELETE_SEGMENTS, keys)

    async def save_silences(self, upserts: dict[str, str], deletes: list[str]) -> None:
        async with self._transaction() as conn:
            await conn.executemany(_UPSERT_SILENCE, list(upserts.items()))
            await conn.executemany("DELETE FROM silence WHERE id = ?", [(i,) for i in deletes])

    async def put_pushed_alerts(self, alerts: Sequence[Received]) -> None:
        """One row in pushed_batch, folded into pushed_alert later: a push of 500 alerts
        appended as one blob commits in a fraction of the time of 500 upserts into the
        fingerprint index, and the client waits for that commit."""
        batch = dump([_pushed_row(received) for received in alerts])  # before taking the lock
        async with self._transaction() as conn:
            await conn.execute("INSERT INTO pushed_batch (alerts) VALUES (?)", (batch,))
        self._unfolded += 1
        self._last_push = time.monotonic()
        if self._unfolded >= self.fold_at and self._folding is None:
            self._folding = asyncio.create_task(self._fold_in_turns(), name="fold pushed alerts")

    async def wait_folded(self) -> None:
        """Return once no folding of pushed batches is under way."""
        if self._folding is not None:
            await asyncio.shield(self._folding)

    async def _fold_in_turns(self) -> None:
        """Fold a few batches per transaction, in quiet moments between pushes: a storm of
        pushes is not slowed by folding, nor does a push wait for more than one turn."""
        try:
            while self._unfolded > 0:
                if self._unfolded < FOLD_NOW:
                    await self._quiet()
                async with self._transaction() as conn:
                    await self._fold(conn, FOLD_TURN)
        except Exception:  # the store may be down: the next push past fold_at tries again
            log.exception("folding pushed alerts failed")
        finally:
            self._folding = None

    async def _quiet(self) -> None:
        # A debounce on the real clock: each push moves the end of the wait on.
        while (wait := self._last_push + self.fold_quiet - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)

    async def _fold(self, conn: aiosqlite.Connection, turn: int | None) -> None:
        """Fold the oldest `turn` pushed batches (all, with None) into pushed_alert. Call
        inside a transaction."""
        limit = "" if turn is None else f" LIMIT {int(turn)}"
        batches = await conn.execute_fetchall(
            "SELECT seq, alerts FROM pushed_batch ORDER BY seq" + limit
        )
        if batches:
            latest = {row[0]: row for _, data in batches for row in load(data)}  # fingerprint
            await conn.executemany(_PUT_PUSHED, list(latest.values()))
            await conn.execute("DELETE FROM pushed_batch WHERE seq <= ?", (batches[-1][0],))
        done = turn is None or len(batches) < turn
        self._unfolded = 0 if done else max(0, self._unfolded - len(batches))

    async def collect_alerts(
        self, forget: Sequence[str], resolved: Sequence[tuple[str, float]], keep_since: float
    ) -> None:
        async with self._transaction() as conn:
            # All batches first: one still holding a forgotten alert would bring it back.
            await self._fold(conn, None)
            await conn.executemany(
                "DELETE FROM pushed_alert WHERE fingerprint = ?", [(fp,) for fp in forget]
            )
            await conn.executemany(_RECORD_RESOLVED, resolved)
            await conn.execute("DELETE FROM resolved_alert WHERE resolved_at < ?", (keep_since,))

    async def count_resolved(self, since: float) -> int:
        async with self._transaction("BEGIN") as conn:
            rows = await conn.execute_fetchall(
                "SELECT COUNT(*) FROM resolved_alert WHERE resolved_at >= ?", (since,)
            )
        return int(rows[0][0])

    async def get_channel_state(self, key: str) -> str | None:
        async with self._transaction("BEGIN") as conn:
            rows = await conn.execute_fetchall(
                "SELECT value FROM channel_state WHERE key = ?", (key,)
            )
        return str(rows[0][0]) if rows else None

    async def put_channel_state(self, key: str, value: str | None, now: float) -> None:
        async with self._transaction() as conn:
            if value is None:
                await conn.execute("DELETE FROM channel_state WHERE key = ?", (key,))
            else:
                await conn.execute(_PUT_CHANNEL_STATE, (key, value, now))

    async def put_acks(self, acks: Sequence[tuple[str, str | None]]) -> None:
        await self._put_or_forget("ack", "fingerprint", acks)

    async def put_escalation(self, group_key: str, body: str | None) -> None:
        await self._put_or_forget("escalation", "group_key", [(group_key, body)])

    async def _put_or_forget(
        self, table: str, key_column: str, rows: Sequence[tuple[str, str | None]]
    ) -> None:
        forget = [(key,) for key, body in rows if body is None]
        keep = [(key, body) for key, body in rows if body is not None]
        async with self._transaction() as conn:
            await conn.executemany(f"DELETE FROM {table} WHERE {key_column} = ?", forget)
            await conn.executemany(
                f"INSERT INTO {table} ({key_column}, body) VALUES (?, ?)"
                f" ON CONFLICT ({key_column}) DO UPDATE SET body = excluded.body",
                keep,
            )

    async def add_events(self, events: Sequence[IncidentEvent]) -> None:
        rows = [(e.subject, e.at, e.kind, e.detail) for e in events]
        async with self._transaction() as conn:
            await conn.executemany(
                "INSERT INTO incident_event (subject, at, kind, detail) VALUES (?, ?, ?, ?)", rows
            )

    async def events(self, subjects: Sequence[str]) -> list[IncidentEvent]:
        marks = ",".join("?" * len(subjects))
        async with self._transaction("BEGIN") as conn:
            rows = await conn.execute_fetchall(
                "SELECT subject, at, kind, detail FROM incident_event"
                f" WHERE subject IN ({marks}) ORDER BY at, id",
                list(subjects),
            )
        return [IncidentEvent(str(s), float(a), str(k), str(d)) for s, a, k, d in rows]  # type: ignore[arg-type]

    async def expire_events(self, before: float) -> None:
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM incident_event WHERE at < ?", (before,))

    async def expire_channel_state(self, before: float) -> None:
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM channel_state WHERE updated_at < ?", (before,))

    @asynccontextmanager
    async def _transaction(
        self, begin: str = "BEGIN IMMEDIATE"
    ) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            if self._conn is None:
                raise StoreError(f"{self._location}: store is not open")
            async with transaction(self._conn, begin) as conn:
                yield conn


def _outbox_items(
    heads: Sequence[tuple[str, str, bytes]], segments: Sequence[tuple[str, str, bytes]]
) -> list[OutboxItem]:
    by_key: dict[Key, list[bytes]] = {}
    for group_key, integration, data in segments:  # in order of seq
        by_key.setdefault((group_key, integration), []).append(data)
    return [
        OutboxItem(integration, decode_notification(head, by_key.get((group_key, integration), [])))
        for group_key, integration, head in heads
    ]


def _log_row(entry: LogEntry) -> tuple[object, ...]:
    return (
        entry.group_key,
        entry.integration,
        entry.sent_at,
        # In no order: they are read back as sets, and a large group's sort cost a millisecond.
        json.dumps(list(entry.firing)),
        json.dumps(list(entry.resolved)),
        entry.expires_at,
    )


def _pushed_row(received: Received) -> tuple[object, ...]:
    alert = received.alert
    return (
        alert.fingerprint,
        "".join(_chunks(alert.labels, 0)),
        "".join(_chunks(alert.annotations, 0)),
        alert.starts_at,
        alert.ends_at,
        alert.generator_url,
        alert.updated_at,
        int(received.timeout),
    )


def _pushed_alert(row: tuple[object, ...]) -> Received:
    fingerprint, labels, annotations, starts_at, ends_at, url, updated_at, timeout = row
    alert = Alert(
        labels=_raw_loads(str(labels))[0],
        annotations=_raw_loads(str(annotations))[0],
        starts_at=float(starts_at),  # type: ignore[arg-type]
        ends_at=float(ends_at),  # type: ignore[arg-type]
        generator_url=str(url),
        updated_at=float(updated_at),  # type: ignore[arg-type]
        cached_fingerprint=str(fingerprint),
    )
    return Received(alert, bool(timeout))


def _log_entry(row: tuple[object, ...]) -> LogEntry:
    group_key, integration, sent_at, firing, resolved, expires_at = row
    return LogEntry(
        group_key=str(group_key),
        integration=str(integration),
        sent_at=float(sent_at),  # type: ignore[arg-type]
        firing=frozenset(json.loads(str(firing))),
        resolved=frozenset(json.loads(str(resolved))),
        expires_at=float(expires_at),  # type: ignore[arg-type]
    )
