"""The email channel as the composition root sees it: SMTP listener, IMAP pollers, relay sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from channels.base import ChannelContext
from channels.email.config import EmailConfig, parse_config
from channels.email.imap_poller import ImapPoller, UidStore
from channels.email.inbound import CHANNEL, Receiver
from channels.email.sender import EmailSender
from channels.email.smtp_server import InboundHandler, SmtpListener
from hub.csat import CsatLinks

log = logging.getLogger(__name__)


class EmailChannel:
    name = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self.hub = context.hub
        self.config: EmailConfig = parse_config(context.config)
        self.receiver = Receiver(self.hub, self.config)
        links = CsatLinks(context.secret, context.public_url) if context.secret else None  # CSAT links
        self.sender = EmailSender(self.config, links)
        self.listener: SmtpListener | None = None
        if self.config.listener.enabled:
            handler = InboundHandler(self.receiver, self.receiver.directory)
            self.listener = SmtpListener(self.config.listener, handler, self.config.max_message_bytes)
        self.pollers: list[ImapPoller] = []
        self._tasks: list[asyncio.Task[None]] = []

    def routes(self) -> list[web.RouteDef]:
        return []

    def senders(self) -> list[EmailSender]:
        return [self.sender]

    def news_mailer(self) -> EmailSender | None:
        """What sends the hub's own email to desk users (hub.newsmail): the relay's sender, if there is a relay."""
        return self.sender if self.config.relay is not None else None

    async def start(self) -> None:
        if self.listener is not None:
            await self.listener.start()
        uids = UidStore(self.hub.store)
        for mailbox in self.config.mailboxes.values():
            if mailbox.imap is None:
                continue
            poller = ImapPoller(mailbox, self.receiver, uids, self.config.max_message_bytes)
            self.pollers.append(poller)
            task = asyncio.create_task(poller.run(), name=f"email:imap:{mailbox.name}")
            task.add_done_callback(_log_crash)
            self._tasks.append(task)
        if self.config.relay is None:
            log.warning("email: no relay configured; replies by email will fail until channels.email.relay is set")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.pollers.clear()
        if self.listener is not None:
            await self.listener.stop()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("email: %s stopped", task.get_name(), exc_info=task.exception())
