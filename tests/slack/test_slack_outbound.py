"""Replies reach the local Slack stand-in through slack-sdk: method, body, auth, retries, limits."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from hub.models import AuthorKind, QuickReply, Role
from hub.realtime import Subscription
from switchboard.bootstrap import Runtime
from tests.helpers import assert_sent_after_rate_limit
from tests.slack.conftest import BOT_TOKEN, PostEvent, assert_delivery_times_pressed, wait_until
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
    await assert_sent_after_rate_limit(slack_runtime, answer["_id"])


async def test_server_error_is_retried_and_a_permanent_refusal_is_not(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    slack_api.fail_next("chat.postMessage", Failure(503))
    conversation = await start_dm(post_event, slack_runtime)
    await wait_delivery(slack_runtime, changes, "sent")
    assert [c.status for c in slack_api.calls if c.method == "chat.postMessage"] == [503, 200]
    # the retry asked Slack first, found nothing of this entry, and posted
    assert [c.ok for c in slack_api.calls if c.method == "conversations.replies"] == [True]

    slack_api.fail_next("chat.postMessage", Failure(200, {"ok": False, "error": "channel_not_found"}))
    assert slack_runtime.hub is not None
    await slack_runtime.hub.outbox.post(conversation, AuthorKind.AGENT, "Following up on your question",
                                        author_name="Alice")
    slack_runtime.hub.outbox.wake()
    messages = await wait_delivery(slack_runtime, changes, "failed")
    failed = messages[-1]
    assert "channel_not_found" in failed["delivery"]["error"]
    assert [c.status for c in slack_api.calls if c.method == "chat.postMessage"] == [503, 200, 200]


async def test_a_post_slack_accepted_whose_answer_was_lost_is_not_posted_again(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    # Slack posts the answer, then its HTTP answer fails: the outbox cannot tell it was posted.
    slack_api.fail_next("chat.postMessage", Failure(503, after_accepting=True))
    await start_dm(post_event, slack_runtime)
    [answer] = await wait_delivery(slack_runtime, changes, "sent")
    posts = [c for c in slack_api.calls if c.method == "chat.postMessage"]
    assert [c.status for c in posts] == [503]  # never posted a second time
    mark = posts[0].body["metadata"]  # slack-sdk posts chat.postMessage as JSON
    assert mark == {"event_type": "switchboard_outbound",
                    "event_payload": {"outbox_id": mark["event_payload"]["outbox_id"], "part": 0}}
    [lookup] = [c for c in slack_api.calls if c.method == "conversations.replies"]
    assert lookup.ok and lookup.body["ts"] == "1718961060.123459" and lookup.body["channel"] == "D0CUSTDM01"
    [held] = slack_api.channel_messages["D0CUSTDM01"]  # the customer's thread holds the answer once
    assert held["text"] == answer["text"]
    assert answer["provider_id"] == f"D0CUSTDM01:{held['ts']}"
    assert answer["delivery"]["attempts"] == 2


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
    await assert_delivery_times_pressed(hub, conversation["_id"])


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


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) + b"\n%%EOF\n"
PDF_NAME = "Rechnung 1042 (März).pdf"


async def escalated_ticket(post_event: PostEvent, runtime: Runtime, changes: Subscription) -> dict[str, Any]:
    """The customer asks for a person in a DM; the ticket, once the bot's handoff notice has gone out."""
    payload = fixture("message_im.json")
    payload["event"]["text"] = "I want to talk to a human please"
    payload["event"]["blocks"][0]["elements"][0]["elements"][0]["text"] = "I want to talk to a human please"
    assert (await post_event(payload)).status == 200
    hub = runtime.hub
    assert hub is not None
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({"channel": "slack"})
    assert ticket is not None

    async def all_sent() -> bool:
        return all(m["delivery"]["status"] == "sent" for m in await bot_messages(runtime))

    await wait_until(changes, all_sent)
    return ticket


async def reply_with_file(runtime: Runtime, ticket: dict[str, Any], text: str, filename: str = PDF_NAME,
                          data: bytes = PDF) -> dict[str, Any]:
    """An agent's reply with a file, through the hub as the desk makes it."""
    hub = runtime.hub
    assert hub is not None
    agent = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    blob_id = await hub.blobs.put(filename, "application/pdf", data, ticket_id=ticket["_id"])
    return await hub.tickets.reply(ticket["_id"], agent, text, attachments=[
        {"filename": filename, "content_type": "application/pdf", "size": len(data), "blob_id": blob_id}])


async def delivery_of(runtime: Runtime, changes: Subscription, message: dict[str, Any], status: str) -> dict[str, Any]:
    assert runtime.hub is not None
    store = runtime.hub.store

    async def reached() -> bool:
        doc = await store.messages.find_one({"_id": message["_id"]})
        return doc is not None and doc["delivery"]["status"] == status

    await wait_until(changes, reached)
    doc = await store.messages.find_one({"_id": message["_id"]})
    assert doc is not None
    return doc


async def test_agent_reply_with_a_pdf_is_one_file_share_in_the_thread_with_the_text_as_comment(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    ticket = await escalated_ticket(post_event, slack_runtime, changes)
    texts_before = len(slack_api.successful("chat.postMessage"))
    message = await reply_with_file(slack_runtime, ticket, "Here is your invoice <#1042> & the receipt.")
    shared = await asyncio.wait_for(slack_api.file_posts.get(), timeout=15)
    sent = await delivery_of(slack_runtime, changes, message, "sent")

    [upload] = shared.uploads
    assert upload.data == PDF
    assert upload.filename == PDF_NAME
    assert upload.authorization is None  # the upload URL is pre-signed: the bot token stays with the Web API
    assert shared.files == [{"id": upload.file_id, "title": PDF_NAME}]
    assert shared.channel_id == "D0CUSTDM01"
    assert shared.thread_ts == "1718961060.123459"
    assert shared.initial_comment == "Here is your invoice &lt;#1042&gt; &amp; the receipt."
    assert shared.authorization == f"Bearer {BOT_TOKEN}"
    assert slack_api.shared == [shared]
    assert len(slack_api.successful("chat.postMessage")) == texts_before
    assert not any("invoice" in str(c.body.get("text")) for c in slack_api.calls if c.method == "chat.postMessage")
    assert sent["provider_id"] == f"D0CUSTDM01:{upload.file_id}"
    assert sent["delivery"]["attempts"] == 1


async def test_files_only_reply_is_shared_without_a_comment(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    ticket = await escalated_ticket(post_event, slack_runtime, changes)
    texts_before = len(slack_api.successful("chat.postMessage"))
    message = await reply_with_file(slack_runtime, ticket, "", filename="label.pdf")
    shared = await asyncio.wait_for(slack_api.file_posts.get(), timeout=15)
    await delivery_of(slack_runtime, changes, message, "sent")

    [completion] = slack_api.successful("files.completeUploadExternal")
    assert "initial_comment" not in completion.body
    assert shared.initial_comment is None
    assert [(u.filename, u.data) for u in shared.uploads] == [("label.pdf", PDF)]
    assert shared.channel_id == "D0CUSTDM01"
    assert shared.thread_ts == "1718961060.123459"
    assert len(slack_api.successful("chat.postMessage")) == texts_before


async def test_rate_limited_file_share_then_accepted_is_posted_exactly_once(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    ticket = await escalated_ticket(post_event, slack_runtime, changes)
    slack_api.fail_next("files.completeUploadExternal",
                        Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))
    message = await reply_with_file(slack_runtime, ticket, "Your invoice, as promised.")
    sent = await delivery_of(slack_runtime, changes, message, "sent")

    completions = [c for c in slack_api.calls if c.method == "files.completeUploadExternal"]
    assert [c.status for c in completions] == [429, 200]
    [shared] = slack_api.shared
    assert shared.initial_comment == "Your invoice, as promised."
    assert shared.thread_ts == "1718961060.123459"
    [upload] = shared.uploads
    assert upload.data == PDF
    # The retry uploaded afresh; the first upload was never completed, so Slack discards it.
    assert [u.completed for u in slack_api.uploads.values()] == [False, True]
    assert not any("invoice" in str(c.body.get("text")) for c in slack_api.calls if c.method == "chat.postMessage")
    assert sent["delivery"]["attempts"] == 2
    await assert_sent_after_rate_limit(slack_runtime, message["_id"])


async def test_failed_upload_step_is_retried_without_posting_anything_twice(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    ticket = await escalated_ticket(post_event, slack_runtime, changes)
    slack_api.fail_next("upload", Failure(503))
    message = await reply_with_file(slack_runtime, ticket, "Your invoice.")
    sent = await delivery_of(slack_runtime, changes, message, "sent")

    [shared] = slack_api.shared
    assert [u.data for u in shared.uploads] == [PDF]
    assert len(slack_api.successful("files.completeUploadExternal")) == 1
    assert len(slack_api.successful("files.getUploadURLExternal")) == 2
    assert sent["delivery"]["attempts"] == 2


async def test_a_file_over_slacks_limit_fails_at_once_with_slacks_error(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    ticket = await escalated_ticket(post_event, slack_runtime, changes)
    slack_api.max_upload_bytes = len(PDF) - 1
    message = await reply_with_file(slack_runtime, ticket, "Your invoice.")
    failed = await delivery_of(slack_runtime, changes, message, "failed")

    assert "file_upload_size_restricted" in failed["delivery"]["error"]
    assert slack_runtime.hub is not None
    entry = await slack_runtime.hub.store.outbox.find_one({"message_id": message["_id"]})
    assert entry is not None and entry["status"] == "failed" and entry["attempts"] == 1
    assert [c.ok for c in slack_api.calls
            if c.method == "files.getUploadURLExternal"] == [False]
    assert slack_api.uploads == {}
    assert slack_api.shared == []
    assert not [c for c in slack_api.calls if c.method == "files.completeUploadExternal"]
    assert not any("invoice" in str(c.body.get("text")) for c in slack_api.calls if c.method == "chat.postMessage")


async def test_a_text_too_long_for_the_files_comment_is_posted_first_and_its_end_rides_with_the_files(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    ticket = await escalated_ticket(post_event, slack_runtime, changes)
    texts_before = len(slack_api.successful("chat.postMessage"))
    paragraph = " ".join(["Ihre Rückerstattung & das Etikett für die Rücksendung <Nr. 1042> sind angehängt."] * 30)
    long_text = "\n\n".join([paragraph] * 5)
    message = await reply_with_file(slack_runtime, ticket, long_text)
    shared = await asyncio.wait_for(slack_api.file_posts.get(), timeout=15)
    sent = await delivery_of(slack_runtime, changes, message, "sent")

    # slack-sdk puts the comment in the request URL: the stand-in, like many servers, takes 8 KiB request lines.
    [lead] = slack_api.successful("chat.postMessage")[texts_before:]
    comment = shared.initial_comment
    assert comment is not None and len(quote(comment, safe="")) <= 6_000
    assert lead.body["thread_ts"] == shared.thread_ts == "1718961060.123459"
    escaped = long_text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped.startswith(lead.body["text"]) and escaped.endswith(comment)
    assert escaped[len(lead.body["text"]):len(escaped) - len(comment)].strip() == ""
    assert slack_api.shared == [shared]
    assert [u.data for u in shared.uploads] == [PDF]
    assert sent["provider_id"].startswith("D0CUSTDM01:1718970000.")  # the first post's ts, as for split text
    assert sent["delivery"]["attempts"] == 1
