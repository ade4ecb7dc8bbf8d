"""`alerting alerts`: the table of current alerts from a running daemon, its pages and errors."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from alerting.cli import main
from alerting.client import Client
from alerting.clock import ManualClock
from alerting.labels import fingerprint_hex
from alerting.service import Service
from tests.api.test_auth import pki as pki  # module-scoped fixture: a CA made for these tests
from tests.channels.test_httpclient import PKI
from tests.peers.ports import free_port


def alert(fingerprint: str, status: str, labels: dict[str, str], summary: str) -> dict[str, Any]:
    """An alert as `GET /api/v1/alerts` describes it."""
    return {
        "labels": labels,
        "annotations": {"summary": summary},
        "state": "firing",
        "activeAt": "2024-03-01T10:00:00.123Z",
        "value": "1e+00",
        "fingerprint": fingerprint,
        "status": status,
        "silencedBy": [],
        "inhibitedBy": [],
        "source": "rule",
    }


PAGES = {
    "": (
        [
            alert(
                "00000000000000a1",
                "firing",
                {"alertname": "DiskFull", "severity": "page"},
                "/ full",
            ),
            alert("00000000000000b2", "acknowledged", {"alertname": "Slow"}, "p99\nabove  1s"),
        ],
        "page-2",
    ),
    "page-2": (
        [alert("00000000000000c3", "suppressed", {"alertname": "X", "severity": "info"}, "")],
        None,
    ),
}

TABLE = """\
FINGERPRINT       STATUS        SEVERITY  ALERTNAME  SINCE                 SUMMARY
00000000000000a1  firing        page      DiskFull   2024-03-01T10:00:00Z  / full
00000000000000b2  acknowledged            Slow       2024-03-01T10:00:00Z  p99 above 1s
00000000000000c3  suppressed    info      X          2024-03-01T10:00:00Z
"""


@dataclass
class AlertsAPI:
    """`GET /api/v1/alerts` with the documented shape, in pages, recording what it was asked."""

    token: str = ""
    url: str = ""
    queries: list[list[tuple[str, str]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            body = {"status": "error", "errorType": "unauthorized", "error": "invalid bearer token"}
            return web.json_response(body, status=401)
        self.queries.append(list(request.query.items()))
        alerts, cursor = PAGES[request.query.get("cursor", "")]
        data: dict[str, Any] = {"alerts": alerts}
        if cursor:
            data["nextCursor"] = cursor
        return web.json_response({"status": "success", "data": data})


@asynccontextmanager
async def alerts_api(token: str) -> AsyncIterator[AlertsAPI]:
    api = AlertsAPI(token)
    app = web.Application()
    app.router.add_get("/api/v1/alerts", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    api.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield api
    finally:
        await runner.cleanup()


async def cli(*args: str) -> int:
    """The CLI is synchronous: run it beside the event loop that serves its daemon."""
    return await asyncio.to_thread(main, ["alerts", *args])


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTING_URL", raising=False)
    monkeypatch.delenv("ALERTING_TOKEN", raising=False)


async def test_table_of_every_page_with_filters_and_env_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with alerts_api("t0ken") as api:
        monkeypatch.setenv("ALERTING_URL", api.url)
        monkeypatch.setenv("ALERTING_TOKEN", "t0ken")
        filters = ['{team="db"}', "alertname=~Disk.*"]
        code = await cli("--status", "firing", "--severity", "page", "--filter", filters[0],
                         "--filter", filters[1])  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out == TABLE
    asked = [
        ("status", "firing"),
        ("severity", "page"),
        ("filter", filters[0]),
        ("filter", filters[1]),
        ("limit", "1000"),
    ]
    assert api.queries == [asked, [*asked, ("cursor", "page-2")]]


async def test_json_output_with_a_token_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "token").write_text("t0ken\n")
    async with alerts_api("t0ken") as api:
        code = await cli("--url", api.url, "--token-file", str(tmp_path / "token"), "-o", "json")
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == PAGES[""][0] + PAGES["page-2"][0]


async def test_refused_token_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    async with alerts_api("t0ken") as api:
        assert await cli("--url", api.url) == 1
        missing = capsys.readouterr()
        assert await cli("--url", api.url + "/") == 1  # a trailing slash is fine
    assert missing.out == ""
    assert missing.err == (
        "alerting alerts: GET /api/v1/alerts: 401 Unauthorized: invalid bearer token"
        " (pass --token-file or set ALERTING_TOKEN)\n"
    )
    assert capsys.readouterr().err == missing.err


async def test_unreachable_daemon_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert await cli("--url", url) == 1
    assert capsys.readouterr().err == f"alerting alerts: cannot reach {url}: Connection refused\n"


def test_unreadable_token_file_and_bad_filter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "--token-file", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"alerting alerts: cannot read token file {tmp_path / 'none'}: No such file or directory\n"
    )
    assert main(["alerts", "--filter", 'a="b']) == 2
    assert capsys.readouterr().err.startswith("alerting alerts: --filter 'a=\"b':")


RULES = """
groups:
  - name: g
    interval: 1m
    rules:
      - alert: AlwaysFiring
        expr: vector(1) or label_replace(vector(2), "instance", "b", "", "")
        labels: {severity: page}
        annotations: {summary: "it fires"}
"""


async def test_against_the_daemon_over_https_with_a_token(
    tmp_path: Path, prometheus_peer: Any, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "reader").write_text("r3ad-t0ken")
    port = free_port()
    server = {
        "listen": f"127.0.0.1:{port}",
        "auth": {"tokens": [{"name": "cli", "token_file": "reader", "role": "read"}]},
        "tls": {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)},
    }
    config = tmp_path / "alerting.yaml"
    config.write_text(
        json.dumps(
            {
                "datasource": {"prometheus": {"url": prometheus_peer().url}},
                "rule_files": ["rules.yaml"],
                "storage": {"path": "alerting.db"},
                "server": server,
            }
        )
    )
    url = f"https://127.0.0.1:{port}"
    client = Client(url, "r3ad-t0ken", str(pki.ca))
    clock = ManualClock(time.time())
    service = Service(config, clock=clock)
    await service.start()
    try:
        group = next(iter(service.manager.groups.values()))
        ts = group.first_timestamp(clock.now())
        await clock.set(ts)
        await asyncio.wait_for(service.manager.wait_for_evaluation(group.key, ts), 10)
        paged = await asyncio.to_thread(lambda: list(client.alerts(page_size=1)))
        args = ("--url", url, "--ca-file", str(pki.ca), "--token-file", str(tmp_path / "reader"))
        assert await cli(*args) == 0
        table = capsys.readouterr().out
        assert await cli("--url", url) == 1  # the system's CAs do not know ours
        refused = capsys.readouterr().err
    finally:
        await service.stop()
    fingerprints = sorted(
        fingerprint_hex({"alertname": "AlwaysFiring", "severity": "page", **extra})
        for extra in ({}, {"instance": "b"})
    )
    assert [a["fingerprint"] for a in paged] == fingerprints  # one page each
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    assert table.splitlines() == [
        "FINGERPRINT       STATUS  SEVERITY  ALERTNAME     SINCE                 SUMMARY",
        *(f"{fp}  firing  page      AlwaysFiring  {since}  it fires" for fp in fingerprints),
    ]
    assert refused.startswith(
        f"alerting alerts: cannot reach {url}: [SSL: CERTIFICATE_VERIFY_FAILED]"
    )
