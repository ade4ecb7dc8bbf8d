"""Writes batches to a store until killed, printing each batch's number once its write returned.

Usage: python tests/store_crash_writer.py DB_PATH FIRST_BATCH. Used by tests/test_store_sqlite.py,
which kills this process at arbitrary moments and checks every printed batch survived.
"""

from __future__ import annotations

import asyncio
import sys

from alerting.model import AlertState, RuleAlert
from alerting.store import GroupWrite, Store, open_store

CONCURRENT_GROUPS = 8  # writes in flight at once, so kills also land inside group commits
ALERTS_PER_BATCH = 50


def batch(number: int) -> GroupWrite:
    alerts = [
        RuleAlert(
            labels={"alertname": "Crash", "batch": str(number), "n": str(n)},
            annotations={"summary": "x" * 200},
            state=AlertState.FIRING,
            value=float(n),
            active_at=float(number),
            fired_at=float(number),
        )
        for n in range(ALERTS_PER_BATCH)
    ]
    return GroupWrite(
        group=f"crash.yml;g{number % CONCURRENT_GROUPS}",
        evaluated_at=float(number),
        upserts=[("rule", alert) for alert in alerts],
        deletes=[],
    )


async def write_and_report(store: Store, number: int) -> None:
    await store.write(batch(number))
    print(number, flush=True)


async def main(path: str, first: int) -> None:
    store = open_store(path)
    await store.open()
    number = first
    while True:
        numbers = range(number, number + CONCURRENT_GROUPS)
        await asyncio.gather(*(write_and_report(store, n) for n in numbers))
        number += CONCURRENT_GROUPS


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
