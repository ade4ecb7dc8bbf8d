"""The one source of time: a real clock for the daemon, a manual one for tests and replay."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Unix time in seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """Time moves only when a test calls `advance` or `set`; sleepers wake in deadline order."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._new_sleeper = asyncio.Condition()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), future))
        async with self._new_sleeper:
            self._new_sleeper.notify_all()
        await future

    async def wait_for_sleeper(self, before: float) -> None:
        """Return once some task sleeps until a time earlier than `before` (work that went off
        to do real I/O, such as a retried request, is back waiting on this clock)."""

        def sleeping() -> bool:
            return any(d < before and not f.done() for d, _, f in self._sleepers)

        async with self._new_sleeper:
            await self._new_sleeper.wait_for(sleeping)

    async def advance(self, seconds: float) -> None:
        await self.set(self._now + seconds)

    async def set(self, target: float) -> None:
        """Move to `target`, waking each sleeper at its own deadline and letting it run."""
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self._now = max(self._now, target)
        await settle()


async def settle(rounds: int = 20) -> None:
    """Give every ready task a chance to run (tests use this instead of sleeping)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
