"""The SQLite schema as an ordered list of migrations, and bringing a database up to date.

The schema version is `PRAGMA user_version`: the number of migrations applied. Adding a table means
appending one `Migration`; never edit one that has shipped, since databases already ran it.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from alerting.store import StoreError


@dataclass(frozen=True, slots=True)
class Migration:
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "rule alerts and per-group evaluation times",
        (
            """
            CREATE TABLE rule_group (
                name TEXT PRIMARY KEY,
                last_evaluated REAL NOT NULL
            )
            """,
            # A rowid table rather than WITHOUT ROWID: rows carry annotation text of any length.
            """
            CREATE TABLE rule_alert (
                group_name TEXT NOT NULL REFERENCES rule_group (name) ON DELETE CASCADE,
                rule TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                labels TEXT NOT NULL,
                annotations TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('inactive', 'pending', 'firing')),
                value REAL,  -- NULL stands for NaN: SQLite turns a bound NaN into NULL
                active_at REAL NOT NULL,
                fired_at REAL,
                resolved_at REAL,
                last_sent_at REAL,
                valid_until REAL,
                keep_firing_since REAL,
                PRIMARY KEY (group_name, rule, fingerprint)
            )
            """,
        ),
    ),
    Migration(
        "notification log, notifications in flight, silences",
        (
            # firing and resolved: JSON arrays of alert fingerprints.
            """
            CREATE TABLE notification_log (
                group_key TEXT NOT NULL,
                integration TEXT NOT NULL,
                sent_at REAL NOT NULL,
                firing TEXT NOT NULL,
                resolved TEXT NOT NULL,
                expires_at REAL NOT NULL,
                PRIMARY KEY (group_key, integration)
            )
            """,
            """
            CREATE TABLE outbox (
                group_key TEXT NOT NULL,
                integration TEXT NOT NULL,
                notification TEXT NOT NULL,
                PRIMARY KEY (group_key, integration)
            )
            """,
            # body: the silence in Alertmanager's API v2 JSON.
            """
            CREATE TABLE silence (
                id TEXT PRIMARY KEY,
                body TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        "per-group state of channels (such as the Slack message a group updates)",
        (
            """
            CREATE TABLE channel_state (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
        ),
    ),
    Migration(
        "alerts pushed over the API, and when collected alerts resolved",
        (
            # labels and annotations: compact JSON objects. timeout: 1 when the push gave no
            # endsAt (the alert resolves by itself after resolve_timeout unless updated).
            """
            CREATE TABLE pushed_alert (
                fingerprint TEXT PRIMARY KEY,
                labels TEXT NOT NULL,
                annotations TEXT NOT NULL,
                starts_at REAL NOT NULL,
                ends_at REAL NOT NULL,
                generator_url TEXT NOT NULL,
                updated_at REAL NOT NULL,
                timeout INTEGER NOT NULL
            )
            """,
            # One row per resolved alert the dispatcher's GC dropped, kept a week for statistics.
            """
            CREATE TABLE resolved_alert (
                fingerprint TEXT NOT NULL,
                resolved_at REAL NOT NULL,
                PRIMARY KEY (fingerprint, resolved_at)
            )
            """,
            "CREATE INDEX resolved_alert_at ON resolved_alert (resolved_at)",
        ),
    ),
    Migration(
        "acknowledgements, escalation state, and what happened to alerts and groups",
        (
            # body: the ack / the escalation state as JSON (alerting.notify.acks, .escalation).
            "CREATE TABLE ack (fingerprint TEXT PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE escalation (group_key TEXT PRIMARY KEY, body TEXT NOT NULL)",
            # subject: an alert's fingerprint, or "group:" and a group key. detail: JSON.
            """
            CREATE TABLE incident_event (
                id INTEGER PRIMARY KEY,
                subject TEXT NOT NULL,
                at REAL NOT NULL,
                kind TEXT NOT NULL,
                detail TEXT NOT NULL
            )
            """,
            "CREATE INDEX incident_event_subject ON incident_event (subject, at)",
        ),
    ),
    Migration(
        "the alerts of each group's notifications, kept apart from the outbox",
        (
            # alerts: alerts as alerting.notify.outbox encodes them; of each fingerprint, the
            # segment with the highest seq holds the latest version.
            """
            CREATE TABLE outbox_segment (
                group_key TEXT NOT NULL,
                integration TEXT NOT NULL,
                seq INTEGER NOT NULL,
                alerts BLOB NOT NULL,
                PRIMARY KEY (group_key, integration, seq)
            )
            """,
        ),
    ),
    Migration(
        "pushed alerts written as they arrive, one batch per push, and folded in later",
        (
            # alerts: pushed_alert rows of one push, as an alerting.plaindata list of tuples.
            # They come after pushed_alert, and a later batch after an earlier one.
            "CREATE TABLE pushed_batch (seq INTEGER PRIMARY KEY, alerts BLOB NOT NULL)",
        ),
    ),
)

LATEST_VERSION = len(MIGRATIONS)


async def migrate(conn: aiosqlite.Connection, location: str) -> None:
    """Apply every migration the database lacks, each in its own transaction.

    `conn` must be in autocommit mode (isolation_level=None) so that BEGIN here is the real one.
    """
    while await _apply_next(conn, location):
        pass


async def _apply_next(conn: aiosqlite.Connection, location: str) -> bool:
    # IMMEDIATE takes the write lock before reading the version, so two processes opening the same
    # new database cannot both apply the same step.
    await conn.execute("BEGIN IMMEDIATE")
    try:
        version = await schema_version(conn)
        _check_known(version, location)
        if version == LATEST_VERSION:
            await conn.rollback()
            return False
        for statement in MIGRATIONS[version].statements:
            await conn.execute(statement)
        # PRAGMA cannot take a bound parameter; the value is our own integer.
        await conn.execute(f"PRAGMA user_version = {version + 1}")
        await conn.commit()
        return True
    except BaseException:
        await conn.rollback()
        raise


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    assert row is not None  # PRAGMA user_version always answers
    return int(row[0])


def _check_known(version: int, location: str) -> None:
    if version > LATEST_VERSION:
        raise StoreError(
            f"{location}: database schema version {version} is newer than this alerting "
            f"understands (up to {LATEST_VERSION}); it was written by a newer release. "
            "Run that release, or restore a backup taken before the upgrade."
        )
