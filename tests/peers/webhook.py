"""A webhook receiver on loopback that records Alertmanager-style notifications."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]

    def summary(self) -> tuple[str, str, str, list[tuple[str, dict[str, str]]]]:
        """What differential tests compare: receiver, group key, status, alerts in order."""
        p = self.payload
        alerts = [(a["status"], a["labels"]) for a in p["alerts"]]
        return (p["receiver"], p["groupKey"], p["status"], alerts)


@dataclass
class WebhookReceiver:
    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    requests: int = 0
    # Answers in turn (then 200): an int is a status; a callable may stall or answer itself.
    script: list[int | Responder] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        step = self.script.pop(0) if self.script else 200
        response = await step(request) if callable(step) else web.Response(status=step)
        if 200 <= response.status < 300:
            delivery = Delivery(request.path, dict(request.headers), json.loads(body))
            async with self._changed:
                self.deliveries.append(delivery)
                self._changed.notify_all()
        return response

    async def wait_for(self, count: int, within: float = 10.0) -> list[Delivery]:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.deliveries) >= count)
        return self.deliveries

    def summaries(self) -> list[tuple[str, str, str, list[tuple[str, dict[str, str]]]]]:
        return [d.summary() for d in self.deliveries]


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
