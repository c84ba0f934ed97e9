"""A stand-in for the outbound SMTP relay: a real aiosmtpd server on loopback (STARTTLS + AUTH required).

It records every message it accepts, can refuse chosen recipients with 550, can answer
logins with a chosen reply (`auth_answer`, e.g. a temporary 454), and can be stopped and
started again on the same port to play a relay that is down for a while.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Relayed:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    authenticated_as: str | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class RelayStandIn:
    def __init__(self, tls: ssl.SSLContext, username: str, password: str) -> None:
        self.tls = tls
        self.username = username
        self.password = password
        self.received: list[Relayed] = []
        self.queue: asyncio.Queue[Relayed] = asyncio.Queue()
        self.refuse: dict[str, str] = {}
        #: Each recipient refused (by `refuse`), in order.
        self.refused: list[str] = []
        self.port = 0
        self.server: asyncio.AbstractServer | None = None
        self.connections = 0
        self.implicit_tls = False
        #: When set, every AUTH is refused with this reply instead of checking the credentials.
        self.auth_answer: str | None = None
        self.auth_attempts = 0

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        self.auth_attempts += 1
        if self.auth_answer is not None:
            return AuthResult(success=False, handled=False, message=self.auth_answer)
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            self.refused.append(address)
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        transport = server.transport
        tls = session.ssl is not None or (transport is not None and transport.get_extra_info("ssl_object") is not None)
        item = Relayed(str(envelope.mail_from), tuple(envelope.rcpt_tos), raw,
                       session.auth_data if session.authenticated else None, tls)
        self.received.append(item)
        self.queue.put_nowait(item)
        return "250 2.0.0 queued"

    def _protocol(self) -> SMTP:
        self.connections += 1
        if self.implicit_tls:  # port-465 style: TLS from the first byte, so no STARTTLS to require
            return SMTP(self, hostname="relay.test", auth_require_tls=False, authenticator=self._authenticate,
                        loop=asyncio.get_running_loop())
        return SMTP(self, hostname="relay.test", tls_context=self.tls, require_starttls=True, auth_required=True,
                    authenticator=self._authenticate, loop=asyncio.get_running_loop())

    async def start(self, implicit_tls: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.implicit_tls = implicit_tls
        self.server = await loop.create_server(self._protocol, host="127.0.0.1", port=self.port,
                                               ssl=self.tls if implicit_tls else None)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def next(self, seconds: float = 10.0) -> Relayed:
        """The next message the relay accepts (waits for it)."""
        return await asyncio.wait_for(self.queue.get(), seconds)
