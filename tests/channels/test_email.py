"""The email integration: its config against amtool, its message against a real Alertmanager
0.25, its SMTP sessions against a real SMTP server (aiosmtpd) in the test's event loop, and its
default HTML rendered by headless Chromium."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from alerting.channels import ChannelContext, DeliveryError, Notification
from alerting.channels.email import (
    DEFAULT_HTML,
    DEFAULT_TEXT,
    EmailChannel,
    EmailSpec,
    build_message,
    canonical_header,
    email_channels,
    email_problems,
    html_data,
    parse_addresses,
    strip_html_comments,
)
from alerting.config import GlobalConfig
from alerting.dispatch.alerts import sort_alerts
from alerting.httpclient import new_session
from alerting.model import Alert
from alerting.template.alertmanager import (
    NotificationTemplates,
    load_templates,
    notification_data,
)
from tests.channels.smtp_peer import SMTPPeer, server_tls, start_smtp_peer
from tests.channels.support import MemoryState, amtool_check, starting_soon
from tests.channels.test_httpclient import PKI, make_pki
from tests.peers.alertmanager import AlertmanagerServer
from tests.peers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- config, with amtool as oracle

SMARTHOST = {"smarthost": "mail.example:25"}
FROM = {"from": "am@example.com"}

# (email_configs entry, global section, whether our message must equal amtool's)
SPEC_CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    ({"to": "a@example.com", **FROM, **SMARTHOST}, {}, True),
    ({"to": "a@example.com, ,b@example.com", **FROM, **SMARTHOST, "send_resolved": True}, {}, True),
    ({"to": "a@example.com", **FROM}, {}, True),  # no global SMTP smarthost set
    ({"to": "a@example.com", **SMARTHOST}, {}, True),  # no global SMTP from set
    ({"to": "a@example.com"}, {"smtp_smarthost": "m:25", "smtp_from": "f@x"}, True),
    ({**FROM, **SMARTHOST}, {}, True),  # missing to address in email config
    ({"to": "", **FROM, **SMARTHOST}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": "mail.example"}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": "mail.example:"}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": "a:b:25"}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": "[::1]:25"}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": "[::1:25"}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": "[::1]x:25"}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": "x]:25"}, {}, True),
    ({"to": "a@x", **FROM, "smarthost": ":25"}, {}, True),
    ({"to": "a@x", **FROM}, {"smtp_smarthost": "mail.example"}, False),  # ours names the global
    ({"to": "a@x", **FROM, **SMARTHOST, "headers": {"Subject": "a", "SUBJECT": "b"}}, {}, True),
    ({"to": "a@x", **FROM, **SMARTHOST, "headers": {"message-id": "<x@y>", "X-A b": "c"}}, {}, True),
    ({"to": "a@x", **FROM, **SMARTHOST, "auth_password": "p", "auth_password_file": "/f"}, {}, True),
    ({"to": "a@x", **FROM, **SMARTHOST, "require_tls": "yes"}, {}, False),
    ({"to": "a@x", **FROM, **SMARTHOST, "force_implicit_tls": True}, {}, False),
    ({"to": "a@x", **FROM, **SMARTHOST, "tls_config": {"insecure_skip_verify": True}}, {}, True),
    ({"to": "a@x", **FROM, **SMARTHOST, "hello": "my host"}, {}, False),  # ours checks hello
    ({"to": "a@x", **FROM, **SMARTHOST, "html": "", "text": "{{ .Status }}"}, {}, True),
]  # fmt: skip


def amtool_verdict(entry: dict[str, Any], global_: dict[str, Any], directory: Path) -> str | None:
    return amtool_check("email_configs", entry, directory, global_)


def our_verdict(entry: dict[str, Any], global_: dict[str, Any]) -> str | None:
    try:
        spec = EmailSpec.model_validate(entry)
    except ValidationError as exc:
        return exc.errors()[0]["msg"].removeprefix("Value error, ")
    problems = email_problems([spec], GlobalConfig.model_validate(global_))
    return problems[0][1] if problems else None


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed")
@pytest.mark.parametrize(("entry", "global_", "same_message"), SPEC_CASES, ids=repr)
def test_spec_accepts_what_amtool_accepts(
    entry: dict[str, Any], global_: dict[str, Any], same_message: bool, tmp_path: Path
) -> None:
    theirs = amtool_verdict(entry, global_, tmp_path)
    ours = our_verdict(entry, global_)
    if entry.get("hello") == "my host":  # Alertmanager would send a broken EHLO; we refuse it
        assert (theirs, ours) == (None, 'hello "my host" must be a host name, without spaces')
        return
    assert (ours is None) == (theirs is None), (ours, theirs)
    if same_message:
        assert ours == theirs


def test_spec_defaults_and_header_names() -> None:
    spec = EmailSpec.model_validate(
        {"to": "a@x", "headers": {"x-MAILER": "a", "message-id": "b", "X-A b": "c"}}
    )
    assert (spec.send_resolved, spec.require_tls, spec.html, spec.text) == (
        False,
        None,
        DEFAULT_HTML,
        DEFAULT_TEXT,
    )
    assert list(spec.headers) == ["X-Mailer", "Message-Id", "X-A b"]
    assert canonical_header("content-TYPE") == "Content-Type"
    assert canonical_header("x_y.z") == "X_y.z"


def test_problems_name_the_entry() -> None:
    specs = [
        EmailSpec.model_validate({"to": "a@x"}),
        EmailSpec.model_validate({"to": "a@x", "from": "f@x", "smarthost": "m:25"}),
    ]
    assert email_problems(specs, GlobalConfig()) == [
        (("email_configs", 0, "smarthost"), "no global SMTP smarthost set"),
        (("email_configs", 0, "from"), "no global SMTP from set"),
    ]
    bad_global = GlobalConfig.model_validate({"smtp_smarthost": "m", "smtp_from": "f@x"})
    assert email_problems(specs, bad_global) == [
        (
            ("email_configs", 0, "smarthost"),
            "global smtp_smarthost: address m: missing port in address",
        )
    ]


def test_globals_fill_in_as_alertmanager_does(templates: NotificationTemplates) -> None:
    global_ = GlobalConfig.model_validate(
        {
            "smtp_smarthost": "[::1]:587",
            "smtp_from": "g@x",
            "smtp_hello": "me.example",
            "smtp_auth_username": "gu",
            "smtp_auth_password": "gp",
            "smtp_auth_secret": "gs",
            "smtp_auth_identity": "gi",
            "smtp_require_tls": False,
        }
    )
    inherits = EmailChannel(EmailSpec.model_validate({"to": "a@x"}), templates, global_)
    s = inherits.settings
    assert (s.host, s.port, s.smarthost, s.hello, s.require_tls) == (
        "::1",
        "587",
        "[::1]:587",
        "me.example",
        False,
    )
    assert (s.username, s.read_password(), s.identity) == ("gu", "gp", "gi")
    assert s.secret is not None and s.secret.get_secret_value() == "gs"
    # An entry's own password file keeps the global password out.
    own = EmailSpec.model_validate({"to": "a@x", "auth_password_file": "/nonexistent/pw"})
    settings = EmailChannel(own, templates, global_).settings
    assert (settings.password, settings.password_file) == (None, "/nonexistent/pw")


# ---------------------------------------------------------------- fixtures and helpers

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def templates() -> NotificationTemplates:
    return load_templates()


@pytest.fixture
async def smtp() -> AsyncIterator[SMTPPeer]:
    peer = await start_smtp_peer(SMTPPeer(passwords={"alice": "s3cret"}))
    yield peer
    assert peer.server is not None
    peer.server.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


FIRING = Alert(
    {"alertname": "DiskFull", "severity": "critical", "instance": "db-1", "team": "ops"},
    {
        "summary": "Disk <b>full</b> on db-1",
        "description": "97% used",
        "runbook_url": "https://runbooks.example/disk",
    },
    starts_at=T0 - 600,
    generator_url="http://prom.example:9090/graph?g0.expr=disk&g0.tab=1",
)
FIRING_2 = Alert(
    {"alertname": "DiskFull", "severity": "warning", "instance": "db-2", "team": "ops"},
    {"summary": "Disk almost full on db-2"},
    starts_at=T0 - 300,
)
RESOLVED = Alert(
    {"alertname": "DiskFull", "severity": "critical", "instance": "db-3", "team": "ops"},
    {"summary": "Disk full on db-3"},
    starts_at=T0 - 7200,
    ends_at=T0 - 60,
)


def notification(*alerts: Alert, now: float = T0) -> Notification:
    return Notification(
        receiver="ops-mail",
        group_key='{}:{alertname="DiskFull"}',
        group_labels={"alertname": "DiskFull"},
        alerts=list(alerts),
        now=now,
        external_url="http://am.example:9093",
    )


def channel(
    templates: NotificationTemplates,
    peer: SMTPPeer | None = None,
    global_: dict[str, Any] | None = None,
    **entry: Any,
) -> EmailChannel:
    fields: dict[str, Any] = {"to": "oncall@example.com", "from": "am@example.com"}
    if peer is not None:
        fields |= {"smarthost": peer.smarthost, "require_tls": False}
    fields |= entry
    spec = EmailSpec.model_validate(fields)
    return EmailChannel(spec, templates, GlobalConfig.model_validate(global_ or {}), timeout=5)


async def failure(email: EmailChannel, sent: Notification | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as failed:
        await email.send(sent or notification(FIRING))
    return failed.value


def parts(message: EmailMessage) -> dict[str, str]:
    """The alternatives by content type, decoded, with Unix line ends."""
    return {
        part.get_content_type(): str(part.get_content()).replace("\r\n", "\n")
        for part in message.iter_parts()
    }


# ---------------------------------------------------------------- the message


async def test_message_headers_and_parts(templates: NotificationTemplates, smtp: SMTPPeer) -> None:
    email = channel(
        templates, smtp, to="Ops <ops@example.com>, oncall@example.com", hello="alerting.test"
    )
    before = time.time()
    await email.send(notification(FIRING, FIRING_2, RESOLVED, now=before))
    received = await smtp.next()
    assert received.mail_from == "am@example.com"
    assert received.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    assert (received.hello, received.tls, received.login) == ("alerting.test", False, None)
    message = received.message
    assert message["Subject"] == "[FIRING:2] DiskFull (ops)"
    assert message["To"] == "Ops <ops@example.com>, oncall@example.com"
    assert message["From"] == "am@example.com"
    assert re.fullmatch(r"<\d{19}\.\d+@[^>]+>", message["Message-Id"])
    assert abs(parsedate_to_datetime(message["Date"]).timestamp() - before) < 2
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    assert list(body) == ["text/plain", "text/html"]  # the preferred alternative comes last
    text, html = body["text/plain"], body["text/html"]
    assert text.startswith("[FIRING:2] DiskFull (ops)\n2 firing, 1 resolved\n")
    assert "* DiskFull [critical] instance=db-1\n  Disk <b>full</b> on db-1\n  97% used\n" in text
    assert "  Runbook: https://runbooks.example/disk" in text
    assert "Ended:   2023-11-14 22:12:20 UTC" in text
    assert "View in Alertmanager: http://am.example:9093/#/alerts?receiver=ops-mail" in text
    assert "Disk &lt;b&gt;full&lt;/b&gt; on db-1" in html  # values escaped, as html/template does
    assert 'href="http://prom.example:9090/graph?g0.expr=disk&amp;g0.tab=1"' in html
    assert 'href="https://runbooks.example/disk"' in html
    assert ">Firing (2)</td>" in html and ">Resolved (1)</td>" in html
    assert 'href="http://am.example:9093/#/alerts?receiver=ops-mail"' in html


def test_headers_are_one_line_and_may_replace_ours(templates: NotificationTemplates) -> None:
    message = build_message(
        {"Subject": "Ärger\nmit Zeilen", "Message-Id": "<mine@x>", "Content-Type": "text/plain"},
        "text",
        "",
        T0,
        "<generated@x>",
    )
    parsed = parse_message(message)
    assert len(parsed.get_all("Content-Type")) == 1  # the structure stays ours
    assert parsed["Subject"] == "Ärger mit Zeilen"
    assert parsed.get_all("Message-Id") == ["<mine@x>"]
    assert list(parts(parsed)) == ["text/plain"]
    assert parsed.get_content_type() == "multipart/alternative"


def parse_message(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_receiver_overrides_html_text_and_headers(
    templates: NotificationTemplates, smtp: SMTPPeer
) -> None:
    email = channel(
        templates,
        smtp,
        html="<p>{{ .CommonLabels.alertname }}: {{ (index .Alerts 0).Annotations.summary }}</p>",
        text="",
        headers={"subject": "Ärger: {{ .Status }}", "X-Team": "{{ .CommonLabels.team }}"},
    )
    await email.send(notification(FIRING))
    message = (await smtp.next()).message
    assert (message["Subject"], message["X-Team"]) == ("Ärger: firing", "ops")
    assert message["To"] == "oncall@example.com"  # defaults stay for headers not set
    assert parts(message) == {
        "text/html": "<p>DiskFull: Disk &lt;b&gt;full&lt;/b&gt; on db-1</p>\n"
    }


async def test_alertmanager_default_html_on_request(
    templates: NotificationTemplates, smtp: SMTPPeer
) -> None:
    email = channel(templates, smtp, html='{{ template "email.default.html" . }}', text="")
    await email.send(notification(FIRING))
    body = parts((await smtp.next()).message)
    assert list(body) == ["text/html"]
    assert "<!--" not in body["text/html"]  # html/template drops the template's comments
    assert "1 alert for" in body["text/html"] and "View in Alertmanager" in body["text/html"]


def test_html_data_escapes_what_alerts_bring(templates: NotificationTemplates) -> None:
    hostile = Alert(
        {"alertname": "X", "x": "<script>alert('x')</script>+"},
        {"runbook_url": "javascript:alert(1)"},
        generator_url="JavaScript:alert(1)",
    )
    spaced = Alert({"alertname": "X", "y": "1"}, generator_url="http://h/a b?q=ü&r=%41%zz")
    n = notification(hostile, spaced)
    data = html_data(notification_data("r", {}, n.alerts, "http://am.example/", T0))
    first, second = data.alerts
    assert first.labels["x"] == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#43;"
    assert first.generator_url == "#ZgotmplZ"
    assert second.generator_url == "http://h/a%20b?q=%c3%bc&amp;r=%41%25zz"
    html = templates.render(DEFAULT_HTML, data)
    assert "<script>" not in html and "javascript:" not in html.lower()
    assert strip_html_comments("a<!-- x\ny -->b<!---->c") == "abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@example.com", ["a@example.com"]),
        ("A <a@example.com>, ,b@example.com", ["a@example.com", "b@example.com"]),
        ('"Doe, J" <j@example.com>', ["j@example.com"]),
        ("", None),
        ("not an address", None),
        ("a@", None),
        ("a@b c@d", None),
    ],
)
def test_address_lists(text: str, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_addresses(text)
    else:
        assert parse_addresses(text) == expected


# ---------------------------------------------------------------- failures that are not retried


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"html": "{{ .Nope }}"}, "execute html template: template: :1:3: executing"),
        ({"text": '{{ template "nope" . }}'}, "execute text template: template: "),
        ({"headers": {"X-A": "{{ .Nope }}"}}, 'execute "X-A" header template: '),
        ({"to": "{{ .Nope }}"}, "execute 'to' template: "),
        ({"from": "a@x, b@x"}, "must be exactly one 'from' address (got: 2)"),
        ({"to": "no address here"}, "parse 'to' addresses: "),
    ],
)
async def test_template_and_address_errors_are_final(
    templates: NotificationTemplates, smtp: SMTPPeer, entry: dict[str, Any], message: str
) -> None:
    error = await failure(channel(templates, smtp, **entry))
    assert not error.retryable
    assert str(error).startswith(message), str(error)
    assert smtp.connections == 0  # composed before connecting


# ---------------------------------------------------------------- TLS


async def test_starttls_with_a_ca_file(templates: NotificationTemplates, pki: PKI) -> None:
    context = server_tls(str(pki.server_cert), str(pki.server_key))
    peer = await start_smtp_peer(starttls=context, auth_require_tls=True)
    try:
        # require_tls is true by default; the system's CAs do not know ours.
        error = await failure(channel(templates, smarthost=peer.smarthost))
        assert error.retryable
        assert str(error).startswith("send STARTTLS command: ")
        assert "certificate verify failed" in str(error)
        trusted = channel(templates, smarthost=peer.smarthost, tls_config={"ca_file": str(pki.ca)})
        await trusted.send(notification(FIRING))
        assert (await peer.next()).tls
    finally:
        assert peer.server is not None
        peer.server.close()


async def test_server_name_is_the_name_verified(templates: NotificationTemplates, pki: PKI) -> None:
    context = server_tls(str(pki.named_cert), str(pki.named_key))  # for alerting.test only
    peer = await start_smtp_peer(starttls=context)
    try:
        tls = {"ca_file": str(pki.ca)}
        error = await failure(channel(templates, smarthost=peer.smarthost, tls_config=tls))
        assert "certificate is not valid for '127.0.0.1'" in str(error)
        named = channel(
            templates,
            smarthost=peer.smarthost,
            tls_config={**tls, "server_name": "alerting.test"},
        )
        await named.send(notification(FIRING))
        assert (await peer.next()).tls
    finally:
        assert peer.server is not None
        peer.server.close()


async def test_require_tls_fails_without_starttls(
    templates: NotificationTemplates, smtp: SMTPPeer
) -> None:
    error = await failure(channel(templates, smarthost=smtp.smarthost))
    assert error.retryable
    assert str(error) == (
        f"'require_tls' is true (default) but \"{smtp.smarthost}\" "
        "does not advertise the STARTTLS extension"
    )
    assert smtp.received.empty()
    # smtp_require_tls: false in global, and no require_tls in the entry: plain SMTP.
    await channel(templates, None, {"smtp_require_tls": False}, smarthost=smtp.smarthost).send(
        notification(FIRING)
    )
    assert not (await smtp.next()).tls


async def test_implicit_tls(templates: NotificationTemplates, pki: PKI) -> None:
    context = server_tls(str(pki.server_cert), str(pki.server_key))
    peer = await start_smtp_peer(implicit_tls=context)
    try:
        spec = EmailSpec.model_validate(
            {
                "to": "a@example.com",
                "from": "am@example.com",
                "smarthost": peer.smarthost,
                "tls_config": {"ca_file": str(pki.ca)},
            }
        )
        # Port 465 decides in production; here the peer's port stands in for it. require_tls
        # (true by default) is met by the encrypted connection itself.
        email = EmailChannel(spec, templates, GlobalConfig(), implicit_tls_port=str(peer.port))
        await email.send(notification(FIRING))
        assert (await peer.next()).tls
    finally:
        assert peer.server is not None
        peer.server.close()


@pytest.mark.parametrize(
    ("port", "step"),
    [("465", "establish TLS connection to server"), (None, "establish connection to server")],
)
async def test_port_465_means_implicit_tls(
    templates: NotificationTemplates, port: str | None, step: str
) -> None:
    # Nothing listens on either port: the message says which kind of connection was tried.
    smarthost = f"127.0.0.1:{port or free_port()}"
    error = await failure(channel(templates, smarthost=smarthost))
    assert error.retryable
    assert str(error).startswith(f"{step}: ")


# ---------------------------------------------------------------- AUTH


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
async def test_auth_mechanisms(templates: NotificationTemplates, mechanism: str) -> None:
    peer = await start_smtp_peer(
        SMTPPeer(passwords={"alice": "s3cret"}, cram_secrets={"alice": "cr4m"}),
        mechanisms=[mechanism],
    )
    try:
        credentials = {"auth_username": "alice", "auth_identity": "admin"}
        credentials |= {"auth_secret": "cr4m"} if mechanism == "CRAM-MD5" else {}
        credentials |= {"auth_password": "s3cret"} if mechanism != "CRAM-MD5" else {}
        await channel(templates, peer, **credentials).send(notification(FIRING))
        login = (await peer.next()).login
        assert login is not None
        assert (login.mechanism, login.username) == (mechanism, "alice")
        assert login.identity == ("admin" if mechanism == "PLAIN" else "")
        assert peer.failed_logins == []
    finally:
        assert peer.server is not None
        peer.server.close()


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({"auth_password": "s3cret", "auth_secret": "cr4m"}, "CRAM-MD5"),
        ({"auth_password": "s3cret"}, "LOGIN"),  # the first offered that has its credentials
    ],
)
async def test_auth_takes_the_first_usable_mechanism_offered(
    templates: NotificationTemplates, credentials: dict[str, str], expected: str
) -> None:
    peer = await start_smtp_peer(
        SMTPPeer(passwords={"alice": "s3cret"}, cram_secrets={"alice": "cr4m"})
    )  # offers CRAM-MD5 LOGIN PLAIN, in that order
    try:
        await channel(templates, peer, auth_username="alice", **credentials).send(
            notification(FIRING)
        )
        login = (await peer.next()).login
        assert login is not None and login.mechanism == expected
    finally:
        assert peer.server is not None
        peer.server.close()


async def test_no_username_means_no_auth(templates: NotificationTemplates, smtp: SMTPPeer) -> None:
    await channel(templates, smtp, auth_password="s3cret").send(notification(FIRING))
    assert (await smtp.next()).login is None


async def test_wrong_password_fails_without_showing_it(
    templates: NotificationTemplates, smtp: SMTPPeer
) -> None:
    email = channel(templates, smtp, auth_username="alice", auth_password="hunter2")
    error = await failure(email)
    assert error.retryable  # Alertmanager retries every SMTP failure
    assert str(error) == "LOGIN auth: 535 5.7.8 Authentication credentials invalid"
    assert [(f.mechanism, f.username) for f in smtp.failed_logins] == [("LOGIN", "alice")]
    for shown in (str(error), repr(error), repr(email.spec), repr(email.settings), str(email.spec)):
        assert "hunter2" not in shown


async def test_missing_credentials_name_each_mechanism(
    templates: NotificationTemplates, smtp: SMTPPeer, tmp_path: Path
) -> None:
    error = await failure(channel(templates, smtp, auth_username="alice"))
    assert str(error) == (
        "find auth mechanism: missing secret for CRAM-MD5 auth mechanism; "
        "missing password for LOGIN auth mechanism; missing password for PLAIN auth mechanism"
    )
    missing = tmp_path / "absent"
    error = await failure(
        channel(templates, smtp, auth_username="alice", auth_password_file=str(missing))
    )
    assert f"could not read {missing}: No such file or directory" in str(error)
    assert error.retryable


async def test_password_file_is_read_at_every_attempt(
    templates: NotificationTemplates, smtp: SMTPPeer, tmp_path: Path
) -> None:
    password_file = tmp_path / "smtp-password"
    password_file.write_text("old-password\n")
    email = channel(templates, smtp, auth_username="alice", auth_password_file=str(password_file))
    error = await failure(email)
    assert "old-password" not in str(error)
    password_file.write_text("s3cret\n")  # rotated: the same channel picks it up
    await email.send(notification(FIRING))
    login = (await smtp.next()).login
    assert login is not None and login.username == "alice"


async def test_plain_refuses_clear_text_to_another_host(
    templates: NotificationTemplates,
) -> None:
    try:
        peer = await start_smtp_peer(
            SMTPPeer(passwords={"alice": "s3cret"}), mechanisms=["PLAIN"], host="127.0.0.2"
        )
    except OSError:
        pytest.skip("127.0.0.2 is not usable here")
    try:
        email = channel(
            templates,
            smarthost=f"127.0.0.2:{peer.port}",
            require_tls=False,
            auth_username="alice",
            auth_password="s3cret",
        )
        error = await failure(email)
        assert str(error) == "PLAIN auth: unencrypted connection"
        assert peer.failed_logins == [] and peer.received.empty()
    finally:
        assert peer.server is not None
        peer.server.close()


# ---------------------------------------------------------------- other SMTP failures


async def test_connection_refused_is_retryable(templates: NotificationTemplates) -> None:
    error = await failure(channel(templates, smarthost=f"127.0.0.1:{free_port()}"))
    assert error.retryable
    assert str(error).startswith("establish connection to server: ")


async def test_silent_server_times_out(templates: NotificationTemplates) -> None:
    released = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await released.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        spec = EmailSpec.model_validate(
            {"to": "a@x.example", "from": "f@x.example", "smarthost": f"127.0.0.1:{port}"}
        )
        email = EmailChannel(spec, templates, GlobalConfig(), timeout=0.2)
        error = await failure(email)
        assert error.retryable
        assert str(error).startswith("create SMTP client: ")
    finally:
        released.set()
        server.close()


async def test_refused_recipient_is_retried_like_alertmanager(
    templates: NotificationTemplates,
) -> None:
    peer = await start_smtp_peer(SMTPPeer(refuse_recipients=frozenset({"gone@example.com"})))
    try:
        email = channel(templates, peer, to="ok@example.com, gone@example.com")
        error = await failure(email)
        assert error.retryable
        assert str(error) == "send RCPT command: 550 5.1.1 no such mailbox"
        assert peer.received.empty()
    finally:
        assert peer.server is not None
        peer.server.close()


# ---------------------------------------------------------------- the factory and the pipeline


async def test_factory_and_send_resolved(templates: NotificationTemplates, smtp: SMTPPeer) -> None:
    global_ = GlobalConfig.model_validate(
        {"smtp_smarthost": smtp.smarthost, "smtp_from": "g@example.com", "smtp_require_tls": False}
    )
    specs = [
        EmailSpec.model_validate({"to": "a@example.com"}),
        EmailSpec.model_validate({"to": "b@example.com", "send_resolved": True}),
    ]
    async with new_session() as session:
        ctx = ChannelContext("ops-mail", session, templates, global_, MemoryState())
        first, second = email_channels(specs, ctx)
    assert (first.kind, first.send_resolved, second.send_resolved) == ("email", False, True)
    await second.send(notification(RESOLVED))  # the channel sends what the pipeline gives it
    received = await smtp.next()
    assert received.mail_from == "g@example.com"
    assert received.message["Subject"] == "[RESOLVED] DiskFull (db-3 critical ops)"
    await first.close()


# ---------------------------------------------------------------- against Alertmanager 0.25

AM_EXTERNAL_URL = "http://am.example.test:9093"
TRICKY = "a<b>&\"q\" 'x' +1 ünï 🚨"
POSTED: list[dict[str, Any]] = [
    {
        "labels": {"alertname": "DiskFull", "team": "ops", "instance": "db-1", "detail": TRICKY},
        "annotations": {"summary": "Disk <b>full</b> & more", "description": "line1\nline2"},
        "startsAt": "2023-11-14T00:00:00.123Z",
        "generatorURL": 'http://prom.example:9090/graph?g0.expr=up%3D%3D0&g0.tab=1 x"ü',
    },
    {
        "labels": {"alertname": "DiskFull", "team": "ops", "instance": "db-2"},
        "annotations": {"summary": "Disk full"},
        "startsAt": "2023-11-14T00:00:01Z",
        "generatorURL": "javascript:alert(1)",
    },
]


def alertmanager_entries(smarthost: str) -> list[dict[str, Any]]:
    """Receiver blocks given to both; ours would differ in html and text by default."""
    common = {"smarthost": smarthost, "require_tls": False}
    return [
        {
            **common,
            "to": "first@example.com",
            "from": "am@example.com",
            "html": '{{ template "email.default.html" . }}',
            "text": "",
        },
        {
            **common,
            "to": "Team <second@example.com>, third@example.com",
            "from": "Alertmanager <am@example.com>",
            "html": '<p>{{ range .Alerts }}<a href="{{ .GeneratorURL }}">{{ .Labels.detail }}</a>{{ end }}</p>',
            "text": '{{ template "__text_alert_list" .Alerts }}',
            "headers": {"subject": "Ärger: {{ .CommonLabels.alertname }}", "X-Team": "{{ .CommonLabels.team }}"},
        },
    ]  # fmt: skip


async def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{url}/api/v2/alerts", json=alerts) as response,
    ):
        assert response.status == 200, await response.text()


async def test_messages_match_alertmanager(
    alertmanager_peer: Callable[..., AlertmanagerServer],
    templates: NotificationTemplates,
    smtp: SMTPPeer,
) -> None:
    entries = alertmanager_entries(smtp.smarthost)
    config = {
        "route": {
            "receiver": "mail",
            "group_by": ["alertname", "team"],
            "group_wait": "1s",  # the real Alertmanager's time; its smallest useful step
        },
        "receivers": [{"name": "mail", "email_configs": entries}],
    }
    extra = [f"--web.external-url={AM_EXTERNAL_URL}"]
    am = await asyncio.to_thread(alertmanager_peer, config, extra_args=extra)
    starts = starting_soon([0.123, 1.0])
    posted = [{**p, "startsAt": start} for p, start in zip(POSTED, starts, strict=True)]
    await post_alerts(am.url, posted)
    theirs = sorted([await smtp.next(), await smtp.next()], key=lambda r: r.rcpt_tos)
    alerts = [
        Alert(
            p["labels"],
            p["annotations"],
            starts_at=datetime.fromisoformat(p["startsAt"]).timestamp(),
            generator_url=p["generatorURL"],
        )
        for p in posted
    ]
    sort_alerts(alerts)
    sent = Notification(
        "mail", "{}", {"alertname": "DiskFull", "team": "ops"}, alerts, time.time(), AM_EXTERNAL_URL
    )
    for entry in entries:
        await EmailChannel(EmailSpec.model_validate(entry), templates, GlobalConfig()).send(sent)
    ours = sorted([await smtp.next(), await smtp.next()], key=lambda r: r.rcpt_tos)
    for their, our in zip(theirs, ours, strict=True):
        assert (our.mail_from, our.rcpt_tos, our.hello) == (
            their.mail_from,
            their.rcpt_tos,
            their.hello,
        )
        a, b = their.message, our.message
        for header in ("Subject", "To", "From", "X-Team", "MIME-Version"):
            assert a[header] == b[header], header
        for header in ("Message-Id", "Date"):
            assert (a[header] is None) == (b[header] is None), header
        assert (a.get_content_type(), b.get_content_type()) == ("multipart/alternative",) * 2
        their_parts, our_parts = parts(a), parts(b)
        assert list(their_parts) == list(our_parts)
        for kind, text in their_parts.items():
            # Go writes the body as rendered; Python's encoder ends it with a line break.
            assert our_parts[kind].rstrip("\n") == text.rstrip("\n"), kind
    assert TRICKY not in parts(theirs[0].message)["text/html"]  # escaped by both
    assert "#ZgotmplZ" in parts(theirs[1].message)["text/html"]


# ---------------------------------------------------------------- rendering the default


def render_png(html_file: Path, png: Path) -> subprocess.CompletedProcess[str]:
    """Headless Chromium's screenshot of `html_file`, 900x1200, with its log on stderr."""
    return subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={png}",
            "--window-size=900,1200",
            html_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def png_size(png: Path) -> tuple[int, int]:
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def sample_html(templates: NotificationTemplates) -> str:
    """Our default HTML for a group with several firing and resolved alerts."""
    critical = {"alertname": "HighLatency", "service": "api", "cluster": "prod"}
    alerts = [
        Alert(
            {**critical, "severity": "critical", "instance": "api-1:9090"},
            {
                "summary": "p99 latency is 2.3s on api-1",
                "description": "Above 1s for 10 minutes.\nThe database looks slow.",
                "runbook_url": "https://runbooks.example/high-latency",
            },
            starts_at=T0 - 600,
            generator_url="http://prometheus.example:9090/graph?g0.expr=latency&g0.tab=1",
        ),
        Alert(
            {**critical, "severity": "critical", "instance": "api-2:9090"},
            {"summary": "p99 latency is 1.8s on api-2"},
            starts_at=T0 - 300,
            generator_url="http://prometheus.example:9090/graph?g0.expr=latency",
        ),
        Alert(
            {**critical, "severity": "warning", "instance": "api-3:9090"},
            {"description": "Latency elevated"},
            starts_at=T0 - 200,
        ),
        Alert(
            {**critical, "severity": "critical", "instance": "api-4:9090"},
            {"summary": "p99 latency back under 1s"},
            starts_at=T0 - 3600,
            ends_at=T0 - 60,
            generator_url="http://prometheus.example:9090/graph?g0.expr=latency",
        ),
        Alert(
            {**critical, "severity": "info", "instance": "api-5:9090"},
            {"summary": "Latency back to normal"},
            starts_at=T0 - 7200,
            ends_at=T0 - 120,
        ),
    ]
    data = notification_data(
        "team-api",
        {"alertname": "HighLatency", "service": "api"},
        alerts,
        "http://alertmanager.example:9093",
        T0,
    )
    return strip_html_comments(templates.render(DEFAULT_HTML, html_data(data)))


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")
def test_default_html_renders_in_chromium(templates: NotificationTemplates, tmp_path: Path) -> None:
    """Set UPDATE_EMAIL_SCREENSHOT=1 to refresh docs/email-default.png from this run."""
    page = tmp_path / "email.html"
    page.write_text(sample_html(templates), encoding="utf-8")
    png = tmp_path / "email.png"
    done = render_png(page, png)
    assert done.returncode == 0, done.stderr
    assert png_size(png) == (900, 1200)
    assert png.stat().st_size > 20_000  # a blank page compresses to far less
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    failed = [line for line in done.stderr.splitlines() if "Failed to load" in line]
    assert console == [] and failed == [], done.stderr
    if os.environ.get("UPDATE_EMAIL_SCREENSHOT"):
        shutil.copyfile(png, ROOT / "docs" / "email-default.png")
