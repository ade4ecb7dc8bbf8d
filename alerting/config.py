"""The configuration file: pydantic models of every section, and loading with file:line:col errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from alerting.channels.webhook import UNKNOWN_KEY_HINTS as WEBHOOK_HINTS
from alerting.channels.webhook import WebhookSpec
from alerting.configbase import (
    Duration,
    HTTPClientConfig,
    LabelName,
    Model,
    relative_to_config,
)
from alerting.dispatch.route import RouteSpec, route_problems
from alerting.labels import go_quote
from alerting.notify.inhibit import InhibitRuleSpec
from alerting.notify.time_intervals import (
    MuteTimeIntervalSpec,
    TimeIntervalSpec,
    duplicate_names,
)
from alerting.validation import validate_document
from alerting.yaml_source import Problem, YamlError, load_file

__all__ = ["Config", "ConfigError", "Duration", "HTTPClientConfig", "Model", "load_config"]


class GlobalConfig(Model):
    """Takes both Prometheus's and Alertmanager's `global` keys, so either pastes in unchanged."""

    # Prometheus
    evaluation_interval: Duration = 60.0
    external_labels: dict[LabelName, str] = Field(default_factory=dict)
    scrape_interval: Duration | None = None  # accepted from prometheus.yml; we do not scrape
    scrape_timeout: Duration | None = None
    query_log_file: str = ""
    # Prometheus flags that live in the file here
    external_url: str = ""
    outage_tolerance: Duration = 3600.0
    resend_delay: Duration = 60.0
    # Alertmanager
    resolve_timeout: Duration = 300.0
    http_config: HTTPClientConfig = Field(default_factory=HTTPClientConfig)
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: str = ""
    smtp_auth_username: str = ""
    smtp_auth_password: SecretStr | None = None
    smtp_auth_password_file: str = ""
    smtp_auth_secret: SecretStr | None = None
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    slack_api_url: SecretStr | None = None
    slack_api_url_file: str = ""
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    # Alertmanager integrations we do not offer; accepted so an alertmanager.yml global pastes in.
    opsgenie_api_key: SecretStr | None = None
    opsgenie_api_key_file: str = ""
    opsgenie_api_url: str = ""
    wechat_api_url: str = ""
    wechat_api_secret: SecretStr | None = None
    wechat_api_corp_id: str = ""
    victorops_api_key: SecretStr | None = None
    victorops_api_key_file: str = ""
    victorops_api_url: str = ""
    telegram_api_url: str = ""
    webex_api_url: str = ""

    _resolve = field_validator(
        "smtp_auth_password_file",
        "slack_api_url_file",
        "opsgenie_api_key_file",
        "victorops_api_key_file",
    )(relative_to_config)

    @field_validator("evaluation_interval", "resolve_timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value


class PrometheusDatasource(HTTPClientConfig):
    url: str
    # Base of alerts' generator URLs and of $externalURL in rule templates: Prometheus's own UI.
    external_url: str = ""
    timeout: Duration = 120.0
    max_concurrent_queries: int = Field(default=8, ge=1, le=1024)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value.rstrip("/")


class DatasourceConfig(Model):
    prometheus: PrometheusDatasource


class StorageConfig(Model):
    path: str = "data/alerting.db"

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith(("postgres://", "postgresql://")):
            return value
        return relative_to_config(value, info)


class ServerConfig(Model):
    listen: str = "127.0.0.1:9095"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_host_port(value)
        return value


def split_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port")
    host = host.strip("[]")
    if host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost":
                raise ValueError(f"{value!r}: listen on an IP address or localhost") from None
    return host, int(port)


class ReceiverSpec(Model):
    """A receiver of alertmanager.yml; a receiver with no integrations swallows notifications."""

    name: str = Field(min_length=1)
    webhook_configs: list[WebhookSpec] = Field(default_factory=list)


class Config(Model):
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    datasource: DatasourceConfig
    rule_files: list[str] = Field(default_factory=list)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    # Alertmanager's sections, pasted from alertmanager.yml. Without `route` nothing is notified.
    route: RouteSpec | None = None
    receivers: list[ReceiverSpec] = Field(default_factory=list)
    inhibit_rules: list[InhibitRuleSpec] = Field(default_factory=list)
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)
    mute_time_intervals: list[MuteTimeIntervalSpec] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)

    @field_validator("rule_files", "templates")
    @classmethod
    def _resolve_globs(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [relative_to_config(pattern, info) for pattern in value]


Path_ = tuple[str | int, ...]


def _reference_problems(config: Config) -> list[tuple[Path_, str]]:
    """What Alertmanager checks across sections once each has parsed, with its messages."""
    problems = _duplicate_receivers(config.receivers)
    problems += [
        (p.path, p.message)
        for p in duplicate_names(config.mute_time_intervals, config.time_intervals)
    ]
    if config.route is None:
        if config.receivers:
            problems.append(((), "receivers are configured but there is no route: add one"))
        return problems
    receivers = {r.name for r in config.receivers}
    intervals = {s.name for s in [*config.time_intervals, *config.mute_time_intervals]}
    problems += [
        (("route", *path), message)
        for path, message in route_problems(config.route, receivers, intervals)
    ]
    return problems


def _duplicate_receivers(receivers: list[ReceiverSpec]) -> list[tuple[Path_, str]]:
    seen: set[str] = set()
    problems: list[tuple[Path_, str]] = []
    for index, receiver in enumerate(receivers):
        if receiver.name in seen:
            message = f"notification config name {go_quote(receiver.name)} is not unique"
            problems.append((("receivers", index, "name"), message))
        seen.add(receiver.name)
    return problems


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


_HINTS: dict[str, str] = {
    "scrape_configs": "scraping stays with Prometheus; point datasource.prometheus.url at it",
    "alerting": "this belongs in prometheus.yml, with alertmanagers pointing at this daemon",
    "remote_write": "this daemon does not write to Prometheus; remove it",
    "evaluation_interval": "it goes under global:",
    "external_labels": "it goes under global:",
    "rules": "list rule files under rule_files: (globs relative to this file)",
    "prometheus": "it goes under datasource: (datasource.prometheus.url)",
    "prometheus_url": "write datasource.prometheus.url",
    "listen_address": "write server.listen (host:port)",
    "web": "write server.listen (host:port)",
    "data_dir": "write storage.path (a SQLite file)",
    "db": "write storage.path (a SQLite file)",
}


_LATER_INTEGRATIONS = ("email_configs", "slack_configs", "pagerduty_configs")
_FOREIGN_INTEGRATIONS = (
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "discord_configs",
)


def _hint(parent: tuple[str | int, ...], key: str) -> str | None:
    if not parent:
        return _HINTS.get(key)
    if parent[0] == "receivers" and len(parent) == 2:
        if key in _LATER_INTEGRATIONS:
            return "this release delivers to webhook_configs only"
        if key in _FOREIGN_INTEGRATIONS:
            return "alerting does not deliver there; point a webhook_configs entry at a bridge"
    if parent[0] == "receivers" and len(parent) == 4 and parent[2] == "webhook_configs":
        return WEBHOOK_HINTS.get(key)
    return None


def load_config(path: str | Path) -> Config:
    """Read and validate the config file; raises ConfigError listing every problem."""
    file = Path(path)
    try:
        doc = load_file(file)
    except YamlError as exc:
        raise ConfigError(exc.problems) from None
    if doc.data is not None and not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the config must be a YAML mapping")])
    context = {"base_dir": str(file.resolve().parent)}
    config, problems = validate_document(Config, doc, context=context, hint=_hint)
    if config is not None:
        problems += [doc.problem(path, message) for path, message in _reference_problems(config)]
    if problems or config is None:
        raise ConfigError(problems)
    return config
