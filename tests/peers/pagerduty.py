"""PagerDuty's Events API v2 (`POST /v2/enqueue`) on loopback: records every request, checks each
event against the documented shape, and answers as PagerDuty does or as a test scripts it.

PagerDuty's SaaS is out of reach, so this is the peer our channel and a real Alertmanager talk to.
What it checks and answers comes from PagerDuty's Events API v2 documentation: 202 with
`{"status": "success", "message": "Event processed", "dedup_key": ...}` for an accepted event,
400 with `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`
for a malformed one, 429 when throttled, 5xx when PagerDuty itself fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ENQUEUE_PATH = "/v2/enqueue"
MAX_EVENT_BYTES = 512_000  # "512 KB": Alertmanager counts it in SI units, and so do we
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int
    body: Any = None  # JSON-encoded unless a str
    headers: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None  # the answer waits for it: a stalled PagerDuty

    def response(self) -> web.Response:
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


def invalid(*errors: str) -> Reply:
    return Reply(
        400,
        {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)},
    )


def throttled(retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(429, {"status": "throttle event", "message": "Too many requests"}, headers)


def failed(status: int = 500) -> Reply:
    return Reply(status, "Internal Server Error")


@dataclass
class Received:
    """One request as it arrived, and what the fake answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class PagerdutyFake:
    url: str = ""  # the base URL; events go to `enqueue_url`
    received: list[Received] = field(default_factory=list)
    # Answers in turn; once empty, every event is checked and answered as PagerDuty would.
    script: list[Reply] = field(default_factory=list)
    _arrivals: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    @property
    def enqueue_url(self) -> str:
        return self.url + ENQUEUE_PATH

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        reply = self.script.pop(0) if self.script else answer(body)
        received = Received(request.path, dict(request.headers), body, reply.status)
        self.received.append(received)
        self._arrivals.put_nowait(received)
        if reply.hold is not None:
            await reply.hold.wait()
        return reply.response()

    async def next(self, within: float = 20.0) -> Received:
        """The next request not yet taken, waiting for it if need be."""
        return await asyncio.wait_for(self._arrivals.get(), timeout=within)

    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received]


def answer(body: bytes) -> Reply:
    """PagerDuty's answer to `body`: 202 if it is a valid event, else 400 naming what is wrong."""
    if len(body) > MAX_EVENT_BYTES:
        return invalid(f"Event object is larger than {MAX_EVENT_BYTES} bytes")
    try:
        event = json.loads(body)
    except ValueError:
        return invalid("Event object is not valid JSON")
    if not isinstance(event, dict):
        return invalid("Event object must be a JSON object")
    errors = event_errors(event)
    if errors:
        return invalid(*errors)
    # PagerDuty makes up a dedup key for a trigger without one.
    key = event.get("dedup_key") or hashlib.sha256(body).hexdigest()[:32]
    return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})


def event_errors(event: dict[str, Any]) -> list[str]:
    """What the documentation says a v2 event must be, as a list of complaints."""
    errors: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append(
            "'event_action' is invalid (must be one of 'trigger', 'acknowledge' or 'resolve')"
        )
    dedup = event.get("dedup_key")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is missing or blank")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action == "trigger":
        errors += payload_errors(event.get("payload"))
    for i, image in enumerate(event.get("images", [])):
        if not image.get("src"):
            errors.append(f"'images[{i}].src' is missing or blank")
    for i, link in enumerate(event.get("links", [])):
        if not link.get("href"):
            errors.append(f"'links[{i}].href' is missing or blank")
    return errors


def payload_errors(payload: object) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors: list[str] = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        errors.append("'payload.summary' is longer than 1024 characters")
    if not payload.get("source"):
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of the following: "
            "'critical', 'warning', 'error' or 'info')"
        )
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


@asynccontextmanager
async def pagerduty_fake() -> AsyncIterator[PagerdutyFake]:
    fake = PagerdutyFake()
    app = web.Application(client_max_size=4 * 1024 * 1024)  # oversized events reach `answer`
    app.router.add_post(ENQUEUE_PATH, fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()
