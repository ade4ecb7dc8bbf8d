"""Slack's documented HTTP endpoints on loopback, for the Slack integration's tests.

Incoming webhooks (`POST /services/...`) answer `200 ok` as text, or Slack's documented errors
(`400 invalid_payload`, `400 no_text`, ...). The Web API methods `chat.postMessage` and
`chat.update` (`POST /api/<method>`) check the bot token, keep the messages they posted so an
update of an unknown one fails with `message_not_found`, and answer JSON with `ok`. A test can
script the next answers of a path (a 429 with Retry-After, `{"ok": false, ...}`, a 5xx) and
wait for requests; every request is recorded, answered or not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

WEBHOOK_PATH = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"


@dataclass(frozen=True, slots=True)
class SlackRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer: a dict body goes out as JSON, a str as text."""

    status: int = 200
    body: dict[str, Any] | str = "ok"
    headers: Mapping[str, str] = field(default_factory=dict)


def ok_false(error: str, status: int = 200, **headers: str) -> Reply:
    return Reply(status, {"ok": False, "error": error}, headers)


@dataclass(slots=True)
class Posted:
    channel: str  # the channel's ID
    ts: str
    body: dict[str, Any]  # the latest request that wrote it (post or update)


@dataclass
class FakeSlack:
    url: str = ""
    token: str | None = "xoxb-test-token"  # the bot token the Web API accepts; None: any or none
    # Channel names and IDs the workspace has; a message may name either.
    channels: dict[str, str] = field(default_factory=lambda: {"#alerts": "C0ALERTS"})
    requests: list[SlackRequest] = field(default_factory=list)
    messages: dict[tuple[str, str], Posted] = field(default_factory=dict)
    script: dict[str, list[Reply]] = field(default_factory=dict)
    _count: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        """What a bot-token slack_configs entry sets as api_url."""
        return self.url + "/api/chat.postMessage"

    def answer(self, path: str, *replies: Reply) -> None:
        """The next requests to `path` get `replies`, in turn; then the normal answers resume."""
        self.script.setdefault(path, []).extend(replies)

    def to(self, path: str) -> list[SlackRequest]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, count: int, within: float = 20.0) -> list[SlackRequest]:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)
        return self.requests

    # ------------------------------------------------------------ handlers

    async def handle(self, request: web.Request) -> web.StreamResponse:
        recorded = SlackRequest(
            request.method, request.path, dict(request.headers), await request.read()
        )
        try:
            scripted = self.script.get(request.path)
            if scripted:
                return _respond(scripted.pop(0))
            if request.path.startswith("/services/"):
                return _respond(_webhook(recorded))
            return _respond(self._web_api(recorded))
        finally:
            async with self._changed:
                self.requests.append(recorded)
                self._changed.notify_all()

    def _web_api(self, request: SlackRequest) -> Reply:
        method = request.path.removeprefix("/api/")
        if method not in ("chat.postMessage", "chat.update"):
            return ok_false("unknown_method", 404)
        auth_error = self._auth_error(request.headers.get("Authorization"))
        if auth_error:
            return ok_false(auth_error)
        try:
            body = _arguments(request)
        except ValueError:
            return ok_false("invalid_json")
        channel = self._channel_id(str(body.get("channel", "")))
        if channel is None:
            return ok_false("channel_not_found")
        if not any(body.get(k) for k in ("text", "attachments", "blocks")):
            return ok_false("no_text")
        if method == "chat.postMessage":
            return self._post(channel, body)
        return self._update(channel, body)

    def _auth_error(self, header: str | None) -> str | None:
        if self.token is None:
            return None
        if not header:
            return "not_authed"
        return None if header == f"Bearer {self.token}" else "invalid_auth"

    def _channel_id(self, name: str) -> str | None:
        if name in self.channels.values():
            return name
        return self.channels.get(name)

    def _post(self, channel: str, body: dict[str, Any]) -> Reply:
        self._count += 1
        ts = f"{1_700_000_000 + self._count}.{self._count:06d}"
        self.messages[(channel, ts)] = Posted(channel, ts, body)
        message = {"type": "message", "ts": ts, **_content(body)}
        return Reply(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    def _update(self, channel: str, body: dict[str, Any]) -> Reply:
        ts = str(body.get("ts", ""))
        posted = self.messages.get((channel, ts))
        if posted is None:
            return ok_false("message_not_found")
        posted.body = body
        return Reply(200, {"ok": True, "channel": channel, "ts": ts, **_content(body)})


def _webhook(request: SlackRequest) -> Reply:
    try:
        body = json.loads(request.body)
    except ValueError:
        return Reply(400, "invalid_payload")
    if not isinstance(body, dict):
        return Reply(400, "invalid_payload")
    if not any(body.get(k) for k in ("text", "attachments", "blocks")):
        return Reply(400, "no_text")
    return Reply(200, "ok")


def _arguments(request: SlackRequest) -> dict[str, Any]:
    """A Web API call's arguments: a JSON body, or a form whose attachments are JSON text."""
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        body = json.loads(request.body)
        if not isinstance(body, dict):
            raise ValueError("not an object")
        return body
    form = dict(parse_qsl(request.body.decode("utf-8")))
    return {k: json.loads(v) if k in ("attachments", "blocks") else v for k, v in form.items()}


def _content(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("text", "attachments", "blocks", "thread_ts") if k in body}


def _respond(reply: Reply) -> web.Response:
    headers = dict(reply.headers)
    if isinstance(reply.body, dict):
        return web.json_response(reply.body, status=reply.status, headers=headers)
    return web.Response(status=reply.status, text=reply.body, headers=headers)


@asynccontextmanager
async def fake_slack(**options: Any) -> AsyncIterator[FakeSlack]:
    """A started FakeSlack on a free loopback port; `options` are its fields (token, channels)."""
    slack = FakeSlack(**options)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", slack.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    slack.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield slack
    finally:
        await runner.cleanup()
