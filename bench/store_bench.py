"""How fast the SQLite store writes and restores rule state.

Run from the repository root: .venv/bin/python -m bench.store_bench [--groups 100] [--dir DIR]

Prints the time to write 100,000 alerts as one batch, the cost of a typical evaluation's diff
(alone, and for every group at once), the time to load 100,000 alerts back, and the file size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Literal

from alerting.model import AlertState, RuleAlert
from alerting.store import AlertKey, GroupWrite
from alerting.store.sqlite import SqliteStore

RULES_PER_GROUP = 10
ALERTS_PER_RULE = 100
DIFF_CHANGED, DIFF_NEW, DIFF_GONE = 10, 2, 2  # a typical evaluation: a few values/states move


def make_alert(group: int, rule: int, n: int) -> RuleAlert:
    return RuleAlert(
        labels={
            "alertname": f"Rule{rule}",
            "instance": f"host-{group}-{n}.example.com:9100",
            "job": "node",
            "severity": "warning" if n % 3 else "critical",
            "team": f"team-{group % 7}",
            "region": "eu-west-1",
            "cluster": f"prod-{group % 4}",
        },
        annotations={
            "summary": f"High load on host-{group}-{n}",
            "description": f"Load has been above 4 for 5 minutes (current value: {n * 0.37:.2f}).",
            "runbook_url": f"https://runbooks.example.com/node/Rule{rule}",
        },
        state=AlertState.FIRING if n % 2 else AlertState.PENDING,
        value=n * 0.37,
        active_at=1_700_000_000.0 + n,
        fired_at=1_700_000_060.0 + n if n % 2 else None,
        last_sent_at=1_700_000_060.0 + n if n % 2 else None,
        valid_until=1_700_000_240.0,
    )


def group_name(group: int) -> str:
    return f"/etc/alerting/rules/node-{group}.yml;node-{group}"


def full_group(group: int) -> GroupWrite:
    upserts = [
        (f"rule-{r}", make_alert(group, r, n))
        for r in range(RULES_PER_GROUP)
        for n in range(ALERTS_PER_RULE)
    ]
    return GroupWrite(group_name(group), 1_700_000_000.0, upserts, [])


def diff(group: int, evaluation: int) -> GroupWrite:
    """Some alerts change value or state, some appear and some go, as one evaluation would."""
    base = ALERTS_PER_RULE + evaluation * DIFF_NEW
    changed = [
        (f"rule-{n % RULES_PER_GROUP}", make_alert(group, 0, n)) for n in range(DIFF_CHANGED)
    ]
    for _, a in changed:
        a.value += evaluation
    new = [("rule-0", make_alert(group, 0, base + i)) for i in range(DIFF_NEW)]
    gone = [
        AlertKey(group_name(group), "rule-0", make_alert(group, 0, base - DIFF_NEW + i).fingerprint)
        for i in range(DIFF_GONE)
    ]
    return GroupWrite(group_name(group), 1_700_000_000.0 + evaluation, changed + new, gone)


async def timed(label: str, work: asyncio.Future[object] | asyncio.Task[object]) -> float:
    start = time.perf_counter()
    await work
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {elapsed * 1000:9.1f} ms")
    return elapsed


async def bench_diffs(store: SqliteStore, groups: int, label: str) -> None:
    latencies = []
    for evaluation in range(1, 201):
        change = diff(evaluation % groups, evaluation)
        start = time.perf_counter()
        await store.write(change)
        latencies.append(time.perf_counter() - start)
    median, p99 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[98]
    print(f"{label:<58} {median * 1000:9.2f} ms median, {p99 * 1000:.2f} ms p99")
    before = store.transactions_committed
    await timed(
        f"  diffs of all {groups} groups at once",
        asyncio.gather(*(store.write(diff(g, 1_000 + g)) for g in range(groups))),
    )
    print(f"  ... committed in {store.transactions_committed - before} transaction(s)")


async def run(directory: Path, groups: int, synchronous: Literal["NORMAL", "FULL"]) -> None:
    path = directory / f"bench-{synchronous.lower()}.db"
    total = groups * RULES_PER_GROUP * ALERTS_PER_RULE
    print(f"--- synchronous={synchronous}, {path}")
    store = SqliteStore(str(path), synchronous=synchronous)
    await store.open()
    writes = [full_group(g) for g in range(groups)]
    await timed(
        f"write {total:,} alerts ({groups} groups) in one batch",
        asyncio.gather(*(store.write(w) for w in writes)),
    )
    print(f"  ... committed in {store.transactions_committed} transaction(s)")
    await bench_diffs(
        store, groups, f"write one group's diff (+{DIFF_NEW} -{DIFF_GONE} ~{DIFF_CHANGED})"
    )
    await timed(
        f"rewrite one whole group ({RULES_PER_GROUP * ALERTS_PER_RULE} alerts)",
        store.write(full_group(0)),
    )
    await store.close()

    store = SqliteStore(str(path))
    await timed("open (migrations checked)", store.open())
    start = time.perf_counter()
    state = await store.load_rule_state()
    loaded = sum(len(alerts) for rules in state.alerts.values() for alerts in rules.values())
    print(f"{f'load {loaded:,} alerts':<58} {(time.perf_counter() - start) * 1000:9.1f} ms")
    await store.close()
    size = path.stat().st_size
    print(f"{'database size after close':<58} {size / 1e6:9.1f} MB ({size / loaded:.0f} B/alert)")


def fingerprint_all(groups: int) -> None:
    # The evaluator fingerprints every alert it holds, so the store finds them in labels.py's
    # cache; time that once, apart from the store's own work.
    writes = [full_group(g) for g in range(groups)]
    start = time.perf_counter()
    for change in writes:
        for _, a in change.upserts:
            _ = a.fingerprint
    elapsed = time.perf_counter() - start
    print(f"{'(not the store) fingerprint all alerts, cold cache':<58} {elapsed * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100, help="1,000 alerts each")
    parser.add_argument("--dir", type=Path, help="where to put the database (default: a temp dir)")
    args = parser.parse_args()
    fingerprint_all(args.groups)
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        for synchronous in ("NORMAL", "FULL"):
            asyncio.run(run(Path(directory), args.groups, synchronous))


if __name__ == "__main__":
    main()
