"""The SQLite store: round trips, write semantics, group commit, migrations and kill -9 safety."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import astuple
from pathlib import Path

import pytest

from alerting.model import AlertState, RuleAlert
from alerting.store import AlertKey, GroupWrite, RuleState, StoreError, open_store
from alerting.store.migrations import LATEST_VERSION
from alerting.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parent.parent
CRASH_WRITER = Path(__file__).with_name("store_crash_writer.py")
GROUP = "rules/node.yml;node"


def alert(name: str = "HighLoad", **fields: object) -> RuleAlert:
    defaults: dict[str, object] = {
        "labels": {"alertname": name, "instance": "a:9100"},
        "annotations": {"summary": "load is high"},
        "state": AlertState.PENDING,
        "value": 1.5,
        "active_at": 1_700_000_000.25,
    }
    return RuleAlert(**(defaults | fields))  # type: ignore[arg-type]


def comparable(a: RuleAlert) -> tuple[object, ...]:
    """The alert's fields, with NaN made equal to itself."""
    return tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in astuple(a))


def stored(state: RuleState, group: str = GROUP, rule: str = "r") -> list[tuple[object, ...]]:
    alerts = state.alerts.get(group, {}).get(rule, [])
    return sorted((comparable(a) for a in alerts), key=repr)


def key(a: RuleAlert, group: str = GROUP, rule: str = "r") -> AlertKey:
    return AlertKey(group, rule, a.fingerprint)


def upsert(*alerts: RuleAlert, group: str = GROUP, at: float = 100.0) -> GroupWrite:
    return GroupWrite(group, at, [("r", a) for a in alerts], [])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "state.db"))
    await s.open()
    yield s
    await s.close()


async def reopened(path: Path) -> RuleState:
    s = open_store(str(path))
    await s.open()
    try:
        return await s.load_rule_state()
    finally:
        await s.close()


# Round trips


async def test_every_field_round_trips(store: SqliteStore) -> None:
    everything = alert(
        labels={"alertname": "Ünïcode ✓", "quote": '"\\\n', "empty": ""},
        annotations={"description": "multi\nline", "big": "x" * 10_000},
        state=AlertState.FIRING,
        value=-2.5e-300,
        fired_at=1_700_000_060.5,
        resolved_at=1_700_000_120.0,
        last_sent_at=1_700_000_061.125,
        valid_until=1_700_000_240.0,
        keep_firing_since=1_700_000_100.0,
    )
    specials = [
        alert(f"Value{v}", value=v, state=s, annotations={})
        for v, s in zip(
            [math.nan, math.inf, -math.inf, 0.0],
            [AlertState.INACTIVE, AlertState.PENDING, AlertState.FIRING, AlertState.PENDING],
            strict=True,
        )
    ]
    await store.write(upsert(everything, *specials, at=1_700_000_000.5))

    state = await store.load_rule_state()

    assert stored(state) == sorted((comparable(a) for a in [everything, *specials]), key=repr)
    assert state.last_evaluated == {GROUP: 1_700_000_000.5}
    assert all(type(a.state) is AlertState for a in state.alerts[GROUP]["r"])


async def test_alerts_are_grouped_by_group_and_rule(store: SqliteStore) -> None:
    await store.write(GroupWrite("f.yml;a", 1.0, [("r1", alert("X")), ("r2", alert("Y"))], []))
    await store.write(GroupWrite("f.yml;b", 2.0, [("r1", alert("Z"))], []))

    state = await store.load_rule_state()

    names = {
        (g, r, a.labels["alertname"])
        for g, rules in state.alerts.items()
        for r, alerts in rules.items()
        for a in alerts
    }
    assert names == {("f.yml;a", "r1", "X"), ("f.yml;a", "r2", "Y"), ("f.yml;b", "r1", "Z")}
    assert state.last_evaluated == {"f.yml;a": 1.0, "f.yml;b": 2.0}


async def test_a_load_larger_than_a_fetch_chunk_returns_every_alert(store: SqliteStore) -> None:
    many = [alert(labels={"alertname": "Many", "n": str(n)}) for n in range(12_001)]
    await store.write(upsert(*many))

    loaded = (await store.load_rule_state()).alerts[GROUP]["r"]

    assert sorted(map(comparable, loaded), key=repr) == sorted(map(comparable, many), key=repr)


async def test_loaded_alerts_share_equal_strings(store: SqliteStore) -> None:
    # 100k restored alerts must not each hold copies of the same label and annotation text.
    common = {"summary": "disk full", "runbook": "https://runbooks.example.com/disk"}
    await store.write(
        upsert(
            alert(labels={"alertname": "Disk", "job": "node", "n": "1"}, annotations=common),
            alert(labels={"alertname": "Disk", "job": "node", "n": "2"}, annotations=common),
        )
    )

    a, b = (await store.load_rule_state()).alerts[GROUP]["r"]

    assert a.labels == {"alertname": "Disk", "job": "node", "n": a.labels["n"]}
    for name in ("alertname", "job"):
        assert next(k for k in a.labels if k == name) is next(k for k in b.labels if k == name)
        assert a.labels[name] is b.labels[name]
    for name in common:
        assert a.annotations[name] is b.annotations[name]


# Write semantics


async def test_upsert_replaces_then_delete_removes(store: SqliteStore) -> None:
    pending = alert()
    firing = alert(state=AlertState.FIRING, value=7.0, fired_at=1_700_000_300.0)
    other = alert("Other")
    await store.write(upsert(pending, other, at=1.0))
    await store.write(upsert(firing, at=2.0))
    assert stored(await store.load_rule_state()) == sorted(
        [comparable(firing), comparable(other)], key=repr
    )

    await store.write(GroupWrite(GROUP, 3.0, [], [key(firing)]))

    state = await store.load_rule_state()
    assert stored(state) == [comparable(other)]
    assert state.last_evaluated == {GROUP: 3.0}


async def test_a_key_both_deleted_and_upserted_ends_up_upserted(store: SqliteStore) -> None:
    old, new = alert(value=1.0), alert(value=2.0)
    await store.write(upsert(old))

    await store.write(GroupWrite(GROUP, 2.0, [("r", new)], [key(old)]))

    assert stored(await store.load_rule_state()) == [comparable(new)]


async def test_an_evaluation_without_changes_still_records_its_time(store: SqliteStore) -> None:
    await store.write(GroupWrite(GROUP, 42.0, [], []))

    assert (await store.load_rule_state()).last_evaluated == {GROUP: 42.0}


async def test_forget_groups_drops_alerts_and_times_of_the_others(store: SqliteStore) -> None:
    for group in ("f.yml;keep", "f.yml;drop", "g.yml;drop"):
        await store.write(upsert(alert(), group=group, at=5.0))

    await store.forget_groups({"f.yml;keep", "never-written"})

    state = await store.load_rule_state()
    assert set(state.alerts) == {"f.yml;keep"}
    assert state.last_evaluated == {"f.yml;keep": 5.0}


async def test_queued_operations_take_effect_in_order(store: SqliteStore) -> None:
    first, second = alert("First"), alert("Second")

    await asyncio.gather(
        store.write(upsert(first, group="a", at=1.0)),
        store.forget_groups({"b"}),  # drops what was queued before it ...
        store.write(upsert(second, group="a", at=2.0)),  # ... but not what came after
        store.write(upsert(first, group="b", at=3.0)),
        store.write(GroupWrite("b", 4.0, [], [key(first, group="b")])),
    )

    state = await store.load_rule_state()
    assert stored(state, group="a") == [comparable(second)]
    assert "b" not in state.alerts
    assert state.last_evaluated == {"a": 2.0, "b": 4.0}


# Group commit


async def test_concurrent_writes_share_transactions_and_all_commit(store: SqliteStore) -> None:
    groups = [f"rules/many.yml;g{i}" for i in range(200)]

    await asyncio.gather(*(store.write(upsert(alert(g), group=g, at=9.0)) for g in groups))

    state = await store.load_rule_state()
    assert set(state.alerts) == set(groups)
    assert all(state.alerts[g]["r"][0].labels["alertname"] == g for g in groups)
    assert store.transactions_committed < len(groups) / 10


async def test_a_failing_write_fails_alone_and_the_writer_survives(store: SqliteStore) -> None:
    bad_state = alert("BadState", state="bogus")  # rejected by the table's CHECK
    unencodable = alert("Unencodable", annotations={"x": object()})  # rejected by json

    results = await asyncio.gather(
        store.write(upsert(alert("Good1"), group="g1")),
        store.write(upsert(bad_state, group="g2")),
        store.write(upsert(unencodable, group="g3")),
        store.write(upsert(alert("Good4"), group="g4")),
        return_exceptions=True,
    )

    assert results[0] is None and results[3] is None
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert isinstance(results[2], TypeError)
    await store.write(upsert(alert("After"), group="g5"))
    assert set((await store.load_rule_state()).alerts) == {"g1", "g4", "g5"}


async def test_a_cancelled_writer_is_still_committed(store: SqliteStore) -> None:
    task = asyncio.create_task(store.write(upsert(alert())))
    await asyncio.sleep(0)
    task.cancel()

    await store.write(upsert(alert("Later"), group="other"))

    assert GROUP in (await store.load_rule_state()).alerts


# Open and close


async def test_close_flushes_queued_writes_and_reopen_restores_them(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    s = open_store(str(path))
    await s.open()
    writes = [asyncio.create_task(s.write(upsert(alert(), group=f"g{i}"))) for i in range(50)]
    await asyncio.sleep(0)  # queued, not yet committed

    await s.close()

    await asyncio.gather(*writes)
    assert len((await reopened(path)).alerts) == 50


async def test_writing_to_a_closed_store_is_an_error(tmp_path: Path) -> None:
    s = open_store(str(tmp_path / "state.db"))
    with pytest.raises(StoreError, match="not open"):
        await s.write(upsert(alert()))
    await s.open()
    await s.close()
    with pytest.raises(StoreError, match="not open"):
        await s.write(upsert(alert()))


async def test_open_creates_the_directory_and_sets_up_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "state.db"

    await reopened(path)

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (LATEST_VERSION,)


async def test_a_fresh_database_gets_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    assert await reopened(path) == RuleState(alerts={}, last_evaluated={})

    with closing(sqlite3.connect(path)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_schema")}
        assert db.execute("PRAGMA user_version").fetchone() == (LATEST_VERSION,)
    assert {"rule_alert", "rule_group"} <= tables
    await reopened(path)  # a second open finds nothing to migrate


async def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await reopened(path)
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")

    s = open_store(str(path))
    with pytest.raises(StoreError, match=f"schema version {LATEST_VERSION + 1} is newer"):
        await s.open()


async def test_a_file_that_is_not_a_database_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)

    with pytest.raises(StoreError, match=r"state\.db"):
        await open_store(str(path)).open()


@pytest.mark.parametrize("dsn", ["postgres://db/alerting", "postgresql://u@db:5432/x"])
def test_postgres_is_not_there_yet(dsn: str) -> None:
    with pytest.raises(NotImplementedError, match="arrives with HA support"):
        open_store(dsn)


async def test_an_in_memory_store_works(tmp_path: Path) -> None:
    s = open_store(":memory:")
    await s.open()
    await s.write(upsert(alert()))
    assert GROUP in (await s.load_rule_state()).alerts
    await s.close()


# Crash safety


async def test_kill_9_loses_no_reported_commit(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    reported: set[int] = set()
    # The same file is killed repeatedly, so each run also starts from a crashed database.
    for run, kill_after in enumerate((1, 37, 400)):
        reported |= await run_writer_until_killed(path, first=run * 1_000_000, after=kill_after)

        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        sizes = batch_sizes(await reopened(path))
        assert reported <= sizes.keys(), "a batch reported committed is missing"
        assert set(sizes.values()) == {50}, "a batch was committed only in part"


async def run_writer_until_killed(path: Path, first: int, after: int) -> set[int]:
    """Run the crash writer, SIGKILL it once it reported `after` commits; return all it reported."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CRASH_WRITER),
        str(path),
        str(first),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    reported: set[int] = set()
    try:
        while len(reported) < after:
            line = await proc.stdout.readline()
            if not line:
                pytest.fail(f"crash writer exited early:\n{(await proc.stderr.read()).decode()}")
            reported.add(int(line))
    finally:
        proc.kill()
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Lines printed between our last read and the kill are commits too.
    reported.update(int(line) for line in (await proc.stdout.read()).split())
    return reported


def batch_sizes(state: RuleState) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for rules in state.alerts.values():
        for a in rules["rule"]:
            number = int(a.labels["batch"])
            sizes[number] = sizes.get(number, 0) + 1
    return sizes
