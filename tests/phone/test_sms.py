"""SMS through the phone channel: signed Twilio webhooks in, replies out through a Messages API stand-in."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from hub.store import Doc
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
from tests.phone.twilio_standin import Answer, TwilioStandIn, fixture
from tests.phone.twilio_webhooks import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CUSTOMER,
    OUR_NUMBER,
    PUBLIC_URL,
    post_webhook,
    twilio_signature,
    twiml,
)

SMS = "/webhooks/twilio/sms"
THREAD = f"{CUSTOMER}|{OUR_NUMBER}"
OPENING_HOURS_SMS = "Mon-Fri 8am-8pm, Sat 9am-5pm."


def sms(body: str, sid: str, **extra: str) -> dict[str, str]:
    params = fixture("sms_incoming.json")
    params.update(Body=body, MessageSid=sid, SmsMessageSid=sid, SmsSid=sid, **extra)
    return params


async def text_in(client: TestClient[Any, Any], params: dict[str, str]) -> None:
    resp = await post_webhook(client, SMS, params)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/xml"
    root = twiml(await resp.text())
    assert root.tag == "Response" and list(root) == []  # replies go through the API, not the TwiML


async def delivered(runtime: Runtime, status: str = "sent") -> Doc:
    assert runtime.hub is not None
    store = runtime.hub.store

    async def check() -> Doc | None:
        return await store.messages.find_one({"channel": "sms", "direction": "out", "delivery.status": status})

    return await eventually(check, what=f"an outbound SMS marked {status}")


def test_the_test_signature_is_twilios_algorithm() -> None:
    """The tests sign like Twilio; the SDK's validator computes the same signature."""
    params = fixture("sms_incoming.json")
    url = PUBLIC_URL + SMS
    assert twilio_signature(AUTH_TOKEN, url, params) == RequestValidator(AUTH_TOKEN).compute_signature(url, params)


async def test_inbound_sms_is_stored_and_the_bot_replies_through_the_messages_api(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    params = fixture("sms_incoming.json")
    await text_in(phone, params)
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    stored = await store.messages.find_one({"channel": "sms", "direction": "in"})
    assert stored is not None
    assert stored["external_id"] == params["MessageSid"]
    assert stored["thread_key"] == THREAD
    assert stored["text"] == "What are your opening hours?"
    contact = await store.contacts.find_one({"_id": stored["contact_id"]})
    assert contact is not None
    assert contact["phones"] == [CUSTOMER]
    assert {"channel": "sms", "external_id": CUSTOMER} in [
        {"channel": i["channel"], "external_id": i["external_id"]} for i in contact["identities"]]

    request = await twilio_api.next_request()
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form["To"] == CUSTOMER
    assert request.form["From"] == OUR_NUMBER
    assert request.form["Body"] == OPENING_HOURS_SMS
    assert request.form["StatusCallback"] == f"{PUBLIC_URL}/webhooks/twilio/sms/status"
    reply = await delivered(phone_runtime)
    assert reply["text"] == OPENING_HOURS_SMS
    assert reply["provider_id"].startswith("SM") and reply["conversation_id"] == stored["conversation_id"]


async def test_forged_or_missing_signatures_are_refused_and_nothing_is_stored(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    params = fixture("sms_incoming.json")
    wrong_token = await post_webhook(phone, SMS, params, token="0" * 32)
    missing = await post_webhook(phone, SMS, params, signature="")
    tampered_body = await post_webhook(phone, SMS, {**params, "Body": "Refund me"},
                                       signature=twilio_signature(AUTH_TOKEN, PUBLIC_URL + SMS, params))
    internal_url = await post_webhook(phone, SMS, params, signed_url=f"http://127.0.0.1:8080{SMS}")
    for resp in (wrong_token, missing, tampered_body, internal_url):
        assert resp.status == 403
        assert "error" in await resp.json()
    assert phone_runtime.hub is not None
    assert await phone_runtime.hub.store.messages.count_documents({}) == 0


async def test_another_accounts_webhook_and_malformed_payloads_are_refused(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    other_account = await post_webhook(phone, SMS, sms("hi", "SM" + "1" * 32, AccountSid="AC" + "0" * 32))
    assert other_account.status == 403
    no_sid = fixture("sms_incoming.json")
    del no_sid["MessageSid"]
    missing_sid = await post_webhook(phone, SMS, no_sid)
    assert missing_sid.status == 400
    assert "MessageSid" in (await missing_sid.json())["error"]
    assert phone_runtime.hub is not None
    assert await phone_runtime.hub.store.messages.count_documents({}) == 0


async def test_a_replayed_message_sid_is_stored_and_answered_once(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    params = fixture("sms_incoming.json")
    await text_in(phone, params)
    await text_in(phone, params)
    assert phone_runtime.hub is not None
    await phone_runtime.hub.pipeline.drain()
    await delivered(phone_runtime)
    store = phone_runtime.hub.store
    assert await store.messages.count_documents({"channel": "sms", "external_id": params["MessageSid"]}) == 1
    assert await store.messages.count_documents({"channel": "sms", "direction": "out"}) == 1
    assert len(twilio_api.created) == 1


async def test_mms_media_twilio_does_not_serve_is_kept_as_attachments_by_url(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    # The stand-in was given no file for this media URL, so it answers 404 (downloads: test_inbound_media.py).
    params = fixture("mms_incoming.json")
    await text_in(phone, params)
    assert phone_runtime.hub is not None
    stored = await phone_runtime.hub.store.messages.find_one({"external_id": params["MessageSid"]})
    assert stored is not None
    assert stored["text"] == "The parcel arrived like this"
    [attachment] = stored["attachments"]
    assert attachment["url"] == params["MediaUrl0"]
    assert attachment["content_type"] == "image/jpeg"
    assert attachment["filename"] == params["MediaUrl0"].rsplit("/", 1)[1] + ".jpg"
    assert "blob_id" not in attachment
    assert [d["reason"] for d in stored["metadata"]["dropped_attachments"]] == ["HTTP 404"]


async def test_stop_suppresses_replies_until_start(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    await text_in(phone, sms("Stop", "SM" + "a1" * 16))
    stop = await store.messages.find_one({"external_id": "SM" + "a1" * 16})
    assert stop is not None and stop["suppress_bot"] is True and stop["metadata"]["sms_keyword"] == "opt_out"
    contact = await store.contacts.find_one({"_id": stop["contact_id"]})
    assert contact is not None and contact["attributes"]["sms_opted_out"] is True

    # While opted out, the bot still answers in the desk, but nothing is sent to the phone.
    await text_in(phone, sms("What are your opening hours?", "SM" + "b2" * 16))
    await phone_runtime.hub.pipeline.drain()
    refused = await delivered(phone_runtime, status="failed")
    assert refused["delivery"]["error"] == "recipient opted out"
    assert twilio_api.requests == []

    await text_in(phone, sms("START", "SM" + "c3" * 16))
    start = await store.messages.find_one({"external_id": "SM" + "c3" * 16})
    assert start is not None and start["suppress_bot"] is True
    await text_in(phone, sms("When are you open?", "SM" + "d4" * 16))
    request = await twilio_api.next_request()
    assert request.form["To"] == CUSTOMER and request.form["Body"] == OPENING_HOURS_SMS
    await delivered(phone_runtime, status="sent")
    contact = await store.contacts.find_one({"_id": stop["contact_id"]})
    assert contact is not None and contact["attributes"]["sms_opted_out"] is False
    # STOP and START themselves were never answered.
    await phone_runtime.hub.pipeline.drain()
    assert await store.messages.count_documents({"channel": "sms", "direction": "out"}) == 2


async def test_rate_limited_then_accepted_is_sent_exactly_once(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    twilio_api.script = [Answer(429, fixture("api_error_429.json"), {"Retry-After": "1"})]
    await text_in(phone, fixture("sms_incoming.json"))
    first = await twilio_api.next_request()
    second = await twilio_api.next_request()
    assert (first.answered, second.answered) == (429, 201)
    assert first.form == second.form and second.form["Body"] == OPENING_HOURS_SMS
    reply = await delivered(phone_runtime)
    assert reply["delivery"]["attempts"] == 2
    assert len(twilio_api.created) == 1
    assert phone_runtime.hub is not None
    entry = await phone_runtime.hub.store.outbox.find_one({"message_id": reply["_id"]})
    assert entry is not None and entry["status"] == "sent" and entry["last_error"].startswith("Twilio 429")


async def test_an_unsubscribed_recipient_is_a_permanent_failure(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    """Twilio knew of a STOP the hub never saw (error 21610): no retries, and the opt-out is remembered."""
    twilio_api.script = [Answer(400, fixture("api_error_21610.json"))]
    await text_in(phone, fixture("sms_incoming.json"))
    failed = await delivered(phone_runtime, status="failed")
    assert "opted out" in failed["delivery"]["error"] and "21610" in failed["delivery"]["error"]
    assert len(twilio_api.requests) == 1
    assert phone_runtime.hub is not None
    optout = await phone_runtime.hub.store.db["sms_optouts"].find_one({"_id": THREAD})
    assert optout is not None and optout["opted_out"] is True


async def test_erasure_removes_the_number_twilio_named_in_a_refused_delivery(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    """Twilio's refusal names the customer's number (error 21211): the desk shows it on the failed reply until
    the contact is erased; then neither the message, its outbox entry nor the event log holds it, and the
    failure itself stays."""
    twilio_api.script = [Answer(400, {"code": 21211, "status": 400,
                                      "message": f"The 'To' number {CUSTOMER} is not a valid phone number.",
                                      "more_info": "https://www.twilio.com/docs/errors/21211"})]
    await text_in(phone, fixture("sms_incoming.json"))
    failed = await delivered(phone_runtime, status="failed")
    assert CUSTOMER in failed["delivery"]["error"]  # what the desk showed the agent
    hub = phone_runtime.hub
    assert hub is not None
    await hub.privacy.erase(failed["contact_id"])
    kept = [await hub.store.messages.find({"conversation_id": failed["conversation_id"]}).to_list(),
            await hub.store.outbox.find({"conversation_id": failed["conversation_id"]}).to_list(),
            await hub.store.events.find({}).to_list()]
    assert CUSTOMER.lstrip("+") not in json.dumps(kept, default=str)
    erased = await hub.store.messages.find_one({"_id": failed["_id"]})
    assert erased is not None and erased["delivery"]["status"] == "failed"  # the failure stays, its text goes
    assert await hub.store.events.count_documents({"type": "message.failed", "message_id": failed["_id"]}) == 1


async def test_a_delivery_failure_reported_later_marks_the_reply_failed(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    await text_in(phone, fixture("sms_incoming.json"))
    reply = await delivered(phone_runtime)
    status = fixture("sms_status_undelivered.json")
    status.update(MessageSid=reply["provider_id"], SmsSid=reply["provider_id"])
    resp = await post_webhook(phone, f"{SMS}/status", status)
    assert resp.status == 204
    assert phone_runtime.hub is not None
    updated = await phone_runtime.hub.store.messages.find_one({"_id": reply["_id"]})
    assert updated is not None
    assert updated["delivery"]["status"] == "failed" and "30003" in updated["delivery"]["error"]
