"""The webhook Telegram calls for each update: secret check, parse, de-duplicate, ingest.

Telegram retries an update until it gets a 2xx, so the 200 is sent only after
`hub.ingest` returned (the message is stored). `update_id` (with the bot's name)
is the message's external id: a replayed update is a no-op.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError

from channels.base import bad_request, read_json
from channels.telegram.bots import BotRegistry, TelegramBot
from channels.telegram.config import CHANNEL, TelegramConfig
from channels.telegram.files import fetch_files
from channels.telegram.updates import CustomerUpdate, MalformedUpdate, read_update
from hub.csat import score_of
from hub.hub import Hub
from hub.models import InboundMessage, Sender, utcnow

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)


class TelegramWebhook:
    def __init__(self, hub: Hub, bots: BotRegistry, config: TelegramConfig) -> None:
        self.hub = hub
        self.bots = bots
        self.config = config

    async def handle(self, request: web.Request) -> web.Response:
        bot = self._check_bot(request)
        body = await read_json(request)
        update_id = body.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise bad_request("update_id (an integer) is required")
        try:
            parsed = read_update(Update.de_json(body, bot.bot), self.config.start_text)
        except MalformedUpdate as exc:
            raise bad_request(f"not a Telegram update: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_request(f"not a Telegram update: {exc!r}") from exc
        if isinstance(parsed, str):
            log.debug("telegram: %s update %s ignored (%s)", bot.name, update_id, parsed)
            return web.json_response({"ok": True, "ignored": parsed})
        external_id = f"{bot.name}:{update_id}"
        if await self._already_stored(external_id):
            return web.json_response({"ok": True, "duplicate": True})
        score = score_of(parsed.text) if parsed.callback_query_id else None
        if score is not None:  # a CSAT button: the ticket's rating (hub.csat), not a message for the bot
            outcome = await self.hub.tickets.rate_from_thread(CHANNEL, f"{bot.name}:{parsed.chat_id}", score)
            if outcome != "none":
                await _stop_spinner(bot, parsed.callback_query_id)
                return web.json_response({"ok": True, "rating": outcome})
        result = await self.hub.ingest(await self._inbound(bot, parsed, external_id, update_id))
        if parsed.callback_query_id and not result.duplicate:
            await _stop_spinner(bot, parsed.callback_query_id)
        return web.json_response({"ok": True, "duplicate": result.duplicate})

    def _check_bot(self, request: web.Request) -> TelegramBot:
        bot = self.bots.get(request.match_info["bot_name"])
        if bot is None:
            raise bad_request("unknown bot", 404)
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            raise bad_request(f"missing {SECRET_HEADER}", 401)
        if not hmac.compare_digest(given.encode(), bot.secret_token.encode()):
            raise bad_request(f"wrong {SECRET_HEADER}", 403)
        return bot

    async def _already_stored(self, external_id: str) -> bool:
        """A replay is answered before any file is downloaded again."""
        return await self.hub.is_ingested(CHANNEL, external_id)

    async def _inbound(self, bot: TelegramBot, parsed: CustomerUpdate, external_id: str,
                       update_id: int) -> InboundMessage:
        attachments, file_meta = await fetch_files(bot.bot, parsed.files, self.config.max_download_bytes)
        user = parsed.user
        meta: dict[str, Any] = {
            "bot": bot.name, "update_id": update_id, "kind": parsed.kind, "chat_id": parsed.chat_id,
            "message_id": parsed.message_id, "username": user.username, "language_code": user.language_code,
            "files": file_meta,
        }
        if parsed.command:
            meta.update(command=parsed.command, start_param=parsed.start_param)
        if parsed.button_title:
            meta["button"] = parsed.button_title
        return InboundMessage(
            channel=CHANNEL,
            external_id=external_id,
            thread_key=f"{bot.name}:{parsed.chat_id}",
            sender=Sender(external_id=str(user.id), display_name=user.full_name or user.username),
            text=parsed.text,
            attachments=attachments,
            received_at=parsed.date or utcnow(),
            suppress_bot=parsed.suppress_bot,
            inbox=bot.name,
            metadata={"telegram": meta},
            reply_context={"bot": bot.name, "chat_id": parsed.chat_id},
        )


async def _stop_spinner(bot: TelegramBot, query_id: str) -> None:
    """Tell the customer's app the button press was received (it shows a spinner until then)."""
    try:
        await bot.bot.answer_callback_query(query_id)
    except TelegramError as exc:
        log.warning("telegram: answerCallbackQuery failed for %s: %s", bot.name, exc)
