"""The Slack integration: its config against amtool, its message against a real Alertmanager 0.25,
and its deliveries (incoming webhook and bot token) against Slack's endpoints on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from alerting.channels import ChannelContext, ChannelState, DeliveryError, Notification
from alerting.channels.slack import (
    SlackChannel,
    SlackSpec,
    slack_channels,
    slack_message,
    slack_problems,
)
from alerting.clock import ManualClock
from alerting.config import GlobalConfig
from alerting.httpclient import new_session
from alerting.model import Alert
from alerting.notify.retry import deliver
from alerting.store.sqlite_notifications import SqliteNotificationStore
from alerting.template.alertmanager import load_templates, notification_data
from tests.channels.support import MemoryState, amtool_check
from tests.peers.alertmanager import AlertmanagerServer
from tests.peers.ports import free_port
from tests.peers.slack import WEBHOOK_PATH, FakeSlack, Reply, fake_slack, ok_false

TEMPLATES = load_templates()
SLACK_TMPL = Path(__file__).parents[2] / "alerting" / "channels" / "templates" / "slack.tmpl"
TOKEN = "xoxb-test-token"
POST = "/api/chat.postMessage"
UPDATE = "/api/chat.update"


# ---------------------------------------------------------------- config, with amtool as oracle

# (slack_configs entry, whether our message must equal amtool's)
SPEC_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"api_url": "https://hooks.slack.com/services/T/B/x"}, True),
    ({"api_url": "http://x", "send_resolved": True, "channel": "#c", "link_names": True}, True),
    ({"api_url_file": "/etc/slack-url"}, True),
    ({"api_url": "http://x", "api_url_file": "/f"}, True),
    ({}, True),  # no global Slack API URL set either inline or in a file
    ({"api_url_file": ""}, True),
    ({"api_url": "ftp://x"}, True),
    ({"api_url": ""}, True),
    ({"api_url": "http://x y/T/B/secret"}, True),  # ours says "<secret>" where amtool echoes it
    ({"api_url": "http://x", "fields": [{"title": "a", "value": "b", "short": False}]}, True),
    ({"api_url": "http://x", "fields": [{"title": "a"}]}, True),
    ({"api_url": "http://x", "fields": [{"value": "a"}]}, True),
    ({"api_url": "http://x", "actions": [{"type": "button", "text": "t", "url": "u"}]}, True),
    ({"api_url": "http://x", "actions": [{"type": "button"}]}, True),
    ({"api_url": "http://x", "actions": [{"text": "t"}]}, True),
    ({"api_url": "http://x", "actions": [{"type": "button", "text": "t"}]}, True),
    ({"api_url": "http://x", "actions": [{"type": "b", "text": "t", "name": "n", "confirm": {"title": "x"}}]}, True),
    ({"api_url": "http://x", "mrkdwn_in": ["text"], "short_fields": True}, True),
    ({"api_url": "http://x", "http_config": {"authorization": {"credentials": "xoxb-1"}}}, True),
    ({"api_url": "http://x", "mrkdwn_in": "text"}, False),
    ({"api_url": "http://x", "send_resolved": "yes"}, False),
    ({"api_url": "http://x", "fields": [{"title": "a", "value": "b", "short": "x"}]}, False),
    ({"api_url": "http://x", "bogus": 1}, False),
]  # fmt: skip


def amtool_verdict(entry: dict[str, Any], directory: Path) -> str | None:
    return amtool_check("slack_configs", entry, directory)


def our_verdict(entry: dict[str, Any]) -> str | None:
    try:
        spec = SlackSpec.model_validate(entry)
    except ValidationError as exc:
        return exc.errors()[0]["msg"].removeprefix("Value error, ")
    problems = slack_problems([spec], GlobalConfig())
    return problems[0][1] if problems else None


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed")
@pytest.mark.parametrize(("entry", "same_message"), SPEC_CASES, ids=repr)
def test_spec_accepts_what_amtool_accepts(
    entry: dict[str, Any], same_message: bool, tmp_path: Path
) -> None:
    theirs = amtool_verdict(entry, tmp_path)
    ours = our_verdict(entry)
    assert (ours is None) == (theirs is None), (ours, theirs)
    if same_message and theirs is not None:
        url = entry.get("api_url")
        if url:  # a webhook URL is a secret: ours never echoes it
            theirs = theirs.replace(json.dumps(url), '"<secret>"')
        assert ours == theirs


def test_spec_defaults_are_alertmanagers_but_for_our_message() -> None:
    spec = SlackSpec.model_validate({})
    assert (spec.send_resolved, spec.http_config, spec.api_url) == (False, None, None)
    assert (spec.api_url_file, spec.channel, spec.pretext) == ("", "", AMS % "pretext")
    assert spec.color == '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    assert spec.username == '{{ template "slack.default.username" . }}'
    assert spec.title_link == '{{ template "slack.default.titlelink" . }}'
    assert (spec.footer, spec.callback_id, spec.icon_emoji, spec.icon_url) == (
        AMS % "footer", AMS % "callbackid", AMS % "iconemoji", AMS % "iconurl",
    )  # fmt: skip
    assert (spec.image_url, spec.thumb_url) == ("", "")
    assert spec.mrkdwn_in == ["fallback", "pretext", "text"]
    assert (spec.fields, spec.actions, spec.short_fields, spec.link_names) == ([], [], False, False)
    # The three fields of our message (slack.tmpl) instead of Alertmanager's slack.default.*.
    assert spec.title == '{{ template "slack.alerting.title" . }}'
    assert spec.text == '{{ template "slack.alerting.text" . }}'
    assert spec.fallback == '{{ template "slack.alerting.fallback" . }}'


def test_invalid_api_url_error_hides_the_url() -> None:
    with pytest.raises(ValidationError) as failed:
        SlackSpec.model_validate({"api_url": "http://x y/services/T/B/s3cret"})
    assert "s3cret" not in str(failed.value)
    assert "s3cret" not in repr(failed.value)


def test_api_url_is_secret_in_reprs() -> None:
    spec = SlackSpec.model_validate({"api_url": "https://hooks.slack.com/services/T/B/s3cret"})
    assert "s3cret" not in repr(spec)
    assert "s3cret" not in str(spec.model_dump())


def test_problems_pass_with_a_global_url() -> None:
    specs = [SlackSpec.model_validate({}), SlackSpec.model_validate({"api_url_file": "/f"})]
    assert slack_problems(specs, GlobalConfig()) == [
        (("slack_configs", 0, "api_url"), "no global Slack API URL set either inline or in a file")
    ]
    assert slack_problems(specs, GlobalConfig.model_validate({"slack_api_url": "http://s"})) == []
    assert slack_problems(specs, GlobalConfig.model_validate({"slack_api_url_file": "/u"})) == []


# ---------------------------------------------------------------- helpers


class StoreState:
    """ChannelState over the SQLite notification store, as the notifier keeps it."""

    def __init__(self, store: SqliteNotificationStore) -> None:
        self.store = store

    async def get(self, key: str) -> str | None:
        return await self.store.get_channel_state(key)

    async def put(self, key: str, value: str | None) -> None:
        await self.store.put_channel_state(key, value, time.time())


NOW = 1_700_000_000.0
API = Alert(
    {"alertname": "HighLatency", "severity": "critical", "job": "api", "instance": "api-1"},
    {"summary": "p99 above 2s", "runbook_url": "https://runbooks.example/latency?x=1&y=2"},
    starts_at=NOW - 600,
    generator_url="http://prom.example:9090/graph?g0.expr=up&g0.tab=1",
)
API_2 = Alert(
    {"alertname": "HighLatency", "severity": "critical", "job": "api", "instance": "api-2"},
    {"summary": "p99 above 3s <&>"},
    starts_at=NOW - 300,
)


def resolved(alert: Alert, at: float = NOW - 1) -> Alert:
    return Alert(alert.labels, alert.annotations, alert.starts_at, at, alert.generator_url)


def notification(
    alerts: list[Alert], now: float = NOW, group_key: str = '{}:{alertname="HighLatency"}'
) -> Notification:
    return Notification(
        receiver="team-a",
        group_key=group_key,
        group_labels={"alertname": "HighLatency"},
        alerts=alerts,
        now=now,
        external_url="http://am.example:9093",
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_session(timeout=5) as client:
        yield client


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with fake_slack() as server:
        yield server


def context(
    session: aiohttp.ClientSession,
    state: ChannelState | None = None,
    global_: GlobalConfig | None = None,
) -> ChannelContext:
    return ChannelContext(
        "team-a", session, TEMPLATES, global_ or GlobalConfig(), state or MemoryState()
    )


def channel(ctx: ChannelContext, **entry: Any) -> SlackChannel:
    [made] = slack_channels([SlackSpec.model_validate(entry)], ctx)
    return made


def bot(ctx: ChannelContext, slack: FakeSlack, **entry: Any) -> SlackChannel:
    http = {"authorization": {"credentials": TOKEN}}
    return channel(ctx, api_url=slack.api_url, http_config=http, channel="#alerts", **entry)


async def failure(target: SlackChannel, sent: Notification) -> DeliveryError:
    with pytest.raises(DeliveryError) as failed:
        await target.send(sent)
    return failed.value


# ---------------------------------------------------------------- the message

EVERY_OPTION: dict[str, Any] = {
    "channel": "#alerts-{{ .CommonLabels.severity }}",
    "username": "bot {{ .Receiver }}",
    "color": '{{ if eq .Status "firing" }}#ff0000{{ else }}#00ff00{{ end }}',
    "title": "{{ .CommonLabels.alertname }} is {{ .Status }}",
    "title_link": "{{ .ExternalURL }}/#/alerts",
    "pretext": "pre {{ len .Alerts }}",
    "text": "{{ range .Alerts }}{{ .Annotations.summary }};{{ end }}",
    "fields": [
        {"title": "job", "value": "{{ .CommonLabels.job }}"},
        {"title": "count", "value": "{{ len .Alerts }}", "short": False},
    ],
    "short_fields": True,
    "footer": "footer {{ .Status }}",
    "fallback": "fallback {{ .Status }}",
    "callback_id": "cb-{{ .CommonLabels.job }}",
    "icon_emoji": ":fire:",
    "icon_url": "https://icons.example/{{ .Status }}.png",
    "image_url": "https://images.example/{{ .CommonLabels.job }}.png",
    "thumb_url": "https://thumbs.example/{{ .CommonLabels.job }}.png",
    "link_names": True,
    "mrkdwn_in": ["text", "pretext"],
    "actions": [
        # A link button: Alertmanager drops name, value and confirm.
        {"type": "button", "text": "Runbook", "url": "{{ .CommonAnnotations.runbook_url }}",
         "style": "primary", "name": "dropped", "value": "dropped", "confirm": {"text": "x"}},
        {"type": "button", "text": "Ack {{ .CommonLabels.job }}", "name": "ack", "value": "{{ .Status }}",
         "style": "danger", "confirm": {"text": "Sure?", "title": "Ack", "ok_text": "Yes", "dismiss_text": "No"}},
    ],
}  # fmt: skip


async def test_every_option_reaches_the_webhook_as_documented(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    target = channel(context(session), api_url=slack.webhook_url, **EVERY_OPTION)
    await target.send(notification([API]))
    [request] = slack.requests
    assert request.path == WEBHOOK_PATH
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["User-Agent"].startswith("Alertmanager/0.25.0 ")
    assert "Authorization" not in request.headers
    assert request.json == {
        "channel": "#alerts-critical",
        "username": "bot team-a",
        "icon_emoji": ":fire:",
        "icon_url": "https://icons.example/firing.png",
        "link_names": True,
        "attachments": [
            {
                "title": "HighLatency is firing",
                "title_link": "http://am.example:9093/#/alerts",
                "pretext": "pre 1",
                "text": "p99 above 2s;",
                "fallback": "fallback firing",
                "callback_id": "cb-api",
                "fields": [
                    {"title": "job", "value": "api", "short": True},
                    {"title": "count", "value": "1", "short": False},
                ],
                "actions": [
                    {"type": "button", "text": "Runbook", "style": "primary",
                     "url": "https://runbooks.example/latency?x=1&y=2"},
                    {"type": "button", "text": "Ack api", "style": "danger", "name": "ack",
                     "value": "firing", "confirm": {"text": "Sure?", "title": "Ack",
                                                    "ok_text": "Yes", "dismiss_text": "No"}},
                ],
                "image_url": "https://images.example/api.png",
                "thumb_url": "https://thumbs.example/api.png",
                "footer": "footer firing",
                "color": "#ff0000",
                "mrkdwn_in": ["text", "pretext"],
            }
        ],
    }  # fmt: skip


def test_empty_options_are_left_out_as_alertmanager_does() -> None:
    spec = SlackSpec.model_validate(
        {"api_url": "http://x", "title": "", "title_link": "", "pretext": "", "text": "",
         "fallback": "", "footer": "", "callback_id": "", "color": "", "username": "",
         "mrkdwn_in": []}
    )  # fmt: skip
    data = notification_data("r", {}, [API], "", NOW)
    message = slack_message(spec, data, TEMPLATES)
    # Go's omitempty: text, fallback, callback_id and footer always go; mrkdwn_in has a default.
    assert message == {
        "attachments": [
            {"text": "", "fallback": "", "callback_id": "", "footer": "",
             "mrkdwn_in": ["fallback", "pretext", "text"]}
        ]
    }  # fmt: skip


def test_title_is_cut_at_1024_runes_with_an_ellipsis() -> None:
    spec = SlackSpec.model_validate({"title": "é" * 1030})
    data = notification_data("r", {}, [API], "", NOW)
    title = slack_message(spec, data, TEMPLATES)["attachments"][0]["title"]
    assert (len(title), title[-2:]) == (1024, "é…")
    spec = SlackSpec.model_validate({"title": "é" * 1024})
    assert slack_message(spec, data, TEMPLATES)["attachments"][0]["title"] == "é" * 1024


def test_extra_blocks_go_in_a_second_attachment_of_the_same_colour() -> None:
    spec = SlackSpec.model_validate({})
    data = notification_data("r", {}, [API], "", NOW)
    plain = slack_message(spec, data, TEMPLATES)
    block = {"type": "context", "elements": [{"type": "mrkdwn", "text": "Acked by @amy"}]}
    extended = slack_message(spec, data, TEMPLATES, extra_blocks=[block])
    assert extended["attachments"][0] == plain["attachments"][0]
    assert extended["attachments"][1] == {"color": "danger", "blocks": [block]}


def test_default_message_tells_what_fires_and_where_to_look() -> None:
    spec = SlackSpec.model_validate({})
    data = notification_data("team-a", {"alertname": "HighLatency"}, [API, API_2], "http://am", NOW)
    [attachment] = slack_message(spec, data, TEMPLATES)["attachments"]
    assert attachment["title"] == "[FIRING:2] HighLatency"
    assert attachment["title_link"] == "http://am/#/alerts?receiver=team-a"
    assert attachment["color"] == "danger"
    assert attachment["fallback"] == "[FIRING:2] HighLatency"
    assert attachment["text"] == (
        "*Severity:* critical\n"
        "*Labels:* `job=api`\n"
        "*Firing:*\n"
        "• p99 above 2s `instance=api-1`"
        " · <https://runbooks.example/latency?x=1&amp;y=2|Runbook>"
        " · <http://prom.example:9090/graph?g0.expr=up&amp;g0.tab=1|Source>\n"
        "• p99 above 3s &lt;&amp;&gt; `instance=api-2`\n"
        "<http://am/#/silences/new?filter=%7Balertname%3D%22HighLatency%22%2Cjob%3D%22api%22"
        "%2Cseverity%3D%22critical%22%7D|Silence>"
    )
    done = notification_data("team-a", {"alertname": "HighLatency"}, [resolved(API)], "", NOW)
    [attachment] = slack_message(spec, done, TEMPLATES)["attachments"]
    assert (attachment["title"], attachment["color"]) == ("[RESOLVED] HighLatency", "good")
    assert attachment["text"].startswith(
        "*Severity:* critical\n*Labels:* `instance=api-1` `job=api`\n*Resolved:*\n• p99 above 2s"
    )
    assert "Silence" not in attachment["text"]


def test_default_message_lists_ten_alerts_per_state() -> None:
    alerts = [
        Alert({"alertname": "Down", "instance": f"i{n:02d}"}, starts_at=NOW) for n in range(12)
    ]
    data = notification_data("r", {"alertname": "Down"}, alerts, "", NOW)
    text = slack_message(SlackSpec.model_validate({}), data, TEMPLATES)["attachments"][0]["text"]
    assert text.count("\n• ") == 10
    assert "`instance=i09`" in text and "`instance=i10`" not in text
    assert text.endswith("_…12 firing in all_\n")


def test_templates_files_may_redefine_our_message(tmp_path: Path) -> None:
    (tmp_path / "team.tmpl").write_text(
        '{{ define "slack.alerting.title" }}{{ .Status }}: {{ len .Alerts }} alerts{{ end }}'
    )
    templates = load_templates([str(tmp_path / "*.tmpl")])
    data = notification_data("r", {}, [API, API_2], "", NOW)
    attachment = slack_message(SlackSpec.model_validate({}), data, templates)["attachments"][0]
    assert attachment["title"] == "firing: 2 alerts"
    assert attachment["fallback"] == "firing: 2 alerts"  # built on the title


async def test_template_error_fails_for_good_naming_the_field(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    target = channel(context(session), api_url=slack.webhook_url, footer="{{ .Nope }}")
    error = await failure(target, notification([API]))
    assert not error.retryable
    assert str(error).startswith("template of footer: template: ")
    assert "can't evaluate field Nope" in str(error)
    assert slack.requests == []


# ---------------------------------------------------------------- incoming webhook


@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after", "message"),
    [
        (Reply(404, "no_service"), False, None, 'channel "#x": unexpected status code 404: no_service'),
        (Reply(400, "invalid_payload"), False, None, 'channel "#x": unexpected status code 400: invalid_payload'),
        (Reply(410, "channel_is_archived"), False, None, 'channel "#x": unexpected status code 410: channel_is_archived'),
        (Reply(500, "rollup_error"), True, None, 'channel "#x": unexpected status code 500: rollup_error'),
        (Reply(503, ""), True, None, 'channel "#x": unexpected status code 503'),
        (Reply(429, "rate limited", {"Retry-After": "7"}), True, 7.0, 'channel "#x": unexpected status code 429: rate limited'),
        (Reply(429, "", {"Retry-After": "soon"}), True, None, 'channel "#x": unexpected status code 429'),
        (ok_false("invalid_token"), False, None, 'channel "#x": error response from Slack: invalid_token'),
        (ok_false("ratelimited", **{"Retry-After": "2"}), True, 2.0, 'channel "#x": error response from Slack: ratelimited'),
    ],
)  # fmt: skip
async def test_webhook_failures(
    slack: FakeSlack,
    session: aiohttp.ClientSession,
    reply: Reply,
    retryable: bool,
    retry_after: float | None,
    message: str,
) -> None:
    slack.answer(WEBHOOK_PATH, reply)
    error = await failure(
        channel(context(session), api_url=slack.webhook_url, channel="#x"), notification([API])
    )
    assert (error.retryable, error.retry_after, str(error)) == (retryable, retry_after, message)
    assert WEBHOOK_PATH.rsplit("/", 1)[1] not in str(error)


async def test_webhook_error_body_is_cut(slack: FakeSlack, session: aiohttp.ClientSession) -> None:
    slack.answer(WEBHOOK_PATH, Reply(400, "x" * 5000))
    error = await failure(channel(context(session), api_url=slack.webhook_url), notification([API]))
    assert str(error) == 'channel "": unexpected status code 400: ' + "x" * 512 + " ..."


async def test_webhook_url_never_shows_in_errors_or_logs(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "T0001/B0001/s3cretpath"
    url = f"http://127.0.0.1:{free_port()}/services/{secret}"
    caplog.set_level(logging.DEBUG)
    error = await failure(channel(context(session), api_url=url), notification([API]))
    assert error.retryable
    assert str(error).startswith('Post "<redacted>": ')
    assert "s3cret" not in str(error)
    assert all("s3cret" not in record.getMessage() for record in caplog.records)


async def test_global_api_url_and_http_config_are_inherited(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    global_ = GlobalConfig.model_validate(
        {"slack_api_url": slack.webhook_url, "http_config": {"bearer_token": "global"}}
    )
    targets = slack_channels(
        [
            SlackSpec.model_validate({}),
            SlackSpec.model_validate({"http_config": {"authorization": {"credentials": "own"}}}),
        ],
        context(session, global_=global_),
    )
    for target in targets:
        assert (target.kind, target.send_resolved) == ("slack", False)
        await target.send(notification([API]))
        await target.close()  # the shared session stays open for the others
    assert [r.headers["Authorization"] for r in slack.requests] == ["Bearer global", "Bearer own"]


async def test_api_url_file_is_read_at_each_send(
    slack: FakeSlack, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    url_file = tmp_path / "slack-url"
    target = channel(context(session), api_url_file=str(url_file))
    error = await failure(target, notification([API]))
    assert not error.retryable  # as Alertmanager: an unreadable api_url_file is final
    assert str(error) == f"api_url_file {url_file}: No such file or directory"
    url_file.write_text(f"  {slack.url}/services/first\n")  # surrounding space is dropped
    await target.send(notification([API]))
    url_file.write_text(f"{slack.url}/services/rotated\n")
    await target.send(notification([API]))
    assert [r.path for r in slack.requests] == ["/services/first", "/services/rotated"]
    url_file.write_text("http://x y/services/s3cret")
    error = await failure(target, notification([API]))
    assert "s3cret" not in str(error)


async def test_global_api_url_file(
    slack: FakeSlack, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    (tmp_path / "url").write_text(slack.webhook_url)
    global_ = GlobalConfig.model_validate({"slack_api_url_file": str(tmp_path / "url")})
    await channel(context(session, global_=global_)).send(notification([API]))
    assert [r.path for r in slack.requests] == [WEBHOOK_PATH]


async def test_retry_after_is_honoured_by_the_pipelines_retry(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    slack.answer(WEBHOOK_PATH, Reply(429, "rate_limited", {"Retry-After": "7"}))
    target = channel(context(session), api_url=slack.webhook_url)
    clock = ManualClock(1000.0)
    task = asyncio.create_task(
        deliver(target, notification([API]), clock, 1100.0, jitter=lambda: 0.5)
    )
    await clock.wait_for_sleeper(before=1100.0)  # the 429 came back; the retry waits
    await clock.advance(6.9)  # Alertmanager's backoff alone would have retried after 0.5 s
    assert len(slack.requests) == 1
    await clock.advance(0.1)
    assert await task == 2
    assert len(slack.requests) == 2
    assert clock.now() == pytest.approx(1007.0)


# ---------------------------------------------------------------- bot token


async def test_bot_posts_alertmanagers_message_then_updates_it_in_place(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    state = MemoryState()
    target = bot(context(session, state), slack)
    await target.send(notification([API]))
    [post] = slack.requests
    assert post.path == POST
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    sent = notification([API])
    data = notification_data("team-a", dict(sent.group_labels), [API], sent.external_url, NOW)
    # The request Alertmanager 0.25 makes: its message, with the token from http_config.
    assert post.json == slack_message(target.spec, data, TEMPLATES)
    [(key, value)] = state.values.items()
    assert json.loads(key) == ["slack", "team-a", 0, '{}:{alertname="HighLatency"}']
    assert json.loads(value) == {"channel": "C0ALERTS", "ts": "1700000001.000001"}
    await target.send(notification([API, API_2]))
    update = slack.requests[1]
    assert update.path == UPDATE
    assert update.headers["Authorization"] == f"Bearer {TOKEN}"
    assert update.json["channel"] == "C0ALERTS"
    assert update.json["ts"] == "1700000001.000001"
    assert update.json["attachments"][0]["title"] == "[FIRING:2] HighLatency"
    assert len(slack.messages) == 1


async def test_groups_and_integrations_keep_their_own_messages(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    ctx = context(session)
    http = {"authorization": {"credentials": TOKEN}}
    entry = {"api_url": slack.api_url, "http_config": http, "channel": "#alerts"}
    first, second = slack_channels([SlackSpec.model_validate(entry)] * 2, ctx)
    await first.send(notification([API], group_key="{}:{a}"))
    await first.send(notification([API], group_key="{}:{b}"))
    await second.send(notification([API], group_key="{}:{a}"))
    await first.send(notification([API], group_key="{}:{a}"))
    assert [r.path for r in slack.requests] == [POST, POST, POST, UPDATE]
    assert slack.requests[3].json["ts"] == "1700000001.000001"


async def test_update_survives_a_restart_and_resolve_replies_in_the_thread(
    slack: FakeSlack, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    database = str(tmp_path / "alerting.db")
    store = SqliteNotificationStore(database)
    await store.open()
    await bot(context(session, StoreState(store)), slack, send_resolved=True).send(
        notification([API])
    )
    await store.close()

    store = SqliteNotificationStore(database)  # the daemon restarted: new store, new channel
    await store.open()
    try:
        target = bot(context(session, StoreState(store)), slack, send_resolved=True)
        await target.send(notification([API, API_2]))
        await target.send(notification([resolved(API), resolved(API_2)]))
        paths = [r.path for r in slack.requests]
        assert paths == [POST, UPDATE, UPDATE, POST]
        first_ts = "1700000001.000001"
        for update in slack.requests[1:3]:
            assert (update.json["channel"], update.json["ts"]) == ("C0ALERTS", first_ts)
        resolve = slack.requests[2].json["attachments"][0]
        assert (resolve["title"], resolve["color"]) == ("[RESOLVED] HighLatency", "good")
        reply = slack.requests[3].json
        assert reply == {
            "channel": "C0ALERTS",
            "thread_ts": first_ts,
            "text": ":white_check_mark: *Resolved:* HighLatency",
            "username": "Alertmanager",
        }
        key = json.dumps(["slack", "team-a", 0, '{}:{alertname="HighLatency"}'])
        assert await store.get_channel_state(key) is None  # forgotten once resolved
        await target.send(notification([API]))  # the group fires again: a new message
        assert [r.path for r in slack.requests[4:]] == [POST]
        assert len(slack.messages) == 3  # the first message, the reply, the new one
    finally:
        await store.close()


async def test_deleted_message_is_posted_anew(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    state = MemoryState()
    target = bot(context(session, state), slack)
    await target.send(notification([API]))
    slack.messages.clear()  # someone deleted it
    await target.send(notification([API, API_2]))
    assert [r.path for r in slack.requests] == [POST, UPDATE, POST]
    assert json.loads(next(iter(state.values.values())))["ts"] == "1700000002.000002"
    await target.send(notification([API, API_2]))
    assert slack.requests[3].path == UPDATE
    assert slack.requests[3].json["ts"] == "1700000002.000002"


async def test_resolve_without_a_known_message_posts_it(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    state = MemoryState()
    await bot(context(session, state), slack).send(notification([resolved(API)]))
    [post] = slack.requests
    assert (post.path, post.json["attachments"][0]["color"]) == (POST, "good")
    assert state.values == {}


@pytest.mark.parametrize(
    ("path", "reply", "retryable", "retry_after", "message"),
    [
        (POST, ok_false("channel_not_found"), False, None,
         'channel "#alerts": chat.postMessage: error response from Slack: channel_not_found'),
        (POST, ok_false("ratelimited", 429, **{"Retry-After": "3"}), True, 3.0,
         'channel "#alerts": chat.postMessage: unexpected status code 429: {"ok": false, "error": "ratelimited"}'),
        (POST, ok_false("ratelimited"), True, None,
         'channel "#alerts": chat.postMessage: error response from Slack: ratelimited'),
        (POST, Reply(503, "upstream down"), True, None,
         'channel "#alerts": chat.postMessage: unexpected status code 503: upstream down'),
        (POST, ok_false("fatal_error", 500), True, None,
         'channel "#alerts": chat.postMessage: unexpected status code 500: {"ok": false, "error": "fatal_error"}'),
        (POST, Reply(200, "not json", {"Content-Type": "application/json"}), False, None, None),
        (UPDATE, ok_false("cant_update_message"), False, None,
         'channel "#alerts": chat.update: error response from Slack: cant_update_message'),
    ],
)  # fmt: skip
async def test_web_api_failures(
    slack: FakeSlack,
    session: aiohttp.ClientSession,
    path: str,
    reply: Reply,
    retryable: bool,
    retry_after: float | None,
    message: str | None,
) -> None:
    target = bot(context(session), slack)
    if path == UPDATE:
        await target.send(notification([API]))
    slack.answer(path, reply)
    error = await failure(target, notification([API]))
    assert (error.retryable, error.retry_after) == (retryable, retry_after)
    if message is not None:
        assert str(error) == message
    assert TOKEN not in str(error)


async def test_bot_token_is_read_from_its_file_and_never_shown(
    slack: FakeSlack, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    http = {"authorization": {"credentials_file": str(token_file)}}
    target = channel(context(session), api_url=slack.api_url, http_config=http, channel="#alerts")
    error = await failure(target, notification([API]))
    assert error.retryable and "unable to read file" in str(error)
    token_file.write_text("xoxb-wrong-s3cret\n")
    error = await failure(target, notification([API]))
    assert not error.retryable
    assert str(error).endswith("error response from Slack: invalid_auth")
    assert "s3cret" not in str(error)
    token_file.write_text(TOKEN)  # rotated: applies without a reload
    await target.send(notification([API]))
    assert slack.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_web_api_unreachable_is_retryable_and_hides_the_token(
    session: aiohttp.ClientSession,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/chat.postMessage"
    target = channel(
        context(session), api_url=url, http_config={"authorization": {"credentials": TOKEN}}
    )
    error = await failure(target, notification([API]))
    assert error.retryable
    assert str(error).startswith('Post "<redacted>": ')
    assert TOKEN not in str(error)


# ---------------------------------------------------------------- against Alertmanager 0.25

RECEIVER = "team.a+b"  # Alertmanager shows it through regexp.QuoteMeta: team\.a\+b
EXTERNAL_URL = "http://am.example:9093"
POSTED: list[dict[str, Any]] = [
    {
        "labels": {"alertname": "HighLatency", "severity": "critical", "job": "api", "instance": "a"},
        "annotations": {"summary": 'p99 <b>"2s"</b> & rising', "runbook_url": "https://rb.example/x?a=1&b=2"},
        "generatorURL": "http://prom.example:9090/graph?g0.expr=up&g0.tab=1",
    },
    {
        "labels": {"alertname": "HighLatency", "severity": "critical", "job": "api", "instance": "b"},
        "annotations": {"summary": "p99 3s ünïcødé 🚨"},
    },
]  # fmt: skip

# One receiver, one entry per comparison; each posts to its own path of the Slack fake.
OURS = '{{ template "slack.alerting.%s" . }}'
AMS = '{{ template "slack.default.%s" . }}'
ENTRIES: dict[str, dict[str, Any]] = {
    # Every option set, so both must render the same.
    "every-option": {**EVERY_OPTION, "title": "{{ .CommonLabels.alertname }} " + "é" * 1030},
    # Alertmanager's defaults: ours written out, theirs left unset.
    "am-defaults": {},
    # Our defaults: ours left unset, theirs written out (with slack.tmpl among their templates).
    "our-defaults": {f: OURS % f for f in ("title", "text", "fallback")},
}
AM_DEFAULTS = {f: AMS % f for f in ("title", "text", "fallback")}


def am_config(base: str, ours_path: str) -> dict[str, Any]:
    entries = [
        {"api_url": f"{base}/services/{name}", "send_resolved": True, **entry}
        for name, entry in ENTRIES.items()
    ]
    bot_entry = {
        "api_url": f"{base}{POST}",
        "http_config": {"authorization": {"credentials": TOKEN}},
        "channel": "#alerts",
        "send_resolved": True,
        **ENTRIES["our-defaults"],
    }
    return {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname"],
            "group_wait": "1s",  # the real Alertmanager runs on real time; 1s is its least
            "group_interval": "1s",
        },
        "receivers": [{"name": RECEIVER, "slack_configs": [*entries, bot_entry]}],
        "templates": [ours_path],
    }


def our_entries(base: str) -> list[dict[str, Any]]:
    ours = {**ENTRIES, "am-defaults": AM_DEFAULTS, "our-defaults": {}}
    entries = [
        {"api_url": f"{base}/services/{name}", "send_resolved": True, **entry}
        for name, entry in ours.items()
    ]
    bot_entry = {
        "api_url": f"{base}{POST}",
        "http_config": {"authorization": {"credentials": TOKEN}},
        "channel": "#alerts",
        "send_resolved": True,
    }
    return [*entries, bot_entry]


def our_notification(resolved_at: float, now: float) -> Notification:
    """The posted alerts as dispatch hands them on (ends_at 0 while firing); the message
    shows no times, so their start is any."""
    alerts = [
        Alert(
            labels=posted["labels"],
            annotations=posted["annotations"],
            starts_at=NOW,
            ends_at=resolved_at,
            generator_url=posted.get("generatorURL", ""),
        )
        for posted in POSTED
    ]
    return Notification(
        receiver=RECEIVER,
        group_key='{}:{alertname="HighLatency"}',
        group_labels={"alertname": "HighLatency"},
        alerts=alerts,
        now=now,
        external_url=EXTERNAL_URL,
    )


async def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{url}/api/v2/alerts", json=alerts) as response,
    ):
        assert response.status == 200, await response.text()


async def test_requests_match_alertmanagers(
    alertmanager_peer: Callable[..., AlertmanagerServer], session: aiohttp.ClientSession
) -> None:
    async with fake_slack(token=TOKEN) as theirs, fake_slack(token=TOKEN) as ours:
        config = am_config(theirs.url, str(SLACK_TMPL))
        am = await asyncio.to_thread(
            alertmanager_peer, config, extra_args=[f"--web.external-url={EXTERNAL_URL}"]
        )
        specs = [SlackSpec.model_validate(entry) for entry in our_entries(ours.url)]
        targets = slack_channels(specs, context(session))
        # Without startsAt, Alertmanager starts the alerts now: the group waits group_wait,
        # so both alerts of the POST are in its first notification.
        await post_alerts(am.url, POSTED)
        await theirs.wait_for(len(targets))
        for target in targets:
            await target.send(our_notification(0.0, time.time()))
        ended = datetime.now(UTC)
        await post_alerts(am.url, [{**p, "endsAt": ended.isoformat()} for p in POSTED])
        await theirs.wait_for(2 * len(targets))
        for target in targets:
            await target.send(our_notification(ended.timestamp(), time.time()))
        compare(theirs, ours)


def compare(theirs: FakeSlack, ours: FakeSlack) -> None:
    for name in ENTRIES:
        path = f"/services/{name}"
        assert [r.json for r in ours.to(path)] == [r.json for r in theirs.to(path)], name
    # The bot: Alertmanager posts each notification; we post the first, then update it and
    # reply in its thread.
    their_firing, their_resolved = theirs.to(POST)
    our_firing, our_reply = ours.to(POST)
    assert our_firing.json == their_firing.json
    assert our_firing.headers["Authorization"] == their_firing.headers["Authorization"]
    [our_update] = ours.to(UPDATE)
    assert our_update.json["attachments"] == their_resolved.json["attachments"]
    assert our_reply.json["thread_ts"] == our_update.json["ts"]
    # What our defaults change: the title, the text and the fallback, nothing else.
    for their_request, our_request in zip(
        theirs.to("/services/am-defaults"), ours.to("/services/our-defaults"), strict=True
    ):
        their_attachment = their_request.json["attachments"][0]
        our_attachment = our_request.json["attachments"][0]
        changed = {k for k in their_attachment if their_attachment[k] != our_attachment.get(k)}
        assert changed == {"title", "text", "fallback"}
        assert set(our_attachment) == set(their_attachment)
