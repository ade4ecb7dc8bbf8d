"""Escalation policies: who else hears about a group, and when, while nobody reacts.

A policy is a list of levels, each `after` a delay counted from when the group first fired.
The delay counts only while the group needs someone: while it has a firing alert that is
neither acknowledged, silenced nor inhibited. An ack or a silence pauses the count, and undoing
it resumes the count where it stopped, so a group acknowledged for an hour does not escalate
through every level at once when the ack ends. After the last level, `repeat` more passes
through the levels follow; a pass lasts until its last level plus the wait before that level.
When every alert resolves, the state is reset and everyone notified gets the resolve.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Annotated

from pydantic import Field, StrictInt, field_validator

from alerting.configbase import Duration, Model


class EscalationLevelSpec(Model):
    after: Duration
    receivers: list[str] = Field(min_length=1)


class EscalationPolicySpec(Model):
    """One entry of `escalation_policies:`."""

    name: str = Field(min_length=1)
    levels: list[EscalationLevelSpec] = Field(min_length=1)
    repeat: Annotated[StrictInt, Field(ge=0)] = 0
    ack_timeout: Duration | None = None

    @field_validator("levels")
    @classmethod
    def _increasing(cls, levels: list[EscalationLevelSpec]) -> list[EscalationLevelSpec]:
        for index in range(1, len(levels)):
            if levels[index].after <= levels[index - 1].after:
                raise ValueError(
                    f"level {index} comes after level {index - 1}: its `after` must be longer"
                )
        return levels

    @field_validator("ack_timeout")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be greater than zero (leave it out for acks that last)")
        return value


def policy_problems(
    policies: Sequence[EscalationPolicySpec], receivers: set[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Duplicate names, unknown receivers, and repeats that could not take any time."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for index, policy in enumerate(policies):
        if policy.name in seen:
            problems.append(((index, "name"), f"escalation policy {policy.name!r} is not unique"))
        seen.add(policy.name)
        for level_index, level in enumerate(policy.levels):
            for receiver_index, name in enumerate(level.receivers):
                if name not in receivers:
                    path = (index, "levels", level_index, "receivers", receiver_index)
                    problems.append((path, f"undefined receiver {name!r} used in escalation"))
        if policy.repeat and Policy.of(policy).period <= 0:
            problems.append(((index, "repeat"), "a repeat needs levels that take some time"))
    return problems


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    afters: tuple[float, ...]
    receivers: tuple[tuple[str, ...], ...]  # per level
    repeat: int
    ack_timeout: float | None

    @classmethod
    def of(cls, spec: EscalationPolicySpec) -> Policy:
        return cls(
            spec.name,
            tuple(level.after for level in spec.levels),
            tuple(tuple(level.receivers) for level in spec.levels),
            spec.repeat,
            spec.ack_timeout,
        )

    @property
    def period(self) -> float:
        """How long one pass lasts: until its last level plus the wait before that level."""
        last = self.afters[-1]
        before = self.afters[-2] if len(self.afters) > 1 else 0.0
        return last + (last - before)

    @property
    def steps(self) -> int:
        return len(self.afters) * (self.repeat + 1)

    def offset(self, step: int) -> float:
        """Escalation time at which step `step` (0-based, across passes) is due."""
        passes, level = divmod(step, len(self.afters))
        return passes * self.period + self.afters[level]

    def level(self, step: int) -> int:
        return step % len(self.afters)


@dataclass(frozen=True, slots=True)
class EscalationState:
    """Where one aggregation group stands in its policy; what the store keeps."""

    group_key: str
    policy: str
    reached: int = 0  # steps reached so far; the level reached is (reached - 1) % levels
    elapsed: float = 0.0  # escalation time counted before the current stretch
    running_since: float | None = None  # None: paused (acknowledged, silenced or inhibited)
    notified: tuple[str, ...] = field(default_factory=tuple)  # receivers told at any level

    def clock(self, now: float) -> float:
        """Escalation time: seconds the group has needed someone, as of `now`."""
        running = now - self.running_since if self.running_since is not None else 0.0
        return self.elapsed + running

    def next_due(self, policy: Policy) -> float | None:
        """When the next step is due on the wall clock; None while paused or when done."""
        if self.running_since is None or self.reached >= policy.steps:
            return None
        return self.running_since + policy.offset(self.reached) - self.elapsed


@dataclass(frozen=True, slots=True)
class Step:
    """What one look at a group decided."""

    state: EscalationState | None  # None: nothing to escalate (all resolved), forget it
    receivers: tuple[str, ...]  # everyone who hears about this flush
    new: tuple[str, ...]  # receivers of levels reached just now: they hear of it regardless
    level: int | None  # the level reached so far, None before the first


def advance(
    state: EscalationState | None,
    policy: Policy,
    group_key: str,
    *,
    firing: bool,
    needs_someone: bool,
    now: float,
    fired_at: float | None = None,
) -> Step:
    """The group as of `now`: whether it fires at all, and whether some firing alert is neither
    acknowledged, silenced nor inhibited. A new escalation counts from `fired_at` (when its
    first alert fired) if it needs someone from the start. Pure: the caller keeps the state."""
    if not firing:
        told = state.notified if state is not None else ()
        return Step(None, told, (), None)
    if state is None or state.policy != policy.name:
        start = min(fired_at, now) if fired_at is not None and needs_someone else None
        state = EscalationState(group_key, policy.name, running_since=start)
    state = _paused_or_running(state, needs_someone, now)
    reached = state.reached
    clock = state.clock(now)
    while reached < policy.steps and policy.offset(reached) <= clock:
        reached += 1
    new = _receivers(policy, range(state.reached, reached))
    notified = _union(state.notified, new)
    state = replace(state, reached=reached, notified=notified)
    level = policy.level(reached - 1) if reached else None
    return Step(state, notified, new, level)


def _paused_or_running(state: EscalationState, needs_someone: bool, now: float) -> EscalationState:
    if needs_someone and state.running_since is None:
        return replace(state, running_since=now)
    if not needs_someone and state.running_since is not None:
        return replace(state, elapsed=state.clock(now), running_since=None)
    return state


def _receivers(policy: Policy, steps: Iterable[int]) -> tuple[str, ...]:
    return _union((), [name for step in steps for name in policy.receivers[policy.level(step)]])


def _union(first: Sequence[str], more: Sequence[str]) -> tuple[str, ...]:
    """In order of first appearance, without repeats."""
    return tuple(dict.fromkeys([*first, *more]))


def state_to_json(state: EscalationState) -> str:
    return json.dumps(asdict(state), separators=(",", ":"))


def state_from_json(text: str) -> EscalationState:
    data = json.loads(text)
    data["notified"] = tuple(data["notified"])
    return EscalationState(**data)


Save = Callable[[str, "str | None"], Awaitable[None]]
Wake = Callable[[str, float], None]


async def _nothing_saved(group_key: str, text: str | None) -> None:
    pass


def _no_wake(group_key: str, at: float) -> None:
    pass


class Escalations:
    """Every group's escalation state: each change saved before anyone is notified of it, and
    the group woken when its next step falls due between its own flushes."""

    def __init__(
        self,
        states: Iterable[EscalationState] = (),
        save: Save = _nothing_saved,
        wake: Wake = _no_wake,
    ) -> None:
        self._states = {state.group_key: state for state in states}
        self.save = save
        self.wake = wake

    def __len__(self) -> int:
        return len(self._states)

    def get(self, group_key: str) -> EscalationState | None:
        return self._states.get(group_key)

    async def put(
        self, group_key: str, state: EscalationState | None, wake_at: float | None
    ) -> None:
        if state != self._states.get(group_key):
            await self.save(group_key, state_to_json(state) if state is not None else None)
            if state is None:
                del self._states[group_key]
            else:
                self._states[group_key] = state
        if wake_at is not None:
            self.wake(group_key, wake_at)
