"""Alertmanager 0.25 as the oracle for API v2: one sequence of pushes, silence operations and
queries goes to a real `prometheus-alertmanager` and to the daemon, with the same routing and
inhibition config, and every answer must be the same JSON, ids and times aside.

Silence ids are replaced by names in order of creation (S1, S2, ...), in every place they show
(`id`, `silenceID`, `silencedBy`); `startsAt`, `endsAt`, `updatedAt` and `uptime` are dropped.
Where we answer differently on purpose only the status is compared: a batch with invalid alerts
(we name each by its JSON path) and a schema refusal (our message names the field the same way).

The daemon runs first; Alertmanager routes and inhibits asynchronously after a push, so each of
its answers to a query is polled until it equals ours or a deadline passes.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from alerting.notify.silence import format_api_time
from tests.api.daemon import NOTIFY, Daemon, decode, write_config

DROPPED = frozenset({"startsAt", "endsAt", "updatedAt", "uptime"})
SETTLE_DEADLINE = 5.0  # seconds Alertmanager may take to route and inhibit what was pushed


class Target:
    """One API under test, recording what it answers, normalized."""

    def __init__(self, url: str, http: aiohttp.ClientSession, expected: list[Any] | None) -> None:
        self.url = url
        self.http = http
        self.expected = expected  # the daemon's record, when this is Alertmanager
        self.names: dict[str, str] = {}  # silence id -> S1, S2, ...
        self.record: list[Any] = []

    def id_of(self, name: str) -> str:
        return next(real for real, known in self.names.items() if known == name)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Any = None,
        status_only: bool = False,
    ) -> Any:
        """Send one request; record (request, status, normalized body); return the raw body."""
        step = len(self.record)
        deadline = time.monotonic() + SETTLE_DEADLINE
        while True:
            status, raw = await self._send(method, path, body, params)
            seen = (method, path, status, None if status_only else self._normalized(raw))
            expected = self.expected[step] if self.expected is not None else None
            if method != "GET" or expected in (None, seen) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)  # Alertmanager's dispatcher runs on its own goroutines
        self.record.append(seen)
        return raw

    async def _send(self, method: str, path: str, body: Any, params: Any) -> tuple[int, Any]:
        url = self.url + path.format(**{n: self.id_of(n) for n in self.names.values()})
        data = None if body is None else json.dumps(self._ids_in(body)).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        async with self.http.request(method, url, data=data, headers=headers, params=params) as r:
            raw = decode(await r.read())
        if isinstance(raw, dict) and "silenceID" in raw:
            self.names.setdefault(raw["silenceID"], f"S{len(self.names) + 1}")
        return r.status, raw

    def _ids_in(self, body: Any) -> Any:
        if isinstance(body, dict) and str(body.get("id", "")).startswith("S"):
            return {**body, "id": self.id_of(body["id"])}
        return body

    def note(self, observation: Any) -> None:
        self.record.append(observation)

    def _normalized(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._normalized(item) for item in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("id", "silenceID"):
                out[key] = self._named(item)
            elif key == "silencedBy":
                out[key] = [self._named(i) for i in item]
            elif key not in DROPPED:
                out[key] = self._normalized(item)
        return out

    def _named(self, silence_id: str) -> str:
        return self.names.get(silence_id, silence_id)


def alerts_batch(now: float) -> list[dict[str, Any]]:
    def alert(name: str, **labels: str) -> dict[str, Any]:
        return {
            "labels": {"alertname": name, **labels},
            "annotations": {"summary": f"{name} <is> & was"},
            "startsAt": format_api_time(now - 120),
            "endsAt": format_api_time(now + 3600),
        }

    return [
        alert("Src", instance="a", severity="critical"),
        alert("Muted", instance="a", severity="warning"),
        alert("Other", instance="b", severity="warning"),
        alert("Db", instance="b", service="db", job="sql"),
        alert("Db", instance="c", service="db", job="sql"),
        alert("Hush", instance="c"),
        alert("Quiet", severity="none"),
        {**alert("Url"), "generatorURL": "http://prometheus:9090/graph?g0.expr=up"},
        {"labels": {"alertname": "Untimed", "gone": ""}},
        {**alert("Over"), "endsAt": format_api_time(now - 60)},
    ]


def silence(now: float, matcher: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "matchers": [matcher],
        "startsAt": format_api_time(now),
        "endsAt": format_api_time(now + 3600),
        "createdBy": "tests",
        "comment": "side by side",
        **fields,
    }


def equal(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value, "isRegex": False, "isEqual": True}


async def scenario(api: Target) -> None:
    now = time.time()
    await api.call("POST", "/api/v2/alerts", alerts_batch(now))
    await api.call("GET", "/api/v2/alerts")
    await api.call("POST", "/api/v2/silences", silence(now, equal("alertname", "Hush")))
    regex = {"name": "alertname", "value": "Q.*", "isRegex": True, "isEqual": True}
    await api.call("POST", "/api/v2/silences", silence(now, regex))
    for params in [
        None,
        {"silenced": "false"},
        {"inhibited": "false"},
        {"active": "false"},
        {"active": "false", "silenced": "false"},
        [("filter", 'alertname=~"D.*|S.*"'), ("filter", "instance!=c")],
        [("filter", 'service="db"'), ("filter", "job=sql"), ("filter", 'instance=~"b|x,y"')],
        {"receiver": "db"},
        {"receiver": "qu.*"},
        {"receiver": "("},
        {"filter": "bad"},
        {"filter": 'a=~"("'},
    ]:
        await api.call("GET", "/api/v2/alerts", params=params)
    for params in [None, {"receiver": "db"}, {"silenced": "false", "inhibited": "false"}]:
        await api.call("GET", "/api/v2/alerts/groups", params=params)
    await api.call("GET", "/api/v2/silences")
    await api.call("GET", "/api/v2/silences", params={"filter": 'alertname="Hush"'})

    # An update that keeps the matchers and start stays in place; other matchers expire the
    # silence and create another. The start is sent back as read, as amtool does.
    current = await api.call("GET", "/api/v2/silence/{S1}")
    kept = {k: current[k] for k in ("matchers", "startsAt", "endsAt", "createdBy")}
    await api.call("POST", "/api/v2/silences", {**kept, "id": "S1", "comment": "in place"})
    await api.call(
        "POST",
        "/api/v2/silences",
        {**kept, "id": "S1", "matchers": [equal("alertname", "Other")], "comment": "moved"},
    )
    await api.call("DELETE", "/api/v2/silence/{S2}")
    await api.call("GET", "/api/v2/silences")
    await api.call("GET", "/api/v2/alerts", params={"filter": "alertname=~Hush|Other|Quiet"})
    await api.call("GET", "/api/v2/silence/{S3}")
    await api.call("GET", "/api/v2/silence/6a0b7a37-8c29-4a3b-9b9b-0a1b2c3d4e5f")
    await api.call("GET", "/api/v2/silence/not-a-uuid")

    # Refusals.
    await api.call("POST", "/api/v2/silences", silence(now, equal("a", "")))
    await api.call(
        "POST",
        "/api/v2/silences",
        silence(
            now,
            equal("a", "b"),
            endsAt=format_api_time(now - 5),
            startsAt=format_api_time(now - 10),
        ),
    )
    await api.call(
        "POST",
        "/api/v2/silences",
        silence(now, equal("a", "b"), id="6a0b7a37-8c29-4a3b-9b9b-0a1b2c3d4e5f"),
    )
    await api.call(
        "POST",
        "/api/v2/silences",
        silence(
            now,
            equal("a", "b"),
            startsAt=format_api_time(now + 10),
            endsAt=format_api_time(now + 5),
        ),
    )
    await api.call("POST", "/api/v2/silences", {"matchers": [equal("a", "b")]}, status_only=True)
    await api.call(
        "POST",
        "/api/v2/alerts",
        [{"labels": {"alertname": "Ok"}}, {"labels": {"a b": "x"}}],
        status_only=True,
    )
    await api.call("GET", "/api/v2/alerts", params={"filter": 'alertname="Ok"'})
    await api.call("GET", "/api/v2/receivers")
    status = await api.call("GET", "/api/v2/status", status_only=True)
    api.note(("status", status["cluster"], sorted(status), status["versionInfo"]["version"]))


async def test_api_v2_answers_as_alertmanager_does(tmp_path: Path, alertmanager_peer) -> None:
    oracle = alertmanager_peer(dict(NOTIFY))
    async with Daemon(write_config(tmp_path)) as daemon, aiohttp.ClientSession() as http:
        ours = Target(daemon.url, http, None)
        await scenario(ours)
        theirs = Target(oracle.url, http, ours.record)
        await scenario(theirs)
    for step, (mine, real) in enumerate(zip(ours.record, theirs.record, strict=True)):
        assert mine == real, f"step {step}: {mine[:2]}"
