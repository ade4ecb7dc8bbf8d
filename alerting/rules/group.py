"""A rule group: its rules evaluated in order at one timestamp, on a loop driven by the Clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from alerting.clock import Clock
from alerting.datasource import QueryError
from alerting.labels import LabelKey
from alerting.metrics import Metrics
from alerting.model import Alert, RuleAlert, Sample
from alerting.rules.alerting_rule import (
    AlertingRule,
    Candidate,
    Context,
    LimitExceeded,
    RuleEvalError,
)
from alerting.rules.spec import GroupSpec, RuleSpec
from alerting.store import AlertKey, GroupWrite

log = logging.getLogger(__name__)

AsyncQuery = Callable[[str, float], Awaitable[list[Sample]]]


@dataclass
class RuleStatus:
    """Health as /api/v1/rules reports it."""

    health: str = "unknown"
    last_error: str = ""
    last_evaluation: float | None = None
    evaluation_time: float = 0.0


@dataclass
class Environment:
    """What every group needs from outside: queries, template context and resend timing."""

    query: AsyncQuery  # returns a new list each call: evaluation empties it as it goes
    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    resend_delay: float = 60.0
    metrics: Metrics | None = None


@dataclass
class Outcome:
    """One evaluation's result: the store write and the alerts to hand to dispatch."""

    write: GroupWrite
    alerts: list[Alert]
    sent: list[RuleAlert]


class RuleGroup:
    def __init__(self, spec: GroupSpec, env: Environment) -> None:
        self.spec = spec
        self.env = env
        self.alerting = {
            i: AlertingRule(rule) for i, rule in enumerate(spec.rules) if rule.is_alert
        }
        self.status = [RuleStatus() for _ in spec.rules]
        self.last_evaluation: float | None = None
        self.evaluation_time = 0.0

    @property
    def key(self) -> str:
        return self.spec.key

    def rules(self) -> list[tuple[RuleSpec, RuleStatus, AlertingRule | None]]:
        return [(r, self.status[i], self.alerting.get(i)) for i, r in enumerate(self.spec.rules)]

    async def evaluate(self, ts: float) -> Outcome:
        started = time.monotonic()
        write = GroupWrite(self.key, ts)
        sent: list[RuleAlert] = []
        alerts: list[Alert] = []
        for index, rule in self.alerting.items():
            status = self.status[index]
            rule_started = time.monotonic()
            await self._evaluate_rule(rule, ts, status, write)
            status.last_evaluation = ts
            status.evaluation_time = time.monotonic() - rule_started
            due = rule.alerts_to_send(ts, self.env.resend_delay, self.spec.interval)
            sent.extend(due)
            alerts.extend(rule.to_notification(a, self.env.external_url) for a in due)
        self.last_evaluation = ts
        self.evaluation_time = time.monotonic() - started
        self._observe()
        return Outcome(write, alerts, sent)

    async def _evaluate_rule(
        self, rule: AlertingRule, ts: float, status: RuleStatus, write: GroupWrite
    ) -> None:
        identity = rule.spec.identity
        try:
            samples = await self.env.query(rule.spec.expr, ts)
            candidates = await self._build(rule, samples, ts)
            changes = rule.merge(candidates, ts, self.spec.limit)
        except LimitExceeded as exc:
            changes = exc.changes
            self._fail(status, str(exc))
        except (QueryError, RuleEvalError) as exc:
            self._fail(status, str(exc))
            return
        else:
            status.health, status.last_error = "ok", ""
        write.deletes.extend(AlertKey(self.key, identity, fp) for fp in changes.deletes)
        write.upserts.extend((identity, alert) for alert in changes.upserts)

    async def _build(
        self, rule: AlertingRule, samples: list[Sample], ts: float
    ) -> dict[LabelKey, Candidate]:
        ctx = Context(self.env.external_labels, self.env.external_url)
        if not rule.needs_thread:
            return rule.build(_consumed(samples), ts, ctx)
        loop = asyncio.get_running_loop()

        def blocking_query(expr: str, at: float) -> list[Sample]:
            return asyncio.run_coroutine_threadsafe(self.env.query(expr, at), loop).result()

        ctx.query = blocking_query
        return await asyncio.to_thread(rule.build, _consumed(samples), ts, ctx)

    def _fail(self, status: RuleStatus, message: str) -> None:
        status.health, status.last_error = "err", message
        if self.env.metrics:
            self.env.metrics.evaluation_failures.labels(self.key).inc()

    def _observe(self) -> None:
        metrics = self.env.metrics
        if metrics is None:
            return
        metrics.evaluations.labels(self.key).inc(len(self.alerting))
        metrics.group_duration.labels(self.key).observe(self.evaluation_time)
        metrics.last_evaluation.labels(self.key).set(self.last_evaluation or 0)

    def first_timestamp(self, now: float) -> float:
        """The first evaluation time after `now`, offset per group to spread load (as Prometheus)."""
        interval = self.spec.interval
        offset = zlib.crc32(self.key.encode()) % int(interval * 1000) / 1000
        base = now - offset
        return base - (base % interval) + offset + interval


def _consumed(samples: list[Sample]) -> Iterator[Sample]:
    """The samples in order, each dropped from the list as it is handed out.

    A 100k-series answer is ~35 MB of label dicts; freed as build goes, that memory takes build's
    own objects instead of new heap, which would stay fragmented (resident) once build is done.
    """
    samples.reverse()
    while samples:
        yield samples.pop()


class GroupRunner:
    """Runs one group's loop; `stop` lets an evaluation in flight finish and be handed on."""

    def __init__(
        self, group: RuleGroup, clock: Clock, handle: Callable[[Outcome], Awaitable[None]]
    ) -> None:
        self.group = group
        self._clock = clock
        self._handle = handle
        self._sleeping = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # Fixed now, not when the task first runs, so the schedule follows the clock at start.
        first = self.group.first_timestamp(self._clock.now())
        self._task = asyncio.create_task(self._run(first), name=f"group {self.group.key}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is None:
            return
        if self._sleeping:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self, ts: float) -> None:
        interval = self.group.spec.interval
        while not self._stopping:
            self._sleeping = True
            await self._clock.sleep_until(ts)
            self._sleeping = False
            missed = int((self._clock.now() - ts) // interval)
            if missed > 0:
                self._count_missed(missed)
                ts += missed * interval
            try:
                await self._handle(await self.group.evaluate(ts))
            except Exception:  # a bug in one group must not stop its loop
                log.exception("evaluation of group %s failed", self.group.key)
            ts += interval

    def _count_missed(self, missed: int) -> None:
        log.warning("group %s missed %d iterations", self.group.key, missed)
        if self.group.env.metrics:
            self.group.env.metrics.iterations_missed.labels(self.group.key).inc(missed)
