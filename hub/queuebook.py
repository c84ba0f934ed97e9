"""The queue book: queue definitions stored in the database, edited by admins, followed by every process.

A queue is one document in `queues` (`name`: a slug that never changes, plus the fields of
`hub.tickets.QueueConfig`). The configuration's `queues` seed it: a queue named there is stored
the first time a hub sees that name and never overwritten afterwards, so an admin's edit survives
restarts (the names seeded so far are kept in `settings`, `_id: "queue_seed"`: a queue an admin
deleted does not come back either).

Two facts live elsewhere, with one source of truth each:

- **members**: the agents' own `queues` lists (an agent with none serves every queue). The book
  reads and writes them; routing reads them as it always did.
- **calendar**: the business-hours calendars' `queues` lists (hub.sla.Calendars). The book moves a
  queue from one calendar to another.

Every process keeps the definitions in memory (`TicketService.queues`, one dict shared with the
metrics and the history), so escalation and routing read no queue from the database. A change
re-reads the book and appends a `queues.changed` event: every other process re-reads its copy
when that event passes on its realtime bus (the change stream), through a hook on the bus
(`RealtimeBus.on_event`) rather than a subscriber woken up by every message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, fields
from typing import Any

from hub.latestread import LatestRead
from hub.models import utcnow
from hub.store import Doc, Store
from hub.ticketfields import FIELDS_CHANGED
from hub.tickets import ACTIVE, QueueConfig

log = logging.getLogger(__name__)

QUEUES_CHANGED = "queues.changed"
SEED_ID = "queue_seed"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ROUTING_MODES = ("manual", "least_busy")
REPLY_AFTER_CLOSE = ("reopen", "new")
#: The stored fields of a queue (besides `name`); `calendar` is the calendars' own list.
STORED = tuple(f.name for f in fields(QueueConfig) if f.name not in ("name", "calendar"))


class QueueError(ValueError):
    """A queue that cannot be saved or deleted as asked; the message says why."""


class QueueNotFound(QueueError):
    pass


def stored_fields(q: QueueConfig) -> Doc:
    """The document fields of a definition (everything but the name and the calendar)."""
    shape = asdict(q)
    return {k: shape[k] for k in STORED}


def from_doc(doc: Doc, calendar: str = "") -> QueueConfig:
    defaults = QueueConfig(name=doc["name"])
    known = {k: doc[k] for k in STORED if doc.get(k) is not None}
    return QueueConfig(**{**asdict(defaults), **known, "name": doc["name"], "calendar": calendar})


def check(q: QueueConfig, names: set[str]) -> None:
    """The rules a definition keeps, whoever saves it (desk, CLI, seed); raises QueueError with the reason."""
    if not SLUG.match(q.name):
        raise QueueError(f"name: {q.name!r} is not a slug (lowercase letters, digits, - and _, up to 40)")
    if q.routing not in ROUTING_MODES:
        raise QueueError(f"routing: {q.routing!r} is not one of {', '.join(ROUTING_MODES)}")
    if q.on_reply_after_close not in REPLY_AFTER_CLOSE:
        raise QueueError(f"on_reply_after_close: {q.on_reply_after_close!r} is not reopen or new")
    if not 0 < q.service_level_goal <= 1:
        raise QueueError("service_level_goal: a share above 0 and at most 1 (0.8 for 80 %)")
    if not 0 < q.sla_warning_ratio < 1:
        raise QueueError("sla_warning_ratio: a share between 0 and 1")
    for key in ("answer_target_seconds", "first_response_sla_seconds", "resolution_sla_seconds"):
        if getattr(q, key) <= 0:
            raise QueueError(f"{key}: a positive number of seconds")
    for key in ("auto_transfer_seconds", "sla_warning_seconds", "max_per_agent"):
        if getattr(q, key) < 0:
            raise QueueError(f"{key}: zero (off) or a positive number of seconds")
    if q.fallback_queue:
        if q.fallback_queue == q.name:
            raise QueueError("fallback_queue: a queue cannot fall back to itself")
        if q.fallback_queue not in names:
            raise QueueError(f"fallback_queue: no queue named {q.fallback_queue!r}")


class QueueBook:
    def __init__(self, store: Store, live: dict[str, QueueConfig] | None = None, default_queue: str = "",
                 calendars: Any = None) -> None:
        self.store = store
        #: The live definitions: in the hub, the very dict TicketService, metrics and history read
        #: (updated in place); a command line's own dict otherwise.
        self.live: dict[str, QueueConfig] = {} if live is None else live
        self.default_queue = default_queue
        #: hub.sla.Calendars whose cache is dropped on a reload (a queue may have changed calendar).
        self.calendars = calendars
        self._reads = LatestRead()

    # -- start-up ----------------------------------------------------------------------------------
    async def seed(self, configured: dict[str, QueueConfig]) -> list[str]:
        """Store each configured queue this database has never seen. Returns the names stored now."""
        seen = await self.store.settings.find_one({"_id": SEED_ID}) or {}
        already = set(seen.get("names") or [])
        added = []
        for q in configured.values():
            if q.name in already:
                continue
            now = utcnow()
            result = await self.store.queues.update_one(
                {"name": q.name},
                {"$setOnInsert": {"name": q.name, **stored_fields(q), "created_at": now, "updated_at": now}},
                upsert=True)
            if result.upserted_id is not None:
                added.append(q.name)
        new = sorted(set(configured) - already)
        if new:
            await self.store.settings.update_one({"_id": SEED_ID}, {"$addToSet": {"names": {"$each": new}}},
                                                 upsert=True)
        return added

    async def load(self) -> dict[str, QueueConfig]:
        """Re-read every definition into the live copy (in place, unless a read begun later was applied
        already: hub.latestread) and return it."""
        turn = self._reads.begin()
        calendars = {q: doc["_id"] async for doc in self.store.calendars.find({}, projection={"queues": 1})
                     for q in doc.get("queues") or []}
        docs = await self.store.queues.find({}, sort=[("name", 1)]).to_list()
        fresh = {d["name"]: from_doc(d, calendars.get(d["name"], "")) for d in docs}
        if fresh and self._reads.apply(turn):
            self.live.clear()
            self.live.update(fresh)
        if self.calendars is not None:
            self.calendars._loaded_at = None  # a queue may have changed calendar
        return self.live

    def follow(self, bus: Any) -> None:
        """Re-read the definitions whenever any process announces a change (its `queues.changed` event on
        the change stream): a hook on the bus, not a subscriber woken up by every message."""
        bus.reload_on(QUEUES_CHANGED, self.load, "queue book")

    # -- reading -----------------------------------------------------------------------------------
    async def list(self) -> list[Doc]:
        """Every queue as the admin page shows it: definition, calendar, members, open tickets."""
        await self.load()
        agents = [a for a in await self.store.agents.find({}, projection={"username": 1, "name": 1, "queues": 1,
                                                                          "roles": 1, "disabled": 1}).to_list()
                  if "agent" in (a.get("roles") or [])]
        result = []
        for q in self.live.values():
            result.append({**self.describe(q), "members": members_of(q.name, agents),
                           # by name, as the page shows them
                           "all_queue_agents": sorted(a.get("name") or a["username"] for a in agents
                                                      if not a.get("queues") and not a.get("disabled")),
                           "open_tickets": await self.open_tickets(q.name)})
        return result

    def describe(self, q: QueueConfig) -> Doc:
        return {"name": q.name, **stored_fields(q), "calendar": q.calendar}

    async def get(self, name: str) -> Doc:
        await self.load()
        q = self.live.get(name)
        if q is None:
            raise QueueNotFound(f"no queue named {name!r}")
        agents = await self.store.agents.find({"queues": name}, projection={"username": 1, "queues": 1}).to_list()
        return {**self.describe(q), "members": members_of(name, agents)}

    async def open_tickets(self, name: str) -> int:
        return await self.store.tickets.count_documents({"status": {"$in": ACTIVE}, "queue": name})

    # -- changes -----------------------------------------------------------------------------------
    async def save(self, name: str, values: Doc, *, create: bool) -> tuple[Doc | None, Doc]:
        """Create or update a queue from `values` (any QueueConfig field, plus `members` and `calendar`;
        a field left out keeps its value). Returns (before, after) as `get` shows them."""
        await self.load()
        exists = name in self.live
        if create and exists:
            raise QueueError(f"name: a queue named {name!r} exists already")
        if not create and not exists:
            raise QueueNotFound(f"no queue named {name!r}")
        before = await self.get(name) if exists else None
        base = asdict(self.live[name]) if exists else asdict(QueueConfig(name=name))
        unknown = set(values) - set(base) - {"members"}
        if unknown:
            raise QueueError(f"{sorted(unknown)[0]}: not a queue field")
        q = QueueConfig(**{**base, **{k: v for k, v in values.items() if k != "members"}, "name": name})
        check(q, set(self.live) | {name})
        if q.calendar and await self.store.calendars.find_one({"_id": q.calendar}, projection={"_id": 1}) is None:
            raise QueueError(f"calendar: no calendar named {q.calendar!r}")
        members = values.get("members")
        plan = []
        if members is not None:
            await self._check_members(members)
            plan = await self._member_plan(name, members)
        now = utcnow()
        update: Doc = {"$set": {**stored_fields(q), "updated_at": now}}
        if create:
            update["$setOnInsert"] = {"created_at": now}
        await self.store.queues.update_one({"name": name}, update, upsert=create)
        if before is None or before["calendar"] != q.calendar:
            await self._move_calendar(name, q.calendar)
        for agent_id, queues in plan:
            await self.store.agents.update_one({"_id": agent_id}, {"$set": {"queues": queues}})
        await self._changed()
        return before, await self.get(name)

    async def delete(self, name: str) -> Doc:
        """Remove a queue; refused while it has open tickets, is the default or another queue's fallback, or
        is the only queue a ticket field belongs to (the field would then be on no ticket, or on every one)."""
        before = await self.get(name)
        if name == self.default_queue:
            raise QueueError(f"{name!r} is the default queue (default_queue in the configuration)")
        falling = sorted(q.name for q in self.live.values() if q.fallback_queue == name)
        if falling:
            raise QueueError(f"{', '.join(falling)} fall back to {name!r}: change their fallback first")
        waiting = await self.open_tickets(name)
        if waiting:
            raise QueueError(f"{name!r} has {waiting} open ticket(s): move them to another queue first")
        fields = [f for f in await self.store.ticket_fields.find({"queues": name}).to_list() if not f.get("deleted_at")]
        only = sorted(f["label"] for f in fields if len(f["queues"]) == 1)
        if only:
            raise QueueError(f"{', '.join(only)} belong{'s' if len(only) == 1 else ''} to {name!r} alone: "
                             "give the field other queues, or every queue, first")
        await self.store.queues.delete_one({"name": name})
        if fields:  # the other queues keep them
            await self.store.ticket_fields.update_many({"queues": name}, {"$pull": {"queues": name}})
            await self.store.append_event(FIELDS_CHANGED, utcnow(), data={"by": "queuebook"})
        await self._move_calendar(name, "")
        # An agent whose only queue this was keeps the name (an empty list would mean "every queue").
        async for agent in self.store.agents.find({"queues": name}, projection={"queues": 1}):
            if len(agent["queues"]) > 1:
                await self.store.agents.update_one({"_id": agent["_id"]}, {"$pull": {"queues": name}})
        await self._changed()
        return before

    async def _changed(self) -> None:
        await self.load()
        await announce(self.store)

    async def _move_calendar(self, name: str, calendar: str) -> None:
        await self.store.calendars.update_many({"queues": name}, {"$pull": {"queues": name}})
        if calendar:
            await self.store.calendars.update_one({"_id": calendar}, {"$addToSet": {"queues": name}})

    async def _check_members(self, usernames: list[str]) -> None:
        found = {a["username"] async for a in self.store.agents.find({"username": {"$in": list(usernames)}},
                                                                      projection={"username": 1})}
        missing = sorted(set(usernames) - found)
        if missing:
            raise QueueError(f"members: no user named {', '.join(missing)}")

    async def check_members(self, name: str, usernames: list[str]) -> None:
        """Raises QueueError when these members cannot be set (an unknown user, someone's last queue)."""
        await self._check_members(usernames)
        await self._member_plan(name, usernames)

    async def _member_plan(self, name: str, usernames: list[str]) -> list[tuple[Any, list[str]]]:
        """The agents' new lists that make exactly these agents list the queue. An agent with no list
        serves every queue already and stays so; an agent whose only queue this is cannot be removed
        here (an empty list would make them serve every queue): give them another queue first."""
        wanted = set(usernames)
        plan: list[tuple[Any, list[str]]] = []
        async for agent in self.store.agents.find({}, projection={"username": 1, "name": 1, "queues": 1}):
            queues = list(agent.get("queues") or [])
            if agent["username"] in wanted and queues and name not in queues:
                plan.append((agent["_id"], sorted({*queues, name})))
            elif agent["username"] not in wanted and name in queues:
                if len(queues) == 1:
                    queue = self.live.get(name)
                    raise QueueError(f"members: {agent.get('name') or agent['username']} serves only "
                                     f"{(queue.title if queue else None) or name}; give them another queue first")
                plan.append((agent["_id"], [n for n in queues if n != name]))
        return plan


async def announce(store: Store) -> None:
    """Tell every hub process to re-read its queues (and its calendars' cache), through the event log."""
    await store.append_event(QUEUES_CHANGED, utcnow(), data={"by": "queuebook"})


def members_of(name: str, agents: list[Doc]) -> list[str]:
    """The usernames that list this queue (agents with no list serve every queue and are shown apart)."""
    return sorted(a["username"] for a in agents if name in (a.get("queues") or []))

