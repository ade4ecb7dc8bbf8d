"""`alerting ack`, `unack` and `suppress` against the daemon on loopback: what they print, what
they change, and their failures as one line and exit 1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alerting.api.jsonfmt import rfc3339
from alerting.cli import main
from alerting.clock import ManualClock
from tests.api.daemon import Daemon, write_config
from tests.api.test_incidents_api import DB_A, FP_A, FP_OLD, NOTIFY, OLD, T0, advance, push, pushed
from tests.peers.ports import free_port


async def cli(*args: str) -> int:
    """The CLI is synchronous: run it beside the event loop that serves its daemon."""
    return await asyncio.to_thread(main, list(args))


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTING_URL", raising=False)
    monkeypatch.delenv("ALERTING_TOKEN", raising=False)


@pytest.fixture
async def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Daemon]:
    async with Daemon(write_config(tmp_path, NOTIFY), ManualClock(T0)) as running:
        await push(running, pushed(DB_A), pushed(OLD, T0 - 600, T0 - 60))
        await advance(running, 60)
        monkeypatch.setenv("ALERTING_URL", running.url)
        yield running


async def status_of(daemon: Daemon, fingerprint: str) -> str:
    _, body = await daemon.get("/api/v1/alerts")
    return {a["fingerprint"]: a["status"] for a in body["data"]["alerts"]}.get(fingerprint, "")


async def test_ack_and_unack(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli("ack", FP_A, "--comment", "on it", "--expires-in", "2h") == 0
    until = rfc3339(T0 + 60 + 7200)
    assert capsys.readouterr().out == f"acknowledged {FP_A} as anonymous until {until}\n"
    assert await status_of(daemon, FP_A) == "acknowledged"
    _, body = await daemon.get(f"/api/v1/alerts/{FP_A}/history")
    (ack,) = [e for e in body["data"]["events"] if e["kind"] == "acknowledged"]
    assert (ack["comment"], ack["expires_at"]) == ("on it", until)

    assert await cli("unack", FP_A) == 0
    assert capsys.readouterr().out == f"unacknowledged {FP_A}\n"
    assert await status_of(daemon, FP_A) == "firing"


async def test_expires_in_seconds_and_no_expiry(
    daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("ack", FP_A, "--expires-in", "600") == 0
    assert capsys.readouterr().out.endswith(f" until {rfc3339(T0 + 660)}\n")
    assert await cli("ack", FP_A) == 0
    assert capsys.readouterr().out == f"acknowledged {FP_A} as anonymous\n"


async def test_suppress(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli("suppress", FP_A, "--minutes", "45", "--comment", "deploy") == 0
    out = capsys.readouterr().out
    _, (silence,) = await daemon.get("/api/v2/silences")
    assert out == f"silenced {FP_A} for 45 minutes: silence {silence['id']}\n"
    assert (silence["comment"], silence["createdBy"]) == ("deploy", "anonymous")
    assert await status_of(daemon, FP_A) == "suppressed"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("unack", FP_A), f"DELETE /api/v1/alerts/{FP_A}/acknowledge: 404 Not Found: "
                          f"alert {FP_A} is not acknowledged"),
        (("ack", "0123456789abcdef"), "POST /api/v1/alerts/0123456789abcdef/acknowledge: "
                                      "404 Not Found: no alert with fingerprint 0123456789abcdef"),
        (("ack", FP_OLD), f"POST /api/v1/alerts/{FP_OLD}/acknowledge: 409 Conflict: "
                          f"alert {FP_OLD} is resolved: nothing to acknowledge"),
        (("ack", FP_A, "--expires-in", "soon"), f"POST /api/v1/alerts/{FP_A}/acknowledge: "
                                                '400 Bad Request: expires_in: not a valid '
                                                'duration string: "soon"'),
        (("suppress", FP_A, "--minutes", "0"), f"POST /api/v1/alerts/{FP_A}/suppress: "
                                               "400 Bad Request: duration_minutes must be "
                                               "between 1 and 1440, not 0"),
    ],
)  # fmt: skip
async def test_refusals_are_one_line_and_exit_1(
    daemon: Daemon, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], error: str
) -> None:
    assert await cli(*args) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"alerting {args[0]}: {error}\n")
    assert await status_of(daemon, FP_A) == "firing"


async def test_unreachable_daemon(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert await cli("suppress", FP_A, "--minutes", "5", "--url", url) == 1
    assert capsys.readouterr().err == f"alerting suppress: cannot reach {url}: Connection refused\n"


async def test_a_token_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "token").write_text("wr1te-t0ken\n")
    monkeypatch.setenv("TEST_CLI_TOKEN", "wr1te-t0ken")
    auth = {"tokens": [{"name": "ci", "token_env": "TEST_CLI_TOKEN", "role": "write"}]}
    server = {"listen": f"127.0.0.1:{free_port()}", "auth": auth}
    async with Daemon(write_config(tmp_path, NOTIFY, server=server), ManualClock(T0)) as daemon:
        args = ("--url", daemon.url)
        assert await cli("ack", FP_A, *args) == 1
        assert capsys.readouterr().err.endswith("(pass --token-file or set ALERTING_TOKEN)\n")
        # Authenticated, the request gets as far as the (unknown) alert.
        assert await cli("ack", FP_A, *args, "--token-file", str(tmp_path / "token")) == 1
        assert capsys.readouterr().err.endswith(f"no alert with fingerprint {FP_A}\n")
