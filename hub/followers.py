"""Following a ticket: a colleague who does not hold it hears when its customer or a colleague writes on it.

A supervisor watching an escalation, an agent who handed a ticket on and wants to know how it ends: Zammad calls it
subscribing to a ticket, Chatwoot adding a participant. A follower's news is the customer's messages on the ticket,
and a colleague's replies and notes (`agent_activity`), while they do not hold it themselves (`hub.ticketreads`:
"followed"): the dot in the desk and, if they asked, the email while away from the desk (hub.newsmail). The ticket
keeps its followers (`followers`: ids, at most `MAX_FOLLOWERS`), which every desk sees with the ticket's change (the
Follow button's state). Following writes no timeline line and does not touch `updated_at`: it changes nothing of the
ticket itself, only who hears of it.
"""

from __future__ import annotations

from hub.store import Doc, ObjectId, Store
from hub.tickets import NotFound, TicketError, refuse_merged

#: The most colleagues who follow one ticket (the ticket's document stays small).
MAX_FOLLOWERS = 50


class Followers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def follow(self, ticket_id: ObjectId, agent_id: ObjectId, on: bool = True) -> Doc:
        """The agent follows the ticket (`on`) or stops; the ticket as it is then. One read, one write by `_id`."""
        ticket = await self.store.tickets.find_one({"_id": ticket_id})
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}")
        followers = list(ticket.get("followers") or [])
        if on == (agent_id in followers):
            return ticket  # already as asked
        if on:
            refuse_merged(ticket)
            if len(followers) >= MAX_FOLLOWERS:
                raise TicketError(f"#{ticket['number']} has {MAX_FOLLOWERS} followers already")
            update: Doc = {"$addToSet": {"followers": agent_id}}  # not a $set of the list: two at once both count
        else:
            update = {"$pull": {"followers": agent_id}}
        await self.store.tickets.update_one({"_id": ticket_id}, update)
        return {**ticket, "followers": [*followers, agent_id] if on else [f for f in followers if f != agent_id]}
