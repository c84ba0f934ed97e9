"""Moving a ticket: to another queue, to another agent, or back to its queue unassigned.

Hand-overs are a desk's daily work and each must stay explainable later. A move is one
conditional update of the ticket (it matches the queue and assignee that were read, so a
concurrent move makes this one fail instead of silently overwriting it), written in one
transaction with its `ticket.transferred` event and a private timeline line that carries the
mover's note. The customer sees none of that: they read only the target queue's
`on_transfer_message`, if one is configured, sent through the outbox like any reply.

The target agent must be online, work the target queue and have free capacity; otherwise the
move is refused with the reason (never queued behind the agent's back: move the ticket to the
queue instead, where routing or a colleague picks it up). A transfer is not an answer: first
response stays unanswered. Moved to another queue, the ticket's SLA due times are recomputed with
that queue's targets and business hours from the clock's start (hub.slaclock.transfer_fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.display import SYSTEM_NAME, person
from hub.models import AuthorKind, Role, utcnow
from hub.presence import ONLINE
from hub.responses import ResponseLibrary
from hub.slaclock import transfer_fields
from hub.store import Doc, ObjectId, Store
from hub.ticketindex import index_update
from hub.tickets import ACTIVE, NotFound, NotYours, TicketError, TicketService


class TransferRefused(TicketError):
    """The target cannot take the ticket now (presence, capacity, queue); the message says why, by name."""


class MovedMeanwhile(TicketError):
    """Someone else moved the ticket between reading and writing it."""


def works_tickets(agent: Doc) -> bool:
    """Holds the agent role itself (as routing asks): an admin who is no agent is nobody to hand work to."""
    return Role.AGENT.value in agent.get("roles", [])


@dataclass(frozen=True)
class Load:
    """A desk user as a transfer target: presence, and how many active tickets they hold."""

    agent: Doc
    active: int

    @property
    def capacity(self) -> int:
        return int(self.agent.get("capacity", 5))

    @property
    def presence(self) -> str:
        return str(self.agent.get("presence") or "offline")

    def label(self) -> str:
        """What the transfer form shows: "Bob — online, 2/5"."""
        return f"{person(self.agent)} — {self.presence}, {self.active}/{self.capacity}"

    def refusal(self, queue: str, queue_title: str) -> str | None:
        """Why this agent cannot take a ticket of `queue` now (None: they can)."""
        name = person(self.agent)
        if self.presence != ONLINE:
            return f"{name} is {self.presence}: choose an online agent, or move the ticket to the queue"
        queues = self.agent.get("queues")
        if queues and queue not in queues:
            return f"{name} does not work the {queue_title} queue"
        if self.active >= self.capacity:
            return f"{name} is at capacity ({self.active} of {self.capacity} tickets)"
        return None


class Transfers:
    def __init__(self, store: Store, tickets: TicketService, responses: ResponseLibrary) -> None:
        self.store = store
        self.tickets = tickets
        self.responses = responses

    def queue_title(self, name: str) -> str:
        return self.tickets.queue(name).title or name

    async def targets(self) -> list[Load]:
        """Every active agent with presence and load, by name (a desk's team: tens of people)."""
        agents = await self.store.agents.find(
            {"disabled": {"$ne": True}}, projection={"password_hash": 0}, sort=[("name", 1)]).to_list()
        agents = [a for a in agents if works_tickets(a)]
        counts = await self.store.tickets.aggregate([
            {"$match": {"assignee_id": {"$in": [a["_id"] for a in agents]}, "status": {"$in": ACTIVE}}},
            {"$group": {"_id": "$assignee_id", "n": {"$sum": 1}}},
        ])
        active = {row["_id"]: int(row["n"]) async for row in counts}
        return [Load(a, active.get(a["_id"], 0)) for a in agents]

    async def load(self, agent_id: ObjectId) -> Load | None:
        """One possible target (None: no such active user with the agent role)."""
        agent = await self.store.agents.find_one({"_id": agent_id}, projection={"password_hash": 0})
        if agent is None or agent.get("disabled") or not works_tickets(agent):
            return None
        active = await self.store.tickets.count_documents({"assignee_id": agent_id, "status": {"$in": ACTIVE}})
        return Load(agent, active)

    async def transfer(self, ticket_id: ObjectId, by: Doc, *, queue: str | None = None,
                       agent_id: ObjectId | None = None, note: str = "", any_ticket: bool = False,
                       line: bool = True) -> Doc:
        """Move the ticket to `queue` (default: where it is) and `agent_id` (None: unassigned, it waits in
        the queue). `any_ticket`: a supervisor's move; otherwise only a ticket that is the mover's own
        or nobody's may be moved. `line=False`: no timeline line of its own (an automation run writes one line
        for all it did). Returns the updated ticket."""
        ticket = await self.tickets.get(ticket_id)
        if ticket["status"] not in ACTIVE:
            raise TicketError(f"only an active ticket can be moved (this one is {ticket['status']})")
        current = ticket.get("assignee_id")
        holder = await self.store.agents.find_one({"_id": current}, projection={"name": 1, "username": 1}) \
            if current is not None else None
        if not any_ticket and current not in (None, by["_id"]):
            raise NotYours(f"this ticket is {person(holder)}'s: ask a supervisor to move it")
        target_queue = queue or ticket["queue"]
        if target_queue not in self.tickets.queues:
            raise TicketError(f"no queue named {target_queue!r}")
        title = self.queue_title(target_queue)
        target: Load | None = None
        if agent_id is not None:
            target = await self.load(agent_id)
            if target is None:
                raise TicketError("no such agent (the target must be an active user with the agent role)")
            reason = target.refusal(target_queue, title) if agent_id != current else None
            if reason:
                raise TransferRefused(reason)
        if target_queue == ticket["queue"] and agent_id == current:
            raise TicketError("the ticket is already there: choose another queue or agent")
        move = {
            "from_queue": ticket["queue"], "to_queue": target_queue, "to_queue_title": title,
            "from_agent": person(holder) if holder else None, "to_agent": person(target.agent) if target else None,
            "by": person(by), "summary": summary(person(by), title if target_queue != ticket["queue"] else None,
                                                 person(target.agent) if target else None, title),
        }
        message = self.tickets.queue(target_queue).on_transfer_message if target_queue != ticket["queue"] else ""
        sla = transfer_fields(ticket, self.tickets.queue(target_queue),
                              await self.tickets.calendars.for_queue(target_queue)) \
            if target_queue != ticket["queue"] else {}

        async def work(session: AsyncClientSession) -> Doc | None:
            now = utcnow()
            fields: dict[str, Any] = {"queue": target_queue, "assignee_id": agent_id, "updated_at": now,
                                      "transferred_at": now}
            if agent_id is not None and agent_id != current:
                fields["assigned_at"] = now
                fields["assigned_by"] = by["_id"]  # news to the agent given it (hub.ticketreads), unless them
            fields.update(sla)
            # the list's queue/assignee keys and SLA ranks, and the words of the timeline note, in this write
            change = index_update(ticket, {"$set": fields}, [note] if line else [], fresh=False)
            written = await self.store.claim_by_id(
                self.store.tickets, ticket_id,
                {"status": {"$in": ACTIVE}, "queue": ticket["queue"], "assignee_id": current}, change, session,
            )
            if written is None:
                return None
            await self.tickets.index.record(ticket, written, session)
            updated = await self.tickets.index.settle(written, session)  # `ticket` was read before the transaction
            conversation = await self.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]},
                                                                   session=session)
            if conversation is None:
                raise NotFound("the ticket's conversation vanished")
            posted = await self.tickets.outbox.post(
                conversation, AuthorKind.AGENT, note.strip(), session=session, author_id=by["_id"],
                author_name=person(by), private=True, metadata={"transfer": move}) if line else None
            await self.store.append_event(
                "ticket.transferred", now, session=session, ticket_id=ticket_id, agent_id=by["_id"],
                queue=target_queue, message_id=posted["_id"] if posted else None,
                data={"from_queue": ticket["queue"], "to_queue": target_queue, "from_agent_id": current,
                      "to_agent_id": agent_id, "by": by.get("by", by["_id"]), "note": bool(note.strip())})
            if message:
                customer = await self.store.contacts.find_one({"_id": ticket["contact_id"]}, session=session)
                text = self.responses.render(message, customer=customer, agent=target.agent if target else None,
                                             ticket=updated)
                await self.tickets.outbox.post(conversation, AuthorKind.SYSTEM, text, session=session,
                                               author_name=SYSTEM_NAME)
            await self.tickets.notify("ticket.updated", updated, session)
            return updated

        updated = await self.store.run_in_transaction(work)
        if updated is None:
            raise MovedMeanwhile("someone else moved this ticket just now: look at it again")
        if self.tickets.router is not None:  # the target queue may route it; the old holder has room again
            await self.tickets.router.route_all()
        return updated


def summary(by: str, queue_title: str | None, agent: str | None, current_title: str) -> str:
    """The timeline line's words: "Alice moved this to Billing", "Sam handed this to Bob"..."""
    if queue_title and agent:
        return f"{by} moved this to {queue_title}, for {agent}"
    if queue_title:
        return f"{by} moved this to {queue_title}"
    if agent:
        return f"{by} handed this to {agent}"
    return f"{by} put this back in {current_title}, unassigned"
