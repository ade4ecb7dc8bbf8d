"""Pushed alerts in the SQLite file: appended a batch per push, folded into pushed_alert later."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alerting.dispatch.alerts import Received
from alerting.model import Alert
from tests.notification_store import opened


def pushed(name: str, ends_at: float = 100.0, summary: str = "") -> Received:
    alert = Alert({"alertname": name}, {"summary": summary}, 10.0, ends_at, "", 11.0)
    return Received(alert, timeout=False)


def tables(path: Path) -> tuple[int, int]:
    """Rows in pushed_alert and in pushed_batch."""
    with closing(sqlite3.connect(path)) as db:
        folded = db.execute("SELECT COUNT(*) FROM pushed_alert").fetchone()[0]
        batches = db.execute("SELECT COUNT(*) FROM pushed_batch").fetchone()[0]
    return int(folded), int(batches)


async def restored(path: Path) -> dict[str, str]:
    async with opened(path) as store:
        state = await store.load_notification_state()
    return {r.alert.labels["alertname"]: r.alert.annotations["summary"] for r in state.pushed}


async def test_a_push_is_one_batch_and_the_latest_version_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with opened(path) as store:
        await store.put_pushed_alerts([pushed("A", summary="1"), pushed("B", summary="1")])
        await store.put_pushed_alerts([pushed("A", summary="2")])
        assert tables(path) == (0, 2)
    assert await restored(path) == {"A": "2", "B": "1"}
    assert tables(path) == (2, 0)  # folded at start


async def test_forgotten_alerts_do_not_come_back_from_a_batch(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with opened(path) as store:
        await store.put_pushed_alerts([pushed("A"), pushed("B")])
        await store.collect_alerts([pushed("A").alert.fingerprint], [], 0.0)
    assert await restored(path) == {"B": ""}


async def test_batches_are_folded_in_turns_once_enough_wait(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with opened(path) as store:
        store.fold_at, store.fold_quiet = 3, 0.0
        for n in range(2):
            await store.put_pushed_alerts([pushed(f"A{n}"), pushed("Same", summary=str(n))])
        assert tables(path) == (0, 2)
        await store.put_pushed_alerts([pushed("Same", summary="last")])
        await store.wait_folded()
        assert tables(path) == (3, 0)
    assert await restored(path) == {"A0": "", "A1": "", "Same": "last"}


async def test_a_stop_while_folding_keeps_every_batch(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    async with opened(path) as store:
        store.fold_at, store.fold_quiet = 1, 3600.0  # folding waits for a quiet hour
        await store.put_pushed_alerts([pushed("A")])
    assert tables(path) == (0, 1)
    assert await restored(path) == {"A": ""}
