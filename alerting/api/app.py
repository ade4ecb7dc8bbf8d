"""The aiohttp application: health, readiness, reload, metrics, and the JSON APIs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from importlib import resources

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alerting.api import alert_view, alertmanager, callbacks, rules, webhooks
from alerting.api import incidents as incidents_api
from alerting.api.limits import errors_as_json
from alerting.config import CallbacksConfig
from alerting.incidents import Incidents
from alerting.metrics import Metrics
from alerting.notifier import Notifier
from alerting.rules.manager import RuleManager

log = logging.getLogger(__name__)

Reload = Callable[[], Awaitable[list[str]]]

METRICS = web.AppKey("metrics", Metrics)
RELOAD = web.AppKey("reload", Reload)
READY = web.AppKey("ready", Callable[[], bool])


def create_app(
    manager: RuleManager,
    metrics: Metrics,
    reload: Reload,
    ready: Callable[[], bool],
    *,
    notifier: Notifier | None = None,
    incidents: Incidents | None = None,
    started_at: float = 0.0,
    config_text: Callable[[], str] = lambda: "",
    callbacks_config: Callable[[], CallbacksConfig] = CallbacksConfig,
    middlewares: Sequence[Middleware] = (),
) -> web.Application:
    """The API. `middlewares` run before (outside) the app's own. Without a `notifier` only the
    health, reload, metrics and rule endpoints are served, and /api/v1/alerts lists rule
    alerts; with one, the Alertmanager API v2 and the webhook intake too; with `incidents`
    (of that notifier), acks, suppressions, groups, histories and the PagerDuty and Slack
    callbacks, whose secrets `callbacks_config` reads per request. `config_text` reads the
    config file, which GET /api/v2/status shows with its secrets hidden."""
    app = web.Application(
        middlewares=[*middlewares, errors_as_json], client_max_size=16 * 1024 * 1024
    )
    app[rules.MANAGER] = manager
    app[METRICS] = metrics
    app[RELOAD] = reload
    app[READY] = ready
    routes = [
        web.get("/-/healthy", _healthy),
        web.get("/-/ready", _ready),
        web.post("/-/reload", _reload),
        web.put("/-/reload", _reload),
        web.get("/metrics", _metrics),
        web.get("/api/openapi.json", _openapi),
        web.get("/api/v1/rules", rules.get_rules),
        *alert_view.routes(),
    ]
    if notifier is not None:
        app[alertmanager.NOTIFIER] = notifier
        app[alertmanager.STATUS] = alertmanager.Status(started_at, config_text)
        routes += [*alertmanager.routes(), *webhooks.routes()]
    if notifier is not None and incidents is not None:
        app[incidents_api.INCIDENTS] = incidents
        app[callbacks.CALLBACKS] = callbacks_config
        routes += [*incidents_api.routes(), *callbacks.routes()]
    app.add_routes(routes)
    return app


async def _healthy(_: web.Request) -> web.Response:
    return web.Response(text="OK\n")


async def _ready(request: web.Request) -> web.Response:
    if request.app[READY]():
        return web.Response(text="OK\n")
    return web.Response(status=503, text="Service Unavailable\n")


async def _reload(request: web.Request) -> web.Response:
    problems = await request.app[RELOAD]()
    if problems:
        text = "failed to reload config:\n" + "\n".join(problems) + "\n"
        return web.Response(status=500, text=text)
    return web.Response(text="OK\n")


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@cache
def openapi_document() -> bytes:
    """alerting/api/openapi.json, the contract of every path above, served as it is stored."""
    return resources.files("alerting.api").joinpath("openapi.json").read_bytes()


async def _openapi(_: web.Request) -> web.Response:
    return web.Response(body=openapi_document(), content_type="application/json")
