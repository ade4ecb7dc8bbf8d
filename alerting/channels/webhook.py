"""The webhook integration: Alertmanager 0.25's `webhook_configs` and its version-4 JSON message."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated

import aiohttp
from pydantic import Field, StrictBool, field_validator, model_validator

from alerting import __version__
from alerting.channels import ChannelContext, DeliveryError, Notification, posting
from alerting.configbase import HTTPClientConfig, Model
from alerting.gojson import go_json, pieces
from alerting.httpclient import HTTPSettings, http_settings, post_failure
from alerting.labels import go_quote
from alerting.model import Alert, encoded, fingerprints_at
from alerting.template.alertmanager import quote_meta
from alerting.template.gotime import GoTime

# Alertmanager 0.25 sends "Alertmanager/0.25.0". Receivers that look for that prefix keep
# working, and the product comment in parentheses says truthfully who sent the request.
USER_AGENT = f"Alertmanager/0.25.0 (compatible; alerting/{__version__})"
PAYLOAD_VERSION = "4"
_BODY_EXCERPT = 512

# For the config loader's unknown-key messages: keys of later Alertmanager versions.
UNKNOWN_KEY_HINTS: Mapping[str, str] = {
    "url_file": "url_file came with Alertmanager 0.26; Alertmanager 0.25 takes only url",
}


# ---------------------------------------------------------------- configuration


class WebhookSpec(Model):
    """One entry of a receiver's `webhook_configs`, as Alertmanager 0.25 accepts it."""

    send_resolved: StrictBool = True
    # None: the receiver inherits global.http_config (webhook_channels takes that one).
    http_config: HTTPClientConfig | None = None
    url: str | None = None
    # Alertmanager reads a uint64; it also truncates a YAML float, which we reject instead.
    max_alerts: Annotated[int, Field(ge=0, strict=True)] = 0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @model_validator(mode="after")
    def _url_required(self) -> WebhookSpec:
        if self.url is None:
            raise ValueError("missing URL in webhook config")
        return self


def check_http_url(value: str) -> str:
    """`value` if Alertmanager's URL type accepts it; else ValueError with Alertmanager's message.

    Go's url.Parse is reproduced for the errors users meet (stray spaces, bad escapes, ports),
    then Alertmanager's own checks: scheme http or https, and a host.
    """
    if _CONTROL.search(value.partition("#")[0]):  # Go looks for them before the fragment only
        raise ValueError(f"parse {go_quote(value)}: net/url: invalid control character in URL")
    parts = _UrlParts.split(value)
    error = parts.error()
    if error:
        raise ValueError(f"parse {go_quote(value)}: {error}")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {go_quote(parts.scheme)} for URL")
    if not parts.host:
        raise ValueError("missing host for URL")
    return value


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})(.{0,2})", re.DOTALL)
# In a host, Go takes percent-escapes only of non-ASCII bytes, and %25 (in IPv6 zones).
_BAD_HOST_ESCAPE = re.compile(r"%(?!25)[0-7][0-9A-Fa-f]")
_PORT = re.compile(r"(?::[0-9]*)?")
# ASCII characters Go's url.Parse allows besides letters and digits.
_HOST_EXTRA = frozenset("-_.~!$&'()*+,;=:[]<>\"%")
_USERINFO_EXTRA = frozenset("-._:~!$&'()*+,;=%@")


@dataclass(frozen=True, slots=True)
class _UrlParts:
    """A URL cut up the way Go's url.Parse cuts it."""

    scheme: str  # lowercased
    opaque: bool  # "scheme:rest" without "//": Go's opaque URL, which has no host
    userinfo: str
    host: str
    path: str
    fragment: str

    @classmethod
    def split(cls, value: str) -> _UrlParts:
        head, _, fragment = value.partition("#")
        scheme, colon, rest = head.partition(":")
        if not colon or not _SCHEME.fullmatch(scheme):
            scheme, rest = "", head
        rest = rest.partition("?")[0]
        if not rest.startswith("//"):
            return cls(scheme.lower(), bool(scheme), "", "", rest, fragment)
        authority, slash, path = rest[2:].partition("/")
        userinfo, _, host = authority.rpartition("@")
        return cls(scheme.lower(), False, userinfo, host, slash + path, fragment)

    def error(self) -> str:
        """The error url.Parse reports, or ""."""
        if not self.scheme and ":" in self.path.partition("/")[0] and not self.host:
            if self.path.startswith(":"):
                return "missing protocol scheme"
            return "first path segment in URL cannot contain colon"
        if self.opaque:
            return _escape_error(self.fragment)
        return (
            _host_error(self.host)
            or _userinfo_error(self.userinfo)
            or _escape_error(self.path)
            or _escape_error(self.fragment)
        )


def _host_error(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return "missing ']' in host"
        port = host[end + 1 :]
    else:
        port = host[host.rfind(":") :] if ":" in host else ""
    if not _PORT.fullmatch(port):
        return f"invalid port {go_quote(port)} after host"
    bad = _BAD_HOST_ESCAPE.search(host)
    if bad:
        return f"invalid URL escape {go_quote(bad.group(0))}"
    for ch in host:
        if ch < "\x80" and not ch.isalnum() and ch not in _HOST_EXTRA:
            return f"invalid character {go_quote(ch)} in host name"
    return _escape_error(host)


def _userinfo_error(userinfo: str) -> str:
    for ch in userinfo:
        if ch < "\x80" and not ch.isalnum() and ch not in _USERINFO_EXTRA:
            return "net/url: invalid userinfo"
    return ""


def _escape_error(text: str) -> str:
    bad = _BAD_ESCAPE.search(text)
    return f"invalid URL escape {go_quote(bad.group(0))}" if bad else ""


# ---------------------------------------------------------------- the message


def webhook_payload(notification: Notification, max_alerts: int = 0) -> bytes:
    """The request body Alertmanager 0.25 sends: its message version 4, encoded as Go does.

    With `max_alerts` only the first alerts go out, and status, common labels and common
    annotations are those of the alerts sent, as in Alertmanager.

    The fields are those of the templates' data (template.Data), taken straight from the alerts,
    and each alert is encoded on its own: in a large group, copying every alert into
    notification_data and then into a dict for json.dumps cost more than the encoding.
    """
    alerts = list(notification.alerts)
    kept = alerts[:max_alerts] if max_alerts else alerts
    now = notification.now
    resolved = [0.0 < a.ends_at <= now for a in kept]  # Alert.resolved_at, without the calls
    # Dicts keep insertion order, so structs come out in Go's field order; maps are sorted.
    before_alerts = {
        "receiver": quote_meta(notification.receiver),  # as Alertmanager shows it
        "status": "resolved" if kept and all(resolved) else "firing",
    }
    after_alerts = {
        "groupLabels": _sorted(notification.group_labels),
        "commonLabels": _sorted(_common([a.labels for a in kept])),
        "commonAnnotations": _sorted(_common([a.annotations for a in kept])),
        "externalURL": notification.external_url,
        "version": PAYLOAD_VERSION,
        "groupKey": notification.group_key,
        "truncatedAlerts": len(alerts) - len(kept),
    }
    head = go_json(before_alerts)[:-1] + ',"alerts":['  # the struct without its "}"
    # json.Encoder ends every value with a newline; Alertmanager encodes with one.
    tail = "]," + go_json(after_alerts)[1:] + "\n"  # the struct without its "{"
    parts = _alerts_json(kept, resolved, notification.keep_encodings)
    # The message may be megabytes: made by one join, with head and tail on the end parts,
    # rather than joined and then copied again to add them.
    if not parts:
        return (head + tail).encode()
    parts[0] = head.encode() + parts[0]
    parts[-1] += tail.encode()
    return b",".join(parts)


def _alerts_json(alerts: list[Alert], resolved: list[bool], keep: bool) -> list[bytes]:
    """Each alert's JSON, in order. Firing and resolved alerts are encoded apart (their JSON
    differs), and a large group is mostly firing: the all-firing case needs no reordering."""
    if not any(resolved):
        return encoded(alerts, "webhook/firing", _firing_json, keep)
    firing = [a for a, done in zip(alerts, resolved, strict=True) if not done]
    ended = [a for a, done in zip(alerts, resolved, strict=True) if done]
    firing_json = iter(encoded(firing, "webhook/firing", _firing_json, keep))
    ended_json = iter(encoded(ended, "webhook/resolved", _resolved_json, keep))
    return [next(ended_json) if done else next(firing_json) for done in resolved]


def _alert_json(alert: Alert, status: str) -> bytes:
    """One alert of the message (template.Alert), encoded as Go encodes its struct."""
    # Alertmanager hides an end time not yet reached: firing alerts show the zero time.
    ends_at = _timestamp(alert.ends_at if status == "resolved" else 0.0)
    return pieces(
        f'{{"status":"{status}","labels":',
        alert.labels,
        ',"annotations":',
        alert.annotations,
        f',"startsAt":"{_timestamp(alert.starts_at)}","endsAt":"{ends_at}","generatorURL":',
        alert.generator_url,
        f',"fingerprint":"{alert.fingerprint}"}}',
    )


_firing_json = functools.partial(_alert_json, status="firing")
_resolved_json = functools.partial(_alert_json, status="resolved")


def _sorted(values: Mapping[str, str]) -> dict[str, str]:
    # Go sorts map keys by their UTF-8 bytes, which is code point order.
    return dict(sorted(values.items()))


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    """The pairs all `maps` have (Alertmanager's common labels and annotations); none of none."""
    if not maps:
        return {}
    # Name by name, each map's value gathered and counted in C: a large group is scanned at
    # every flush, and a Python step per map (or a set compare per map) cost milliseconds.
    # Most names that are not common differ already in the last map, which is looked at first.
    last = maps[-1]
    return {
        name: value
        for name, value in maps[0].items()
        if last.get(name) == value
        and list(map(dict.get, maps, itertools.repeat(name))).count(value) == len(maps)
    }


@functools.lru_cache(maxsize=4096)  # alerts of one burst share their times
def _timestamp(unix: float) -> str:
    """Unix seconds (0: Go's zero time) as time.Time's JSON form."""
    return _rfc3339nano(GoTime.from_unix(unix))


def _rfc3339nano(t: GoTime) -> str:
    """time.Time's JSON form in UTC: RFC 3339 with the fraction's trailing zeros dropped."""
    text = _second(t.seconds)
    if t.nanos:
        text += "." + f"{t.nanos:09d}".rstrip("0")
    return text + "Z"


@functools.lru_cache(maxsize=4096)  # alerts of one burst share their seconds
def _second(seconds: int) -> str:
    d = GoTime(seconds).datetime()
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"


def idempotency_key(notification: Notification) -> str:
    """Hex digest naming one notification: receiver, group, which alerts fire or resolved, and
    the flush it belongs to.

    Retries and the replay after a crash resend the same flush, so they carry the same key; a
    repeat after repeat_interval is a new flush with the same alerts, and must not be dropped.
    """
    firing, resolved = fingerprints_at(notification.alerts, notification.now)
    identity = [
        notification.receiver,
        notification.group_key,
        sorted(firing),
        sorted(resolved),
        repr(notification.now),
    ]
    return hashlib.sha256(json.dumps(identity).encode("ascii")).hexdigest()[:32]


# ---------------------------------------------------------------- the channel


class WebhookChannel:
    """POSTs the version-4 message to one URL; the session is shared and owned by the caller."""

    kind = "webhook"

    def __init__(
        self,
        spec: WebhookSpec,
        *,
        session: aiohttp.ClientSession,
        http_settings: HTTPSettings,
    ) -> None:
        assert spec.url is not None  # WebhookSpec guarantees it
        self.spec = spec
        self.send_resolved = spec.send_resolved
        self._url = spec.url
        self._session = session
        self._http = http_settings

    async def send(self, notification: Notification) -> None:
        body = webhook_payload(notification, self.spec.max_alerts)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": idempotency_key(notification),
        }
        with posting(post_failure(self._url)):
            await self._post(body, headers)

    async def close(self) -> None:
        """Nothing to release: the pooled session belongs to whoever created it."""

    async def _post(self, body: bytes, headers: dict[str, str]) -> None:
        kwargs = self._http.request_kwargs(self._url, headers)
        async with self._session.post(self._url, data=body, **kwargs) as response:
            excerpt = await _excerpt(response)  # on success too: a drained connection is reused
            if 200 <= response.status < 300:
                return
            message = f"unexpected status code {response.status}"
            if excerpt:
                message += f": {excerpt}"
            # Alertmanager retries a webhook's 5xx only; 429 and other 4xx are final.
            raise DeliveryError(message, retryable=response.status >= 500)


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The start of the body, enough to say what went wrong without holding a huge page."""
    data = bytearray()
    while len(data) <= _BODY_EXCERPT:
        chunk = await response.content.read(_BODY_EXCERPT + 1 - len(data))
        if not chunk:
            break
        data += chunk
    text = bytes(data[:_BODY_EXCERPT]).decode("utf-8", "replace").strip()
    return text + " ..." if len(data) > _BODY_EXCERPT else text


def webhook_channels(specs: Iterable[WebhookSpec], ctx: ChannelContext) -> list[WebhookChannel]:
    """A receiver's webhook integrations; entries without http_config use the global one."""
    return [
        WebhookChannel(
            spec,
            session=ctx.session,
            http_settings=http_settings(spec.http_config or ctx.global_.http_config),
        )
        for spec in specs
    ]
