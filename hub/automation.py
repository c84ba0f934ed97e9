"""Automation rules and macros: what the desk does by itself, and what an agent does in one click.

A **rule** (collection `automation_rules`, edited by admins) names an event, conditions and actions:

- events: `ticket.created` (not a ticket an agent started by writing first, hub.outbound: a rule's greeting or
  routing is for a customer's request), `customer.replied` (a customer wrote on an escalated ticket),
  `ticket.sla_warning` (hub.sla), `csat.received` (a rating), `ticket.idle` (an active ticket unchanged for
  the rule's `idle_hours`: a sweep every `idle_interval_seconds` reads those tickets by (status, updated_at));
- conditions, all of which must hold: `channels`, `queues` (any of), `tags` (all on the ticket),
  `text` (in the subject or the triggering message, case-insensitive), `attribute` + `value` (the
  customer's attribute equals), `business_hours` (`open`/`closed`: the queue's calendar now);
- actions: `queue`, `assignee` (a username; presence and capacity are respected as in a transfer),
  `tags` (added), `priority`, `status` (macros only), `response` (a canned response's shortcut: sent to the
  customer by a rule, put in the reply box by a macro), `note` (a private note), `notify` (a desk event).

Runs are driven by the realtime bus (every hub process sees every `events` and `messages` insert). The enabled
rules are cached in memory and re-read when an `automation.rules_changed` event passes, so with no rule the
bus traffic costs no database command. A matching event is claimed with an insert into `automation_runs` whose
`_id` is (rule, event): a duplicate key means another process has it, so each rule runs once per event across
processes (an idle ticket: once per rule and quiet spell). Loop guard: events and lines the automation writes
carry `by: "automation"` and are never triggers, and a ticket gets at most `max_runs_per_minute` runs a
minute. Each run writes one private line on the ticket ("Automation 'VIP email' tagged vip and moved this to
Billing") and a `ticket.automation` event.

A **macro** (collection `macros`, edited by admins and supervisors) is a set of actions an agent applies to
a ticket from its header; it uses the same executor, with the agent as the actor.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.display import person
from hub.latestread import LatestRead
from hub.metricdefs import STARTED_BY_AGENT
from hub.models import AuthorKind, TicketStatus, utcnow
from hub.realtime import Change, RealtimeBus
from hub.responses import ResponseLibrary
from hub.sla import EPOCH
from hub.store import Doc, DuplicateKeyError, ObjectId, PyMongoError, ReturnDocument, Store
from hub.ticketfields import FieldError, checked_value, shown
from hub.ticketindex import PRIORITIES
from hub.tickets import ACTIVE, TicketError, TicketService
from hub.transfers import Transfers

log = logging.getLogger(__name__)

#: Rule event -> the stored event type that triggers it (customer.replied comes from `messages`).
EVENTS = {"ticket.created": "ticket.created", "customer.replied": None,
          "ticket.sla_warning": "ticket.sla_warning", "csat.received": "ticket.rated", "ticket.idle": None}
TRIGGERS = {stored: name for name, stored in EVENTS.items() if stored}
STATUSES = tuple(s.value for s in TicketStatus)
AUTOMATION = "automation"
RULES_CHANGED = "automation.rules_changed"
MAX_TAGS = 20


class AutomationError(ValueError):
    """A rule or macro that cannot be saved or applied as given; the message says why."""


@dataclass
class Actions:
    queue: str | None = None
    assignee: str | None = None
    tags: list[str] = field(default_factory=list)
    priority: str | None = None
    status: str | None = None
    response: str | None = None
    note: str = ""
    notify: str = ""
    #: Ticket fields' values (hub.ticketfields), key -> value, checked against the definitions when saved.
    fields: dict[str, Any] = field(default_factory=dict)

    def as_doc(self) -> Doc:
        return {"queue": self.queue, "assignee": self.assignee, "tags": self.tags, "priority": self.priority,
                "status": self.status, "response": self.response, "note": self.note, "notify": self.notify,
                "fields": self.fields}


@dataclass
class Outcome:
    """What an execution did, in words for the timeline, and a canned text for the reply box (macros)."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    insert_text: str | None = None
    ticket: Doc | None = None


def _words(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _tags(raw: Any) -> list[str]:
    tags = sorted({str(t).strip().lower() for t in (raw or []) if str(t).strip()})
    if len(tags) > MAX_TAGS:
        raise AutomationError(f"tags: at most {MAX_TAGS}")
    return tags


class Automation:
    def __init__(self, store: Store, tickets: TicketService, transfers: Transfers, responses: ResponseLibrary,
                 max_runs_per_minute: int = 10, idle_interval_seconds: float = 60.0) -> None:
        self.store = store
        self.tickets = tickets
        self.transfers = transfers
        self.responses = responses
        self.max_runs_per_minute = max_runs_per_minute
        self.idle_interval_seconds = idle_interval_seconds
        self._rules: list[Doc] = []  # the enabled rules, cached
        self._reads = LatestRead()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- validation ------------------------------------------------------------------------------
    async def _actions(self, raw: Doc, *, macro: bool) -> Actions:
        actions = Actions(queue=raw.get("queue") or None, assignee=raw.get("assignee") or None,
                          tags=_tags(raw.get("tags")), priority=raw.get("priority") or None,
                          status=raw.get("status") or None, response=raw.get("response") or None,
                          note=str(raw.get("note") or "").strip(), notify=str(raw.get("notify") or "").strip())
        if actions.queue and actions.queue not in self.tickets.queues:
            raise AutomationError(f"actions.queue: no queue named {actions.queue!r}")
        if actions.assignee and await self.store.agents.find_one({"username": actions.assignee},
                                                                 projection={"_id": 1}) is None:
            raise AutomationError(f"actions.assignee: no desk user {actions.assignee!r}")
        if actions.priority and actions.priority not in PRIORITIES:
            raise AutomationError(f"actions.priority: one of {', '.join(PRIORITIES)}")
        if actions.status and (not macro or actions.status not in STATUSES):
            raise AutomationError("actions.status: only a macro sets a status (new, open, pending, solved, closed)"
                                  if not macro else f"actions.status: one of {', '.join(STATUSES)}")
        if actions.response and await self.store.responses.find_one({"shortcut": actions.response},
                                                                    projection={"_id": 1}) is None:
            raise AutomationError(f"actions.response: no canned response with shortcut {actions.response!r}")
        actions.fields = await self._field_values(raw.get("fields") or {})
        if macro and (actions.note or actions.notify):
            raise AutomationError("actions: a macro has no note or notify (the agent writes notes)")
        if not any(actions.as_doc().values()):
            raise AutomationError("actions: at least one action")
        return actions

    async def _field_values(self, raw: Doc) -> Doc:
        """The ticket fields an action sets, each value as the field takes it: a rule or a macro sets a value, it does
        not clear one (an empty value is refused with the reason)."""
        if not raw:
            return {}
        defs = await self.tickets.fields.by_key()
        out: Doc = {}
        for key, value in raw.items():
            if key not in defs:
                raise AutomationError(f"actions.fields: no ticket field {key!r}")
            try:
                out[key] = checked_value(defs[key], value)
            except FieldError as exc:
                raise AutomationError(f"actions.fields: {exc}") from exc
            if out[key] is None:
                raise AutomationError(f"actions.fields: a value for {defs[key].label}")
        return out

    def _conditions(self, raw: Doc) -> Doc:
        conditions = {
            "channels": sorted({str(c) for c in raw.get("channels") or []}),
            "queues": sorted({str(q) for q in raw.get("queues") or []}),
            "tags": _tags(raw.get("tags")),
            "text": str(raw.get("text") or "").strip().lower(),
            "attribute": str(raw.get("attribute") or "").strip(),
            "value": str(raw.get("value") or ""),
            "business_hours": raw.get("business_hours") or None,
        }
        unknown = sorted(set(conditions["queues"]) - set(self.tickets.queues))
        if unknown:
            raise AutomationError(f"conditions.queues: no queue named {', '.join(unknown)}")
        if conditions["business_hours"] not in (None, "open", "closed"):
            raise AutomationError("conditions.business_hours: open or closed")
        if conditions["value"] and not conditions["attribute"]:
            raise AutomationError("conditions.value: name the customer attribute it applies to")
        return conditions

    # -- rules -----------------------------------------------------------------------------------
    async def rules(self) -> list[Doc]:
        return await self.store.automation_rules.find({}, sort=[("name", 1)]).to_list()

    async def save_rule(self, fields: Doc, rule_id: ObjectId | None = None) -> Doc:
        event = fields.get("event")
        if event not in EVENTS:
            raise AutomationError(f"event: one of {', '.join(EVENTS)}")
        name = str(fields.get("name") or "").strip()
        if not name:
            raise AutomationError("name: required")
        idle_hours = fields.get("idle_hours")
        if (event == "ticket.idle") != (idle_hours is not None):
            raise AutomationError("idle_hours: required for ticket.idle (1-720), and only there")
        if idle_hours is not None and not 1 <= int(idle_hours) <= 720:
            raise AutomationError("idle_hours: 1-720")
        doc = {"name": name, "enabled": bool(fields.get("enabled", True)), "event": event, "idle_hours": idle_hours,
               "conditions": self._conditions(fields.get("conditions") or {}),
               "actions": (await self._actions(fields.get("actions") or {}, macro=False)).as_doc(),
               "updated_at": utcnow()}
        if rule_id is None:
            doc["_id"] = (await self.store.automation_rules.insert_one(doc)).inserted_id
        else:
            found = await self.store.automation_rules.find_one_and_update(
                {"_id": rule_id}, {"$set": doc}, return_document=ReturnDocument.AFTER)
            if found is None:
                raise AutomationError("no such rule")
            doc = found
        await self._changed()
        return doc

    async def delete_rule(self, rule_id: ObjectId) -> Doc | None:
        doc = await self.store.automation_rules.find_one_and_delete({"_id": rule_id})
        if doc is not None:
            await self._changed()
        return doc

    async def _changed(self) -> None:
        """Every process (this one included) re-reads its cache when this event passes on the bus."""
        await self.load()
        await self.store.append_event(RULES_CHANGED, utcnow(), data={"by": AUTOMATION})

    async def load(self) -> None:
        turn = self._reads.begin()
        rules = await self.store.automation_rules.find({"enabled": True}).to_list()
        if self._reads.apply(turn):  # not a reload begun before a newer one already applied (hub.latestread)
            self._rules = rules

    # -- macros ----------------------------------------------------------------------------------
    async def macros(self) -> list[Doc]:
        return await self.store.macros.find({}, sort=[("name", 1)]).to_list()

    async def save_macro(self, fields: Doc, macro_id: ObjectId | None = None) -> Doc:
        name = str(fields.get("name") or "").strip()
        if not name:
            raise AutomationError("name: required")
        doc = {"name": name, "actions": (await self._actions(fields.get("actions") or {}, macro=True)).as_doc(),
               "updated_at": utcnow()}
        if macro_id is None:
            doc["_id"] = (await self.store.macros.insert_one(doc)).inserted_id
            return doc
        found = await self.store.macros.find_one_and_update({"_id": macro_id}, {"$set": doc},
                                                            return_document=ReturnDocument.AFTER)
        if found is None:
            raise AutomationError("no such macro")
        return found

    async def delete_macro(self, macro_id: ObjectId) -> Doc | None:
        return await self.store.macros.find_one_and_delete({"_id": macro_id})

    async def apply_macro(self, macro_id: ObjectId, ticket_id: ObjectId, agent: Doc, *, supervisor: bool) -> Outcome:
        macro = await self.store.macros.find_one({"_id": macro_id})
        if macro is None:
            raise AutomationError("no such macro")
        actions = Actions(**{k: v for k, v in (macro.get("actions") or {}).items() if k in Actions.__annotations__})
        return await self.execute(ticket_id, actions, agent, any_ticket=supervisor, send_response=False, lines=True)

    # -- the executor ----------------------------------------------------------------------------
    async def execute(self, ticket_id: ObjectId, actions: Actions, actor: Doc, *, any_ticket: bool,
                      send_response: bool, lines: bool = False) -> Outcome:
        """Apply `actions` to the ticket as `actor`, each through the service a person would use. A refused
        action (an agent offline, a closed ticket) is skipped with its reason; the others still apply.
        `lines`: each change writes its own line in the ticket's timeline, as when a person makes it (a macro);
        a rule's run writes one line for all it did instead."""
        out = Outcome()
        ticket = await self.tickets.get(ticket_id)
        new_tags = sorted(set(ticket.get("tags") or []) | set(actions.tags))
        if (actions.tags and new_tags != sorted(ticket.get("tags") or [])) or actions.priority or actions.fields:
            try:
                ticket = await self.tickets.edit(ticket_id, actor, tags=new_tags if actions.tags else None,
                                                 priority=actions.priority, fields=actions.fields or None, line=lines)
                if actions.tags:
                    out.done.append("tagged " + ", ".join(actions.tags))
                if actions.priority:
                    out.done.append(f"set priority {actions.priority}")
                if actions.fields:
                    labels = {k: f.label for k, f in self.tickets.fields.live.items()}  # no read: the live copy
                    out.done += [f"set {labels.get(k, k)} to {shown(v)}" for k, v in actions.fields.items()]
            except TicketError as exc:
                out.failed.append(str(exc))
        agent_doc = await self.store.agents.find_one({"username": actions.assignee},
                                                     projection={"password_hash": 0}) if actions.assignee else None
        if actions.assignee and agent_doc is None:
            out.failed.append(f"no desk user {actions.assignee}")
        queue = actions.queue if actions.queue and actions.queue != ticket["queue"] else None
        agent_id = agent_doc["_id"] if agent_doc is not None and agent_doc["_id"] != ticket.get("assignee_id") \
            else None
        if queue or agent_id is not None:
            try:
                ticket = await self.transfers.transfer(
                    ticket_id, actor, queue=queue, agent_id=agent_id if agent_id is not None
                    else ticket.get("assignee_id") if not queue else None, any_ticket=any_ticket, line=lines)
                if queue:
                    out.done.append(f"moved this to {self.transfers.queue_title(queue)}")
                if agent_id is not None:
                    out.done.append(f"handed this to {person(agent_doc)}")
            except TicketError as exc:
                out.failed.append(str(exc))
        if actions.status and actions.status != ticket["status"]:
            try:
                ticket = await self.tickets.set_status(ticket_id, actions.status, actor, line=lines)
                out.done.append(f"set status {actions.status}")
            except TicketError as exc:
                out.failed.append(str(exc))
        if actions.response:
            response = await self.store.responses.find_one({"shortcut": actions.response})
            if response is None:
                out.failed.append(f"no canned response {actions.response}")
            else:
                customer = await self.store.contacts.find_one({"_id": ticket["contact_id"]})
                holder = await self.store.agents.find_one({"_id": ticket.get("assignee_id")}, projection={"name": 1}) \
                    if ticket.get("assignee_id") else None
                text = self.responses.render(response["text"], customer=customer, agent=holder or actor,
                                             ticket=ticket)
                if send_response:
                    try:
                        await self.tickets.reply(ticket_id, actor, text)
                        out.done.append(f"sent the reply “{response['title']}”")
                    except TicketError as exc:
                        out.failed.append(str(exc))
                else:
                    out.insert_text = text
        if actions.note:
            await self.tickets.reply(ticket_id, actor, actions.note, private=True)
            out.done.append("added a note")
        if actions.notify:
            await self.store.append_event("ticket.automation_notice", utcnow(), ticket_id=ticket_id,
                                          queue=ticket["queue"],
                                          data={"text": actions.notify, "number": ticket["number"], "by": AUTOMATION})
            out.done.append("notified the desk")
        out.ticket = ticket
        return out

    # -- running rules on events ------------------------------------------------------------------
    async def run(self, bus: RealtimeBus) -> None:
        """Follow the bus for the hub's lifetime; each triggering change is handled in its own task."""
        sub = bus.subscribe(maxsize=5000)
        idle = asyncio.create_task(self._idle_loop(), name="hub:automation idle")
        try:
            await self.load()
            while True:
                change = await sub.get()
                if change.collection == "events" and change.document.get("type") == RULES_CHANGED:
                    await self.load()
                    continue
                if not self._rules or change.operation != "insert":
                    continue  # no rule: nothing read, nothing written
                task = asyncio.create_task(self.handle(change))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            sub.close()
            idle.cancel()

    async def _idle_loop(self) -> None:
        while True:
            await asyncio.sleep(self.idle_interval_seconds)
            if any(r["event"] == "ticket.idle" for r in self._rules):
                try:
                    await self.sweep_idle()
                except PyMongoError as exc:
                    log.warning("automation: idle sweep, database unavailable (%s)", exc)

    async def sweep_idle(self, now: datetime | None = None) -> list[tuple[str, int]]:
        """Run each `ticket.idle` rule on the active tickets unchanged for its `idle_hours` at `now`; returns
        (rule, ticket number) of the runs this process made. A ticket is claimed per quiet spell (its
        `updated_at`), so racing sweeps run a rule once, and again only after the ticket changed and went quiet."""
        now = now or utcnow()
        ran: list[tuple[str, int]] = []
        for rule in [r for r in self._rules if r["event"] == "ticket.idle"]:
            cutoff = now - timedelta(hours=float(rule.get("idle_hours") or 24))
            # one status at a time: secantusd-py plans `$in` plus a range on the compound index as a scan
            idle = [t for status in ACTIVE for t in await self.store.tickets.find(
                {"status": status, "updated_at": {"$gte": EPOCH, "$lte": cutoff}}, limit=500).to_list()]
            for ticket in idle:
                if not await self._matches(rule["conditions"], ticket, ""):
                    continue
                spell = f"{ticket['_id']}@{ticket['updated_at'].isoformat()}"
                if await self._claim(rule, spell, ticket["_id"]):
                    await self._run(rule, ticket)
                    ran.append((rule["name"], ticket["number"]))
        return ran

    def _trigger(self, change: Change) -> tuple[str, ObjectId, Doc] | None:
        """(rule event, trigger id, document) of a change that can trigger rules, else None."""
        doc = change.document
        if change.collection == "events":
            name = TRIGGERS.get(str(doc.get("type")))
            data = doc.get("data") or {}
            if name is None or data.get("by") == AUTOMATION or doc.get("ticket_id") is None:
                return None
            if name == "ticket.created" and data.get("reason") == STARTED_BY_AGENT:
                return None  # an agent wrote first (hub.outbound): no customer's request for a rule to greet or route
            return name, doc["_id"], doc
        if change.collection == "messages" and (doc.get("author") or {}).get("kind") == AuthorKind.CUSTOMER.value \
                and not doc.get("private"):
            return "customer.replied", doc["_id"], doc
        return None

    async def handle(self, change: Change) -> list[str]:
        """Run every enabled rule of this change's event that matches; returns the names of the rules run here."""
        trigger = self._trigger(change)
        if trigger is None:
            return []
        event, trigger_id, doc = trigger
        rules = [r for r in self._rules if r["event"] == event]
        if not rules:
            return []
        ran: list[str] = []
        try:
            ticket_id, text = await self._ticket_of(event, doc)
            if ticket_id is None:
                return []
            for rule in rules:
                ticket = await self.store.tickets.find_one({"_id": ticket_id})
                if ticket is None or not await self._matches(rule["conditions"], ticket, text):
                    continue
                if await self._claim(rule, trigger_id, ticket_id):
                    await self._run(rule, ticket)
                    ran.append(rule["name"])
        except PyMongoError as exc:
            log.warning("automation: database unavailable (%s)", exc)
        return ran

    async def _ticket_of(self, event: str, doc: Doc) -> tuple[ObjectId | None, str]:
        """The ticket an event is about, and the text a `text` condition looks at besides the subject."""
        if event == "customer.replied":
            conversation = await self.store.conversations.find_one({"_id": doc["conversation_id"]},
                                                                   projection={"ticket_id": 1})
            ticket_id = (conversation or {}).get("ticket_id")
            if ticket_id is None:
                return None, ""
            ticket = await self.store.tickets.find_one({"_id": ticket_id}, projection={"created_at": 1})
            if ticket is None or doc["created_at"] <= ticket["created_at"]:
                return None, ""  # the message that opened the ticket is its `ticket.created`
            return ticket_id, str(doc.get("text") or "")
        if event == "ticket.created" and doc.get("conversation_id") is not None:
            said = await self.store.messages.find(
                {"conversation_id": doc["conversation_id"]}, sort=[("created_at", -1)], limit=10,
                projection={"text": 1, "author": 1}).to_list()
            return doc["ticket_id"], "\n".join(str(m.get("text") or "") for m in said
                                               if (m.get("author") or {}).get("kind") == AuthorKind.CUSTOMER.value)
        return doc["ticket_id"], ""

    async def _matches(self, c: Doc, ticket: Doc, text: str) -> bool:
        if c.get("channels") and ticket.get("channel") not in c["channels"]:
            return False
        if c.get("queues") and ticket["queue"] not in c["queues"]:
            return False
        if c.get("tags") and not set(c["tags"]) <= set(ticket.get("tags") or []):
            return False
        if c.get("text") and c["text"] not in f"{ticket.get('subject') or ''}\n{text}".lower():
            return False
        if c.get("attribute"):
            contact = await self.store.contacts.find_one({"_id": ticket["contact_id"]}, projection={"attributes": 1})
            if str(((contact or {}).get("attributes") or {}).get(c["attribute"], "")) != c.get("value", ""):
                return False
        if c.get("business_hours"):
            is_open = (await self.tickets.calendars.for_queue(ticket["queue"])).is_open(utcnow())
            if is_open != (c["business_hours"] == "open"):
                return False
        return True

    async def _claim(self, rule: Doc, trigger_id: ObjectId | str, ticket_id: ObjectId) -> bool:
        """Take this (rule, event) for this process; False: another process has it, or the ticket had its
        `max_runs_per_minute` runs (the loop guard's brake)."""
        now = utcnow()
        recent = await self.store.automation_runs.count_documents(
            {"ticket_id": ticket_id, "at": {"$gte": now - timedelta(minutes=1)}})
        if recent >= self.max_runs_per_minute:
            log.warning("automation: ticket %s had %d runs this minute; rule %r skipped", ticket_id, recent,
                        rule["name"])
            return False
        try:
            await self.store.automation_runs.insert_one(
                {"_id": f"{rule['_id']}:{trigger_id}", "rule_id": rule["_id"], "ticket_id": ticket_id, "at": now})
        except DuplicateKeyError:
            return False
        return True

    async def _run(self, rule: Doc, ticket: Doc) -> None:
        actor = {"_id": None, "name": f"Automation '{rule['name']}'", "service": True, "by": AUTOMATION}
        actions = Actions(**{k: v for k, v in (rule.get("actions") or {}).items() if k in Actions.__annotations__})
        out = await self.execute(ticket["_id"], actions, actor, any_ticket=True, send_response=True)
        summary = f"{actor['name']} " + (_words(out.done) if out.done else "changed nothing")
        if out.failed:
            summary += " (not done: " + "; ".join(out.failed) + ")"
        conversation = await self.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]})
        if conversation is not None:
            await self.tickets.outbox.post(conversation, AuthorKind.SYSTEM, summary, author_name=actor["name"],
                                           private=True, metadata={"automation": {"rule": rule["name"],
                                                                                  "summary": summary}})
        await self.store.append_event("ticket.automation", utcnow(), ticket_id=ticket["_id"], queue=ticket["queue"],
                                      data={"rule": rule["name"], "done": out.done, "failed": out.failed,
                                            "by": AUTOMATION})

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
