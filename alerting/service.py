"""Wires config, datasource, rule evaluation, store and HTTP API; owns start, reload and stop."""

from __future__ import annotations

import asyncio
import gc
import glob
import logging
import signal
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from alerting.api import audit, auth, limits
from alerting.api.app import create_app
from alerting.clock import Clock, RealClock
from alerting.config import (
    Config,
    ConfigError,
    PrometheusDatasource,
    ServerConfig,
    load_config,
    on_loopback,
    split_host_port,
)
from alerting.configbase import read_secret
from alerting.datasource import PrometheusClient
from alerting.incidents import Incidents
from alerting.metrics import Metrics
from alerting.model import Alert
from alerting.notifier import Notifier
from alerting.rules.group import Environment
from alerting.rules.loader import load_rule_files
from alerting.rules.manager import AlertSink, RuleManager
from alerting.rules.spec import GroupSpec
from alerting.store import Store, open_notification_store, open_store
from alerting.template.alertmanager import NotificationTemplates, load_templates
from alerting.template.errors import TemplateError
from alerting.yaml_source import Problem

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    config: Config
    groups: list[GroupSpec]
    templates: NotificationTemplates
    text: str  # the config file as loaded: /api/v2/status shows the running config, redacted


def load_everything(path: str | Path) -> Loaded:
    """Config, rule files and notification templates, or ConfigError with every problem."""
    config = load_config(path)
    text = Path(path).read_text(encoding="utf-8")
    groups, problems = load_rule_files(config.rule_files, config.global_.evaluation_interval)
    templates, template_problems = _load_templates(config.templates)
    if problems or template_problems:
        raise ConfigError(problems + template_problems)
    return Loaded(config, groups, templates, text)


def _load_templates(patterns: list[str]) -> tuple[NotificationTemplates, list[Problem]]:
    templates = load_templates()
    problems: list[Problem] = []
    for pattern in patterns:
        for file in sorted(glob.glob(pattern)):
            try:
                templates.add_file(file)
            except TemplateError as error:
                problems.append(Problem(file, error.line, error.col, error.message))
            except (OSError, UnicodeDecodeError) as error:
                problems.append(Problem(file, 0, 0, f"cannot read template file: {error}"))
    return templates, problems


def datasource_from(cfg: PrometheusDatasource) -> PrometheusClient:
    basic = None
    if cfg.basic_auth:
        password = read_secret(cfg.basic_auth.password, cfg.basic_auth.password_file)
        basic = (cfg.basic_auth.username, password)
    token = read_secret(cfg.bearer_token, cfg.bearer_token_file) or None
    if cfg.authorization:
        token = (
            read_secret(cfg.authorization.credentials, cfg.authorization.credentials_file) or None
        )
    return PrometheusClient(
        cfg.url,
        timeout=cfg.timeout,
        max_concurrency=cfg.max_concurrent_queries,
        basic_auth=basic,
        bearer_token=token,
        headers=cfg.headers,
        ssl_context=cfg.tls_config.ssl_context(),
    )


def tune_gc() -> None:
    """Collect less often: with 100k long-lived alerts, CPython's default threshold (700 new
    objects) rescans them many times per evaluation, which costs more than the evaluation."""
    gc.set_threshold(50_000, 20, 100)


class Service:
    def __init__(
        self, config_path: str | Path, clock: Clock | None = None, sink: AlertSink | None = None
    ) -> None:
        self.config_path = Path(config_path)
        self.clock = clock or RealClock()
        self.metrics = Metrics()
        self.loaded = load_everything(self.config_path)
        self.store: Store = open_store(self.loaded.config.storage.path)
        self.notifier = Notifier(
            self.clock, open_notification_store(self.loaded.config.storage.path), self.metrics
        )
        self.incidents = Incidents(self.notifier)
        self._notifying = False
        self.manager = RuleManager(self.clock, self.store, sink or self._notify)
        self.datasource = datasource_from(self.loaded.config.datasource.prometheus)
        self.started_at = time.time()
        self._ready = False
        self._runner: web.AppRunner | None = None
        self._reload_lock = asyncio.Lock()
        self.metrics.count_alerts_with(self.manager.count_by_state)

    @property
    def listen(self) -> tuple[str, int]:
        return split_host_port(self.loaded.config.server.listen)

    async def start(self) -> None:
        """Open the store, bind the API (failing fast on a taken port), then start evaluating."""
        try:
            await self.store.open()
            state = await self.store.load_rule_state()
            await self.notifier.store.open()
            await self._serve()
            config = self.loaded.config
            await self._configure_notifier(config, self.loaded.templates)
            await self.manager.start(
                self.loaded.groups, self._environment(), state, config.global_.outage_tolerance
            )
        except BaseException:
            await self.stop()
            raise
        self._ready = True
        log.info(
            "started", extra={"groups": len(self.loaded.groups), "listen": config.server.listen}
        )

    async def reload(self) -> list[str]:
        """Re-read config and rules; on any problem keep the running config and report them."""
        async with self._reload_lock:
            try:
                loaded = await asyncio.to_thread(load_everything, self.config_path)
                datasource = datasource_from(loaded.config.datasource.prometheus)
            except (ConfigError, OSError) as exc:  # OSError: an unreadable credentials file
                problems = (
                    [str(p) for p in exc.problems] if isinstance(exc, ConfigError) else [str(exc)]
                )
                log.error("reload rejected", extra={"problems": problems})
                self.metrics.reloads.labels("failure").inc()
                return problems
            try:
                await self._configure_notifier(loaded.config, loaded.templates)
            except (ValueError, OSError) as exc:  # channels that cannot be built: nothing changed
                await datasource.close()
                log.error("reload rejected", extra={"problems": [str(exc)]})
                self.metrics.reloads.labels("failure").inc()
                return [str(exc)]
            self._warn_restart_only(loaded.config)
            old_datasource, self.datasource = self.datasource, datasource
            self.loaded = loaded
            await self.manager.reload(loaded.groups, self._environment())
            await old_datasource.close()
            self.metrics.reloads.labels("success").inc()
            log.info("reloaded", extra={"groups": len(loaded.groups)})
            return []

    async def stop(self) -> None:
        self._ready = False
        await self.manager.stop()
        # Acks passed on to PagerDuty and Slack go out before the notifier's session closes.
        with suppress(TimeoutError):
            await asyncio.wait_for(self.incidents.wait_idle(), timeout=10.0)
        await self.notifier.stop()
        await self.notifier.store.close()
        await self.store.close()
        await self.datasource.close()
        if self._runner:
            await self._runner.cleanup()
        log.info("stopped")

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        await self.start()
        await stop.wait()
        await self.stop()

    async def _configure_notifier(self, config: Config, templates: NotificationTemplates) -> None:
        """Notify when the config has a route; start, reload or stop the notifier to match."""
        if config.route is None:
            if self._notifying:
                await self.notifier.stop()
                self._notifying = False
        elif self._notifying:
            await self.notifier.reload(config, templates)
        else:
            await self.notifier.start(config, templates)
            self._notifying = True

    async def _notify(self, alerts: list[Alert]) -> None:
        await self.notifier.ingest(alerts)

    def _environment(self) -> Environment:
        config = self.loaded.config
        prometheus = config.datasource.prometheus
        return Environment(
            query=self.datasource.query,
            external_labels=dict(config.global_.external_labels),
            external_url=prometheus.external_url or prometheus.url,
            resend_delay=config.global_.resend_delay,
            metrics=self.metrics,
        )

    async def _serve(self) -> None:
        config = self.loaded.config
        audit_log = audit.AuditLog(audit.log_path(config, self.config_path.resolve().parent))
        app = create_app(
            self.manager,
            self.metrics,
            self.reload,
            lambda: self._ready,
            notifier=self.notifier,
            incidents=self.incidents,
            started_at=self.started_at,
            config_text=lambda: self.loaded.text,
            callbacks_config=lambda: self.loaded.config.server.callbacks,
            middlewares=self._middlewares(audit_log),
        )
        app.cleanup_ctx.append(audit_log.lifetime)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host, port = self.listen
        tls = config.server.tls.ssl_context() if config.server.tls else None
        await web.TCPSite(self._runner, host or None, port, ssl_context=tls).start()
        _warn_if_unauthenticated(config.server)

    def _middlewares(self, audit_log: audit.AuditLog) -> list[limits.Middleware]:
        """Outermost first. Auth and the body cap read the config per request: a reload applies."""
        return [
            limits.errors_as_json,
            audit.middleware(audit_log),
            auth.middleware(lambda: self.loaded.config.server.auth),
            limits.body_limit(lambda: self.loaded.config.server.max_request_bytes),
        ]

    def _warn_restart_only(self, new: Config) -> None:
        old = self.loaded.config
        for name, before, after in [
            ("storage.path", old.storage.path, new.storage.path),
            ("server.listen", old.server.listen, new.server.listen),
            ("server.tls", old.server.tls, new.server.tls),
            ("server.audit_log", old.server.audit_log, new.server.audit_log),
        ]:
            if before != after:
                log.warning("%s changed; it takes effect at the next restart", name)


def _warn_if_unauthenticated(server: ServerConfig) -> None:
    if server.auth is None and not on_loopback(server.listen):
        log.warning(
            "server.insecure_no_auth: anyone who reaches %s may read, write and reload",
            server.listen,
        )
