"""Customer files fetched through the Bot API (`getFile`, then the file URL), or kept as file ids.

The download URL contains the bot token, so it is never stored: a file that could
not be fetched is kept as its `file_id` (valid for this bot, re-fetchable later).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from channels.telegram.updates import TelegramFile
from hub.models import Attachment

log = logging.getLogger(__name__)


async def fetch_files(bot: Bot, files: tuple[TelegramFile, ...],
                      max_bytes: int) -> tuple[tuple[Attachment, ...], list[dict[str, Any]]]:
    attachments: list[Attachment] = []
    meta: list[dict[str, Any]] = []
    for f in files:
        data, error = await _download(bot, f, max_bytes)
        attachments.append(Attachment(filename=f.filename, content_type=f.content_type, data=data,
                                      size=len(data) if data is not None else f.size))
        meta.append({"kind": f.kind, "file_id": f.file_id, "file_unique_id": f.file_unique_id,
                     "size": f.size, "downloaded": data is not None, "error": error})
    return tuple(attachments), meta


async def _download(bot: Bot, f: TelegramFile, max_bytes: int) -> tuple[bytes | None, str | None]:
    if f.size > max_bytes:
        return None, f"larger than {max_bytes} bytes"
    try:
        remote = await bot.get_file(f.file_id)
        if (remote.file_size or 0) > max_bytes:
            return None, f"larger than {max_bytes} bytes"
        data = bytes(await remote.download_as_bytearray())
    except TelegramError as exc:
        log.warning("telegram: could not download %s %s (%s); keeping its file_id", f.kind, f.file_id, exc)
        return None, str(exc)
    return data, None
