"""The body cap, 404 / 405 as JSON, and no 500 or stack trace for anything a client sends."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from alerting.api import limits
from tests.api.test_auth import AUTH, TOKENS, base_url, call, running, write_config
from tests.api.test_auth import admin_token_env as admin_token_env  # autouse fixture

WRITE = TOKENS["ci"]


async def test_body_over_the_cap_gets_413_as_json(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"auth": AUTH, "max_request_bytes": 1000})
    async with running(config) as service:
        url = base_url(service) + "/api/v2/alerts"
        status, body, _ = await call(url, "POST", WRITE, data=b"[" + b" " * 1000 + b"]")
        assert status == 413
        assert body == {
            "status": "error",
            "errorType": "too_large",
            "error": "request body of 1002 bytes exceeds the limit of 1000 bytes",
        }
        assert (await call(url, "POST", WRITE, data=b"[" + b" " * 990 + b"]"))[0] != 413
        # Who may not write learns nothing about sizes.
        assert (await call(url, "POST", data=b" " * 2000))[0] == 401


async def test_unknown_path_is_404_as_json(tmp_path: Path) -> None:
    async with running(write_config(tmp_path)) as service:
        status, body, _ = await call(base_url(service) + "/api/v9/nothing")
    assert status == 404
    assert body == {
        "status": "error",
        "errorType": "not_found",
        "error": "no such path: /api/v9/nothing",
    }


async def test_wrong_method_is_405_as_json_with_allow(tmp_path: Path) -> None:
    async with running(write_config(tmp_path)) as service:
        status, body, headers = await call(base_url(service) + "/-/reload", "DELETE")
    assert status == 405
    assert set(headers["Allow"].split(",")) == {"POST", "PUT"}
    assert body == {
        "status": "error",
        "errorType": "method_not_allowed",
        "error": "DELETE is not allowed on /-/reload; allowed: POST, PUT",
    }


HOSTILE = [
    ("GET", "/%ff%fe"),
    ("GET", "/api/v1/rules?type=%ff"),
    ("GET", "/api/v1/rules?type=" + "a" * 4000),
    ("GET", "/%00"),
    ("GET", "/api/v1/rules/../../etc/passwd"),
    ("GET", "//-/healthy"),
    ("PATCH", "/-/reload"),
    ("OPTIONS", "/api/v1/rules"),
    ("PROPFIND", "/"),
    ("POST", "/-/reload?%zz"),
]


@pytest.mark.parametrize(("method", "path"), HOSTILE)
async def test_odd_requests_never_get_a_500(tmp_path: Path, method: str, path: str) -> None:
    async with running(write_config(tmp_path, {"auth": AUTH})) as service:
        url = URL(base_url(service) + path, encoded=True)
        for token in (None, TOKENS["boss"]):
            status, body, _ = await call(url, method, token, data=b"\xff{not json")
            assert status < 500, (status, body)
            assert "Traceback" not in str(body)


@asynccontextmanager
async def handlers_behind_the_limits(max_bytes: int) -> AsyncIterator[str]:
    """The production middlewares in front of handlers that read bodies or fail."""

    async def echo_json(request: web.Request) -> web.Response:
        return web.json_response(await request.json())

    async def broken(_: web.Request) -> web.Response:
        raise RuntimeError("a bug with a secret in its message")

    async def own_json_error(_: web.Request) -> web.Response:
        raise web.HTTPNotFound(text='"silence not found"', content_type="application/json")

    async def own_text_error(_: web.Request) -> web.Response:
        raise web.HTTPNotFound(text="silence 42 not found")

    app = web.Application(middlewares=[limits.errors_as_json, limits.body_limit(lambda: max_bytes)])
    app.router.add_post("/echo", echo_json)
    app.router.add_get("/broken", broken)
    app.router.add_get("/own-json", own_json_error)
    app.router.add_get("/own-text", own_text_error)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_chunked_body_over_the_cap_gets_413(tmp_path: Path) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 200

    async with handlers_behind_the_limits(1000) as url:
        status, body, _ = await call(url + "/echo", "POST", data=chunks())
        assert status == 413 and body["errorType"] == "too_large"
        assert (await call(url + "/echo", "POST", json={"a": 1}))[1] == {"a": 1}


async def test_bad_json_body_is_400(tmp_path: Path) -> None:
    async with handlers_behind_the_limits(1000) as url:
        status, body, _ = await call(url + "/echo", "POST", data=b"{nope")
        assert status == 400 and body["errorType"] == "bad_data"
        assert body["error"].startswith("request body: Expecting property name")
        status, body, _ = await call(url + "/echo", "POST", data=b'"\xff"')
        assert status == 400 and body["errorType"] == "bad_data"


async def test_a_bug_is_a_plain_500_and_a_log_entry(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="alerting.api.limits"):
        async with handlers_behind_the_limits(1000) as url:
            status, body, _ = await call(url + "/broken")
    assert status == 500
    assert body == {"status": "error", "errorType": "internal", "error": "internal error"}
    assert "a bug with a secret" in caplog.text  # in the log, for us; not in the response


async def test_handlers_own_errors_are_kept() -> None:
    async with handlers_behind_the_limits(1000) as url:
        assert (await call(url + "/own-json"))[:2] == (404, "silence not found")
        status, body, _ = await call(url + "/own-text")
    assert (status, body["errorType"], body["error"]) == (404, "not_found", "silence 42 not found")


async def test_requests_under_the_cap_reach_handlers_unchanged() -> None:
    async with (
        handlers_behind_the_limits(10) as url,
        aiohttp.ClientSession() as http,
        http.post(url + "/echo", data=b"[1,2,3]") as response,
    ):
        assert response.status == 200
        assert await response.json() == [1, 2, 3]
