"""Agents' files sent as MMS: one Messages API call with `MediaUrl`s, files served to Twilio at signed links."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from channels.phone.media import MAX_MMS_BYTES
from hub.models import Role
from hub.store import Doc, ObjectId
from hub.tickets import TicketError
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
from tests.phone.test_sms import sms, text_in
from tests.phone.test_voice import escalate
from tests.phone.twilio_standin import Answer, ApiRequest, TwilioStandIn, fixture
from tests.phone.twilio_webhooks import CUSTOMER, OUR_NUMBER, PUBLIC_URL, path_of

MEDIA = "/api/phone/media"
#: A small but well-formed JPEG (SOI, JFIF APP0, EOI) with bytes that are not valid UTF-8.
JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + bytes(range(256)) * 8 + b"\xff\xd9")


def sign(secret: str, blob_id: str, expires: int) -> str:
    """The documented link signature, computed independently of the hub's code."""
    return hmac.new(secret.encode(), f"phone-media\n{blob_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


class SmsTicket:
    """A customer who texted "talk to a human": an SMS ticket, an agent, the handoff text already sent."""

    def __init__(self, runtime: Runtime, ticket: Doc, agent: Doc, handoff: ApiRequest) -> None:
        assert runtime.hub is not None
        self.hub = runtime.hub
        self.ticket = ticket
        self.agent = agent
        self.handoff = handoff

    async def file(self, filename: str, content_type: str, data: bytes) -> dict[str, Any]:
        blob_id = await self.hub.blobs.put(filename, content_type, data, ticket_id=self.ticket["_id"])
        return {"filename": filename, "content_type": content_type, "size": len(data), "blob_id": blob_id}

    async def reply(self, text: str, *files: dict[str, Any]) -> Doc:
        return await self.hub.tickets.reply(self.ticket["_id"], self.agent, text, attachments=list(files))

    async def delivery(self, message: Doc, status: str) -> Doc:
        store = self.hub.store

        async def check() -> Doc | None:
            return await store.messages.find_one({"_id": message["_id"], "delivery.status": status})

        return await eventually(check, what=f"the agent's reply to be {status}")


@pytest.fixture
async def sms_ticket(phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn) -> SmsTicket:
    assert phone_runtime.hub is not None
    hub = phone_runtime.hub
    await text_in(phone, sms("I want to talk to a human", "SM" + "9a" * 16))
    handoff = await twilio_api.next_request()
    assert "ticket number" in handoff.form["Body"] and handoff.media_urls == ()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    agent = await hub.accounts.create("carol", "correct horse battery", name="Carol", roles=[Role.AGENT])
    return SmsTicket(phone_runtime, ticket, agent, handoff)


async def test_a_reply_with_a_photo_is_one_mms_whose_media_url_serves_the_photo(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn, sms_ticket: SmsTicket
) -> None:
    photo = await sms_ticket.file("parcel.jpg", "image/jpeg", JPEG)
    message = await sms_ticket.reply("Here is the photo of your parcel.", photo)
    request = await twilio_api.next_request()
    sent = await sms_ticket.delivery(message, "sent")

    # One Messages API call with the text and the file: one message for Twilio, one for the agent.
    assert request.answered == 201 and request.form["To"] == CUSTOMER and request.form["From"] == OUR_NUMBER
    assert request.form["Body"] == "Here is the photo of your parcel."
    [media_url] = request.media_urls
    assert sent["provider_id"] == request.sid and sent["delivery"]["attempts"] == 1
    assert [r.sid for r in twilio_api.created] == [sms_ticket.handoff.sid, request.sid]
    assert twilio_api.pending() == 0

    # The link is on the URL Twilio reaches the hub at, signed with the hub secret, valid for days.
    parts = urlsplit(media_url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
    assert parts.path == f"{MEDIA}/{photo['blob_id']}"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    expires = int(query["expires"])
    assert expires - time.time() > 6 * 24 * 3600
    assert query["sig"] == sign(phone_runtime.settings.secret, photo["blob_id"], expires)

    # What Twilio does next: fetch the media URL (no credentials) and get the photo back.
    fetched = await phone.get(path_of(media_url))
    assert fetched.status == 200
    assert await fetched.read() == JPEG
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.headers["Cache-Control"] == "private"


async def test_tampered_or_expired_links_are_refused_and_unknown_files_are_not_found(
    phone: TestClient[Any, Any], phone_runtime: Runtime, sms_ticket: SmsTicket
) -> None:
    secret = phone_runtime.settings.secret
    photo = await sms_ticket.file("parcel.jpg", "image/jpeg", JPEG)
    blob_id = photo["blob_id"]
    later = int(time.time()) + 3600

    async def get(blob: str, expires: int | str, sig: str) -> Any:
        return await phone.get(f"{MEDIA}/{blob}", params={"expires": str(expires), "sig": sig})

    good = await get(blob_id, later, sign(secret, blob_id, later))
    assert good.status == 200 and await good.read() == JPEG

    valid = sign(secret, blob_id, later)
    tampered = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    other = await sms_ticket.file("other.jpg", "image/jpeg", b"\xff\xd8other\xff\xd9")
    refused = {
        "tampered signature": await get(blob_id, later, tampered),
        "extended expiry": await get(blob_id, later + 86400, valid),
        "another file's signature": await get(other["blob_id"], later, valid),
        "signed with another secret": await get(blob_id, later, sign("not-the-hub-secret", blob_id, later)),
        "no signature": await phone.get(f"{MEDIA}/{blob_id}", params={"expires": str(later)}),
        "non-hex signature": await get(blob_id, later, "é" * 64),
        "no expiry": await phone.get(f"{MEDIA}/{blob_id}", params={"sig": valid}),
    }
    for what, resp in refused.items():
        assert resp.status == 403, what
        assert await resp.json() == {"error": "invalid media link"}, what

    past = int(time.time()) - 60
    expired = await get(blob_id, past, sign(secret, blob_id, past))
    assert expired.status == 403
    assert await expired.json() == {"error": "media link expired"}

    for unknown in (str(ObjectId()), "not-a-blob-id"):
        missing = await get(unknown, later, sign(secret, unknown, later))
        assert missing.status == 404, unknown
        assert await missing.json() == {"error": "no such file"}


async def test_files_over_5_mb_in_all_fail_permanently_without_calling_twilio(
    twilio_api: TwilioStandIn, sms_ticket: SmsTicket
) -> None:
    half = MAX_MMS_BYTES // 2
    # Exactly 5 MB in two files still fits in one MMS...
    fits = [await sms_ticket.file(f"page{i}.jpg", "image/jpeg", b"\xff" * half) for i in (1, 2)]
    accepted = await sms_ticket.reply("Both pages.", *fits)
    request = await twilio_api.next_request()
    assert len(request.media_urls) == 2 and request.form["Body"] == "Both pages."
    await sms_ticket.delivery(accepted, "sent")

    # ...one byte more does not: refused before any API call, and not retried.
    too_big = [fits[0], await sms_ticket.file("page2b.jpg", "image/jpeg", b"\xff" * (half + 1))]
    refused = await sms_ticket.reply("Both pages again.", *too_big)
    failed = await sms_ticket.delivery(refused, "failed")
    assert failed["delivery"]["error"] == (
        "files too large for MMS: 5.0 MB attached, Twilio takes at most 5 MB per message")
    entry = await sms_ticket.hub.store.outbox.find_one({"message_id": refused["_id"]})
    assert entry is not None and entry["status"] == "failed" and entry["attempts"] == 1
    assert [r.sid for r in twilio_api.requests] == [sms_ticket.handoff.sid, request.sid]


async def test_files_on_a_call_are_refused_by_the_desk(phone: TestClient[Any, Any], phone_runtime: Runtime) -> None:
    assert phone_runtime.hub is not None
    hub = phone_runtime.hub
    await escalate(phone)
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    conversation = await hub.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]})
    assert conversation is not None and conversation["channel"] == "voice"
    agent = await hub.accounts.create("dave", "correct horse battery", name="Dave", roles=[Role.AGENT])
    blob_id = await hub.blobs.put("label.pdf", "application/pdf", b"%PDF-1.4 label", ticket_id=ticket["_id"])
    files = [{"filename": "label.pdf", "content_type": "application/pdf", "size": 14, "blob_id": blob_id}]

    with pytest.raises(TicketError, match="files cannot be sent to the customer on voice"):
        await hub.tickets.reply(ticket["_id"], agent, "Your return label", attachments=files)
    assert await hub.store.messages.count_documents({"channel": "voice", "author.kind": "agent"}) == 0
    # The same file on a private note is fine: it never leaves the desk.
    note = await hub.tickets.reply(ticket["_id"], agent, "Label for later", attachments=files, private=True)
    assert note["private"] is True and [a["blob_id"] for a in note["attachments"]] == [blob_id]


async def test_a_files_only_reply_is_an_mms_without_a_body(
    twilio_api: TwilioStandIn, sms_ticket: SmsTicket
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    picture = await sms_ticket.file("map.png", "image/png", png)
    message = await sms_ticket.reply("", picture)
    request = await twilio_api.next_request()
    assert "Body" not in request.form
    [media_url] = request.media_urls
    assert urlsplit(media_url).path == f"{MEDIA}/{picture['blob_id']}"
    sent = await sms_ticket.delivery(message, "sent")
    assert sent["provider_id"] == request.sid


async def test_a_long_reply_carries_its_files_on_the_first_part_and_a_retry_does_not_resend_them(
    twilio_api: TwilioStandIn, sms_ticket: SmsTicket
) -> None:
    photo = await sms_ticket.file("parcel.jpg", "image/jpeg", JPEG)
    long_reply = " ".join(f"step{i}" for i in range(500))  # about 3400 characters: three parts
    # Part 1 (with the photo) is accepted, part 2 hits a Twilio outage once, then the rest goes through.
    twilio_api.script = [Answer(201), Answer(503, fixture("api_error_503.json"))]
    message = await sms_ticket.reply(long_reply, photo)
    sent = await sms_ticket.delivery(message, "sent")

    parts = [r for r in twilio_api.requests if r.sid != sms_ticket.handoff.sid]
    assert [r.answered for r in parts] == [201, 503, 201, 201]
    created = [r for r in parts if r.answered == 201]
    assert " ".join(r.form["Body"] for r in created) == long_reply
    assert [len(r.media_urls) for r in created] == [1, 0, 0]
    assert sum(len(r.media_urls) for r in parts) == 1  # the MMS part was created once, never resent
    assert sent["provider_id"] == created[0].sid and sent["delivery"]["attempts"] == 2


async def test_a_rate_limited_mms_is_retried_as_the_same_single_call(
    twilio_api: TwilioStandIn, sms_ticket: SmsTicket
) -> None:
    twilio_api.script = [Answer(429, fixture("api_error_429.json"), {"Retry-After": "1"})]
    photo = await sms_ticket.file("parcel.jpg", "image/jpeg", JPEG)
    message = await sms_ticket.reply("The photo.", photo)
    first = await twilio_api.next_request()
    second = await twilio_api.next_request()
    sent = await sms_ticket.delivery(message, "sent")
    assert (first.answered, second.answered) == (429, 201)
    assert first.form["Body"] == second.form["Body"] == "The photo."
    assert len(first.media_urls) == len(second.media_urls) == 1
    assert [r.sid for r in twilio_api.created] == [sms_ticket.handoff.sid, second.sid]
    assert sent["provider_id"] == second.sid and sent["delivery"]["attempts"] == 2
    entry = await sms_ticket.hub.store.outbox.find_one({"message_id": message["_id"]})
    assert entry is not None and entry["last_error"].startswith("Twilio 429 (code 20429)")


async def test_an_mms_to_an_unsubscribed_number_fails_permanently_and_records_the_opt_out(
    twilio_api: TwilioStandIn, sms_ticket: SmsTicket
) -> None:
    twilio_api.script = [Answer(400, fixture("api_error_21610.json"))]
    photo = await sms_ticket.file("parcel.jpg", "image/jpeg", JPEG)
    message = await sms_ticket.reply("The photo.", photo)
    failed = await sms_ticket.delivery(message, "failed")
    assert failed["delivery"]["error"].startswith("recipient opted out (Twilio 400 (code 21610)")
    assert len(twilio_api.requests) == 2 and len(twilio_api.requests[1].media_urls) == 1
    optout = await sms_ticket.hub.store.db["sms_optouts"].find_one({"_id": f"{CUSTOMER}|{OUR_NUMBER}"})
    assert optout is not None and optout["opted_out"] is True and optout["source"] == "twilio 21610"
