"""Data protection: everything held about a contact, exported or erased, and conversations redacted.

Erasure keeps the *shape* of the record and removes its *content*: message documents, their
timestamps and authorship kinds stay (so ticket counts, response times and every metric over a
past window still add up), while text, subjects, files, names, addresses and channel identities
go. The contact keeps only a tombstone identity (`erased`/its own id) so the unique identity
index never sees two empty identity lists, and the conversations' thread keys are replaced, so
the next message from the same person on the same channel finds nobody and starts a fresh
contact. The tickets and conversations it closes get their closing events, which the history's aggregates
follow (hub.aggregates); the search indexes (the contacts' name/email/phone indexes, the tickets' word
documents) are emptied with the fields. What the customer writes while the erasure runs is erased too:
after the tombstone the erasure looks again, and every hub process looks again for ten minutes
(`follow_up`), for a message whose delivery found the contact just before the tombstone.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import zipfile
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.audit import AuditLog
from hub.contactbook import TOMBSTONE_KEY
from hub.models import utcnow
from hub.store import (
    BY_ID,
    Doc,
    ObjectId,
    PyMongoError,
    Store,
)
from hub.ticketindex import ACTIVE, INDEX_FIELDS, facet_keys
from hub.views import jsonable

log = logging.getLogger(__name__)

ERASED_WEBHOOK_BODY = '{"erased":true}'
ERASED_TEXT = "[erased]"
ERASED_NAME = "Erased contact"
#: `follow_up` looks at contacts erased this recently, every this many seconds (`run_follow_up`).
FOLLOW_UP = timedelta(minutes=10)
FOLLOW_UP_EVERY = 30.0
#: `redact` reads a conversation's messages again after rewriting them, for any that arrived meanwhile,
#: this many times at most (a sender faster than the redaction does not keep it going forever).
REDACT_ROUNDS = 3
#: Internal fields that are neither the person's data nor safe to hand out (the visitor token is a credential).
_CONVERSATION_PRIVATE = ("token", "bot")
_MESSAGE_PRIVATE = ("pending_bot", "lease_until")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class NoSuchContact(LookupError):
    """The contact id names nobody."""


@dataclass
class Redaction:
    """What one redaction removed (counts only: audit entries must not hold personal data)."""

    conversations: int = 0
    messages: int = 0
    files: int = 0
    tickets: int = 0

    def add(self, other: Redaction) -> None:
        for name in ("conversations", "messages", "files", "tickets"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def any(self) -> bool:
        return any(self.as_dict().values())


@dataclass(frozen=True)
class Erasure:
    contact_id: ObjectId
    already: bool
    removed: Redaction


class Privacy:
    def __init__(self, store: Store, blobs: Any | None, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit
        #: hub.blobs.BlobStore (None in hubs built without file storage: then there are no files).
        self.blobs = blobs

    # ---- export --------------------------------------------------------------------------
    async def export(self, contact_id: ObjectId, actor: Doc | None = None, ip: str | None = None,
                     via: str = "desk") -> bytes:
        """A zip: `contact.json` (contact, conversations, messages, tickets with ratings) and `files/`.

        Recorded in the audit trail (`actor` None: the command line, `via` says so)."""
        contact = await self.store.contacts.find_one({"_id": contact_id})
        if contact is None:
            raise NoSuchContact("no such contact")
        conversations = await self._conversations(contact_id)
        messages = await self._messages([c["_id"] for c in conversations])
        tickets = await self.store.tickets.find({"contact_id": contact_id},
                                                sort=[("contact_id", 1), ("created_at", -1)]).to_list()
        agent_names = await self._agent_names({t.get("assignee_id") for t in tickets} - {None})
        buffer = io.BytesIO()
        files: list[dict[str, Any]] = []
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for message in messages:
                for attachment in message.get("attachments", []):
                    blob_id = attachment.get("blob_id")
                    found = await self.blobs.get(blob_id) if self.blobs is not None and blob_id else None
                    if found is None:
                        continue
                    data, filename, content_type = found
                    path = f"files/{blob_id}-{_SAFE_NAME.sub('_', filename)[:100]}"
                    archive.writestr(path, data)
                    files.append({"path": path, "filename": filename, "content_type": content_type,
                                  "size": len(data), "message_id": str(message["_id"])})
            document = {
                "exported_at": utcnow().isoformat(),
                "contact": jsonable(contact),
                "conversations": [jsonable({k: v for k, v in c.items() if k not in _CONVERSATION_PRIVATE})
                                  for c in conversations],
                "messages": [jsonable({k: v for k, v in m.items() if k not in _MESSAGE_PRIVATE}) for m in messages],
                "tickets": [{**jsonable({k: v for k, v in t.items() if k not in INDEX_FIELDS}),
                             "assignee_name": agent_names.get(t.get("assignee_id"))} for t in tickets],
                "ratings": [{"ticket_number": t.get("number"), **jsonable(t["csat"])} for t in tickets
                            if t.get("csat")],
                "files": files,
            }
            archive.writestr("contact.json", json.dumps(document, indent=2, ensure_ascii=False))
        data = buffer.getvalue()
        await self.audit.record("contact.exported", actor=actor, target={"type": "contact", "id": contact_id},
                                ip=ip, details={"bytes": len(data), "files": len(files), "via": via})
        return data

    # ---- erase ---------------------------------------------------------------------------
    async def erase(self, contact_id: ObjectId, actor: Doc | None = None, ip: str | None = None,
                    via: str = "desk") -> Erasure:
        """Erase a contact; a second call finds the tombstone and does nothing (`already`).

        The audit entry names the contact by id only, with counts: no personal data."""
        contact = await self.store.contacts.find_one({"_id": contact_id})
        if contact is None:
            raise NoSuchContact("no such contact")
        if contact.get("erased_at") is not None:
            return Erasure(contact_id, True, Redaction())
        now = utcnow()
        conversations = await self._conversations(contact_id)
        removed = await self.redact(conversations, detach=True)
        tickets = await self._tickets(contact_id)
        await self._erase_tickets(tickets, now)
        removed.tickets = len(tickets)
        await self._forget_webhook_bodies(contact_id)
        # Last, so an interrupted erasure is simply run again: the contact is the tombstone.
        await self.store.contacts.replace_one({"_id": contact_id}, {
            "name": ERASED_NAME, "name_lower": "", "emails": [], "phones": [],
            "identities": [{"channel": "erased", "external_id": str(contact_id), "verified": False}],
            "attributes": {}, "tags": [], "notes": [], "search_keys": [TOMBSTONE_KEY],
            "created_at": contact.get("created_at", now), "updated_at": now, "erased_at": now,
        })
        removed.add(await self._leftovers(contact_id, now))  # what the customer wrote meanwhile
        await self.audit.record("contact.erased", actor=actor, target={"type": "contact", "id": contact_id},
                                ip=ip, details={**removed.as_dict(), "via": via})
        # Records merged into this one (hub.contactmerge) keep the name, notes and addresses they had: erased too.
        for merged in await self.store.contacts.find({"merged_into": contact_id}, projection={"_id": 1}).to_list():
            await self.erase(merged["_id"], actor, ip, via)
        return Erasure(contact_id, False, removed)

    async def _erase_tickets(self, tickets: list[Doc], now: datetime) -> None:
        """Close the active ones of these tickets (`_tickets` docs) as a status change closes them (`solved_at` if
        they have none: one never answered counts as abandoned), then redact them all. Closed first: a customer's
        message processed after the close leaves an erased ticket alone (`TicketService.on_customer_message`),
        and one processed before has its words deleted with the others. Each closed ticket's `ticket.closed`
        event lets the history's aggregates apply it (hub.aggregates), its conversations with it."""
        active = [t for t in tickets if t["status"] in ACTIVE]
        closing = {"status": "closed", "closed_at": now, "updated_at": now, "erased": True}
        for unsolved in (True, False):
            await self.store.update_in_batches(
                self.store.tickets, "_id", [t["_id"] for t in active if (t.get("solved_at") is None) is unsolved],
                {"$set": {**closing, **({"solved_at": now} if unsolved else {})}})
        await self._redact_tickets([t["_id"] for t in tickets])
        for ticket in tickets:  # the desk list's facets follow (its words were cleared above)
            closed = await self.store.tickets.find_one({"_id": ticket["_id"]})
            if closed is not None:
                await self.store.tickets.update_one({"_id": ticket["_id"]}, {"$set": {
                    "keys": facet_keys(closed), "sla_rank": None, "sla_next": None, "words_live": False}})
        # what a waiting customer was last told, with their address on SMS (hub.waitannouncer): the announcer
        # would delete it once it sees the ticket leave the line, if it runs
        await self.store.delete_in_batches(self.store.wait_notices, "_id", [t["_id"] for t in active])
        if active:
            await self.store.events.insert_many([
                {"_id": ObjectId(), "type": "ticket.closed", "at": now, "ticket_id": t["_id"], "queue": t.get("queue"),
                 "data": {"from": t["status"], "to": "closed", "by": "erasure"}} for t in active])

    async def _leftovers(self, contact_id: ObjectId, now: datetime) -> Redaction:
        """Erase what reached an erased contact after its conversations and tickets were erased: four reads when
        there is nothing. Until the tombstone a message found the contact by its identities, and one whose
        thread had been cut from its conversation opened a new one (and, asking for a person, a new ticket);
        a message whose delivery read the contact just before the tombstone may be stored after it. Counts only
        what is new: conversations still on a channel thread, tickets not yet redacted."""
        conversations = await self._conversations(contact_id)
        unerased: set[ObjectId] = set()
        if conversations:  # on the conversation's index alone (a second condition makes secantusd-py scan)
            unerased = {m["conversation_id"] async for m in self.store.messages.find(
                {"conversation_id": {"$in": [c["_id"] for c in conversations]}},
                projection={"conversation_id": 1, "redacted_at": 1}) if m.get("redacted_at") is None}
        stray = [c for c in conversations if c["_id"] in unerased or c.get("open")
                 or c.get("thread_key") != f"erased:{c['_id']}"]
        removed = await self.redact(stray, detach=True) if stray else Redaction()
        removed.conversations = sum(1 for c in stray if not str(c.get("thread_key", "")).startswith("erased:"))
        tickets = await self._tickets(contact_id)
        late = [t for t in tickets if t["status"] in ACTIVE or t.get("subject") != ERASED_TEXT]
        if late:
            await self._erase_tickets(late, now)
        removed.tickets = sum(1 for t in late if t.get("subject") != ERASED_TEXT)
        await self._forget_webhook_bodies(contact_id)  # what webhooks would send about those (a read if none)
        return removed

    async def follow_up(self, now: datetime | None = None) -> Redaction:
        """Look again at the contacts erased in the last `FOLLOW_UP` (the audit trail's entries, on its
        `(action, at)` index) for anything that reached them after their erasure (`_leftovers`): a message
        whose delivery read the contact before the tombstone and was stored after the erasure's last look.
        Every hub process runs it every `FOLLOW_UP_EVERY` seconds; it writes only what it finds."""
        now = now or utcnow()
        found = Redaction()
        entries = await self.store.audit.find({"action": "contact.erased", "at": {"$gte": now - FOLLOW_UP}},
                                              projection={"target.id": 1}).to_list()
        for contact_id in {e["target"]["id"] for e in entries}:
            late = await self._leftovers(contact_id, now)
            if late.any():  # the trail says the erasure went on
                await self.audit.record("contact.erased_late", target={"type": "contact", "id": contact_id},
                                        details={**late.as_dict(), "via": "follow-up"})
            found.add(late)
        return found

    async def run_follow_up(self) -> None:
        """`follow_up` every `FOLLOW_UP_EVERY` seconds for the hub's lifetime."""
        while True:
            try:
                found = await self.follow_up()
                if found.any():
                    log.info("privacy: erased what reached erased contacts late: %s", found.as_dict())
            except PyMongoError as exc:
                log.warning("privacy: erasure follow-up: database unavailable (%s)", exc)
            await asyncio.sleep(FOLLOW_UP_EVERY)

    async def _forget_webhook_bodies(self, contact_id: ObjectId) -> None:
        """Webhook deliveries about this contact: not yet sent ones are dropped (the receiver never
        learns of an erased customer), sent ones keep only their metadata. One being attempted right
        now is given up (`failed`), so a failed attempt cannot put it back in the queue (the outbox
        reschedules only what is still `sending`). By `_id` one at a time: a contact has few, and an
        exact `_id` filter is the store's fast path."""
        entries = await self.store.outbox.find({"contact_id": contact_id}, projection={"status": 1}).to_list()
        for entry in entries:
            if entry["status"] == "pending":
                await self.store.outbox.delete_one({"_id": entry["_id"]})
                continue
            update: Doc = {"body": ERASED_WEBHOOK_BODY}
            if entry["status"] == "sending":
                update.update(status="failed", last_error="contact erased")
            await self.store.outbox.update_one({"_id": entry["_id"]},
                                               {"$set": update, "$unset": {"contact_id": ""}})

    async def redact(self, conversations: list[Doc], *, detach: bool) -> Redaction:
        """Replace the text of every message of `conversations`, delete their files, clear subjects.

        `detach`: also cut the conversations from the channel thread (erasure: the person must not
        come back into them), closing any still open. The messages are rewritten by `_id` a batch per
        transaction (`Store.update_in_batches`): a customer may still be writing in one of these
        conversations, and a plain multi-document update racing its processing stops the embedded
        server's writes to messages. Because they are named by `_id`, the messages are read again
        after each round, and one that arrived meanwhile is redacted in the next (`REDACT_ROUNDS`).
        """
        removed = Redaction(conversations=len(conversations))
        ids = [c["_id"] for c in conversations]
        if not ids:
            return removed
        now = utcnow()
        thread_keys = {c["_id"]: f"erased:{c['_id']}" for c in conversations} if detach else {}
        for _ in range(REDACT_ROUNDS):
            messages = await self.store.messages.find(
                {"conversation_id": {"$in": ids}}, projection={"attachments.blob_id": 1, "author.kind": 1,
                                                              "conversation_id": 1, "redacted_at": 1, "thread_key": 1},
            ).to_list()
            fresh = [m for m in messages if m.get("redacted_at") is None]
            # every message of a detached conversation, some perhaps redacted before (retention)
            astray = [m for m in messages if m["conversation_id"] in thread_keys
                      and m.get("thread_key") != thread_keys[m["conversation_id"]]]
            if not fresh and not astray:
                break
            await self._redact_messages(fresh, now, removed)
            await self._rethread(astray, thread_keys)
        closed: list[Doc] = []
        for conversation in conversations:
            changes: Doc = {"subject": None, "recipient": None, "channel_data": {}, "redacted_at": now,
                            "bot.last_question": None}  # the start of a question (hub.pipeline: a ticket's subject)
            if detach:
                changes["thread_key"] = thread_keys[conversation["_id"]]
                if conversation.get("open"):
                    changes.update(open=False, state="closed", closed_at=now)
                    closed.append({"_id": ObjectId(), "type": "conversation.closed", "at": now,
                                   "conversation_id": conversation["_id"], "data": {"by": "erasure"}})
            await self.store.conversations.update_one({"_id": conversation["_id"]}, {"$set": changes})
        if closed:  # the history's aggregates apply them (a bot conversation now counts as closed)
            await self.store.events.insert_many(closed)
        return removed

    async def _redact_messages(self, messages: list[Doc], now: datetime, removed: Redaction) -> None:
        """One round of `redact`: these messages' files, pending deliveries, text and names."""
        for message in messages:
            for attachment in message.get("attachments", []):
                if self.blobs is not None and attachment.get("blob_id"):
                    removed.files += int(await self.blobs.delete(str(attachment["blob_id"])))
        message_ids = [m["_id"] for m in messages]
        removed.messages += len(message_ids)
        await self.store.delete_in_batches(self.store.outbox, "message_id", message_ids,
                                           condition={"status": "pending"}, hint=[("message_id", 1)])
        # What a provider said refusing a delivery often names the address or number. By conversation (an index's
        # prefix): the same update by `message_id` needs the partial index's hint, which walks the whole index.
        await self.store.update_in_batches(self.store.outbox, "conversation_id",
                                           list({m["conversation_id"] for m in messages}),
                                           {"$unset": {"last_error": ""}})
        await self.store.update_in_batches(
            self.store.messages, "_id", message_ids,
            {"$set": {"text": ERASED_TEXT, "subject": None, "attachments": [], "quick_replies": [],
                      "redacted_at": now},
             # `review`: out of the trainer's inbox too (nothing left there to learn from); `reply_context`: the
             # channel's addressing (an SMS customer's number), cleared from the conversation's `channel_data` too
             "$unset": {"metadata": "", "nlu.entities": "", "nlu.text": "", "review": "", "delivery.error": "",
                        "reply_context": ""}},
        )
        await self.store.update_in_batches(
            self.store.messages, "_id", [m["_id"] for m in messages if m.get("author", {}).get("kind") == "customer"],
            {"$set": {"author.name": ERASED_NAME}},
        )

    async def _rethread(self, messages: list[Doc], thread_keys: dict[ObjectId, str]) -> None:
        """Give these messages their conversation's new thread key."""
        by_conversation: dict[ObjectId, list[ObjectId]] = defaultdict(list)
        for message in messages:
            by_conversation[message["conversation_id"]].append(message["_id"])
        for conversation_id, message_ids in by_conversation.items():
            await self.store.update_in_batches(self.store.messages, "_id", message_ids,
                                               {"$set": {"thread_key": thread_keys[conversation_id]}})

    async def delete_conversations(self, conversations: list[Doc]) -> Redaction:
        """Remove conversations outright with their messages and files (retention `delete`).

        Tickets stay (they are the metrics' records) with their subject and rating comment redacted.
        """
        removed = await self.redact(conversations, detach=False)
        ids = [c["_id"] for c in conversations]
        messages = await self.store.messages.find({"conversation_id": {"$in": ids}}, projection={"_id": 1}).to_list()
        await self.store.delete_in_batches(self.store.messages, "_id", [m["_id"] for m in messages])
        # one a reply reopened meanwhile stays, with the reply (retention's own re-read makes that rare)
        await self.store.delete_in_batches(self.store.conversations, "_id", ids, condition={"open": False},
                                           hint=BY_ID)
        return removed

    async def redact_closed_tickets_of(self, conversation_ids: list[ObjectId]) -> int:
        """Tickets linked to these conversations that are over: subject, search words and rating comment redacted."""
        tickets = [t for t in await self.store.tickets.find(
            {"conversation_ids": {"$in": conversation_ids}}, projection={"status": 1}).to_list()
            if t.get("status") in ("solved", "closed")]
        # a ticket merged into another (hub.ticketmerge) keeps its old conversations' ids aside; it is closed
        tickets += await self.store.tickets.find(
            {"merged_conversation_ids": {"$in": conversation_ids}}, projection={"_id": 1}).to_list()
        await self._redact_tickets([t["_id"] for t in tickets])
        return len(tickets)

    # ---- reads -----------------------------------------------------------------------------
    async def _conversations(self, contact_id: ObjectId) -> list[Doc]:
        return await self.store.conversations.find({"contact_id": contact_id}, sort=[("contact_id", 1),
                                                   ("last_message_at", -1)]).to_list()

    async def _tickets(self, contact_id: ObjectId) -> list[Doc]:
        return await self.store.tickets.find({"contact_id": contact_id},
                                             projection={"status": 1, "solved_at": 1, "queue": 1, "subject": 1},
                                             sort=[("contact_id", 1), ("created_at", -1)]).to_list()

    async def _messages(self, conversation_ids: list[ObjectId]) -> list[Doc]:
        return await self.store.messages.find({"conversation_id": {"$in": conversation_ids}},
                                              sort=[("conversation_id", 1), ("created_at", 1)]).to_list()

    async def _redact_tickets(self, ticket_ids: list[ObjectId]) -> None:
        if not ticket_ids:
            return
        await self.store.update_in_batches(self.store.tickets, "_id", ticket_ids, {
            "$set": {"subject": ERASED_TEXT, "entities": {}, "words": [], "words_live": False},
            # what the customer's words named it before (hub.tickets); the values agents gave (hub.ticketfields)
            "$unset": {"subject_named": "", "fields": ""}})
        # the search index's copy of those words (hub.ticketindex)
        await self.store.delete_in_batches(self.store.ticket_words, "ticket_id", ticket_ids)
        await self.store.update_in_batches(self.store.tickets, "_id", ticket_ids, {"$set": {"csat.comment": ""}},
                                           condition={"csat.comment": {"$exists": True}}, hint=BY_ID)

    async def _agent_names(self, ids: set[ObjectId]) -> dict[ObjectId, str]:
        agents = await self.store.agents.find({"_id": {"$in": list(ids)}}, projection={"name": 1}).to_list()
        return {a["_id"]: a.get("name") for a in agents}
