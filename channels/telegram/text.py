"""Telegram's 4096-character message limit, counted in UTF-16 code units (see `channels.text`)."""

from __future__ import annotations

from channels.text import measure, utf16_units
from channels.text import split_text as shared_split

MESSAGE_LIMIT = 4096
#: A caption on a document (or on an album) may hold at most this many UTF-16 units.
CAPTION_LIMIT = 1024


def utf16_len(text: str) -> int:
    return measure(text, utf16_units)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    return shared_split(text, limit, weight=utf16_units)
