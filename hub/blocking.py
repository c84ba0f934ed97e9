"""Blocking a spammer and closing what they opened, in one step.

An agent who blocks a contact for spam or abuse (hub.contactbook `block`) usually wants their tickets off the
queues too: Zendesk's "mark as spam" suspends the sender and removes the ticket. Here the block can close the
contact's active tickets (new, open, pending): each is closed as an agent's close is (hub.tickets `set_status`: a
line in its timeline, its events and webhooks, no rating request, which only a solve sends), so it stays on record
and can be opened again. A ticket the hub will not close (a required ticket field is empty) is left open and named,
with the reason. Audited once (`contact.tickets_closed`), with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.audit import AuditLog
from hub.contactbook import ContactBook
from hub.models import TicketStatus
from hub.store import Doc, ObjectId, Store
from hub.tickets import ACTIVE, TicketError, TicketService

#: The most of a contact's active tickets one block closes (a spammer's burst; the rest: block again).
MAX_CLOSED = 200


@dataclass
class Closed:
    """What closing a blocked contact's tickets did: the numbers closed, and those left open with the reason."""

    closed: list[int] = field(default_factory=list)
    not_closed: list[tuple[int, str]] = field(default_factory=list)

    def public(self) -> Doc:
        return {"closed": self.closed,
                "not_closed": [{"number": n, "reason": reason} for n, reason in self.not_closed]}


class Blocking:
    def __init__(self, store: Store, book: ContactBook, tickets: TicketService, audit: AuditLog) -> None:
        self.store = store
        self.book = book
        self.tickets = tickets
        self.audit = audit

    async def block(self, contact_id: ObjectId, actor: Doc, on: bool, *, close_tickets: bool = False,
                    ip: str | None = None) -> tuple[Doc, Closed | None]:
        """Block (or unblock) the contact; with `close_tickets` (a block only), then close their active tickets.
        Blocked first, so a message they send meanwhile opens nothing new."""
        contact = await self.book.block(contact_id, actor, on, ip=ip)
        if not (on and close_tickets):
            return contact, None
        done = Closed()
        for t in await self.store.tickets.find({"contact_id": contact["_id"], "status": {"$in": list(ACTIVE)}},
                                               projection={"number": 1}, sort=[("created_at", 1)],
                                               limit=MAX_CLOSED).to_list():
            try:
                await self.tickets.set_status(t["_id"], TicketStatus.CLOSED.value, actor)
            except TicketError as exc:
                done.not_closed.append((int(t["number"]), str(exc)))
            else:
                done.closed.append(int(t["number"]))
        if done.closed or done.not_closed:
            await self.audit.record("contact.tickets_closed", actor=actor, ip=ip,
                                    target={"type": "contact", "id": contact["_id"]}, details=done.public())
        return contact, done
