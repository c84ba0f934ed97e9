"""A ticket an agent starts: writing to a customer first (a call to follow up in writing, an order problem the shop
found before the customer did).

Zammad's "new ticket" by email and Chatwoot's "new conversation" do this. The agent names the channel (one whose
sender can start a conversation: `hub.ports.starts_conversations`; email, through its relay), the address, a
subject and the message; the hub finds the customer's record by that address on that channel (or another channel's
record that has it as a trusted address, as an inbound mail would), or creates it, and opens a conversation and a
ticket held by the agent (`reason` "outbound"; an integration's service token holds nothing: its ticket is open in
its queue, for whoever takes it). The message is then the agent's reply on that ticket
(`TicketService.reply`: signed, delivered by the outbox, its first response), so the customer's answer threads
into the ticket like any reply (email: the reply address and the `[#number]` of the subject). The ticket is open, or
pending or solved if the agent says so, with the message.

Two steps, not one: the ticket and its conversation in one transaction, then the reply in its own. If the reply
fails (a database error between the two), the ticket is there, held by the agent, with no message; the desk shows
it and the agent writes again. A reply refused before anything is written (an empty text) is checked first.
"""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.contacts import EMAIL_CHANNELS, PHONE_CHANNELS, ContactService
from hub.conversations import new_token
from hub.display import person
from hub.metricdefs import STARTED_BY_AGENT
from hub.models import ConversationState, Sender, SendError, TicketStatus, utcnow
from hub.ports import address_for, shares_threads, start_thread, starts_conversations
from hub.slaclock import start_clock
from hub.store import Doc, DuplicateKeyError, ObjectId, Store
from hub.ticketfields import missing_text
from hub.ticketlines import item
from hub.tickets import MAX_SUBJECT, QueueConfig, TicketError, TicketService, copies

#: What the new ticket can be once the message is sent: open (the agent's to follow), pending (waiting for the
#: customer) or solved (the message was all that was needed).
STATUSES = (TicketStatus.OPEN.value, TicketStatus.PENDING.value, TicketStatus.SOLVED.value)
REASON = STARTED_BY_AGENT


class NewTickets:
    def __init__(self, store: Store, contacts: ContactService, tickets: TicketService) -> None:
        self.store = store
        self.contacts = contacts
        self.tickets = tickets

    def channels(self) -> list[str]:
        """The channels on which an agent can write first now."""
        return sorted(name for name, sender in self.tickets.outbox.senders.items() if starts_conversations(sender))

    async def start(self, agent: Doc, *, channel: str, to: str, subject: str, text: str, name: str | None = None,
                    queue: str | None = None, status: str = TicketStatus.OPEN.value,
                    cc: list[str] | None = None) -> tuple[Doc, Doc]:
        """Open a ticket for `agent` by writing `text` to `to` on `channel`; the ticket and the message. `cc`: whom
        the message copies (email; hub.tickets.copies), checked before anything is written."""
        if status == TicketStatus.SOLVED.value and (missing := self.tickets.fields.missing({})):
            # refused now: the reply would refuse the solve after the ticket was written, leaving it without its message
            raise TicketError(missing_text(missing, "solving") + ": start it open or pending")
        sender = self.tickets.outbox.senders.get(channel)
        if not starts_conversations(sender):
            raise TicketError(f"an agent cannot write first on {channel}" if sender is not None
                              else f"no {channel} channel on this hub")
        address = address_for(sender, to)
        if address is None:
            raise TicketError(f"{to!r} is not {getattr(sender, 'address_kind', f'an address on {channel}')}")
        if cc:  # refused now, not by the reply after the ticket was written
            copies(sender, {"channel": channel, "recipient": address}, cc)
        subject = " ".join(subject.split())
        if not subject or len(subject) > MAX_SUBJECT:
            raise TicketError(f"a subject is 1 to {MAX_SUBJECT} characters")
        if not text.strip():
            raise TicketError("empty message")
        if status not in STATUSES:
            raise TicketError(f"a new ticket is {', '.join(STATUSES)}")
        if queue is not None and queue not in self.tickets.queues:
            raise TicketError(f"no queue {queue!r}")
        place = self.tickets.queue(queue)  # the agent holds it: no fallback for a queue nobody serves now
        display = " ".join((name or "").split()) or None
        conversation_id = ObjectId()
        try:
            thread_key, inbox, channel_data = await start_thread(sender, address, conversation_id)
        except SendError as exc:  # e.g. a number that sent STOP
            raise TicketError(exc.reason) from exc
        if shares_threads(sender):  # a thread of its own (email) holds nothing yet: no read
            await self._no_open_thread(channel, thread_key)
        contact = await self.contacts.resolve(channel, Sender(
            address, display_name=display, email=address if channel in EMAIL_CHANNELS else None,
            phone=address if channel in PHONE_CHANNELS else None))
        try:
            ticket = await self._open(agent, contact, channel, address, subject, place,
                                      conversation_id, (thread_key, inbox, channel_data))
        except DuplicateKeyError as exc:  # the customer wrote on that thread meanwhile
            await self._no_open_thread(channel, thread_key)
            raise TicketError(f"the customer's {channel} conversation opened meanwhile; write on its ticket") from exc
        message = await self.tickets.reply(ticket["_id"], agent, text, cc=cc or None,
                                           then_status=None if status == TicketStatus.OPEN.value else status)
        return await self.tickets.get(ticket["_id"]), message

    async def _no_open_thread(self, channel: str, thread_key: str) -> None:
        """Refuses to start a conversation on a thread that holds an open one (SMS: the customer's texts with our
        number), naming its ticket: the agent writes there instead (the open thread's index allows one)."""
        found = await self.store.conversations.find_one({"channel": channel, "thread_key": thread_key, "open": True},
                                                        projection={"ticket_id": 1})
        if found is None:
            return
        ticket = (await self.store.tickets.find_one({"_id": found["ticket_id"]}, projection={"number": 1})
                  if found.get("ticket_id") is not None else None)
        if ticket is not None:
            raise TicketError(f"this customer's {channel} conversation is open on ticket #{ticket['number']}: "
                              "write there")
        raise TicketError(f"this customer is talking with the bot on {channel} right now: their request will reach "
                          "a queue if they ask for a person")

    async def _open(self, agent: Doc, contact: Doc, channel: str, address: str, subject: str,
                    place: QueueConfig, conversation_id: ObjectId, thread: tuple[str, str | None, Doc]) -> Doc:
        """The conversation and the ticket, held by the agent, in one transaction (`thread`: its key, inbox and
        channel data, hub.ports.start_thread)."""
        thread_key, inbox, channel_data = thread
        calendar = await self.tickets.calendars.for_queue(place.name)
        number = await self.store.next_number("ticket")

        # a service token (an integration writing first) is nobody: the ticket waits in its queue, as a reply by one
        # leaves a ticket (TicketService.reply)
        holder = None if agent.get("service") else agent["_id"]

        async def work(session: AsyncClientSession) -> Doc:
            now = utcnow()
            ticket_id = ObjectId()
            conversation: Doc = {
                "_id": conversation_id, "token": new_token(), "contact_id": contact["_id"], "channel": channel,
                # email: a thread of its own, found by the reply address and the ticket number; SMS: the numbers' pair
                "thread_key": thread_key, "inbox": inbox, "recipient": address,
                "subject": subject, "state": ConversationState.ESCALATED.value, "open": True,
                "bot": {"state": {}, "turns": 0}, "channel_data": channel_data, "started_at": now,
                "last_message_at": now, "handoff_at": now, "ticket_id": ticket_id, "started_by": agent["_id"],
            }
            ticket: Doc = {
                "_id": ticket_id, "number": number, "contact_id": contact["_id"], "conversation_ids": [conversation_id],
                "channel": channel, "subject": subject, "queue": place.name, "priority": "normal",
                "status": TicketStatus.OPEN.value, "assignee_id": holder, "assigned_at": now if holder else None,
                "assigned_by": holder, "reason": REASON, "intent": None, "entities": {}, "created_at": now,
                "handoff_at": now, "updated_at": now, "started_by": agent["_id"],
                "sla": {**start_clock(place, calendar, now), "paused_seconds": 0},
            }
            await self.store.conversations.insert_one(conversation, session=session)
            await self.store.tickets.insert_one(ticket, session=session)
            await self.store.append_event("conversation.opened", now, session=session,
                                          conversation_id=conversation_id, contact_id=contact["_id"],
                                          data={"channel": channel, "by": "agent"})
            await self.store.append_event("ticket.created", now, session=session, ticket_id=ticket_id,
                                          conversation_id=conversation_id, contact_id=contact["_id"],
                                          queue=place.name, agent_id=agent["_id"],
                                          data={"reason": REASON, "number": number})
            self.tickets.telemetry.count("ticket", session, queue=place.name, change="created")
            if holder is not None:
                await self.tickets.lines.write(ticket, agent, [item("assignee", None, person(agent), how="started")],
                                               session, conversation)
            await self.tickets.notify("ticket.created", ticket, session)
            await self.tickets.index.refresh(ticket_id, session)
            return ticket

        return await self.store.run_in_transaction(work)
