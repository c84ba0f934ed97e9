"""The `sms` OutboundSender: bot and agent replies through Twilio's Messages API.

The outbox calls `send` and retries on transient failures, so one reply may be
attempted several times. A text longer than Twilio's 1600-character limit goes out
as several messages; the SID of each part already accepted is remembered in
`sms_parts` (keyed by message and part), so a retry after a failure on part 3
sends parts 3 and up only, never the first two again.
"""

from __future__ import annotations

from channels.phone.options import with_numbered_options
from channels.phone.optouts import OptOutBook
from channels.phone.rest import RecipientOptedOut, TwilioMessages
from channels.text import split_text
from hub.models import OutboundMessage, SendError, SendResult, utcnow
from hub.store import DuplicateKeyError, Store

CHANNEL = "sms"
PARTS_COLLECTION = "sms_parts"


class SmsSender:
    channel = CHANNEL

    def __init__(self, store: Store, api: TwilioMessages, optouts: OptOutBook, max_chars: int,
                 status_callback: str | None) -> None:
        self.store = store
        self.api = api
        self.optouts = optouts
        self.max_chars = max_chars
        self.status_callback = status_callback
        self.parts = store.db[PARTS_COLLECTION]

    async def send(self, message: OutboundMessage) -> SendResult:
        our_number = str(message.metadata.get("our_number") or "")
        customer = message.recipient
        if not our_number:
            raise SendError("this SMS conversation does not say which Twilio number to reply from", transient=False)
        if await self.optouts.is_opted_out(customer, our_number):
            raise SendError("recipient opted out", transient=False)
        pieces = split_text(with_numbered_options(message.text, message.quick_replies), self.max_chars)
        if len(pieces) == 1:
            return SendResult(provider_id=await self._create(customer, our_number, pieces[0]))
        sids = await self._already_sent(message.message_id)
        for index, piece in enumerate(pieces):
            if index in sids:
                continue
            sids[index] = await self._create(customer, our_number, piece)
            try:
                await self.parts.insert_one({"_id": f"{message.message_id}:{index}", "message_id": message.message_id,
                                             "part": index, "sid": sids[index], "sent_at": utcnow()})
            except DuplicateKeyError:
                pass  # another attempt recorded the same part first; the SID we hold is still a sent part
        return SendResult(provider_id=sids[0])

    async def _create(self, customer: str, our_number: str, body: str) -> str:
        try:
            return await self.api.send(customer, our_number, body, self.status_callback)
        except RecipientOptedOut:
            # Twilio knows of a STOP we never saw (sent before the hub was connected): remember it.
            await self.optouts.record(customer, our_number, True, "twilio 21610")
            raise

    async def _already_sent(self, message_id: str) -> dict[int, str]:
        cursor = self.parts.find({"message_id": message_id}, projection={"part": 1, "sid": 1})
        return {int(doc["part"]): str(doc["sid"]) async for doc in cursor}
