"""The hub's SMTP listener (aiosmtpd), running on the hub's own event loop.

An MTA (Postfix `transport_maps`, a provider's inbound forwarding) delivers to it.
It accepts only our mailbox addresses and their plus-addresses, refusing every
other recipient at RCPT time (`550`): it is never an open relay. The SIZE
extension advertises the limit and a larger message gets `552`. STARTTLS is
offered when a certificate is configured. `250` is answered only once
`hub.ingest` returned; a database outage answers `451`, so the sending MTA
keeps the mail and tries again later.

aiosmtpd's `Controller` runs its own loop in a thread; the hub's database
client lives on the main loop, so the `SMTP` protocol is served with
`loop.create_server` directly instead.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.config import ListenerConfig
from channels.email.directory import Directory
from channels.email.inbound import Receiver
from hub.store import PyMongoError

log = logging.getLogger(__name__)


class InboundHandler:
    """aiosmtpd hooks: RCPT decides who we accept mail for, DATA hands it to the `Receiver`."""

    def __init__(self, receiver: Receiver, directory: Directory) -> None:
        self.receiver = receiver
        self.directory = directory

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.directory.match(address) is None:
            log.info("email: refused recipient %r from %s (not one of our mailboxes)", address, session.peer)
            return "550 5.1.1 No such mailbox here (this server only accepts mail for its support addresses)"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", errors="surrogateescape")
        try:
            outcome = await self.receiver.receive(data, recipients=list(envelope.rcpt_tos),
                                                  envelope_from=envelope.mail_from, source="smtp")
        except PyMongoError as exc:
            log.warning("email: database unavailable, deferring mail from %s: %s", envelope.mail_from, exc)
            return "451 4.3.0 Temporary failure storing the message, please try again later"
        except Exception:
            log.exception("email: unexpected error handling mail from %s; deferred", envelope.mail_from)
            return "451 4.3.0 Temporary failure, please try again later"
        if not outcome.accepted:
            return f"554 5.6.0 Message refused: {outcome.detail}"
        return f"250 2.0.0 OK {outcome.status}"


class SmtpListener:
    def __init__(self, config: ListenerConfig, handler: InboundHandler, max_message_bytes: int) -> None:
        self.config = config
        self.handler = handler
        self.max_message_bytes = max_message_bytes
        self.server: asyncio.AbstractServer | None = None
        self.port: int | None = None
        self._tls = self._tls_context()
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _tls_context(self) -> ssl.SSLContext | None:
        if not (self.config.tls_cert and self.config.tls_key):
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    def _protocol(self) -> SMTP:
        kwargs: dict[str, Any] = {
            "data_size_limit": self.max_message_bytes,
            "enable_SMTPUTF8": True,
            "hostname": self.config.hostname,
            "timeout": self.config.timeout,
            "loop": asyncio.get_running_loop(),
        }
        if self._tls is not None:
            kwargs.update(tls_context=self._tls, require_starttls=self.config.require_starttls)
        protocol = SMTP(self.handler, **kwargs)
        self._sessions.add(protocol)
        return protocol

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._protocol, host=self.config.host, port=self.config.port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("email: SMTP listener on %s:%s%s", self.config.host, self.port,
                 " (STARTTLS)" if self._tls else "")

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for protocol in list(self._sessions):
                if protocol.transport is not None and not protocol.transport.is_closing():
                    protocol.transport.close()
            self._sessions.clear()
            await self.server.wait_closed()
            self.server = None
