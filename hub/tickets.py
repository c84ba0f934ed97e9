"""Tickets: escalation into queues, agent replies, status changes, SLA clocks.

A ticket gathers a customer's escalated conversations (one per channel thread):
escalating while the contact already has an active ticket links the new
conversation to it instead of opening a second one.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub import donenews
from hub.csat import CsatLinks
from hub.desktally import DeskTally
from hub.display import SYSTEM_NAME, person
from hub.models import LIVE_CHANNELS, AuthorKind, ConversationState, QuickReply, TicketStatus, utcnow
from hub.outbox import Outbox
from hub.ports import FILES_NONE, MAX_COPIES, copy_address, file_delivery, signs, takes_copies
from hub.readsahead import ReadsAhead
from hub.signatures import signed
from hub.sla import Calendars
from hub.slaclock import resume_fields, start_clock
from hub.smalltalk import says_what
from hub.store import Doc, ObjectId, Store
from hub.telemetry import Telemetry, reason_label
from hub.ticketfields import FieldDef, FieldError, TicketFields, missing_text, search_texts
from hub.ticketindex import PRIORITIES, TicketIndex, applied, index_fields, index_update
from hub.ticketlines import CUSTOMER, TicketLines, assignee_item, item, pending_item

ACTIVE = [TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.PENDING.value]


class TicketError(Exception):
    """A ticket action that cannot be done (unknown ticket, bad transition)."""


class NotFound(TicketError):
    pass


class AlreadyRated(TicketError):
    """The ticket has its rating already: one rating per ticket, from any channel."""


class NotYours(TicketError):
    """The ticket is not assigned to the agent who tried to hand it back."""


#: The statuses that end a ticket's work: its conversations close, its agent's slot frees up.
CLOSING = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})


def _status(value: str) -> TicketStatus:
    try:
        return TicketStatus(value)
    except ValueError as exc:
        raise TicketError(f"unknown status {value!r}") from exc


class KeepType(enum.Enum):
    KEEP = "keep"


#: `set_status(pending_until=KEEP)`: leave a pending ticket's time to be open again as it is.
KEEP = KeepType.KEEP
#: A ticket's subject made of a message's text is at most this long (then "…").
SUBJECT_CHARS = 80


def subject_of(text: str | None) -> str:
    """A subject made of a customer's message: its first non-empty line, cut at a word ("…"); "" for none."""
    line = next((s.strip() for s in (text or "").splitlines() if s.strip()), "")
    line = " ".join(line.split())
    if len(line) <= SUBJECT_CHARS:
        return line
    return line[:SUBJECT_CHARS].rsplit(" ", 1)[0] + "…"


def typed(message: Doc) -> bool:
    """Whether the customer typed the message's text (not a button pressed, not an automated reply, not empty)."""
    return bool(str(message.get("text") or "").strip()) and not message.get("automated") \
        and not (message.get("metadata") or {}).get("quick_reply")


#: The longest subject an agent may give a ticket.
MAX_SUBJECT = 200
#: How far ahead a pending ticket may be set to open again.
MAX_PENDING = timedelta(days=366)
#: The private line a pending ticket gets in its timeline when its time comes (the desk words it with the time).
PENDING_ENDED = "The pending time ended: the ticket is open again."


def check_pending_until(new: TicketStatus, until: datetime | KeepType | None,
                        now: datetime) -> datetime | KeepType | None:
    """`until` if it fits `new` (pending only, in the future, within MAX_PENDING), else TicketError."""
    if not isinstance(until, datetime):
        return until
    if new is not TicketStatus.PENDING:
        raise TicketError("a time to open again goes with the pending status only")
    if until.tzinfo is None:
        raise TicketError("pending_until needs a time zone (e.g. 2026-12-08T09:00:00Z)")
    until = until.astimezone(UTC).replace(microsecond=0)
    if until <= now:
        raise TicketError("pending_until is in the past")
    if until > now + MAX_PENDING:
        raise TicketError(f"pending_until is more than {MAX_PENDING.days} days ahead")
    return until


def refuse_merged(ticket: Doc) -> None:
    """A ticket merged into another (hub.ticketmerge) is closed for good: its work goes on there."""
    if ticket.get("merged_into") is not None:
        raise TicketError(f"#{ticket['number']} was merged into #{ticket.get('merged_into_number')}: work there")


@dataclass(frozen=True)
class QueueConfig:
    name: str
    title: str = ""
    #: Service level target: answered within this many seconds...
    answer_target_seconds: int = 60
    #: ... for this share of tickets (e.g. 0.8 for 80 % in 60 s).
    service_level_goal: float = 0.8
    first_response_sla_seconds: int = 3600
    resolution_sla_seconds: int = 86400
    #: `manual` (agents pull from the queue) or `least_busy` (auto-assign within capacity).
    routing: str = "manual"
    #: `least_busy` only: an assigned agent who has not answered within this many seconds loses the
    #: ticket to the next agent (0 = never), as Rocket.Chat's auto-transfer does.
    auto_transfer_seconds: int = 0
    #: `least_busy` only: auto-assignment gives one agent at most this many active tickets of this queue
    #: (their own `capacity` still caps all their tickets); 0: only their capacity.
    max_per_agent: int = 0
    #: What a customer reply to a solved/closed ticket does: `reopen` or `new`.
    on_reply_after_close: str = "reopen"
    #: What the customer is told when a ticket is moved into this queue (hub.transfers; canned-response
    #: placeholders such as `{{agent.name}}`); empty: nothing, the move stays internal.
    on_transfer_message: str = ""
    #: The business-hours calendar (hub.sla) whose open time the SLA targets count; empty: 24/7. The
    #: configuration's seed; admins change it in the desk ("Business hours").
    calendar: str = ""
    #: An SLA warning comes at this share of a target (0.8: 48 minutes into a 1-hour first response)...
    sla_warning_ratio: float = 0.8
    #: ... or, when above 0, this many business seconds before the due time.
    sla_warning_seconds: int = 0
    #: A ticket escalated here while no agent serving this queue is online lands in this queue instead
    #: (followed once; empty: it waits here).
    fallback_queue: str = ""
    #: What the customer is told when their conversation is escalated into this queue (before the ticket
    #: number and the wait); empty: the bot's own handoff text.
    escalation_message: str = ""


def copies(sender: Any, conversation: Doc, cc: list[str] | None) -> Doc:
    """Whom an agent's reply on `conversation` copies, as the message keeps it (`{"cc": [...]}`, nothing on a channel
    that copies nobody): the addresses given, each checked by the channel (`hub.ports.copy_address`), without the
    customer, once each; or, given none, those the customer's latest mail copied (the conversation's channel data)."""
    if not takes_copies(sender):
        if cc:
            raise TicketError(f"a reply on {conversation['channel']} goes to the customer alone: only email copies")
        return {}
    if cc is None:
        return {"cc": list((conversation.get("channel_data") or {}).get("cc") or [])}
    kept: list[str] = []
    for typed in cc:
        address = copy_address(sender, typed)
        if address is None:
            raise TicketError(f"cannot copy {typed.strip()!r}: not an email address, or one of the hub's own mailboxes")
        if address != conversation.get("recipient") and address not in kept:
            kept.append(address)
    if len(kept) > MAX_COPIES:
        raise TicketError(f"a reply copies at most {MAX_COPIES} people")
    return {"cc": kept}


class TicketService:
    def __init__(self, store: Store, outbox: Outbox, queues: dict[str, QueueConfig], default_queue: str) -> None:
        self.store = store
        self.outbox = outbox
        self.queues = queues
        self.default_queue = default_queue
        #: The desk list's search fields: each write below folds them in (`index_update`); `refresh` recomputes
        #: them from scratch for the rare paths (contact edits, merges).
        self.index = TicketIndex(store)
        #: Each change's line in the ticket's timeline (hub.ticketlines).
        self.lines = TicketLines(store, outbox)
        self.tally = DeskTally(store)  # the desk's sidebar numbers, one pass for every agent asking at once
        #: Set by the hub: re-routes a queue when an agent's capacity frees up.
        self.router: Any = None
        #: Set by the hub (hub.webhooks.Webhooks): ticket events queued in the transaction of each change.
        self.webhooks: Any = None
        #: Channels that can carry a rating request when a ticket is solved (hub.csat).
        self.csat_channels: frozenset[str] = frozenset({"widget", "slack", "telegram", "sms", "email"})
        #: Set by the composition root: signs the email rating links (hub.csat.CsatLinks).
        self.csat_links: CsatLinks | None = None
        self.telemetry = Telemetry(store)
        #: Queues' business-hours calendars: SLA due times count their open time (hub.sla).
        self.calendars = Calendars(store)
        #: Admins' ticket fields (hub.ticketfields): an order number, a product; agents fill them in.
        self.fields = TicketFields(store)

    def queue(self, name: str | None) -> QueueConfig:
        return self.queues.get(name or self.default_queue) or self.queues[self.default_queue]

    async def landing_queue(self, name: str | None, session: AsyncClientSession | None = None) -> QueueConfig:
        """The queue an escalation lands in: the asked one, or its fallback when nobody serving it is
        online (one read of the online agents, only for a queue that has a fallback)."""
        q = self.queue(name)
        if not q.fallback_queue or q.fallback_queue not in self.queues:
            return q
        async for agent in self.store.agents.find({"presence": "online"}, projection={"roles": 1, "disabled": 1,
                                                  "queues": 1}, session=session):
            if "agent" in agent.get("roles", []) and not agent.get("disabled") \
                    and (not agent.get("queues") or q.name in agent["queues"]):
                return q
        return self.queues[q.fallback_queue]

    async def escalate(
        self,
        conversation: Doc,
        *,
        reason: str,
        queue: str | None,
        number: int,
        session: AsyncClientSession,
        subject: str | None = None,
        subject_for_now: bool = False,
        intent: str | None = None,
        entities: dict[str, str] | None = None,
        conversation_update: Doc | None = None,
        contact: Doc | None = None,
        ahead: ReadsAhead | None = None,
    ) -> Doc:
        """Hand a conversation to humans: link it to the contact's active ticket or open one.

        `subject_for_now`: the subject says nothing of what the ticket is about (the customer only asked for a
        person): a new ticket takes the start of the customer's next typed message instead, unless an agent names
        it first (`on_customer_message`, `edit`).

        `conversation_update`: what the caller changes on the conversation besides the handoff (the bot's
        turn), made in the handoff's one write; it may not `$set` the handoff's own fields. `contact`: the
        conversation's contact if the caller holds it (the pipeline read it on ingest), else it is read.
        The conversation's messages so far are read once for the ticket's search words; `ahead`: the reads the
        caller started already (`read_ahead`, outside the transaction; awaited here, maybe once per attempt)."""
        now = utcnow()
        q = await self.landing_queue(queue, session)
        asked = self.queue(queue).name  # q differs when nobody serving the asked queue was online
        calendar = await self.calendars.for_queue(q.name)
        existing = await self.active_ticket(conversation["contact_id"], session)
        ticket_id = existing["_id"] if existing is not None else ObjectId()
        handoff = {**(conversation_update or {})}
        handoff["$set"] = {**handoff.get("$set", {}), "state": ConversationState.ESCALATED.value,
                           "ticket_id": ticket_id, "handoff_at": now}
        # conversations opened by a release of 2026-12-02/03 kept their words for this (docs/ingest.md)
        handoff["$unset"] = {**handoff.get("$unset", {}), "words": "", "words_seq": ""}
        # the conversation's messages so far (the customer's and the bot's) become the ticket's words
        texts_read = await ahead.texts if ahead is not None else await self.index.texts([conversation["_id"]], session)
        if existing is not None:
            update = index_update(existing, {"$addToSet": {"conversation_ids": conversation["_id"]},
                                             "$set": {"updated_at": now, "last_customer_message_at": now}}, texts_read)
            await self.store.update(self.store.tickets, {"_id": existing["_id"]}, update, session)
            ticket = applied(existing, update)  # read in this transaction: what the write left
            await self.index.record(existing, ticket, session)
        else:
            ticket = {
                "_id": ticket_id,
                "number": number,
                "contact_id": conversation["contact_id"],
                "conversation_ids": [conversation["_id"]],
                "channel": conversation["channel"],
                "subject": subject or conversation.get("subject") or "",
                **({"subject_for_now": True} if subject_for_now else {}),
                "queue": q.name,
                "priority": "normal",
                "status": TicketStatus.NEW.value,
                "assignee_id": None,
                "reason": reason,
                "intent": intent,
                "entities": entities or {},
                "created_at": now,
                "handoff_at": now,
                "updated_at": now,
                "last_customer_message_at": now,
                "sla": {**start_clock(q, calendar, now), "paused_seconds": 0},
            }
            if contact is None or contact.get("_id") != conversation["contact_id"]:
                contact = await self.store.contacts.find_one({"_id": conversation["contact_id"]}, session=session)
            ticket.update(index_fields(ticket, contact, texts_read))
            await self.store.insert_later(self.store.tickets, ticket, session)  # with the transaction's last writes
            await self.index.add_words(ticket_id, number, ticket["words"], True, session)
            await self.store.append_event("ticket.created", now, session=session, ticket_id=ticket["_id"],
                                          conversation_id=conversation["_id"], contact_id=conversation["contact_id"],
                                          queue=q.name, data={"reason": reason, "number": number,
                                                              **({"fallback_from": asked} if asked != q.name
                                                                 else {})})
            self.telemetry.count("ticket", session, queue=q.name, change="created")
            await self.notify("ticket.created", ticket, session)
        await self.store.update(self.store.conversations, {"_id": conversation["_id"]}, handoff, session)
        # the thread: a live channel's open connections to it learn the customer now waits (Hub.customer_waiting);
        # another channel's thread key is the customer's address, kept out of the log (hub.models.LIVE_CHANNELS)
        live = conversation["channel"] in LIVE_CHANNELS
        await self.store.append_event("conversation.handoff", now, session=session, ticket_id=ticket["_id"],
                                      conversation_id=conversation["_id"], queue=ticket["queue"],
                                      channel=conversation["channel"],
                                      thread_key=conversation["thread_key"] if live else None,
                                      data={"reason": reason})
        self.telemetry.count("escalation", session, queue=ticket["queue"], reason=reason_label(reason))
        return ticket

    async def queue_position(self, ticket: Doc, session: AsyncClientSession | None = None,
                             ahead: ReadsAhead | None = None) -> int:
        """1-based place among the queue's tickets still waiting for an agent (new and unassigned); from the
        read started `ahead` of the escalation's transaction when it answers for this ticket."""
        started = ahead.position_for(ticket) if ahead is not None else None
        if started is not None:
            return await started + 1
        return await self._waiting_before(ticket["queue"], ticket["created_at"], session) + 1

    async def _waiting_before(self, queue: str, before: datetime, session: AsyncClientSession | None = None) -> int:
        """How many of the queue's tickets created before `before` wait for an agent (new and unassigned)."""
        # `assignee_id: None` in the filter would make the server scan (a null match plans no index):
        # the queue's new tickets are read through the (status, queue, created_at) index instead.
        earlier = await self.store.tickets.find(
            {"status": TicketStatus.NEW.value, "queue": queue, "created_at": {"$lt": before}},
            projection={"assignee_id": 1}, session=session,
        ).to_list()
        return sum(1 for t in earlier if t.get("assignee_id") is None)

    def read_ahead(self, conversation: Doc, queue: str | None) -> ReadsAhead:
        """Start an escalation's reads that need no transaction (hub.readsahead): the conversation's texts and
        the asked queue's waiting tickets, to run beside the transaction's first statements."""
        name, since = self.queue(queue).name, utcnow()
        return ReadsAhead(texts=asyncio.create_task(self.index.texts([conversation["_id"]])), queue=name,
                          since=since, waiting=asyncio.create_task(self._waiting_before(name, since)))

    async def on_customer_message(self, conversation: Doc, session: AsyncClientSession,
                                  reopen: bool = True, message: Doc | None = None) -> Doc | None:
        """A customer wrote in an escalated conversation: wake the ticket up.

        `reopen=False` (an automated message such as an out-of-office reply) records the
        activity but leaves a pending or solved ticket as it is. `message`: the customer's message,
        whose words join the ticket's in the same write (without it the ticket's words are recomputed
        from every message, `TicketIndex.refresh`: 4 more commands).
        """
        if conversation.get("ticket_id") is None:
            if conversation.get("follows_ticket_id") is not None:
                return await self._open_follow_up(conversation, session)
            return None
        now = utcnow()
        ticket = await self.store.tickets.find_one({"_id": conversation["ticket_id"]}, session=session)
        if ticket is None or ticket.get("erased"):  # a message that read its conversation before the erasure
            return None
        update: dict[str, Any] = {"$set": {"updated_at": now, "last_customer_message_at": now}}
        status = TicketStatus(ticket["status"])
        if reopen and status in (TicketStatus.PENDING, TicketStatus.SOLVED, TicketStatus.CLOSED):
            new_status = TicketStatus.OPEN if ticket.get("first_agent_reply_at") else TicketStatus.NEW
            update["$set"]["status"] = new_status.value
            update["$unset"] = {"pending_since": "", "pending_until": "", "solved_at": ""}
            if status is TicketStatus.PENDING and ticket.get("pending_since"):
                paused = (now - ticket["pending_since"]).total_seconds()
                update["$inc"] = {"sla.paused_seconds": paused}
                update["$set"].update(resume_fields(ticket, await self.calendars.for_queue(ticket["queue"]), now))
            await self.store.append_event("ticket.reopened" if status is not TicketStatus.PENDING
                                          else "ticket.customer_replied", now, session=session,
                                          ticket_id=ticket["_id"], queue=ticket["queue"],
                                          data={"from": status.value, "to": new_status.value})
            # its line after the customer's message, which is stored already (insert_later: no round trip of its own)
            await self.lines.write(ticket, CUSTOMER, [item("status", status.value, new_status.value, how="customer")],
                                   session, conversation)
        if ticket.get("subject_for_now") and message is not None and typed(message) and says_what(message["text"]):
            # the customer says now what the ticket is about: its subject, in the write the message makes anyway
            update["$set"]["subject"] = subject_of(message["text"])
            # which message named it, and what it was called before: a split of that message gives it back
            update["$set"]["subject_named"] = {"message_id": message["_id"], "was": ticket.get("subject") or ""}
            update.setdefault("$unset", {})["subject_for_now"] = ""
        update = index_update(ticket, update, [message.get("text")] if message is not None else [])
        # read in this transaction, so the write finds it (or meets a conflict, and the transaction is retried)
        await self.store.update(self.store.tickets, {"_id": ticket["_id"]}, update, session)
        updated = applied(ticket, update)  # what the write leaves
        if message is not None:  # else the refresh below writes the words again
            await self.index.record(ticket, updated, session)
        if "status" in update["$set"]:
            await self.notify("ticket.updated", updated, session)
        if message is None:
            await self.index.refresh(ticket["_id"], session)
        return updated

    async def active_ticket(self, contact_id: ObjectId, session: AsyncClientSession | None = None) -> Doc | None:
        """The contact's newest active ticket. Read on the index's own fields (a contact has few tickets) and
        the status checked here: secantusd-py plans a filter with fields beyond the index as a scan."""
        async for ticket in self.store.tickets.find({"contact_id": contact_id}, sort=[("created_at", -1)],
                                                    session=session):
            if ticket.get("status") in ACTIVE:
                return ticket
        return None

    async def _open_follow_up(self, conversation: Doc, session: AsyncClientSession) -> Doc:
        """A reply to a closed ticket whose queue says `new`: a new ticket, linked to the closed one."""
        previous = await self.store.tickets.find_one({"_id": conversation["follows_ticket_id"]}, session=session)
        number = await self.store.next_number("ticket")
        ticket = await self.escalate(
            conversation, reason="reply_after_close", queue=previous["queue"] if previous else None, number=number,
            session=session, subject=(previous or {}).get("subject") or conversation.get("subject"),
        )
        if ticket["number"] == number and previous is not None:
            await self.store.update(  # after the ticket's insert, which may wait for the commit
                self.store.tickets, {"_id": ticket["_id"]}, {"$set": {"follows_ticket_id": previous["_id"]}}, session
            )
            ticket["follows_ticket_id"] = previous["_id"]
        return ticket

    async def get(self, ticket_id: ObjectId) -> Doc:
        ticket = await self.store.tickets.find_one({"_id": ticket_id})
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}")
        return ticket

    async def with_parts(self, ticket_id: ObjectId) -> tuple[Doc, Doc | None, list[Doc]]:
        """The ticket, its contact as stored (None if gone; it may have been merged into another) and its
        conversations, in one command: an aggregate `$lookup`ing both by `_id` (the desk's ticket page; three finds
        until 2026-12-06). `ticket_with_parts` in benchmarks/query_cost.py shows it flat with the data."""
        cursor = await self.store.tickets.aggregate([
            {"$match": {"_id": ticket_id}},
            {"$limit": 1},
            {"$lookup": {"from": self.store.contacts.name, "localField": "contact_id", "foreignField": "_id",
                         "as": "_contact"}},
            {"$lookup": {"from": self.store.conversations.name, "localField": "conversation_ids",
                         "foreignField": "_id", "as": "_conversations"}},
        ])
        found = await cursor.to_list(1)
        if not found:
            raise NotFound(f"no ticket {ticket_id}")
        ticket = found[0]
        contacts, conversations = ticket.pop("_contact"), ticket.pop("_conversations")
        order = {cid: n for n, cid in enumerate(ticket.get("conversation_ids") or [])}
        conversations.sort(key=lambda c: order.get(c["_id"], len(order)))  # the ticket's own order
        return ticket, contacts[0] if contacts else None, conversations

    async def list(self, *, status: list[str] | None = None, queue: str | None = None,
                   assignee_id: ObjectId | None = None, limit: int = 200) -> list[Doc]:
        query: dict[str, Any] = {"status": {"$in": status or ACTIVE}}
        if queue:
            query["queue"] = queue
        if assignee_id is not None:
            query["assignee_id"] = assignee_id
        cursor = self.store.tickets.find(query, sort=[("created_at", 1)], limit=limit)
        return await cursor.to_list()

    async def reply(self, ticket_id: ObjectId, agent: Doc, text: str, *, private: bool = False,
                    conversation_id: ObjectId | None = None, then_status: str | None = None,
                    attachments: list[Doc] | None = None, mentions: list[Doc] | None = None,
                    cc: list[str] | None = None) -> Doc:
        """An agent's answer (or private note) on the ticket's latest conversation.

        `cc`: whom the reply copies on a channel that copies (email's Cc; `copies`): the addresses the agent kept or
        typed, [] for nobody; None: the people the customer's latest mail copied ("reply all"). Either way they are
        kept on the message (`metadata.cc`: the timeline says who got it, delivery sends to them, an erasure forgets
        them).

        `mentions`: the colleagues a private note mentions (`hub.mentions.resolve`: `{_id, name}`), kept on the
        note and, as the latest mention, on the ticket (`mentioned`), where their desks see it.

        `attachments`: files already stored (`{filename, content_type, size, blob_id}`); a
        reply may be files alone. The customer's channel must be able to carry them.
        `then_status`: the status the ticket moves to with the reply (the desk's "Send and solve"), in the
        reply's one transaction: one ticket write, one conversation write, the rating request with them
        (`tests/test_command_budget.py`: 13 commands, 23 as a reply then a status change); an unknown status
        refuses the reply before anything is written."""
        text = text.strip()
        if not text and not attachments:
            raise TicketError("empty reply")
        new = _status(then_status) if then_status else None
        if mentions and not private:
            raise TicketError("mentions go in private notes: the customer would read them in a reply")
        if cc and private:
            raise TicketError("a private note copies nobody: only a reply goes to the people in Cc")
        mentioned = [{"id": m["_id"], "name": m["name"]} for m in mentions or []]
        left: dict[str, Any] = {}  # the ticket as the transaction left it, and whether it closed

        async def work(session: AsyncClientSession) -> Doc:
            left.clear()  # a retried attempt starts again
            # read in the transaction: the index fields folded into the ticket's write are computed from it
            ticket = await self.store.tickets.find_one({"_id": ticket_id}, session=session)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}")
            refuse_merged(ticket)
            if new in CLOSING and new.value != ticket["status"] and (missing := self.fields.missing(ticket)):
                raise TicketError(missing_text(missing, "solving" if new is TicketStatus.SOLVED else "closing"))
            conv_ids = ticket["conversation_ids"]
            target = conversation_id if conversation_id is not None else conv_ids[-1]
            if target not in conv_ids:
                raise TicketError("conversation does not belong to this ticket")
            conversation = await self.store.conversations.find_one({"_id": target}, session=session)
            if conversation is None:
                raise NotFound("conversation vanished")
            channel = conversation["channel"]
            if attachments and not private and file_delivery(self.outbox.senders.get(channel)) == FILES_NONE:
                raise TicketError(f"files cannot be sent to the customer on {channel}; add them to a private note")
            now = utcnow()
            closing = new in CLOSING
            # a reply by mail carries the agent's signature, in the text kept (the timeline shows what was sent)
            sent = signed(text, agent) if not private and signs(self.outbox.senders.get(channel)) else text
            metadata: Doc = {"mentions": mentioned} if mentioned else {}
            if not private:
                metadata.update(copies(self.outbox.senders.get(channel), conversation, cc))
            message = await self.outbox.post(conversation, AuthorKind.AGENT, sent, session=session,
                                             author_id=agent["_id"], author_name=agent.get("name"), private=private,
                                             attachments=attachments, touch_conversation=not closing,
                                             metadata=metadata or None)
            # who last wrote on it, reply or note, and the status they chose with it: news for the colleagues who
            # follow it (hub.ticketreads, hub.newswords)
            did = ["wrote", new.value] if new is not None and new.value != ticket["status"] else ["wrote"]
            update: dict[str, Any] = {"updated_at": now,
                                      "agent_activity": {"at": now, "by": agent["_id"], "did": did}}
            if mentioned:  # every desk gets the ticket's change: the colleagues named see it is for them
                update["mentioned"] = {"ids": [m["id"] for m in mentioned], "at": now, "by": agent["_id"]}
            if not private:
                update["last_agent_reply_at"] = now
                if ticket.get("first_agent_reply_at") is None:
                    update["first_agent_reply_at"] = now
                    update["first_responder_id"] = agent["_id"]
                    await self.store.append_event("ticket.first_response", now, session=session,
                                                  ticket_id=ticket["_id"], agent_id=agent["_id"],
                                                  queue=ticket["queue"])
                if ticket["status"] == TicketStatus.NEW.value:
                    update["status"] = TicketStatus.OPEN.value
                if ticket.get("assignee_id") is None and not agent.get("service"):  # a service token is nobody
                    update["assignee_id"] = agent["_id"]
                    update["assigned_at"] = now
                    update["assigned_by"] = agent["_id"]  # hub.ticketreads: answering a ticket is no news to you
            replied = {**ticket, **update}
            old = TicketStatus(replied["status"])
            to = new if new is not old else None  # the status the step moves the ticket to, if it moves it
            change: Doc = {"$set": update}
            # the reply's changes in one line after it, before a rating request (hub.ticketlines)
            said = [item("assignee", None, person(agent), how="answered")] if "assignee_id" in update else []
            said += [item("status", old.value, to.value)] if to is not None else []
            await self.lines.write(ticket, agent, said, session, conversation)
            if to is not None:
                moving = await self._status_change(replied, old, to, now)
                change = {**moving, "$set": {**update, **moving["$set"]}}
                if closing:
                    touched = {target: now}  # the reply's conversation: its last message, the touch the post left out
                    asked = await self._rating_request(replied, to, session, conversation)
                    if asked is not None:
                        change["$set"]["csat_asked"] = True
                        touched[asked["conversation_id"]] = asked["created_at"]  # after the reply
                    await self._close_conversations(conv_ids, now, session, touched)
                left["closed"] = closing  # after the commit, the queue is routed again
            elif closing:  # the status was `new` already: the conversation's touch the post left out
                await self.store.update(self.store.conversations, {"_id": target},
                                              {"$set": {"last_message_at": now}}, session)
            change = index_update(ticket, change, [text])
            await self.store.update(self.store.tickets, {"_id": ticket["_id"]}, change, session)
            after = left["ticket"] = applied(ticket, change)
            await self.index.record(ticket, after, session)
            if "status" in update or "assignee_id" in update:
                await self.notify("ticket.updated", replied, session)
            await self.store.append_event("ticket.note" if private else "ticket.agent_reply", now,
                                          session=session, ticket_id=ticket["_id"], agent_id=agent["_id"],
                                          message_id=message["_id"], queue=ticket["queue"],
                                          **({"data": {"mentions": [m["id"] for m in mentioned]}} if mentioned
                                             else {}))
            if to is not None:
                await self._status_changed(after, old, to, agent["_id"], now, session)
            return message

        message = await self.store.run_in_transaction(work)
        if left.get("closed") and self.router is not None:  # a slot of the queue's agents freed up
            await self.router.route_queue(left["ticket"]["queue"])
        return message

    async def _status_change(self, ticket: Doc, old: TicketStatus, new: TicketStatus, now: datetime,
                             pending_until: datetime | None = None) -> Doc:
        """What moving the ticket from `old` to `new` writes on it: the status, the SLA clock's pause and
        resume, the solve time (`$set`, and `$inc`/`$unset` when a pending ticket resumes), and the end of a
        pending time (`pending_until`, when the SLA watcher opens the ticket again: hub.sla)."""
        change: dict[str, Any] = {"$set": {"status": new.value, "updated_at": now}}
        if old is TicketStatus.PENDING:
            change["$unset"] = {"pending_until": ""}
            if ticket.get("pending_since"):
                change["$inc"] = {"sla.paused_seconds": (now - ticket["pending_since"]).total_seconds()}
                change["$unset"]["pending_since"] = ""
                change["$set"].update(resume_fields(ticket, await self.calendars.for_queue(ticket["queue"]), now))
        if new is TicketStatus.PENDING:
            change["$set"]["pending_since"] = now
            if pending_until is not None:
                change["$set"]["pending_until"] = pending_until
        if new in CLOSING and ticket.get("solved_at") is None:
            change["$set"]["solved_at"] = now
        return change

    async def _status_changed(self, ticket: Doc, old: TicketStatus, new: TicketStatus, agent_id: ObjectId | None,
                              now: datetime, session: AsyncClientSession, **more: Any) -> None:
        """The event, the count and the webhook of a status change (`ticket`: as the change left it; `more`: what
        else the event's data says, e.g. the end of a pending time)."""
        await self.store.append_event(f"ticket.{new.value}", now, session=session, ticket_id=ticket["_id"],
                                      agent_id=agent_id, queue=ticket["queue"],
                                      data={"from": old.value, "to": new.value, **more})
        if new in CLOSING and agent_id is not None:  # news for its assignee and followers (hub.donenews)
            await donenews.tell(self.store, ticket, agent_id, now, session)
        if new is TicketStatus.SOLVED:
            self.telemetry.count("ticket", session, queue=ticket["queue"], change="solved")
        await self.notify("ticket.solved" if new is TicketStatus.SOLVED else "ticket.updated", ticket, session)

    async def _close_conversations(self, conversation_ids: list[ObjectId], now: datetime,
                                   session: AsyncClientSession, touched: dict[ObjectId, datetime] | None = None
                                   ) -> None:
        """A solved or closed ticket's conversations are closed; `touched`: those of them where a message was
        just posted without its touch (`last_message_at`), made in the same write."""
        closed = {"open": False, "state": ConversationState.CLOSED.value, "closed_at": now}
        touched = touched or {}
        for conversation_id, last in touched.items():
            await self.store.update(self.store.conversations, {"_id": conversation_id},
                                          {"$set": {**closed, "last_message_at": last}}, session)
        rest = [c for c in conversation_ids if c not in touched]
        if rest:
            await self.store.update(self.store.conversations, {"_id": {"$in": rest}}, {"$set": closed}, session,
                                          many=True)

    async def set_status(self, ticket_id: ObjectId, status: str, agent: Doc | None,
                         pending_until: datetime | KeepType | None = KEEP, *, line: bool = True) -> Doc:
        """Move the ticket to `status` in one transaction: the ticket read and written once, its conversations
        closed for a solve or close, and a solve's rating request posted with them (all or nothing).

        `pending_until` (with `pending` only): when the ticket is to be open again by itself, for whoever has it
        (hub.sla's watcher does it). On a ticket pending already it changes that time, and None clears it; KEEP
        (automation, macros) leaves it as it is. `line=False`: no line of its own in the ticket's timeline (an
        automation run writes one for all it did)."""
        new = _status(status)
        until = check_pending_until(new, pending_until, utcnow())
        agent_id = agent["_id"] if agent else None
        left: dict[str, Any] = {}  # whether the transaction closed the ticket

        async def work(session: AsyncClientSession) -> Doc:
            left.clear()  # a retried attempt starts again
            # read in the transaction: the index fields folded into the write are computed from it
            ticket = await self.store.tickets.find_one({"_id": ticket_id}, session=session)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}")
            refuse_merged(ticket)
            old = TicketStatus(ticket["status"])
            if new is old:
                if new is not TicketStatus.PENDING or until is KEEP or until == ticket.get("pending_until"):
                    return ticket
                if line:
                    await self.lines.write(ticket, agent, [item("pending_until", ticket.get("pending_until"), until)],
                                           session)
                return await self._move_pending_until(ticket, until, agent_id, session)
            if new in CLOSING and (missing := self.fields.missing(ticket)):
                raise TicketError(missing_text(missing, "solving" if new is TicketStatus.SOLVED else "closing"))
            now = utcnow()
            change = await self._status_change(ticket, old, new, now, None if until is KEEP else until)
            if agent_id is not None:  # a colleague's solve, close, pending or reopen: news for who follows it
                change["$set"]["agent_activity"] = {"at": now, "by": agent_id, "did": [new.value]}
            # the latest conversation: the line goes there, and so does a solve's rating request
            latest = await self.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]},
                                                             session=session) if line else None
            if line:
                await self.lines.write(ticket, agent, [pending_item(old.value, until if isinstance(until, datetime)
                                                                     else None) if new is TicketStatus.PENDING
                                                        else item("status", old.value, new.value)],
                                       session, latest)
            if new in CLOSING:
                asked = await self._rating_request(ticket, new, session, latest)
                if asked is not None:
                    change["$set"]["csat_asked"] = True
                await self._close_conversations(ticket["conversation_ids"], now, session,
                                                {asked["conversation_id"]: asked["created_at"]} if asked else None)
            change = index_update(ticket, change)
            await self.store.update(self.store.tickets, {"_id": ticket_id}, change, session)
            after = applied(ticket, change)
            await self.index.record(ticket, after, session)  # the words' live copy follows the status
            await self._status_changed(after, old, new, agent_id, now, session,
                                       **({"pending_until": until} if isinstance(until, datetime) else {}))
            left["closed"] = new in CLOSING
            return after

        updated = await self.store.run_in_transaction(work)
        if left.get("closed") and self.router is not None:  # a slot of the queue's agents freed up
            await self.router.route_queue(updated["queue"])
        return updated

    async def _rating_request(self, ticket: Doc, new: TicketStatus, session: AsyncClientSession,
                              replied_in: Doc | None = None) -> Doc | None:
        """A solve's CSAT request, posted in the caller's transaction on the ticket's latest conversation
        (`replied_in`: a conversation the caller holds, read otherwise); None when none is due. The caller marks
        `csat_asked` and touches the conversation in the write that closes it."""
        if new is not TicketStatus.SOLVED or ticket.get("first_agent_reply_at") is None or ticket.get("csat_asked"):
            return None
        latest = ticket["conversation_ids"][-1]
        conversation = replied_in if replied_in is not None and replied_in["_id"] == latest else \
            await self.store.conversations.find_one({"_id": latest}, session=session)
        if conversation is None or conversation["channel"] not in self.csat_channels:
            return None
        return await self._post_rating_request(ticket, conversation, session)

    async def _post_rating_request(self, ticket: Doc, conversation: Doc, session: AsyncClientSession) -> Doc:
        """The CSAT question on the conversation's channel, once per ticket (hub.csat): buttons (`csat:N` quick
        replies) on the widget, Slack and Telegram; "Reply 1-5" on SMS; on email the same quick replies, which
        the email channel renders as signed one-click links. Untouched conversation: the caller's write does it."""
        question = (f"Your request #{ticket['number']} is solved. How happy are you with our help "
                    "(1 = not at all, 5 = very)?")
        choices = tuple(QuickReply(str(score), f"csat:{score}") for score in range(1, 6))
        if conversation["channel"] == "sms":
            question, choices = question + " Reply with a number from 1 to 5.", ()
        return await self.outbox.post(conversation, AuthorKind.SYSTEM, question, author_name="Switchboard",
                                      quick_replies=choices, session=session, touch_conversation=False)

    async def rate(self, ticket_id: ObjectId, score: int, comment: str | None = None,
                   channel: str | None = None) -> Doc:
        """The customer's satisfaction rating (1-5) of a solved ticket, once: a second one is refused.

        One conditional update (`csat` still null), so two ratings at once from two channels
        cannot both count. `channel`: where the rating came from (kept on the rating).
        """
        if not 1 <= score <= 5:
            raise TicketError("score must be 1 to 5")
        now = utcnow()
        rating: Doc = {"score": score, "comment": (comment or "").strip()[:2000], "at": now}
        if channel:
            rating["channel"] = channel
        ticket = await self.store.claim_by_id(
            self.store.tickets, ticket_id,
            {"status": {"$in": [TicketStatus.SOLVED.value, TicketStatus.CLOSED.value]}, "csat": None},
            {"$set": {"csat": rating}},
        )
        if ticket is None:
            current = await self.store.tickets.find_one({"_id": ticket_id}, projection={"csat": 1})
            if current is not None and current.get("csat"):
                raise AlreadyRated("this request has been rated already; thank you")
            raise NotFound("no solved ticket to rate")
        await self.store.append_event("ticket.rated", now, ticket_id=ticket_id, queue=ticket["queue"],
                                      data={"score": score, "channel": channel})
        return ticket

    async def rate_from_thread(self, channel: str, thread_key: str, score: int, *, typed: bool = False,
                               reply: bool = True) -> str:
        """A rating pressed or typed on a messaging channel, for the thread's latest ticket.

        Returns `rated`, `already` (refused: the ticket has its rating) or `none` (no rating was asked
        for: the caller treats the input as an ordinary message). `typed` (an SMS digit): only while
        the ticket's conversation is the thread's latest and closed, so a digit answering a newer
        conversation (a bot's numbered options) stays a message. `reply`: thank the customer there.
        """
        conversations = await self.store.conversations.find(
            {"channel": channel, "thread_key": thread_key}, projection={"ticket_id": 1, "open": 1},
        ).to_list(None)
        with_ticket = [c for c in conversations if c.get("ticket_id") is not None]
        if not with_ticket:
            return "none"
        latest = max(with_ticket, key=lambda c: c["ticket_id"])
        newest = max(conversations, key=lambda c: c["_id"])
        if typed and (newest["_id"] != latest["_id"] or newest.get("open")):
            return "none"
        ticket = await self.store.tickets.find_one({"_id": latest["ticket_id"]},
                                                   projection={"csat": 1, "csat_asked": 1, "status": 1})
        if (ticket is None or not ticket.get("csat_asked")
                or ticket.get("status") not in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)):
            return "none"
        try:
            if ticket.get("csat"):
                raise AlreadyRated("rated already")
            await self.rate(ticket["_id"], score, channel=channel)
            outcome, text = "rated", "Thank you for your rating!"
        except AlreadyRated:
            outcome, text = "already", "This request has been rated already. Thank you!"
        if reply:
            conversation = await self.store.conversations.find_one({"_id": latest["_id"]})
            if conversation is not None:
                await self.outbox.post(conversation, AuthorKind.SYSTEM, text, author_name="Switchboard")
        return outcome

    async def abandon(self, ticket_id: ObjectId, reason: str = "ended") -> bool:
        """The customer left before any agent answered: close the ticket as abandoned (metrics count it).

        `reason`: `ended` (the customer ended the chat) or `left` (closed the page and did not come back).
        """
        now = utcnow()

        async def work(session: AsyncClientSession) -> Doc | None:
            # a closed ticket has no SLA rank or wake-up and no active words; its facets are settled below
            written = await self.store.claim_by_id(
                self.store.tickets, ticket_id, {"status": TicketStatus.NEW.value, "first_agent_reply_at": None},
                {"$set": {"status": TicketStatus.CLOSED.value, "abandoned_at": now, "abandon_reason": reason,
                          "updated_at": now, "sla_rank": None, "sla_next": None, "words_live": False}},
                session,
            )
            if written is None:
                return None
            await self.index.set_live(ticket_id, False, session)
            ticket = await self.index.settle(written, session)
            await self.store.conversations.update_many(
                {"_id": {"$in": ticket["conversation_ids"]}},
                {"$set": {"open": False, "state": ConversationState.CLOSED.value, "closed_at": now}},
                session=session,
            )
            closed = item("status", TicketStatus.NEW.value, TicketStatus.CLOSED.value, why=f"abandoned_{reason}")
            await self.lines.write(ticket, SYSTEM_NAME, [closed], session)
            await self.store.append_event("ticket.abandoned", now, session=session, ticket_id=ticket_id,
                                          queue=ticket["queue"], data={"reason": reason})
            self.telemetry.count("ticket", session, queue=ticket["queue"], change="abandoned")
            await self.notify("ticket.updated", ticket, session)
            return ticket

        ticket = await self.store.run_in_transaction(work)
        if ticket is None:
            return False
        if self.router is not None:
            await self.router.route_queue(ticket["queue"])
        return True

    async def _move_pending_until(self, ticket: Doc, until: datetime | None, agent_id: ObjectId | None,
                                  session: AsyncClientSession) -> Doc:
        """A pending ticket's time to be open again, changed (or cleared: None)."""
        now = utcnow()
        change: Doc = {"$set": {"updated_at": now, **({"pending_until": until} if until else {})}}
        if until is None:
            change["$unset"] = {"pending_until": ""}
        change = index_update(ticket, change)  # the watcher's wake-up (`sla_next`) follows it
        await self.store.update(self.store.tickets, {"_id": ticket["_id"]}, change, session)
        await self.store.append_event("ticket.pending_until", now, session=session, ticket_id=ticket["_id"],
                                      agent_id=agent_id, queue=ticket["queue"], data={"pending_until": until})
        after = applied(ticket, change)
        await self.notify("ticket.updated", after, session)
        return after

    async def end_pending(self, ticket_id: ObjectId, now: datetime) -> Doc | None:
        """Open again a pending ticket whose `pending_until` has come (new if no agent answered yet): the SLA clock
        resumes, and a private line in its timeline tells whoever has it. None when it is no longer due (a
        customer replied, an agent moved it, another process did it): checked inside the transaction, so each
        pending time ends once."""

        async def work(session: AsyncClientSession) -> Doc | None:
            ticket = await self.store.tickets.find_one({"_id": ticket_id}, session=session)
            if ticket is None or ticket.get("status") != TicketStatus.PENDING.value \
                    or ticket.get("pending_until") is None or ticket["pending_until"] > now:
                return None
            new = TicketStatus.OPEN if ticket.get("first_agent_reply_at") else TicketStatus.NEW
            change = await self._status_change(ticket, TicketStatus.PENDING, new, now)
            change["$set"]["pending_ended_at"] = now  # the desk tells the assignee (attention.js)
            change = index_update(ticket, change)
            await self.store.update(self.store.tickets, {"_id": ticket_id}, change, session)
            after = applied(ticket, change)
            await self.index.record(ticket, after, session)
            conversation = await self.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]},
                                                                   session=session)
            if conversation is not None:
                await self.outbox.post(conversation, AuthorKind.SYSTEM, PENDING_ENDED, session=session, private=True,
                                       touch_conversation=False,
                                       metadata={"pending_ended": {"pending_until": ticket["pending_until"]}})
            await self._status_changed(after, TicketStatus.PENDING, new, None, now, session,
                                       pending_until=ticket["pending_until"], by="pending_until")
            return after

        return await self.store.run_in_transaction(work)

    async def assign(self, ticket_id: ObjectId, assignee_id: ObjectId | None, by: Doc | None, *,
                     if_assigned_to: ObjectId | None = None, line: bool = True) -> Doc:
        """Set the assignee of an active ticket; `if_assigned_to` makes it conditional (an agent
        handing back their own ticket), checked in the same write so a concurrent reassignment wins.
        The change gets a line in the ticket's timeline unless `line=False`."""
        now = utcnow()
        query: Doc = {"_id": ticket_id, "status": {"$in": ACTIVE}}
        if if_assigned_to is not None:
            query["assignee_id"] = if_assigned_to

        async def work(session: AsyncClientSession) -> Doc | None:
            # read, then written on the same conditions (an `_id` update checks them in the write): the new
            # assignee's list keys go into that write
            current = await self.store.tickets.find_one({"_id": ticket_id}, session=session)
            if current is None or current.get("status") not in ACTIVE or \
                    (if_assigned_to is not None and current.get("assignee_id") != if_assigned_to):
                return None
            update = index_update(current, {"$set": {"assignee_id": assignee_id, "assigned_at": now,
                                                     "assigned_by": by["_id"] if by else None,
                                                     "updated_at": now}})
            if (await self.store.tickets.update_one(query, update, session=session)).matched_count == 0:
                return None
            ticket = applied(current, update)
            if line:
                await self.lines.write(ticket, by, [await self._assignee_item(by, current.get("assignee_id"),
                                                                              assignee_id, session)], session)
            await self.store.append_event("ticket.assigned", now, session=session, ticket_id=ticket_id,
                                          agent_id=assignee_id, queue=ticket["queue"],
                                          data={"by": by["_id"] if by else None})
            await self.notify("ticket.updated", ticket, session)
            return ticket

        ticket = await self.store.run_in_transaction(work)
        if ticket is None:
            if if_assigned_to is not None:
                current = await self.store.tickets.find_one({"_id": ticket_id}, projection={"status": 1})
                if current is not None and current["status"] in ACTIVE:
                    raise NotYours("this ticket is not assigned to you")
            raise NotFound("no active ticket with that id")
        return ticket

    async def _assignee_item(self, by: Doc | None, before: ObjectId | None, after: ObjectId | None,
                             session: AsyncClientSession | None = None) -> Doc:
        """An assignee change for its timeline line, named: the names not at hand are read (one read)."""
        names = {by["_id"]: person(by)} if by is not None else {}
        names.update(await self.lines.names(*(a for a in (before, after) if a not in names), session=session))
        return assignee_item(by["_id"] if by is not None else None, before, after, names)

    async def edit(self, ticket_id: ObjectId, agent: Doc, *, tags: list[str] | None = None,
                   priority: str | None = None, subject: str | None = None, add_tags: list[str] | None = None,
                   remove_tags: list[str] | None = None, fields: Doc | None = None, line: bool = True) -> Doc:
        """Set a ticket's tags (or add `add_tags` to those it has, or take `remove_tags` from them), priority,
        subject and/or the values of admins' ticket fields (`fields`: key -> value, None clears; hub.ticketfields);
        each change is an event in the ticket's history, and all of them one line in its timeline
        (`line=False`: none, for an automation run, which writes one line for all it did). A new subject's words
        join the ticket's search words (the old subject's stay: a search by what it was called still finds it),
        and so do the new text, number and link values; a subject an agent gives is kept (the customer's next
        message no longer names the ticket)."""
        if priority is not None and priority not in PRIORITIES:
            raise TicketError(f"priority must be one of {', '.join(PRIORITIES)}")
        if subject is not None:
            subject = " ".join(subject.split())
            if not subject or len(subject) > MAX_SUBJECT:
                raise TicketError(f"a subject is 1 to {MAX_SUBJECT} characters")
        ticket = await self.get(ticket_id)
        now = utcnow()
        changes: Doc = {}
        if add_tags is not None:
            tags = [*(tags if tags is not None else ticket.get("tags") or []), *add_tags]
        if remove_tags is not None:
            gone = {t.strip().lower() for t in remove_tags}
            had = tags if tags is not None else ticket.get("tags") or []
            tags = [t for t in had if t.strip().lower() not in gone]
        if subject is not None and subject != (ticket.get("subject") or ""):
            changes["subject"] = {"from": ticket.get("subject") or "", "to": subject}
        if tags is not None:
            clean = sorted({t.strip().lower() for t in tags if t.strip()})
            if clean != sorted(ticket.get("tags") or []):
                changes["tags"] = {"from": ticket.get("tags") or [], "to": clean}
        if priority is not None and priority != (ticket.get("priority") or "normal"):
            changes["priority"] = {"from": ticket.get("priority") or "normal", "to": priority}
        defs, set_fields = await self._field_changes(ticket, fields)
        if not changes and not set_fields:
            return ticket

        renamed = [changes["subject"]["to"]] if "subject" in changes else []
        unset: Doc = {"subject_for_now": "", "subject_named": ""} \
            if renamed and (ticket.get("subject_for_now") or ticket.get("subject_named")) else {}
        unset |= {f"fields.{k}": "" for k, c in set_fields.items() if c["to"] is None}
        sets = {k: v["to"] for k, v in changes.items()} | {
            f"fields.{k}": c["to"] for k, c in set_fields.items() if c["to"] is not None}
        words = renamed + search_texts(defs, {k: c["to"] for k, c in set_fields.items()})
        update = index_update(ticket, {"$set": {**sets, "updated_at": now}, **({"$unset": unset} if unset else {})},
                              words, fresh=False)

        async def work(session: AsyncClientSession) -> Doc:
            written = await self.store.claim_by_id(self.store.tickets, ticket_id, {}, update, session)
            assert written is not None
            updated = await self.index.settle(written, session)  # `ticket` was read before the transaction
            if words:  # the new subject's and values' words, in a word document of their own (the list's search)
                await self.index.record(ticket, updated, session)
            for name, change in changes.items():
                await self.store.append_event(f"ticket.{name}_changed", now, session=session, ticket_id=ticket_id,
                                              agent_id=agent["_id"], queue=ticket["queue"], data=change)
            for key, change in set_fields.items():
                await self.store.append_event("ticket.field_changed", now, session=session, ticket_id=ticket_id,
                                              agent_id=agent["_id"], queue=ticket["queue"],
                                              data={"field": key, "label": defs[key].label, **change})
            if line:
                items = [item(name, c["from"], c["to"]) for name, c in changes.items()]
                items += [item("field", c["from"], c["to"], label=defs[k].label) for k, c in set_fields.items()]
                await self.lines.write(updated, agent, items, session)
            await self.notify("ticket.updated", updated, session)
            return updated

        return await self.store.run_in_transaction(work)

    async def _field_changes(self, ticket: Doc, values: Doc | None) -> tuple[dict[str, FieldDef], dict[str, Doc]]:
        """The ticket fields' definitions and what setting `values` changes (nothing asked: no read)."""
        if not values:
            return {}, {}
        try:
            return await self.fields.changes(ticket, values)
        except FieldError as exc:
            raise TicketError(str(exc)) from exc

    async def notify(self, event: str, ticket: Doc, session: AsyncClientSession | None) -> None:
        """A webhook event for this ticket change, written with it (no webhooks configured: nothing)."""
        if self.webhooks is not None:
            await self.webhooks.emit_ticket(event, ticket, session)

