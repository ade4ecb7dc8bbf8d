"""The configuration file: pydantic models of every section, and loading with file:line:col errors."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import ssl
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerting.channels.email import UNKNOWN_KEY_HINTS as EMAIL_HINTS
from alerting.channels.email import EmailSpec, email_problems
from alerting.channels.pagerduty import UNKNOWN_KEY_HINTS as PAGERDUTY_HINTS
from alerting.channels.pagerduty import PagerdutySpec, pagerduty_problems
from alerting.channels.slack import UNKNOWN_KEY_HINTS as SLACK_HINTS
from alerting.channels.slack import SlackSpec, check_secret_url, slack_problems
from alerting.channels.webhook import UNKNOWN_KEY_HINTS as WEBHOOK_HINTS
from alerting.channels.webhook import WebhookSpec
from alerting.configbase import (
    Duration,
    HTTPClientConfig,
    LabelName,
    Model,
    read_secret,
    relative_to_config,
)
from alerting.dispatch.route import RouteSpec, route_problems
from alerting.labels import go_quote
from alerting.notify.escalation import EscalationPolicySpec, policy_problems
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

    @field_validator("slack_api_url")
    @classmethod
    def _slack_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret_url(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _one_slack_url(self) -> GlobalConfig:
        if self.slack_api_url is not None and self.slack_api_url_file:
            raise ValueError("at most one of slack_api_url & slack_api_url_file must be configured")
        return self

    @model_validator(mode="after")
    def _one_smtp_password(self) -> GlobalConfig:
        secret = self.smtp_auth_password
        if secret is not None and secret.get_secret_value() and self.smtp_auth_password_file:
            raise ValueError(
                "at most one of smtp_auth_password & smtp_auth_password_file must be configured"
            )
        return self


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


class Role(StrEnum):
    """What a token may do; each role includes the ones listed before it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def includes(self, other: Role) -> bool:
        members = list(Role)
        return members.index(self) >= members.index(other)


class TokenSpec(Model):
    """A named bearer token; the name is the caller's identity in records and the audit log."""

    name: str = Field(min_length=1)
    token_file: str = ""
    token_env: str = ""
    role: Role
    # Only a digest is kept: the token itself never sits in the config object, so no repr,
    # dump or log of the config can reveal it.
    _digest: bytes = PrivateAttr(default=b"")

    _resolve = field_validator("token_file")(relative_to_config)

    @model_validator(mode="after")
    def _read_token(self) -> TokenSpec:
        # Read at load, so `alerting check` finds a missing secret and a reload picks up a new one.
        self._digest = token_digest(_token_value(self.token_file, self.token_env))
        return self

    def matches(self, presented: str) -> bool:
        """Constant-time comparison; digests of equal length also hide the token's length."""
        return hmac.compare_digest(self._digest, token_digest(presented))


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _token_value(file: str, env: str) -> str:
    if bool(file) == bool(env):
        raise ValueError("set exactly one of token_file and token_env")
    if file:
        source = f"token_file {file}"
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{source} is not UTF-8 text") from None
    else:
        source = f"environment variable {env}"
        value = os.environ.get(env, "").strip()
    if not value:
        raise ValueError(f"{source} is empty or not set")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError(f"{source}: a token must be printable ASCII without spaces")
    return value


class AuthConfig(Model):
    tokens: list[TokenSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> AuthConfig:
        names: set[str] = set()
        owners: dict[bytes, str] = {}
        for token in self.tokens:
            if token.name in names:
                raise ValueError(f"token name {token.name!r} is used twice")
            names.add(token.name)
            if token._digest in owners:
                first = owners[token._digest]
                raise ValueError(
                    f"tokens {first!r} and {token.name!r} have the same secret;"
                    " each name needs a token of its own"
                )
            owners[token._digest] = token.name
        return self


class ServerTLSConfig(Model):
    cert_file: str
    key_file: str
    client_ca_file: str = ""  # set: clients must present a certificate this CA signed

    _resolve = field_validator("cert_file", "key_file", "client_ca_file")(relative_to_config)

    @model_validator(mode="after")
    def _loadable(self) -> ServerTLSConfig:
        """Fail at load, where the files are named, rather than at start."""
        try:
            self.ssl_context()
        except OSError as exc:
            raise ValueError(str(exc)) from None
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """The listener's context (TLS 1.2 or later); OSError naming a file that will not load."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except OSError as exc:
            raise OSError(
                f"unable to load cert_file {self.cert_file} with key_file {self.key_file}:"
                f" {_ssl_reason(exc)}"
            ) from None
        if self.client_ca_file:
            try:
                context.load_verify_locations(self.client_ca_file)
            except OSError as exc:
                raise OSError(
                    f"unable to load client_ca_file {self.client_ca_file}: {_ssl_reason(exc)}"
                ) from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context


def _ssl_reason(exc: OSError) -> str:
    return exc.strerror if exc.strerror and not isinstance(exc, ssl.SSLError) else str(exc)


def _one_secret(inline: SecretStr | None, file: str, name: str) -> None:
    """Exactly one of `name` and `name`_file, and an inline one not empty."""
    if inline is not None and file:
        raise ValueError(f"at most one of {name} & {name}_file must be configured")
    if inline is None and not file:
        raise ValueError(f"set {name} or {name}_file")
    if inline is not None and not inline.get_secret_value().strip():
        raise ValueError(f"{name} is empty")


class PagerdutyCallbackConfig(Model):
    """PagerDuty's webhooks (v3) to POST /api/v1/webhooks/pagerduty: the secret PagerDuty gave
    the webhook subscription, with which it signs each delivery."""

    secret: SecretStr | None = None
    secret_file: str = ""

    _resolve = field_validator("secret_file")(relative_to_config)

    @model_validator(mode="after")
    def _one(self) -> PagerdutyCallbackConfig:
        _one_secret(self.secret, self.secret_file, "secret")
        return self

    def current_secret(self) -> str:
        """Read now, so a rotated file applies to the next request; OSError if unreadable."""
        return read_secret(self.secret, self.secret_file)


class SlackCallbackConfig(Model):
    """Slack's interactivity requests (our messages' buttons) to POST /api/v1/webhooks/slack:
    the Slack app's signing secret. Set, it also puts the buttons on bot-token messages."""

    signing_secret: SecretStr | None = None
    signing_secret_file: str = ""

    _resolve = field_validator("signing_secret_file")(relative_to_config)

    @model_validator(mode="after")
    def _one(self) -> SlackCallbackConfig:
        _one_secret(self.signing_secret, self.signing_secret_file, "signing_secret")
        return self

    def current_secret(self) -> str:
        """Read now, so a rotated file applies to the next request; OSError if unreadable."""
        return read_secret(self.signing_secret, self.signing_secret_file)


class CallbacksConfig(Model):
    """Requests PagerDuty and Slack send back to us; each is off until its secret is set."""

    pagerduty: PagerdutyCallbackConfig | None = None
    slack: SlackCallbackConfig | None = None


class ServerConfig(Model):
    listen: str = "127.0.0.1:9095"
    auth: AuthConfig | None = None
    insecure_no_auth: bool = False  # allows listening beyond loopback without auth
    tls: ServerTLSConfig | None = None
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    audit_log: str = ""  # empty: audit.log beside the SQLite store (see alerting.api.audit)
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig)

    _resolve = field_validator("audit_log")(relative_to_config)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_host_port(value)
        return value

    @model_validator(mode="after")
    def _no_open_api_beyond_loopback(self) -> ServerConfig:
        if self.auth is not None and self.insecure_no_auth:
            raise ValueError("insecure_no_auth contradicts server.auth: remove one of them")
        if self.auth is None and not self.insecure_no_auth and not on_loopback(self.listen):
            raise ValueError(
                f"listen {self.listen!r} is reachable from other machines and server.auth is not"
                " configured: add server.auth.tokens (see the README), listen on 127.0.0.1, or"
                " set server.insecure_no_auth: true to serve without authentication"
            )
        return self


def on_loopback(listen: str) -> bool:
    """Whether `host:port` is reachable from this machine only (an empty host is every address)."""
    host, _ = split_host_port(listen)
    return host == "localhost" or (bool(host) and ipaddress.ip_address(host).is_loopback)


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
    email_configs: list[EmailSpec] = Field(default_factory=list)
    pagerduty_configs: list[PagerdutySpec] = Field(default_factory=list)
    slack_configs: list[SlackSpec] = Field(default_factory=list)


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
    # Ours: who else hears of a group, and when, while nobody acknowledges it.
    escalation_policies: list[EscalationPolicySpec] = Field(default_factory=list)

    @field_validator("rule_files", "templates")
    @classmethod
    def _resolve_globs(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [relative_to_config(pattern, info) for pattern in value]


Path_ = tuple[str | int, ...]


def _reference_problems(config: Config) -> list[tuple[Path_, str]]:
    """What Alertmanager checks across sections once each has parsed, with its messages."""
    problems = _duplicate_receivers(config.receivers)
    problems += _integration_problems(config)
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
    policies = {p.name for p in config.escalation_policies}
    problems += [
        (("route", *path), message)
        for path, message in route_problems(config.route, receivers, intervals, policies)
    ]
    problems += [
        (("escalation_policies", *path), message)
        for path, message in policy_problems(config.escalation_policies, receivers)
    ]
    return problems


def _integration_problems(config: Config) -> list[tuple[Path_, str]]:
    """What each integration needs from `global` (a URL, a smarthost) and did not get."""
    problems: list[tuple[Path_, str]] = []
    for index, receiver in enumerate(config.receivers):
        found = email_problems(receiver.email_configs, config.global_)
        found += pagerduty_problems(receiver.pagerduty_configs, config.global_)
        found += slack_problems(receiver.slack_configs, config.global_)
        problems += [(("receivers", index, *path), message) for path, message in found]
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


_INTEGRATION_HINTS: dict[str, Mapping[str, str]] = {
    "webhook_configs": WEBHOOK_HINTS,
    "email_configs": EMAIL_HINTS,
    "pagerduty_configs": PAGERDUTY_HINTS,
    "slack_configs": SLACK_HINTS,
}


def _hint(parent: tuple[str | int, ...], key: str) -> str | None:
    if not parent:
        return _HINTS.get(key)
    if parent[0] == "receivers" and len(parent) == 2 and key in _FOREIGN_INTEGRATIONS:
        return "alerting does not deliver there; point a webhook_configs entry at a bridge"
    if parent[0] == "receivers" and len(parent) == 4:
        return _INTEGRATION_HINTS.get(str(parent[2]), {}).get(key)
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
