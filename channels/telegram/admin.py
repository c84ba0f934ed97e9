"""The Channels page's view of Telegram: webhook URLs, a credential check (`getMe`, `getWebhookInfo`), a test target."""

from __future__ import annotations

from typing import Any

from telegram.error import InvalidToken, NetworkError, TelegramError

from channels.base import ChannelConfigError, CheckLine, PasteUrl, TestTarget
from channels.telegram.bots import TelegramBot
from channels.telegram.config import CHANNEL, TelegramConfig

DESTINATION = "Telegram chat ID (a number; the chat must have written to the bot first)"
SET_WEBHOOK = ("set it with `switchboard telegram set-webhook`: it registers this URL together with the bot's "
               "secret_token, which Telegram then sends on every call")


def paste_urls(raw: dict[str, Any], public_url: str) -> list[PasteUrl]:
    return [PasteUrl(f"Bot {name}: webhook URL", public_url + TelegramConfig.webhook_path(str(name)), SET_WEBHOOK)
            for name in (raw.get("bots") or {})]


async def check(raw: dict[str, Any], public_url: str) -> list[CheckLine]:
    try:
        config = TelegramConfig.from_mapping(raw)
    except ChannelConfigError as exc:
        return [CheckLine("configuration", False, str(exc))]
    lines: list[CheckLine] = []
    for spec in config.bots.values():
        bot = TelegramBot(spec, config)
        try:
            me = await bot.bot.get_me()
            lines.append(CheckLine(f"{spec.name}: getMe", True, f"bot @{me.username}"))
            info = await bot.bot.get_webhook_info()
            expected = public_url + config.webhook_path(spec.name)
            if info.url == expected:
                detail = f"webhook points at this hub ({info.pending_update_count} updates pending)"
                if info.last_error_message:
                    detail += f"; Telegram's last delivery error: {info.last_error_message}"
                lines.append(CheckLine(f"{spec.name}: getWebhookInfo", not info.last_error_message, detail))
            else:
                lines.append(CheckLine(f"{spec.name}: getWebhookInfo", False,
                                       f"webhook is {info.url or 'not set'}, not {expected}: {SET_WEBHOOK}"))
        except InvalidToken:
            lines.append(CheckLine(f"{spec.name}: getMe", False, "Telegram refused the token (Unauthorized)"))
        except NetworkError as exc:
            lines.append(CheckLine(f"{spec.name}: getMe", False, f"cannot reach {config.api_base_url}: {exc.message}"))
        except TelegramError as exc:
            lines.append(CheckLine(f"{spec.name}: getMe", False, f"Telegram refused: {exc.message}"))
        finally:
            await bot.close()
    return lines


def test_target(raw: dict[str, Any], destination: str, sender: str | None) -> TestTarget:
    bots = [str(b) for b in (raw.get("bots") or {})]
    bot = sender or (bots[0] if bots else "")
    if bot not in bots:
        raise ValueError(f"a configured bot ({', '.join(bots)})")
    try:
        chat_id = int(destination.strip())
    except ValueError as exc:
        raise ValueError("a Telegram chat ID (a number)") from exc
    return TestTarget(CHANNEL, str(chat_id), f"{bot}:{chat_id}", {"bot": bot, "chat_id": chat_id})
