"""A small client of a running daemon's HTTP API for the CLI: bearer token, optional CA, JSON in
and out, and failures as one line a person can act on."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:9095"
URL_ENV = "ALERTING_URL"
TOKEN_ENV = "ALERTING_TOKEN"

Query = Sequence[tuple[str, str]]


class ClientError(Exception):
    """Why a call failed, in one line."""


@dataclass(frozen=True)
class Client:
    url: str
    token: str = field(default="", repr=False)
    ca_file: str = ""  # verifies an https daemon whose certificate a private CA signed
    timeout: float = 30.0

    @classmethod
    def configured(
        cls, url: str | None = None, token_file: str | None = None, ca_file: str | None = None
    ) -> Client:
        """From the arguments given, else $ALERTING_URL and $ALERTING_TOKEN, else the defaults."""
        return cls(
            (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/"),
            _token(token_file),
            ca_file or "",
        )

    def get(self, path: str, query: Query = ()) -> Any:
        return self.request("GET", path, query)

    def request(self, method: str, path: str, query: Query = (), body: Any = None) -> Any:
        """The decoded JSON answer of a 2xx response; ClientError for anything else."""
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(url, method=method, headers=self._headers(body))
        if body is not None:
            request.data = json.dumps(body).encode()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls()) as r:
                payload = r.read()
        except urllib.error.HTTPError as exc:
            raise ClientError(self._refused(method, path, exc)) from None
        except urllib.error.URLError as exc:
            raise ClientError(f"cannot reach {self.url}: {_reason(exc.reason)}") from None
        except OSError as exc:  # a timeout or reset while reading
            raise ClientError(f"cannot reach {self.url}: {_reason(exc)}") from None
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            raise ClientError(f"{method} {path}: the answer is not JSON") from None

    def alerts(
        self,
        *,
        status: str | None = None,
        severity: str | None = None,
        filters: Sequence[str] = (),
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Current alerts from `GET /api/v1/alerts`, page after page."""
        query = [("status", status or ""), ("severity", severity or "")]
        query = [(name, value) for name, value in query if value]
        query += [("filter", matchers) for matchers in filters]
        query.append(("limit", str(page_size)))
        seen: set[str] = set()
        cursor = ""
        while True:
            page = self.get("/api/v1/alerts", query + ([("cursor", cursor)] if cursor else []))
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
                raise ClientError("GET /api/v1/alerts: the answer has no data.alerts list")
            yield from data["alerts"]
            cursor = data.get("nextCursor") or ""
            if not cursor:
                return
            if cursor in seen:  # a server bug must not loop us forever
                raise ClientError("GET /api/v1/alerts: the daemon returned a page cursor twice")
            seen.add(cursor)

    def acknowledge(
        self, fingerprint: str, *, comment: str = "", expires_in: str | float | None = None
    ) -> dict[str, Any]:
        """Acknowledge an alert; the ack as the daemon recorded it."""
        body: dict[str, Any] = {"comment": comment} if comment else {}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self._data("POST", _alert_path(fingerprint, "acknowledge"), body=body)

    def unacknowledge(self, fingerprint: str) -> dict[str, Any]:
        return self._data("DELETE", _alert_path(fingerprint, "acknowledge"))

    def suppress(self, fingerprint: str, minutes: int, *, comment: str = "") -> dict[str, Any]:
        """Silence exactly this alert for `minutes`; the answer holds the silence's id."""
        query = [("duration_minutes", str(minutes))]
        body = {"comment": comment} if comment else None
        return self._data("POST", _alert_path(fingerprint, "suppress"), query, body)

    def _data(self, method: str, path: str, query: Query = (), body: Any = None) -> dict[str, Any]:
        """The `data` object of our API's answer."""
        answer = self.request(method, path, query, body)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise ClientError(f"{method} {path}: the answer has no data object")
        return data

    def _headers(self, body: Any) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _tls(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https:"):
            return None
        try:
            return ssl.create_default_context(cafile=self.ca_file or None)
        except OSError as exc:
            raise ClientError(f"cannot load CA file {self.ca_file}: {_reason(exc)}") from None

    def _refused(self, method: str, path: str, exc: urllib.error.HTTPError) -> str:
        message = f"{method} {path}: {exc.code} {exc.reason}"
        detail = _error_detail(exc.read())
        if detail:
            message += f": {detail}"
        if exc.code == 401 and not self.token:
            message += f" (pass --token-file or set {TOKEN_ENV})"
        return message


def _alert_path(fingerprint: str, action: str) -> str:
    return f"/api/v1/alerts/{urllib.parse.quote(fingerprint, safe='')}/{action}"


def _token(token_file: str | None) -> str:
    if not token_file:
        return os.environ.get(TOKEN_ENV, "").strip()
    try:
        return Path(token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ClientError(f"cannot read token file {token_file}: {_reason(exc)}") from None


def _error_detail(body: bytes) -> str:
    """The `error` of our JSON error shape, else the body's first line."""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        return decoded["error"]
    if isinstance(decoded, str):  # Alertmanager's API answers errors as a JSON string
        return decoded
    lines = body.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else ""


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror and not isinstance(reason, ssl.SSLError):
        return reason.strerror
    return str(reason)
