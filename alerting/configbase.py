"""Building blocks every config section shares: the strict base model, durations, label names,
paths relative to the config file, and Prometheus's common HTTP client and TLS options."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerting.durations import parse_duration
from alerting.labels import LABEL_NAME_RE


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"not a valid duration string: {value!r} (write it like 30s, 5m or 1h30m)")
    return parse_duration(value)


def _label_name(value: Any) -> str:
    if not isinstance(value, str) or not LABEL_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid label name")
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
LabelName = Annotated[str, BeforeValidator(_label_name)]


def relative_to_config(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    if not value or base is None or Path(value).is_absolute():
        return value
    return str(Path(base) / value)


class Model(BaseModel):
    # Errors name the place and the problem, never the value: it may be a secret.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)


class BasicAuth(Model):
    username: str = ""
    password: SecretStr | None = None
    password_file: str = ""

    _resolve = field_validator("password_file")(relative_to_config)

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuth:
        if self.password is not None and self.password_file:
            raise ValueError("at most one of basic_auth password and password_file must be set")
        return self


class Authorization(Model):
    type: str = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: str = ""

    _resolve = field_validator("credentials_file")(relative_to_config)

    @model_validator(mode="after")
    def _one_credential(self) -> Authorization:
        if self.credentials is not None and self.credentials_file:
            raise ValueError("at most one of authorization credentials and credentials_file")
        return self


class HTTPConfigError(ValueError):
    """An `http_config` that cannot be used: unreadable TLS files, a bad proxy URL."""


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


class TLSConfig(Model):
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""

    _resolve = field_validator("ca_file", "cert_file", "key_file")(relative_to_config)

    @model_validator(mode="after")
    def _loadable(self) -> TLSConfig:
        """Fail at load, where the file is named, rather than at the first request."""
        if self.ca_file or self.cert_file or self.key_file or self.min_version:
            try:
                self.ssl_context()
            except HTTPConfigError as error:
                raise ValueError(str(error)) from None
        return self

    def ssl_context(self) -> ssl.SSLContext | bool:
        """The context `tls_config` asks for, or True when the defaults do."""
        if self == TLSConfig():
            return True
        try:
            context = ssl.create_default_context(cafile=self.ca_file or None)
        except OSError as exc:  # ssl.SSLError is one too
            raise HTTPConfigError(
                f"unable to load CA cert {self.ca_file}: {_reason(exc)}"
            ) from None
        _load_client_cert(context, self)
        if self.min_version:
            context.minimum_version = _tls_version(self.min_version)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _load_client_cert(context: ssl.SSLContext, tls: TLSConfig) -> None:
    if tls.cert_file and not tls.key_file:
        raise HTTPConfigError(
            f"client cert file {tls.cert_file!r} specified without client key file"
        )
    if tls.key_file and not tls.cert_file:
        raise HTTPConfigError(
            f"client key file {tls.key_file!r} specified without client cert file"
        )
    if not tls.cert_file:
        return
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except OSError as exc:
        raise HTTPConfigError(
            f"unable to load client cert {tls.cert_file} and key {tls.key_file}: {_reason(exc)}"
        ) from None


def _tls_version(name: str) -> ssl.TLSVersion:
    try:
        return _TLS_VERSIONS[name]
    except KeyError:
        raise HTTPConfigError(f"tls_config: unknown TLS version: {name}") from None


def _reason(exc: OSError) -> str:
    return exc.strerror if exc.strerror and not isinstance(exc, ssl.SSLError) else str(exc)


class HTTPClientConfig(Model):
    """Prometheus's common HTTP client options, as in prometheus.yml and alertmanager.yml."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    bearer_token: SecretStr | None = None
    bearer_token_file: str = ""
    tls_config: TLSConfig = Field(default_factory=TLSConfig)
    proxy_url: str = ""
    follow_redirects: bool = True
    enable_http2: bool = True

    _resolve = field_validator("bearer_token_file")(relative_to_config)

    @model_validator(mode="after")
    def _one_auth_method(self) -> HTTPClientConfig:
        methods = [
            self.basic_auth is not None,
            self.authorization is not None,
            self.bearer_token is not None or bool(self.bearer_token_file),
        ]
        if sum(methods) > 1:
            raise ValueError(
                "at most one of basic_auth, authorization and bearer_token(_file) must be set"
            )
        return self


def read_secret(value: SecretStr | None, file: str) -> str:
    """A secret given inline or as a file (whose surrounding whitespace is dropped)."""
    if file:
        return Path(file).read_text(encoding="utf-8").strip()
    return value.get_secret_value() if value is not None else ""
