"""Telegram: one or more Telegram bots as a support channel, through their webhooks.

python-telegram-bot is imported only when `create` runs (the channel is enabled).
The hub serves the webhook itself; PTB's Application/Updater polling is never used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.base import ChannelContext

if TYPE_CHECKING:
    from channels.telegram.channel import TelegramChannel


def create(context: ChannelContext) -> TelegramChannel:
    from channels.telegram.channel import TelegramChannel

    return TelegramChannel(context)


__all__ = ["create"]
