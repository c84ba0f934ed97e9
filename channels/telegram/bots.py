"""One `telegram.Bot` per configured bot, built against the configured Bot API base URL."""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram.request import HTTPXRequest

from channels.telegram.config import BotConfig, TelegramConfig


class TelegramBot:
    """A configured bot: its name in our URLs, its webhook secret, and PTB's client for it."""

    def __init__(self, config: BotConfig, telegram: TelegramConfig) -> None:
        self.name = config.name
        self.secret_token = config.secret_token
        timeout = telegram.timeout_seconds
        self._request = HTTPXRequest(connection_pool_size=16, read_timeout=timeout, write_timeout=timeout,
                                     connect_timeout=timeout, media_write_timeout=timeout)
        # Only Bot API methods and file downloads are used: no Application, no getUpdates polling.
        self.bot = Bot(config.token, base_url=telegram.bot_base_url, base_file_url=telegram.file_base_url,
                       request=self._request, get_updates_request=self._request)

    async def close(self) -> None:
        await self._request.shutdown()


class BotRegistry:
    def __init__(self, config: TelegramConfig) -> None:
        self.bots = {name: TelegramBot(spec, config) for name, spec in config.bots.items()}

    def get(self, name: str) -> TelegramBot | None:
        return self.bots.get(name)

    async def close(self) -> None:
        await asyncio.gather(*(bot.close() for bot in self.bots.values()))
