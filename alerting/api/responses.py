"""Our API's answers: Prometheus's envelopes, `{"status": "success", "data": ...}` and
`{"status": "error", "errorType": ..., "error": ...}` (the Alertmanager paths keep their own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web


def success(data: Any) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def json_error(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = {"status": "error", "errorType": error_type, "error": message}
    return web.json_response(body, status=status, headers=headers)
