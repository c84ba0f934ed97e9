"""`switchboard telegram set-webhook`: point each configured bot's webhook at this hub.

Calls the Bot API's `setWebhook` with url `<public_url>/webhooks/telegram/<bot_name>`
and the bot's `secret_token`, then prints what `getWebhookInfo` reports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bot", action="append", dest="bots", metavar="NAME",
                        help="only this configured bot (repeatable; default: every bot under channels.telegram.bots)")
    parser.add_argument("--drop-pending-updates", action="store_true",
                        help="discard updates Telegram queued while no webhook was reachable")
    parser.add_argument("--public-url", help="the hub's public HTTPS URL (default: hub.public_url in the config)")


async def run(args: argparse.Namespace, channel_config: Mapping[str, Any], public_url: str | None) -> int:
    """Set each bot's webhook. The composition root hands over `channels.telegram` and `hub.public_url`."""
    from telegram.error import TelegramError

    from channels.telegram.bots import BotRegistry
    from channels.telegram.config import ALLOWED_UPDATES, TelegramConfig, TelegramConfigError

    try:
        config = TelegramConfig.from_mapping(channel_config)
    except TelegramConfigError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    public_url = (args.public_url or public_url or "").rstrip("/")
    if not public_url.startswith("https://") and not public_url.startswith("http://127.0.0.1"):
        print("switchboard: Telegram only calls HTTPS webhooks; set hub.public_url (SWITCHBOARD_PUBLIC_URL) "
              "or pass --public-url https://...", file=sys.stderr)
        return 2
    names = args.bots or list(config.bots)
    unknown = [n for n in names if n not in config.bots]
    if unknown:
        print(f"switchboard: no bot named {', '.join(unknown)} under channels.telegram.bots", file=sys.stderr)
        return 2
    registry = BotRegistry(config)
    failures = 0
    try:
        for name in names:
            bot = registry.bots[name]
            url = public_url + config.webhook_path(name)
            try:
                await bot.bot.set_webhook(url=url, secret_token=bot.secret_token,
                                          allowed_updates=list(ALLOWED_UPDATES),
                                          drop_pending_updates=args.drop_pending_updates)
                info = await bot.bot.get_webhook_info()
            except TelegramError as exc:
                failures += 1
                print(f"{name}: setWebhook failed: {exc.message}", file=sys.stderr)
                continue
            print(f"{name}: webhook set to {info.url or url} ({info.pending_update_count} pending updates)")
    finally:
        await registry.close()
    return 1 if failures else 0
