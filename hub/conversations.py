"""Finding the conversation an inbound message continues, or opening a new one."""

from __future__ import annotations

import secrets
from typing import Any

from hub.models import ConversationState, InboundMessage, utcnow
from hub.store import Doc, DuplicateKeyError, ObjectId, Store


def new_token() -> str:
    """An unguessable conversation token (email reply addresses, widget links)."""
    return secrets.token_urlsafe(12).replace("-", "x").replace("_", "y").lower()


def plain(msg: InboundMessage) -> bool:
    """A message with no threading hints, resolved by its thread key alone."""
    hints = msg.hints
    return (hints.use_thread_key and not hints.conversation_token and hints.ticket_number is None
            and not hints.references)


def _open_thread(msg: InboundMessage) -> Doc:
    """The filter of the open conversation on a message's thread key (index `open_thread_unique`)."""
    return {"channel": msg.channel, "thread_key": msg.thread_key, "open": True}


class ConversationService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def find_or_open(self, msg: InboundMessage, contact: Doc, thread_checked: bool = False) -> Doc:
        """Thread resolution in the documented order: token, ticket number, references, thread key.

        `thread_checked`: the thread key is not read (again): `find_open` just found no open conversation on
        it, or the sender's contact was created just now. Opening one answers a thread left open after all
        through the open thread's unique index (`_open`)."""
        found = await self._by_hints(msg, contact)
        if found is not None:
            if not found.get("open") and msg.automated:
                return found  # an auto-reply to a closed thread is kept there and reopens nothing
            if not found.get("open") and await self._reply_after_close(found) == "new":
                return await self._follow_up(found, msg, contact)
            return await self._reopen_if_closed(found)
        if msg.hints.use_thread_key and not thread_checked:
            open_conv = await self._open_on_thread(msg)
            if open_conv is not None:
                return open_conv
        return await self._open(msg, contact)

    async def find_open(self, msg: InboundMessage) -> Doc | None:
        """The open conversation a message with no threading hints continues on its thread key (one
        read, no write): the common case, tried before `find_or_open`, which may open or reopen one."""
        return await self._open_on_thread(msg) if plain(msg) else None

    async def open_with_contact(self, msg: InboundMessage) -> tuple[Doc, Doc | None] | None:
        """The open conversation a message with no threading hints continues on its thread key, and the contact
        the conversation belongs to (None if it is gone), in one command: an aggregate whose `$lookup` reads the
        contact by `_id` (flat from 1,000 to 20,000 documents: `conversation_with_contact` in
        benchmarks/query_cost.py). None when the thread holds no open conversation, or the message has hints."""
        if not plain(msg):
            return None
        cursor = await self.store.conversations.aggregate([
            {"$match": _open_thread(msg)},
            {"$limit": 1},
            {"$lookup": {"from": self.store.contacts.name, "localField": "contact_id", "foreignField": "_id",
                         "as": "_contact"}},
        ])
        found = await cursor.to_list(1)
        if not found:
            return None
        conversation = found[0]
        holders = conversation.pop("_contact")
        return conversation, holders[0] if holders else None

    async def _open_on_thread(self, msg: InboundMessage) -> Doc | None:
        found: Doc | None = await self.store.conversations.find_one(_open_thread(msg))
        return found

    async def _by_hints(self, msg: InboundMessage, contact: Doc) -> Doc | None:
        hints = msg.hints
        if hints.conversation_token:
            conv = await self.store.conversations.find_one({"token": hints.conversation_token})
            if conv is not None and conv["channel"] == msg.channel:
                return conv
        if hints.ticket_number is not None:
            ticket = await self.store.tickets.find_one({"number": hints.ticket_number})
            # Only the ticket's own customer threads by number: anyone else quoting `[#123]`
            # must not be able to write into somebody else's ticket.
            if ticket is not None and ticket.get("contact_id") == contact["_id"]:
                for conv_id in reversed(ticket.get("conversation_ids", [])):
                    conv = await self.store.conversations.find_one({"_id": conv_id})  # `_id` alone: no scan
                    if conv is not None and conv["channel"] == msg.channel:
                        return conv
        if hints.references:
            refs = list(hints.references)
            found = await self.store.messages.find(
                {"channel": msg.channel, "external_id": {"$in": refs}}, projection={"conversation_id": 1,
                                                                                  "created_at": 1}).to_list()
            found += [m for m in await self.store.messages.find(
                {"provider_id": {"$in": refs}}, projection={"conversation_id": 1, "created_at": 1, "channel": 1}
            ).to_list() if m["channel"] == msg.channel]
            if found:
                newest = max(found, key=lambda m: m["created_at"])
                return await self.store.conversations.find_one({"_id": newest["conversation_id"]})
        return None

    async def _reply_after_close(self, conv: Doc) -> str:
        """The closed ticket's queue policy (`QueueConfig.on_reply_after_close`): `reopen` or `new`."""
        if conv.get("ticket_id") is None:
            return "reopen"
        ticket = await self.store.tickets.find_one({"_id": conv["ticket_id"]}, projection={"queue": 1, "status": 1})
        if ticket is None or ticket.get("status") not in ("solved", "closed"):
            return "reopen"
        queue = await self.store.queues.find_one({"name": ticket["queue"]}, projection={"on_reply_after_close": 1})
        return str((queue or {}).get("on_reply_after_close") or "reopen")

    async def _follow_up(self, closed: Doc, msg: InboundMessage, contact: Doc) -> Doc:
        """A new conversation continuing a closed ticket's; `TicketService.on_customer_message` gives it a
        new ticket linked to the old one. A second reply joins the follow-up already opened (a retry of the
        same message does too, through the open thread key's unique index)."""
        if closed.get("follow_up_id") is not None:
            existing = await self.store.conversations.find_one({"_id": closed["follow_up_id"]})
            if existing is not None and existing.get("open"):
                return existing
        conv = await self._open(msg, contact, follows=closed)
        await self.store.conversations.update_one({"_id": closed["_id"]}, {"$set": {"follow_up_id": conv["_id"]}})
        return conv

    async def _reopen_if_closed(self, conv: Doc) -> Doc:
        if conv.get("open"):
            return conv
        state = ConversationState.ESCALATED if conv.get("ticket_id") else ConversationState.BOT
        try:
            reopened = await self.store.claim_by_id(
                self.store.conversations, conv["_id"], {},
                {"$set": {"open": True, "state": state.value, "reopened_at": utcnow()}},
            )
        except DuplicateKeyError:
            # A newer conversation holds this thread key open: continue that one.
            newer = await self.store.conversations.find_one(
                {"channel": conv["channel"], "thread_key": conv["thread_key"], "open": True}
            )
            assert newer is not None
            return newer
        assert reopened is not None
        return reopened

    async def _open(self, msg: InboundMessage, contact: Doc, follows: Doc | None = None) -> Doc:
        doc, opened = self.opening(msg, contact, follows)
        try:
            await self.store.conversations.insert_one(doc)
        except DuplicateKeyError:
            raced = await self.store.conversations.find_one(_open_thread(msg))
            assert raced is not None
            return raced
        await self.store.events.insert_one(opened)
        return doc

    def opening(self, msg: InboundMessage, contact: Doc, follows: Doc | None = None) -> tuple[Doc, Doc]:
        """A new conversation for `msg` (with its `_id`) and its `conversation.opened` event, neither written:
        the open thread's unique index refuses the conversation if the thread is open already."""
        now = utcnow()
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "token": new_token(),
            "contact_id": contact["_id"],
            "channel": msg.channel,
            "thread_key": msg.thread_key,
            "inbox": msg.inbox,
            "recipient": msg.sender.external_id,
            "subject": msg.subject,
            "state": ConversationState.BOT.value,
            "open": True,
            "bot": {"state": {}, "turns": 0},
            "channel_data": dict(msg.reply_context),
            "started_at": now,
            "last_message_at": now,
        }
        if follows is not None:
            doc.update(state=ConversationState.ESCALATED.value, follows_conversation_id=follows["_id"],
                       follows_ticket_id=follows.get("ticket_id"))
        opened = self.store.event("conversation.opened", now, conversation_id=doc["_id"],
                                  contact_id=contact["_id"], data={"channel": msg.channel})
        return doc, opened

    async def get(self, conversation_id: ObjectId) -> Doc | None:
        return await self.store.conversations.find_one({"_id": conversation_id})

    async def history(self, conversation_ids: list[ObjectId], limit: int = 500) -> list[Doc]:
        cursor = self.store.messages.find(
            {"conversation_id": {"$in": conversation_ids}}, sort=[("created_at", 1), ("_id", 1)], limit=limit
        )
        return await cursor.to_list()
