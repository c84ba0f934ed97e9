"""The `sms` OutboundSender: bot and agent replies through Twilio's Messages API.

The outbox calls `send` and retries on transient failures, so one reply may be
attempted several times. A text longer than Twilio's 1600-character limit goes out
as several messages; the SID of each part already accepted is remembered in
`sms_parts` (keyed by message and part), so a retry after a failure on part 3
sends parts 3 and up only, never the first two again.

Agents' files go out as MMS (`files = FILES_LINK`): the sender gets each file's
`blob_id` and hands Twilio signed links to it (`MediaLinks`, `media.py`) as `MediaUrl`
in the same API call as the text, so a reply with files is still one message (or,
for a long text, the files ride on its first part).

Twilio's Messages API takes no idempotency key, so a retry after an attempt whose outcome
is unknown (Twilio's answer lost, or the process stopped while sending) first asks Twilio
what it holds: the newest messages from our number to the customer (one page). One with the
same text, made since shortly before the reply was queued, whose SID no reply and no part of
the hub holds, is the earlier attempt's: its SID is taken and nothing is sent again. An
earlier reply with the same text is never mistaken for it, since its SID is held.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import timedelta

from channels.phone.config import E164
from channels.phone.media import MediaLinks
from channels.phone.options import with_numbered_options
from channels.phone.optouts import OptOutBook
from channels.phone.payloads import pair_thread
from channels.phone.rest import RecipientOptedOut, TwilioMessages
from channels.text import split_text
from hub.models import OutboundMessage, SendError, SendResult, utcnow
from hub.ports import FILES_LINK
from hub.store import DuplicateKeyError, Store

log = logging.getLogger(__name__)

CHANNEL = "sms"
PARTS_COLLECTION = "sms_parts"
#: A retry's lookup reads this many of the newest messages from our number to the customer (one page).
RECALL_PAGE = 50
#: ... and takes those made since this long before the reply was queued (Twilio's clock and ours differ).
RECALL_MARGIN = timedelta(minutes=5)
#: Statuses of a message Twilio took and then could not send: not a delivery, so the retry sends again.
NOT_SENT = frozenset({"failed", "undelivered", "canceled"})


class SmsSender:
    channel = CHANNEL
    #: Files reach Twilio as links to the hub (`/api/phone/media/...`), not as bytes.
    files = FILES_LINK
    #: What an agent types to text someone first (hub.outbound's refusal names it).
    address_kind = "a phone number with its country code (+4915112345678)"

    def __init__(self, store: Store, api: TwilioMessages, optouts: OptOutBook, max_chars: int,
                 status_callback: str | None, media: MediaLinks, starts_from: str = "") -> None:
        self.store = store
        #: The number an agent's first text comes from (`channels.phone.sms_from`); empty: agents cannot text first.
        self.starts_from = starts_from
        self.api = api
        self.optouts = optouts
        self.max_chars = max_chars
        self.status_callback = status_callback
        self.media = media
        self.parts = store.db[PARTS_COLLECTION]

    @property
    def can_start(self) -> bool:
        """An agent can text a customer first only from a number set for it (hub.ports.starts_conversations)."""
        return bool(self.starts_from)

    @staticmethod
    def address_for(typed: str) -> str | None:
        """The customer's number an agent typed to text first (hub.outbound), in E.164 as Twilio gives it in the
        customer's answer (so the answer finds the conversation): spaces, dashes, dots and brackets dropped, a
        leading 00 read as +. A number without its country code is refused: the hub cannot guess it."""
        number = re.sub(r"[\s\-.()/]", "", typed)
        if number.startswith("00"):
            number = "+" + number[2:]
        return number if E164.match(number) else None

    async def start_thread(self, address: str) -> tuple[str, str, dict[str, str]]:
        """The thread key, inbox and channel data of a conversation an agent starts with `address`
        (hub.ports.start_thread): those of the customer's texts to `sms_from`, so their answer continues it. A number
        that sent STOP is refused before anything is written."""
        if await self.optouts.is_opted_out(address, self.starts_from):
            raise SendError(f"{address} has opted out of texts from {self.starts_from} (STOP): it cannot be texted",
                            transient=False)
        return (pair_thread(address, self.starts_from), self.starts_from,
                {"our_number": self.starts_from, "customer": address})

    async def send(self, message: OutboundMessage) -> SendResult:
        our_number = str(message.metadata.get("our_number") or "")
        customer = message.recipient
        if not our_number:
            raise SendError("this SMS conversation does not say which Twilio number to reply from", transient=False)
        if await self.optouts.is_opted_out(customer, our_number):
            raise SendError("recipient opted out", transient=False)
        # Checked (count, still stored, 5 MB in all) before anything is sent: a permanent
        # refusal never leaves half a reply on the customer's phone.
        media = await self.media.urls_for(message.attachments) if message.attachments else []
        pieces = split_text(with_numbered_options(message.text, message.quick_replies), self.max_chars)
        if media and not pieces:
            pieces = [""]  # files only: one MMS without a body
        sids = await self._already_sent(message.message_id) if len(pieces) > 1 else {}
        in_doubt = len(sids)  # parts go one at a time: only the first not recorded may be at Twilio unknown to us
        for index, piece in enumerate(pieces):
            if index in sids:
                continue
            found = await self._recall(message, our_number, piece) if index == in_doubt else None
            # The files ride on the FIRST part: its SID is the reply's provider_id, so when Twilio
            # later reports the MMS undelivered (media it could not fetch, a carrier refusing MMS)
            # the status callback finds the reply and the agent sees it failed; callbacks for
            # other parts match nothing. And a refusal caused by the files (e.g. 21620, invalid
            # media URL) then comes before any of the text went out, not after most of it.
            sids[index] = found or await self._create(customer, our_number, piece, media if index == 0 else ())
            if len(pieces) > 1:
                await self._record_part(message.message_id, index, sids[index])
        return SendResult(provider_id=sids[0])

    async def _record_part(self, message_id: str, index: int, sid: str) -> None:
        try:
            await self.parts.insert_one({"_id": f"{message_id}:{index}", "message_id": message_id, "part": index,
                                         "sid": sid, "sent_at": utcnow()})
        except DuplicateKeyError:
            pass  # another attempt recorded the same part first; the SID we hold is still a sent part

    async def _recall(self, message: OutboundMessage, our_number: str, body: str) -> str | None:
        """After an attempt whose outcome is unknown, the SID of the message it left at Twilio, if any.

        Runs on retries only (one list call). If Twilio refuses the list (an API key without read
        rights), the retry sends again: at least once, logged."""
        if message.maybe_delivered_since is None:
            return None
        since = message.maybe_delivered_since - RECALL_MARGIN
        try:
            recent = await self.api.recent(message.recipient, our_number, RECALL_PAGE)
        except SendError as exc:
            if exc.transient:
                raise
            log.warning("sms: cannot check whether outbox %s was sent (%s); sending again", message.outbox_id,
                        exc.reason)
            return None
        same = [m.sid for m in recent
                if m.body == body and m.status not in NOT_SENT and (m.created is None or m.created >= since)]
        if not same:
            return None
        held = await self._held(same)
        orphans = [sid for sid in same if sid not in held]
        if not orphans:
            return None
        log.info("sms: outbox %s: already sent by an earlier attempt (%s)", message.outbox_id, orphans[-1])
        return orphans[-1]  # the list is newest first: the earliest attempt's

    async def _held(self, sids: list[str]) -> set[str]:
        """Which of these SIDs a reply (its first part) or a recorded part already holds."""
        replies = self.store.messages.find({"provider_id": {"$in": sids}}, projection={"provider_id": 1})
        parts = self.parts.find({"sid": {"$in": sids}}, projection={"sid": 1})
        return {str(d["provider_id"]) async for d in replies} | {str(d["sid"]) async for d in parts}

    async def _create(self, customer: str, our_number: str, body: str, media: Sequence[str] = ()) -> str:
        try:
            return await self.api.send(customer, our_number, body, self.status_callback, media)
        except RecipientOptedOut:
            # Twilio knows of a STOP we never saw (sent before the hub was connected): remember it.
            await self.optouts.record(customer, our_number, True, "twilio 21610")
            raise

    async def _already_sent(self, message_id: str) -> dict[int, str]:
        cursor = self.parts.find({"message_id": message_id}, projection={"part": 1, "sid": 1})
        return {int(doc["part"]): str(doc["sid"]) async for doc in cursor}
