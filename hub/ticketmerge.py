"""Merging a ticket into another, and splitting a customer message out into a new ticket.

**Merge.** The same customer wrote twice (say by email and in the widget) and got two tickets. Merging
#7 into #12 moves #7's conversations onto #12, so #12 shows one timeline of every channel; the
conversations' `ticket_id` follows, so what the customer writes next on either channel lands on #12.
The moved conversations go *before* #12's own in `conversation_ids`, so a reply from #12 still goes
to #12's newest conversation (its channel). The customer is told there, through the outbox, as a
system message ("We have combined your requests into ticket #12."). #7 closes with `merged_into`
(its page points to #12 and it can no longer be replied to or reopened); its old conversation ids stay
in `merged_conversation_ids`. Both tickets get a `ticket.merged` event, and #12's timeline a private
line naming who merged what. Refused: a ticket into itself, into a closed or merged ticket, a ticket
already merged, and tickets of two different contacts (merge the contacts first).

**Split.** An agent picks a customer message and moves it out into a new ticket (same queue,
unassigned, subject from the message). The rule: the message moves into a new conversation of the new
ticket on the *same channel thread* (same `thread_key`, address and reply context), so agent replies
on the new ticket reach the customer where they wrote. The channel's open thread stays with the
original conversation (a thread has one open conversation), so the customer's next messages keep
arriving on the original ticket; only the chosen message moves. Both tickets get a private line and
a `ticket.split` event. A ticket's only customer message cannot be split out (that is a new ticket
in all but number: transfer it instead).

Each operation is one transaction (hub.store.run_in_transaction), the reads inside it, so a
concurrent change to either ticket makes it retry on what is there now.
"""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from hub import donenews
from hub.conversations import new_token
from hub.display import SYSTEM_NAME, person
from hub.followers import MAX_FOLLOWERS
from hub.models import AuthorKind, ConversationState, TicketStatus, utcnow
from hub.slaclock import start_clock
from hub.store import Doc, ObjectId, Store, oid
from hub.tickets import NotFound, TicketError, TicketService, subject_of

#: What the customer reads on the surviving ticket's channel.
COMBINED = "We have combined your requests into ticket #{number}."


class MergeRefused(TicketError):
    """The merge or split cannot be done as asked; the message says why (by ticket number)."""


class TicketMerges:
    def __init__(self, store: Store, tickets: TicketService) -> None:
        self.store = store
        self.tickets = tickets

    async def find(self, ref: str) -> Doc:
        """A ticket by number ("12", "#12") or id."""
        ref = ref.strip()
        number = ref.lstrip("#")
        ticket: Doc | None = None
        if number.isdigit():
            ticket = await self.store.tickets.find_one({"number": int(number)})
        else:
            try:
                ticket = await self.store.tickets.find_one({"_id": oid(ref)})
            except ValueError:
                ticket = None
        if ticket is None:
            raise NotFound(f"no ticket {ref}")
        return ticket

    async def merge(self, source_id: ObjectId, into_id: ObjectId, by: Doc) -> tuple[Doc, Doc]:
        """Merge ticket `source_id` into `into_id`; returns (survivor, merged)."""

        async def work(session: AsyncClientSession) -> tuple[Doc, Doc]:
            source = await self.store.tickets.find_one({"_id": source_id}, session=session)
            target = await self.store.tickets.find_one({"_id": into_id}, session=session)
            if source is None or target is None:
                raise NotFound("no such ticket")
            refuse_merge(source, target)
            now = utcnow()
            moved = [c for c in source.get("conversation_ids") or [] if c not in target["conversation_ids"]]
            ids = moved + list(target["conversation_ids"])
            fields: Doc = {"conversation_ids": ids, "updated_at": now}
            times = [t for t in (source.get("last_customer_message_at"), target.get("last_customer_message_at")) if t]
            if times:
                fields["last_customer_message_at"] = max(times)
            if source.get("followers"):  # who followed either goes on hearing of the one left (hub.followers)
                fields["followers"] = list(dict.fromkeys([*(target.get("followers") or []),
                                                          *source["followers"]]))[:MAX_FOLLOWERS]
            survivor = await self.store.claim_by_id(
                self.store.tickets, into_id, {}, {"$set": fields, "$addToSet": {"merged_from": source_id}},
                session=session)
            closed: Doc = {"status": TicketStatus.CLOSED.value, "merged_into": into_id,
                           "merged_into_number": target["number"], "merged_at": now,
                           "merged_conversation_ids": list(source.get("conversation_ids") or []),
                           "conversation_ids": [], "updated_at": now}
            if source.get("solved_at") is None:
                closed["solved_at"] = now
            if by.get("_id") is not None:  # news for its holder and followers: "Sam merged it into #7" (hub.donenews)
                closed["agent_activity"] = {"at": now, "by": by["_id"], "did": ["merged"]}
            merged = await self.store.claim_by_id(self.store.tickets, source_id, {},
                                                  {"$set": closed, "$unset": {"pending_since": ""}}, session=session)
            assert survivor is not None and merged is not None
            if by.get("_id") is not None:
                await donenews.tell(self.store, source, by["_id"], now, session)
            if moved:
                await self.store.conversations.update_many({"_id": {"$in": moved}},
                                                           {"$set": {"ticket_id": into_id}}, session=session)
            conversation = await self.store.conversations.find_one({"_id": target["conversation_ids"][-1]},
                                                                   session=session)
            if conversation is None:
                raise NotFound("the ticket's conversation vanished")
            info = {"from_number": source["number"], "into_number": target["number"], "by": person(by),
                    "subject": source.get("subject") or ""}
            summary = f"{person(by)} merged #{source['number']}" + (
                f" ({info['subject']})" if info["subject"] else "") + " into this ticket"
            line = await self.tickets.outbox.post(conversation, AuthorKind.AGENT, summary, session=session,
                                                  author_id=by["_id"], author_name=person(by), private=True,
                                                  metadata={"merge": info})
            await self.tickets.outbox.post(conversation, AuthorKind.SYSTEM, COMBINED.format(number=target["number"]),
                                           session=session, author_name=SYSTEM_NAME)
            for ticket, role in ((source, "merged"), (target, "survivor")):
                await self.store.append_event(
                    "ticket.merged", now, session=session, ticket_id=ticket["_id"], agent_id=by["_id"],
                    queue=ticket["queue"], message_id=line["_id"],
                    data={"role": role, "from_ticket_id": source_id, "into_ticket_id": into_id,
                          "from_number": source["number"], "into_number": target["number"],
                          "conversations": len(moved)})
            for ticket in (survivor, merged):
                await self.tickets.notify("ticket.updated", ticket, session)
                await self.tickets.index.refresh(ticket["_id"], session)
            return survivor, merged

        result = await self.store.run_in_transaction(work)
        return result

    async def split(self, ticket_id: ObjectId, message_id: ObjectId, by: Doc) -> tuple[Doc, Doc]:
        """Move customer message `message_id` of ticket `ticket_id` into a new ticket; returns (new, original)."""
        ticket = await self.tickets.get(ticket_id)
        queue = self.tickets.queue(ticket["queue"])
        calendar = await self.tickets.calendars.for_queue(queue.name)
        number = await self.store.next_number("ticket")

        async def work(session: AsyncClientSession) -> tuple[Doc, Doc]:
            original = await self.store.tickets.find_one({"_id": ticket_id}, session=session)
            message = await self.store.messages.find_one({"_id": message_id}, session=session)
            if original is None:
                raise NotFound("no such ticket")
            if original.get("merged_into") is not None:
                raise MergeRefused(f"#{original['number']} was merged into #{original.get('merged_into_number')}: "
                                   "split there")
            if message is None or message["conversation_id"] not in original["conversation_ids"]:
                raise MergeRefused(f"no such message on #{original['number']}")
            if (message.get("author") or {}).get("kind") != AuthorKind.CUSTOMER.value or message.get("private"):
                raise MergeRefused("only a customer's message can be split out into a new ticket")
            customer_messages = 0
            for conversation_id in original["conversation_ids"]:
                async for m in self.store.messages.find({"conversation_id": conversation_id},
                                                        projection={"author.kind": 1}, session=session):
                    customer_messages += (m.get("author") or {}).get("kind") == AuthorKind.CUSTOMER.value
            if customer_messages < 2:
                raise MergeRefused(f"this is the only customer message on #{original['number']}: "
                                   "transfer the ticket instead")
            source_conv = await self.store.conversations.find_one({"_id": message["conversation_id"]},
                                                                  session=session)
            if source_conv is None:
                raise NotFound("the message's conversation vanished")
            now = utcnow()
            new_id, conv_id = ObjectId(), ObjectId()
            subject = subject_of(message.get("text")) or "Split message"
            conversation: Doc = {
                **{k: v for k, v in source_conv.items() if k not in ("_id", "bot", "follow_up_id", "reopened_at",
                                                                     "closed_at")},
                "_id": conv_id, "token": new_token(), "open": False, "state": ConversationState.ESCALATED.value,
                "ticket_id": new_id, "subject": subject, "split_from_conversation_id": source_conv["_id"],
                "bot": {"state": {}, "turns": 0}, "started_at": now, "handoff_at": now,
                "last_message_at": message["created_at"],
            }
            await self.store.conversations.insert_one(conversation, session=session)
            new: Doc = {
                "_id": new_id, "number": number, "contact_id": original["contact_id"],
                "conversation_ids": [conv_id], "channel": source_conv["channel"], "subject": subject,
                "queue": queue.name, "priority": "normal", "status": TicketStatus.NEW.value, "assignee_id": None,
                "reason": "split", "intent": None, "entities": {}, "created_at": now, "handoff_at": now,
                "updated_at": now, "last_customer_message_at": message["created_at"],
                "split_from_ticket_id": ticket_id, "split_from_number": original["number"],
                "sla": {**start_clock(queue, calendar, now), "paused_seconds": 0},
            }
            await self.store.tickets.insert_one(new, session=session)
            await self.store.messages.update_one(
                {"_id": message_id},
                {"$set": {"conversation_id": conv_id, "split_from_conversation_id": source_conv["_id"]}},
                session=session)
            who = person(by)
            info = {"from_number": original["number"], "new_number": number, "by": who, "subject": subject}
            await self.tickets.outbox.post(conversation, AuthorKind.AGENT,
                                           f"{who} split this out of #{original['number']}", session=session,
                                           author_id=by["_id"], author_name=who, private=True,
                                           metadata={"split": info}, touch_conversation=False)
            latest = await self.store.conversations.find_one({"_id": original["conversation_ids"][-1]},
                                                             session=session)
            if latest is None:
                raise NotFound("the ticket's conversation vanished")
            await self.tickets.outbox.post(latest, AuthorKind.AGENT,
                                           f"{who} split a message out into #{number}: {subject}", session=session,
                                           author_id=by["_id"], author_name=who, private=True,
                                           metadata={"split": info})
            await self.store.append_event("ticket.created", now, session=session, ticket_id=new_id,
                                          conversation_id=conv_id, contact_id=original["contact_id"],
                                          queue=queue.name, data={"reason": "split", "number": number})
            for tid, role in ((ticket_id, "original"), (new_id, "new")):
                await self.store.append_event(
                    "ticket.split", now, session=session, ticket_id=tid, agent_id=by["_id"], queue=queue.name,
                    message_id=message_id, data={"role": role, "from_ticket_id": ticket_id, "new_ticket_id": new_id,
                                                 "from_number": original["number"], "new_number": number})
            self.tickets.telemetry.count("ticket", session, queue=queue.name, change="created")
            touched: Doc = {"$set": {"updated_at": now}}
            if (original.get("subject_named") or {}).get("message_id") == message_id:
                # the message that named the ticket leaves it: it is called what it was, until the next one
                touched["$set"].update(subject=original["subject_named"].get("was") or "", subject_for_now=True)
                touched["$unset"] = {"subject_named": ""}
            updated = await self.store.claim_by_id(self.store.tickets, ticket_id, {}, touched, session=session)
            assert updated is not None
            await self.tickets.notify("ticket.created", new, session)
            await self.tickets.notify("ticket.updated", updated, session)
            await self.tickets.index.refresh(new_id, session)
            await self.tickets.index.refresh(ticket_id, session)
            stored = await self.store.tickets.find_one({"_id": new_id}, session=session)
            assert stored is not None
            return stored, updated

        return await self.store.run_in_transaction(work)


def refuse_merge(source: Doc, target: Doc) -> None:
    """Why `source` cannot be merged into `target` (raises MergeRefused), by ticket number."""
    src, dst = f"#{source['number']}", f"#{target['number']}"
    if source["_id"] == target["_id"]:
        raise MergeRefused("a ticket cannot be merged into itself: choose another ticket")
    if source.get("merged_into") is not None:
        raise MergeRefused(f"{src} was already merged into #{source.get('merged_into_number')}")
    if target.get("merged_into") is not None:
        raise MergeRefused(f"{dst} was merged into #{target.get('merged_into_number')}: merge into that one")
    if target["status"] == TicketStatus.CLOSED.value:
        raise MergeRefused(f"{dst} is closed: merge into an open ticket (or merge {dst} into {src})")
    if source["contact_id"] != target["contact_id"]:
        raise MergeRefused(f"{src} and {dst} belong to two different customers: merge the contacts first")
    if not target.get("conversation_ids"):
        raise MergeRefused(f"{dst} has no conversation to continue")

