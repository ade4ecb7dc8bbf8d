"""The group loop on a manual clock: aligned timestamps, missed iterations counted not queued."""

from __future__ import annotations

import asyncio

from alerting.clock import ManualClock
from alerting.metrics import Metrics
from alerting.model import Sample
from alerting.rules.group import GroupRunner, Outcome
from tests.rules.harness import T0, Series, group_from

RULES = """
groups:
  - name: g
    interval: 1m
    rules:
      - alert: A
        expr: vector(1)
"""


async def test_slow_evaluation_skips_missed_iterations_and_counts_them(tmp_path) -> None:
    release = asyncio.Event()
    series = Series()

    async def slow_query(expr: str, at: float) -> list[Sample]:
        series.asked.append((expr, at))
        await release.wait()
        return [Sample({}, 1.0)]

    metrics = Metrics()
    group = group_from(tmp_path, RULES, series, metrics=metrics)
    group.env.query = slow_query
    clock = ManualClock(T0)
    handled: list[float] = []
    evaluated = asyncio.Queue[float]()

    async def handle(outcome: Outcome) -> None:
        handled.append(outcome.write.evaluated_at)
        evaluated.put_nowait(outcome.write.evaluated_at)

    runner = GroupRunner(group, clock, handle)
    first = group.first_timestamp(clock.now())
    runner.start()
    await clock.set(first)
    assert [at for _, at in series.asked] == [first]  # the query is in flight, held back

    await clock.set(first + 180)  # three intervals pass while the evaluation hangs
    release.set()
    assert await evaluated.get() == first
    assert await evaluated.get() == first + 180  # not first+60 and first+120: skipped
    assert metrics.iterations_missed.labels(group.key)._value.get() == 2

    await clock.set(first + 240)
    assert await evaluated.get() == first + 240
    await runner.stop()
    assert handled == [first, first + 180, first + 240]


async def test_stop_while_sleeping_returns_at_once(tmp_path) -> None:
    group = group_from(tmp_path, RULES, Series())
    clock = ManualClock(T0)

    async def handle(outcome: Outcome) -> None:
        raise AssertionError("no evaluation was due")

    runner = GroupRunner(group, clock, handle)
    runner.start()
    await asyncio.wait_for(runner.stop(), 1)


def test_first_timestamp_is_aligned_to_the_interval_with_a_stable_offset(tmp_path) -> None:
    group = group_from(tmp_path, RULES, Series())
    a = group.first_timestamp(T0)
    b = group.first_timestamp(T0 + 7)
    assert T0 < a <= T0 + 60
    assert (a - T0) % 60 == (b - T0) % 60  # same phase within the interval
