"""The time the benches' processes spend in CPython's cyclic collector, printed beside figures."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager


class GcClock:
    """Seconds spent in CPython's cyclic collector, whose passes grow with every alert held."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_collection)

    def _on_collection(self, phase: str, _: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    @contextmanager
    def excluded(self) -> Iterator[None]:
        """Collections in the block (the bench's own, for a memory figure) do not count."""
        seconds = self.seconds
        yield
        self.seconds = seconds
