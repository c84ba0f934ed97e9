"""Fixtures for the email channel: the hub with its SMTP listener on loopback, a stand-in relay, Dovecot.

Everything speaks real protocols over 127.0.0.1: customers' mail reaches the hub's
aiosmtpd listener through aiosmtplib, the hub's replies reach `RelayStandIn` (STARTTLS
and AUTH required, like a provider's submission port) through the channel's sender.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from channels.email.channel import EmailChannel
from hub.hub import Hub
from hub.models import utcnow
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import _drop
from tests.email.dovecot import Dovecot
from tests.email.relay import RelayStandIn
from tests.tls import self_signed_certificate

CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cert)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1/localhost, made with Debian's openssl."""
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    return TlsFiles(str(cert), str(key))


@pytest.fixture
async def relay(tls_files: TlsFiles) -> AsyncIterator[RelayStandIn]:
    stand_in = RelayStandIn(tls_files.server_context(), username="hub", password="relay-secret")
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


def email_config(relay_port: int, ca_file: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "enabled": True,
        "domain": "example.com",
        "max_attachment_bytes": 8192,
        "max_message_bytes": 256 * 1024,
        "mailboxes": {
            "support": {"address": "support@example.com", "aliases": ["help@example.com"],
                        "from_name": "Example Support", "bot": True},
            "orders": {"address": "orders@example.com", "from_name": "Example Orders", "bot": False,
                       "auto_ack": True, "queue": "orders"},
        },
        "smtp_listener": {"enabled": True, "host": "127.0.0.1", "port": 0, "hostname": "mx.example.com"},
        "relay": {"host": "127.0.0.1", "port": relay_port, "security": "starttls", "username": "hub",
                  "password": "relay-secret", "ca_file": ca_file, "local_hostname": "hub.example.com",
                  "timeout": 5},
    }
    config.update(overrides)
    return config


@dataclass
class EmailHub:
    runtime: Runtime
    hub: Hub
    channel: EmailChannel

    @property
    def smtp_port(self) -> int:
        assert self.channel.listener is not None and self.channel.listener.port is not None
        return self.channel.listener.port

    async def deliver(self, message: EmailMessage | bytes, *, sender: str = "dana@example.org",
                      recipients: list[str] | None = None, **kwargs: Any) -> Any:
        """Deliver like an MTA: SMTP to the hub's listener; returns the server's answer to DATA."""
        if recipients is None:
            assert isinstance(message, EmailMessage)
            recipients = [str(message["To"]).split("<")[-1].strip(">")]
        raw = message.as_bytes() if isinstance(message, EmailMessage) else message
        raw = re.sub(rb"\r?\n", b"\r\n", raw)  # SMTP speaks CRLF; corpus files are stored with LF
        if sender == "":
            return await asyncio.to_thread(self._deliver_from_null_sender, raw, recipients)
        _, answer = await aiosmtplib.send(raw, sender=sender, recipients=recipients, hostname="127.0.0.1",
                                          port=self.smtp_port, local_hostname="mta.example.org", **kwargs)
        return answer

    def _deliver_from_null_sender(self, raw: bytes, recipients: list[str]) -> str:
        """`MAIL FROM:<>` (bounces, notices), which aiosmtplib refuses to send: the standard library's smtplib."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, local_hostname="mta.example.org", timeout=10) as client:
            client.ehlo()
            assert client.mail("")[0] == 250
            for recipient in recipients:
                assert client.rcpt(recipient)[0] == 250
            code, answer = client.data(raw)
        assert code == 250, (code, answer)
        return answer.decode()

    async def settle(self) -> None:
        """Wait for the bot/ticket step of everything ingested so far."""
        await self.hub.pipeline.drain()


async def start_email_hub(settings: Settings, bot: Any) -> EmailHub:
    runtime = Runtime(settings)
    await runtime.start(bot=bot)
    assert runtime.hub is not None
    channel = next(c for c in runtime.channels if c.name == "email")
    assert isinstance(channel, EmailChannel)
    return EmailHub(runtime, runtime.hub, channel)


@pytest.fixture
async def email_settings(settings: Settings, relay: RelayStandIn, tls_files: TlsFiles) -> Settings:
    settings.channels["email"] = email_config(relay.port, tls_files.cert)
    return settings


@pytest.fixture
async def email_hub(email_settings: Settings, shop_bot: Any) -> AsyncIterator[EmailHub]:
    hub = await start_email_hub(email_settings, shop_bot)
    yield hub
    await hub.runtime.stop()
    await _drop(email_settings)


def customer_mail(subject: str, body: str, *, sender: str = "Dana Scully <dana@example.org>",
                  to: str = "Support <support@example.com>", in_reply_to: str | None = None,
                  references: list[str] | None = None, headers: dict[str, str] | None = None,
                  html: str | None = None) -> EmailMessage:
    """A mail as a customer's client writes it (Message-ID, Date, optional threading headers)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = make_msgid(domain="client.example.org")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(body)
    if html:
        mail.add_alternative(html, subtype="html")
    return mail


def msgid(mail: EmailMessage) -> str:
    return str(mail["Message-ID"]).strip("<>")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot on a free loopback port for the session (install: apt-get install -y dovecot-imapd)."""
    try:
        server = Dovecot()
    except FileNotFoundError:
        pytest.fail("dovecot is not installed: the IMAP tests need Debian's dovecot-imapd "
                    "(apt-get update && apt-get install -y dovecot-imapd)", pytrace=False)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"could not start dovecot: {exc}", pytrace=False)
    yield server
    server.stop()
