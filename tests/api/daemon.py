"""The daemon in-process for the API tests: a Service with the test's config on a free loopback
port, and a small HTTP client for it. The notification sections are Alertmanager's, so the same
mapping configures a real Alertmanager beside it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from alerting.clock import Clock
from alerting.service import Service
from tests.peers.ports import free_port

# Routing, receivers and inhibition both daemons get. No integrations: what is compared is the
# API, and a group_wait of an hour keeps the groups from flushing while a test runs.
NOTIFY: Mapping[str, Any] = {
    "route": {
        "receiver": "team",
        "group_by": ["alertname"],
        "group_wait": "1h",
        "routes": [
            {"receiver": "quiet", "matchers": ['severity="none"']},
            {"receiver": "db", "matchers": ['service="db"'], "continue": True},
            {"receiver": "team", "matchers": ['service="db"']},
        ],
    },
    "receivers": [{"name": "team"}, {"name": "db"}, {"name": "quiet"}],
    "inhibit_rules": [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["instance"],
        }
    ],
}


def write_config(
    directory: Path,
    notify: Mapping[str, Any] = NOTIFY,
    *,
    prometheus_url: str = "http://127.0.0.1:1",  # never asked unless there are rules
    rules: str = "",
    **extra: Any,
) -> Path:
    """alerting.yaml in `directory`, with `rules` as its one rule file if given."""
    directory.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "global": {"resolve_timeout": "5m", "evaluation_interval": "1m"},
        "datasource": {"prometheus": {"url": prometheus_url}},
        "storage": {"path": "state/alerting.db"},
        "server": {"listen": f"127.0.0.1:{free_port()}"},
        **notify,
        **extra,
    }
    if rules:
        (directory / "rules.yaml").write_text(rules)
        document["rule_files"] = ["rules.yaml"]
    config = directory / "alerting.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


class Daemon:
    """`async with Daemon(config) as daemon`: the service started, and an HTTP client for it."""

    def __init__(self, config: Path, clock: Clock | None = None) -> None:
        self.config = config
        self.service = Service(config, clock=clock)
        self.url = "http://{}:{}".format(*self.service.listen)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Daemon:
        await self.service.start()
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._http is not None:
            await self._http.close()
        await self.service.stop()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        params: Any = None,
    ) -> tuple[int, Any]:
        """Status and body: decoded JSON, or the text when the body is not JSON."""
        assert self._http is not None
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._http.request(
            method, self.url + path, data=data, headers=headers, params=params
        ) as response:
            return response.status, decode(await response.read())

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        return await self.request("GET", path, params=_query(params))

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body)


def decode(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def _query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Keyword parameters as a query; a list repeats its name."""
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            out.append((name, str(item).lower() if isinstance(item, bool) else str(item)))
    return out


async def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """A command-line client (amtool), without blocking the loop the daemon serves on."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
