"""The email integration: Alertmanager 0.25's `email_configs`, delivered over SMTP with aiosmtplib.

One attempt is one SMTP session, in Alertmanager's order: connect (implicit TLS when the
smarthost's port is 465), EHLO, STARTTLS when `require_tls`, AUTH when the server offers it and a
username is set, then MAIL, RCPT and DATA. The message is composed first, so a template error
fails the attempt without opening a connection.

The HTML part: Alertmanager renders it with Go's html/template, which escapes every value for
where it lands in the page, and drops HTML comments from the template's text. Our template engine
is text/template only, so `html_data` escapes the data instead (what html/template does to values
in text and in quoted attributes, and to URLs at the start of an href), and comments are removed
from the result. Values computed in a template (`len`, `match`, ...) see the escaped text, and
`safeHtml` cannot undo the escaping.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import socket
import ssl
import string
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib
from pydantic import Field, SecretStr, StrictBool, field_validator, model_validator

from alerting.channels import ChannelContext, DeliveryError, Notification, template_data
from alerting.configbase import Model, TLSConfig, relative_to_config
from alerting.labels import go_quote
from alerting.template.alertmanager import (
    KV,
    AlertData,
    Alerts,
    NotificationData,
    NotificationTemplates,
)
from alerting.template.errors import TemplateError

if TYPE_CHECKING:
    from alerting.config import GlobalConfig

SUBJECT = '{{ template "email.default.subject" . }}'
# Our default message (channels/templates/email.tmpl). Alertmanager's is
# `{{ template "email.default.html" . }}` with no text part; a receiver may still ask for it.
DEFAULT_HTML = '{{ template "email.alerting.html" . }}'
DEFAULT_TEXT = '{{ template "email.alerting.text" . }}'
IMPLICIT_TLS_PORT = "465"  # Alertmanager 0.25 decides by the port alone
TIMEOUT = 30.0  # seconds for the connection and for each SMTP command

UNKNOWN_KEY_HINTS: Mapping[str, str] = {
    "force_implicit_tls": (
        "force_implicit_tls came with Alertmanager 0.31; in 0.25 the smarthost's port decides "
        "(465: implicit TLS, any other: STARTTLS)"
    ),
}


# ---------------------------------------------------------------- configuration


class EmailSpec(Model):
    """One entry of a receiver's `email_configs`, as Alertmanager 0.25 accepts it.

    None (or "", as in Alertmanager) means the global smtp_* value applies.
    """

    send_resolved: StrictBool = False
    to: str | None = None  # comma-separated addresses; templated
    from_: str | None = Field(default=None, alias="from")  # templated
    hello: str | None = None
    smarthost: str | None = None  # host:port
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    auth_password_file: str | None = None  # read at every attempt; wins over auth_password
    auth_secret: SecretStr | None = None  # CRAM-MD5's shared secret
    auth_identity: str | None = None  # PLAIN's authorization identity
    headers: dict[str, str] = Field(default_factory=dict)  # templated; Subject, To, From default
    html: str = DEFAULT_HTML
    text: str = DEFAULT_TEXT
    require_tls: StrictBool | None = None
    tls_config: TLSConfig = Field(default_factory=TLSConfig)

    _resolve = field_validator("auth_password_file")(relative_to_config)

    @field_validator("smarthost")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value:
            split_smarthost(value)
        return value

    @field_validator("headers")
    @classmethod
    def _canonical_headers(cls, value: dict[str, str]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, template in value.items():
            canonical = canonical_header(name)
            if canonical in headers:
                raise ValueError(f"duplicate header {go_quote(canonical)} in email config")
            headers[canonical] = template
        return headers

    @model_validator(mode="after")
    def _to_required(self) -> EmailSpec:
        if not self.to:
            raise ValueError("missing to address in email config")
        return self


_TOKEN = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: "message-ID" is "Message-Id"; a name with a
    character no header name may hold stays as it is."""
    if not name or not _TOKEN.issuperset(name):
        return name
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def split_smarthost(value: str) -> tuple[str, str]:
    """Host and port as Go's net.SplitHostPort cuts them, with its messages, and Alertmanager's
    own check that the port is not empty."""
    why = _host_port_error(value)
    if why:
        raise ValueError(f"address {value}: {why}")
    host, _, port = value.rpartition(":")
    if not port:
        raise ValueError(f"address {go_quote(value)}: port cannot be empty")
    return host[1:-1] if host.startswith("[") else host, port


def _host_port_error(value: str) -> str:
    colon = value.rfind(":")
    if colon < 0:
        return "missing port in address"
    first, last = 0, 0  # where a '[' or a ']' may no longer appear
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return "missing ']' in address"
        if end + 1 != colon:
            after = value[end + 1 : end + 2]
            return "too many colons in address" if after == ":" else "missing port in address"
        first, last = 1, end + 1
    elif ":" in value[:colon]:
        return "too many colons in address"
    if "[" in value[first:]:
        return "unexpected '[' in address"
    if "]" in value[last:]:
        return "unexpected ']' in address"
    return ""


def email_problems(
    specs: Sequence[EmailSpec], global_: GlobalConfig
) -> list[tuple[tuple[str | int, ...], str]]:
    """What Alertmanager checks once `global` is known, with its messages; and a `hello` that
    cannot go into an EHLO command."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, spec in enumerate(specs):
        where: tuple[str | int, ...] = ("email_configs", index)
        if not spec.smarthost:
            if not global_.smtp_smarthost:
                problems.append(((*where, "smarthost"), "no global SMTP smarthost set"))
            else:
                problems += _global_smarthost_problems(where, global_.smtp_smarthost)
        if not spec.from_ and not global_.smtp_from:
            problems.append(((*where, "from"), "no global SMTP from set"))
        hello_problem = _hello_problem(_hello_name(spec, global_))
        if hello_problem:
            problems.append(((*where, "hello"), hello_problem))
    return problems


_HELLO = re.compile(r"[^\s\x00-\x1f\x7f]+")


def _hello_name(spec: EmailSpec, global_: GlobalConfig) -> str:
    return spec.hello or global_.smtp_hello or "localhost"  # Go's client says localhost


def _hello_problem(hello: str) -> str:
    """Alertmanager would send a broken EHLO; aiosmtplib refuses to, so we say so at load."""
    if _HELLO.fullmatch(hello):
        return ""
    return f"hello {go_quote(hello)} must be a host name, without spaces"


def _global_smarthost_problems(
    where: tuple[str | int, ...], smarthost: str
) -> list[tuple[tuple[str | int, ...], str]]:
    try:
        split_smarthost(smarthost)
    except ValueError as error:
        return [((*where, "smarthost"), f"global smtp_smarthost: {error}")]
    return []


@dataclass(frozen=True, slots=True)
class SMTPSettings:
    """One entry's connection and login, global fallbacks applied as Alertmanager applies them."""

    host: str
    port: str
    hello: str
    require_tls: bool
    username: str
    password: SecretStr | None
    password_file: str
    secret: SecretStr | None
    identity: str

    @property
    def smarthost(self) -> str:
        """As Alertmanager prints it (net.JoinHostPort)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def read_password(self) -> str:
        """The password, its file read now (so a rotated file applies); OSError if unreadable."""
        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        return self.password.get_secret_value() if self.password is not None else ""


def smtp_settings(spec: EmailSpec, global_: GlobalConfig) -> SMTPSettings:
    smarthost = spec.smarthost or global_.smtp_smarthost
    if not smarthost:
        raise ValueError("no global SMTP smarthost set")
    host, port = split_smarthost(smarthost)
    hello = _hello_name(spec, global_)
    problem = _hello_problem(hello)
    if problem:
        raise ValueError(problem)
    # Alertmanager takes the global password and file together, only when the entry has neither.
    if spec.auth_password is not None or spec.auth_password_file:
        password, password_file = spec.auth_password, spec.auth_password_file or ""
    else:
        password, password_file = global_.smtp_auth_password, global_.smtp_auth_password_file
    return SMTPSettings(
        host=host,
        port=port,
        hello=hello,
        require_tls=global_.smtp_require_tls if spec.require_tls is None else spec.require_tls,
        username=spec.auth_username or global_.smtp_auth_username,
        password=password,
        password_file=password_file,
        secret=spec.auth_secret or global_.smtp_auth_secret,
        identity=spec.auth_identity or global_.smtp_auth_identity,
    )


# ---------------------------------------------------------------- the message

# Every header unstructured: written as rendered (RFC 2047-encoded where not ASCII), as
# Alertmanager writes them, instead of being parsed as addresses or dates on the way.
_POLICY = policy.SMTP.clone(header_factory=HeaderRegistry(use_default_map=False))
# Ours describe the message's structure; a receiver's `headers` cannot replace them.
_STRUCTURAL = frozenset({"Content-Type", "Mime-Version", "Content-Transfer-Encoding"})
_LINE_BREAK = re.compile(r"\r\n|[\r\n]")


@dataclass(frozen=True, slots=True)
class Envelope:
    sender: str
    recipients: list[str]
    message: bytes


def build_message(
    headers: Mapping[str, str], text: str, html: str, date: float, message_id: str
) -> bytes:
    """multipart/alternative with a text part, then an HTML part (the preferred one comes last),
    each only when not empty, both quoted-printable, as Alertmanager builds it.

    `headers` are the rendered ones, by canonical name; Message-Id and Date are added unless
    given. A line break in a header value becomes a space: a header is one line.
    """
    message = EmailMessage(policy=_POLICY)
    for name, value in headers.items():
        if name not in _STRUCTURAL:
            message[name] = _LINE_BREAK.sub(" ", value)
    if "Message-Id" not in headers:
        message["Message-Id"] = message_id
    if "Date" not in headers:
        message["Date"] = format_datetime(datetime.fromtimestamp(date).astimezone())
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = f'multipart/alternative; boundary="{secrets.token_hex(15)}"'
    message.set_payload([])
    for body, subtype in ((text, "plain"), (html, "html")):
        if body:
            part = MIMEPart(policy=_POLICY)
            part.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
            message.attach(part)
    return message.as_bytes()


def message_id(hostname: str) -> str:
    """Alertmanager's form: <unix nanoseconds.random uint64@hostname>."""
    return f"<{time.time_ns()}.{secrets.randbits(64)}@{hostname}>"


def parse_addresses(text: str) -> list[str]:
    """The addresses of a comma-separated list (empty entries skipped, as Go's
    mail.ParseAddressList skips them); ValueError naming what is wrong."""
    try:
        header = policy.default.header_factory("To", text)
    except Exception:  # the stdlib's parser raises IndexError on some inputs
        raise ValueError(f"invalid address list {go_quote(text)}") from None
    problems = [d for d in header.defects if "entry with no content" not in str(d)]
    if problems:
        raise ValueError(f"{go_quote(text)}: {str(problems[0]).lower()}")
    addresses = [a.addr_spec for a in header.addresses]
    if not addresses:
        raise ValueError("no address")
    for address in addresses:
        local, at, domain = address.rpartition("@")
        if not (local and at and domain):
            raise ValueError(f"{go_quote(address)} is not an address (local-part@domain)")
    return addresses


# What Go's html/template writes for a value in HTML text and in quoted attributes.
_HTML_ESCAPES = str.maketrans(
    {
        "\0": "\ufffd",
        '"': "&#34;",
        "&": "&amp;",
        "'": "&#39;",
        "+": "&#43;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
_URL_KEEP = frozenset(string.ascii_letters + string.digits + "!#$&*+,/:;=?@[]-._~")
_HEX = frozenset(string.hexdigits)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def html_escape(text: str) -> str:
    return text.translate(_HTML_ESCAPES)


def html_url(url: str) -> str:
    """A URL as html/template writes it at the start of an href: other schemes than http(s)
    and mailto replaced by "#ZgotmplZ", then percent-encoded where a URL may not hold the
    character (existing escapes kept), then escaped for the attribute."""
    scheme, colon, _ = url.partition(":")
    if colon and "/" not in scheme and scheme.lower() not in ("http", "https", "mailto"):
        url = "#ZgotmplZ"
    raw = url.encode("utf-8", "surrogatepass")
    out = []
    for i, byte in enumerate(raw):
        char = chr(byte)
        escape_kept = (
            char == "%" and i + 2 < len(raw) and _HEX.issuperset(chr(b) for b in raw[i + 1 : i + 3])
        )
        out.append(char if char in _URL_KEEP or escape_kept else f"%{byte:02x}")
    return html_escape("".join(out))


def _html_kv(kv: KV) -> KV:
    return KV((html_escape(k), html_escape(v)) for k, v in kv.items())


def html_data(data: NotificationData) -> NotificationData:
    """`data` with what alerts bring in escaped for HTML (see the module's docstring).

    The receiver's name is left alone: it only ever reaches HTML through `urlquery`.
    """
    alerts = Alerts(
        AlertData(
            status=a.status,
            labels=_html_kv(a.labels),
            annotations=_html_kv(a.annotations),
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            generator_url=html_url(a.generator_url),
            fingerprint=a.fingerprint,
        )
        for a in data.alerts
    )
    return NotificationData(
        receiver=data.receiver,
        status=data.status,
        alerts=alerts,
        group_labels=_html_kv(data.group_labels),
        common_labels=_html_kv(data.common_labels),
        common_annotations=_html_kv(data.common_annotations),
        external_url=html_url(data.external_url),
        escalation=data.escalation,
    )


def strip_html_comments(html: str) -> str:
    """html/template drops comments from the template's text; escaped data holds none."""
    return _HTML_COMMENT.sub("", html)


# ---------------------------------------------------------------- the SMTP session


@dataclass(frozen=True, slots=True)
class Login:
    """One AUTH exchange, with the mechanism Alertmanager would pick."""

    mechanism: str  # CRAM-MD5, PLAIN or LOGIN
    username: str
    password: str = field(repr=False)  # for CRAM-MD5, the shared secret
    identity: str = ""

    def secrets(self) -> list[str]:
        """What must never appear in a message: the password, alone and as sent."""
        blobs = [self.password, f"{self.identity}\0{self.username}\0{self.password}"]
        return [self.password, *(base64.b64encode(b.encode()).decode() for b in blobs)]

    async def run(self, smtp: aiosmtplib.SMTP) -> None:
        if self.mechanism == "CRAM-MD5":
            await smtp.auth_crammd5(self.username, self.password)
        elif self.mechanism == "LOGIN":
            await smtp.auth_login(self.username, self.password)
        else:
            await self._plain(smtp)

    async def _plain(self, smtp: aiosmtplib.SMTP) -> None:
        # aiosmtplib's auth_plain sends no authorization identity; Alertmanager sends auth_identity.
        blob = f"{self.identity}\0{self.username}\0{self.password}".encode()
        response = await smtp.execute_command(b"AUTH", b"PLAIN", base64.b64encode(blob))
        if response.code != 235:
            raise aiosmtplib.SMTPAuthenticationError(response.code, response.message)


def choose_login(settings: SMTPSettings, offered: Sequence[str]) -> Login:
    """The first mechanism the server offers that Alertmanager knows and has credentials for;
    DeliveryError with every reason otherwise."""
    reasons: list[str] = []
    for mechanism in (m.upper() for m in offered):
        if mechanism == "CRAM-MD5":
            secret = settings.secret.get_secret_value() if settings.secret is not None else ""
            if secret:
                return Login(mechanism, settings.username, secret)
            reasons.append("missing secret for CRAM-MD5 auth mechanism")
        elif mechanism in ("PLAIN", "LOGIN"):
            try:
                password = settings.read_password()
            except OSError as error:
                reasons.append(f"could not read {settings.password_file}: {_reason(error)}")
                continue
            if password:
                return Login(mechanism, settings.username, password, settings.identity)
            reasons.append(f"missing password for {mechanism} auth mechanism")
    if not reasons:
        reasons.append("unknown auth mechanism: " + " ".join(offered))
    raise DeliveryError("find auth mechanism: " + "; ".join(reasons), retryable=True)


@contextmanager
def smtp_step(what: str, hide: Sequence[str] = ()) -> Iterator[None]:
    """Turns a failure of one step into a retryable DeliveryError named as Alertmanager names
    the step; `hide` are secrets the server might have echoed."""
    try:
        yield
    except aiosmtplib.SMTPResponseException as error:
        message = f"{what}: {error.code} {error.message}"
    except (aiosmtplib.SMTPException, OSError) as error:  # timeouts and ssl errors are OSErrors
        message = f"{what}: {_reason(error)}"
    else:
        return
    for secret in hide:
        if secret:
            message = message.replace(secret, "<hidden>")
    raise DeliveryError(message, retryable=True) from None


def _reason(error: BaseException) -> str:
    cause = error.__cause__
    if isinstance(error, aiosmtplib.SMTPConnectError) and isinstance(cause, ssl.SSLError):
        return _reason(cause)  # aiosmtplib's wrapping names the port, which it does not know
    if isinstance(error, TimeoutError) and not str(error):
        return "timeout"
    if isinstance(error, socket.gaierror):
        return str(error.strerror)
    if isinstance(error, OSError) and error.errno and not isinstance(error, ssl.SSLError):
        return os.strerror(error.errno)  # asyncio puts the address into strerror
    return str(error) or type(error).__name__


async def dial(host: str, port: str) -> socket.socket:
    """A connected non-blocking socket to the first address of `host` that answers."""
    loop = asyncio.get_running_loop()
    error: OSError = OSError(f"no address for {host}")
    addresses = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error


_LOCALHOST = frozenset({"localhost", "127.0.0.1", "::1"})


class EmailChannel:
    """Sends each notification as one email through one smarthost."""

    kind = "email"

    def __init__(
        self,
        spec: EmailSpec,
        templates: NotificationTemplates,
        global_: GlobalConfig,
        *,
        implicit_tls_port: str = IMPLICIT_TLS_PORT,  # tests use another port than 465
        timeout: float = TIMEOUT,
    ) -> None:
        self.spec = spec
        self.send_resolved = spec.send_resolved
        self.settings = smtp_settings(spec, global_)
        self._templates = templates
        self._from = spec.from_ or global_.smtp_from
        self._to = spec.to or ""
        # Alertmanager fills in Subject, To and From unless the receiver sets them.
        self._headers = {"Subject": SUBJECT, "To": self._to, "From": self._from, **spec.headers}
        self._implicit_tls = self.settings.port == implicit_tls_port
        context = spec.tls_config.ssl_context()  # loads the files now: a bad one fails here
        self._tls = context if isinstance(context, ssl.SSLContext) else ssl.create_default_context()
        self._tls_name = spec.tls_config.server_name or self.settings.host or "localhost"
        self._timeout = timeout
        self._hostname = socket.gethostname()  # Message-Id's right side, as Alertmanager's

    async def send(self, notification: Notification) -> None:
        envelope = self.compose(notification)
        smtp = await self._connect()
        try:
            await self._converse(smtp, envelope)
        finally:
            await _quit(smtp)

    async def close(self) -> None:
        """Nothing to release: each attempt opens and closes its own connection."""

    # ------------------------------------------------------------ composing

    def compose(self, notification: Notification) -> Envelope:
        """The envelope and the message; DeliveryError (not retryable) if a template fails or
        an address does not parse."""
        data = template_data(notification)
        sender = self._render("'from' template", self._from, data)
        to = self._render("'to' template", self._to, data)
        senders = _addresses("'from'", sender)
        if len(senders) != 1:
            raise DeliveryError(
                f"must be exactly one 'from' address (got: {len(senders)})", retryable=False
            )
        recipients = _addresses("'to'", to)
        headers = {
            name: self._render(f"{go_quote(name)} header template", template, data)
            for name, template in self._headers.items()
        }
        text = self._render("text template", self.spec.text, data)
        html = ""
        if self.spec.html:
            html = self._render("html template", self.spec.html, html_data(data))
        body = build_message(
            headers, text, strip_html_comments(html), notification.now, message_id(self._hostname)
        )
        return Envelope(senders[0], recipients, body)

    def _render(self, what: str, template: str, data: NotificationData) -> str:
        try:
            return self._templates.render(template, data)
        except TemplateError as error:
            raise DeliveryError(f"execute {what}: {error.go_error}", retryable=False) from None

    # ------------------------------------------------------------ the conversation

    async def _connect(self) -> aiosmtplib.SMTP:
        where = "establish connection to server"
        if self._implicit_tls:
            where = "establish TLS connection to server"
        with smtp_step(f"{where}: dial tcp {self.settings.smarthost}"):
            async with asyncio.timeout(self._timeout):
                sock = await dial(self.settings.host, self.settings.port)
        smtp = aiosmtplib.SMTP(
            sock=sock,
            hostname=self._tls_name,  # with a socket given, only the name TLS checks
            use_tls=self._implicit_tls,
            start_tls=False,
            tls_context=self._tls,
            local_hostname=self.settings.hello,
            timeout=self._timeout,
        )
        with smtp_step(where if self._implicit_tls else "create SMTP client"):
            try:
                await smtp.connect()
            except BaseException:
                sock.close()
                raise
        return smtp

    async def _converse(self, smtp: aiosmtplib.SMTP, envelope: Envelope) -> None:
        with smtp_step("send EHLO command"):
            await _greet(smtp)
        # Alertmanager 0.25 asks for STARTTLS on port 465 too, where the connection is already
        # encrypted, and fails; later versions skip it, and so do we.
        if self.settings.require_tls and not self._implicit_tls:
            await self._start_tls(smtp)
        if smtp.supports_extension("auth") and self.settings.username:
            await self._log_in(smtp)
        with smtp_step("send MAIL command"):
            await smtp.mail(envelope.sender, encoding="utf-8")
        for recipient in envelope.recipients:
            with smtp_step("send RCPT command"):
                await smtp.rcpt(recipient, encoding="utf-8")
        with smtp_step("send DATA command"):
            await smtp.data(envelope.message)

    async def _start_tls(self, smtp: aiosmtplib.SMTP) -> None:
        if not smtp.supports_extension("starttls"):
            raise DeliveryError(
                f"'require_tls' is true (default) but {go_quote(self.settings.smarthost)} "
                "does not advertise the STARTTLS extension",
                retryable=True,
            )
        with smtp_step("send STARTTLS command"):
            await smtp.starttls(server_hostname=self._tls_name)
            await _greet(smtp)  # what the server offers may differ once encrypted

    async def _log_in(self, smtp: aiosmtplib.SMTP) -> None:
        login = choose_login(self.settings, smtp.esmtp_extensions["auth"].split())
        encrypted = smtp.get_transport_info("sslcontext") is not None
        if login.mechanism == "PLAIN" and not encrypted and self.settings.host not in _LOCALHOST:
            # Go's PLAIN refuses to send a password in clear text to another host.
            raise DeliveryError("PLAIN auth: unencrypted connection", retryable=True)
        with smtp_step(f"{login.mechanism} auth", hide=login.secrets()):
            await login.run(smtp)


def _addresses(what: str, text: str) -> list[str]:
    try:
        return parse_addresses(text)
    except ValueError as error:
        raise DeliveryError(f"parse {what} addresses: {error}", retryable=False) from None


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO, and HELO if the server does not know EHLO, as Go's client does."""
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        await smtp.helo()


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    """QUIT politely if the connection still stands; its failure changes nothing."""
    try:
        if smtp.is_connected:
            await smtp.quit(timeout=min(5.0, smtp.timeout or 5.0))
    except (aiosmtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def email_channels(specs: Sequence[EmailSpec], ctx: ChannelContext) -> list[EmailChannel]:
    """A receiver's email integrations; email_problems has checked the global fallbacks."""
    return [EmailChannel(spec, ctx.templates, ctx.global_) for spec in specs]
