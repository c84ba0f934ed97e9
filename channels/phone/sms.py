"""Inbound SMS/MMS (`POST /webhooks/twilio/sms`) and delivery status callbacks.

Twilio gets its empty `<Response/>` only after `hub.ingest` returned, i.e. once the
message is stored; replies are not put in the TwiML but sent through the Messages
API by the outbox, so they are retried like any other channel's. An MMS's media are
downloaded before that (`TwilioMediaFetcher`), unless the delivery is a retry of a
message already stored.
"""

from __future__ import annotations

import logging

from aiohttp import web

from channels.base import bad_request
from channels.phone.inbound_media import Fetched, TwilioMediaFetcher
from channels.phone.options import chosen_option
from channels.phone.optouts import Keyword, OptOutBook, keyword_of
from channels.phone.payloads import IncomingSms, required
from channels.phone.signature import TwilioSignature
from hub.csat import sms_score
from hub.hub import Hub
from hub.models import InboundMessage, Sender

log = logging.getLogger(__name__)
CHANNEL = "sms"
SMS_PATH = "/webhooks/twilio/sms"
SMS_STATUS_PATH = f"{SMS_PATH}/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
FAILED_STATUSES = frozenset({"failed", "undelivered"})


def twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml", charset="utf-8")


class SmsWebhooks:
    def __init__(self, hub: Hub, signature: TwilioSignature, optouts: OptOutBook,
                 media: TwilioMediaFetcher) -> None:
        self.hub = hub
        self.signature = signature
        self.optouts = optouts
        self.media = media

    def routes(self) -> list[web.RouteDef]:
        return [web.post(SMS_PATH, self.incoming), web.post(SMS_STATUS_PATH, self.status)]

    async def incoming(self, request: web.Request) -> web.Response:
        form = await self.signature.verified_form(request)
        sms = IncomingSms.parse(form)
        keyword = keyword_of(sms.body, sms.opt_out_type)
        # A redelivery of a stored message is a no-op for ingest: nothing to record or download for it.
        stored = (keyword is not None or bool(sms.media)) and await self.hub.is_ingested(CHANNEL, sms.message_sid)
        if keyword is not None and not stored:
            # Before storing: from this moment on, nothing more is sent to this number. A late
            # replay of an old STOP (already stored) must not undo a START sent since.
            await self.optouts.record(sms.customer, sms.our_number, keyword is Keyword.OPT_OUT,
                                      f"keyword {sms.message_sid}")
        media = Fetched(sms.media) if stored or not sms.media else await self.media.fetch(sms.media)
        text, metadata = sms.body.strip(), media.add_to(dict(sms.metadata))
        score = sms_score(text) if keyword is None and not sms.media else None
        if score is not None:
            # "Reply 1-5" to a CSAT request: the solved ticket's rating, neither reopening it nor for the bot.
            if await self.hub.tickets.rate_from_thread(CHANNEL, sms.thread_key, score, typed=True) != "none":
                return twiml(EMPTY_TWIML)
        if keyword is None and (payload := await chosen_option(self.hub.store, CHANNEL, sms.thread_key, text)):
            metadata["typed"] = text
            text = payload
        if keyword is not None:
            metadata["sms_keyword"] = keyword.value
        result = await self.hub.ingest(InboundMessage(
            channel=CHANNEL,
            external_id=sms.message_sid,
            thread_key=sms.thread_key,
            sender=Sender(external_id=sms.customer, phone=sms.customer),
            text=text,
            attachments=media.attachments,
            suppress_bot=keyword is not None,
            inbox=sms.our_number,
            metadata=metadata,
            reply_context={"our_number": sms.our_number, "customer": sms.customer},
        ))
        if keyword is not None:
            opted_out = await self.optouts.is_opted_out(sms.customer, sms.our_number)
            await self.optouts.mirror_on_contact(result.contact_id, opted_out)
        return twiml(EMPTY_TWIML)

    async def status(self, request: web.Request) -> web.Response:
        """A message we sent failed after Twilio accepted it: show the failure to agents."""
        form = await self.signature.verified_form(request)
        sid = required(form, "MessageSid")
        status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        if not status:
            raise bad_request("MessageStatus is required")
        if status in FAILED_STATUSES:
            reason = f"Twilio reported {status} (error {form.get('ErrorCode') or 'unknown'})"
            if not await self.hub.outbox.mark_failed_by_external_id(CHANNEL, sid, reason):
                log.info("sms status: %s for unknown message %s", status, sid)
        return web.Response(status=204)
