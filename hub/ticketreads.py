"""What each agent has read: the tickets with news for them they have not looked at since.

News for an agent is what the desk marks with a dot (agents_ui/static/attention.js): a customer's message on one of
their tickets, a ticket given to them by someone else (routing, a colleague, a supervisor), the end of a pending
time on one of theirs, a colleague's reply, note or status change (solved, closed, pending, open again) on one of
theirs ("colleague": what Zendesk tells an assignee when someone else updates their ticket), a colleague's note that
mentions them (on any ticket), a customer's message or a colleague's reply, note or status change on a ticket they
follow and do not hold (hub.followers). A ticket of theirs or one they follow that a colleague solved or closed is
read for a week (hub.donenews). The page sees these live; this module keeps
the mark when no page of theirs was open, or they sign in on another computer.

Nothing is written on the message path: each kind of news is a time the ticket already holds
(`last_customer_message_at`, `assigned_at` with `assigned_by`, `pending_ended_at`, `mentioned.at`,
`agent_activity.at` with its `by`), and an
agent's reads are one small document per (agent, ticket) in `ticket_reads`, written when the desk shows them
the ticket. Unread is news later than the read or, on their own tickets, than the last reply to the customer
(answering shows the ticket was read: the tickets answered before reads were kept are not all marked at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pymongo import UpdateOne

from hub.donenews import done_for
from hub.models import utcnow
from hub.store import Doc, ObjectId, Store
from hub.tickets import ACTIVE

Why = Literal["message", "assigned", "reminder", "mention", "colleague", "followed"]

#: A read is kept this long after it was last made (TTL): an agent's reads do not grow with all history. A ticket
#: unread for longer is judged by the agent's last reply on it.
KEEP = timedelta(days=60)
#: At most this many of an agent's active tickets, and of the tickets mentioning them, are looked at.
LIMIT = 200
FIELDS = {"number": 1, "assignee_id": 1, "assigned_at": 1, "assigned_by": 1, "last_customer_message_at": 1,
          "last_agent_reply_at": 1, "pending_ended_at": 1, "mentioned": 1,
          "followers": 1, "agent_activity": 1,
          "merged_into_number": 1,  # "Sam merged it into #7" (hub.newswords)
          "subject": 1, "contact_id": 1}  # the last two: what an email of the news names (hub.newsmail)


@dataclass(frozen=True)
class Unread:
    ticket_id: ObjectId
    number: int
    why: Why
    at: datetime


def read_key(agent_id: ObjectId, ticket_id: ObjectId) -> str:
    return f"{agent_id}:{ticket_id}"


def news_of(ticket: Doc, agent_id: ObjectId) -> tuple[Why, datetime] | None:
    """The newest news the ticket holds for this agent, with its time (None: nothing for them)."""
    found: list[tuple[datetime, Why]] = []
    mentioned = ticket.get("mentioned") or {}
    if agent_id in (mentioned.get("ids") or []) and mentioned.get("by") != agent_id and mentioned.get("at"):
        found.append((mentioned["at"], "mention"))
    if ticket.get("assignee_id") == agent_id:
        assigned = ticket.get("assigned_at")
        if assigned and ticket.get("assigned_by") != agent_id:  # taking a ticket yourself is not news
            found.append((assigned, "assigned"))
        wrote = ticket.get("last_customer_message_at")
        if wrote and (assigned is None or wrote > assigned):  # written while it was theirs
            found.append((wrote, "message"))
        if ticket.get("pending_ended_at"):
            found.append((ticket["pending_ended_at"], "reminder"))
        if (colleague := _colleague_at(ticket, agent_id)) and (assigned is None or colleague > assigned):
            found.append((colleague, "colleague"))  # a colleague answered, noted or moved it while it was theirs
    elif agent_id in (ticket.get("followers") or []):  # hub.followers: someone else's ticket
        if ticket.get("last_customer_message_at"):
            found.append((ticket["last_customer_message_at"], "followed"))
        if colleague := _colleague_at(ticket, agent_id):
            found.append((colleague, "followed"))
    if not found:
        return None
    at, why = max(found, key=lambda f: f[0])
    return why, at


def _colleague_at(ticket: Doc, agent_id: ObjectId) -> datetime | None:
    """When someone else last replied, wrote a note or changed the status (hub.tickets `agent_activity`), if anyone
    did: your own work is no news to you."""
    activity = ticket.get("agent_activity") or {}
    return activity.get("at") if activity.get("by") not in (None, agent_id) else None


class TicketReads:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = store.ticket_reads

    async def mark(self, agent_id: ObjectId, ticket_id: ObjectId) -> datetime:
        """The agent has read the ticket now (one command: an upsert by `_id`). The change reaches the agent's
        other open desks (hub.realtime), whose dot on the ticket goes too."""
        now = utcnow()
        await self.reads.update_one({"_id": read_key(agent_id, ticket_id)},
                                    {"$max": {"at": now}, "$set": {"agent_id": agent_id, "ticket_id": ticket_id,
                                                                   "expires_at": now + KEEP}}, upsert=True)
        return now

    async def mark_many(self, agent_id: ObjectId, ticket_ids: list[ObjectId]) -> datetime:
        """The agent has read these tickets now ("Mark all as read"): one command for them all. Each read reaches
        the agent's open desks as `mark`'s does."""
        now = utcnow()
        if ticket_ids:
            await self.reads.bulk_write([
                UpdateOne({"_id": read_key(agent_id, tid)},
                          {"$max": {"at": now}, "$set": {"agent_id": agent_id, "ticket_id": tid,
                                                         "expires_at": now + KEEP}}, upsert=True)
                for tid in dict.fromkeys(ticket_ids)], ordered=False)
        return now

    async def unread(self, agent_id: ObjectId) -> list[Unread]:
        """The tickets with news for the agent they have not read, newest news first (at most six reads: their
        active tickets, the active tickets mentioning them, those they follow, the notes of those of theirs or
        followed that a colleague solved or closed lately and those tickets, and their reads of all these)."""
        return [u for u, _ in await self.unread_tickets(agent_id)]

    async def unread_tickets(self, agent_id: ObjectId) -> list[tuple[Unread, Doc]]:
        """`unread`, each with the ticket as read (`FIELDS`)."""
        active = {"$in": list(ACTIVE)}
        tickets = {t["_id"]: t for t in await self.store.tickets.find(
            {"assignee_id": agent_id, "status": active}, projection=FIELDS, limit=LIMIT).to_list()}
        for watched in ("mentioned.ids", "followers"):  # the active tickets mentioning them, and those they follow
            for t in await self.store.tickets.find({watched: agent_id, "status": active}, projection=FIELDS,
                                                   limit=LIMIT).to_list():
                tickets.setdefault(t["_id"], t)
        # theirs or followed, that a colleague solved or closed lately (hub.donenews): by their notes, then by `_id`
        done = [tid for tid in await done_for(self.store, agent_id, LIMIT) if tid not in tickets]
        if done:
            for t in await self.store.tickets.find({"_id": {"$in": done}}, projection=FIELDS).to_list():
                tickets.setdefault(t["_id"], t)
        news = {tid: found for tid, t in tickets.items() if (found := news_of(t, agent_id)) is not None}
        if not news:
            return []
        keys = {read_key(agent_id, tid): tid for tid in news}
        seen = {keys[r["_id"]]: r["at"] for r in await self.reads.find({"_id": {"$in": list(keys)}}).to_list()}
        found: list[tuple[Unread, Doc]] = []
        for tid, (why, at) in news.items():
            # answering your own ticket shows you read it; a colleague's answer on it or on one you follow is news
            replied = tickets[tid].get("last_agent_reply_at") if why not in ("mention", "colleague", "followed") \
                else None
            last = max((t for t in (seen.get(tid), replied) if t), default=None)
            if last is None or at > last:
                found.append((Unread(tid, int(tickets[tid].get("number") or 0), why, at), tickets[tid]))
        return sorted(found, key=lambda f: f[0].at, reverse=True)
