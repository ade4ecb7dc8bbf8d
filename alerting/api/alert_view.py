"""Our alert view: GET /api/v1/alerts in the shape of Prometheus 2.42's alerts API, for our rules'
alerts and those pushed to us alike, each with what the notification side knows of it; and
GET /api/v1/alerts/stats.

Per alert, beside Prometheus's labels, annotations, state, activeAt and value (rule alerts only:
a pushed alert carries no sample), we add `fingerprint`, `status`, `silencedBy`, `inhibitedBy`
and `source` (`rule` or `push`). Without a `status` parameter resolved alerts are left out, so
the default answer is Prometheus's: what is pending or firing now. Pages (`limit`, `cursor`)
follow fingerprint order, which does not change as alerts come and go.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from alerting.api.alertmanager import NOTIFIER
from alerting.api.incidents import INCIDENTS
from alerting.api.jsonfmt import rfc3339, sample_value
from alerting.api.responses import json_error, success
from alerting.api.rules import MANAGER
from alerting.dispatch.status import AlertStatus, Muting
from alerting.labels import Matcher, matches_all, parse_matchers
from alerting.model import Alert, AlertState, RuleAlert
from alerting.notifier import Notifier
from alerting.rules.manager import RuleManager

ViewStatus = Literal["firing", "pending", "suppressed", "acknowledged", "resolved"]
STATUSES: tuple[ViewStatus, ...] = ("firing", "pending", "suppressed", "acknowledged", "resolved")
CURRENT: frozenset[str] = frozenset(STATUSES) - {"resolved"}
# The window of `resolvedLast7Days` in the statistics.
RESOLVED_WINDOW = 7 * 86400.0

# Which alerts someone acknowledged, by fingerprint.
Acknowledged = Callable[[str], bool]


def nobody_acknowledged(_: str) -> bool:
    return False


def acknowledged_in(request: web.Request) -> Acknowledged:
    """The app's acks, where it takes them; else nobody has acknowledged anything."""
    incidents = request.app.get(INCIDENTS)
    if incidents is None:
        return nobody_acknowledged
    return lambda fingerprint: incidents.acknowledgement(fingerprint) is not None


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/alerts", get_alerts),
        web.get("/api/v1/alerts/stats", get_stats),
    ]


@dataclass(frozen=True, slots=True)
class ViewAlert:
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str  # Prometheus's: pending, firing, or inactive (resolved)
    active_at: float
    value: float | None  # the sample value; None for a pushed alert
    keep_firing_since: float | None
    status: ViewStatus
    muted: AlertStatus
    source: Literal["rule", "push"]


def view_status(state: AlertState, muted: AlertStatus, acknowledged: bool) -> ViewStatus:
    """The one place an alert's status is decided: resolved, pending, then acknowledged (it
    fires, and someone took it), suppressed (a silence or inhibition mutes it), firing."""
    if state is AlertState.INACTIVE:
        return "resolved"
    if state is AlertState.PENDING:
        return "pending"
    if acknowledged:
        return "acknowledged"
    if muted.state == "suppressed":
        return "suppressed"
    return "firing"


def collect(
    manager: RuleManager,
    notifier: Notifier | None,
    now: float,
    acknowledged: Acknowledged = nobody_acknowledged,
) -> list[ViewAlert]:
    """Every alert we know, once per fingerprint, in fingerprint order: the rules' (resolved
    ones while the rule keeps them), and the pushed ones dispatch holds."""
    muting = notifier.muting() if notifier is not None else None
    found: dict[str, ViewAlert] = {}
    for _, rule in manager.alerting_rules():
        for alert in rule.active.values():
            found[alert.fingerprint] = _rule_alert(alert, muting, now, acknowledged)
    if notifier is not None and muting is not None:
        for alert in notifier.alerts():
            fp = alert.fingerprint
            if fp not in found and notifier.is_pushed(fp):
                found[fp] = _pushed_alert(alert, muting, now, acknowledged)
    return [found[fp] for fp in sorted(found)]


def _rule_alert(
    alert: RuleAlert, muting: Muting | None, now: float, acknowledged: Acknowledged
) -> ViewAlert:
    muted = _muted(muting, alert.labels, now, alert.state is AlertState.INACTIVE)
    return ViewAlert(
        fingerprint=alert.fingerprint,
        labels=alert.labels,
        annotations=alert.annotations,
        state=alert.state.value,
        active_at=alert.active_at,
        value=alert.value,
        keep_firing_since=alert.keep_firing_since,
        status=view_status(alert.state, muted, acknowledged(alert.fingerprint)),
        muted=muted,
        source="rule",
    )


def _pushed_alert(
    alert: Alert, muting: Muting, now: float, acknowledged: Acknowledged
) -> ViewAlert:
    resolved = alert.resolved_at(now)
    state = AlertState.INACTIVE if resolved else AlertState.FIRING
    muted = _muted(muting, alert.labels, now, resolved)
    return ViewAlert(
        fingerprint=alert.fingerprint,
        labels=alert.labels,
        annotations=alert.annotations,
        state=state.value,
        active_at=alert.starts_at,
        value=None,
        keep_firing_since=None,
        status=view_status(state, muted, acknowledged(alert.fingerprint)),
        muted=muted,
        source="push",
    )


def _muted(
    muting: Muting | None, labels: Mapping[str, str], now: float, resolved: bool
) -> AlertStatus:
    if muting is None or resolved:  # a resolved alert is muted by nothing any more
        return AlertStatus("active")
    return muting.status(labels, now)


# --- GET /api/v1/alerts --------------------------------------------------------------------


class _BadParam(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ViewQuery:
    statuses: frozenset[str]
    severities: frozenset[str] | None
    matchers: list[Matcher]
    limit: int | None
    after: str  # list fingerprints after this one ("" from the start)

    def selects(self, alert: ViewAlert) -> bool:
        if alert.status not in self.statuses:
            return False
        if self.severities is not None and alert.labels.get("severity", "") not in self.severities:
            return False
        return matches_all(self.matchers, alert.labels)


def view_query(request: web.Request) -> ViewQuery:
    statuses = _listed(request, "status")
    unknown = sorted(statuses - set(STATUSES))
    if unknown:
        raise _BadParam(f"unknown status {unknown[0]!r}: use one of {', '.join(STATUSES)}")
    severities = _listed(request, "severity")
    try:
        matchers = [m for text in request.query.getall("filter", []) for m in parse_matchers(text)]
    except ValueError as err:
        raise _BadParam(f"filter: {err}") from None
    return ViewQuery(
        statuses=statuses or CURRENT,
        severities=severities or None,
        matchers=matchers,
        limit=_limit(request.query.get("limit")),
        after=decode_cursor(request.query.get("cursor", "")),
    )


async def get_alerts(request: web.Request) -> web.Response:
    try:
        query = view_query(request)
    except _BadParam as err:
        return json_error(400, "bad_data", str(err))
    notifier = request.app.get(NOTIFIER)
    now = _now(notifier)
    chosen = [
        a
        for a in collect(request.app[MANAGER], notifier, now, acknowledged_in(request))
        if a.fingerprint > query.after and query.selects(a)
    ]
    page = chosen if query.limit is None else chosen[: query.limit]
    data: dict[str, Any] = {"alerts": [_alert_json(a) for a in page]}
    if len(page) < len(chosen):
        data["nextCursor"] = encode_cursor(page[-1].fingerprint)
    return success(data)


def _alert_json(alert: ViewAlert) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": alert.state,
        "activeAt": rfc3339(alert.active_at),
    }
    if alert.keep_firing_since is not None:
        out["keepFiringSince"] = rfc3339(alert.keep_firing_since)
    if alert.value is not None:
        out["value"] = sample_value(alert.value)
    out["fingerprint"] = alert.fingerprint
    out["status"] = alert.status
    out["silencedBy"] = list(alert.muted.silenced_by)
    out["inhibitedBy"] = list(alert.muted.inhibited_by)
    out["source"] = alert.source
    return out


def _listed(request: web.Request, name: str) -> frozenset[str]:
    """A parameter given several times, comma-separated, or both."""
    return frozenset(
        item.strip()
        for raw in request.query.getall(name, [])
        for item in raw.split(",")
        if item.strip()
    )


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:  # digits only: int() would also take "5_0" and " 50"
        limit = int(raw) if raw.isascii() and raw.isdigit() else 0
    except ValueError:  # more digits than int() converts
        limit = 0
    if limit < 1:
        raise _BadParam(f"limit: {raw!r} is not a positive integer")
    return limit


_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


def encode_cursor(fingerprint: str) -> str:
    """Opaque to clients: where the next page starts."""
    return base64.urlsafe_b64encode(fingerprint.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        fingerprint = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        fingerprint = ""
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise _BadParam("cursor: not a cursor this API gave out")
    return fingerprint


# --- GET /api/v1/alerts/stats --------------------------------------------------------------


async def get_stats(request: web.Request) -> web.Response:
    manager = request.app[MANAGER]
    notifier = request.app.get(NOTIFIER)
    now = _now(notifier)
    alerts = collect(manager, notifier, now, acknowledged_in(request))
    by_status = dict.fromkeys(STATUSES, 0)
    by_severity: dict[str, int] = {}
    for alert in alerts:
        by_status[alert.status] += 1
        if alert.status != "resolved":  # what is going on now, by severity ("" for none)
            severity = alert.labels.get("severity", "")
            by_severity[severity] = by_severity.get(severity, 0) + 1
    silences = {"active": 0, "pending": 0, "expired": 0}
    if notifier is not None:
        for silence in notifier.silences.query():
            silences[silence.state(now)] += 1
    return success(
        {
            "alerts": {
                "byStatus": by_status,
                "bySeverity": dict(sorted(by_severity.items())),
                "resolvedLast7Days": await _resolved_since(notifier, alerts, now - RESOLVED_WINDOW),
            },
            "rules": sum(len(group.rules()) for group in manager.groups.values()),
            "silences": silences,
            "receivers": len(notifier.receiver_names()) if notifier is not None else 0,
        }
    )


async def _resolved_since(
    notifier: Notifier | None, alerts: Iterable[ViewAlert], since: float
) -> int:
    """Resolutions in the window: those the dispatcher's GC recorded, plus the resolved alerts
    still held. While notifications run every rule alert passes through dispatch, so dispatch
    alone tells what is held (counting the rules' too would count some twice)."""
    if notifier is None:
        return sum(1 for a in alerts if a.status == "resolved")
    if notifier.dispatcher is not None:
        now = notifier.clock.now()
        held = sum(1 for a in notifier.alerts() if a.resolved_at(now) and a.ends_at >= since)
    else:
        held = sum(1 for a in alerts if a.status == "resolved")
    return held + await notifier.store.count_resolved(since)


def _now(notifier: Notifier | None) -> float:
    return notifier.clock.now() if notifier is not None else time.time()
