"""Customers who leave a live chat while waiting for an agent: their tickets count as abandoned.

Closing the page is how most chat customers give up. A desk that only counts an explicit
"End chat" under-reports abandonment (a queue metric supervisors staff by) and leaves agents
picking up tickets nobody is waiting on. A channel with live connections reports them to
`hub.presence`; when a customer's last one is gone, their open conversation is marked
`abandon_at` = now + the channel's grace period, long enough for moving between pages or a
network blip to reconnect. Any hub process's sweep then closes a ticket still waiting for a
first agent answer as abandoned; a customer who comes back in time clears the mark, and a
ticket an agent already answered is never touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError

from hub.models import utcnow
from hub.sla import EPOCH
from hub.store import Doc, Store
from hub.tickets import TicketService

log = logging.getLogger(__name__)


class Departures:
    def __init__(self, store: Store, tickets: TicketService) -> None:
        self.store = store
        self.tickets = tickets
        #: Grace period in seconds per channel that reports live connections (absent = not tracked).
        self.grace: dict[str, float] = {}
        #: Whether the customer (channel, thread key) has a live connection now (`PresenceService`; set by the hub).
        self.connected_now: Callable[[str, str], Awaitable[bool]] | None = None

    async def left(self, channel: str, thread_key: str,
                   still_here: Callable[[], Awaitable[bool]] | None = None) -> None:
        """A live connection of the customer closed: if it was the last (`still_here` says no) and a chat of
        theirs waits on a ticket, start its grace period. The thread is read first and `still_here` (a count
        of the connections left) asked only when something waits: the close of a bot-only chat costs one read."""
        grace = self.grace.get(channel)
        if not grace:
            return
        waiting = [c for c in await self._thread(channel, thread_key)
                   if c.get("open") and c.get("ticket_id") is not None]
        if not waiting or (still_here is not None and await still_here()):
            return
        now = utcnow()
        for conversation in waiting:
            # on the ticket too, first: agents see it in the desk, live (tickets are on the change stream)
            await self.store.tickets.update_one({"_id": conversation["ticket_id"]},
                                                {"$set": {"customer_left_at": now}})
            await self.store.conversations.update_one(
                {"_id": conversation["_id"]},
                {"$set": {"customer_left_at": now, "abandon_at": now + timedelta(seconds=grace)}},
            )

    async def back(self, channel: str, thread_key: str) -> bool:
        """The customer is here again (reconnected, polled or wrote): nothing to abandon. Returns whether a
        conversation of the thread is linked to a ticket (only then can the customer be waiting for an agent)."""
        thread = await self._thread(channel, thread_key)
        marked = [c for c in thread if "abandon_at" in c]
        for conversation in marked:
            if conversation.get("ticket_id") is not None:
                await self.store.tickets.update_one({"_id": conversation["ticket_id"]},
                                                    {"$unset": {"customer_left_at": ""}})
            # the conversation last: its mark is what the sweep acts on
            await self.store.conversations.update_one(
                {"_id": conversation["_id"]}, {"$unset": {"abandon_at": "", "customer_left_at": ""}}
            )
        return any(c.get("ticket_id") is not None for c in thread)

    async def _thread(self, channel: str, thread_key: str) -> list[Doc]:
        """The thread's conversations, filtered on the (channel, thread_key) index's own fields and checked here:
        secantusd-py walks a whole hinted index and plans extra conditions as a scan (a thread has few)."""
        found: list[Doc] = await self.store.conversations.find(
            {"channel": channel, "thread_key": thread_key},
            projection={"ticket_id": 1, "open": 1, "abandon_at": 1},
        ).to_list()
        return found

    async def sweep(self, now: datetime | None = None) -> int:
        """Abandon the waiting tickets of customers whose grace period ran out; returns how many.

        The lower bound is needed: every conversation without a mark has a null key in the `abandon_at`
        index, and secantusd-py walks from the index's start through all of them for an open `$lte` (the
        sweep, every 5 s, read every conversation ever opened: 18 ms of the server at 1,000, 344 ms at
        20,000; issue 13). With `$gte` the walk starts at the first real mark (tests/test_query_cost.py).
        """
        now = now or utcnow()
        due: list[Doc] = await self.store.conversations.find(
            {"abandon_at": {"$gte": EPOCH, "$lte": now}},
            projection={"abandon_at": 1, "ticket_id": 1, "channel": 1, "thread_key": 1}, limit=500
        ).to_list()
        abandoned = 0
        for conversation in due:
            # Claim it: another process's sweep, or the customer coming back, may have been first.
            claimed = await self.store.claim_by_id(self.store.conversations, conversation["_id"],
                                                   {"abandon_at": conversation["abandon_at"]},
                                                   {"$unset": {"abandon_at": ""}})
            if claimed is None or claimed.get("ticket_id") is None:
                continue
            if await self._still_here(conversation):
                continue
            if await self.tickets.abandon(claimed["ticket_id"], reason="left"):
                abandoned += 1
        return abandoned

    async def _still_here(self, conversation: Doc) -> bool:
        """A tab that was open when the customer's last known connection closed, but not yet counted (its chat
        was handed to a person a moment before, `PresenceService.customer_waiting`), is counted now: the
        customer did not leave, and the marks of the departure go."""
        if self.connected_now is None or not await self.connected_now(conversation["channel"],
                                                                       conversation["thread_key"]):
            return False
        await self.store.tickets.update_one({"_id": conversation["ticket_id"]}, {"$unset": {"customer_left_at": ""}})
        await self.store.conversations.update_one({"_id": conversation["_id"]}, {"$unset": {"customer_left_at": ""}})
        return True

    async def run(self, interval: float = 5.0) -> None:
        """Background loop: the sweep, every `interval` seconds."""
        while True:
            try:
                if count := await self.sweep():
                    log.info("departures: %d ticket(s) abandoned by customers who left the chat", count)
            except PyMongoError as exc:
                log.warning("departures: database unavailable (%s)", exc)
            await asyncio.sleep(interval)
