"""Prometheus-shaped /api/v1/rules and /api/v1/alerts, so tools that read Prometheus read us."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from alerting.api.jsonfmt import rfc3339, sample_value
from alerting.api.responses import json_error, success
from alerting.model import AlertState, RuleAlert
from alerting.rules.alerting_rule import AlertingRule
from alerting.rules.group import RuleGroup, RuleStatus
from alerting.rules.manager import RuleManager
from alerting.rules.spec import RuleSpec

MANAGER = web.AppKey("manager", RuleManager)


async def get_rules(request: web.Request) -> web.Response:
    kind = request.query.get("type", "")
    if kind not in ("", "alert", "record"):
        return json_error(400, "bad_data", 'unsupported type, use "alert" or "record"')
    manager = request.app[MANAGER]
    groups = [_group_json(g, kind) for g in manager.groups.values()]
    return success({"groups": groups})


def _group_json(group: RuleGroup, kind: str) -> dict[str, Any]:
    rules = [
        _alerting_json(spec, status, rule) if rule else _recording_json(spec, status)
        for spec, status, rule in group.rules()
        if kind == "" or (kind == "alert") == spec.is_alert
    ]
    return {
        "name": group.spec.name,
        "file": group.spec.file,
        "rules": rules,
        "interval": group.spec.interval,
        "limit": group.spec.limit,
        "evaluationTime": group.evaluation_time,
        "lastEvaluation": rfc3339(group.last_evaluation),
    }


def _alerting_json(spec: RuleSpec, status: RuleStatus, rule: AlertingRule) -> dict[str, Any]:
    active = [a for a in rule.active.values() if a.state is not AlertState.INACTIVE]
    states = {a.state for a in active}
    state = "firing" if AlertState.FIRING in states else "pending" if states else "inactive"
    return {
        "state": state,
        "name": spec.name,
        "query": spec.expr,
        "duration": spec.for_,
        "keepFiringFor": spec.keep_firing_for,
        "labels": spec.labels,
        "annotations": spec.annotations,
        "alerts": [_alert_json(a) for a in active],
        **_health_json(status),
        "type": "alerting",
    }


def _recording_json(spec: RuleSpec, status: RuleStatus) -> dict[str, Any]:
    return {
        "name": spec.name,
        "query": spec.expr,
        "labels": spec.labels,
        **_health_json(status),
        "type": "recording",
    }


def _health_json(status: RuleStatus) -> dict[str, Any]:
    out: dict[str, Any] = {"health": status.health}
    if status.last_error:
        out["lastError"] = status.last_error
    out["evaluationTime"] = status.evaluation_time
    out["lastEvaluation"] = rfc3339(status.last_evaluation)
    return out


def _alert_json(alert: RuleAlert) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": alert.state.value,
        "activeAt": rfc3339(alert.active_at),
        "value": sample_value(alert.value),
        "fingerprint": alert.fingerprint,
    }
    if alert.keep_firing_since is not None:
        out["keepFiringSince"] = rfc3339(alert.keep_firing_since)
    return out
