"""Who is on a ticket right now: agents viewing it and typing a reply, for the desk and the customer.

Each (ticket, agent) has one short-lived document in `ticket_activity`; the realtime change stream
carries every change to the desks in every hub process (and to the widget, whose visitor sees
"Ann is typing…"). Nothing is kept for long: viewing holds until `viewing_until` (a desk renews it
while the ticket is open), typing until `typing_until` (a keystroke renews it), and a TTL index
removes stale documents.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from hub.models import utcnow
from hub.store import Doc, ObjectId, Store

State = Literal["viewing", "typing", "left"]
#: How long each state holds without a renewal (a desk renews "viewing" every 20 s, "typing" every 3 s).
HOLD = {"viewing": timedelta(seconds=45), "typing": timedelta(seconds=8), "left": timedelta(0)}
#: Stale documents go this long after they stopped holding.
KEEP = timedelta(minutes=10)


class Reported(NamedTuple):
    """What a report answers: the agent's own record as stored, and who else is on the ticket now."""

    mine: Doc
    others: list[Doc]


def _holding(docs: list[Doc], now: datetime) -> list[Doc]:
    return [d for d in docs if d.get("viewing_until") and d["viewing_until"] > now]


class TicketActivity:
    def __init__(self, store: Store) -> None:
        self.store = store
        #: ticket id -> the customer's thread keys (a ticket's conversations rarely change).
        self._threads: dict[ObjectId, list[str]] = {}

    async def report(self, ticket: Doc, agent: Doc, state: State) -> Reported:
        """Record that `agent` is viewing, typing on, or has left `ticket`; its stored record and the others'.

        Typing implies viewing: when the typing stops, the agent still shows as viewing until that
        lapses too. Leaving ends both at once.
        """
        key, fields = await self.note(ticket, agent, state)
        # The update, then one read of the ticket's records: the agent's own as stored (`$max` keeps a later time
        # another report set) and the others', so a desk opening the ticket learns who else is on it from its
        # own "viewing" (secantusd-py's findAndModify scans the collection; this read uses the ticket's index).
        docs = await self.store.ticket_activity.find({"ticket_id": ticket["_id"]}).to_list()
        mine = next((d for d in docs if d["_id"] == key), None) or {**fields, "_id": key}
        return Reported(mine, _holding([d for d in docs if d["_id"] != key], utcnow()))

    async def note(self, ticket: Doc, agent: Doc, state: State) -> tuple[str, Doc]:
        """Record it as `report` does, reading nothing back (one command once the ticket's thread keys are known):
        the desk's feed, to which the record comes back live, sends the agent's typing this way. The record's key
        and the fields set."""
        now = utcnow()
        name = str(agent.get("name") or agent.get("username") or "An agent")
        fields: Doc = {"ticket_id": ticket["_id"], "agent_id": agent["_id"], "agent_name": name,
                       "thread_keys": await self._keys(ticket), "state": state}
        if state == "left":
            update: Doc = {"$set": {**fields, "viewing_until": now, "typing_until": now, "expires_at": now + KEEP}}
        else:
            until = {"viewing_until": now + HOLD["viewing"]}
            if state == "typing":
                until["typing_until"] = now + HOLD["typing"]
            update = {"$set": fields, "$max": {**until, "expires_at": now + HOLD["viewing"] + KEEP}}
        key = f"{ticket['_id']}:{agent['_id']}"
        await self.store.ticket_activity.update_one({"_id": key}, update, upsert=True)
        return key, fields

    async def on_ticket(self, ticket_id: ObjectId) -> list[Doc]:
        """Who is on the ticket now."""
        return _holding(await self.store.ticket_activity.find({"ticket_id": ticket_id}).to_list(), utcnow())

    async def colleague_reply_since(self, ticket: Doc, since: datetime, me: ObjectId) -> Doc | None:
        """The newest reply another agent sent the customer on this ticket after `since`, if any."""
        found: Doc | None = None
        for conversation_id in ticket.get("conversation_ids") or []:
            async for m in self.store.messages.find(
                    {"conversation_id": conversation_id, "created_at": {"$gt": since}},
                    projection={"author": 1, "direction": 1, "private": 1, "created_at": 1}):
                author = m.get("author") or {}
                if (author.get("kind") == "agent" and author.get("id") != me and not m.get("private")
                        and (found is None or m["created_at"] > found["created_at"])):
                    found = m
        return found

    async def _keys(self, ticket: Doc) -> list[str]:
        cached = self._threads.get(ticket["_id"])
        ids = ticket.get("conversation_ids") or []
        if cached is not None and len(cached) == len(ids):
            return cached
        keys = []
        for conversation_id in ids:
            conversation = await self.store.conversations.find_one({"_id": conversation_id},
                                                                   projection={"thread_key": 1})
            if conversation and conversation.get("thread_key"):
                keys.append(str(conversation["thread_key"]))
        if len(self._threads) > 10_000:
            self._threads.clear()
        self._threads[ticket["_id"]] = keys
        return keys
