"""The NLU inbox: real customer messages the bot should learn from.

`hub.pipeline.Pipeline._mark_for_review` sets `review: {reason, decision, at}` on a customer
message when the bot was unsure (`low_confidence`, `ambiguous`), found it out of scope,
got "no, that didn't help" after answering it (`not_helpful`), or escalated it. Labelling
turns the message into a training example and replaces `review` with `reviewed`, which
takes it out of the inbox (and out of the `(review.reason, created_at)` index).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.versions import Author
from hub.models import utcnow
from hub.store import BY_ID, Doc, ObjectId, Store

#: Why a message is in the inbox, in the order the desk shows the filters.
REASONS = ("low_confidence", "ambiguous", "out_of_scope", "not_helpful", "escalated")
# Reads filter on the fields of the `(review.reason, created_at)` index `hub.store.ensure_indexes`
# creates, with no hint: secantusd-py walks a whole hinted index for a find, and this one holds
# every message.


@dataclass(frozen=True)
class InboxItem:
    id: str
    text: str
    channel: str
    conversation_id: str
    created_at: datetime
    reason: str
    decision: str | None
    intent: str | None
    confidence: float | None
    ranking: list[dict[str, Any]]

    @staticmethod
    def from_doc(doc: Doc) -> InboxItem:
        nlu = doc.get("nlu") or {}
        review = doc.get("review") or {}
        return InboxItem(str(doc["_id"]), str(doc.get("text", "")), str(doc.get("channel", "")),
                         str(doc.get("conversation_id", "")), doc["created_at"], str(review.get("reason", "")),
                         review.get("decision"), nlu.get("intent"), nlu.get("confidence"), list(nlu.get("ranking", [])))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "channel": self.channel, "conversation_id": self.conversation_id,
                "created_at": self.created_at.isoformat(), "reason": self.reason, "decision": self.decision,
                "intent": self.intent, "confidence": self.confidence, "ranking": self.ranking}


_PROJECTION = {"text": 1, "channel": 1, "conversation_id": 1, "created_at": 1, "review": 1, "nlu": 1}


class NLUInbox:
    def __init__(self, store: Store) -> None:
        self.messages = store.messages

    async def list(self, reason: str | None = None, limit: int = 50, before: datetime | None = None) -> list[InboxItem]:
        """Newest first; `reason` narrows to one kind, `before` pages on."""
        query: Doc = {"review.reason": reason if reason else {"$in": list(REASONS)}}
        if before is not None:
            query["created_at"] = {"$lt": before}
        docs = await self.messages.find(query, projection=_PROJECTION, sort=[("created_at", -1)],
                                        limit=limit).to_list()
        return [InboxItem.from_doc(d) for d in docs]

    async def counts(self) -> dict[str, int]:
        return {r: await self.messages.count_documents({"review.reason": r}) for r in REASONS}

    async def get(self, message_id: str) -> InboxItem | None:
        if not ObjectId.is_valid(message_id):
            return None
        doc = await self.messages.find_one({"_id": ObjectId(message_id)}, projection=_PROJECTION)
        return InboxItem.from_doc(doc) if doc and doc.get("review") else None

    async def resolve(self, item: InboxItem, author: Author, *, intent: str | None, version: int | None) -> bool:
        """Take the message out of the inbox, remembering who labelled it what (None: dismissed)."""
        reviewed = {"intent": intent, "dismissed": intent is None, "version": version, "by": author.to_doc(),
                    "at": utcnow(), "reason": item.reason}
        result = await self.messages.update_one({"_id": ObjectId(item.id), "review": {"$exists": True}},
                                                {"$unset": {"review": ""}, "$set": {"reviewed": reviewed}},
                                                hint=BY_ID)
        return result.modified_count == 1
