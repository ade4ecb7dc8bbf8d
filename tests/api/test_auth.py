"""Bearer tokens, roles by route, TLS, the refuse-to-start rule and the audit log, against the
daemon on a free loopback port and against the real Prometheus and amtool."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from alerting.api import auth, limits
from alerting.cli import main
from alerting.config import AuthConfig, load_config
from alerting.service import Service
from tests.channels.test_httpclient import PKI, make_pki
from tests.peers.ports import free_port
from tests.peers.prometheus import PrometheusServer

TOKENS = {"reader": "r3ad-t0ken", "ci": "wr1te-t0ken", "boss": "adm1n-t0ken"}
ADMIN_ENV = "ALERTING_TEST_ADMIN_TOKEN"
AUTH = {
    "tokens": [
        {"name": "reader", "token_file": "secrets/reader", "role": "read"},
        {"name": "ci", "token_file": "secrets/ci", "role": "write"},
        {"name": "boss", "token_env": ADMIN_ENV, "role": "admin"},
    ]
}


def write_config(directory: Path, server: Mapping[str, Any] | None = None) -> Path:
    """A daemon with no rules (its Prometheus is never asked) and the tokens above on disk."""
    secrets = directory / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in ("reader", "ci"):
        (secrets / name).write_text(TOKENS[name] + "\n")
    config = directory / "alerting.yaml"
    document = {
        "datasource": {"prometheus": {"url": f"http://127.0.0.1:{free_port()}"}},
        "storage": {"path": "state/alerting.db"},
        "server": {"listen": f"127.0.0.1:{free_port()}", **(server or {})},
    }
    config.write_text(yaml.safe_dump(document))
    return config


@pytest.fixture(autouse=True)
def admin_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADMIN_ENV, TOKENS["boss"])


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[Service]:
    service = Service(config)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def base_url(service: Service, scheme: str = "http") -> str:
    return "{}://{}:{}".format(scheme, *service.listen)


async def call(
    url: str, method: str = "GET", token: str | None = None, **kwargs: Any
) -> tuple[int, Any, Mapping[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, headers=headers, **kwargs) as response,
    ):
        if response.content_type == "application/json":
            body = await response.json()
        else:
            body = await response.text()
        return response.status, body, response.headers


# ---------------------------------------------------------------- roles on every path class

# (method, route pattern, a concrete path, the role it needs); None is open to everyone.
PATH_CLASSES = [
    ("GET", "/-/healthy", "/-/healthy", None),
    ("GET", "/-/ready", "/-/ready", None),
    ("GET", "/metrics", "/metrics", "read"),
    ("GET", "/api/v1/alerts", "/api/v1/alerts", "read"),
    ("GET", "/api/v2/silences", "/api/v2/silences", "read"),
    ("POST", "/api/v2/alerts", "/api/v2/alerts", "write"),
    ("POST", "/api/v1/webhooks/{name}", "/api/v1/webhooks/alertmanager", "write"),
    ("POST", "/api/v2/silences", "/api/v2/silences", "write"),
    ("DELETE", "/api/v2/silence/{silenceID}", "/api/v2/silence/a1", "write"),
    ("POST", "/api/v1/alerts/{fp}/acknowledge", "/api/v1/alerts/00ff/acknowledge", "write"),
    ("DELETE", "/api/v1/alerts/{fp}/acknowledge", "/api/v1/alerts/00ff/acknowledge", "write"),
    ("POST", "/api/v1/alerts/{fp}/suppress", "/api/v1/alerts/00ff/suppress", "write"),
    ("POST", "/api/v1/groups/{id}/acknowledge", "/api/v1/groups/g1/acknowledge", "write"),
    ("POST", "/-/reload", "/-/reload", "admin"),
    ("PUT", "/-/reload", "/-/reload", "admin"),
]
CALLERS = {None: None, "reader": "read", "ci": "write", "boss": "admin"}
RANK = {"read": 1, "write": 2, "admin": 3}


def expected_status(needs: str | None, has: str | None) -> int:
    if needs is None:
        return 200
    if has is None:
        return 401
    return 200 if RANK[has] >= RANK[needs] else 403


async def echo_caller(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "identity": auth.identity(request),
            "author": auth.acting_as(request, request.query.get("by")),
        }
    )


@asynccontextmanager
async def stand_in_api(auth_config: AuthConfig | None) -> AsyncIterator[str]:
    """The production middlewares before handlers that echo who called, one per path class, so
    every role meets every class without the handlers' own effects; the daemon's own routes are
    tested below."""
    app = web.Application(middlewares=[limits.errors_as_json, auth.middleware(lambda: auth_config)])
    for method, route, _, _ in PATH_CLASSES:
        app.router.add_route(method, route, echo_caller)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_each_role_on_each_path_class(tmp_path: Path) -> None:
    auth_config = load_config(write_config(tmp_path, {"auth": AUTH})).server.auth
    got, want = {}, {}
    async with stand_in_api(auth_config) as url:
        for method, _, path, needs in PATH_CLASSES:
            for caller, role in CALLERS.items():
                status, body, headers = await call(url + path, method, TOKENS.get(caller or ""))
                got[method, path, caller] = status
                want[method, path, caller] = expected_status(needs, role)
                if status == 401:
                    assert headers["WWW-Authenticate"].startswith("Bearer")
                    assert body["errorType"] == "unauthorized"
                if status == 403:
                    assert body == {
                        "status": "error",
                        "errorType": "forbidden",
                        "error": f"token {caller!r} has role {role}; {method} {path} needs {needs}",
                    }
                if status == 200 and needs is not None:
                    assert body == {"identity": caller, "author": caller}
    assert got == want


def test_route_table_classifies_route_patterns() -> None:
    for method, route, _, needs in PATH_CLASSES:
        assert auth.required_role(method, route) == needs, (method, route)
    assert auth.required_role("HEAD", "/-/healthy") is None
    # Unlisted: reads need read, and a write nobody classified fails closed.
    assert auth.required_role("GET", "/api/v2/status") == "read"
    assert auth.required_role("POST", "/api/v1/something/new") == "admin"


async def test_every_write_route_of_the_daemon_is_in_the_table(tmp_path: Path) -> None:
    async with running(write_config(tmp_path)) as service:
        app = service._runner.app  # the daemon's real routes, whatever the API has grown to
        writes = [
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.method not in ("GET", "HEAD") and route.resource is not None
        ]
    assert ("POST", "/-/reload") in writes
    unlisted = [(method, path) for method, path in writes if not listed(method, path)]
    assert unlisted == [], "add these to alerting.api.auth.ROUTES"


def listed(method: str, route: str) -> bool:
    return any(method in rule.methods and rule.pattern.fullmatch(route) for rule in auth.ROUTES)


async def test_named_author_is_honoured_for_admins_only(tmp_path: Path) -> None:
    auth_config = load_config(write_config(tmp_path, {"auth": AUTH})).server.auth
    async with stand_in_api(auth_config) as url:
        ack = url + "/api/v1/alerts/00ff/acknowledge?by=alice"
        assert (await call(ack, "POST", TOKENS["ci"]))[1] == {"identity": "ci", "author": "ci"}
        assert (await call(ack, "POST", TOKENS["boss"]))[1] == {
            "identity": "boss",
            "author": "alice",
        }
    async with stand_in_api(None) as url:  # no auth configured: nobody to enforce
        ack = url + "/api/v1/alerts/00ff/acknowledge"
        assert (await call(ack + "?by=alice", "POST"))[1]["author"] == "alice"
        assert (await call(ack, "POST"))[1] == {"identity": "anonymous", "author": "anonymous"}


# ---------------------------------------------------------------- the daemon's own routes


# The daemon's own routes: (method, path, body, role needed). Bodies are valid or not; what is
# checked is only whether the request got past authentication.
DAEMON_ROUTES = [
    ("GET", "/-/healthy", None, None),
    ("GET", "/api/v1/rules", None, "read"),  # reader's token comes from token_file
    ("GET", "/metrics", None, "read"),
    ("GET", "/api/v2/alerts", None, "read"),
    ("GET", "/api/v2/silences", None, "read"),
    ("POST", "/api/v2/alerts", [], "write"),
    ("POST", "/api/v2/silences", {}, "write"),
    ("DELETE", "/api/v2/silence/00000000-0000-0000-0000-000000000000", None, "write"),
    ("POST", "/api/v1/webhooks/alertmanager", {}, "write"),
    ("POST", "/-/reload", None, "admin"),  # boss's token comes from token_env
]


def outcome(status: int) -> str:
    return {401: "unauthenticated", 403: "forbidden"}.get(status, "allowed")


async def test_daemon_routes_with_tokens_from_file_and_env(tmp_path: Path) -> None:
    got, want = {}, {}
    async with running(write_config(tmp_path, {"auth": AUTH})) as service:
        url = base_url(service)
        for method, path, body, needs in DAEMON_ROUTES:
            for caller, role in CALLERS.items():
                token = TOKENS.get(caller or "")
                status, _, _ = await call(url + path, method, token, json=body)
                got[method, path, caller] = outcome(status)
                want[method, path, caller] = outcome(expected_status(needs, role))
    assert got == want


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKENS['reader']}",  # what Prometheus's `authorization:` and amtool send
        f"bearer {TOKENS['reader']}",  # the scheme is case-insensitive (RFC 7235)
    ],
)
async def test_bearer_header_forms(tmp_path: Path, header: str) -> None:
    async with (
        running(write_config(tmp_path, {"auth": AUTH})) as service,
        aiohttp.ClientSession() as http,
        http.get(base_url(service) + "/api/v1/rules", headers={"Authorization": header}) as r,
    ):
        assert r.status == 200


@pytest.mark.parametrize(
    ("header", "challenge"),
    [
        (None, 'Bearer realm="alerting"'),
        ("Basic cmVhZGVyOnB3", 'Bearer realm="alerting"'),
        ("Bearer not-a-token", 'Bearer realm="alerting", error="invalid_token"'),
        (f"Bearer {TOKENS['reader']}x", 'Bearer realm="alerting", error="invalid_token"'),
    ],
)
async def test_refused_credentials_get_a_bearer_challenge(
    tmp_path: Path, header: str | None, challenge: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(write_config(tmp_path, {"auth": AUTH})) as service:
        headers = {"Authorization": header} if header else {}
        async with (
            aiohttp.ClientSession() as http,
            http.get(base_url(service) + "/api/v1/rules", headers=headers) as r,
        ):
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == challenge
            assert (await r.json())["status"] == "error"
    assert all(token not in caplog.text for token in TOKENS.values())


async def test_changed_token_file_takes_effect_on_reload(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"auth": AUTH})
    rules = "/api/v1/rules"
    async with running(config) as service:
        url = base_url(service) + rules
        assert (await call(url, token=TOKENS["ci"]))[0] == 200
        (tmp_path / "secrets" / "ci").write_text("rotated-t0ken\n")
        assert (await call(url, token="rotated-t0ken"))[0] == 401  # read at load, not per call
        assert await service.reload() == []
        assert (await call(url, token=TOKENS["ci"]))[0] == 401
        assert (await call(url, token="rotated-t0ken"))[0] == 200

        (tmp_path / "secrets" / "ci").unlink()
        problems = await service.reload()
        assert len(problems) == 1 and "cannot read token_file" in problems[0]
        assert (await call(url, token="rotated-t0ken"))[0] == 200  # the old config runs on


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ({"name": "x", "role": "read"}, "set exactly one of token_file and token_env"),
        ({"name": "x", "token_env": "ALERTING_TEST_UNSET", "role": "read"}, "is empty or not set"),
        ({"name": "x", "token_file": "secrets/none", "role": "read"}, "cannot read token_file"),
        ({"name": "x", "token_file": "secrets/ci", "role": "root"}, "'read', 'write' or 'admin'"),
        ({"name": "ci", "token_env": ADMIN_ENV, "role": "read"}, "token name 'ci' is used twice"),
        ({"name": "y", "token_file": "secrets/ci", "role": "read"}, "have the same secret"),
    ],
)
def test_check_reports_bad_tokens_with_their_line(
    tmp_path: Path, token: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = [{"name": "ci", "token_file": "secrets/ci", "role": "write"}, token]
    config = write_config(tmp_path, {"auth": {"tokens": tokens}})
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert message in out
    assert out.startswith(f"{config}:")
    assert TOKENS["ci"] not in out


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def client_tls(pki: PKI, with_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)
    if with_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


async def test_https_listener_with_a_ca_made_in_the_test(tmp_path: Path, pki: PKI) -> None:
    tls = {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)}
    async with running(write_config(tmp_path, {"auth": AUTH, "tls": tls})) as service:
        status, _, _ = await call(
            base_url(service, "https") + "/api/v1/rules",
            token=TOKENS["reader"],
            ssl=client_tls(pki),
        )
        assert status == 200
        with pytest.raises(aiohttp.ClientSSLError):  # the system's CAs do not know ours
            await call(base_url(service, "https") + "/-/healthy")
        with pytest.raises(aiohttp.ClientError):  # plain HTTP on the TLS port
            await call(base_url(service) + "/-/healthy")


async def test_client_certificates_when_a_client_ca_is_set(tmp_path: Path, pki: PKI) -> None:
    tls = {
        "cert_file": str(pki.server_cert),
        "key_file": str(pki.server_key),
        "client_ca_file": str(pki.ca),
    }
    async with running(write_config(tmp_path, {"auth": AUTH, "tls": tls})) as service:
        url = base_url(service, "https") + "/-/healthy"
        assert (await call(url, ssl=client_tls(pki, with_cert=True)))[0] == 200
        with pytest.raises(aiohttp.ClientError):
            await call(url, ssl=client_tls(pki))


def test_check_reports_unloadable_tls_files(
    tmp_path: Path, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    tls = {"cert_file": str(pki.server_cert), "key_file": str(pki.client_key)}
    assert main(["check", "--config", str(write_config(tmp_path, {"tls": tls}))]) == 1
    assert f"unable to load cert_file {pki.server_cert} with key_file" in capsys.readouterr().out


# ---------------------------------------------------------------- refusing to start

FIX = "add server.auth.tokens"
FLAG = "server.insecure_no_auth: true"


def test_check_refuses_a_public_listener_without_auth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, {"listen": f"0.0.0.0:{free_port()}"})
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert FIX in out and FLAG in out


def test_run_refuses_a_public_listener_without_auth(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"listen": f":{free_port()}"})  # every address
    command = [sys.executable, "-m", "alerting.cli", "run", "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert FIX in done.stdout and FLAG in done.stdout


@pytest.mark.parametrize("listen", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_needs_no_auth(
    tmp_path: Path, listen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, {"listen": f"{listen}:{free_port()}"})
    assert main(["check", "--config", str(config)]) == 0, capsys.readouterr().out


async def test_insecure_flag_starts_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    server = {"listen": f"0.0.0.0:{free_port()}", "insecure_no_auth": True}
    config = write_config(tmp_path, server)
    assert main(["check", "--config", str(config)]) == 0, capsys.readouterr().out
    with caplog.at_level(logging.WARNING, logger="alerting.service"):
        async with running(config) as service:
            assert (await call(f"http://127.0.0.1:{service.listen[1]}/api/v1/rules"))[0] == 200
    assert "server.insecure_no_auth" in caplog.text


# ---------------------------------------------------------------- audit log


def audit_lines(config: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (config.parent / "state" / "audit.log").open()]


async def test_audit_log_records_writes_and_not_reads(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"auth": AUTH})
    async with running(config) as service:
        url = base_url(service)
        await call(url + "/-/reload", "POST", TOKENS["boss"])
        await call(url + "/-/reload", "POST")
        await call(url + "/-/reload", "PUT", TOKENS["reader"])
        await call(url + "/api/v1/rules", token=TOKENS["reader"])
        await call(url + "/api/v1/rules", "HEAD", TOKENS["reader"])
        await call(url + "/api/v1/nothing?x=1&y=%C3%A9", "POST", TOKENS["ci"])
    lines = audit_lines(config)
    assert [
        (e["identity"], e["method"], e["path"], e["query"], e["status"], e["remote"]) for e in lines
    ] == [
        ("boss", "POST", "/-/reload", "", 200, "127.0.0.1"),
        ("anonymous", "POST", "/-/reload", "", 401, "127.0.0.1"),
        ("reader", "PUT", "/-/reload", "", 403, "127.0.0.1"),
        ("ci", "POST", "/api/v1/nothing", "x=1&y=%C3%A9", 404, "127.0.0.1"),
    ]
    assert all(e["ts"].endswith("Z") and e["ts"][:2] == "20" for e in lines)
    assert (config.parent / "state" / "audit.log").stat().st_mode & 0o777 == 0o600


async def test_audit_log_path_is_configurable_and_appended_to(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"audit_log": "logs/writes.jsonl"})
    for _ in range(2):  # a restart appends
        async with running(config) as service:
            await call(base_url(service) + "/-/reload", "POST")
    lines = (tmp_path / "logs" / "writes.jsonl").read_text().splitlines()
    assert [json.loads(line)["identity"] for line in lines] == ["anonymous", "anonymous"]
    assert not (tmp_path / "state" / "audit.log").exists()


# ---------------------------------------------------------------- real clients


async def amtool(url: str, token_name: str | None, tmp_path: Path, *args: str) -> tuple[int, str]:
    """amtool 0.25 with an `--http.config.file` sending the named token, or with none."""
    options = [f"--alertmanager.url={url}"]
    if token_name:
        http_config = tmp_path / f"amtool-{token_name}.yml"
        secret = tmp_path / "secrets" / token_name
        http_config.write_text(yaml.safe_dump({"authorization": {"credentials_file": str(secret)}}))
        options.append(f"--http.config.file={http_config}")
    process = await asyncio.create_subprocess_exec(
        "amtool", *options, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed")
async def test_amtool_with_a_token_in_its_http_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"auth": AUTH})
    add = ("silence", "add", "alertname=Test", "--comment=from amtool")
    async with running(config) as service:
        url = base_url(service)
        added = await amtool(url, "ci", tmp_path, *add)
        anonymous = await amtool(url, None, tmp_path, *add)
        as_reader = await amtool(url, "reader", tmp_path, *add)
        queried = await amtool(url, "reader", tmp_path, "silence", "query")
    assert added[0] == 0, added[1]
    assert anonymous[0] != 0 and as_reader[0] != 0
    assert queried[0] == 0 and added[1].strip() in queried[1]  # the new silence's id
    silences = [e for e in audit_lines(config) if e["path"] == "/api/v2/silences"]
    assert [(e["identity"], e["status"]) for e in silences] == [
        ("ci", 200),
        ("anonymous", 401),
        ("reader", 403),
    ]


class AlertingPrometheus(PrometheusServer):
    """Prometheus with one always-firing rule, sending to an Alertmanager at `target`."""

    def __init__(self, target: str, token_file: Path, workdir: Path) -> None:
        # Alertmanagers are discovered about 5 s after start, after the first send: resend soon.
        super().__init__(workdir=workdir, extra_args=["--rules.alert.resend-delay=1s"])
        self.target, self.token_file = target, token_file

    def command_line(self, port: int) -> list[str]:
        args = super().command_line(port)
        rules = self.workdir / "rules.yml"
        rule = {"alert": "Always", "expr": "vector(1)"}
        rules.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
        alertmanager = {
            "static_configs": [{"targets": [self.target]}],
            "authorization": {"credentials_file": str(self.token_file)},
        }
        (self.workdir / "prometheus.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {"evaluation_interval": "1s"},
                    "rule_files": [str(rules)],
                    "alerting": {"alertmanagers": [alertmanager]},
                }
            )
        )
        return args


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed")
async def test_prometheus_alerting_authorization_is_accepted(tmp_path: Path) -> None:
    """Real Prometheus's notifier, with the production middlewares in front of a handler that
    records who pushed (tests/api/test_prometheus_push.py has Prometheus push to the daemon's
    own handler)."""
    auth_config = load_config(write_config(tmp_path, {"auth": AUTH})).server.auth
    received: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def alerts(request: web.Request) -> web.Response:
        received.put_nowait((auth.identity(request), await request.json()))
        return web.Response()

    app = web.Application(middlewares=[limits.errors_as_json, auth.middleware(lambda: auth_config)])
    app.router.add_post("/api/v2/alerts", alerts)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target = f"127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with AlertingPrometheus(target, tmp_path / "secrets" / "ci", tmp_path / "prom"):
            identity, body = await asyncio.wait_for(received.get(), 30)
    finally:
        await runner.cleanup()
    assert identity == "ci"
    assert body[0]["labels"]["alertname"] == "Always"
