"""Reading a Telegram `Update` (parsed by python-telegram-bot) into what the hub needs.

Text, photos (the largest size), documents, voice/audio/video files, `/start`,
edited messages (appended for agents, not answered again by the bot) and presses
of our inline quick-reply buttons (`callback_query`: the customer's answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import CallbackQuery, Message, Update, User

#: Media kinds stored as attachments: attribute on `Message`, default file name, default MIME type.
MEDIA = (
    ("document", "document", "application/octet-stream"),
    ("voice", "voice.ogg", "audio/ogg"),
    ("audio", "audio", "audio/mpeg"),
    ("video", "video.mp4", "video/mp4"),
    ("video_note", "video_note.mp4", "video/mp4"),
    ("animation", "animation.mp4", "video/mp4"),
)
#: Content we keep a note of but cannot turn into text or a file.
OTHER_CONTENT = ("sticker", "location", "venue", "contact", "poll", "dice", "game", "story")


class MalformedUpdate(ValueError):
    """An update missing what Telegram always sends (PTB's parser is lenient and leaves it None)."""


@dataclass(frozen=True)
class TelegramFile:
    kind: str
    file_id: str
    file_unique_id: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class CustomerUpdate:
    """What one update says from the customer, or why we skip it."""

    kind: str
    chat_id: int
    user: User
    text: str
    date: datetime | None
    message_id: int | None = None
    files: tuple[TelegramFile, ...] = ()
    command: str | None = None
    start_param: str | None = None
    #: Stored and shown to agents, but the bot does not answer it (edits, stickers, ...).
    suppress_bot: bool = False
    callback_query_id: str | None = None
    button_title: str | None = None


def read_update(update: Update, start_text: str) -> CustomerUpdate | str:
    """The customer's update, or a string saying why it is not one (acknowledged and ignored)."""
    if update.callback_query is not None:
        return _callback(update.callback_query)
    edited = update.edited_message is not None
    message = update.message or update.edited_message
    if message is None:
        return "not a message or button press"
    if message.chat is None or message.message_id is None:
        raise MalformedUpdate("message without chat or message_id")
    if message.from_user is None or message.from_user.is_bot:
        return "not written by a person"
    text = message.text or message.caption or ""
    files = _files(message)
    command, start_param = _start_command(message)
    suppress = edited
    if command == "/start":
        text = start_text
    if not text and not files:
        other = next((k for k in OTHER_CONTENT if getattr(message, k, None)), None)
        if other is None:
            return "service message"
        text, suppress = f"[{other}]", True
    return CustomerUpdate(
        kind="edited_message" if edited else "message",
        chat_id=message.chat.id,
        user=message.from_user,
        text=text,
        date=message.edit_date if edited and message.edit_date else message.date,
        message_id=message.message_id,
        files=files,
        command=command,
        start_param=start_param,
        suppress_bot=suppress,
    )


def _callback(query: CallbackQuery) -> CustomerUpdate | str:
    message = query.message
    if query.from_user is None:
        raise MalformedUpdate("callback_query without from")
    if message is None or not query.data:
        return "button press on an inline message, or without data"
    if message.chat is None:
        raise MalformedUpdate("callback_query message without chat")
    title = None
    markup = getattr(message, "reply_markup", None)
    if markup is not None:
        title = next((b.text for row in markup.inline_keyboard for b in row if b.callback_data == query.data), None)
    return CustomerUpdate(kind="callback_query", chat_id=message.chat.id, user=query.from_user, text=query.data,
                          date=None, message_id=message.message_id, callback_query_id=query.id,
                          button_title=title)


def _start_command(message: Message) -> tuple[str | None, str | None]:
    """`/start` (or `/start@our_bot`, with an optional deep-link parameter) at the start of the text."""
    text = message.text or ""
    for entity in message.entities:
        if entity.type == "bot_command" and entity.offset == 0:
            command = text[: entity.length].split("@", 1)[0].lower()
            if command == "/start":
                param = text[entity.length:].strip() or None
                return command, param
    return None, None


def _files(message: Message) -> tuple[TelegramFile, ...]:
    files: list[TelegramFile] = []
    if message.photo:
        # Telegram sends each photo in several sizes; the largest is the original.
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        files.append(TelegramFile("photo", largest.file_id, largest.file_unique_id,
                                  f"photo_{largest.file_unique_id}.jpg", "image/jpeg", largest.file_size or 0))
    for attr, default_name, default_type in MEDIA:
        media = getattr(message, attr, None)
        if media is None:
            continue
        name = getattr(media, "file_name", None) or f"{media.file_unique_id}_{default_name}"
        files.append(TelegramFile(attr, media.file_id, media.file_unique_id, name,
                                  getattr(media, "mime_type", None) or default_type, media.file_size or 0))
    return tuple(files)
