"""Alertmanager's API v2, so that Prometheus, amtool and Alertmanager's other clients talk to us as
to an Alertmanager 0.25: its paths, parameters, JSON shapes (field names and order, Go's JSON
escaping, times in milliseconds) and error bodies.

Errors take Alertmanager's two forms: a JSON string for what its handlers refuse (an invalid
silence, a bad filter), and `{"code": ..., "message": ...}` for a body that does not decode or
fails the OpenAPI schema. One difference on purpose: alerts refused from a batch are each named
by their JSON path (`alerts[1].labels: invalid label set: ...`), and the valid ones are kept.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from alerting import __version__
from alerting.api.alert_input import LAST_TIME, InputError, decode_json, parse_alerts
from alerting.api.config_view import redacted_config
from alerting.dispatch.alerts import label_set_key, sort_alerts
from alerting.dispatch.group import AggregationGroup
from alerting.dispatch.status import AlertStatus, Muting
from alerting.gojson import go_json
from alerting.labels import Matcher, go_quote, matches_all, parse_matchers
from alerting.model import Alert
from alerting.notifier import Notifier, NotNotifying
from alerting.notify.silence import (
    Silence,
    SilenceError,
    format_api_time,
    silence_from_api,
    silence_to_api,
    sort_silences,
    validate_post_times,
)
from alerting.regex import RegexError, Regexp, compile_go_regex, matches
from alerting.store import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Status:
    """What GET /api/v2/status reports beside the notifier's state."""

    started_at: float
    config_text: Callable[[], str]  # the config file's text, secrets still in it


NOTIFIER = web.AppKey("notifier", Notifier)
STATUS = web.AppKey("alertmanager_status", Status)

# Clients may pick API features by version: we answer as the release whose API we implement,
# and say in `revision` what we are.
VERSION_INFO = {
    "branch": "",
    "buildDate": "",
    "buildUser": "",
    "goVersion": "python" + ".".join(map(str, sys.version_info[:3])),
    "revision": f"alerting-{__version__}",
    "version": "0.25.0",
}
# go-openapi's strfmt "uuid".
_UUID = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
# go-openapi's reading of a boolean query parameter (swag.ConvertBool): anything else is false.
_TRUE = frozenset({"true", "1", "yes", "ok", "y", "on", "selected", "checked", "t", "enabled"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v2/alerts", get_alerts),
        web.post("/api/v2/alerts", post_alerts),
        web.get("/api/v2/alerts/groups", get_alert_groups),
        web.get("/api/v2/silences", get_silences),
        web.post("/api/v2/silences", post_silences),
        web.get("/api/v2/silence/{silence_id}", get_silence),
        web.delete("/api/v2/silence/{silence_id}", delete_silence),
        web.get("/api/v2/status", get_status),
        web.get("/api/v2/receivers", get_receivers),
    ]


# --- alerts ------------------------------------------------------------------------------


class _BadQuery(ValueError):
    """A query parameter Alertmanager refuses; the text is its answer."""


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """The filters of GET /api/v2/alerts and /api/v2/alerts/groups."""

    matchers: list[Matcher]
    receiver: Regexp | None
    active: bool
    silenced: bool
    inhibited: bool
    unprocessed: bool

    def selects(self, alert: Alert, status: AlertStatus, now: float) -> bool:
        if alert.ends_at and alert.ends_at < now:  # resolved: Alertmanager lists it no more
            return False
        if status.state == "active" and not self.active:
            return False
        if status.state == "unprocessed" and not self.unprocessed:
            return False
        if status.silenced_by and not self.silenced:
            return False
        if status.inhibited_by and not self.inhibited:
            return False
        return matches_all(self.matchers, alert.labels)

    def takes_receiver(self, name: str) -> bool:
        return self.receiver is None or matches(self.receiver, name)


def alert_query(request: web.Request) -> AlertQuery:
    """The filters of a request; _BadQuery with Alertmanager's message if one does not parse."""
    return AlertQuery(
        matchers=_filter(request),
        receiver=_receiver_regex(request.query.get("receiver")),
        active=_flag(request, "active"),
        silenced=_flag(request, "silenced"),
        inhibited=_flag(request, "inhibited"),
        unprocessed=_flag(request, "unprocessed"),
    )


async def get_alerts(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER]
    try:
        query = alert_query(request)
    except _BadQuery as err:
        return _text(400, str(err))
    now = notifier.clock.now()
    muting = notifier.muting()
    found: list[dict[str, Any]] = []
    for alert in notifier.alerts():
        receivers = muting.receivers(alert.labels)
        if query.receiver is not None and not any(map(query.takes_receiver, receivers)):
            continue
        status = muting.status(alert.labels, now)
        if query.selects(alert, status, now):
            found.append(gettable_alert(alert, status, receivers))
    found.sort(key=lambda item: item["fingerprint"])
    return _payload(found)


async def post_alerts(request: web.Request) -> web.Response:
    refused = _media_type_refused(request)
    if refused is not None:
        return refused
    try:
        items = decode_json(await request.read())
    except InputError as err:
        return _error(400, 400, f"parsing alerts body failed: {err}")
    if items is None:  # Alertmanager takes `null` for no alerts
        items = []
    if type(items) is not list:
        return _error(400, 400, "parsing alerts body failed: alerts: expected an array")
    parsed = parse_alerts(items, "alerts")
    if parsed.alerts:
        try:
            await request.app[NOTIFIER].push(parsed.alerts)
        except NotNotifying as err:
            return _text(503, str(err))
        except (StoreError, sqlite3.Error) as err:
            log.error("pushed alerts not stored", extra={"error": str(err)})
            return _text(500, f"failed to store alerts: {err}")
    if parsed.problems:
        return _text(400, "; ".join(parsed.problems))
    return web.Response()


async def get_alert_groups(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER]
    try:
        query = alert_query(request)
    except _BadQuery as err:
        return _text(400, str(err))
    listing = GroupListing(query, notifier.muting(), notifier.clock.now())
    for group in notifier.groups():
        listing.add(group)
    return _payload(listing.body())


class GroupListing:
    """The AlertGroups of a query, as Alertmanager's Dispatcher.Groups builds them: groups left
    empty by the filters are left out, and each alert lists the receivers of every group it
    is listed in."""

    def __init__(self, query: AlertQuery, muting: Muting, now: float) -> None:
        self._query = query
        self._muting = muting
        self._now = now
        self._statuses: dict[str, AlertStatus] = {}
        self._receivers: dict[str, list[str]] = {}
        self._groups: list[tuple[AggregationGroup, list[Alert]]] = []

    def add(self, group: AggregationGroup) -> None:
        receiver = group.route.receiver
        if not self._query.takes_receiver(receiver):
            return
        alerts = [
            a for a in group.alerts.values() if self._query.selects(a, self._status(a), self._now)
        ]
        for alert in alerts:
            self._receivers.setdefault(alert.fingerprint, []).append(receiver)
        if alerts:
            self._groups.append((group, alerts))

    def body(self) -> list[dict[str, Any]]:
        # By group labels (LabelSet.Before), then receiver; alerts in AlertSlice order.
        self._groups.sort(
            key=lambda entry: (label_set_key(entry[0].labels), entry[0].route.receiver)
        )
        return [self._group_json(group, alerts) for group, alerts in self._groups]

    def _group_json(self, group: AggregationGroup, alerts: list[Alert]) -> dict[str, Any]:
        sort_alerts(alerts)
        return {
            "alerts": [
                gettable_alert(a, self._status(a), sorted(self._receivers[a.fingerprint]))
                for a in alerts
            ],
            "labels": group.labels,
            "receiver": {"name": group.route.receiver},
        }

    def _status(self, alert: Alert) -> AlertStatus:
        status = self._statuses.get(alert.fingerprint)
        if status is None:
            status = self._statuses[alert.fingerprint] = self._muting.status(
                alert.labels, self._now
            )
        return status


def gettable_alert(alert: Alert, status: AlertStatus, receivers: Iterable[str]) -> dict[str, Any]:
    """A GettableAlert, keys in Alertmanager's order; generatorURL only when there is one."""
    out: dict[str, Any] = {
        "annotations": alert.annotations,
        "endsAt": format_api_time(alert.ends_at),
        "fingerprint": alert.fingerprint,
        "receivers": [{"name": name} for name in receivers],
        "startsAt": format_api_time(alert.starts_at),
        "status": {
            "inhibitedBy": list(status.inhibited_by),
            "silencedBy": list(status.silenced_by),
            "state": status.state,
        },
        "updatedAt": format_api_time(alert.updated_at),
    }
    if alert.generator_url:
        out["generatorURL"] = alert.generator_url
    out["labels"] = alert.labels
    return out


def _filter(request: web.Request) -> list[Matcher]:
    try:
        return [m for text in request.query.getall("filter", []) for m in parse_matchers(text)]
    except ValueError as err:
        raise _BadQuery(str(err)) from None


def _receiver_regex(pattern: str | None) -> Regexp | None:
    if pattern is None:
        return None
    try:
        return compile_go_regex(f"^(?:{pattern})$")
    except RegexError as err:
        raise _BadQuery(f"failed to parse receiver param: {err}") from None


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "")
    return raw == "" or raw.lower() in _TRUE


# --- silences ----------------------------------------------------------------------------


async def get_silences(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER]
    try:
        wanted = _filter(request)
    except _BadQuery as err:
        return _text(400, str(err))
    now = notifier.clock.now()
    chosen = [s for s in notifier.silences.query() if _has_matchers(s, wanted)]
    return _payload([silence_to_api(s, now) for s in sort_silences(chosen, now)])


def _has_matchers(silence: Silence, wanted: Sequence[Matcher]) -> bool:
    """Alertmanager's silence filter: every matcher asked for is one of the silence's own."""
    return all(matcher in silence.matchers for matcher in wanted)


async def post_silences(request: web.Request) -> web.Response:
    refused = _media_type_refused(request)
    if refused is not None:
        return refused
    try:
        body = decode_json(await request.read())
    except InputError as err:
        return _error(400, 400, f"parsing silence body failed: {err}")
    notifier = request.app[NOTIFIER]
    try:
        silence = silence_from_api(body)
    except SilenceError as err:
        if err.status == 422:  # the schema's "required" refusal
            return _error(422, 602, str(err))
        return _text(err.status, str(err))
    if max(silence.starts_at, silence.ends_at) > LAST_TIME:  # stored, no listing could show it
        message = "silence invalid: startsAt and endsAt must be at most 9999-12-31T23:59:59.999Z"
        return _text(400, message)
    now = notifier.clock.now()
    try:
        validate_post_times(silence, now)
        silence_id = notifier.silences.set(silence, now)
    except SilenceError as err:
        return _text(err.status, str(err))
    return await _saved(notifier) or _payload({"silenceID": silence_id})


async def get_silence(request: web.Request) -> web.Response:
    silence_id = request.match_info["silence_id"]
    if not _UUID.fullmatch(silence_id):
        return _not_uuid(silence_id)
    notifier = request.app[NOTIFIER]
    silence = notifier.silences.get(silence_id)
    if silence is None:
        return web.Response(status=404)
    return _payload(silence_to_api(silence, notifier.clock.now()))


async def delete_silence(request: web.Request) -> web.Response:
    silence_id = request.match_info["silence_id"]
    if not _UUID.fullmatch(silence_id):
        return _not_uuid(silence_id)
    notifier = request.app[NOTIFIER]
    try:
        notifier.silences.expire(silence_id, notifier.clock.now())
    except SilenceError as err:  # not found: 404 (Alertmanager 0.25 answers 500 here)
        return _text(err.status, str(err))
    return await _saved(notifier) or web.Response()


async def _saved(notifier: Notifier) -> web.Response | None:
    """Persist the silences before answering; an error response if the store failed."""
    try:
        await notifier.save_silences()
    except (StoreError, sqlite3.Error) as err:
        log.error("silences not stored", extra={"error": str(err)})
        return _text(500, f"failed to store silences: {err}")
    return None


def _not_uuid(silence_id: str) -> web.Response:
    return _error(422, 601, f"silenceID in path must be of type uuid: {go_quote(silence_id)}")


# --- status and receivers ----------------------------------------------------------------


async def get_status(request: web.Request) -> web.Response:
    status = request.app[STATUS]
    try:
        original = redacted_config(status.config_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:  # yaml.YAMLError is a ValueError
        return _text(500, f"cannot show the config: {err}")
    return _payload(
        {
            "cluster": {"peers": [], "status": "disabled"},
            "config": {"original": original},
            "uptime": format_api_time(status.started_at),
            "versionInfo": VERSION_INFO,
        }
    )


async def get_receivers(request: web.Request) -> web.Response:
    names = request.app[NOTIFIER].receiver_names()
    return _payload([{"name": name} for name in names])


# --- responses ---------------------------------------------------------------------------


def _payload(value: Any, status: int = 200) -> web.Response:
    """A response body as go-openapi writes one: Go's JSON and a newline."""
    body = (go_json(value) + "\n").encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _text(status: int, message: str) -> web.Response:
    return _payload(message, status)


def _error(status: int, code: int, message: str) -> web.Response:
    """go-openapi's error body, for what fails to decode or breaks the schema."""
    body = go_json({"code": code, "message": message}).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _media_type_refused(request: web.Request) -> web.Response | None:
    if request.content_type == "application/json":
        return None
    message = (
        f"unsupported media type {go_quote(request.content_type)},"
        " only [application/json] are allowed"
    )
    return _error(415, 415, message)
