"""Outbound: a hub message sent to the customer's chat, as text (`sendMessage`) and agents' files.

Long texts are split under the 4096-character limit; quick replies become an
inline keyboard whose button presses come back as `callback_query` updates.

Files (`files = FILES_BYTES`: the hub hands over their bytes) are uploaded in as few
calls as possible, so that an outbox retry never repeats part of a reply: one file is
one `sendDocument` with the text as its caption, 2-10 files are one `sendMediaGroup`
album of documents with the caption on the first. `_file_steps` lists the cases that
take more calls; a retry resumes after the calls Telegram already accepted.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, InputMediaDocument
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from channels.telegram.bots import BotRegistry
from channels.telegram.config import CHANNEL
from channels.telegram.text import CAPTION_LIMIT, split_text, utf16_len
from hub.models import Attachment, OutboundMessage, QuickReply, SendError, SendResult
from hub.ports import FILES_BYTES

#: Telegram's limit for callback_data, in bytes.
CALLBACK_DATA_LIMIT = 64
#: The Bot API's limit for a file a bot uploads with multipart/form-data.
UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
#: An album (`sendMediaGroup`) holds 2 to 10 items.
ALBUM_LIMIT = 10

#: One posting call to the Bot API; gives the id of the (first) message it created.
Step = Callable[[], Awaitable[int]]


class TelegramSender:
    channel = CHANNEL
    #: Agents' files are uploaded to Telegram: the hub loads their bytes for us.
    files = FILES_BYTES

    def __init__(self, bots: BotRegistry) -> None:
        self.bots = bots
        #: Calls of a message already made (their first message ids), per outbox entry, so a retry resumes
        #: instead of repeating: the parts of a split text, or the text sent before its files.
        self._sent: dict[str, list[int]] = {}

    async def send(self, message: OutboundMessage) -> SendResult:
        bot_name, chat_id = _destination(message)
        bot = self.bots.get(bot_name)
        if bot is None:
            raise SendError(f"no Telegram bot named {bot_name!r} is configured", transient=False)
        keyboard = quick_reply_keyboard(message.quick_replies)
        if message.attachments:
            steps = _file_steps(bot.bot, chat_id, message, keyboard)
        else:
            steps = _text_steps(bot.bot, chat_id, split_text(message.text), keyboard)
        if not steps:
            raise SendError("empty message", transient=False)
        done = self._sent.setdefault(message.outbox_id, [])
        for step in steps[len(done):]:
            try:
                first_id = await step()
            except TelegramError as exc:
                error = send_error(exc)
                if not error.transient:
                    self._sent.pop(message.outbox_id, None)
                raise error from exc
            done.append(first_id)
        self._sent.pop(message.outbox_id, None)
        return SendResult(provider_id=f"{bot_name}:{chat_id}:{done[0]}")


def _text_steps(bot: Bot, chat_id: int, parts: list[str], keyboard: InlineKeyboardMarkup | None) -> list[Step]:
    """One `sendMessage` per part of the split text; the keyboard rides on the last part."""

    def step(text: str, markup: InlineKeyboardMarkup | None) -> Step:
        async def call() -> int:
            return (await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)).message_id

        return call

    return [step(part, keyboard if index == len(parts) - 1 else None) for index, part in enumerate(parts)]


def _file_steps(bot: Bot, chat_id: int, message: OutboundMessage,
                keyboard: InlineKeyboardMarkup | None) -> list[Step]:
    """The calls that deliver a reply with files: one, unless Telegram's limits force more.

    Every file is checked before the first call, so a file Telegram would refuse fails
    the whole reply at once instead of after part of it was delivered.
    """
    files = [_checked(file) for file in message.attachments]
    caption: str | None = message.text.strip() or None
    steps: list[Step] = []
    if caption is not None and (utf16_len(caption) > CAPTION_LIMIT or (keyboard is not None and len(files) > 1)):
        # This case takes two calls (more if the text itself is split): a caption holds at most 1024
        # characters, and an album cannot carry an inline keyboard. So the text goes first, exactly as a
        # text-only reply (split under 4096, keyboard on its last part), then the files without caption.
        steps += _text_steps(bot, chat_id, split_text(message.text), keyboard)
        caption, keyboard = None, None
    albums = _albums(files)
    for index, album in enumerate(albums):
        # More than 10 files take one album per 10 (evenly filled, so none is left alone): one call each.
        first, last = index == 0, index == len(albums) - 1
        if len(album) == 1:
            steps.append(_document_step(bot, chat_id, album[0], caption if first else None,
                                        keyboard if last else None))
        else:
            steps.append(_album_step(bot, chat_id, album, caption if first else None))
    return steps


@dataclass(frozen=True)
class _File:
    """An attachment with its bytes, checked against Telegram's upload limit."""

    filename: str
    content_type: str
    data: bytes


def _checked(file: Attachment) -> _File:
    if file.data is None:  # the hub loads bytes for senders with files = "bytes"
        raise SendError(f"attachment {file.filename!r} came without its bytes", transient=False)
    if len(file.data) > UPLOAD_LIMIT_BYTES:
        raise SendError(f"attachment {file.filename!r} is {len(file.data)} bytes: Telegram bots can upload "
                        f"files of at most {UPLOAD_LIMIT_BYTES // (1024 * 1024)} MB", transient=False)
    return _File(file.filename, file.content_type, file.data)


def _input_file(file: _File, *, attach: bool) -> InputFile:
    """The file as a multipart part; `attach` names it for an `attach://` reference (albums)."""
    upload = InputFile(file.data, filename=file.filename, attach=attach)
    upload.mimetype = file.content_type  # the agent's file type rather than a guess from its name
    return upload


def _document_step(bot: Bot, chat_id: int, file: _File, caption: str | None,
                   keyboard: InlineKeyboardMarkup | None) -> Step:
    async def call() -> int:
        sent = await bot.send_document(chat_id=chat_id, document=_input_file(file, attach=False), caption=caption,
                                       reply_markup=keyboard)
        return sent.message_id

    return call


def _album_step(bot: Bot, chat_id: int, files: Sequence[_File], caption: str | None) -> Step:
    async def call() -> int:
        media = [InputMediaDocument(_input_file(file, attach=True)) for file in files]
        sent = await bot.send_media_group(chat_id=chat_id, media=media, caption=caption)
        return sent[0].message_id

    return call


def _albums(files: list[_File]) -> list[list[_File]]:
    """Groups of at most `ALBUM_LIMIT`, as even as possible: 11 files are 6 + 5, never 10 + 1."""
    count = -(-len(files) // ALBUM_LIMIT)
    size, extra = divmod(len(files), count)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        groups.append(files[start:end])
        start = end
    return groups


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
