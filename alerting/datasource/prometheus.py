"""Async client for Prometheus's instant-query HTTP API (`/api/v1/query`)."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
from yarl import URL

from alerting.durations import format_duration
from alerting.model import Sample

# Prometheus gets this long past its own deadline to answer with a typed timeout error; the
# client's deadline is only for a server or network that stopped answering altogether.
_CLIENT_GRACE = 0.5
_BODY_EXCERPT = 200


class QueryError(Exception):
    """A query that gave no usable result. The message is short and never holds credentials."""


class PrometheusUnreachable(QueryError):
    """No HTTP response: connection refused or reset, DNS failure, TLS failure."""


class PrometheusHTTPError(QueryError):
    """An HTTP response that is not Prometheus's API (e.g. a 502 from a proxy in between)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}" if body else f"HTTP {status}")
        self.status = status
        self.body = body


class PrometheusAPIError(QueryError):
    """Prometheus answered `{"status": "error", "errorType": ..., "error": ...}`.

    The message is the bare error, as Prometheus's own rule manager reports it in lastError.
    """

    def __init__(self, error_type: str, error: str) -> None:
        super().__init__(error)
        self.error_type = error_type
        self.error = error


class BadData(PrometheusAPIError):
    """The request was malformed; for a rule, almost always a PromQL syntax error."""


class QueryTimeout(QueryError):
    """The query ran out of time, on Prometheus's side or on ours."""


class ResultTypeError(QueryError):
    """The expression evaluated to a string or range vector, which a rule cannot use."""


class PrometheusClient:
    """Instant queries against one Prometheus, over one pooled session, with bounded concurrency."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        max_concurrency: int = 8,
        basic_auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | bool = True,  # True: verify against the system's CAs
    ) -> None:
        if basic_auth is not None and bearer_token is not None:
            raise ValueError("at most one of basic_auth and bearer_token may be set")
        base = URL(url)
        if base.user is not None and basic_auth is None:
            basic_auth = (base.user, base.password or "")
        self.url = str(base.with_user(None))  # safe to print: credentials are kept apart
        self.timeout = timeout
        self._query_url = self.url.rstrip("/") + "/api/v1/query"
        self._headers = dict(headers or {})
        if basic_auth is not None:
            self._headers["Authorization"] = _basic_authorization(*basic_auth)
        if bearer_token is not None:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        self._ssl = ssl_context
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._session: aiohttp.ClientSession | None = None

    # `timeout` is Prometheus's own query timeout, sent with the request; callers cannot get
    # that from asyncio.timeout, which would only abandon the request on our side.
    async def query(self, expr: str, at: float, timeout: float | None = None) -> list[Sample]:  # noqa: ASYNC109
        """Evaluate `expr` at Unix time `at`; a scalar result is one sample without labels."""
        timeout = self.timeout if timeout is None else timeout
        form = {"query": expr, "time": f"{at:.3f}", "timeout": format_duration(timeout)}
        async with self._semaphore:
            data = await self._post(form, timeout + _CLIENT_GRACE)
        return _samples(data)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use so that it belongs to the loop that runs the queries.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(ssl=self._ssl),
            )
        return self._session

    async def _post(self, form: Mapping[str, str], client_timeout: float) -> Any:
        session = self._get_session()
        try:
            async with session.post(
                self._query_url, data=form, timeout=aiohttp.ClientTimeout(total=client_timeout)
            ) as response:
                body = await response.read()
                return _api_data(response.status, body)
        except TimeoutError:
            raise QueryTimeout(f"no answer from {self.url} within {client_timeout:g}s") from None
        except aiohttp.ClientError as exc:
            reason = str(exc) or type(exc).__name__  # names host and port, never credentials
            raise PrometheusUnreachable(f"cannot reach {self.url}: {reason}") from None


def _basic_authorization(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _api_data(status: int, body: bytes) -> Any:
    """The `data` of a successful API answer; every other answer raises its typed error."""
    try:
        document = json.loads(body, object_hook=_sample_or_object)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("status") not in ("success", "error"):
        excerpt = body[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
        raise PrometheusHTTPError(status, excerpt)
    if document["status"] == "success":
        return document.get("data")
    error_type, error = str(document.get("errorType", "")), str(document.get("error", ""))
    if error_type == "timeout":
        raise QueryTimeout(error)
    if error_type == "bad_data":
        raise BadData(error_type, error)
    raise PrometheusAPIError(error_type, error)


def _sample_or_object(obj: dict[str, Any]) -> Any:
    """json object_hook: a vector element becomes a Sample as soon as it is decoded.

    So the answer never exists as a whole tree of dicts (a 100k-series answer is ~100 MB of
    them), which would leave the heap fragmented long after it is freed. Anything else, and an
    element too garbled to convert, stays as decoded for `_samples` to judge.
    """
    if isinstance(obj.get("metric"), dict) and isinstance(obj.get("value"), list):
        try:
            return _sample(obj)
        except (IndexError, TypeError, ValueError):
            return obj
    return obj


def _sample(item: dict[str, Any]) -> Sample:
    # Interned: every evaluation returns the same label strings, and the alerts built from
    # earlier answers then share them instead of holding copies of their own.
    labels = {sys.intern(name): sys.intern(value) for name, value in item["metric"].items()}
    return Sample(labels, float(item["value"][1]))


def _samples(data: Any) -> list[Sample]:
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [item if isinstance(item, Sample) else _sample(item) for item in result]
        if kind == "scalar":
            return [Sample({}, float(result[1]))]
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        # Callers rely on every failure being a QueryError, even a garbled answer.
        raise QueryError(f"malformed query result: {exc!r}") from None
    # Prometheus's rule manager rejects these with the same words.
    raise ResultTypeError(f"rule result is not a vector or scalar (got {kind})")
