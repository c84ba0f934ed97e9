"""Agent presence from live desk connections, kept right across tabs, processes and crashes.

Routing only hands tickets to agents marked `online`, so a wrong presence costs customers:
an agent with two tabs must stay online when one closes, and an agent whose hub process
died must not stay online for ever. Each open desk connection is a document that its
process re-stamps every `ttl / 3`; any process removes connections not stamped for `ttl`
and recomputes the owners' presence. An agent's own choice ("away" on a break) is kept
apart from connections: connected and away means no new tickets, but still at the desk.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from pymongo.errors import PyMongoError

from hub.models import utcnow
from hub.store import Doc, ObjectId, Store

log = logging.getLogger(__name__)

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
#: What an agent may choose; `offline` follows from having no connection.
CHOICES = ("available", "away")


class PresenceService:
    def __init__(self, store: Store, ttl_seconds: float = 90.0) -> None:
        self.store = store
        self.ttl = timedelta(seconds=ttl_seconds)
        #: This process: its connections are re-stamped together by `run`.
        self.instance = ObjectId()
        #: This process's open connections (connection id -> agent id).
        self._local: dict[ObjectId, ObjectId] = {}

    async def connect(self, agent_id: ObjectId) -> ObjectId:
        """Record one open desk connection; returns its id for `disconnect`."""
        connection_id = ObjectId()
        self._local[connection_id] = agent_id
        await self._stamp(connection_id, agent_id)
        await self.refresh(agent_id)
        return connection_id

    async def disconnect(self, connection_id: ObjectId, agent_id: ObjectId) -> None:
        self._local.pop(connection_id, None)
        await self.store.presence.delete_one({"_id": connection_id})
        await self.refresh(agent_id)

    async def _stamp(self, connection_id: ObjectId, agent_id: ObjectId) -> None:
        await self.store.presence.replace_one(
            {"_id": connection_id},
            {"agent_id": agent_id, "instance": self.instance, "seen_at": utcnow()},
            upsert=True,
        )

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
        return presence

    async def beat(self) -> list[ObjectId]:
        """Stamp this process's connections, drop everyone's stale ones; returns agents whose
        connections were dropped.

        Presence of this process's agents is recomputed too: two processes refreshing one
        agent at once can leave a stale answer, and this heals it within a beat. A connection
        swept while this process could not reach the database is written back.
        """
        now = utcnow()
        stamped = await self.store.presence.update_many({"instance": self.instance}, {"$set": {"seen_at": now}})
        if stamped.matched_count < len(self._local):
            for connection_id, agent_id in list(self._local.items()):
                await self._stamp(connection_id, agent_id)
        for agent_id in set(self._local.values()):
            await self.refresh(agent_id)
        stale: list[Doc] = await self.store.presence.find(
            {"seen_at": {"$lt": now - self.ttl}}, projection={"agent_id": 1}
        ).to_list()
        agents = list({doc["agent_id"] for doc in stale})
        if stale:
            await self.store.presence.delete_many({"_id": {"$in": [doc["_id"] for doc in stale]}})
            for agent_id in agents:
                await self.refresh(agent_id)
        return agents

    async def run(self) -> None:
        """Background loop: heartbeat and sweep every third of the time-to-live."""
        interval = self.ttl.total_seconds() / 3
        while True:
            try:
                dropped = await self.beat()
                if dropped:
                    log.info("presence: %d agent(s) lost a connection that stopped beating", len(dropped))
            except PyMongoError as exc:
                log.warning("presence: database unavailable (%s)", exc)
            await asyncio.sleep(interval)
