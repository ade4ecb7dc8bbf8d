"""The Slack integration: Alertmanager 0.25's `slack_configs`, sent with slack_sdk's async clients.

An incoming webhook (or any api_url that is not a Web API method) gets the attachment message
Alertmanager posts. An api_url ending in `/api/chat.postMessage`, with a bot token in
http_config, goes through the Web API: a group's first notification posts a message, later ones
edit it in place, and its resolve edits it once more and says so in the message's thread.

When the daemon takes Slack's interactivity requests (`server.callbacks.slack`), a bot message
of a firing group carries "Acknowledge" and "Silence 1h" buttons in a second attachment, and
acks and silences made anywhere replace them with a note of who did it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import aiohttp
from pydantic import SecretStr, StrictBool, field_validator, model_validator
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerting.channels import ChannelContext, DeliveryError, Notification, template_data
from alerting.channels.pagerduty import dedup_key
from alerting.channels.webhook import USER_AGENT, check_http_url
from alerting.configbase import HTTPClientConfig, Model, relative_to_config
from alerting.httpclient import CredentialsError, HTTPSettings, http_settings
from alerting.labels import go_quote
from alerting.template.alertmanager import (
    NotificationData,
    NotificationTemplates,
)
from alerting.template.errors import TemplateError

if TYPE_CHECKING:  # config imports this module for SlackSpec
    from alerting.config import GlobalConfig

log = logging.getLogger(__name__)

# For the config loader's unknown-key messages: keys of later Alertmanager versions.
UNKNOWN_KEY_HINTS: Mapping[str, str] = {
    "message_text": "message_text came after Alertmanager 0.25; set the attachment's text",
    "timeout": "the Slack timeout came after Alertmanager 0.25; it has none",
    "update_message": "with a bot token and api_url .../api/chat.postMessage, messages update",
    "app_token": "app_token came after Alertmanager 0.25; set http_config.authorization",
    "app_token_file": "app_token_file came after Alertmanager 0.25; set http_config.authorization",
    "app_url": "app_url came after Alertmanager 0.25; set api_url to .../api/chat.postMessage",
}

MAX_TITLE_RUNES = 1024  # Slack's limit for an attachment title; Alertmanager cuts there too
DEFAULT_MRKDWN_IN = ("fallback", "pretext", "text")
RESOLVED_REPLY = '{{ template "slack.alerting.resolved_reply" . }}'
_WEB_API_METHOD = "chat.postMessage"
_BODY_EXCERPT = 512
_NO_API_URL = "no global Slack API URL set either inline or in a file"
# Go's omitempty in Alertmanager's attachment; text, fallback, callback_id and footer always go.
_OMITTED_IF_EMPTY = frozenset(
    ("title", "title_link", "pretext", "fields", "actions", "image_url", "thumb_url", "color")
)

# Our buttons' action_ids; their value is the group's id (its PagerDuty dedup key), which the
# interactivity endpoint acts on.
ACKNOWLEDGE_ACTION = "alerting.acknowledge"
SILENCE_ACTION = "alerting.silence"
SILENCE_SECONDS = 3600.0  # what the "Silence 1h" button asks for

# slack_sdk logs request URLs (a webhook's is its secret) and bodies at debug level; it gets a
# logger of its own that nothing reads. Failures reach the pipeline as DeliveryErrors instead.
_SDK_LOG = logging.Logger("slack_sdk (silenced by alerting)", logging.CRITICAL + 1)


# ---------------------------------------------------------------- configuration


class SlackConfirm(Model):
    """An action's `confirm` (Alertmanager's SlackConfirmationField)."""

    text: str = ""
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""

    @model_validator(mode="after")
    def _text_required(self) -> SlackConfirm:
        if not self.text:
            raise ValueError("missing text in Slack confirmation configuration")
        return self


class SlackField(Model):
    title: str = ""
    value: str = ""
    short: StrictBool | None = None  # None: the entry's short_fields

    @model_validator(mode="after")
    def _complete(self) -> SlackField:
        if not self.title:
            raise ValueError("missing title in Slack field configuration")
        if not self.value:
            raise ValueError("missing value in Slack field configuration")
        return self


class SlackAction(Model):
    type: str = ""
    text: str = ""
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirm | None = None

    @model_validator(mode="after")
    def _complete(self) -> SlackAction:
        if not self.type:
            raise ValueError("missing type in Slack action configuration")
        if not self.text:
            raise ValueError("missing text in Slack action configuration")
        if not self.url and not self.name:
            raise ValueError("missing name or url in Slack action configuration")
        if self.url:  # a link button: Alertmanager drops the message-action fields
            self.name = self.value = ""
            self.confirm = None
        return self


def _template(name: str) -> str:
    return f'{{{{ template "{name}" . }}}}'


class SlackSpec(Model):
    """One entry of a receiver's `slack_configs`, with Alertmanager 0.25's keys and defaults,
    except that title, text and fallback default to our message (slack.tmpl)."""

    send_resolved: StrictBool = False
    http_config: HTTPClientConfig | None = None  # None: global.http_config
    api_url: SecretStr | None = None  # None and no api_url_file: the global ones
    api_url_file: str = ""
    channel: str = ""
    username: str = _template("slack.default.username")
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = _template("slack.alerting.title")
    title_link: str = _template("slack.default.titlelink")
    pretext: str = _template("slack.default.pretext")
    text: str = _template("slack.alerting.text")
    fields: list[SlackField] = []
    short_fields: StrictBool = False
    footer: str = _template("slack.default.footer")
    fallback: str = _template("slack.alerting.fallback")
    callback_id: str = _template("slack.default.callbackid")
    icon_emoji: str = _template("slack.default.iconemoji")
    icon_url: str = _template("slack.default.iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: StrictBool = False
    mrkdwn_in: list[str] = list(DEFAULT_MRKDWN_IN)  # empty: the default, as in Alertmanager
    actions: list[SlackAction] = []

    _resolve = field_validator("api_url_file")(relative_to_config)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret_url(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _one_url(self) -> SlackSpec:
        if self.api_url is not None and self.api_url_file:
            raise ValueError("at most one of api_url & api_url_file must be configured")
        return self


def check_secret_url(value: str) -> str:
    """check_http_url, with the URL left out of the message as `<secret>`."""
    try:
        return check_http_url(value)
    except ValueError as error:
        message = str(error)
        if value:
            message = message.replace(go_quote(value), '"<secret>"')
        raise ValueError(message) from None


def slack_problems(
    specs: Sequence[SlackSpec], global_: GlobalConfig
) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with the entries given `global_` (a GlobalConfig): a missing api_url."""
    has_global = global_.slack_api_url is not None or bool(global_.slack_api_url_file)
    return [
        (("slack_configs", index, "api_url"), _NO_API_URL)
        for index, spec in enumerate(specs)
        if spec.api_url is None and not spec.api_url_file and not has_global
    ]


# ---------------------------------------------------------------- the message


class _Renderer:
    """Renders a spec's fields over one notification's data; a failing template fails the
    attempt for good, naming the field."""

    def __init__(self, templates: NotificationTemplates, data: NotificationData) -> None:
        self._templates = templates
        self._data = data

    def __call__(self, field: str, text: str) -> str:
        try:
            return self._templates.render(text, self._data)
        except TemplateError as error:
            raise DeliveryError(f"template of {field}: {error.go_error}", retryable=False) from None


def slack_message(
    spec: SlackSpec,
    data: NotificationData,
    templates: NotificationTemplates,
    extra_blocks: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The message Alertmanager 0.25 posts for `spec` over `data`, in its JSON field order.

    `extra_blocks` (Block Kit) go in a second attachment of the same colour, so Alertmanager's
    attachment stays as it is: for buttons or a note added to a bot's message.
    """
    render = _Renderer(templates, data)
    attachment = _attachment(spec, render)
    message: dict[str, Any] = {
        "channel": render("channel", spec.channel),
        "username": render("username", spec.username),
        "icon_emoji": render("icon_emoji", spec.icon_emoji),
        "icon_url": render("icon_url", spec.icon_url),
        "link_names": spec.link_names,
    }
    message = _without_empty(message)
    message["attachments"] = [attachment]
    return with_blocks(message, extra_blocks)


def with_blocks(message: Mapping[str, Any], blocks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`message` with `blocks`, if there are any, in a second attachment of the first one's
    colour."""
    out = dict(message)
    if blocks:
        first = message["attachments"][0]
        extra = _without_empty({"color": first.get("color", "")})
        out["attachments"] = [*message["attachments"], {**extra, "blocks": list(blocks)}]
    return out


def group_blocks(
    group_key: str, note: str = "", *, acknowledge: bool = True, silence: bool = True
) -> list[dict[str, Any]]:
    """Our blocks under a bot message: a note of what people did (mrkdwn), then the buttons
    still worth pressing."""
    blocks: list[dict[str, Any]] = []
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    gid = dedup_key(group_key)
    buttons = []
    if acknowledge:
        buttons.append(_button("Acknowledge", ACKNOWLEDGE_ACTION, gid, "primary"))
    if silence:
        buttons.append(_button("Silence 1h", SILENCE_ACTION, gid))
    if buttons:
        blocks.append({"type": "actions", "block_id": "alerting.actions", "elements": buttons})
    return blocks


def _button(text: str, action_id: str, value: str, style: str = "") -> dict[str, Any]:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    return {**button, "style": style} if style else button


def escape_mrkdwn(text: str) -> str:
    """Text as Slack shows it literally: its control characters escaped, so a name cannot
    mention a channel or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(ts: float) -> str:
    """A time each reader sees in their own time zone (Slack's date formatting)."""
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
    return f"<!date^{int(ts)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _attachment(spec: SlackSpec, render: _Renderer) -> dict[str, Any]:
    attachment = {
        "title": _truncate(render("title", spec.title), MAX_TITLE_RUNES),
        "title_link": render("title_link", spec.title_link),
        "pretext": render("pretext", spec.pretext),
        "text": render("text", spec.text),
        "fallback": render("fallback", spec.fallback),
        "callback_id": render("callback_id", spec.callback_id),
        "fields": [_field(f, spec.short_fields, render) for f in spec.fields],
        "actions": [_action(a, render) for a in spec.actions],
        "image_url": render("image_url", spec.image_url),
        "thumb_url": render("thumb_url", spec.thumb_url),
        "footer": render("footer", spec.footer),
        "color": render("color", spec.color),
        "mrkdwn_in": list(spec.mrkdwn_in or DEFAULT_MRKDWN_IN),
    }
    return {k: v for k, v in attachment.items() if v or k not in _OMITTED_IF_EMPTY}


def _field(field: SlackField, short_fields: bool, render: _Renderer) -> dict[str, Any]:
    # Alertmanager always states `short`: the field's own, else the entry's short_fields.
    short = field.short if field.short is not None else short_fields
    title = render("fields.title", field.title)
    value = render("fields.value", field.value)
    return {**_without_empty({"title": title, "value": value}), "short": short}


def _action(action: SlackAction, render: _Renderer) -> dict[str, Any]:
    rendered: dict[str, Any] = _without_empty(
        {
            key: render(f"actions.{key}", getattr(action, key))
            for key in ("type", "text", "url", "style", "name", "value")
        }
    )
    if action.confirm is not None:
        confirm = action.confirm
        rendered["confirm"] = _without_empty(
            {
                key: render(f"actions.confirm.{key}", getattr(confirm, key))
                for key in ("text", "title", "ok_text", "dismiss_text")
            }
        )
    return rendered


def _without_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v}


def _truncate(text: str, runes: int) -> str:
    """Alertmanager's cut: at most `runes` code points, the last an ellipsis when cut."""
    return text if len(text) <= runes else text[: runes - 1] + "…"


def resolved_reply(
    spec: SlackSpec,
    data: NotificationData,
    templates: NotificationTemplates,
    posted_in: tuple[str, str],
) -> dict[str, Any]:
    """The answer in a bot message's thread (`posted_in`: channel ID, ts) that says its group
    resolved."""
    render = _Renderer(templates, data)
    channel, thread_ts = posted_in
    reply = {
        "channel": channel,
        "thread_ts": thread_ts,
        "text": render("resolved reply", RESOLVED_REPLY),
        "username": render("username", spec.username),
        "icon_emoji": render("icon_emoji", spec.icon_emoji),
        "icon_url": render("icon_url", spec.icon_url),
    }
    return _without_empty(reply)


# ---------------------------------------------------------------- HTTP through slack_sdk


class _ConfiguredSession:
    """The pooled session as slack_sdk uses it, with the entry's http_config on every request.

    slack_sdk hands a session only headers, body, `ssl` and `proxy`; this applies the whole
    http_config instead (Authorization read from its file now, TLS server name, proxy
    credentials, redirects) and never owns the session.
    """

    def __init__(self, session: aiohttp.ClientSession, http: HTTPSettings) -> None:
        self._session = session
        self._http = http

    @property
    def closed(self) -> bool:
        return self._session.closed

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        for ignored in ("ssl", "proxy", "auth"):
            kwargs.pop(ignored, None)
        kwargs.update(self._http.request_kwargs(url, kwargs.pop("headers", None)))
        return self._session.request(method, url, **kwargs)


def _sdk_session(session: _ConfiguredSession) -> aiohttp.ClientSession:
    # slack_sdk only calls `request` and reads `closed`, which _ConfiguredSession provides.
    return cast(aiohttp.ClientSession, session)


def _web_api_base(url: str) -> str | None:
    """The Web API's base URL (…/api/) if `url` is its chat.postMessage method, else None."""
    head = url.partition("#")[0].partition("?")[0]
    if head.endswith("/api/" + _WEB_API_METHOD):
        return head[: -len(_WEB_API_METHOD)]
    return None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After in seconds, as Slack sends it; None if absent or not a number."""
    try:
        seconds = float((headers or {}).get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _excerpt(body: object) -> str:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    text = text.strip()
    return text[:_BODY_EXCERPT] + " ..." if len(text) > _BODY_EXCERPT else text


def _redacted(text: str, url: str) -> str:
    """`text` without `url` or its path, where a webhook keeps its secret."""
    path = url.partition("//")[2].partition("/")[2]
    for secret in (url, path):
        if len(secret) > 1:
            text = text.replace(secret, "<redacted>")
    return text


def _http_failure(
    where: str, status: int, body: object, headers: Mapping[str, str] | None
) -> DeliveryError:
    """A non-2xx answer: 429 and 5xx are worth retrying (429 after its Retry-After)."""
    message = f"{where}: unexpected status code {status}"
    excerpt = _excerpt(body) if body else ""
    if excerpt:
        message += f": {excerpt}"
    if status == 429:
        return DeliveryError(message, retryable=True, retry_after=_retry_after(headers))
    return DeliveryError(message, retryable=status >= 500)


def _slack_error(where: str, code: object, headers: Mapping[str, str] | None) -> DeliveryError:
    """`{"ok": false, "error": code}`: final, unless Slack says to slow down."""
    message = f"{where}: error response from Slack: {code}"
    if code == "ratelimited":
        return DeliveryError(message, retryable=True, retry_after=_retry_after(headers))
    return DeliveryError(message, retryable=False)


# ---------------------------------------------------------------- the channel


@dataclass(frozen=True, slots=True)
class _PostedMessage:
    """Where a group's bot message is: the channel's ID and the message's timestamp; and, when
    its buttons may be replaced by a note later, what chat.update needs besides our blocks."""

    channel: str
    ts: str
    content: dict[str, Any] | None = None


class SlackChannel:
    """One `slack_configs` entry of one receiver."""

    kind = "slack"

    def __init__(
        self,
        spec: SlackSpec,
        ctx: ChannelContext,
        index: int,
        *,
        api_url: SecretStr | None,
        api_url_file: str,
        http: HTTPSettings,
    ) -> None:
        self.spec = spec
        self.send_resolved = spec.send_resolved
        self._ctx = ctx
        self._index = index
        self._api_url = api_url
        self._api_url_file = api_url_file
        self._session = _sdk_session(_ConfiguredSession(ctx.session, http))

    async def send(self, notification: Notification) -> None:
        data = template_data(notification)
        message = slack_message(self.spec, data, self._ctx.templates)
        url = self._url()
        base = _web_api_base(url)
        if base is None:
            await self._post_to_webhook(url, message)
        else:
            await self._post_with_bot(base, message, data, notification.group_key)

    # ------------------------------------------------------------ what people did (Told)

    async def acknowledged(self, group_key: str, by: str) -> None:
        note = f":white_check_mark: Acknowledged by *{escape_mrkdwn(by)}*"
        await self._annotate(group_key, group_blocks(group_key, note, acknowledge=False))

    async def unacknowledged(self, group_key: str, by: str) -> None:
        note = f":arrow_right_hook: Acknowledgement withdrawn by *{escape_mrkdwn(by)}*"
        await self._annotate(group_key, group_blocks(group_key, note))

    async def silenced(self, group_key: str, by: str, until: float) -> None:
        note = f":no_bell: Silenced by *{escape_mrkdwn(by)}* until {slack_date(until)}"
        await self._annotate(group_key, group_blocks(group_key, note, silence=False))

    async def _annotate(self, group_key: str, blocks: list[dict[str, Any]]) -> None:
        """Replace the blocks under the group's bot message, if it has one we may edit."""
        if not self._ctx.interactive:
            return
        base = _web_api_base(self._url())
        if base is None:  # an incoming webhook cannot edit what it posted
            return
        posted = await self._recall(self._state_key(group_key))
        if posted is None or posted.content is None:
            return
        web = _WebAPI(self._web_client(base), f"channel {go_quote(posted.channel)}")
        await web.update(posted, with_blocks(posted.content, blocks))

    async def close(self) -> None:
        """Nothing to release: the pooled session belongs to the notifier."""

    def _url(self) -> str:
        """api_url, or api_url_file read now (a rotated file applies without a reload)."""
        if self._api_url is not None:
            return self._api_url.get_secret_value()
        if not self._api_url_file:
            raise DeliveryError(_NO_API_URL, retryable=False)
        try:
            url = Path(self._api_url_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DeliveryError(
                f"api_url_file {self._api_url_file}: {reason}", retryable=False
            ) from None
        try:
            return check_secret_url(url)
        except ValueError as exc:
            raise DeliveryError(
                f"api_url_file {self._api_url_file}: {exc}", retryable=False
            ) from None

    # ------------------------------------------------------------ incoming webhook

    async def _post_to_webhook(self, url: str, message: dict[str, Any]) -> None:
        client = AsyncWebhookClient(
            url,
            session=self._session,
            logger=_SDK_LOG,
            retry_handlers=[],  # the pipeline retries
            user_agent_prefix=USER_AGENT,
        )
        where = f"channel {go_quote(message.get('channel', ''))}"
        try:
            response = await client.send_dict(message)
        except Exception as exc:
            raise _transport_failure(exc, url) from None
        _check_webhook_response(where, response)

    # ------------------------------------------------------------ bot token, Web API

    def _web_client(self, base_url: str) -> AsyncWebClient:
        return AsyncWebClient(
            base_url=base_url,
            session=self._session,
            logger=_SDK_LOG,
            retry_handlers=[],  # the pipeline retries
            user_agent_prefix=USER_AGENT,
        )

    async def _post_with_bot(
        self, base_url: str, message: dict[str, Any], data: NotificationData, group_key: str
    ) -> None:
        web = _WebAPI(self._web_client(base_url), f"channel {go_quote(message.get('channel', ''))}")
        key = self._state_key(group_key)
        posted = await self._recall(key)
        resolved = data.status == "resolved"
        shown = message
        if self._ctx.interactive and not resolved:  # nothing to act on once all resolved
            shown = with_blocks(message, group_blocks(group_key))
        if posted is not None and not await web.update(posted, shown):
            posted = None  # deleted meanwhile: post a new one
        if posted is None:
            new = await web.post(shown)
            if not resolved:
                await self._remember(key, self._editable(new, message))
            return
        if resolved:
            where = (posted.channel, posted.ts)
            await web.post(resolved_reply(self.spec, data, self._ctx.templates, where))
            await self._remember(key, None)
        elif self._ctx.interactive:  # the content changed: a later note goes under the new one
            await self._remember(key, self._editable(posted, message))

    def _editable(self, posted: _PostedMessage, message: dict[str, Any]) -> _PostedMessage:
        """What to keep of a message: where it is, and its content if a note may replace its
        buttons later (kept only then: it takes room in the store)."""
        content = _update_content(message) if self._ctx.interactive else None
        return _PostedMessage(posted.channel, posted.ts, content)

    def _state_key(self, group_key: str) -> str:
        return json.dumps(["slack", self._ctx.receiver, self._index, group_key])

    async def _recall(self, key: str) -> _PostedMessage | None:
        try:
            value = await self._ctx.state.get(key)
        except Exception as exc:  # whatever the store raises: the next attempt may read it
            raise DeliveryError(
                f"reading the group's Slack message: {exc}", retryable=True
            ) from None
        try:
            stored = json.loads(value) if value is not None else None
            if not stored:
                return None
            content = stored.get("content")
            content = content if isinstance(content, dict) and content.get("attachments") else None
            return _PostedMessage(str(stored["channel"]), str(stored["ts"]), content)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # not ours to make sense of: the group gets a new message

    async def _remember(self, key: str, posted: _PostedMessage | None) -> None:
        value = None
        if posted is not None:
            kept: dict[str, Any] = {"channel": posted.channel, "ts": posted.ts}
            if posted.content is not None:
                kept["content"] = posted.content
            value = json.dumps(kept)
        try:
            await self._ctx.state.put(key, value)
        except Exception:
            # The message is out; failing now would post it twice. Without its handle, the next
            # flush of the group posts a new message instead of editing this one.
            log.warning(
                "could not keep the Slack message of a group",
                extra={"receiver": self._ctx.receiver, "integration": self._index},
                exc_info=True,
            )


class _WebAPI:
    """chat.postMessage and chat.update through one client, failures as DeliveryErrors."""

    def __init__(self, client: AsyncWebClient, where: str) -> None:
        self._client = client
        self._where = where

    async def post(self, body: dict[str, Any]) -> _PostedMessage:
        answer = await self._call("chat.postMessage", body)
        if not answer.get("ok"):
            raise self._refused("chat.postMessage", answer)
        return _PostedMessage(str(answer.get("channel", "")), str(answer.get("ts", "")))

    async def update(self, posted: _PostedMessage, message: dict[str, Any]) -> bool:
        """Edits the message; false if Slack no longer has it."""
        answer = await self._call(
            "chat.update", {"channel": posted.channel, "ts": posted.ts, **_update_content(message)}
        )
        if answer.get("ok"):
            return True
        if answer.get("error") == "message_not_found":
            return False
        raise self._refused("chat.update", answer)

    async def _call(self, method: str, body: dict[str, Any]) -> Mapping[str, Any]:
        """Slack's answer to a call that got a 200, `ok` or not; DeliveryError otherwise."""
        where = f"{self._where}: {method}"
        try:
            response = await self._client.api_call(method, json=body)
        except SlackApiError as exc:
            answer = exc.response  # aiohttp's own response when the body was not JSON at all
            status = getattr(answer, "status_code", None) or getattr(answer, "status", 0)
            data = getattr(answer, "data", None)
            if status != 200:
                raise _http_failure(where, status, data, answer.headers) from None
            if isinstance(data, dict) and "ok" in data:
                return data
            raise DeliveryError(f"{where}: unexpected answer from Slack", retryable=False) from None
        except Exception as exc:
            raise _transport_failure(exc, self._client.base_url + method) from None
        return response.data if isinstance(response.data, dict) else {}

    def _refused(self, method: str, answer: Mapping[str, Any]) -> DeliveryError:
        return _slack_error(f"{self._where}: {method}", answer.get("error"), None)


def _update_content(message: Mapping[str, Any]) -> dict[str, Any]:
    # chat.update takes the content and link_names; the sender's name and icon stay.
    return {k: message[k] for k in ("link_names", "attachments") if k in message}


def _check_webhook_response(where: str, response: WebhookResponse) -> None:
    if not 200 <= response.status_code < 300:
        raise _http_failure(where, response.status_code, response.body, response.headers)
    # An api_url that answers like the Web API may say ok: false with a 200.
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            body = json.loads(response.body)
        except ValueError:
            return
        if isinstance(body, dict) and body.get("ok") is False:
            raise _slack_error(where, body.get("error"), response.headers)


def _transport_failure(exc: Exception, url: str) -> DeliveryError:
    """No usable answer. Without any (connection, timeout, unreadable credentials) another
    attempt may work; an answer slack_sdk cannot read will not change. The URL is redacted as
    Alertmanager does: a webhook's is its secret."""
    if isinstance(exc, CredentialsError):
        return DeliveryError(str(exc), retryable=True)
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts; some are ClientErrors too
        return DeliveryError('Post "<redacted>": timeout', retryable=True)
    if isinstance(exc, aiohttp.ClientError | OSError):
        reason = _redacted(str(exc) or type(exc).__name__, url)
        return DeliveryError(f'Post "<redacted>": {reason}', retryable=True)
    return DeliveryError(f"unexpected answer from Slack ({type(exc).__name__})", retryable=False)


# ---------------------------------------------------------------- the factory


def slack_channels(specs: Sequence[SlackSpec], ctx: ChannelContext) -> list[SlackChannel]:
    """A receiver's Slack integrations; unset api_url and http_config come from `global`."""
    global_ = ctx.global_
    channels = []
    for index, spec in enumerate(specs):
        api_url, api_url_file = spec.api_url, spec.api_url_file
        if api_url is None and not api_url_file:
            api_url, api_url_file = global_.slack_api_url, global_.slack_api_url_file
        http = http_settings(spec.http_config or global_.http_config)
        channels.append(
            SlackChannel(spec, ctx, index, api_url=api_url, api_url_file=api_url_file, http=http)
        )
    return channels
