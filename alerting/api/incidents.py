"""What people do about alerts, over HTTP: acknowledge and unacknowledge alerts and groups,
suppress an alert, list the aggregation groups, and read an alert's history.

Answers take our API's shape (`{"status": "success", "data": ...}`); a refusal is the error
shape with the status alerting.incidents chose: 400 for a bad value, 404 for an unknown alert
or group, 409 for what cannot be done in the alert's state. Times are RFC 3339.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web

from alerting.api import auth
from alerting.api.alert_input import InputError, decode_json
from alerting.api.jsonfmt import rfc3339
from alerting.api.responses import json_error, success
from alerting.api.rules import MANAGER
from alerting.durations import parse_duration
from alerting.incidents import GroupView, IncidentError, Incidents
from alerting.notify.acks import Ack
from alerting.rules.manager import RuleManager

INCIDENTS = web.AppKey("incidents", Incidents)

Handler = Callable[[web.Request], Awaitable[web.Response]]

_ERROR_TYPES = {400: "bad_data", 404: "not_found", 409: "conflict"}
# Fields of history events that hold times (Unix seconds inside, RFC 3339 outside).
_TIME_FIELDS = ("at", "expires_at", "until")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/alerts/{fingerprint}/acknowledge", acknowledge),
        web.delete("/api/v1/alerts/{fingerprint}/acknowledge", unacknowledge),
        web.post("/api/v1/alerts/{fingerprint}/suppress", suppress),
        web.get("/api/v1/alerts/{fingerprint}/history", history),
        web.get("/api/v1/groups", groups),
        web.post("/api/v1/groups/{group_id}/acknowledge", acknowledge_group),
        web.delete("/api/v1/groups/{group_id}/acknowledge", unacknowledge_group),
    ]


def refusals_as_errors(handler: Handler) -> Handler:
    """An IncidentError becomes the error answer its status calls for."""

    @wraps(handler)
    async def answer(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except IncidentError as err:
            return json_error(err.status, _ERROR_TYPES.get(err.status, "bad_data"), str(err))

    return answer


# --- alerts ------------------------------------------------------------------------------


@refusals_as_errors
async def acknowledge(request: web.Request) -> web.Response:
    body = await _body(request)
    ack = await request.app[INCIDENTS].acknowledge(
        request.match_info["fingerprint"],
        auth.acting_as(request, _text(body, "by")),
        _text(body, "comment"),
        _expires_in(body.get("expires_in")),
    )
    return success(_ack_json(ack))


@refusals_as_errors
async def unacknowledge(request: web.Request) -> web.Response:
    body = await _body(request)
    fingerprint = request.match_info["fingerprint"]
    await request.app[INCIDENTS].unacknowledge(
        fingerprint, auth.acting_as(request, _text(body, "by"))
    )
    return success({"fingerprint": fingerprint})


@refusals_as_errors
async def suppress(request: web.Request) -> web.Response:
    body = await _body(request)
    silence_id = await request.app[INCIDENTS].suppress(
        request.match_info["fingerprint"],
        _minutes(request.query.get("duration_minutes")),
        auth.acting_as(request, _text(body, "by")),
        _text(body, "comment"),
    )
    return success({"silenceID": silence_id})


@refusals_as_errors
async def history(request: web.Request) -> web.Response:
    fingerprint = request.match_info["fingerprint"]
    pending_since = _pending_since(request.app[MANAGER], fingerprint)
    events = await request.app[INCIDENTS].history(fingerprint, pending_since)
    return success({"fingerprint": fingerprint, "events": [_event_json(e) for e in events]})


def _pending_since(manager: RuleManager, fingerprint: str) -> float | None:
    """When a rule's alert went pending, if it is or was pending (with `for: 0` it never was).
    Only the rule manager knows: dispatch sees an alert once it fires."""
    for _, rule in manager.alerting_rules():
        for alert in rule.active.values():
            if alert.fingerprint == fingerprint:
                if alert.fired_at is None or alert.active_at < alert.fired_at:
                    return alert.active_at
                return None
    return None


# --- groups ------------------------------------------------------------------------------


async def groups(request: web.Request) -> web.Response:
    views = sorted(request.app[INCIDENTS].groups(), key=lambda view: view.key)
    return success({"groups": [_group_json(view) for view in views]})


@refusals_as_errors
async def acknowledge_group(request: web.Request) -> web.Response:
    body = await _body(request)
    gid = request.match_info["group_id"]
    acks = await request.app[INCIDENTS].acknowledge_group(
        gid,
        auth.acting_as(request, _text(body, "by")),
        _text(body, "comment"),
        _expires_in(body.get("expires_in")),
    )
    return success({"group_id": gid, "acknowledged": sorted(a.fingerprint for a in acks)})


@refusals_as_errors
async def unacknowledge_group(request: web.Request) -> web.Response:
    body = await _body(request)
    gid = request.match_info["group_id"]
    withdrawn = await request.app[INCIDENTS].unacknowledge_group(
        gid, auth.acting_as(request, _text(body, "by"))
    )
    return success({"group_id": gid, "unacknowledged": sorted(withdrawn)})


# --- reading requests and writing answers ----------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object sent, or an empty one for no body at all."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = decode_json(raw)
    except InputError as err:
        raise IncidentError(f"request body: {err}", 400) from None
    if type(body) is not dict:
        raise IncidentError("request body: expected a JSON object", 400)
    return body


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IncidentError(f"{name}: expected a string", 400)
    # As the Alertmanager paths do: invalid UTF-8 (a lone surrogate here) becomes U+FFFD.
    return _SURROGATE.sub("\ufffd", value)


def _expires_in(value: object) -> float | None:
    """A duration string such as "2h" or a number of seconds; None: the ack does not expire."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_duration(value.strip())
        except ValueError as err:
            raise IncidentError(f"expires_in: {err}", 400) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            raise IncidentError("expires_in: too long", 400) from None
    raise IncidentError('expires_in: expected a duration such as "2h" or seconds', 400)


def _minutes(raw: str | None) -> int:
    if raw is None:
        raise IncidentError("duration_minutes is required: whole minutes, from 1 to 1440", 400)
    if not _WHOLE_NUMBER.fullmatch(raw.strip()):
        raise IncidentError(f"duration_minutes: {raw!r} is not a whole number of minutes", 400)
    return int(raw)


def _ack_json(ack: Ack) -> dict[str, Any]:
    return {
        "fingerprint": ack.fingerprint,
        "acknowledged_by": ack.by,
        "acknowledged_at": rfc3339(ack.at),
        "comment": ack.comment,
        "expires_at": rfc3339(ack.expires_at) if ack.expires_at is not None else None,
    }


def _event_json(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    for name in _TIME_FIELDS:
        if isinstance(out.get(name), int | float):
            out[name] = rfc3339(out[name])
    return out


def _group_json(view: GroupView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": view.id,
        "groupKey": view.key,
        "receiver": view.receiver,
        "acknowledged": view.acknowledged,
    }
    if view.escalation is not None:
        due = view.escalation.next_due
        out["escalation"] = {
            "policy": view.escalation.policy,
            "level": view.escalation.level,
            "next_due": rfc3339(due) if due is not None else None,
        }
    out["alerts"] = sorted(alert.fingerprint for alert in view.alerts)
    return out
