"""Outbound: a hub message sent to the customer's chat with `sendMessage`.

Long texts are split under the 4096-character limit; quick replies become an
inline keyboard whose button presses come back as `callback_query` updates.
"""

from __future__ import annotations

import datetime as dt
import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from channels.telegram.bots import BotRegistry
from channels.telegram.config import CHANNEL
from channels.telegram.text import split_text
from hub.models import OutboundMessage, QuickReply, SendError, SendResult

#: Telegram's limit for callback_data, in bytes.
CALLBACK_DATA_LIMIT = 64


class TelegramSender:
    channel = CHANNEL

    def __init__(self, bots: BotRegistry) -> None:
        self.bots = bots
        #: Parts of a split message already sent, per outbox entry, so a retry resumes instead of repeating.
        self._sent: dict[str, list[int]] = {}

    async def send(self, message: OutboundMessage) -> SendResult:
        bot_name, chat_id = _destination(message)
        bot = self.bots.get(bot_name)
        if bot is None:
            raise SendError(f"no Telegram bot named {bot_name!r} is configured", transient=False)
        parts = split_text(message.text)
        if not parts:
            raise SendError("empty message", transient=False)
        keyboard = quick_reply_keyboard(message.quick_replies)
        done = self._sent.setdefault(message.outbox_id, [])
        for index in range(len(done), len(parts)):
            last = index == len(parts) - 1
            try:
                sent = await bot.bot.send_message(chat_id=chat_id, text=parts[index],
                                                  reply_markup=keyboard if last else None)
            except TelegramError as exc:
                error = send_error(exc)
                if not error.transient:
                    self._sent.pop(message.outbox_id, None)
                raise error from exc
            done.append(sent.message_id)
        self._sent.pop(message.outbox_id, None)
        return SendResult(provider_id=f"{bot_name}:{chat_id}:{done[0]}")


def _destination(message: OutboundMessage) -> tuple[str, int]:
    """Bot and chat from the conversation's reply context, else from the `bot:chat` thread key."""
    bot_name = message.metadata.get("bot")
    chat_id = message.metadata.get("chat_id")
    if bot_name is None or chat_id is None:
        bot_name, _, chat = message.thread_key.rpartition(":")
        chat_id = chat
    try:
        return str(bot_name), int(chat_id)
    except ValueError as exc:
        raise SendError(f"no Telegram chat for thread {message.thread_key!r}", transient=False) from exc


def quick_reply_keyboard(replies: tuple[QuickReply, ...]) -> InlineKeyboardMarkup | None:
    """One button per row; pressing it sends the payload back (the title when the payload is too long)."""
    if not replies:
        return None
    rows = [[InlineKeyboardButton(r.title or r.payload, callback_data=_callback_data(r))] for r in replies]
    return InlineKeyboardMarkup(rows)


def _callback_data(reply: QuickReply) -> str:
    for candidate in (reply.payload, reply.title):
        if candidate and len(candidate.encode()) <= CALLBACK_DATA_LIMIT:
            return candidate
    return (reply.title or reply.payload).encode()[:CALLBACK_DATA_LIMIT].decode(errors="ignore")


def send_error(exc: TelegramError) -> SendError:
    """PTB's exception, as the outbox understands it (mind the order: BadRequest is a NetworkError)."""
    if isinstance(exc, RetryAfter):
        return SendError(f"Telegram rate limit: {exc.message}", transient=True, retry_after=_seconds(exc))
    if isinstance(exc, BadRequest | Forbidden | InvalidToken | ChatMigrated):
        return SendError(f"Telegram refused the message: {exc.message}", transient=False)
    if isinstance(exc, NetworkError):
        return SendError(f"Telegram unreachable or failing: {exc.message}", transient=True)
    return SendError(f"Telegram error: {exc.message}", transient=False)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that `retry_after` will become a timedelta; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
