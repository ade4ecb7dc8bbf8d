"""All rule groups of the running config: start, reload with state carried over, restore, stop."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from alerting.clock import Clock
from alerting.model import Alert, AlertState
from alerting.rules.alerting_rule import AlertingRule
from alerting.rules.group import Environment, GroupRunner, Outcome, RuleGroup
from alerting.rules.spec import GroupSpec
from alerting.store import AlertKey, GroupWrite, RuleState, Store

log = logging.getLogger(__name__)

AlertSink = Callable[[list[Alert]], Awaitable[None]]


class RuleManager:
    def __init__(self, clock: Clock, store: Store, sink: AlertSink | None = None) -> None:
        self._clock = clock
        self._store = store
        self._sink = sink
        self.groups: dict[str, RuleGroup] = {}
        self._runners: dict[str, GroupRunner] = {}
        self._handled: dict[str, float] = {}
        self._handled_changed = asyncio.Condition()

    async def start(
        self, specs: Iterable[GroupSpec], env: Environment, restored: RuleState, tolerance: float
    ) -> None:
        """Build the groups, give them their stored alerts back, and start their loops."""
        self.groups = {spec.key: RuleGroup(spec, env) for spec in specs}
        await self._restore(restored, tolerance)
        self._start_all()

    async def reload(self, specs: Iterable[GroupSpec], env: Environment) -> None:
        """Swap in new groups; alerts of rules that keep their name and labels keep their state."""
        await self._stop_all()
        old = self.groups
        self.groups = {spec.key: RuleGroup(spec, env) for spec in specs}
        for key, group in self.groups.items():
            if key in old:
                await self._carry_over(old[key], group)
        await self._store.forget_groups(set(self.groups))
        self._start_all()

    async def stop(self) -> None:
        await self._stop_all()

    def alerting_rules(self) -> Iterable[tuple[RuleGroup, AlertingRule]]:
        for group in self.groups.values():
            for rule in group.alerting.values():
                yield group, rule

    def count_by_state(self) -> dict[str, int]:
        counts = {state.value: 0 for state in AlertState}
        for _, rule in self.alerting_rules():
            for alert in rule.active.values():
                counts[alert.state.value] += 1
        return counts

    async def handle(self, outcome: Outcome) -> None:
        """Persist an evaluation, then hand its alerts on: a crash in between only re-sends."""
        await self._store.write(outcome.write)
        if self._sink and outcome.alerts:
            await self._sink(outcome.alerts)
        async with self._handled_changed:
            self._handled[outcome.write.group] = outcome.write.evaluated_at
            self._handled_changed.notify_all()

    async def wait_for_evaluation(self, group: str, ts: float) -> None:
        """Return once `group` has been evaluated, stored and handed on at `ts` or later."""
        async with self._handled_changed:
            await self._handled_changed.wait_for(lambda: self._handled.get(group, -1.0) >= ts)

    def _start_all(self) -> None:
        for key, group in self.groups.items():
            runner = GroupRunner(group, self._clock, self.handle)
            self._runners[key] = runner
            runner.start()

    async def _stop_all(self) -> None:
        for runner in self._runners.values():
            await runner.stop()
        self._runners.clear()

    async def _restore(self, state: RuleState, tolerance: float) -> None:
        now = self._clock.now()
        for key, group in self.groups.items():
            stored = state.alerts.get(key, {})
            last = state.last_evaluated.get(key)
            outage = last is not None and now - last > tolerance
            dropped: list[AlertKey] = []
            for rule in group.alerting.values():
                alerts = stored.get(rule.spec.identity, [])
                if outage:  # too long down: the `for` clock of pending alerts starts over
                    dropped += [
                        AlertKey(key, rule.spec.identity, a.fingerprint)
                        for a in alerts
                        if a.state is AlertState.PENDING
                    ]
                    alerts = [a for a in alerts if a.state is not AlertState.PENDING]
                for alert in alerts:
                    # Dispatch starts empty after a restart: the first evaluation hands every
                    # alert on again, as Prometheus does (it keeps no last-sent time).
                    alert.last_sent_at = None
                rule.restore(alerts)
            if dropped:
                log.info("outage over %ss: dropped %d pending alerts", tolerance, len(dropped))
                await self._store.write(GroupWrite(key, last or now, deletes=dropped))
        await self._store.forget_groups(set(self.groups))

    async def _carry_over(self, old: RuleGroup, new: RuleGroup) -> None:
        by_identity: dict[str, list[AlertingRule]] = defaultdict(list)
        for rule in old.alerting.values():
            by_identity[rule.spec.identity].append(rule)
        for rule in new.alerting.values():
            previous = by_identity.get(rule.spec.identity)
            if previous:
                rule.restore(previous.pop(0).active.values())
        gone = [
            AlertKey(old.key, rule.spec.identity, alert.fingerprint)
            for rules in by_identity.values()
            for rule in rules
            for alert in rule.active.values()
        ]
        new.last_evaluation = old.last_evaluation
        if gone:
            await self._store.write(GroupWrite(new.key, old.last_evaluation or 0.0, deletes=gone))
