"""A real SMTP server (aiosmtpd) in the test's own event loop, recording what it receives.

It speaks plain SMTP, STARTTLS (given a context) or implicit TLS (given one for the listening
socket), and checks AUTH PLAIN, LOGIN and CRAM-MD5 against the credentials it was given.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

MECHANISMS = ("CRAM-MD5", "LOGIN", "PLAIN")


@dataclass(frozen=True)
class Login:
    mechanism: str
    username: str
    identity: str = ""  # PLAIN's authorization identity


@dataclass(frozen=True)
class Received:
    """One message as the server took it in."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    hello: str  # the EHLO/HELO name
    tls: bool  # whether the connection was encrypted when the message came
    login: Login | None

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.content, policy=policy.default))


@dataclass
class SMTPPeer:
    """What the server was given and what it saw; `port` is set once it listens."""

    passwords: dict[str, str] = field(default_factory=dict)  # PLAIN and LOGIN
    cram_secrets: dict[str, str] = field(default_factory=dict)  # CRAM-MD5
    refuse_recipients: frozenset[str] = frozenset()
    port: int = 0
    connections: int = 0
    failed_logins: list[Login] = field(default_factory=list)
    received: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    server: asyncio.Server | None = None

    @property
    def smarthost(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def next(self) -> Received:
        return await asyncio.wait_for(self.received.get(), timeout=10)

    # ---------------------------------------------------------------- aiosmtpd's handler hooks

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("sslcontext") is not None
        login = session.auth_data if isinstance(session.auth_data, Login) else None
        self.received.put_nowait(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content or b""),
                hello=session.host_name or "",
                tls=tls,
                login=login,
            )
        )
        return "250 2.0.0 accepted"

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        challenge = f"<{secrets.token_hex(8)}@smtp.test>".encode()
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        username, _, digest = bytes(answer).decode().rpartition(" ")
        secret = self.cram_secrets.get(username)
        expected = "" if secret is None else _hmac_md5(secret, challenge)
        return self._result(Login("CRAM-MD5", username), bool(expected) and digest == expected)

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        # aiosmtpd's own PLAIN drops the authorization identity; this one records it.
        try:
            blob = base64.b64decode(args[1], validate=True) if len(args) > 1 else b""
            identity, username, password = blob.decode().split("\0")
        except (ValueError, binascii.Error):
            await server.push("501 5.5.2 Can't decode PLAIN")
            return AuthResult(success=False, handled=True)
        login = Login("PLAIN", username, identity)
        return self._result(login, self.passwords.get(username) == password)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's built-in LOGIN asks this."""
        assert isinstance(data, LoginPassword)
        username, password = data.login.decode(), data.password.decode()
        return self._result(Login(mechanism, username), self.passwords.get(username) == password)

    def _result(self, login: Login, ok: bool) -> AuthResult:
        if not ok:
            self.failed_logins.append(login)
        # handled=False: aiosmtpd answers 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


def _hmac_md5(secret: str, challenge: bytes) -> str:
    return hmac.new(secret.encode(), challenge, "md5").hexdigest()


async def start_smtp_peer(
    peer: SMTPPeer | None = None,
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    mechanisms: Sequence[str] = MECHANISMS,
    auth_require_tls: bool = False,
    host: str = "127.0.0.1",
) -> SMTPPeer:
    """Listens on a free port of `host`; close `peer.server` when done.

    AUTH is offered (with `mechanisms`, in aiosmtpd's alphabetical order) on every connection,
    or only once encrypted by STARTTLS with `auth_require_tls`.
    """
    peer = peer or SMTPPeer()
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        peer.connections += 1
        return SMTP(
            peer,
            hostname="smtp.test",
            tls_context=starttls,
            auth_require_tls=auth_require_tls,
            auth_exclude_mechanism=[m for m in MECHANISMS if m not in mechanisms],
            authenticator=peer.authenticate,
            loop=loop,
        )

    peer.server = await loop.create_server(protocol, host, 0, ssl=implicit_tls)
    peer.port = peer.server.sockets[0].getsockname()[1]
    return peer


def server_tls(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
