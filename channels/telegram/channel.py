"""The Telegram channel as the composition root sees it: a webhook per bot, one sender."""

from __future__ import annotations

from aiohttp import web

from channels.base import ChannelContext
from channels.telegram.bots import BotRegistry
from channels.telegram.config import CHANNEL, WEBHOOK_PREFIX, TelegramConfig
from channels.telegram.sender import TelegramSender
from channels.telegram.webhook import TelegramWebhook


class TelegramChannel:
    name = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self.config = TelegramConfig.from_mapping(context.config)
        self.bots = BotRegistry(self.config)
        self.webhook = TelegramWebhook(context.hub, self.bots, self.config)
        self.sender = TelegramSender(self.bots)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(WEBHOOK_PREFIX + "/{bot_name}", self.webhook.handle)]

    def senders(self) -> list[TelegramSender]:
        return [self.sender]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.bots.close()
