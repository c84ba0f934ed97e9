"""Who is connected: agents at the desk and customers in a live chat, right across tabs, processes and crashes.

Routing only hands tickets to agents marked `online`, so a wrong presence costs customers:
an agent with two tabs must stay online when one closes, and an agent whose hub process
died must not stay online for ever. The same holds for customers waiting in a live chat:
one who closed the page is gone (`hub.departures` then counts their ticket as abandoned),
one who still has another tab open is not.

Each open connection is a document that its process re-stamps every `ttl / 3`; any process
removes connections not stamped for `ttl` and recomputes what they meant. An agent's own
choice ("away" on a break) is kept apart from connections: connected and away means no new
tickets, but still at the desk.

A customer's connection is written only once it can matter: when a chat of theirs is linked to a
ticket (on connecting, or when the chat is handed to a person while the page is open,
`customer_waiting`). Most visitors only talk to the bot, and nobody counts their connections: the
document's insert and delete were two writes per visit for nothing (docs/ingest.md, "A widget visit").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pymongo.errors import PyMongoError

from hub.models import AGENTS_CHANGED, utcnow
from hub.store import Doc, ObjectId, Store

log = logging.getLogger(__name__)

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
#: What an agent may choose; `offline` follows from having no connection.
CHOICES = ("available", "away")

#: What a connection belongs to: ("agent", agent id) or ("customer", "<channel>:<thread key>").
Owner = tuple[str, ObjectId | str]
#: Whether the customer still has a live connection (asked only when it matters, see `CustomerLeft`).
StillHere = Callable[[], Awaitable[bool]]
#: Called when one of a customer's live connections is gone: (channel, thread key, still here?). The callee
#: asks `still_here` only if the customer's leaving would change something (a waiting chat): most visitors
#: never wait, and their socket's close then costs no count of the connections left.
CustomerLeft = Callable[[str, str, StillHere], Awaitable[None]]


class PresenceService:
    def __init__(self, store: Store, ttl_seconds: float = 90.0, on_customer_left: CustomerLeft | None = None) -> None:
        self.store = store
        self.ttl = timedelta(seconds=ttl_seconds)
        self.on_customer_left = on_customer_left
        #: This process: its connections are re-stamped together by `run`.
        self.instance = ObjectId()
        #: This process's open connections and whom they belong to.
        self._local: dict[ObjectId, Owner] = {}
        #: Those of them written to the store (every agent's; a customer's once it can be waiting).
        self._stamped: set[ObjectId] = set()

    # -- agents -------------------------------------------------------------------------
    async def connect(self, agent_id: ObjectId) -> ObjectId:
        """Record one open desk connection; returns its id for `disconnect`."""
        connection_id = await self._open(("agent", agent_id))
        await self.refresh(agent_id)
        return connection_id

    async def disconnect(self, connection_id: ObjectId, agent_id: ObjectId) -> None:
        await self._close(connection_id)
        await self.refresh(agent_id)

    async def choose(self, agent_id: ObjectId, choice: str) -> str:
        """The agent sets `available` or `away`; returns the resulting presence."""
        if choice not in CHOICES:
            raise ValueError(f"status must be one of {', '.join(CHOICES)}")
        await self.store.agents.update_one({"_id": agent_id}, {"$set": {"away": choice == "away"}})
        return await self.refresh(agent_id)

    async def refresh(self, agent_id: ObjectId) -> str:
        """Recompute and store one agent's presence from its live connections and its choice."""
        live = await self.store.presence.count_documents(
            {"agent_id": agent_id, "seen_at": {"$gte": utcnow() - self.ttl}}
        )
        agent = await self.store.agents.find_one({"_id": agent_id}, projection={"away": 1, "presence": 1})
        if agent is None:
            return OFFLINE
        presence = OFFLINE if not live else AWAY if agent.get("away") else ONLINE
        now = utcnow()
        update = {"presence": presence, "presence_checked_at": now}
        if agent.get("presence") != presence:
            update["presence_at"] = now  # since when: what supervisors see
        await self.store.agents.update_one({"_id": agent_id}, {"$set": update})
        if agent.get("presence") != presence:  # every process's wait estimates count the agents online
            await self.store.append_event(AGENTS_CHANGED, now, agent_id=agent_id, data={"presence": presence})
        return presence

    # -- customers in a live chat -------------------------------------------------------------
    async def customer_connected(self, channel: str, thread_key: str, *, waiting: bool = True) -> ObjectId:
        """A customer's live connection opened (a chat page); returns its id for `customer_disconnected`.
        `waiting`: a chat of the thread is linked to a ticket; if not, the connection is only remembered here
        until `customer_waiting` says it is (nothing counts a bot chat's connections)."""
        return await self._open(("customer", f"{channel}:{thread_key}"), stamp=waiting)

    async def customer_waiting(self, connection_id: ObjectId) -> bool:
        """The connection's chat was handed to a person while it was open: write it, so that closing another
        tab counts it. Returns whether it was written now (False: already written, or closed)."""
        owner = self._local.get(connection_id)
        if owner is None or connection_id in self._stamped:
            return False
        await self._stamp(connection_id, owner)
        return True

    async def customer_disconnected(self, connection_id: ObjectId, channel: str, thread_key: str) -> None:
        """That connection closed. One never written saw no chat of the thread handed to a person (on connecting,
        or since, `customer_waiting`): nothing of this customer's waits, and nothing is read."""
        written = connection_id in self._stamped
        await self._close(connection_id)
        if written:
            await self._check_customer(f"{channel}:{thread_key}")

    async def customer_connected_now(self, channel: str, thread_key: str) -> bool:
        return bool(await self.store.presence.count_documents(
            {"customer": f"{channel}:{thread_key}", "seen_at": {"$gte": utcnow() - self.ttl}}
        ))

    async def _check_customer(self, key: str) -> None:
        channel, _, thread_key = key.partition(":")
        if self.on_customer_left is not None:
            await self.on_customer_left(channel, thread_key,
                                        lambda: self.customer_connected_now(channel, thread_key))

    # -- connections ---------------------------------------------------------------------------
    async def _open(self, owner: Owner, *, stamp: bool = True) -> ObjectId:
        connection_id = ObjectId()
        self._local[connection_id] = owner
        if stamp:
            await self._stamp(connection_id, owner)
        return connection_id

    async def _close(self, connection_id: ObjectId) -> None:
        self._local.pop(connection_id, None)
        if connection_id in self._stamped:
            self._stamped.discard(connection_id)
            await self.store.presence.delete_one({"_id": connection_id})

    async def _stamp(self, connection_id: ObjectId, owner: Owner) -> None:
        kind, who = owner
        field = "agent_id" if kind == "agent" else "customer"
        self._stamped.add(connection_id)
        await self.store.presence.replace_one(
            {"_id": connection_id}, {field: who, "instance": self.instance, "seen_at": utcnow()}, upsert=True
        )
        if connection_id not in self._local:  # closed while this was written: its delete may have gone first
            await self.store.presence.delete_one({"_id": connection_id})

    async def beat(self) -> list[Owner]:
        """Stamp this process's connections, drop everyone's stale ones; returns the owners of
        dropped connections (agents' presence is recomputed, customers may have left).

        Presence of this process's agents is recomputed too: two processes refreshing one
        agent at once can leave a stale answer, and this heals it within a beat. A connection
        swept while this process could not reach the database is written back.
        """
        now = utcnow()
        stamped = await self.store.presence.update_many({"instance": self.instance}, {"$set": {"seen_at": now}})
        if stamped.matched_count < len(self._stamped):
            for connection_id in list(self._stamped):
                if (owner := self._local.get(connection_id)) is not None:
                    await self._stamp(connection_id, owner)
        for kind, who in set(self._local.values()):
            if kind == "agent":
                await self.refresh(who)  # type: ignore[arg-type]
        stale: list[Doc] = await self.store.presence.find(
            {"seen_at": {"$lt": now - self.ttl}}, projection={"agent_id": 1, "customer": 1}
        ).to_list()
        if not stale:
            return []
        await self.store.presence.delete_many({"_id": {"$in": [doc["_id"] for doc in stale]}})
        owners: set[Owner] = {("agent", d["agent_id"]) if "agent_id" in d else ("customer", d["customer"])
                              for d in stale}
        for kind, who in owners:
            if kind == "agent":
                await self.refresh(who)  # type: ignore[arg-type]
            else:
                await self._check_customer(str(who))
        return sorted(owners, key=str)

    async def run(self) -> None:
        """Background loop: heartbeat and sweep every third of the time-to-live."""
        interval = self.ttl.total_seconds() / 3
        while True:
            try:
                dropped = await self.beat()
                if dropped:
                    log.info("presence: %d connection owner(s) lost a connection that stopped beating", len(dropped))
            except PyMongoError as exc:
                log.warning("presence: database unavailable (%s)", exc)
            await asyncio.sleep(interval)
