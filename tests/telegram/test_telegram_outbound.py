"""Replies reach the local Bot API stand-in through python-telegram-bot: method, body, token, retries, limits."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from channels.telegram import cli
from hub.models import AuthorKind, QuickReply
from hub.realtime import Subscription
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.telegram.conftest import BOT_TOKEN, SECRET_TOKEN, PostUpdate, telegram_config, wait_until
from tests.telegram.standin import Failure, TelegramStandIn, fixture, utf16_len


async def replies(runtime: Runtime) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return await runtime.hub.store.messages.find({"channel": "telegram", "direction": "out"},
                                                 sort=[("created_at", 1)]).to_list()


async def wait_delivery(runtime: Runtime, changes: Subscription, status: str, count: int = 1) -> list[dict[str, Any]]:
    async def done() -> bool:
        return len([m for m in await replies(runtime) if m["delivery"]["status"] == status]) >= count

    await wait_until(changes, done)
    return await replies(runtime)


async def start_chat(post_update: PostUpdate, runtime: Runtime) -> dict[str, Any]:
    assert (await post_update(fixture("update_text.json"))).status == 200
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    conversation = await runtime.hub.store.conversations.find_one({"channel": "telegram"})
    assert conversation is not None
    return conversation


async def test_bot_answer_is_sent_to_the_chat_with_the_bot_token(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    await start_chat(post_update, telegram_runtime)
    call = await asyncio.wait_for(telegram_api.sent.get(), timeout=15)
    [answer] = await wait_delivery(telegram_runtime, changes, "sent")
    assert call.token == BOT_TOKEN
    assert int(call.params["chat_id"]) == 111111111
    assert call.params["text"] == answer["text"] and answer["text"]
    # The bot's quick replies (its "did that help?" buttons) arrive as an inline keyboard.
    keyboard = json.loads(call.params["reply_markup"])["inline_keyboard"] if answer["quick_replies"] else None
    assert keyboard is None or keyboard == [[{"text": q["title"], "callback_data": q["payload"]}]
                                            for q in answer["quick_replies"]]
    assert answer["provider_id"] == "support:111111111:100"


async def test_rate_limited_then_accepted_is_delivered_exactly_once(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    telegram_api.fail_next("sendMessage", Failure(429, "Too Many Requests: retry after 1", retry_after=1))
    await start_chat(post_update, telegram_runtime)
    [answer] = await wait_delivery(telegram_runtime, changes, "sent")
    assert [c.status for c in telegram_api.calls if c.method == "sendMessage"] == [429, 200]
    [delivered] = telegram_api.successful("sendMessage")
    assert delivered.token == BOT_TOKEN
    assert delivered.params["text"] == answer["text"]
    assert int(delivered.params["chat_id"]) == 111111111
    assert answer["delivery"]["attempts"] == 2
    assert telegram_runtime.hub is not None
    entry = await telegram_runtime.hub.store.outbox.find_one({"message_id": answer["_id"]})
    assert entry is not None and entry["status"] == "sent" and "rate limit" in entry["last_error"]


async def test_a_blocked_bot_fails_at_once_and_server_errors_are_retried(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    telegram_api.fail_next("sendMessage", Failure(502, "Bad Gateway"))
    conversation = await start_chat(post_update, telegram_runtime)
    await wait_delivery(telegram_runtime, changes, "sent")
    telegram_api.fail_next("sendMessage", Failure(403, "Forbidden: bot was blocked by the user"))
    hub = telegram_runtime.hub
    assert hub is not None
    await hub.outbox.post(conversation, AuthorKind.AGENT, "Any update on this?", author_name="Alice")
    hub.outbox.wake()
    failed = (await wait_delivery(telegram_runtime, changes, "failed"))[-1]
    assert "blocked" in failed["delivery"]["error"]
    assert [c.status for c in telegram_api.calls if c.method == "sendMessage"] == [502, 200, 403]


async def test_long_replies_are_split_under_4096_and_buttons_ride_on_the_last_part(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    conversation = await start_chat(post_update, telegram_runtime)
    await telegram_api.sent.get()
    paragraph = " ".join(["Our returns policy 📦 covers thirty days."] * 40)
    text = "\n\n".join([paragraph] * 6)
    assert utf16_len(text) > 2 * 4096
    hub = telegram_runtime.hub
    assert hub is not None
    await hub.outbox.post(conversation, AuthorKind.BOT, text, author_name="Bot",
                          quick_replies=(QuickReply("Yes", "/affirm"), QuickReply("No", "/deny")))
    hub.outbox.wake()
    await wait_delivery(telegram_runtime, changes, "sent", count=2)
    parts = telegram_api.successful("sendMessage")[1:]
    assert len(parts) == 3
    assert all(utf16_len(p.params["text"]) <= 4096 for p in parts)
    assert "\n\n".join(p.params["text"] for p in parts) == text
    assert [("reply_markup" in p.params) for p in parts] == [False, False, True]
    keyboard = json.loads(parts[-1].params["reply_markup"])["inline_keyboard"]
    assert keyboard == [[{"text": "Yes", "callback_data": "/affirm"}], [{"text": "No", "callback_data": "/deny"}]]


async def test_inline_button_press_is_ingested_as_the_customers_answer(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn
) -> None:
    conversation = await start_chat(post_update, telegram_runtime)
    resp = await post_update(fixture("update_callback_query.json"))
    assert resp.status == 200
    hub = telegram_runtime.hub
    assert hub is not None
    await hub.pipeline.drain()
    answer = await hub.store.messages.find_one({"channel": "telegram", "external_id": "support:734918206"})
    assert answer is not None
    assert answer["text"] == "/shipping_times"
    assert answer["metadata"]["telegram"]["button"] == "Delivery times"
    assert answer["conversation_id"] == conversation["_id"]
    assert answer["nlu"]["intent"] == "shipping_times"
    [ack] = [c for c in telegram_api.calls if c.method == "answerCallbackQuery"]
    assert ack.params["callback_query_id"] == "4770812290517530583"


async def test_set_webhook_command_registers_the_url_and_secret(settings: Settings,
                                                                telegram_api: TelegramStandIn) -> None:
    settings.channels["telegram"] = telegram_config(telegram_api)
    settings.public_url = "https://support.example.com/"
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert await cli.run(parser.parse_args(["--drop-pending-updates"]), settings) == 0
    [call] = [c for c in telegram_api.calls if c.method == "setWebhook"]
    assert call.token == BOT_TOKEN
    assert call.params["url"] == "https://support.example.com/webhooks/telegram/support"
    assert call.params["secret_token"] == SECRET_TOKEN
    assert json.loads(call.params["allowed_updates"]) == ["message", "edited_message", "callback_query"]
    assert call.params["drop_pending_updates"] == "true"

    settings.public_url = "http://support.example.com"
    assert await cli.run(parser.parse_args([]), settings) == 2
    assert await cli.run(parser.parse_args(["--public-url", "https://x.example", "--bot", "nope"]), settings) == 2
    assert len([c for c in telegram_api.calls if c.method == "setWebhook"]) == 1
