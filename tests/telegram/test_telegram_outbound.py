"""Replies reach the local Bot API stand-in through python-telegram-bot: method, body, token, retries, limits."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import pytest

from channels.telegram import cli
from channels.telegram.bots import BotRegistry
from channels.telegram.config import TelegramConfig
from channels.telegram.sender import UPLOAD_LIMIT_BYTES, TelegramSender
from hub.models import Attachment, AuthorKind, OutboundMessage, QuickReply, Role, SendError
from hub.realtime import Subscription
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.helpers import assert_sent_after_rate_limit
from tests.telegram.conftest import BOT_TOKEN, SECRET_TOKEN, PostUpdate, telegram_config, wait_until
from tests.telegram.standin import Failure, TelegramStandIn, fixture, utf16_len

CHAT_ID = 111111111
#: A small PDF whose bytes include every byte value, CR LF and NUL: the upload must not alter any.
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\r\n%%EOF\n"


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
    await assert_sent_after_rate_limit(telegram_runtime, answer["_id"])


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
    assert await cli.run(parser.parse_args(["--drop-pending-updates"]), settings.channels["telegram"],
                         settings.public_url) == 0
    [call] = [c for c in telegram_api.calls if c.method == "setWebhook"]
    assert call.token == BOT_TOKEN
    assert call.params["url"] == "https://support.example.com/webhooks/telegram/support"
    assert call.params["secret_token"] == SECRET_TOKEN
    assert json.loads(call.params["allowed_updates"]) == ["message", "edited_message", "callback_query"]
    assert call.params["drop_pending_updates"] == "true"

    settings.public_url = "http://support.example.com"
    assert await cli.run(parser.parse_args([]), settings.channels["telegram"], settings.public_url) == 2
    assert await cli.run(parser.parse_args(["--public-url", "https://x.example", "--bot", "nope"]),
                         settings.channels["telegram"], settings.public_url) == 2
    assert len([c for c in telegram_api.calls if c.method == "setWebhook"]) == 1


# --- Agents' files ---------------------------------------------------------------------------


async def open_ticket(post_update: PostUpdate, runtime: Runtime,
                      changes: Subscription) -> tuple[dict[str, Any], dict[str, Any]]:
    """The customer asks for a person: a ticket, its handoff message delivered, and an agent to answer."""
    update = fixture("update_text.json")
    update["message"]["text"] = "I want to talk to a human please"
    assert (await post_update(update)).status == 200
    hub = runtime.hub
    assert hub is not None
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None

    async def bot_replies_delivered() -> bool:
        sent = [m["delivery"]["status"] for m in await replies(runtime)]
        return bool(sent) and all(status == "sent" for status in sent)

    await wait_until(changes, bot_replies_delivered)
    agent = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    return ticket, agent


async def reply_with_files(runtime: Runtime, ticket: dict[str, Any], agent: dict[str, Any], text: str,
                           files: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    """An agent's reply with files uploaded in the desk: stored as blobs first, then referenced."""
    hub = runtime.hub
    assert hub is not None
    attachments = []
    for filename, content_type, data in files:
        blob_id = await hub.blobs.put(filename, content_type, data, ticket_id=ticket["_id"])
        attachments.append({"filename": filename, "content_type": content_type, "size": len(data),
                            "blob_id": blob_id})
    return await hub.tickets.reply(ticket["_id"], agent, text, attachments=attachments)


async def delivered(runtime: Runtime, changes: Subscription, message_id: ObjectId) -> dict[str, Any]:
    """The message once its delivery is settled (sent or failed)."""
    hub = runtime.hub
    assert hub is not None
    found: dict[str, Any] = {}

    async def settled() -> bool:
        doc = await hub.store.messages.find_one({"_id": message_id})
        if doc is not None and doc["delivery"]["status"] in ("sent", "failed"):
            found.update(doc)
            return True
        return False

    await wait_until(changes, settled)
    return found


async def test_agent_reply_with_a_pdf_is_one_send_document_with_the_text_as_caption(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    ticket, agent = await open_ticket(post_update, telegram_runtime, changes)
    texts_before = len(telegram_api.successful("sendMessage"))
    message = await reply_with_files(telegram_runtime, ticket, agent, "Here is your invoice.",
                                     [("invoice-1042.pdf", "application/pdf", PDF)])
    stored = await delivered(telegram_runtime, changes, message["_id"])
    assert stored["delivery"]["status"] == "sent"

    [call] = [c for c in telegram_api.calls if c.method == "sendDocument"]
    assert call.ok and call.token == BOT_TOKEN
    assert int(call.params["chat_id"]) == CHAT_ID
    assert call.params["caption"] == "Here is your invoice."
    assert set(call.uploads) == {"document"}  # the file is the `document` part itself
    [document] = call.documents
    assert (document.filename, document.content_type, document.data) == ("invoice-1042.pdf", "application/pdf", PDF)
    assert (document.chat_id, document.caption) == (CHAT_ID, "Here is your invoice.")
    # One call: the text did not also go as a message, and no album was used.
    assert len(telegram_api.successful("sendMessage")) == texts_before
    assert [c for c in telegram_api.calls if c.method == "sendMediaGroup"] == []
    assert stored["provider_id"] == f"support:{CHAT_ID}:{document.message_id}"


async def test_two_files_go_as_one_album_with_the_caption_on_the_first(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    ticket, agent = await open_ticket(post_update, telegram_runtime, changes)
    texts_before = len(telegram_api.successful("sendMessage"))
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1))
    files = [("return-label.pdf", "application/pdf", PDF), ("packing-slip.png", "image/png", png)]
    message = await reply_with_files(telegram_runtime, ticket, agent, "Both labels are attached.", files)
    stored = await delivered(telegram_runtime, changes, message["_id"])
    assert stored["delivery"]["status"] == "sent"

    [call] = [c for c in telegram_api.calls if c.method == "sendMediaGroup"]
    assert call.ok and call.token == BOT_TOKEN
    assert int(call.params["chat_id"]) == CHAT_ID
    media = json.loads(call.params["media"])
    assert [item["type"] for item in media] == ["document", "document"]
    # Each item references its own multipart part by an attach:// name.
    parts = [item["media"].removeprefix("attach://") for item in media]
    assert all(item["media"].startswith("attach://") for item in media)
    assert set(parts) == set(call.uploads) and len(set(parts)) == 2
    assert [item.get("caption") for item in media] == ["Both labels are attached.", None]
    assert [(d.filename, d.content_type, d.data, d.caption) for d in call.documents] == [
        ("return-label.pdf", "application/pdf", PDF, "Both labels are attached."),
        ("packing-slip.png", "image/png", png, None),
    ]
    assert [c for c in telegram_api.calls if c.method == "sendDocument"] == []
    assert len(telegram_api.successful("sendMessage")) == texts_before
    assert stored["provider_id"] == f"support:{CHAT_ID}:{call.documents[0].message_id}"


async def test_rate_limited_document_is_delivered_exactly_once(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    ticket, agent = await open_ticket(post_update, telegram_runtime, changes)
    texts_before = len(telegram_api.successful("sendMessage"))
    telegram_api.fail_next("sendDocument", Failure(429, "Too Many Requests: retry after 1", retry_after=1))
    # Files alone, without text: the document goes without a caption.
    message = await reply_with_files(telegram_runtime, ticket, agent, "",
                                     [("invoice-1042.pdf", "application/pdf", PDF)])
    stored = await delivered(telegram_runtime, changes, message["_id"])
    assert stored["delivery"]["status"] == "sent"
    assert stored["delivery"]["attempts"] == 2

    assert [c.status for c in telegram_api.calls if c.method == "sendDocument"] == [429, 200]
    [call] = telegram_api.successful("sendDocument")
    assert "caption" not in call.params
    [document] = call.documents
    assert (document.filename, document.data, document.caption) == ("invoice-1042.pdf", PDF, None)
    assert len(telegram_api.successful("sendMessage")) == texts_before
    assert stored["provider_id"] == f"support:{CHAT_ID}:{document.message_id}"
    await assert_sent_after_rate_limit(telegram_runtime, message["_id"])


async def test_text_over_the_caption_limit_goes_first_then_the_file_without_caption(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    ticket, agent = await open_ticket(post_update, telegram_runtime, changes)
    texts_before = len(telegram_api.successful("sendMessage"))
    text = " ".join(["Please print the label and tape it to the box 📦."] * 30)
    assert 1024 < utf16_len(text) <= 4096
    message = await reply_with_files(telegram_runtime, ticket, agent, text,
                                     [("return-label.pdf", "application/pdf", PDF)])
    stored = await delivered(telegram_runtime, changes, message["_id"])
    assert stored["delivery"]["status"] == "sent"

    [text_call] = telegram_api.successful("sendMessage")[texts_before:]
    [doc_call] = telegram_api.successful("sendDocument")
    assert text_call.params["text"] == text
    assert "caption" not in doc_call.params
    assert [(d.filename, d.data, d.caption) for d in doc_call.documents] == [("return-label.pdf", PDF, None)]
    assert telegram_api.calls.index(text_call) < telegram_api.calls.index(doc_call)
    # The message is known by its first call, the text.
    assert stored["provider_id"] == f"support:{CHAT_ID}:{text_call.result['message_id']}"


async def test_a_file_over_50_mb_is_refused_for_good_before_anything_is_sent(telegram_api: TelegramStandIn) -> None:
    registry = BotRegistry(TelegramConfig.from_mapping(telegram_config(telegram_api)))
    sender = TelegramSender(registry)
    message = OutboundMessage(
        outbox_id="o1", message_id="m1", conversation_id="c1", channel="telegram",
        thread_key=f"support:{CHAT_ID}", recipient=str(CHAT_ID), text="The video and the receipt.",
        author_kind=AuthorKind.AGENT, metadata={"bot": "support", "chat_id": CHAT_ID},
        attachments=(Attachment("receipt.pdf", "application/pdf", data=PDF, size=len(PDF)),
                     Attachment("unboxing.mp4", "video/mp4", data=bytes(UPLOAD_LIMIT_BYTES + 1),
                                size=UPLOAD_LIMIT_BYTES + 1)),
    )
    try:
        with pytest.raises(SendError) as refused:
            await sender.send(message)
    finally:
        await registry.close()
    assert refused.value.transient is False
    assert "unboxing.mp4" in refused.value.reason and "50 MB" in refused.value.reason
    assert telegram_api.calls == []
