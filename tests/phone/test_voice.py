"""Phone calls: signed Twilio voice webhooks in, TwiML out, the bot answering within the call."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role
from hub.store import Doc
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
from tests.phone.twilio_standin import TwilioStandIn, fixture
from tests.phone.twilio_webhooks import CUSTOMER, PUBLIC_URL, post_webhook, said, twiml

VOICE = "/webhooks/twilio/voice"
CALL_SID = fixture("voice_incoming.json")["CallSid"]
OPENING_HOURS_VOICE = "We are open Monday to Friday from 8 am to 8 pm, and Saturday from 9 am to 5 pm."


async def call(client: TestClient[Any, Any], url: str, params: dict[str, str], status: int = 200) -> ET.Element:
    resp = await post_webhook(client, url, params)
    assert resp.status == status, await resp.text()
    assert resp.content_type == "text/xml"
    return twiml(await resp.text())


def speech(text: str, **extra: str) -> dict[str, str]:
    params = fixture("voice_gather_speech.json")
    params.update(SpeechResult=text, **extra)
    return params


def silence() -> dict[str, str]:
    params = fixture("voice_gather_speech.json")
    del params["SpeechResult"], params["Confidence"]
    return params


def gather_of(root: ET.Element) -> ET.Element:
    gather = root.find("Gather")
    assert gather is not None, ET.tostring(root)
    assert gather.get("actionOnEmptyResult") == "true"
    return gather


async def start_call(client: TestClient[Any, Any]) -> ET.Element:
    root = await call(client, VOICE, fixture("voice_incoming.json"))
    gather = gather_of(root)
    assert gather.get("input") == "speech"
    assert gather.get("action") == f"{PUBLIC_URL}{VOICE}/gather?turn=1&silent=0"
    assert said(root) == ["Hello, thanks for calling. How can I help you today?"]
    return gather


async def escalate(client: TestClient[Any, Any]) -> ET.Element:
    gather = await start_call(client)
    menu = await call(client, str(gather.get("action")), speech("I want to talk to a person please"))
    return menu


async def test_a_call_is_greeted_answered_by_the_bot_and_asked_for_more(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    gather = await start_call(phone)
    conversation = await store.conversations.find_one({"channel": "voice", "thread_key": CALL_SID})
    assert conversation is not None and conversation["recipient"] == CUSTOMER

    answer = await call(phone, str(gather.get("action")), speech("What are your opening hours?"))
    assert said(answer) == [OPENING_HOURS_VOICE, "Is there anything else I can help you with?"]
    next_gather = gather_of(answer)
    assert next_gather.get("action") == f"{PUBLIC_URL}{VOICE}/gather?turn=2&silent=0"

    question = await store.messages.find_one({"channel": "voice", "external_id": f"{CALL_SID}:turn:1"})
    assert question is not None
    assert question["text"] == "What are your opening hours?"
    assert question["metadata"]["speech_confidence"] == 0.9254307
    assert question["nlu"]["intent"] == "opening_hours"
    assert question["conversation_id"] == conversation["_id"]
    contact = await store.contacts.find_one({"_id": question["contact_id"]})
    assert contact is not None and contact["phones"] == [CUSTOMER]
    # The spoken answer is the bot's stored reply; the voice sender marks it delivered.
    reply = await store.messages.find_one({"conversation_id": conversation["_id"], "direction": "out"})
    assert reply is not None and reply["text"] == OPENING_HOURS_VOICE

    async def reply_sent() -> Doc | None:
        return await store.messages.find_one({"_id": reply["_id"], "delivery.status": "sent"})

    await eventually(reply_sent, what="the spoken reply marked sent")


async def test_a_retried_gather_webhook_is_stored_once_and_gets_the_same_answer(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    gather = await start_call(phone)
    first = await call(phone, str(gather.get("action")), speech("What are your opening hours?"))
    again = await call(phone, str(gather.get("action")), speech("What are your opening hours?"))
    assert said(first) == said(again) and said(first)[0] == OPENING_HOURS_VOICE
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    await phone_runtime.hub.pipeline.drain()
    assert await store.messages.count_documents({"external_id": f"{CALL_SID}:turn:1"}) == 1
    assert await store.messages.count_documents({"channel": "voice", "direction": "out"}) == 1


async def test_silence_is_asked_again_then_the_call_ends_politely(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    gather = await start_call(phone)
    retry = await call(phone, str(gather.get("action")), silence())
    assert said(retry)[0] == "Sorry, I didn't catch that."
    assert gather_of(retry).get("action") == f"{PUBLIC_URL}{VOICE}/gather?turn=1&silent=1"
    end = await call(phone, str(gather_of(retry).get("action")), silence())
    assert end.find("Hangup") is not None and end.find("Gather") is None
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    logged = await store.db["phone_calls"].find_one({"_id": CALL_SID})
    assert logged is not None and logged["outcome"] == "no_input"
    # Only the call itself is on record (so agents see the silent call), no empty customer turns.
    assert await store.messages.count_documents({"channel": "voice"}) == 1

    status = await post_webhook(phone, f"{VOICE}/status", fixture("voice_status_completed.json"))
    assert status.status == 204
    logged = await store.db["phone_calls"].find_one({"_id": CALL_SID})
    assert logged is not None and logged["call_status"] == "completed" and logged["duration_seconds"] == 83


async def test_escalation_offers_voicemail_whose_recording_and_transcription_land_on_the_ticket(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    menu = await escalate(phone)
    ticket = await store.tickets.find_one({})
    assert ticket is not None and ticket["reason"] == "human_requested"
    lines = said(menu)
    assert f"ticket number is {ticket['number']}" in lines[0]  # '#' is not read aloud
    assert "press 1" in lines[-1] and "press 2" in lines[-1]
    choice = gather_of(menu)
    assert choice.get("action") == f"{PUBLIC_URL}{VOICE}/choice?attempt=0"
    assert "dtmf" in str(choice.get("input"))

    record_twiml = await call(phone, str(choice.get("action")), fixture("voice_gather_digits.json"))
    record = record_twiml.find("Record")
    assert record is not None
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == f"{PUBLIC_URL}{VOICE}/transcription"
    assert record.get("recordingStatusCallback") == f"{PUBLIC_URL}{VOICE}/recording"
    assert record.get("action") == f"{PUBLIC_URL}{VOICE}/recorded"

    done = await call(phone, str(record.get("action")), fixture("voice_record_action.json"))
    assert done.find("Hangup") is not None
    # The recording status callback for the same recording adds nothing.
    status = await post_webhook(phone, f"{VOICE}/recording", fixture("voice_recording_status.json"))
    assert status.status == 204
    transcription = fixture("voice_transcription.json")
    for _ in range(2):  # Twilio retrying the transcription callback
        resp = await post_webhook(phone, f"{VOICE}/transcription", transcription)
        assert resp.status == 204
    await phone_runtime.hub.pipeline.drain()

    recording_sid = fixture("voice_record_action.json")["RecordingSid"]
    [voicemail] = await store.messages.find({"external_id": f"rec:{recording_sid}"}).to_list()
    assert voicemail["attachments"][0]["url"] == fixture("voice_record_action.json")["RecordingUrl"]
    assert voicemail["text"] == "Voicemail (14 s)"
    [transcript] = await store.messages.find({"external_id": f"tr:{transcription['TranscriptionSid']}"}).to_list()
    assert transcript["text"] == f"Voicemail transcription: {transcription['TranscriptionText']}"
    ticket = await store.tickets.find_one({"_id": ticket["_id"]})
    assert ticket is not None
    assert voicemail["conversation_id"] in ticket["conversation_ids"]
    assert transcript["conversation_id"] == voicemail["conversation_id"]
    assert ticket["last_customer_message_at"] >= transcript["created_at"]
    # The bot stayed out of it: the only outbound message is the handoff notice.
    outbound = await store.messages.find({"channel": "voice", "direction": "out"}).to_list()
    assert [m["author"]["kind"] for m in outbound] == ["system"]


async def test_the_caller_can_ask_for_a_callback_instead(phone: TestClient[Any, Any], phone_runtime: Runtime) -> None:
    menu = await escalate(phone)
    params = fixture("voice_gather_digits.json")
    params.update(Digits="2")
    bye = await call(phone, str(gather_of(menu).get("action")), params)
    assert bye.find("Hangup") is not None
    assert "call you back" in said(bye)[0]
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    request = await store.messages.find_one({"external_id": f"{CALL_SID}:callback"})
    assert request is not None
    assert request["metadata"]["callback_number"] == CUSTOMER
    ticket = await store.tickets.find_one({})
    assert ticket is not None and request["conversation_id"] in ticket["conversation_ids"]
    logged = await store.db["phone_calls"].find_one({"_id": CALL_SID})
    assert logged is not None and logged["outcome"] == "callback_requested"


async def test_goodbye_ends_the_call(phone: TestClient[Any, Any], phone_runtime: Runtime) -> None:
    gather = await start_call(phone)
    end = await call(phone, str(gather.get("action")), speech("No that's all, goodbye"))
    assert end.find("Hangup") is not None and end.find("Gather") is None
    assert said(end) and said(end)[0]


async def test_forged_voice_webhooks_are_refused(phone: TestClient[Any, Any], phone_runtime: Runtime) -> None:
    forged = await post_webhook(phone, VOICE, fixture("voice_incoming.json"), token="f" * 32)
    assert forged.status == 403
    unsigned = await post_webhook(phone, f"{VOICE}/transcription", fixture("voice_transcription.json"), signature="")
    assert unsigned.status == 403
    assert phone_runtime.hub is not None
    assert await phone_runtime.hub.store.messages.count_documents({}) == 0
    assert await phone_runtime.hub.store.db["phone_calls"].count_documents({}) == 0


async def test_an_agents_written_reply_on_a_call_is_refused_not_silently_dropped(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    await escalate(phone)
    assert phone_runtime.hub is not None
    hub = phone_runtime.hub
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    agent = await hub.accounts.create("bob", "correct horse battery", name="Bob", roles=[Role.AGENT])
    await hub.tickets.reply(ticket["_id"], agent, "I'll call you in five minutes.")

    async def refused() -> Doc | None:
        return await hub.store.messages.find_one({"author.kind": "agent", "delivery.status": "failed"})

    failed = await eventually(refused, what="the agent's reply on the call marked failed")
    assert "call the customer back" in failed["delivery"]["error"]
    assert twilio_api.requests == []
