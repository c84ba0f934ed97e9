"""Slack Events API payloads posted to the hub over HTTP: what is stored, what is refused or ignored."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp.test_utils import TestClient

from hub.blobs import BlobStore
from hub.models import utcnow
from switchboard.bootstrap import Runtime
from tests.slack.conftest import PATH, PostEvent, sign
from tests.slack.standin import Failure, SlackStandIn, fixture

DM_ID = "T0SHOP0001:D0CUSTDM01:1718961060.123459"


async def inbound(runtime: Runtime) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return await runtime.hub.store.messages.find({"channel": "slack", "direction": "in"},
                                                 sort=[("created_at", 1)]).to_list()


async def test_url_verification_handshake_answers_the_challenge(post_event: PostEvent,
                                                                slack_client: TestClient[Any, Any]) -> None:
    payload = fixture("url_verification.json")
    resp = await post_event(payload)
    assert resp.status == 200
    assert payload["challenge"] in await resp.text()
    unsigned = await slack_client.post(PATH, json=payload)
    assert unsigned.status == 401


async def test_direct_message_is_stored_with_thread_reply_context_and_profile(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn
) -> None:
    resp = await post_event(fixture("message_im.json"))
    assert resp.status == 200, await resp.text()
    hub = slack_runtime.hub
    assert hub is not None
    [message] = await inbound(slack_runtime)
    assert message["external_id"] == DM_ID
    assert message["text"] == "what are your opening hours?"
    assert message["metadata"]["slack"]["event_id"] == "Ev0IMHOURS01"
    conversation = await hub.store.conversations.find_one({"_id": message["conversation_id"]})
    assert conversation is not None
    assert conversation["thread_key"] == DM_ID
    assert conversation["channel_data"] == {"channel": "D0CUSTDM01", "thread_ts": "1718961060.123459",
                                            "team": "T0SHOP0001"}
    contact = await hub.store.contacts.find_one({"_id": message["contact_id"]})
    assert contact is not None
    assert contact["name"] == "Dana Scully"
    assert contact["emails"] == ["dana.scully@example.com"]
    assert [(i["channel"], i["external_id"], i["verified"]) for i in contact["identities"]] == [
        ("slack", "T0SHOP0001:U0CUST0001", True)]
    [lookup] = [c for c in slack_api.calls if c.method == "users.info"]
    assert lookup.body["user"] == "U0CUST0001"

    # A reply in the bot's thread continues the same conversation.
    resp = await post_event(fixture("message_im_thread_reply.json"))
    assert resp.status == 200
    first, reply = await inbound(slack_runtime)
    assert reply["conversation_id"] == first["conversation_id"]
    assert reply["external_id"] == "T0SHOP0001:D0CUSTDM01:1718961125.000200"


async def test_verified_slack_email_links_to_the_existing_customer_record(post_event: PostEvent,
                                                                          slack_runtime: Runtime) -> None:
    hub = slack_runtime.hub
    assert hub is not None
    existing = await hub.store.contacts.insert_one({
        "name": "Dana Scully", "emails": ["dana.scully@example.com"], "phones": [], "created_at": utcnow(),
        "identities": [{"channel": "email", "external_id": "dana.scully@example.com", "verified": True}]})
    assert (await post_event(fixture("message_im.json"))).status == 200
    [message] = await inbound(slack_runtime)
    assert message["contact_id"] == existing.inserted_id
    contact = await hub.store.contacts.find_one({"_id": existing.inserted_id})
    assert contact is not None
    assert {(i["channel"], i["external_id"]) for i in contact["identities"]} == {
        ("email", "dana.scully@example.com"), ("slack", "T0SHOP0001:U0CUST0001")}


async def test_slack_retry_of_the_same_event_is_ingested_once(post_event: PostEvent, slack_runtime: Runtime,
                                                              slack_api: SlackStandIn) -> None:
    payload = fixture("message_im.json")
    first = await post_event(payload)
    retry = await post_event(payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert (first.status, retry.status) == (200, 200)
    assert slack_runtime.hub is not None
    await slack_runtime.hub.pipeline.drain()
    assert len(await inbound(slack_runtime)) == 1
    assert await slack_runtime.hub.store.messages.count_documents({"channel": "slack", "author.kind": "bot"}) == 1
    assert len([c for c in slack_api.calls if c.method == "users.info"]) == 1


async def test_forged_signature_and_stale_timestamp_are_refused(
    post_event: PostEvent, slack_client: TestClient[Any, Any], slack_runtime: Runtime
) -> None:
    payload = fixture("message_im.json")
    body = json.dumps(payload).encode()
    forged = await post_event(payload, secret="not-the-signing-secret")
    stale = await post_event(payload, timestamp=int(time.time()) - 6 * 60)
    tampered_headers = sign(body)
    tampered = await slack_client.post(PATH, data=body.replace(b"opening hours", b"refund to IBAN"),
                                       headers={"Content-Type": "application/json", **tampered_headers})
    missing = await slack_client.post(PATH, data=body, headers={"Content-Type": "application/json"})
    for resp in (forged, stale, tampered, missing):
        assert resp.status == 401
        assert "signature" in json.loads(await resp.text())["error"]
    assert await inbound(slack_runtime) == []


async def test_malformed_but_signed_bodies_get_a_400_with_a_reason(post_event: PostEvent,
                                                                   slack_runtime: Runtime) -> None:
    not_json = await post_event(b"{not json")
    assert not_json.status == 400
    assert "malformed JSON" in json.loads(await not_json.text())["error"]
    no_ts = {"type": "event_callback", "team_id": "T0SHOP0001", "event_id": "Ev0BROKEN01",
             "event": {"type": "message", "user": "U0CUST0001", "text": "hi", "channel": "D0CUSTDM01"}}
    resp = await post_event(no_ts)
    assert resp.status == 400
    assert "without ts" in json.loads(await resp.text())["error"]
    assert await inbound(slack_runtime) == []


async def test_app_mention_and_its_channel_message_twin_are_one_message(
    post_event: PostEvent, slack_runtime: Runtime
) -> None:
    assert (await post_event(fixture("app_mention_shared.json"))).status == 200
    assert (await post_event(fixture("message_shared_same_as_mention.json"))).status == 200
    [message] = await inbound(slack_runtime)
    assert message["text"] == "I'd like to return an item please"
    assert message["external_id"] == "T0SHOP0001:C0SHARED01:1718962000.004400"
    hub = slack_runtime.hub
    assert hub is not None
    contact = await hub.store.contacts.find_one({"_id": message["contact_id"]})
    assert contact is not None
    assert contact["name"] == "Priya Raman"
    # Slack returned no email for this Slack Connect user: nothing verified, nothing linked by address.
    assert contact["emails"] == []
    assert contact["identities"][0]["external_id"] == "T0PARTNER1:U0PARTNR01"
    assert contact["identities"][0]["verified"] is False


async def test_bots_our_own_replies_edits_and_staff_are_not_ingested(post_event: PostEvent,
                                                                     slack_runtime: Runtime) -> None:
    for name in ("message_own_bot_reply.json", "message_other_bot.json", "message_changed.json",
                 "message_staff_in_shared_channel.json"):
        resp = await post_event(fixture(name))
        assert resp.status == 200, name
    assert slack_runtime.hub is not None
    assert await inbound(slack_runtime) == []
    assert await slack_runtime.hub.store.conversations.count_documents({"channel": "slack"}) == 0


async def test_file_shares_are_downloaded_with_the_bot_token_or_kept_as_links(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn
) -> None:
    receipt = b"%PDF-1.4 test receipt\n%%"
    slack_api.files["/files-pri/T0SHOP0001-F0RECEIPT1/download/receipt.pdf"] = (receipt, "application/pdf")
    # The photo is not on the stand-in: its download fails (404) and the link is kept instead.
    resp = await post_event(fixture("message_file_share.json"))
    assert resp.status == 200
    [message] = await inbound(slack_runtime)
    assert message["text"] == "here is the receipt"
    pdf, photo = message["attachments"]
    assert (pdf["filename"], pdf["content_type"], pdf["size"]) == ("receipt.pdf", "application/pdf", len(receipt))
    assert slack_runtime.store is not None
    stored = await BlobStore(slack_runtime.store).get(pdf["blob_id"])
    assert stored is not None and stored[0] == receipt
    assert "blob_id" not in photo
    assert photo["url"] == "https://files.slack.com/files-pri/T0SHOP0001-F0PHOTO001/download/damaged_box.jpg"
    assert [f["downloaded"] for f in message["metadata"]["slack"]["files"]] == [True, False]
    assert {auth for _, auth in slack_api.file_requests} == {f"Bearer {slack_api.token}"}


async def test_event_is_refused_with_5xx_while_slack_cannot_identify_us_then_kept_on_retry(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn
) -> None:
    slack_api.fail_next("auth.test", Failure(503))
    payload = fixture("message_im.json")
    refused = await post_event(payload)
    assert refused.status == 500  # not a 200: Slack keeps the event and retries it
    assert await inbound(slack_runtime) == []
    retried = await post_event(payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert retried.status == 200
    [message] = await inbound(slack_runtime)
    assert message["external_id"] == DM_ID
    assert message["metadata"]["slack"]["retry_num"] == "1"
