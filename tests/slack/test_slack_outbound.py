"""Replies reach the local Slack stand-in through slack-sdk: method, body, auth, retries, limits."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.models import AuthorKind, QuickReply
from hub.realtime import Subscription
from switchboard.bootstrap import Runtime
from tests.slack.conftest import BOT_TOKEN, PostEvent, wait_until
from tests.slack.standin import Failure, SlackStandIn, fixture


async def bot_messages(runtime: Runtime) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return await runtime.hub.store.messages.find({"channel": "slack", "direction": "out"},
                                                 sort=[("created_at", 1)]).to_list()


async def wait_delivery(runtime: Runtime, changes: Subscription, status: str, count: int = 1) -> list[dict[str, Any]]:
    async def done() -> bool:
        return len([m for m in await bot_messages(runtime) if m["delivery"]["status"] == status]) >= count

    await wait_until(changes, done)
    return await bot_messages(runtime)


async def start_dm(post_event: PostEvent, runtime: Runtime) -> dict[str, Any]:
    assert (await post_event(fixture("message_im.json"))).status == 200
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    conversation = await runtime.hub.store.conversations.find_one({"channel": "slack"})
    assert conversation is not None
    return conversation


async def test_bot_answer_is_posted_in_the_customers_thread(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    await start_dm(post_event, slack_runtime)
    call = await asyncio.wait_for(slack_api.posted.get(), timeout=15)
    [answer] = await wait_delivery(slack_runtime, changes, "sent")
    assert call.http_method == "POST"
    assert call.authorization == f"Bearer {BOT_TOKEN}"
    assert call.body["channel"] == "D0CUSTDM01"
    assert call.body["thread_ts"] == "1718961060.123459"
    assert call.body["text"] == answer["text"] and answer["text"]
    assert slack_runtime.hub is not None
    question = await slack_runtime.hub.store.messages.find_one({"channel": "slack", "direction": "in"})
    assert question is not None and question["nlu"]["intent"] == "opening_hours"
    assert answer["provider_id"] == "D0CUSTDM01:1718970000.000001"


async def test_rate_limited_then_accepted_is_delivered_exactly_once(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    slack_api.fail_next("chat.postMessage",
                        Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))
    await start_dm(post_event, slack_runtime)
    [answer] = await wait_delivery(slack_runtime, changes, "sent")
    posts = [c for c in slack_api.calls if c.method == "chat.postMessage"]
    assert [c.status for c in posts] == [429, 200]
    [delivered] = slack_api.successful("chat.postMessage")
    assert delivered.body["text"] == answer["text"]
    assert delivered.body["thread_ts"] == "1718961060.123459"
    assert delivered.authorization == f"Bearer {BOT_TOKEN}"
    assert answer["delivery"]["attempts"] == 2
    assert slack_runtime.hub is not None
    entry = await slack_runtime.hub.store.outbox.find_one({"message_id": answer["_id"]})
    assert entry is not None and entry["status"] == "sent" and "rate limit" in entry["last_error"]


async def test_server_error_is_retried_and_a_permanent_refusal_is_not(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    slack_api.fail_next("chat.postMessage", Failure(503))
    conversation = await start_dm(post_event, slack_runtime)
    await wait_delivery(slack_runtime, changes, "sent")
    assert [c.status for c in slack_api.calls if c.method == "chat.postMessage"] == [503, 200]

    slack_api.fail_next("chat.postMessage", Failure(200, {"ok": False, "error": "channel_not_found"}))
    assert slack_runtime.hub is not None
    await slack_runtime.hub.outbox.post(conversation, AuthorKind.AGENT, "Following up on your question",
                                        author_name="Alice")
    slack_runtime.hub.outbox.wake()
    messages = await wait_delivery(slack_runtime, changes, "failed")
    failed = messages[-1]
    assert "channel_not_found" in failed["delivery"]["error"]
    assert [c.status for c in slack_api.calls if c.method == "chat.postMessage"] == [503, 200, 200]


async def test_quick_replies_become_buttons_and_a_click_is_the_customers_answer(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    conversation = await start_dm(post_event, slack_runtime)
    await slack_api.posted.get()
    hub = slack_runtime.hub
    assert hub is not None
    await hub.outbox.post(conversation, AuthorKind.BOT, "Did you mean one of these?", author_name="Bot",
                          quick_replies=(QuickReply("Where is my order?", "/order_status"),
                                         QuickReply("Delivery times", "/shipping_times")))
    hub.outbox.wake()
    call = await asyncio.wait_for(slack_api.posted.get(), timeout=15)
    assert call.body["text"] == "Did you mean one of these?"
    assert call.body["thread_ts"] == "1718961060.123459"
    section, actions = call.body["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "Did you mean one of these?"}}
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in actions["elements"]] == [
        ("sb_qr_0", "Where is my order?", "/order_status"), ("sb_qr_1", "Delivery times", "/shipping_times")]

    resp = await post_event(fixture("block_actions_quick_reply.json"), form=True)
    assert resp.status == 200, await resp.text()
    await hub.pipeline.drain()
    click = await hub.store.messages.find_one({"channel": "slack", "direction": "in", "text": "/shipping_times"})
    assert click is not None
    assert click["conversation_id"] == conversation["_id"]
    assert click["metadata"]["slack"]["button"] == "Delivery times"
    assert click["nlu"]["intent"] == "shipping_times"


async def test_long_replies_are_split_under_slacks_limit_and_escaped(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    conversation = await start_dm(post_event, slack_runtime)
    await slack_api.posted.get()
    hub = slack_runtime.hub
    assert hub is not None
    paragraph = " ".join(["Returns & refunds <policy> text"] * 300)
    long_text = "\n\n".join([paragraph] * 5)
    assert len(long_text) > 40_000
    await hub.outbox.post(conversation, AuthorKind.AGENT, long_text, author_name="Alice")
    hub.outbox.wake()
    messages = await wait_delivery(slack_runtime, changes, "sent", count=2)
    parts = [c.body["text"] for c in slack_api.successful("chat.postMessage")][1:]
    assert len(parts) == 2
    assert all(len(p) <= 40_000 for p in parts)
    assert all(c.body["thread_ts"] == "1718961060.123459" for c in slack_api.successful("chat.postMessage"))
    restored = "\n\n".join(parts).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert restored == long_text
    assert messages[-1]["delivery"]["status"] == "sent"
