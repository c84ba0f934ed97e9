"""The bot token and webhook secret never reach a log line while PTB and httpx talk to the Bot API stand-in."""

from __future__ import annotations

import pytest

from channels.telegram.bots import BotRegistry
from channels.telegram.config import TelegramConfig
from channels.telegram.sender import TelegramSender
from hub.models import AuthorKind, OutboundMessage, SendError
from switchboard.config import Settings
from switchboard.log_redaction import MASK
from tests.log_capture import serve_logs
from tests.telegram.conftest import BOT_TOKEN, SECRET_TOKEN, telegram_config
from tests.telegram.standin import Failure, TelegramStandIn

TOKEN_SECRET_PART = BOT_TOKEN.split(":")[1]


def reply(outbox_id: str, text: str) -> OutboundMessage:
    return OutboundMessage(outbox_id=outbox_id, message_id=outbox_id, conversation_id="c1", channel="telegram",
                           thread_key="support:111111111", recipient="111111111", text=text,
                           author_kind=AuthorKind.AGENT)


async def test_bot_api_urls_and_parameters_are_logged_without_the_token(telegram_api: TelegramStandIn) -> None:
    settings = Settings(secret="hub-signing-secret-for-this-test", channels={"telegram": telegram_config(telegram_api)})
    with serve_logs(settings) as logs:
        bots = BotRegistry(TelegramConfig.from_mapping(settings.channels["telegram"]))
        try:
            await TelegramSender(bots).send(reply("o1", "Your parcel left the warehouse."))
            telegram_api.fail_next("sendMessage", Failure(502, "Bad Gateway"))
            with pytest.raises(SendError):
                await TelegramSender(bots).send(reply("o2", "Second try"))
            bot = bots.get("support")
            assert bot is not None
            # What `switchboard telegram set-webhook` does: the webhook secret is a call parameter.
            await bot.bot.set_webhook(url="https://support.example.com/webhooks/telegram/support",
                                      secret_token=SECRET_TOKEN)
        finally:
            await bots.close()
    text = logs.getvalue()
    # No credential is in the log...
    assert TOKEN_SECRET_PART not in text
    assert SECRET_TOKEN not in text
    # ...while the lines are (httpx logs each request at INFO, PTB each call with its parameters at DEBUG).
    assert f"/bot{MASK}/sendMessage" in text
    assert f"/bot{MASK}/setWebhook" in text
    assert "502" in text and "secret_token" in text
    assert [c.token for c in telegram_api.calls] == [BOT_TOKEN] * 3  # the real token still went to the API
