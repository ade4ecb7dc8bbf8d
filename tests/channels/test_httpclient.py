"""http_config → aiohttp: auth headers, TLS, proxy and redirects, against real loopback servers."""

from __future__ import annotations

import asyncio
import base64
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from alerting.configbase import HTTPClientConfig
from alerting.httpclient import (
    CredentialsError,
    HTTPConfigError,
    http_settings,
    new_session,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------- helpers shared with test_webhook


@dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP server that records every request and answers with `respond`."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    respond: Handler | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(request.method, str(request.url), dict(request.headers), body)
        )
        if self.respond is not None:
            return await self.respond(request)
        return web.Response(status=200, text="ok")


async def start_receiver(
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[Receiver, web.AppRunner]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    return receiver, runner


@dataclass(frozen=True)
class PKI:
    """A throwaway CA with a server certificate for 127.0.0.1, one for the name
    alerting.test only, and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    named_cert: Path
    named_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _issue(directory: Path, name: str, san: str, ca: Path, ca_key: Path) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    ext = directory / f"{name}.ext"
    ext.write_text(
        f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext,
    )  # fmt: skip
    return cert, key


def make_pki(directory: Path) -> PKI:
    """Certificates from the openssl CLI (the cryptography package is not a dependency)."""
    if shutil.which("openssl") is None:
        pytest.skip("TLS tests need the openssl command, which is not installed")
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca, "-subj", "/CN=alerting test CA", "-days", "2",
    )  # fmt: skip
    server = _issue(directory, "server", "IP:127.0.0.1", ca, ca_key)
    named = _issue(directory, "named", "DNS:alerting.test", ca, ca_key)
    client = _issue(directory, "client", "DNS:client.alerting.test", ca, ca_key)
    return PKI(ca, *server, *named, *client)


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------- fixtures


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server, runner = await start_receiver()
    yield server
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_session(timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def config(**fields: Any) -> HTTPClientConfig:
    return HTTPClientConfig.model_validate(fields)


async def get(session: aiohttp.ClientSession, url: str, cfg: HTTPClientConfig) -> int:
    async with session.get(url, **http_settings(cfg).request_kwargs(url)) as response:
        await response.read()
        return response.status


# ---------------------------------------------------------------- authorization


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),
        ({"basic_auth": {"username": "alice", "password": "s3cr:t"}}, basic("alice", "s3cr:t")),
        ({"basic_auth": {"username": "alice"}}, basic("alice", "")),
        ({"bearer_token": "tok"}, "Bearer tok"),
        ({"authorization": {"credentials": "tok"}}, "Bearer tok"),
        ({"authorization": {"type": "Token", "credentials": "tok"}}, "Token tok"),
        ({"authorization": {"type": "Token"}}, None),  # no credentials: no header at all
    ],
)
async def test_authorization_reaches_the_server(
    receiver: Receiver,
    session: aiohttp.ClientSession,
    fields: dict[str, Any],
    expected: str | None,
) -> None:
    assert await get(session, receiver.url + "/x", config(**fields)) == 200
    assert receiver.requests[0].headers.get("Authorization") == expected


@pytest.mark.parametrize(
    ("section", "file_key"),
    [
        ("basic_auth", "password_file"),
        ("authorization", "credentials_file"),
        (None, "bearer_token_file"),
    ],
)
def test_secret_files_are_read_per_request(
    tmp_path: Path, section: str | None, file_key: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("first\n")
    fields: dict[str, Any] = {file_key: str(secret)}
    if section == "basic_auth":
        fields["username"] = "u"
    settings = http_settings(config(**({section: fields} if section else fields)))
    first = settings.headers()["Authorization"]
    secret.write_text("second")  # rotated, as a projected Kubernetes token is
    second = settings.headers()["Authorization"]
    if section == "basic_auth":
        assert (first, second) == (basic("u", "first"), basic("u", "second"))
    else:
        assert (first, second) == ("Bearer first", "Bearer second")


def test_unreadable_secret_file_fails_the_request_not_the_load(tmp_path: Path) -> None:
    settings = http_settings(config(bearer_token_file=str(tmp_path / "missing")))
    with pytest.raises(CredentialsError, match=r"unable to read file .*missing"):
        settings.headers()


def test_secret_file_relative_to_config_dir(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok")
    cfg = HTTPClientConfig.model_validate(
        {"bearer_token_file": "token"}, context={"base_dir": str(tmp_path)}
    )
    assert http_settings(cfg).headers() == {"Authorization": "Bearer tok"}


def test_caller_headers_are_kept_and_auth_added() -> None:
    kwargs = http_settings(config(bearer_token="t")).request_kwargs("http://x/", {"X-A": "1"})
    assert kwargs["headers"] == {"X-A": "1", "Authorization": "Bearer t"}
    assert kwargs["ssl"] is True
    assert kwargs["allow_redirects"] is True
    assert "proxy" not in kwargs


# ---------------------------------------------------------------- TLS


@pytest.fixture
async def tls_receiver(pki: PKI) -> AsyncIterator[Receiver]:
    server, runner = await start_receiver(server_context(pki.server_cert, pki.server_key))
    yield server
    await runner.cleanup()


async def test_tls_with_ca_file(
    tls_receiver: Receiver, session: aiohttp.ClientSession, pki: PKI
) -> None:
    cfg = config(tls_config={"ca_file": str(pki.ca)})
    assert await get(session, tls_receiver.url + "/", cfg) == 200


async def test_tls_without_the_ca_is_refused(
    tls_receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await get(session, tls_receiver.url + "/", config())
    assert tls_receiver.requests == []


async def test_tls_insecure_skip_verify(
    tls_receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    cfg = config(tls_config={"insecure_skip_verify": True})
    assert await get(session, tls_receiver.url + "/", cfg) == 200


async def test_tls_server_name_is_the_name_verified(
    session: aiohttp.ClientSession, pki: PKI
) -> None:
    server, runner = await start_receiver(server_context(pki.named_cert, pki.named_key))
    try:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await get(session, server.url + "/", config(tls_config={"ca_file": str(pki.ca)}))
        named = config(tls_config={"ca_file": str(pki.ca), "server_name": "alerting.test"})
        assert await get(session, server.url + "/", named) == 200
    finally:
        await runner.cleanup()


async def test_tls_client_certificate(session: aiohttp.ClientSession, pki: PKI) -> None:
    context = server_context(pki.server_cert, pki.server_key, client_ca=pki.ca)
    server, runner = await start_receiver(context)
    try:
        with pytest.raises(aiohttp.ClientError):
            await get(session, server.url + "/", config(tls_config={"ca_file": str(pki.ca)}))
        tls = {"ca_file": str(pki.ca), "cert_file": str(pki.client_cert)}
        tls["key_file"] = str(pki.client_key)
        assert await get(session, server.url + "/", config(tls_config=tls)) == 200
    finally:
        await runner.cleanup()


def test_tls_file_problems_fail_at_load(tmp_path: Path, pki: PKI) -> None:
    with pytest.raises(ValidationError, match=r"unable to load CA cert .*missing\.pem"):
        config(tls_config={"ca_file": str(tmp_path / "missing.pem")})
    with pytest.raises(ValidationError, match="specified without client key file"):
        config(tls_config={"cert_file": str(pki.client_cert)})
    with pytest.raises(ValidationError, match="unable to load client cert"):
        tls = {"cert_file": str(pki.client_cert), "key_file": str(pki.server_key)}
        config(tls_config=tls)  # a key that does not belong to the cert


def test_tls_min_version() -> None:
    context = http_settings(config(tls_config={"min_version": "TLS13"})).ssl
    assert isinstance(context, ssl.SSLContext)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_3
    with pytest.raises(ValidationError, match="unknown TLS version"):
        config(tls_config={"min_version": "TLS14"})


# ---------------------------------------------------------------- proxy, redirects, session


async def test_proxy_url_with_credentials(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    proxy = receiver.url.replace("http://", "http://pu:pp@")
    cfg = config(proxy_url=proxy, bearer_token="t")
    # The loopback server plays the proxy: the target host does not exist.
    assert await get(session, "http://webhook.invalid:8080/hook?a=1", cfg) == 200
    seen = receiver.requests[0]
    assert seen.url == "http://webhook.invalid:8080/hook?a=1"
    assert seen.headers["Proxy-Authorization"] == basic("pu", "pp")
    assert seen.headers["Authorization"] == "Bearer t"


async def test_proxy_credentials_go_only_to_the_connect_of_https(
    session: aiohttp.ClientSession,
) -> None:
    seen: list[bytes] = []

    async def refuse_tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    proxy = await asyncio.start_server(refuse_tunnel, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    cfg = config(proxy_url=f"http://pu:pp@127.0.0.1:{port}")
    async with proxy:
        with pytest.raises(aiohttp.ClientHttpProxyError):
            await get(session, "https://webhook.invalid/hook", cfg)
    request = seen[0].decode()
    assert request.startswith("CONNECT webhook.invalid:443 ")
    assert f"Proxy-Authorization: {basic('pu', 'pp')}\r\n" in request


def test_bad_proxy_url() -> None:
    with pytest.raises(HTTPConfigError, match="proxy_url"):
        http_settings(config(proxy_url="socks5://127.0.0.1:1080"))


async def test_follow_redirects(receiver: Receiver, session: aiohttp.ClientSession) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        if request.path == "/old":
            raise web.HTTPFound("/new")
        return web.Response(text="new")

    receiver.respond = redirect
    assert await get(session, receiver.url + "/old", config()) == 200
    assert [r.url.rsplit("/", 1)[1] for r in receiver.requests] == ["old", "new"]
    assert await get(session, receiver.url + "/old", config(follow_redirects=False)) == 302


async def test_session_keeps_no_cookies(receiver: Receiver) -> None:
    async def set_cookie(request: web.Request) -> web.StreamResponse:
        response = web.Response(text="ok")
        response.set_cookie("sid", "1")
        return response

    receiver.respond = set_cookie
    async with new_session() as client:
        await get(client, receiver.url + "/a", config())
        await get(client, receiver.url + "/b", config())
    assert "Cookie" not in receiver.requests[1].headers


async def test_session_timeout(receiver: Receiver) -> None:
    async def stall(request: web.Request) -> web.StreamResponse:
        await released.wait()
        return web.Response(text="late")

    released = asyncio.Event()
    receiver.respond = stall
    async with new_session(timeout=0.2) as client:
        with pytest.raises(TimeoutError):
            await get(client, receiver.url + "/", config())
    released.set()
