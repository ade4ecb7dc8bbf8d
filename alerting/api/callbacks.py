"""What PagerDuty and Slack send back: PagerDuty's webhooks (v3) acknowledge and unacknowledge
groups here, and Slack's interactivity requests carry the clicks on our messages' buttons.

Neither can send our bearer token, so both routes are open to anyone, and the signature each
service puts on its requests is their only authentication: a request whose signature is
missing or wrong is refused with a 401, logged, and changes nothing. An endpoint whose secret
is not configured (`server.callbacks.pagerduty`, `server.callbacks.slack`) is off: 404.

- PagerDuty: `X-PagerDuty-Signature` holds one or more comma-separated `v1=` signatures (more
  than one while a secret is rotated), each the hex HMAC-SHA256 of the raw body; one matching
  is enough. `incident.acknowledged` and `incident.resolved` acknowledge the group whose id is
  the incident's key (only the alerts' source resolves them here), `incident.unacknowledged`
  withdraws the acks. Every other event, and incidents that are not ours, are answered 200 and
  ignored: PagerDuty counts a 4xx as a failed delivery and turns the subscription off after a
  few.
- Slack: `X-Slack-Signature` is `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`,
  with the timestamp of `X-Slack-Request-Timestamp`, which must be within five minutes of our
  clock, so a recorded request cannot be replayed later. A `block_actions` payload with our
  buttons' action_ids acknowledges or silences (for an hour) the group named by the value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from alerting.api.incidents import INCIDENTS, refusals_as_errors
from alerting.api.responses import json_error, success
from alerting.channels.slack import ACKNOWLEDGE_ACTION, SILENCE_ACTION, SILENCE_SECONDS
from alerting.config import CallbacksConfig, PagerdutyCallbackConfig, SlackCallbackConfig
from alerting.incidents import IncidentError, Incidents

log = logging.getLogger(__name__)

CALLBACKS = web.AppKey("callbacks", Callable[[], CallbacksConfig])

PAGERDUTY_PATH = "/api/v1/webhooks/pagerduty"
SLACK_PATH = "/api/v1/webhooks/slack"
SLACK_MAX_SKEW = 300.0  # seconds a Slack request's timestamp may be off our clock

# PagerDuty's event types that change something here, and what.
_ACKNOWLEDGING = {
    "incident.acknowledged": "acknowledged in PagerDuty",
    "incident.resolved": "resolved in PagerDuty",
}
_UNACKNOWLEDGING = "incident.unacknowledged"


def routes() -> list[web.RouteDef]:
    return [web.post(PAGERDUTY_PATH, pagerduty_webhook), web.post(SLACK_PATH, slack_interaction)]


# --- signatures ----------------------------------------------------------------------------


class NotSigned(Exception):
    """Why a request's signature does not prove who sent it (for the log, never the secret)."""


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_pagerduty(body: bytes, header: str, secret: str) -> None:
    """Raise NotSigned unless one of the header's `v1=` signatures is the body's."""
    if not secret:
        raise NotSigned("the configured secret is empty")
    signatures = [s.strip().removeprefix("v1=") for s in header.split(",") if s.strip()]
    if not signatures:
        raise NotSigned("no X-PagerDuty-Signature")
    expected = hmac_hex(secret, body)
    # Every one compared, in constant time: how long it takes tells nothing.
    if not sum(hmac.compare_digest(expected, s) for s in signatures):
        raise NotSigned("no signature matches")


def verify_slack(body: bytes, timestamp: str, signature: str, secret: str, now: float) -> None:
    """Raise NotSigned unless `signature` is Slack's over `timestamp` and `body`, and the
    timestamp is within SLACK_MAX_SKEW of `now`."""
    if not secret:
        raise NotSigned("the configured signing secret is empty")
    if not signature or not timestamp:
        raise NotSigned("no X-Slack-Signature or X-Slack-Request-Timestamp")
    try:
        sent = int(timestamp)
    except ValueError:
        raise NotSigned("X-Slack-Request-Timestamp is not a number") from None
    if abs(now - sent) > SLACK_MAX_SKEW:
        raise NotSigned("X-Slack-Request-Timestamp is more than five minutes off")
    expected = "v0=" + hmac_hex(secret, f"v0:{timestamp}:".encode() + body)
    if not hmac.compare_digest(expected, signature.strip()):
        raise NotSigned("the signature does not match")


# --- PagerDuty -----------------------------------------------------------------------------


@refusals_as_errors
async def pagerduty_webhook(request: web.Request) -> web.Response:
    config = request.app[CALLBACKS]().pagerduty
    if config is None:
        return _off(request, "PagerDuty", "server.callbacks.pagerduty")
    body = await request.read()
    header = request.headers.get("X-PagerDuty-Signature", "")
    refused = _check(request, "PagerDuty", config, lambda s: verify_pagerduty(body, header, s))
    if refused is not None:
        return refused
    event = _pagerduty_event(body)
    event_type = str(event.get("event_type", ""))
    data = event.get("data")
    key = data.get("incident_key") if isinstance(data, dict) else None
    outcome = "ignored"
    if isinstance(key, str) and key and event_type in (*_ACKNOWLEDGING, _UNACKNOWLEDGING):
        outcome = await _apply(request.app[INCIDENTS], event_type, key, _agent(event))
    log.info("PagerDuty webhook", extra={"event_type": event_type, "outcome": outcome})
    return success({"event_type": event_type, "outcome": outcome})


def _pagerduty_event(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise IncidentError("request body: not JSON", 400) from None
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        raise IncidentError('request body: not a v3 webhook ({"event": {...}})', 400)
    return event


def _agent(event: dict[str, Any]) -> str:
    """Who did it: the agent's name (a user, or a service for automatic actions)."""
    agent = event.get("agent")
    summary = agent.get("summary") if isinstance(agent, dict) else None
    return f"pagerduty:{summary}" if isinstance(summary, str) and summary else "pagerduty"


async def _apply(incidents: Incidents, event_type: str, gid: str, by: str) -> str:
    """What the event does to the group `gid`, as one word for the answer and the log."""
    try:
        group = incidents.find_group(gid)
        if event_type == _UNACKNOWLEDGING:
            withdrawn = await incidents.unacknowledge_group(gid, by, source="pagerduty")
            return "unacknowledged" if withdrawn else "was not acknowledged"
        if group.acknowledged:  # likely our own ack coming back: keep whose it was
            return "already acknowledged"
        comment = _ACKNOWLEDGING[event_type]
        await incidents.acknowledge_group(gid, by, comment, source="pagerduty")
        return "acknowledged"
    except IncidentError:  # not our incident, or nothing fires any more
        return "ignored"


# --- Slack ---------------------------------------------------------------------------------


@refusals_as_errors
async def slack_interaction(request: web.Request) -> web.Response:
    config = request.app[CALLBACKS]().slack
    if config is None:
        return _off(request, "Slack", "server.callbacks.slack")
    body = await request.read()
    incidents = request.app[INCIDENTS]
    now = incidents.notifier.clock.now()
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    refused = _check(
        request, "Slack", config, lambda s: verify_slack(body, timestamp, signature, s, now)
    )
    if refused is not None:
        return refused
    payload = _slack_payload(body)
    if payload.get("type") != "block_actions":
        return success({"done": []})
    by = _slack_user(payload)
    done = []
    for action in payload.get("actions") or []:
        if isinstance(action, dict):
            done += await _click(incidents, action, by)
    log.info("Slack interaction", extra={"by": by, "done": done})
    return success({"done": done})


def _slack_payload(body: bytes) -> dict[str, Any]:
    """The JSON of the form field `payload`, as Slack posts interactions."""
    try:
        [text] = parse_qs(body.decode("utf-8"), strict_parsing=True)["payload"]
        payload = json.loads(text)
    except (ValueError, KeyError, RecursionError):
        raise IncidentError("request body: expected a form with one payload field", 400) from None
    if not isinstance(payload, dict):
        raise IncidentError("payload: expected a JSON object", 400)
    return payload


def _slack_user(payload: dict[str, Any]) -> str:
    user = payload.get("user")
    user = user if isinstance(user, dict) else {}
    name = user.get("username") or user.get("name") or user.get("id")
    return f"slack:{name}" if isinstance(name, str) and name else "slack"


async def _click(incidents: Incidents, action: dict[str, Any], by: str) -> list[str]:
    """One button's work; an action that is not one of our buttons does nothing."""
    action_id, gid = action.get("action_id"), action.get("value")
    if not isinstance(gid, str):
        return []
    if action_id == ACKNOWLEDGE_ACTION:
        await incidents.acknowledge_group(gid, by, "acknowledged in Slack")
        return ["acknowledged"]
    if action_id == SILENCE_ACTION:
        await incidents.silence_group(gid, SILENCE_SECONDS, by, "silenced in Slack")
        return ["silenced"]
    return []


# --- both ------------------------------------------------------------------------------------


def _check(
    request: web.Request,
    service: str,
    config: PagerdutyCallbackConfig | SlackCallbackConfig,
    verify: Callable[[str], None],
) -> web.Response | None:
    """None when the request is signed with the secret configured now; else the refusal."""
    try:
        secret = config.current_secret()
    except (OSError, UnicodeDecodeError) as err:
        log.error("%s callback: cannot read its secret: %s", service, err)
        return json_error(500, "internal", f"cannot read the {service} secret")
    try:
        verify(secret)
    except NotSigned as err:
        log.warning(
            "%s callback refused: %s",
            service,
            err,
            extra={"remote": request.remote, "path": request.path},
        )
        return json_error(401, "unauthorized", f"not signed by {service}: {err}")
    return None


def _off(request: web.Request, service: str, key: str) -> web.Response:
    log.warning(
        "%s callback refused: %s is not configured",
        service,
        key,
        extra={"remote": request.remote, "path": request.path},
    )
    return json_error(404, "not_found", f"the {service} callback is off: configure {key}")
