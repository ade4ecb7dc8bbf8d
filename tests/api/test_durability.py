"""Pushed alerts are stored before the push is answered: a restart on the same SQLite file has
them back as they were; once the dispatcher's GC drops them (resolved), the store forgets them
and keeps only when they resolved, for the statistics."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from alerting import plaindata
from alerting.clock import ManualClock
from alerting.dispatch.dispatcher import ALERT_GC_INTERVAL
from alerting.model import Alert
from alerting.notify.silence import format_api_time
from tests.api.daemon import Daemon, write_config

T0 = 1_700_000_000.0
AT = format_api_time


def stored_fingerprints(config: Path) -> set[str]:
    """Of the pushed alerts the store holds: those folded into pushed_alert, and those of the
    batches still waiting to be."""
    with closing(sqlite3.connect(config.parent / "state" / "alerting.db")) as db:
        folded = {row[0] for row in db.execute("SELECT fingerprint FROM pushed_alert")}
        batches = db.execute("SELECT alerts FROM pushed_batch").fetchall()
    return folded | {row[0] for (data,) in batches for row in plaindata.load(data)}


async def test_pushed_alerts_survive_a_restart_and_leave_the_store_when_collected(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    timed = {"labels": {"alertname": "Timed"}, "startsAt": AT(T0 - 60), "endsAt": AT(T0 + 600)}
    untimed = {"labels": {"alertname": "Untimed"}, "annotations": {"a": "1"}}
    async with Daemon(config, ManualClock(T0)) as daemon:
        assert await daemon.post("/api/v2/alerts", [timed, untimed]) == (200, None)
        assert len(stored_fingerprints(config)) == 2  # stored before the answer
        _, before = await daemon.get("/api/v2/alerts")
        forwarded = {
            "version": "4",
            "alerts": [{"labels": {"alertname": "Forwarded"}, "startsAt": AT(T0 - 5)}],
        }
        assert (await daemon.post("/api/v1/webhooks/alertmanager", forwarded))[0] == 200

    clock = ManualClock(T0 + 60)
    async with Daemon(config, clock) as daemon:
        _, after = await daemon.get("/api/v2/alerts")
        restored = {a["labels"]["alertname"]: a for a in after}
        assert sorted(restored) == ["Forwarded", "Timed", "Untimed"]
        for alert in before:  # the same fingerprints, times, annotations
            assert restored[alert["labels"]["alertname"]] == alert
        _, view = await daemon.get("/api/v1/alerts")
        assert {a["source"] for a in view["data"]["alerts"]} == {"push"}

        # An alert pushed without endsAt still resolves by itself once restored: an update
        # with an earlier explicit end wins over its timeout, as before the restart.
        ended = {**untimed, "endsAt": AT(T0 + 120)}
        await daemon.post("/api/v2/alerts", [ended])
        _, listed = await daemon.get("/api/v2/alerts")
        (untimed_now,) = [a for a in listed if a["labels"]["alertname"] == "Untimed"]
        assert untimed_now["endsAt"] == AT(T0 + 120)

        # Everything resolves by T0 + 600; the GC runs ALERT_GC_INTERVAL after start.
        collected = asyncio.Event()
        dispatcher = daemon.service.notifier.dispatcher
        assert dispatcher is not None

        async def note(_: list[Alert]) -> None:  # runs after the notifier's own collector
            collected.set()

        dispatcher.collectors.append(note)
        await clock.set(T0 + 60 + ALERT_GC_INTERVAL + 30)
        await asyncio.wait_for(collected.wait(), 10)
        assert stored_fingerprints(config) == set()
        assert await daemon.get("/api/v2/alerts") == (200, [])
        _, stats = await daemon.get("/api/v1/alerts/stats")
        assert stats["data"]["alerts"]["resolvedLast7Days"] == 3

    async with Daemon(config, ManualClock(T0 + 3 * 3600)) as daemon:
        assert await daemon.get("/api/v2/alerts") == (200, [])
        _, stats = await daemon.get("/api/v1/alerts/stats")
        assert stats["data"]["alerts"]["resolvedLast7Days"] == 3
    async with Daemon(config, ManualClock(T0 + 8 * 86400)) as daemon:
        _, stats = await daemon.get("/api/v1/alerts/stats")
        assert stats["data"]["alerts"]["resolvedLast7Days"] == 0
