"""The call log (`phone_calls`, keyed by CallSid): who called which number, and how the call ended.

Some Twilio callbacks (the recording status callback) do not say who called; the
log answers that. It also records outcomes the conversation alone does not show:
answered by the bot, voicemail, callback requested, no input, and Twilio's final
call status (completed, busy, no-answer...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from channels.phone.payloads import CallWebhook
from hub.models import utcnow
from hub.store import Store

COLLECTION = "phone_calls"


class Outcome(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    BOT_ENDED = "bot_ended"
    NO_INPUT = "no_input"
    ESCALATED = "escalated"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback_requested"


@dataclass(frozen=True)
class CallRecord:
    call_sid: str
    caller: str
    our_number: str
    caller_name: str | None


class CallLog:
    def __init__(self, store: Store) -> None:
        self.collection = store.db[COLLECTION]

    async def started(self, call: CallWebhook) -> None:
        """Idempotent: Twilio retrying the incoming-call webhook finds the same record."""
        await self.collection.update_one(
            {"_id": call.call_sid},
            {"$setOnInsert": {"caller": call.caller, "our_number": call.our_number, "caller_name": call.caller_name,
                              "started_at": utcnow(), "outcome": Outcome.IN_PROGRESS.value}},
            upsert=True,
        )

    async def get(self, call_sid: str) -> CallRecord | None:
        doc: dict[str, Any] | None = await self.collection.find_one({"_id": call_sid})
        if doc is None:
            return None
        return CallRecord(call_sid=call_sid, caller=doc["caller"], our_number=doc["our_number"],
                          caller_name=doc.get("caller_name"))

    async def outcome(self, call_sid: str, outcome: Outcome) -> None:
        await self.collection.update_one({"_id": call_sid}, {"$set": {"outcome": outcome.value}})

    async def status(self, call_sid: str, status: str, duration: int | None) -> bool:
        """Twilio's call status callback; False when the call is unknown."""
        fields: dict[str, Any] = {"call_status": status, "status_at": utcnow()}
        if duration is not None:
            fields["duration_seconds"] = duration
        result = await self.collection.update_one({"_id": call_sid}, {"$set": fields})
        return result.matched_count > 0
