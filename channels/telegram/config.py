"""The `channels.telegram` section of the configuration, checked once at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from channels.base import ChannelConfigError

CHANNEL = "telegram"
DEFAULT_API_BASE = "https://api.telegram.org"
WEBHOOK_PREFIX = "/webhooks/telegram"
#: What Telegram allows in `secret_token` (1-256 characters).
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
BOT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: The updates the webhook asks for; anything else is acknowledged and ignored.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")


class TelegramConfigError(ChannelConfigError):
    pass


@dataclass(frozen=True)
class BotConfig:
    name: str
    token: str
    #: Sent back by Telegram in X-Telegram-Bot-Api-Secret-Token on every webhook call.
    secret_token: str


@dataclass(frozen=True)
class TelegramConfig:
    bots: dict[str, BotConfig]
    #: The Bot API root (a local Bot API server, or a test stand-in); methods go to <base>/bot<token>/...
    api_base_url: str = DEFAULT_API_BASE
    #: What `/start` is handed to the bot as, so it greets like for "hello".
    start_text: str = "hello"
    #: Telegram lets bots download files up to 20 MB; larger ones are kept as file ids.
    max_download_bytes: int = 20 * 1024 * 1024
    timeout_seconds: float = 10.0

    @property
    def bot_base_url(self) -> str:
        return f"{self.api_base_url}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.api_base_url}/file/bot"

    @staticmethod
    def webhook_path(bot_name: str) -> str:
        return f"{WEBHOOK_PREFIX}/{bot_name}"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> TelegramConfig:
        bots: dict[str, BotConfig] = {}
        for name, spec in (raw.get("bots") or {}).items():
            spec = spec or {}
            token = str(spec.get("token") or "")
            secret = str(spec.get("secret_token") or "")
            if not BOT_NAME.match(str(name)):
                raise TelegramConfigError(f"channels.telegram.bots: {name!r} must be letters, digits, _ or -")
            if ":" not in token:
                raise TelegramConfigError(f"channels.telegram.bots.{name}.token must be the BotFather token")
            if not SECRET_TOKEN.match(secret):
                raise TelegramConfigError(f"channels.telegram.bots.{name}.secret_token is required: "
                                          "1-256 characters of A-Z, a-z, 0-9, _ and -")
            bots[str(name)] = BotConfig(name=str(name), token=token, secret_token=secret)
        if not bots:
            raise TelegramConfigError("channels.telegram.bots needs at least one bot (name: {token, secret_token})")
        base = str(raw.get("api_base_url") or DEFAULT_API_BASE).rstrip("/")
        if urlsplit(base).scheme not in ("http", "https"):
            raise TelegramConfigError("channels.telegram.api_base_url must be an http(s) URL")
        return cls(
            bots=bots,
            api_base_url=base,
            start_text=str(raw.get("start_text") or cls.start_text),
            max_download_bytes=int(raw.get("max_download_bytes", cls.max_download_bytes)),
            timeout_seconds=float(raw.get("timeout_seconds", cls.timeout_seconds)),
        )
