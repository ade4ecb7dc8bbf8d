"""The embedded store: one SQLite file in WAL mode, written by a single group-committing task.

Durability: `synchronous=NORMAL`. In WAL mode a commit is appended to the WAL through the OS before
COMMIT returns and only checkpoints fsync, so a killed process (kill -9, OOM, crash) loses nothing
it was told was committed, and the next open recovers from the WAL. Only an OS crash or power cut
can roll back the last few commits, and even then the file stays consistent. `FULL` closes that gap
at the price of one fsync per commit; group commit makes that one fsync per batch of groups.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from alerting.model import AlertState, RuleAlert
from alerting.store import GroupWrite, RuleState, StoreError
from alerting.store.migrations import migrate

BUSY_TIMEOUT_MS = 5_000
MEMORY = ":memory:"

_ALERT_COLUMNS = (
    "group_name, rule, fingerprint, labels, annotations, state, value, active_at, "
    "fired_at, resolved_at, last_sent_at, valid_until, keep_firing_since"
)
_UPSERT_ALERT = f"""
    INSERT INTO rule_alert ({_ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (group_name, rule, fingerprint) DO UPDATE SET
        labels = excluded.labels, annotations = excluded.annotations, state = excluded.state,
        value = excluded.value, active_at = excluded.active_at, fired_at = excluded.fired_at,
        resolved_at = excluded.resolved_at, last_sent_at = excluded.last_sent_at,
        valid_until = excluded.valid_until, keep_firing_since = excluded.keep_firing_since
"""
_DELETE_ALERT = "DELETE FROM rule_alert WHERE group_name = ? AND rule = ? AND fingerprint = ?"
_SELECT_ALERTS = f"SELECT {_ALERT_COLUMNS} FROM rule_alert"
_UPSERT_GROUP = """
    INSERT INTO rule_group (name, last_evaluated) VALUES (?, ?)
    ON CONFLICT (name) DO UPDATE SET
        last_evaluated = MAX(last_evaluated, excluded.last_evaluated)
"""
# Deleting a group cascades to its alerts (foreign keys are on for every connection).
_DELETE_GROUP = "DELETE FROM rule_group WHERE name = ?"
_SELECT_GROUPS = "SELECT name, last_evaluated FROM rule_group"

_STATES = {state.value: state for state in AlertState}
_LOAD_CHUNK = 5_000  # rows decoded per fetch when loading
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
# For the JSON _dumps wrote: skips the whitespace checks of json.loads, a tenth of a load's time.
_raw_loads = json.JSONDecoder().raw_decode

_Key = tuple[str, str, str]  # (group, rule, fingerprint)
_Row = tuple[Any, ...]  # the columns of _ALERT_COLUMNS, in order


@dataclass(frozen=True, slots=True)
class _Forget:
    keep: frozenset[str]


@dataclass(slots=True)
class _Request:
    op: GroupWrite | _Forget
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Batch:
    """The net effect of a run of operations, so that committing it is a handful of statements."""

    evaluated: dict[str, float] = field(default_factory=dict)
    alerts: dict[_Key, _Row | None] = field(default_factory=dict)  # None: delete
    keep: frozenset[str] | None = None  # groups to keep; None: no forget in this batch

    def add(self, op: GroupWrite | _Forget) -> None:
        if isinstance(op, _Forget):
            self._forget(op.keep)
        else:
            self._write(op)

    def _write(self, change: GroupWrite) -> None:
        # Encode everything before touching the batch, so a bad alert leaves it unchanged.
        # An alert can be upserted twice in one evaluation (new, then firing): encode it once.
        latest = {(change.group, rule, alert.fingerprint): alert for rule, alert in change.upserts}
        rows: dict[_Key, _Row | None] = {key: _encode(key, alert) for key, alert in latest.items()}
        # Never moves back: outage detection trusts the newest evaluation that was stored.
        previous = self.evaluated.get(change.group, change.evaluated_at)
        self.evaluated[change.group] = max(previous, change.evaluated_at)
        for gone in change.deletes:
            self.alerts[(gone.group, gone.rule, gone.fingerprint)] = None
        self.alerts.update(rows)

    def _forget(self, keep: frozenset[str]) -> None:
        # The database-wide delete runs before the pending changes are written, so pending
        # changes of forgotten groups are dropped now; later writes to them survive, as in order.
        self.keep = keep if self.keep is None else self.keep & keep
        self.evaluated = {g: t for g, t in self.evaluated.items() if g in keep}
        self.alerts = {k: row for k, row in self.alerts.items() if k[0] in keep}


class SqliteStore:
    """The `Store` on a SQLite file (or ":memory:"); `synchronous` is SQLite's pragma of that name."""

    def __init__(self, location: str, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL") -> None:
        self._location = location
        self._synchronous = synchronous
        self._conn: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._accepting = False
        # Keeps a load from reading between the statements of the writer's transaction.
        self._lock = asyncio.Lock()
        self.transactions_committed = 0

    async def open(self) -> None:
        if self._conn is not None:
            raise StoreError(f"{self._location}: store is already open")
        self._conn = await connect(self._location, self._synchronous)
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._run_writer(), name=f"store {self._location}")
        self._accepting = True

    async def close(self) -> None:
        if self._conn is None:
            return
        self._accepting = False
        if self._writer is not None:
            self._queue.put_nowait(None)
            await asyncio.wait([self._writer])
            self._writer = None
        await self._conn.close()
        self._conn = None

    async def load_rule_state(self) -> RuleState:
        alerts: dict[str, dict[str, list[RuleAlert]]] = {}
        async with self._lock, transaction(self._conn_or_raise(), "BEGIN") as conn:
            decode = _Decoder()
            async with conn.execute(_SELECT_ALERTS) as cursor:
                # In chunks: all rows at once would be a second copy of every alert, transient
                # but left behind as fragmented heap among the decoded alerts.
                while rows := await cursor.fetchmany(_LOAD_CHUNK):
                    with _cyclic_gc_paused():
                        for row in rows:
                            group, rule, alert = decode(row)
                            alerts.setdefault(group, {}).setdefault(rule, []).append(alert)
            group_rows = await conn.execute_fetchall(_SELECT_GROUPS)
        return RuleState(alerts=alerts, last_evaluated=dict(group_rows))

    async def write(self, change: GroupWrite) -> None:
        await self._submit(change)

    async def forget_groups(self, keep: set[str]) -> None:
        await self._submit(_Forget(frozenset(keep)))

    async def _submit(self, op: GroupWrite | _Forget) -> None:
        if not self._accepting:
            raise StoreError(f"{self._location}: store is not open")
        done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(op, done))
        # A caller cancelled here still gets its change committed: it is already queued.
        await done

    async def _run_writer(self) -> None:
        requests: list[_Request] = []
        try:
            while True:
                batch = await self._next_batch()
                requests = [r for r in batch if r is not None]
                if requests:
                    await self._commit_and_settle(requests)
                if len(requests) < len(batch):
                    return  # close() queued the stop marker last
        finally:
            # However the writer ends, nobody may wait forever for it.
            stopped = StoreError(f"{self._location}: store writer stopped")
            for request in [*requests, *self._drain()]:
                _settle(request.done, stopped)

    async def _next_batch(self) -> list[_Request | None]:
        batch = [await self._queue.get()]
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    def _drain(self) -> Iterable[_Request]:
        while not self._queue.empty():
            request = self._queue.get_nowait()
            if request is not None:
                yield request

    async def _commit_and_settle(self, requests: list[_Request]) -> None:
        try:
            await self._commit([request.op for request in requests])
        except Exception as error:
            if len(requests) == 1:
                _settle(requests[0].done, error)
                return
            # One bad change must not fail the batch: retry each alone, so only it sees the error.
            for request in requests:
                await self._commit_and_settle([request])
            return
        for request in requests:
            _settle(request.done, None)

    async def _commit(self, ops: list[GroupWrite | _Forget]) -> None:
        batch = _Batch()
        for op in ops:
            batch.add(op)
        async with self._lock, transaction(self._conn_or_raise(), "BEGIN IMMEDIATE") as conn:
            if batch.keep is not None:
                await _delete_groups_except(conn, batch.keep)
            await conn.executemany(_UPSERT_GROUP, list(batch.evaluated.items()))
            deletes = [key for key, row in batch.alerts.items() if row is None]
            await conn.executemany(_DELETE_ALERT, deletes)
            upserts = [row for row in batch.alerts.values() if row is not None]
            await conn.executemany(_UPSERT_ALERT, upserts)
        self.transactions_committed += 1

    def _conn_or_raise(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreError(f"{self._location}: store is not open")
        return self._conn


async def connect(location: str, synchronous: Literal["NORMAL", "FULL"]) -> aiosqlite.Connection:
    """A connection in autocommit mode, WAL, with the schema brought up to date."""
    if location != MEMORY:
        Path(location).parent.mkdir(parents=True, exist_ok=True)
    try:
        # Autocommit mode: transactions are exactly the BEGIN ... COMMIT this package issues.
        conn = await aiosqlite.connect(location, isolation_level=None)
        try:
            await _configure(conn, location, synchronous)
            await migrate(conn, location)
        except BaseException:
            await conn.close()
            raise
    except sqlite3.DatabaseError as error:  # not a database, or a corrupt one
        raise StoreError(f"{location}: {error}") from error
    return conn


async def _configure(
    conn: aiosqlite.Connection, location: str, synchronous: Literal["NORMAL", "FULL"]
) -> None:
    # The busy timeout goes first: switching to WAL needs a lock another process may hold.
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
        row = await cursor.fetchone()
    mode = row[0] if row else None
    if mode != "wal" and location != MEMORY:
        raise StoreError(
            f"{location}: cannot use the WAL journal (journal mode stays {mode}); "
            "put the database on a local file system"
        )
    await conn.execute(f"PRAGMA synchronous = {synchronous}")
    await conn.execute("PRAGMA foreign_keys = ON")


@asynccontextmanager
async def transaction(
    conn: aiosqlite.Connection, begin: str
) -> AsyncIterator[aiosqlite.Connection]:
    """BEGIN ... COMMIT, rolled back if the body raises (or is cancelled)."""
    await conn.execute(begin)
    try:
        yield conn
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()


async def _delete_groups_except(conn: aiosqlite.Connection, keep: frozenset[str]) -> None:
    names = await conn.execute_fetchall("SELECT name FROM rule_group")
    await conn.executemany(_DELETE_GROUP, [(n,) for (n,) in names if n not in keep])


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    # Every object a load builds is kept, so collections during it only rescan them: a third
    # of the load time at 100,000 alerts. Safe to pause: nothing awaits inside.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the caller was cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _encode(key: _Key, alert: RuleAlert) -> _Row:
    value = None if math.isnan(alert.value) else alert.value
    return (
        *key,
        _dumps(alert.labels),
        _dumps(alert.annotations),
        str(alert.state),
        value,
        alert.active_at,
        alert.fired_at,
        alert.resolved_at,
        alert.last_sent_at,
        alert.valid_until,
        alert.keep_firing_since,
    )


class _Decoder:
    """Turns the rows of one load into alerts whose equal strings are one object.

    json.loads makes new strings per row, so 100k alerts would each hold a copy of every label
    name and value, and of annotation texts many share (a runbook link). Label strings are
    interned, which also makes them the very ones later query answers hand back (the datasource
    interns too); annotation texts, mostly unique, are only shared within the load.
    """

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def __call__(self, row: _Row) -> tuple[str, str, RuleAlert]:
        group, rule, fingerprint, labels, annotations, state, value, *times = row
        alert = RuleAlert(
            self._labels(labels),
            self._annotations(annotations),
            _STATES[state],
            math.nan if value is None else value,
            *times,
            cached_fingerprint=fingerprint,
        )
        return group, rule, alert

    @staticmethod
    def _labels(text: str) -> dict[str, str]:
        intern = sys.intern
        decoded = _raw_loads(text)[0]
        return {intern(name): intern(value) for name, value in decoded.items()}

    def _annotations(self, text: str) -> dict[str, str]:
        intern, share = sys.intern, self._texts.setdefault
        decoded = _raw_loads(text)[0]
        return {intern(name): share(value, value) for name, value in decoded.items()}
