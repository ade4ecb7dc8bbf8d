"""The Prometheus client against a real, backfilled Prometheus, and its HTTP side on loopback.

Result semantics come from the real server. The loopback aiohttp servers only stand in where the
subject is our HTTP client (headers, path prefix, TLS, timeouts, non-API answers, concurrency).
"""

from __future__ import annotations

import asyncio
import base64
import math
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from alerting.configbase import TLSConfig
from alerting.datasource import (
    BadData,
    PrometheusAPIError,
    PrometheusClient,
    PrometheusHTTPError,
    PrometheusUnreachable,
    QueryError,
    QueryTimeout,
    ResultTypeError,
)
from alerting.model import Sample
from tests.peers.ports import free_port
from tests.peers.prometheus import PrometheusServer
from tests.peers.series import BASE_TIME, to_openmetrics

STEP = 60.0
SERIES = {
    'up{job="api", instance="a:9090"}': "1 1 0 1",
    'up{job="api", instance="b:9090"}': "0x3",
    'up{job="db", instance="c:5432"}': "1x3",
    'temperature{room="lab"}': "NaN Inf -Inf 21.5",
    'build_info{text="say \\"hi\\" C:\\\\tmp\\nnext ü 🔥"}': "1x3",
    "jobs_done_total": "0+1x300",  # five hours: promtool cuts it into 2h blocks
}
EMPTY_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}


def at(step: int) -> float:
    return BASE_TIME + step * STEP


@pytest.fixture(scope="module")
def prometheus(module_prometheus_peer: Callable[..., PrometheusServer]) -> PrometheusServer:
    return module_prometheus_peer(to_openmetrics(SERIES, BASE_TIME, STEP))


@pytest.fixture
async def client(prometheus: PrometheusServer) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(prometheus.url, timeout=10) as client:
        yield client


@asynccontextmanager
async def serve(*routes: web.RouteDef, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """An aiohttp app on a loopback port of its own; yields its base URL."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"{'https' if tls else 'http'}://{host}:{port}"
    finally:
        await runner.cleanup()


def by_instance(samples: list[Sample]) -> dict[str, float]:
    return {s.labels["instance"]: s.value for s in samples}


# --- Against the real Prometheus ---------------------------------------------------------


async def test_vector_has_labels_and_values_at_the_given_time(client: PrometheusClient) -> None:
    samples = await client.query('up{job="api"}', at(2))
    assert by_instance(samples) == {"a:9090": 0.0, "b:9090": 0.0}
    assert {s.labels["instance"]: s.labels for s in samples}["a:9090"] == {
        "__name__": "up",
        "job": "api",
        "instance": "a:9090",
    }
    assert by_instance(await client.query('up{job="api"}', at(3))) == {"a:9090": 1.0, "b:9090": 0.0}


async def test_answers_share_their_label_strings(client: PrometheusClient) -> None:
    # Alerts built from one answer hold the strings later answers hand back, not copies.
    first, again = [await client.query('up{instance="a:9090"}', at(step)) for step in (0, 1)]
    [(name, value)] = [(k, v) for k, v in first[0].labels.items() if k == "instance"]
    [(name_again, value_again)] = [(k, v) for k, v in again[0].labels.items() if k == "instance"]
    assert name is name_again and value is value_again


async def test_before_the_data_the_vector_is_empty(client: PrometheusClient) -> None:
    assert await client.query("up", BASE_TIME - 3600) == []


async def test_scalar_is_one_sample_without_labels(client: PrometheusClient) -> None:
    assert await client.query("scalar(sum(up))", at(0)) == [Sample({}, 2.0)]
    assert await client.query("1 + 1", at(0)) == [Sample({}, 2.0)]


async def test_nan_and_infinities(client: PrometheusClient) -> None:
    values = [(await client.query("temperature", at(step)))[0].value for step in range(4)]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 21.5]


async def test_label_values_keep_quotes_backslashes_newlines_and_unicode(
    client: PrometheusClient,
) -> None:
    [sample] = await client.query("build_info", at(0))
    assert sample.labels["text"] == 'say "hi" C:\\tmp\nnext ü 🔥'


async def test_history_spanning_several_blocks(client: PrometheusClient) -> None:
    assert await client.query("jobs_done_total", at(300)) == [
        Sample({"__name__": "jobs_done_total"}, 300.0)
    ]
    assert await client.query("count_over_time(jobs_done_total[6h])", at(300)) == [
        Sample({}, 301.0)
    ]


async def test_syntax_error_is_bad_data(client: PrometheusClient) -> None:
    with pytest.raises(BadData) as caught:
        await client.query("sum(up", at(0))
    assert caught.value.error_type == "bad_data"
    assert "parse error" in caught.value.error


async def test_execution_error_keeps_its_type(client: PrometheusClient) -> None:
    with pytest.raises(PrometheusAPIError) as caught:
        await client.query("up * on() up", at(0))  # many-to-many matching
    assert not isinstance(caught.value, BadData)
    assert caught.value.error_type == "execution"


@pytest.mark.parametrize("expr", ["up[5m]", '"text"'])
async def test_range_vector_and_string_are_refused(client: PrometheusClient, expr: str) -> None:
    with pytest.raises(ResultTypeError, match="not a vector or scalar"):
        await client.query(expr, at(0))


async def test_prometheus_side_timeout(client: PrometheusClient) -> None:
    # A zero timeout gives Prometheus an expired deadline: it answers errorType "timeout".
    with pytest.raises(QueryTimeout, match="timed out"):
        await client.query("up", at(0), timeout=0)


async def test_queries_run_concurrently_on_one_client(client: PrometheusClient) -> None:
    results = await asyncio.gather(*(client.query("count(up)", at(i % 4)) for i in range(20)))
    assert results == [[Sample({}, 3.0)]] * 20


# --- The HTTP client, against loopback servers --------------------------------------------


async def test_closed_port_is_unreachable() -> None:
    url = f"http://user:s3cret@127.0.0.1:{free_port()}"
    async with PrometheusClient(url) as client:
        with pytest.raises(PrometheusUnreachable) as caught:
            await client.query("up", at(0))
    assert "s3cret" not in str(caught.value)


async def test_stalled_server_times_out() -> None:
    never = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await never.wait()
        return web.json_response(EMPTY_VECTOR)

    async with serve(web.post("/api/v1/query", stall)) as url:
        async with PrometheusClient(url) as client:
            with pytest.raises(QueryTimeout):
                await client.query("up", at(0), timeout=0.1)
        never.set()  # lets the server shut down without waiting out the stalled handler


async def test_non_api_answer_is_an_http_error() -> None:
    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad Gateway</html>" + "x" * 5000)

    route = web.post("/api/v1/query", bad_gateway)
    async with serve(route) as url, PrometheusClient(url) as client:
        with pytest.raises(PrometheusHTTPError) as caught:
            await client.query("up", at(0))
    assert caught.value.status == 502
    assert caught.value.body.startswith("<html>Bad Gateway</html>")
    assert len(caught.value.body) <= 200


async def test_garbled_success_is_a_query_error() -> None:
    async def garbled(request: web.Request) -> web.Response:
        vector = {"resultType": "vector", "result": [{"metric": {}, "value": [0, "one"]}]}
        return web.json_response({"status": "success", "data": vector})

    route = web.post("/api/v1/query", garbled)
    async with serve(route) as url, PrometheusClient(url) as client:
        with pytest.raises(QueryError, match="malformed"):
            await client.query("up", at(0))


@pytest.mark.parametrize(
    "element",
    [
        {"metric": {}, "histogram": [0, {"count": "1"}]},  # a native histogram: not a float
        {"metric": {}, "value": [0]},
        {"metric": {"job": 1}, "value": [0, "1"]},
        {"metric": [], "value": [0, "1"]},
    ],
)
async def test_garbled_vector_element_is_a_query_error(element: dict[str, Any]) -> None:
    async def garbled(request: web.Request) -> web.Response:
        vector = {"resultType": "vector", "result": [element]}
        return web.json_response({"status": "success", "data": vector})

    route = web.post("/api/v1/query", garbled)
    async with serve(route) as url, PrometheusClient(url) as client:
        with pytest.raises(QueryError, match="malformed"):
            await client.query("up", at(0))


@asynccontextmanager
async def recording(
    path: str = "/api/v1/query", tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[Any]]]:
    """A server that records each request's headers and form, and answers an empty vector."""
    seen: list[Any] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((request.headers, dict(await request.post())))
        return web.json_response(EMPTY_VECTOR)

    async with serve(web.post(path, record), tls=tls) as url:
        yield url, seen


async def test_form_fields_and_path_prefix() -> None:
    expr = "sum(rate(x[5m])) > 0 and on() vector(1)"
    async with (
        recording("/prom/api/v1/query") as (url, seen),
        PrometheusClient(url + "/prom/", timeout=30) as client,
    ):
        assert await client.query(expr, 1.5e9 + 0.25) == []
    [(headers, form)] = seen
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {"query": expr, "time": "1500000000.250", "timeout": "30s"}


async def test_basic_auth_header() -> None:
    async with (
        recording() as (url, seen),
        PrometheusClient(url, basic_auth=("alice", "pa:ss")) as client,
    ):
        await client.query("up", at(0))
    [(headers, _)] = seen
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pa:ss").decode()


async def test_basic_auth_from_the_url() -> None:
    async with recording() as (url, seen):
        async with PrometheusClient(url.replace("http://", "http://bob:hunter2@")) as client:
            await client.query("up", at(0))
        assert "hunter2" not in client.url
    [(headers, _)] = seen
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"bob:hunter2").decode()


async def test_bearer_token_and_extra_headers() -> None:
    extra = {"X-Scope-OrgID": "team-a"}
    async with (
        recording() as (url, seen),
        PrometheusClient(url, bearer_token="t0ken", headers=extra) as client,
    ):
        await client.query("up", at(0))
    [(headers, _)] = seen
    assert headers["Authorization"] == "Bearer t0ken"
    assert headers["X-Scope-OrgID"] == "team-a"


def test_basic_auth_and_bearer_token_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="at most one"):
        PrometheusClient("http://127.0.0.1:9090", basic_auth=("a", "b"), bearer_token="t")


async def test_concurrency_is_bounded() -> None:
    limit, total = 2, 6
    in_flight = peak = 0
    full, release = asyncio.Event(), asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == limit:
            full.set()
        await release.wait()
        in_flight -= 1
        return web.json_response(EMPTY_VECTOR)

    async def probe(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    routes = web.post("/api/v1/query", hold), web.get("/probe", probe)
    async with serve(*routes) as url, PrometheusClient(url, max_concurrency=limit) as client:
        queries = [asyncio.create_task(client.query("up", at(0))) for _ in range(total)]
        try:
            async with asyncio.timeout(10):
                await full.wait()
                # A round trip begun only now, on a connection of its own: a query sent past
                # the bound would have arrived by the time it returns.
                async with aiohttp.ClientSession() as session, session.get(url + "/probe") as r:
                    await r.read()
                held = in_flight
        finally:
            release.set()
        results = await asyncio.gather(*queries)
    assert held == peak == limit
    assert results == [[]] * total


NEW_CERTIFICATE = (
    "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
    " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: its PEM path, and a server context using it."""
    if shutil.which("openssl") is None:
        pytest.skip("not installed: openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = ["openssl", *NEW_CERTIFICATE.split(), "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return str(cert), server


@pytest.mark.parametrize("trust", ["unknown-ca", "ca-file", "insecure-skip-verify"])
async def test_tls(certificate: tuple[str, ssl.SSLContext], trust: str) -> None:
    cert, server = certificate
    options: dict[str, Any] = {
        "unknown-ca": {},
        "ca-file": {"ssl_context": TLSConfig(ca_file=cert).ssl_context()},
        "insecure-skip-verify": {"ssl_context": TLSConfig(insecure_skip_verify=True).ssl_context()},
    }[trust]
    async with recording(tls=server) as (url, seen), PrometheusClient(url, **options) as client:
        if trust == "unknown-ca":
            with pytest.raises(PrometheusUnreachable, match="certificate"):
                await client.query("up", at(0))
        else:
            assert await client.query("up", at(0)) == []
    assert len(seen) == (trust != "unknown-ca")
