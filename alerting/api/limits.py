"""What a client may send and what it hears when something is wrong: a cap on request bodies, and
every error as JSON, so nothing a client sends yields a stack trace."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from alerting.api.responses import json_error

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

_ERROR_TYPES = {
    400: "bad_data",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The framework's plain-text errors (404, 405, 413, ...) become JSON; a handler's own JSON
    error is left as it is; our bugs give a 500 with a plain message and a log entry."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return _as_json(request, exc)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        # What request.json() and request.text() raise on a body that is not JSON or UTF-8.
        return json_error(400, "bad_data", f"request body: {exc}")
    except Exception:
        log.exception("request %s %s failed", request.method, request.path)
        return json_error(500, "internal", "internal error")


def body_limit(max_bytes: Callable[[], int]) -> Middleware:
    """Refuse bodies over `max_bytes()` bytes: at once when Content-Length says so, else when
    the handler reads past the limit (a chunked body)."""

    @web.middleware
    async def cap(request: web.Request, handler: Handler) -> web.StreamResponse:
        limit = max_bytes()
        length = request.content_length
        if length is not None and length > limit:
            message = f"request body of {length} bytes exceeds the limit of {limit} bytes"
            return json_error(413, "too_large", message)
        if request.body_exists and request.client_max_size != limit:
            request = request.clone(client_max_size=limit)
        return await handler(request)

    return cap


def _as_json(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers = {
        name: value
        for name, value in exc.headers.items()
        if name not in (hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH)
    }
    error_type = _ERROR_TYPES.get(exc.status, "internal" if exc.status >= 500 else "bad_data")
    return json_error(exc.status, error_type, _message(request, exc), headers)


def _message(request: web.Request, exc: web.HTTPException) -> str:
    if exc.text and exc.text != f"{exc.status}: {exc.reason}":
        return exc.text  # a handler's own words
    if isinstance(exc, web.HTTPNotFound):
        return f"no such path: {request.path}"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
    return exc.reason
