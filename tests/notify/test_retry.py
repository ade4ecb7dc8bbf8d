"""Retry timing on a manual clock: Alertmanager's backoff, and a service's own Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from alerting.channels import DeliveryError, Notification
from alerting.clock import ManualClock, settle
from alerting.notify.retry import DeliveryFailed, deliver

NOTIFICATION = Notification("r", "{}:{}", {}, [], 0.0, "")


class Flaky:
    """Fails with the given errors in turn, then succeeds; records when each attempt came."""

    kind = "test"
    send_resolved = True

    def __init__(self, clock: ManualClock, errors: list[DeliveryError]) -> None:
        self.clock = clock
        self.errors = errors
        self.attempts: list[float] = []

    async def send(self, notification: Notification) -> None:
        self.attempts.append(self.clock.now())
        if self.errors:
            raise self.errors.pop(0)

    async def close(self) -> None:
        pass


def no_jitter() -> float:
    return 0.5  # the middle of the jitter range: the delay itself


async def run_until_done(clock: ManualClock, task: asyncio.Task[int]) -> None:
    await settle()  # the first attempt, at the start time
    while not task.done():
        await clock.advance(0.25)


async def test_retry_after_stretches_the_backoff() -> None:
    clock = ManualClock(1000.0)
    channel = Flaky(clock, [DeliveryError("429", retryable=True, retry_after=30.0)])
    task = asyncio.create_task(deliver(channel, NOTIFICATION, clock, 2000.0, no_jitter))
    await run_until_done(clock, task)
    assert task.result() == 2
    assert channel.attempts == [1000.0, 1030.0]


async def test_backoff_without_retry_after_is_alertmanagers() -> None:
    clock = ManualClock(1000.0)
    errors = [DeliveryError("503", retryable=True) for _ in range(2)]
    channel = Flaky(clock, errors)
    task = asyncio.create_task(deliver(channel, NOTIFICATION, clock, 2000.0, no_jitter))
    await run_until_done(clock, task)
    assert channel.attempts == [1000.0, 1000.5, 1001.25]


async def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    clock = ManualClock(1000.0)
    channel = Flaky(clock, [DeliveryError("429", retryable=True, retry_after=600.0)])
    with pytest.raises(DeliveryFailed, match="gave up at the flush deadline after 1 attempts"):
        await deliver(channel, NOTIFICATION, clock, 1300.0, no_jitter)
