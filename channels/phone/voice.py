"""Phone calls: greet, listen, let the bot answer in the TwiML response, hand over to voicemail or a callback.

A call is one conversation (thread key = CallSid). Each `<Gather>` result is stored
as the caller's message with external id `CallSid:turn:N` (N is in the action URL,
so a retried webhook is stored once), then `Pipeline.process_now` lets the bot
decide before the HTTP response is written, and the bot's stored reply is spoken.
Recordings and transcriptions arrive later as their own callbacks and are ingested
into the same conversation (idempotent on RecordingSid / TranscriptionSid), so they
land on the ticket the handoff opened. The recording's audio is downloaded into the hub
(`TwilioMediaFetcher`) before the voicemail is stored.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from channels.base import bad_request
from channels.phone.calls import CallLog, CallRecord, Outcome
from channels.phone.config import PhoneConfig
from channels.phone.inbound_media import TwilioMediaFetcher
from channels.phone.options import chosen_option, with_numbered_options
from channels.phone.payloads import E164, CallWebhook, required
from channels.phone.signature import TwilioSignature
from channels.phone.voice_twiml import (
    CHOICE_PATH,
    GATHER_PATH,
    RECORDED_PATH,
    RECORDING_PATH,
    STATUS_PATH,
    TRANSCRIPTION_PATH,
    VOICE_PATH,
    Twiml,
)
from hub.hub import Hub
from hub.models import Attachment, ConversationState, Direction, InboundMessage, QuickReply, Sender
from hub.store import Doc, ObjectId

log = logging.getLogger(__name__)
CHANNEL = "voice"
_VOICEMAIL = re.compile(r"\b(one|1|voice ?mail|message|record)\b", re.IGNORECASE)
_CALLBACK = re.compile(r"\b(two|2|call ?back|call me)\b", re.IGNORECASE)
_RECORDING_SID = re.compile(r"/Recordings/(RE[0-9a-fA-F]{32})")
#: Twilio serves a recording as WAV at `RecordingUrl` + ".wav" (or MP3 at + ".mp3").
RECORDING_EXTENSION = ".wav"
RECORDING_CONTENT_TYPE = "audio/x-wav"


def twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml", charset="utf-8")


def _query_int(request: web.Request, name: str, upper: int) -> int:
    raw = request.query.get(name, "0")
    if not raw.isdigit() or int(raw) > upper:
        raise bad_request(f"{name} must be a number up to {upper}")
    return int(raw)


class VoiceWebhooks:
    def __init__(self, hub: Hub, config: PhoneConfig, signature: TwilioSignature, calls: CallLog,
                 media: TwilioMediaFetcher) -> None:
        self.hub = hub
        self.media = media
        self.config = config
        self.texts = config.texts
        self.signature = signature
        self.calls = calls
        self.twiml = Twiml(config)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(VOICE_PATH, self.incoming),
            web.post(GATHER_PATH, self.gathered),
            web.post(CHOICE_PATH, self.chose),
            web.post(RECORDED_PATH, self.recorded),
            web.post(RECORDING_PATH, self.recording_status),
            web.post(TRANSCRIPTION_PATH, self.transcription),
            web.post(STATUS_PATH, self.call_status),
        ]

    # -- helpers --------------------------------------------------------------------------
    def _caller(self, call: CallRecord | CallWebhook) -> Sender:
        """The caller's E.164 number is the contact identity; a withheld number gets one per call."""
        number = call.caller
        if E164.match(number):
            return Sender(external_id=number, display_name=call.caller_name, phone=number)
        return Sender(external_id=f"anonymous:{call.call_sid}", display_name=call.caller_name or "Withheld number")

    async def _known_call(self, form: MultiDictProxy[str]) -> CallRecord:
        call_sid = required(form, "CallSid")
        record = await self.calls.get(call_sid)
        if record is None:
            raise bad_request(f"unknown call {call_sid}", 404)
        return record

    async def _ingest(self, call: CallRecord | CallWebhook, external_id: str, text: str, *,
                      suppress_bot: bool, metadata: dict[str, Any],
                      attachments: tuple[Attachment, ...] = ()) -> str:
        result = await self.hub.ingest(InboundMessage(
            channel=CHANNEL, external_id=external_id, thread_key=call.call_sid, sender=self._caller(call),
            text=text, attachments=attachments, suppress_bot=suppress_bot, inbox=call.our_number or None,
            metadata=metadata, reply_context={"call_sid": call.call_sid, "our_number": call.our_number},
        ))
        return result.message_id

    # -- the call ---------------------------------------------------------------------------
    async def incoming(self, request: web.Request) -> web.Response:
        """A call comes in: log it, open its conversation, greet and listen."""
        call = CallWebhook.parse(await self.signature.verified_form(request))
        await self.calls.started(call)
        await self._ingest(call, f"{call.call_sid}:start", "Incoming phone call", suppress_bot=True,
                           metadata={**call.metadata, "call_event": "started"})
        return twiml(self.twiml.ask([self.texts.greeting], turn=1))

    async def gathered(self, request: web.Request) -> web.Response:
        """What the caller said (or keyed in): stored, decided by the bot, answered in this response."""
        form = await self.signature.verified_form(request)
        call = CallWebhook.parse(form)
        turn, silent = _query_int(request, "turn", 500), _query_int(request, "silent", 50)
        speech = (form.get("SpeechResult") or "").strip()
        digits = (form.get("Digits") or "").strip()
        said = speech or digits
        if not said:
            if silent + 1 >= self.config.max_silent_prompts:
                await self.calls.outcome(call.call_sid, Outcome.NO_INPUT)
                return twiml(self.twiml.goodbye([self.texts.no_input_goodbye]))
            return twiml(self.twiml.ask([self.texts.not_heard, self.texts.anything_else if turn > 1
                                         else self.texts.greeting], turn=turn, silent=silent + 1))
        metadata: dict[str, Any] = {**call.metadata, "input": "speech" if speech else "dtmf", "turn": turn}
        if speech and form.get("Confidence"):
            metadata["speech_confidence"] = _float(form["Confidence"])
        text = said
        if payload := await chosen_option(self.hub.store, CHANNEL, call.call_sid, said):
            metadata["typed"], text = said, payload
        message_id = await self._ingest(call, f"{call.call_sid}:turn:{turn}", text, suppress_bot=False,
                                        metadata=metadata)
        await self.hub.pipeline.process_now(message_id)
        return twiml(await self._answer(call, message_id, turn))

    async def _answer(self, call: CallWebhook, message_id: str, turn: int) -> str:
        inbound, conversation, replies = await self._replies_to(message_id)
        lines = [str(r["text"]) for r in replies]
        if conversation.get("state") == ConversationState.ESCALATED.value:
            await self.calls.outcome(call.call_sid, Outcome.ESCALATED)
            return self.twiml.menu(lines, attempt=0)
        if not lines:
            return self.twiml.ask([self.texts.no_answer, self.texts.anything_else], turn=turn + 1)
        intent = (inbound.get("nlu") or {}).get("intent")
        if intent in self.config.end_call_intents:
            await self.calls.outcome(call.call_sid, Outcome.BOT_ENDED)
            return self.twiml.goodbye(lines)
        options = tuple(QuickReply(q["title"], q["payload"]) for q in replies[-1].get("quick_replies") or [])
        if options:
            lines[-1] = with_numbered_options(lines[-1], options, spoken=True)
            return self.twiml.ask(lines, turn=turn + 1, keypad=True)
        return self.twiml.ask([*lines, self.texts.anything_else], turn=turn + 1)

    async def _replies_to(self, message_id: str) -> tuple[Doc, Doc, list[Doc]]:
        """The inbound message, its conversation, and what the hub said after it (before the caller spoke again)."""
        store = self.hub.store
        inbound = await store.messages.find_one({"_id": ObjectId(message_id)})
        if inbound is None:
            raise bad_request("message vanished", 404)
        conversation = await store.conversations.find_one({"_id": inbound["conversation_id"]}) or {}
        cursor = store.messages.find(
            {"conversation_id": inbound["conversation_id"], "created_at": {"$gte": inbound["created_at"]}},
            sort=[("created_at", 1), ("_id", 1)], limit=50,
        )
        replies: list[Doc] = []
        after = False
        async for doc in cursor:
            if doc["_id"] == inbound["_id"]:
                after = True
            elif after and doc["direction"] == Direction.INBOUND.value:
                break
            elif after and not doc.get("private"):
                replies.append(doc)
        return inbound, conversation, replies

    async def chose(self, request: web.Request) -> web.Response:
        """The caller's answer to the handoff menu: voicemail, callback, or nothing."""
        form = await self.signature.verified_form(request)
        call = CallWebhook.parse(form)
        attempt = _query_int(request, "attempt", 50)
        said = (form.get("Digits") or form.get("SpeechResult") or "").strip()
        if _VOICEMAIL.search(said):
            await self.calls.outcome(call.call_sid, Outcome.VOICEMAIL)
            return twiml(self.twiml.voicemail())
        if _CALLBACK.search(said):
            record = await self.calls.get(call.call_sid)
            number = record.caller if record else call.caller
            await self._ingest(record or call, f"{call.call_sid}:callback",
                               f"Please call me back on {number}.", suppress_bot=True,
                               metadata={**call.metadata, "callback_requested": True, "callback_number": number})
            await self.calls.outcome(call.call_sid, Outcome.CALLBACK)
            return twiml(self.twiml.goodbye([self.texts.callback_confirmed]))
        if attempt + 1 >= self.config.max_silent_prompts:
            return twiml(self.twiml.goodbye([self.texts.goodbye]))
        return twiml(self.twiml.menu([self.texts.not_heard], attempt=attempt + 1))

    # -- voicemail ----------------------------------------------------------------------------
    async def recorded(self, request: web.Request) -> web.Response:
        """`<Record>`'s action: the voicemail is stored if its audio can be fetched already, then goodbye."""
        form = await self.signature.verified_form(request)
        await self._store_voicemail(form, last_chance=False)
        return twiml(self.twiml.goodbye([self.texts.voicemail_thanks]))

    async def recording_status(self, request: web.Request) -> web.Response:
        """Sent once Twilio has processed the recording, even when the caller hung up (no action then)."""
        form = await self.signature.verified_form(request)
        if (form.get("RecordingStatus") or "completed") == "completed":
            await self._store_voicemail(form, last_chance=True)
        return web.Response(status=204)

    async def _store_voicemail(self, form: MultiDictProxy[str], *, last_chance: bool) -> None:
        """One "Voicemail (N s)" message with the recording's audio (external id `rec:RecordingSid`).

        Whichever callback comes first stores it; a later one (or a retry) downloads nothing.
        Twilio post-processes recordings, so at `<Record>`'s action the file may not be ready:
        if the download fails there, nothing is stored and the recording status callback (sent
        once the file is ready, `last_chance`) stores it, with the audio or, failing that, the URL
        and the reason. Storing a URL-only copy at the action would turn that callback into a no-op.
        """
        call = await self._known_call(form)
        url = required(form, "RecordingUrl", 2048)
        sid = _recording_sid(form, url)
        external_id = f"rec:{sid}"
        if await self.hub.is_ingested(CHANNEL, external_id):
            return
        duration = _int(form.get("RecordingDuration"))
        recording = Attachment(filename=f"voicemail-{sid}{RECORDING_EXTENSION}",
                               content_type=RECORDING_CONTENT_TYPE, url=url)
        source = url if url.endswith((".wav", ".mp3")) else url + RECORDING_EXTENSION
        fetched = await self.media.fetch([recording], fetch_from=[source])
        if fetched.dropped and not last_chance:
            log.info("voice: recording %s not fetched at the action (%s); the status callback will store it",
                     sid, fetched.dropped[0]["reason"])
            return
        await self._ingest(
            call, external_id, f"Voicemail ({duration if duration is not None else '?'} s)", suppress_bot=True,
            metadata=fetched.add_to({"twilio": {"call_sid": call.call_sid, "recording_sid": sid}, "voicemail": True,
                                     "recording_duration": duration}),
            attachments=fetched.attachments,
        )

    async def transcription(self, request: web.Request) -> web.Response:
        form = await self.signature.verified_form(request)
        call = await self._known_call(form)
        sid = required(form, "TranscriptionSid")
        status = (form.get("TranscriptionStatus") or "").lower()
        text = (form.get("TranscriptionText") or "").strip()
        body = f"Voicemail transcription: {text}" if status == "completed" and text else \
            f"Voicemail transcription unavailable ({status or 'unknown status'})."
        recording_url = form.get("RecordingUrl") or ""
        await self._ingest(
            call, f"tr:{sid}", body, suppress_bot=True,
            metadata={"twilio": {"call_sid": call.call_sid, "transcription_sid": sid,
                                 "recording_sid": form.get("RecordingSid"), "transcription_status": status},
                      "voicemail_transcription": True, "recording_url": recording_url or None},
        )
        return web.Response(status=204)

    async def call_status(self, request: web.Request) -> web.Response:
        """Twilio's "call status changes" callback: how the call ended (completed, busy, no-answer...)."""
        form = await self.signature.verified_form(request)
        sid = required(form, "CallSid")
        status = required(form, "CallStatus")
        if not await self.calls.status(sid, status, _int(form.get("CallDuration"))):
            log.info("voice status %s for a call the hub never saw: %s", status, sid)
        return web.Response(status=204)


def _recording_sid(form: MultiDictProxy[str], url: str) -> str:
    sid = (form.get("RecordingSid") or "").strip()
    if sid:
        return sid
    match = _RECORDING_SID.search(url)
    if match is None:
        raise bad_request("RecordingSid is required")
    return match.group(1)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None
