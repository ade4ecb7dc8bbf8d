"""Prometheus's common HTTP client options (`http_config`) turned into aiohttp request arguments."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from alerting.configbase import HTTPClientConfig, HTTPConfigError
from alerting.labels import go_quote


class CredentialsError(Exception):
    """A credentials file could not be read when a request was about to be sent."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """The Authorization header's source.

    Secret files are read for every request, as Prometheus does, so a rotated token (e.g. a
    Kubernetes service-account token) applies without a reload.
    """

    scheme: str  # authorization.type ("Bearer" by default); "Basic" for basic_auth
    secret: str = field(default="", repr=False)
    secret_file: str = ""
    username: str | None = None  # set for basic_auth only

    def header(self) -> str | None:
        secret = self._secret()
        if self.username is not None:
            return basic_authorization(self.username, secret)
        # Prometheus sends no Authorization at all when the credentials are empty.
        return f"{self.scheme} {secret}" if secret else None

    def _secret(self) -> str:
        if not self.secret_file:
            return self.secret
        try:
            return Path(self.secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise CredentialsError(f"unable to read file {self.secret_file}: {reason}") from None


@dataclass(frozen=True, slots=True)
class HTTPSettings:
    """What every request made under one `http_config` carries."""

    credentials: Credentials | None = None
    ssl: ssl.SSLContext | bool = True  # True: verify against the system's CAs
    server_hostname: str | None = None  # tls_config.server_name: SNI and the name verified
    proxy: str | None = None  # without userinfo; that goes into proxy_headers
    proxy_headers: dict[str, str] = field(default_factory=dict, repr=False, hash=False)
    allow_redirects: bool = True

    def headers(self) -> dict[str, str]:
        """The Authorization header, if any; raises CredentialsError if its file is unreadable."""
        value = self.credentials.header() if self.credentials is not None else None
        return {"Authorization": value} if value is not None else {}

    def request_kwargs(self, url: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments for `ClientSession.request(method, url, ...)`: `headers` plus auth."""
        kwargs: dict[str, Any] = {
            "headers": {**(headers or {}), **self.headers()},
            "ssl": self.ssl,
            "allow_redirects": self.allow_redirects,
        }
        if self.server_hostname:
            kwargs["server_hostname"] = self.server_hostname
        if self.proxy:
            kwargs["proxy"] = self.proxy
            # A plain-HTTP request goes to the proxy as is, so it carries the proxy's
            # credentials; an HTTPS one must not (the target would see them): only its CONNECT does.
            if url[:6].lower() == "https:":
                kwargs["proxy_headers"] = dict(self.proxy_headers)
            else:
                kwargs["headers"].update(self.proxy_headers)
        return kwargs


def http_settings(cfg: HTTPClientConfig) -> HTTPSettings:
    """Settings for `cfg`; TLS files are loaded now, so a bad one fails the config load."""
    proxy, proxy_headers = _proxy(cfg.proxy_url)
    return HTTPSettings(
        credentials=_credentials(cfg),
        ssl=cfg.tls_config.ssl_context(),
        server_hostname=cfg.tls_config.server_name or None,
        proxy=proxy,
        proxy_headers=proxy_headers,
        allow_redirects=cfg.follow_redirects,
    )


def new_session(timeout: float | None = None) -> aiohttp.ClientSession:
    """A pooled session to share between integrations; `timeout` bounds each whole request.

    Call it inside the running event loop. No cookie jar: Go's client keeps no cookies, and one
    receiver's cookies must not travel with another's requests over a shared session.
    """
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def basic_authorization(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _credentials(cfg: HTTPClientConfig) -> Credentials | None:
    if cfg.basic_auth is not None:
        auth = cfg.basic_auth
        password = auth.password.get_secret_value() if auth.password is not None else ""
        return Credentials("Basic", password, auth.password_file, username=auth.username)
    if cfg.authorization is not None:
        authz = cfg.authorization
        secret = authz.credentials.get_secret_value() if authz.credentials is not None else ""
        return Credentials(authz.type or "Bearer", secret, authz.credentials_file)
    if cfg.bearer_token is not None or cfg.bearer_token_file:
        token = cfg.bearer_token.get_secret_value() if cfg.bearer_token is not None else ""
        return Credentials("Bearer", token, cfg.bearer_token_file)
    return None


def _proxy(proxy_url: str) -> tuple[str | None, dict[str, str]]:
    if not proxy_url:
        return None, {}
    try:
        url = URL(proxy_url)
    except ValueError as exc:
        raise HTTPConfigError(f"proxy_url: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise HTTPConfigError(f"proxy_url: {url.with_password(None)} is not an http(s) URL")
    if url.user is None:
        return str(url), {}
    # Go's transport turns the proxy URL's userinfo into Proxy-Authorization.
    header = basic_authorization(url.user, url.password or "")
    return str(url.with_user(None)), {"Proxy-Authorization": header}


def post_failure(url: str) -> str:
    """How Go's url.Error names a failed POST: `Post "<url>"`, any password in it hidden."""
    try:
        parsed = URL(url)
    except ValueError:
        return "Post"
    if parsed.password is not None:
        parsed = parsed.with_password("xxxxx")
    return f"Post {go_quote(str(parsed))}"
