"""`alerting replay`: evaluate every group over a past time range and report alert states.

Nothing is stored and nobody is notified: the groups run against a store that keeps nothing.
"""

from __future__ import annotations

import heapq
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from alerting.api.jsonfmt import sample_value
from alerting.model import AlertState, Sample
from alerting.rules.group import Environment, RuleGroup
from alerting.rules.spec import GroupSpec

Query = Callable[[str, float], Awaitable[list[Sample]]]


@dataclass(frozen=True, slots=True)
class Line:
    ts: float
    group: str
    rule: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at: float

    def as_json(self) -> dict[str, Any]:
        finite = math.isfinite(self.value)
        return {
            "ts": self.ts,
            "group": self.group,
            "rule": self.rule,
            "state": self.state,
            "labels": self.labels,
            "annotations": self.annotations,
            "value": self.value if finite else sample_value(self.value),
            "active_at": self.active_at,
        }


def parse_time(text: str) -> float:
    """RFC 3339 or Unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither RFC 3339 nor Unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def schedule(
    specs: list[GroupSpec], start: float, end: float, step: float | None
) -> Iterator[tuple[float, int]]:
    """(ts, group index) for every evaluation, in time order, groups in file order at a tie."""
    return heapq.merge(*(_times(start, end, step or s.interval, i) for i, s in enumerate(specs)))


def _times(start: float, end: float, interval: float, index: int) -> Iterator[tuple[float, int]]:
    count = int((end - start) // interval) + 1 if end >= start else 0
    return ((start + i * interval, index) for i in range(count))


OnError = Callable[[float, str, str, str], None]


async def replay(
    specs: list[GroupSpec],
    env: Environment,
    start: float,
    end: float,
    step: float | None,
    on_error: OnError | None = None,
    on_step: Callable[[], None] | None = None,
) -> AsyncIterator[Line]:
    """Lines for every evaluation; `on_error(ts, group, rule, message)` hears of failed rules."""
    groups = [RuleGroup(spec, env) for spec in specs]
    for ts, index in schedule(specs, start, end, step):
        group = groups[index]
        await group.evaluate(ts)
        if on_step:
            on_step()
        for spec, status, _ in group.rules():
            if on_error and status.health == "err" and status.last_evaluation == ts:
                on_error(ts, group.spec.name, spec.name, status.last_error)
        for line in _lines(group, ts):
            yield line


def count_evaluations(specs: list[GroupSpec], start: float, end: float, step: float | None) -> int:
    return sum(1 for _ in schedule(specs, start, end, step))


def _lines(group: RuleGroup, ts: float) -> list[Line]:
    lines: list[Line] = []
    for rule in group.alerting.values():
        for alert in sorted(rule.active.values(), key=lambda a: sorted(a.labels.items())):
            if alert.state is AlertState.INACTIVE and alert.resolved_at != ts:
                continue
            state = "resolved" if alert.state is AlertState.INACTIVE else alert.state.value
            lines.append(
                Line(
                    ts,
                    group.spec.name,
                    rule.spec.name,
                    state,
                    dict(alert.labels),
                    dict(alert.annotations),
                    alert.value,
                    alert.active_at,
                )
            )
    return lines


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.enabled = stream.isatty()
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            filled = 30 * self.done // self.total
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} evaluations")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
