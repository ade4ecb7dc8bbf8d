"""Alerts forwarded by an Alertmanager: POST /api/v1/webhooks/alertmanager takes its webhook
payload (version 4), so a `webhook_configs` entry pointing here hands us what it routes.

Each alert keeps its labels, annotations, startsAt, endsAt and generatorURL, and goes the way of
a push to /api/v2/alerts (same checks, same store). A firing alert's endsAt is Go's zero time,
so it gets resolve_timeout like any alert pushed without an end: the forwarding Alertmanager's
repeat_interval should be shorter than our resolve_timeout, or its alerts resolve here between
repeats.
"""

from __future__ import annotations

import logging
import sqlite3

from aiohttp import web

from alerting.api.alert_input import InputError, decode_json, parse_alerts
from alerting.api.alertmanager import NOTIFIER
from alerting.api.responses import json_error, success
from alerting.notifier import NotNotifying
from alerting.store import StoreError

log = logging.getLogger(__name__)

PAYLOAD_VERSION = "4"


def routes() -> list[web.RouteDef]:
    return [web.post("/api/v1/webhooks/alertmanager", post_alertmanager)]


async def post_alertmanager(request: web.Request) -> web.Response:
    try:
        payload = decode_json(await request.read())
    except InputError as err:
        return json_error(400, "bad_data", str(err))
    if type(payload) is not dict:
        return json_error(400, "bad_data", "payload: expected an object")
    version = payload.get("version")
    if version is not None and version != PAYLOAD_VERSION:
        return json_error(400, "bad_data", f"version: {version!r} is not {PAYLOAD_VERSION!r}")
    items = payload.get("alerts")
    if type(items) is not list:
        return json_error(400, "bad_data", "alerts: expected an array")
    parsed = parse_alerts(items, "alerts")
    if parsed.alerts:
        try:
            await request.app[NOTIFIER].push(parsed.alerts)
        except NotNotifying as err:
            return json_error(503, "unavailable", str(err))
        except (StoreError, sqlite3.Error) as err:
            log.error("forwarded alerts not stored", extra={"error": str(err)})
            return json_error(500, "internal", f"failed to store alerts: {err}")
    if parsed.problems:
        return json_error(400, "bad_data", "; ".join(parsed.problems))
    return success({"accepted": len(parsed.alerts)})
