"""Telegram updates posted to the hub's webhook over HTTP: what is stored, what is refused or ignored."""

from __future__ import annotations

import json
from typing import Any

from hub.blobs import BlobStore
from switchboard.bootstrap import Runtime
from tests.telegram.conftest import PostUpdate
from tests.telegram.standin import TelegramStandIn, fixture


async def inbound(runtime: Runtime) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return await runtime.hub.store.messages.find({"channel": "telegram", "direction": "in"},
                                                 sort=[("created_at", 1)]).to_list()


async def test_start_is_a_greeting_in_the_chats_conversation(post_update: PostUpdate,
                                                             telegram_runtime: Runtime) -> None:
    resp = await post_update(fixture("update_start.json"))
    assert resp.status == 200, await resp.text()
    hub = telegram_runtime.hub
    assert hub is not None
    await hub.pipeline.drain()
    [message] = await inbound(telegram_runtime)
    assert message["external_id"] == "support:734918201"
    assert message["text"] == "hello"
    assert message["metadata"]["telegram"]["command"] == "/start"
    assert message["nlu"]["intent"] == "greet"
    conversation = await hub.store.conversations.find_one({"_id": message["conversation_id"]})
    assert conversation is not None
    assert conversation["thread_key"] == "support:111111111"
    assert conversation["channel_data"] == {"bot": "support", "chat_id": 111111111}
    contact = await hub.store.contacts.find_one({"_id": message["contact_id"]})
    assert contact is not None and contact["name"] == "Ada Lovelace"
    assert [(i["channel"], i["external_id"]) for i in contact["identities"]] == [("telegram", "111111111")]

    # The next message in the same chat continues the conversation and the contact.
    assert (await post_update(fixture("update_text.json"))).status == 200
    first, second = await inbound(telegram_runtime)
    assert second["conversation_id"] == first["conversation_id"]
    assert second["contact_id"] == first["contact_id"]


async def test_missing_or_wrong_secret_token_is_refused(post_update: PostUpdate, telegram_runtime: Runtime) -> None:
    update = fixture("update_text.json")
    missing = await post_update(update, secret=None)
    wrong = await post_update(update, secret="s3cr3t-Webhook_token-43")
    unknown_bot = await post_update(update, path="/webhooks/telegram/other")
    assert (missing.status, wrong.status, unknown_bot.status) == (401, 403, 404)
    for resp in (missing, wrong, unknown_bot):
        assert json.loads(await resp.text())["error"]
    assert await inbound(telegram_runtime) == []


async def test_replayed_update_is_acknowledged_but_stored_once(post_update: PostUpdate,
                                                               telegram_runtime: Runtime) -> None:
    update = fixture("update_text.json")
    first = await post_update(update)
    replay = await post_update(update)
    assert (first.status, replay.status) == (200, 200)
    assert (await first.json())["duplicate"] is False
    assert (await replay.json())["duplicate"] is True
    assert telegram_runtime.hub is not None
    await telegram_runtime.hub.pipeline.drain()
    assert len(await inbound(telegram_runtime)) == 1
    assert await telegram_runtime.hub.store.messages.count_documents({"channel": "telegram", "direction": "out"}) == 1


async def test_largest_photo_is_downloaded_and_an_unavailable_document_kept_as_file_id(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn
) -> None:
    jpeg = b"\xff\xd8\xff\xe0 large damaged box photo \xff\xd9"
    telegram_api.add_file("AgACAgQAAxkBAAMUZnYx-large800", "AQADq7gxG1nR8FJ-", "photos/file_7.jpg", jpeg)
    assert (await post_update(fixture("update_photo.json"))).status == 200
    assert (await post_update(fixture("update_document.json"))).status == 200
    photo_msg, doc_msg = await inbound(telegram_runtime)

    assert photo_msg["text"] == "the box arrived damaged"
    [photo] = photo_msg["attachments"]
    assert (photo["filename"], photo["content_type"], photo["size"]) == (
        "photo_AQADq7gxG1nR8FJ-.jpg", "image/jpeg", len(jpeg))
    assert telegram_runtime.store is not None
    stored = await BlobStore(telegram_runtime.store).get(photo["blob_id"])
    assert stored is not None and stored[0] == jpeg
    assert [c.params["file_id"] for c in telegram_api.calls if c.method == "getFile"] == [
        "AgACAgQAAxkBAAMUZnYx-large800", "BQACAgQAAxkBAAMWZnYy-invoice1042"]
    assert telegram_api.file_downloads == ["photos/file_7.jpg"]

    [document] = doc_msg["attachments"]
    assert (document["filename"], document["content_type"], document["size"]) == (
        "invoice-1042.pdf", "application/pdf", 31337)
    assert "blob_id" not in document and document["url"] is None  # the file URL holds the token: never stored
    [meta] = doc_msg["metadata"]["telegram"]["files"]
    assert meta["file_id"] == "BQACAgQAAxkBAAMWZnYy-invoice1042" and meta["downloaded"] is False
    assert "invalid file_id" in meta["error"].lower()


async def test_edits_are_appended_for_agents_and_not_answered_again(post_update: PostUpdate,
                                                                    telegram_runtime: Runtime) -> None:
    assert (await post_update(fixture("update_text.json"))).status == 200
    assert (await post_update(fixture("update_edited.json"))).status == 200
    hub = telegram_runtime.hub
    assert hub is not None
    await hub.pipeline.drain()
    original, edit = await inbound(telegram_runtime)
    assert edit["text"] == "what are your opening hours on Saturday?"
    assert edit["suppress_bot"] is True
    assert edit["metadata"]["telegram"]["kind"] == "edited_message"
    assert edit["conversation_id"] == original["conversation_id"]
    assert await hub.store.messages.count_documents({"channel": "telegram", "direction": "out"}) == 1


async def test_non_message_updates_are_acknowledged_and_ignored(post_update: PostUpdate,
                                                                telegram_runtime: Runtime) -> None:
    resp = await post_update(fixture("update_my_chat_member.json"))
    assert resp.status == 200
    assert "ignored" in await resp.json()
    assert await inbound(telegram_runtime) == []


async def test_malformed_updates_get_a_400_with_a_reason(post_update: PostUpdate, telegram_runtime: Runtime) -> None:
    not_json = await post_update(b"{not json")
    no_id = await post_update({"message": fixture("update_text.json")["message"]})
    broken = fixture("update_text.json")
    del broken["message"]["chat"]
    no_chat = await post_update(broken)
    for resp, reason in ((not_json, "malformed JSON"), (no_id, "update_id"), (no_chat, "not a Telegram update")):
        assert resp.status == 400
        assert reason in json.loads(await resp.text())["error"]
    assert await inbound(telegram_runtime) == []


async def test_deeply_nested_updates_are_a_400_after_the_secret_check(
    post_update: PostUpdate, telegram_runtime: Runtime
) -> None:
    nested = b"[" * 5_000 + b"]" * 5_000  # Python's json recursion used to make this a 500
    deep = await post_update(b'{"update_id": 1, "message": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001)
    for resp in (await post_update(nested), deep):
        assert resp.status == 400
        assert "nested deeper than 32" in json.loads(await resp.text())["error"]
    assert (await post_update(nested, secret=None)).status == 401  # the secret is checked before the body
    assert await inbound(telegram_runtime) == []
