"""The PagerDuty integration: Alertmanager 0.25's `pagerduty_configs`, over PagerDuty's Events API v2.

The event is the one Alertmanager 0.25 sends, field for field and byte for byte, with one
deliberate difference: an event over PagerDuty's 512 KB limit is trimmed piece by piece
(`encode_event` says exactly how) where Alertmanager drops every custom detail at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import aiohttp
from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerting.channels import (
    ChannelContext,
    DeliveryError,
    Notification,
    posting,
    template_data,
)
from alerting.channels.webhook import USER_AGENT, check_http_url
from alerting.configbase import HTTPClientConfig, Model, relative_to_config
from alerting.gojson import go_json
from alerting.httpclient import HTTPSettings, http_settings, post_failure
from alerting.template.alertmanager import (
    NotificationData,
    NotificationTemplates,
    alert_status,
)
from alerting.template.errors import TemplateError

if TYPE_CHECKING:  # config imports this module; the channel only reads its globals
    from alerting.config import GlobalConfig

log = logging.getLogger(__name__)

# Alertmanager's maxEventSize: PagerDuty's "512 KB", in SI units.
MAX_EVENT_BYTES = 512_000
SUMMARY_LIMIT = 1024  # characters; PagerDuty's limit of payload.summary
_BODY_LIMIT = 64 * 1024  # of an error response: enough for PagerDuty's JSON, bounded for a proxy's

DEFAULT_DETAILS: Mapping[str, str] = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}

_V1_REFUSED = (
    "{key} is PagerDuty's Events API v1; this release speaks Events API v2 only: add an "
    '"Events API v2" integration to the PagerDuty service and write its integration key as '
    "{instead}"
)

# For the config loader's unknown-key messages: names people reach for.
UNKNOWN_KEY_HINTS: Mapping[str, str] = {
    "integration_key": "write routing_key (the integration key of an Events API v2 integration)",
    "api_key": "write routing_key (the integration key of an Events API v2 integration)",
    "dedup_key": "the dedup key is the SHA-256 of the group key; it cannot be set",
}


# ---------------------------------------------------------------- configuration


def _detail_value(value: object) -> object:
    # Go reads a YAML number or null into a string field; pydantic would refuse them.
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


DetailValue = Annotated[str, BeforeValidator(_detail_value)]


class PagerdutyImage(Model):
    src: str = ""
    alt: str = ""
    href: str = ""


class PagerdutyLink(Model):
    href: str = ""
    text: str = ""


class PagerdutySpec(Model):
    """One entry of a receiver's `pagerduty_configs`, as Alertmanager 0.25 accepts it, less the
    Events API v1 keys (`service_key`, `service_key_file`), which are refused with advice."""

    send_resolved: StrictBool = True
    # None: inherit global.http_config (pagerduty_channels takes that one).
    http_config: HTTPClientConfig | None = None
    routing_key: SecretStr | None = None
    routing_key_file: str = ""
    # Present only to refuse them with a message that says what to write instead.
    service_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    service_key_file: str | None = Field(default=None, exclude=True, repr=False)
    url: str | None = None  # None: global.pagerduty_url
    client: str = '{{ template "pagerduty.default.client" . }}'
    client_url: str = '{{ template "pagerduty.default.clientURL" . }}'
    description: str = '{{ template "pagerduty.default.description" .}}'
    details: dict[str, DetailValue] = Field(default_factory=lambda: dict(DEFAULT_DETAILS))
    images: list[PagerdutyImage] = Field(default_factory=list)
    links: list[PagerdutyLink] = Field(default_factory=list)
    source: str = ""  # "": the client, as Alertmanager fills it in
    severity: str = "error"
    class_: str = Field(default="", alias="class")
    component: str = ""
    group: str = ""

    _resolve = field_validator("routing_key_file")(relative_to_config)

    @field_validator("service_key", "service_key_file", mode="before")
    @classmethod
    def _no_events_v1(cls, value: object, info: ValidationInfo) -> None:
        instead = "routing_key_file" if info.field_name == "service_key_file" else "routing_key"
        raise ValueError(_V1_REFUSED.format(key=info.field_name, instead=instead))

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @field_validator("details", mode="before")
    @classmethod
    def _with_defaults(cls, value: object) -> object:
        # Alertmanager adds each default detail the config does not set itself.
        if value is None:
            return dict(DEFAULT_DETAILS)
        if isinstance(value, dict):
            return {**DEFAULT_DETAILS, **value}
        return value

    @model_validator(mode="after")
    def _one_routing_key(self) -> PagerdutySpec:
        inline = self.routing_key is not None and self.routing_key.get_secret_value() != ""
        if not inline and not self.routing_key_file:
            raise ValueError("missing service or routing key in PagerDuty config")
        if inline and self.routing_key_file:
            raise ValueError("at most one of routing_key & routing_key_file must be configured")
        return self


def pagerduty_problems(
    specs: Sequence[PagerdutySpec], global_: GlobalConfig
) -> list[tuple[tuple[str | int, ...], str]]:
    """What Alertmanager checks once `global` is known: an entry without `url` needs a usable
    global.pagerduty_url. Paths are relative to the receiver entry."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, spec in enumerate(specs):
        if spec.url is not None:
            continue
        if not global_.pagerduty_url:
            problems.append((("pagerduty_configs", index), "no global PagerDuty URL set"))
            continue
        try:
            check_http_url(global_.pagerduty_url)
        except ValueError as exc:
            problems.append((("pagerduty_configs", index), f"global.pagerduty_url: {exc}"))
    return problems


# ---------------------------------------------------------------- the event


def dedup_key(group_key: str) -> str:
    """Alertmanager's hashKey: the hex SHA-256 of the group key, the same for every event of a
    group, so PagerDuty folds them into one incident."""
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


def truncate(text: str, limit: int) -> str:
    """Alertmanager's Truncate: at most `limit` characters, the last one "…" when cut."""
    if len(text) <= limit:
        return text
    return text[:limit] if limit <= 3 else text[: limit - 1] + "…"


Render = Callable[[str, str], str]  # (field name for errors, template text) -> text


def build_event(
    spec: PagerdutySpec, action: str, key: str, routing_key: str, render: Render
) -> dict[str, Any]:
    """The v2 event Alertmanager 0.25 builds, as a dict in its JSON field order.

    Resolve events carry the whole payload too, as Alertmanager's do. Fields that render empty
    are left out where Alertmanager's encoder omits them (omitempty); images without a src and
    links without an href are dropped.
    """
    details = {name: render(f"details.{name}", text) for name, text in spec.details.items()}
    payload: dict[str, Any] = {
        "summary": truncate(render("description", spec.description), SUMMARY_LIMIT),
        "source": render("source", spec.source or spec.client),
        "severity": render("severity", spec.severity or "error"),
    }
    for name, text in (
        ("class", spec.class_),
        ("component", spec.component),
        ("group", spec.group),
    ):
        _put(payload, name, render(name, text))
    _put(payload, "custom_details", dict(sorted(details.items())))  # Go sorts map keys
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "dedup_key": key,
        "event_action": action,
        "payload": payload,
    }
    _put(event, "client", render("client", spec.client))
    _put(event, "client_url", render("client_url", spec.client_url))
    _put(event, "images", _images(spec.images, render))
    _put(event, "links", _links(spec.links, render))
    return event


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    if value:
        target[name] = value


def _images(images: Sequence[PagerdutyImage], render: Render) -> list[dict[str, str]]:
    out = []
    for i, image in enumerate(images):
        item = {
            "src": render(f"images[{i}].src", image.src),
            "alt": render(f"images[{i}].alt", image.alt),
            "href": render(f"images[{i}].href", image.href),
        }
        if item["src"]:
            out.append(item)
    return out


def _links(links: Sequence[PagerdutyLink], render: Render) -> list[dict[str, str]]:
    out = []
    for i, link in enumerate(links):
        item = {
            "href": render(f"links[{i}].href", link.href),
            "text": render(f"links[{i}].text", link.text),
        }
        if item["href"]:
            out.append(item)
    return out


_CUT_NOTE = "\n… [{cut} characters cut: PagerDuty takes events of at most 512 KB]"
# Fields cut to SUMMARY_LIMIT characters in the second round of trimming.
_FREE_TEXT = (
    ("payload", "source"),
    ("payload", "class"),
    ("payload", "component"),
    ("payload", "group"),
    ("client",),
    ("client_url",),
)


def encode_event(event: dict[str, Any]) -> tuple[bytes, list[str]]:
    """The event as Go's encoder writes it, and the names of the fields trimmed to make it fit
    in MAX_EVENT_BYTES (none for any event that fits, which is then Alertmanager's byte for byte).

    An event that does not fit is trimmed, never dropped, in three rounds, each only while the
    event is still too large:
    1. custom_details: the longest value is cut down, its beginning kept and the note
       "… [N characters cut: PagerDuty takes events of at most 512 KB]" appended; then the
       longest again, and so on. The default `firing` / `resolved` alert lists are what grows
       with a group, so they are what goes first.
    2. payload source, class, component, group, and client, client_url: each cut to 1024
       characters as the summary is (its last one "…").
    3. images, then links: dropped from the last one back.
    What is left (routing key, dedup key, summary, severity, detail names) is bounded by the
    config; should it still not fit, the event goes out as it is and PagerDuty's 400 says so.
    """
    body = _encode(event)
    trimmed: list[str] = []
    if len(body) > MAX_EVENT_BYTES:
        body = _cut_details(event, body, trimmed)
    if len(body) > MAX_EVENT_BYTES:
        body = _cut_free_text(event, trimmed)
    while len(body) > MAX_EVENT_BYTES and (event.get("images") or event.get("links")):
        name = "images" if event.get("images") else "links"
        event[name].pop()
        if not event[name]:
            del event[name]
        trimmed.append(name)
        body = _encode(event)
    return body, list(dict.fromkeys(trimmed))


def _encode(event: dict[str, Any]) -> bytes:
    # json.Encoder.Encode ends the value with a newline; Alertmanager sends it.
    return (go_json(event) + "\n").encode("utf-8")


def _cut_details(event: dict[str, Any], body: bytes, trimmed: list[str]) -> bytes:
    details: dict[str, str] = event.get("payload", {}).get("custom_details", {})
    originals = dict(details)
    kept = {name: len(value) for name, value in details.items()}
    while len(body) > MAX_EVENT_BYTES:
        name = max(kept, key=lambda n: kept[n], default=None)
        if name is None or kept[name] <= len(_CUT_NOTE):  # cutting would only add the note
            break
        keep = _chars_to_keep(originals[name][: kept[name]], len(body) - MAX_EVENT_BYTES)
        kept[name] = min(keep, kept[name] - 1)  # always progress, whatever the estimate said
        cut = len(originals[name]) - kept[name]
        details[name] = originals[name][: kept[name]] + _CUT_NOTE.format(cut=cut)
        trimmed.append(f"custom_details.{name}")
        body = _encode(event)
    return body


def _chars_to_keep(value: str, excess: int) -> int:
    """How many of `value`'s leading characters to keep so that the event loses `excess` bytes
    and still has room for the note; estimated from the value's mean encoded size."""
    encoded = len(go_json(value).encode("utf-8")) - 2  # without the quotes
    per_char = max(encoded / max(len(value), 1), 1.0)
    room = excess + len(_CUT_NOTE.format(cut=len(value)).encode("utf-8")) * 2
    return max(len(value) - math.ceil(room / per_char), 0)


def _cut_free_text(event: dict[str, Any], trimmed: list[str]) -> bytes:
    for path in _FREE_TEXT:
        parent = event.get("payload", {}) if path[0] == "payload" else event
        name = path[-1]
        value = parent.get(name)
        if isinstance(value, str) and len(value) > SUMMARY_LIMIT:
            parent[name] = truncate(value, SUMMARY_LIMIT)
            trimmed.append(".".join(path))
    return _encode(event)


def event_action(notification: Notification) -> str:
    """trigger while any alert fires, resolve once all have resolved (Alertmanager's Status)."""
    firing = any(alert_status(a, notification.now) == "firing" for a in notification.alerts)
    return "trigger" if firing else "resolve"


# ---------------------------------------------------------------- the channel


class PagerdutyChannel:
    """Sends one Events API v2 event per notification; the session is shared, not ours."""

    kind = "pagerduty"

    def __init__(
        self,
        spec: PagerdutySpec,
        *,
        url: str,
        session: aiohttp.ClientSession,
        http_settings: HTTPSettings,
        templates: NotificationTemplates,
    ) -> None:
        self.spec = spec
        self.send_resolved = spec.send_resolved
        self._url = url
        self._session = session
        self._http = http_settings
        self._templates = templates

    async def send(self, notification: Notification) -> None:
        data = template_data(notification)
        routing_key = self._routing_key(data)
        event = build_event(
            self.spec,
            event_action(notification),
            dedup_key(notification.group_key),
            routing_key,
            self._renderer(data),
        )
        body, trimmed = encode_event(event)
        if trimmed:
            log.warning(
                "PagerDuty event trimmed to PagerDuty's 512 KB limit",
                extra={"group_key": notification.group_key, "trimmed": trimmed, "bytes": len(body)},
            )
        await self._post(body, routing_key)

    async def acknowledge(self, group_key: str, notification: Notification | None = None) -> None:
        """Acknowledge the group's incident: an `acknowledge` event with the group's dedup key.

        A routing key that is a template needs the group's alerts to render, so
        `notification` (the group's last) must then be given.
        """
        data = template_data(notification) if notification is not None else None
        event = {
            "routing_key": self._routing_key(data),
            "dedup_key": dedup_key(group_key),
            "event_action": "acknowledge",
        }
        body, _ = encode_event(event)
        await self._post(body, event["routing_key"])

    async def acknowledged(self, group_key: str, by: str) -> None:
        """Someone acknowledged the whole group here: so is its incident in PagerDuty. (Who did
        cannot travel: an acknowledge event has no field for it.)"""
        await self.acknowledge(group_key)

    async def close(self) -> None:
        """Nothing to release: the pooled session belongs to whoever created it."""

    def _routing_key(self, data: NotificationData | None) -> str:
        key = self._read_routing_key()
        # Text without an action renders as itself; not rendering it keeps the secret out of
        # the template cache.
        if "{{" in key:
            key = self._render_routing_key(key, data)
        if not key:
            raise DeliveryError("routing key cannot be empty", retryable=False)
        return key

    def _read_routing_key(self) -> str:
        if not self.spec.routing_key_file:
            assert self.spec.routing_key is not None  # PagerdutySpec guarantees one of them
            return self.spec.routing_key.get_secret_value()
        # Read at every send, so a rotated key applies without a reload.
        try:
            return Path(self.spec.routing_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            # Retried, as an unreadable http_config credentials file is: a mounted secret may
            # appear or come back before the flush deadline.
            reason = exc.strerror or type(exc).__name__
            raise DeliveryError(
                f"failed to read routing key from file {self.spec.routing_key_file}: {reason}",
                retryable=True,
            ) from None

    def _render_routing_key(self, key: str, data: NotificationData | None) -> str:
        if data is None:
            raise DeliveryError(
                "routing_key is a template: acknowledging needs the group's notification",
                retryable=False,
            )
        try:
            return self._templates.render(key, data)
        except TemplateError:
            # Go's message quotes the template's text, which is the secret.
            raise DeliveryError(
                "failed to template PagerDuty v2 message: routing_key: the template failed "
                "(details withheld: the routing key is secret)",
                retryable=False,
            ) from None

    def _renderer(self, data: NotificationData) -> Render:
        def render(name: str, text: str) -> str:
            try:
                return self._templates.render(text, data)
            except TemplateError as exc:
                raise DeliveryError(
                    f"failed to template PagerDuty v2 message: {name}: {exc.go_error}",
                    retryable=False,
                ) from None

        return render

    async def _post(self, body: bytes, routing_key: str) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        # As Alertmanager wraps Go's url.Error.
        with posting(f"failed to post message to PagerDuty: {post_failure(self._url)}"):
            kwargs = self._http.request_kwargs(self._url, headers)
            async with self._session.post(self._url, data=body, **kwargs) as response:
                content = await _read_bounded(response)
                _check(response, content, routing_key)


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """The body up to _BODY_LIMIT bytes; read on success too, so the connection is reused."""
    data = bytearray()
    while len(data) < _BODY_LIMIT:
        chunk = await response.content.read(_BODY_LIMIT - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _check(response: aiohttp.ClientResponse, content: bytes, routing_key: str) -> None:
    """Nothing for 2xx; else the error Alertmanager reports, retryable for 429 and 5xx as
    PagerDuty documents, with its Retry-After if it sent one."""
    status = response.status
    if 200 <= status < 300:
        return
    message = f"unexpected status code {status}"
    if status == 400:
        message += _redact(_invalid_event_details(content), routing_key)
    if status == 429 or status >= 500:
        wait = retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))
        raise DeliveryError(message, retryable=True, retry_after=wait)
    raise DeliveryError(message, retryable=False)


def _invalid_event_details(content: bytes) -> str:
    """PagerDuty's `message` and `errors` of a 400, as Alertmanager prints them."""
    try:
        document = json.loads(content)
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    message = document.get("message")
    errors = document.get("errors")
    text = message if isinstance(message, str) else ""
    listed = [e for e in errors if isinstance(e, str)] if isinstance(errors, list) else []
    return f": {text}: {','.join(listed)}"


def retry_after(value: str | None, date: str | None = None) -> float | None:
    """Seconds a Retry-After header asks for: delay-seconds, or an HTTP date, counted from the
    response's Date (the server's own clock) or else from ours. None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    try:
        now = parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError, IndexError):
        now = time.time()
    return max(when - now, 0.0)


# Short keys would blank out ordinary words; PagerDuty's are 32 characters.
_REDACT_MIN = 8


def _redact(text: str, secret: str) -> str:
    """`text` with `secret` replaced, in case a service or a proxy echoes it back."""
    if len(secret) < _REDACT_MIN:
        return text
    return text.replace(secret, "<secret>")


def pagerduty_channels(
    specs: Sequence[PagerdutySpec], ctx: ChannelContext
) -> list[PagerdutyChannel]:
    """A receiver's PagerDuty integrations; entries without url or http_config use the global
    ones."""
    return [
        PagerdutyChannel(
            spec,
            url=spec.url or ctx.global_.pagerduty_url,
            session=ctx.session,
            http_settings=http_settings(spec.http_config or ctx.global_.http_config),
            templates=ctx.templates,
        )
        for spec in specs
    ]
