"""Delivery with retries: exponential backoff until the flush deadline, on the injectable clock."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

from alerting.channels import Channel, DeliveryError, Notification
from alerting.clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

# Alertmanager's backoff (cenkalti/backoff defaults): 0.5 s, growing by 1.5, jittered by ±50 %,
# at most 60 s apart; the first attempt is immediate.
INITIAL_DELAY = 0.5
MULTIPLIER = 1.5
JITTER = 0.5
MAX_DELAY = 60.0


class DeliveryFailed(Exception):
    """No attempt succeeded: the last error was not retryable, or the deadline passed."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class DeadlineExceeded(Exception):
    pass


async def deliver(
    channel: Channel,
    notification: Notification,
    clock: Clock,
    deadline: float,
    jitter: Callable[[], float] = random.random,
) -> int:
    """Send until one attempt succeeds; returns the number of attempts, or raises DeliveryFailed."""
    delay = INITIAL_DELAY
    attempt = 0
    last_error = ""
    while True:
        attempt += 1
        asked = 0.0
        try:
            await before(clock, deadline, channel.send(notification))
            return attempt
        except DeadlineExceeded:
            raise DeliveryFailed(
                _gave_up(last_error or "deadline passed", attempt), attempt
            ) from None
        except DeliveryError as error:
            if not error.retryable:
                raise DeliveryFailed(f"{error} (not retried)", attempt) from error
            if str(error) != last_error:
                log.warning(
                    "notify attempt failed, will retry",
                    extra={"integration": channel.kind, "attempts": attempt, "error": str(error)},
                )
            last_error = str(error)
            asked = error.retry_after or 0.0
        wait = max(min(delay * (1 + JITTER * (2 * jitter() - 1)), MAX_DELAY), asked)
        delay *= MULTIPLIER
        if clock.now() + wait >= deadline:
            raise DeliveryFailed(_gave_up(last_error, attempt), attempt)
        await clock.sleep_until(clock.now() + wait)


def _gave_up(error: str, attempts: int) -> str:
    return f"{error} (gave up at the flush deadline after {attempts} attempts)"


async def before(clock: Clock, deadline: float, work: Awaitable[T]) -> T:
    """Await `work` unless the clock reaches `deadline` first, which cancels it."""
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep_until(deadline))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise DeadlineExceeded
    return task.result()
