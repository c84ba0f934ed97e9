"""Time the hot queries at two collection sizes: a scan shows as growth, not in `explain`.

The message path's, and since 2026-12-03 also the requests that would hold up the single-threaded
embedded server for seconds as the data grows (a login, a file download, the trainer's inbox, the
audit page, a contact's export and erasure, a retention run): whatever one request costs the
database, every customer's message waits for.

secantusd-py plans some queries as index scans in `explain` and still walks a whole index (a
`hint`) or the whole collection (`_id` plus another condition). Timing each query against
1,000 and 20,000 documents catches both: a query served by its index costs the same at both sizes.
The two sizes are two databases on one server, timed run by run in turn, so that a passing slowdown
of the machine falls on both.

    python benchmarks/query_cost.py [mongodb-uri]    # default: a fresh embedded secantusd-py

prints one JSON line per query: `query`, `small_ms`, `large_ms`, `ratio` (median of several runs).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pymongo import monitoring

from bot.inbox import NLUInbox
from hub.accounts import AccountService, session_key
from hub.activity import TicketActivity
from hub.aggregates import STATE, events_read_until
from hub.audit import AuditLog, AuditQuery
from hub.conversations import ConversationService
from hub.departures import Departures
from hub.eventlog import EventLogRetention
from hub.history import Filters, HistoryService, tickets_per_assignee
from hub.login_throttle import LoginThrottle
from hub.models import InboundMessage, Sender, utcnow
from hub.outbox import Outbox
from hub.privacy import Privacy
from hub.retention import Retention, RetentionRule
from hub.sla import EPOCH, SlaWatcher
from hub.slawatch import at_risk
from hub.store import ObjectId, Store
from hub.ticketindex import TicketIndex, TicketQuery
from hub.ticketreads import TicketReads
from hub.tickets import TicketService

SMALL, LARGE = 1_000, 20_000
AGENTS = 50
BATCH = 2_000
RUNS = 7

Query = Callable[[Store, int], Awaitable[Any]]


def _docs(kind: str, start: int, count: int) -> list[dict[str, Any]]:
    """`count` documents of one collection, numbered from `start` (key `i` makes each findable)."""
    now = utcnow()
    docs: list[dict[str, Any]] = []
    for i in range(start, start + count):
        oid = ObjectId(f"{i:024x}")
        if kind == "conversations":
            # the closed half closed 100 days ago and was anonymised by retention 70 days ago
            closed = {} if i % 2 == 0 else {"closed_at": now - timedelta(days=100),
                                            "retained_at": now - timedelta(days=70)}
            docs.append({"_id": oid, "channel": "widget", "thread_key": f"v{i}", "open": i % 2 == 0,
                         "token": f"t{i}", "contact_id": ObjectId(f"{i:024x}"), "last_message_at": now, **closed})
        elif kind == "messages":
            docs.append({"_id": oid, "channel": "widget", "external_id": f"x{i}", "thread_key": f"v{i // 4}",
                         "conversation_id": ObjectId(f"{i // 4:024x}"), "created_at": now, "text": "hello " * 20,
                         **({"attachments": [{"blob_id": f"b{i}", "filename": "a.png"}]} if i % 10 == 0 else {}),
                         # twenty wait in the trainer's inbox at either size (trainers work it down)
                         **({"review": {"reason": "low_confidence", "at": now}} if i < SMALL and i % 50 == 0 else {})})
        elif kind == "contacts":
            # no search keys: the contact book's search is timed by tests/test_contact_search_cost.py, and their index
            # makes this fill the slowest (a minute more for 20,000)
            docs.append({"_id": oid, "number": i, "name": f"Customer {i}", "name_lower": f"customer {i}",
                         "emails": [f"c{i}@example.com"], "identities": [{"channel": "widget", "external_id": f"v{i}"}],
                         "created_at": now})
        elif kind == "login_throttle":  # counters of an hour of logins (a credential-stuffing run makes many)
            docs.append({"_id": f"pair:10.0.{i // 250}.{i % 250}|user{i}", "failures": i % 4,
                         "expires_at": now + timedelta(hours=1)})
        elif kind == "audit":  # the trail, one entry a minute back from now
            docs.append({"_id": oid, "at": now - timedelta(minutes=i), "action": "login" if i % 5 else "agent.updated",
                         "actor": {"id": ObjectId(f"{i % 7:024x}"), "username": f"agent{i % 7}"}, "target": None,
                         "ip": "10.0.0.1", "details": {}})
        elif kind == "sessions":  # desk sign-ins, fifty users
            docs.append({"_id": session_key(f"t{i}"), "agent_id": ObjectId(f"{i % AGENTS:024x}"), "csrf": f"c{i}",
                         "created_at": now, "expires_at": now + timedelta(days=7)})
        elif kind == "ticket_activity":  # who views a ticket: two agents on each of 1,000 tickets (a tenth, above)
            ticket, agent = ObjectId(f"{i // 2:024x}"), ObjectId(f"{i % 2:024x}")
            docs.append({"_id": f"{ticket}:{agent}", "ticket_id": ticket, "agent_id": agent,
                         "agent_name": f"agent{i % 2}", "thread_keys": [f"v{i // 2}"], "state": "viewing",
                         "viewing_until": now + timedelta(hours=2), "expires_at": now + timedelta(hours=3)})
        elif kind == "ticket_reads":  # what each of the fifty agents read, one ticket each (hub.ticketreads)
            docs.append({"_id": f"{ObjectId(f'{i % AGENTS:024x}')}:{oid}", "at": now - timedelta(hours=2),
                         "expires_at": now + timedelta(days=60)})
        elif kind == "events":  # the event log, one event a minute back from now (none due for retention)
            docs.append({"_id": oid, "type": "ticket.created", "at": now - timedelta(minutes=i), "ticket_id": oid})
        elif kind == "tickets":
            docs.append({"_id": oid, "number": i, "contact_id": ObjectId(f"{i:024x}"),
                         "status": "solved" if i % 3 else "open", "queue": "general", "created_at": now,
                         "updated_at": now,
                         "conversation_ids": [oid], "assignee_id": None,
                         # the SLA watcher's wake-up time: active tickets only, one a minute from now on
                         **({} if i % 3 else {"sla_next": now + timedelta(minutes=i // 3)})})
        else:  # outbox: delivered entries, what a busy hub accumulates
            docs.append({"_id": oid, "message_id": oid, "conversation_id": ObjectId(f"{i // 4:024x}"),
                         "channel": "widget", "status": "sent", "attempts": 1,
                         "next_attempt_at": now - timedelta(minutes=5), "created_at": now})
    return docs


def _agents_tickets() -> list[dict[str, Any]]:
    """Open tickets of the fifty agents, four each, a customer having written since each was given to them, thirty
    mentioning agent 0 and thirty more followed by agent 0 (hub.ticketreads), the same at either size; numbered apart
    from the others."""
    now = utcnow()
    docs = []
    for k in range(4 * AGENTS):
        i = 10**8 + k
        docs.append({"_id": ObjectId(f"{i:024x}"), "number": i, "contact_id": ObjectId(f"{i:024x}"), "status": "open",
                     "queue": "general", "created_at": now, "updated_at": now, "conversation_ids": [],
                     "assignee_id": ObjectId(f"{k % AGENTS:024x}"), "assigned_at": now - timedelta(hours=1),
                     "last_customer_message_at": now,
                     **({"mentioned": {"ids": [ObjectId(f"{0:024x}")], "at": now, "by": ObjectId(f"{1:024x}")}}
                        if k < 30 else {}),
                     **({"followers": [ObjectId(f"{0:024x}")]} if 30 <= k < 60 else {})})
    return docs


async def fill(store: Store, start: int, end: int) -> None:
    """Grow each hot collection to `end` documents, in batches (bounded memory and runtime)."""
    # Desk sign-ins first, and a tenth as many (2,000 at the large size: a big desk's week): a collection just
    # filled, or one more of 20,000 under the server's TTL sweep, slowed whatever query came next in trials.
    # The same for who views which ticket (2,000 records: a thousand tickets viewed by two agents each within the
    # records' few minutes): filled last and to 20,000, every command on it took 13-14 ms more in two runs of the
    # suite of 2026-12-06 (an update by `_id` alone among them), and after a checkpoint too.
    for kind in ("sessions", "ticket_activity"):
        for first in range(start // 10, end // 10, BATCH):
            await store.db[kind].insert_many(_docs(kind, first, min(BATCH, end // 10 - first)), ordered=False)
    for kind in ("conversations", "messages", "tickets", "outbox", "contacts", "login_throttle", "audit", "events",
                 "ticket_reads"):
        for first in range(start, end, BATCH):
            await store.db[kind].insert_many(_docs(kind, first, min(BATCH, end - first)), ordered=False)
    if start == 0:
        await store.tickets.insert_many(_agents_tickets(), ordered=False)
        # a colleague solved three tickets of each agent's this week (hub.donenews): notes on solved tickets
        await store.done_news.insert_many([
            {"_id": f"{ObjectId(f'{a:024x}')}:{ObjectId(f'{t:024x}')}", "agent_id": ObjectId(f"{a:024x}"),
             "ticket_id": ObjectId(f"{t:024x}"), "at": utcnow(), "expires_at": utcnow() + timedelta(days=7)}
            for a in range(AGENTS) for t in (3 * a + 1, 3 * a + 2, 3 * a + 4)], ordered=False)
        await store.agents.insert_many([{"_id": ObjectId(f"{i:024x}"), "username": f"agent{i}", "roles": ["agent"]}
                                        for i in range(AGENTS)])


async def _claim(store: Store, i: int) -> Any:
    """The outbox worker's claim of one due entry (the real `Outbox._claim`)."""
    await store.outbox.insert_one({"message_id": ObjectId(), "conversation_id": ObjectId(), "channel": "widget",
                                   "status": "pending", "attempts": 0, "next_attempt_at": utcnow(),
                                   "created_at": utcnow()})
    claimed, _seen_all = await Outbox(store, {})._claim()
    assert len(claimed) == 1
    await store.outbox.update_one({"_id": claimed[0]["_id"]}, {"$set": {"status": "sent"}})


async def _idle_claim(store: Store, i: int) -> Any:
    """The claim the worker makes when nothing is due (every `outbox.poll_seconds`, on every hub)."""
    assert await Outbox(store, {})._claim() == ([], True)


async def _lane_ahead(store: Store, i: int) -> Any:
    """Before a delivery: an unsent entry of the same conversation queued before it (the real `Outbox._ahead`)."""
    entry = await store.outbox.find_one({"_id": ObjectId(f"{i:024x}")})
    assert entry is not None and await Outbox(store, {})._ahead(entry) is None  # its conversation's are all sent


async def _tickets_by_contact(store: Store, i: int) -> Any:
    """The contact's active ticket, as escalation looks it up (the real `TicketService.active_ticket`)."""
    return await TicketService(store, Outbox(store, {}), {}, "general").active_ticket(ObjectId(f"{i:024x}"))


async def _waiting_ticket(store: Store, i: int) -> Any:
    """The oldest unassigned ticket of a queue, as routing looks it up (same shape as hub.routing)."""
    return await store.tickets.find_one({"status": "new", "queue": "general", "assignee_id": None},
                                        sort=[("status", 1), ("queue", 1), ("created_at", 1)])


async def _message_claim(store: Store, i: int) -> Any:
    """The pipeline's lease on one stored message before it decides (the shape of hub.pipeline `process`)."""
    oid = ObjectId(f"{i:024x}")
    await store.messages.update_one({"_id": oid}, {"$set": {"pending_bot": True}, "$unset": {"lease_until": ""}})
    message = await store.messages.find_one({"_id": oid})
    assert message is not None
    taken = await store.messages.update_one(
        {"_id": oid, "pending_bot": True, "lease_until": message.get("lease_until")},
        {"$set": {"lease_until": utcnow() + timedelta(seconds=60)}})
    assert taken.modified_count == 1


async def _bot_turn(store: Store, i: int) -> Any:
    """The bot's turn on its conversation, guarded against a repeat (the shape of hub.pipeline `_answer`)."""
    oid, mark = ObjectId(f"{i:024x}"), ObjectId()
    done = await store.conversations.update_one(
        {"_id": oid, "bot.last_message_id": {"$ne": mark}},
        {"$set": {"bot.last_message_id": mark}, "$inc": {"bot.turns": 1}, "$max": {"last_message_at": utcnow()}})
    assert done.modified_count == 1


async def _ticket_take(store: Store, i: int) -> Any:
    """Routing assigning one ticket if still unassigned (`Store.claim_by_id`, as hub.routing `_take`)."""
    oid = ObjectId(f"{i:024x}")
    taken = await store.claim_by_id(store.tickets, oid, {"assignee_id": None}, {"$set": {"assignee_id": oid}})
    assert taken is not None
    await store.tickets.update_one({"_id": oid}, {"$set": {"assignee_id": None}})


async def _ticket_touch(store: Store, i: int) -> Any:
    """A customer message wakes its ticket (`Store.claim_by_id` with no condition, as hub.tickets)."""
    assert await store.claim_by_id(store.tickets, ObjectId(f"{i:024x}"), {}, {"$set": {"updated_at": utcnow()}})


async def _ticket_status_change(store: Store, i: int) -> Any:
    """An agent setting an open ticket pending and back (the real `TicketService.set_status`; its write was a
    findAndModify until 2026-12-03: 120 ms at 20,000 tickets)."""
    tickets = TicketService(store, Outbox(store, {}), {}, "general")
    oid = ObjectId(f"{(i // 3) * 3:024x}")  # every third ticket is open
    await tickets.set_status(oid, "pending", None)
    await tickets.set_status(oid, "open", None)


async def _ticket_rating(store: Store, i: int) -> Any:
    """A customer rating a solved ticket, once (the real `TicketService.rate`: a conditional write by `_id`;
    a hinted findAndModify until 2026-12-03: 370 ms at 20,000 tickets)."""
    oid = ObjectId(f"{(i // 3) * 3 + 1:024x}")  # solved
    await TicketService(store, Outbox(store, {}), {}, "general").rate(oid, 5)
    await store.tickets.update_one({"_id": oid}, {"$set": {"csat": None}})


async def _previous_tickets(store: Store, i: int) -> Any:
    """The contact's tickets beside an opened ticket (the shape of agents_ui.desk `ticket_detail`; hinted until
    2026-12-03)."""
    return await store.tickets.find(
        {"contact_id": ObjectId(f"{i:024x}")}, projection={"number": 1, "subject": 1, "status": 1, "created_at": 1},
        sort=[("contact_id", 1), ("created_at", -1)], limit=21).to_list()


async def _sla_due(store: Store, i: int) -> Any:
    """The SLA watcher's round: the tickets whose next warning or breach is due (as hub.sla `run_once`)."""
    return await store.tickets.find({"sla_next": {"$gte": EPOCH, "$lte": utcnow()}}, limit=200).to_list()


async def _sla_nearest(store: Store, i: int) -> Any:
    """The SLA watcher's wake-up time: the nearest `sla_next` within its longest sleep (the real `next_due`)."""
    return await SlaWatcher(store, None).next_due(utcnow())


async def _automation_idle(store: Store, i: int) -> Any:
    """The automation's idle sweep: active tickets unchanged for 4 hours (as hub.automation `sweep_idle`)."""
    cutoff = utcnow() - timedelta(hours=4)
    return [t for status in ("new", "open", "pending") for t in await store.tickets.find(
        {"status": status, "updated_at": {"$gte": EPOCH, "$lte": cutoff}}, limit=500).to_list()]


async def _departures_sweep(store: Store, i: int) -> Any:
    """The departures sweep (every 5 s, on every hub), over conversations nobody left (the real `sweep`)."""
    tickets = TicketService(store, Outbox(store, {}), {}, "general")
    assert await Departures(store, tickets).sweep() == 0


async def _login_attempt(store: Store, i: int) -> Any:
    """A failed desk login's counting (the real `LoginThrottle`: admit, then the failure) and a right one's, each
    attempt from its own address: one shared address reached its limit of failures once the runs were timed again
    (`measure(suspect=...)`), and the throttle then refused the login instead of counting it."""
    throttle = LoginThrottle(store)
    ip = f"10.7.{i // 256 % 256}.{i % 256}"
    keys = await throttle.admit(f"newcomer{i}", ip)
    await throttle.failed(keys)
    await throttle.succeeded(f"newcomer{i}", ip, await throttle.admit(f"newcomer{i}", ip))


async def _privacy_export(store: Store, i: int) -> Any:
    """A contact's data export (the real `Privacy.export`: contact, conversations, messages, tickets)."""
    assert await Privacy(store, None, AuditLog(store)).export(ObjectId(f"{i:024x}"))


#: A contact not yet erased for each run (both sizes), whose conversation has its messages at both sizes
#: (conversation i holds messages 4i to 4i + 3): contacts 900 on had none at 1,000, four at 20,000, and the
#: erasure's work on them read as growth.
_erased = iter(range(150, 250))


async def _privacy_erase(store: Store, i: int) -> Any:
    """A contact's erasure (the real `Privacy.erase`)."""
    assert not (await Privacy(store, None, AuditLog(store)).erase(ObjectId(f"{next(_erased):024x}"))).already


async def _retention_run(store: Store, i: int) -> Any:
    """The nightly retention job when what is due was anonymised on earlier nights (the real `run_once`)."""
    privacy = Privacy(store, None, AuditLog(store))
    run = await Retention(store, privacy, [RetentionRule("widget", 30)], holder="bench").run_once()
    assert run.ran and run.conversations == 0


async def _event_log_trim(store: Store, i: int) -> Any:
    """The event log's hourly retention when nothing new is due (the real `EventLogRetention.run`)."""
    await store.db[STATE].update_one({"_id": "events"}, {"$set": {"at": utcnow()}}, upsert=True)
    trim = EventLogRetention(store, 30, lambda: events_read_until(store))
    assert await trim.run(utcnow(), _still_mine) == 0


async def _conversation_with_contact(store: Store, i: int) -> Any:
    visitor = f"v{2 * (i // 2)}"  # the even conversations are open
    found = await ConversationService(store).open_with_contact(InboundMessage(
        channel="widget", external_id=f"q{i}", thread_key=visitor, sender=Sender(visitor), text="hello"))
    assert found is not None and found[1] is not None and found[1]["identities"][0]["external_id"] == visitor
    return found


_ACCOUNTS: dict[int, AccountService] = {}  # one per database, as in a hub (its password hashing pool is dear to make)


async def _session_with_agent(store: Store, i: int) -> Any:
    """What every desk request asks first: the cookie's session and its user (the real `AccountService.session`)."""
    accounts = _ACCOUNTS.get(id(store))
    if accounts is None:
        accounts = _ACCOUNTS[id(store)] = AccountService(store)
    info = await accounts.session(f"t{i % (SMALL // 10)}")
    assert info is not None and info.agent["username"] == f"agent{i % (SMALL // 10) % AGENTS}"
    return info


async def _ticket_with_parts(store: Store, i: int) -> Any:
    """The desk's ticket page: the ticket, its contact and its conversations (the real `TicketService.with_parts`)."""
    ticket, contact, conversations = await TicketService(store, Outbox(store, {}), {}, "general").with_parts(
        ObjectId(f"{i:024x}"))
    assert contact is not None and contact["number"] == i and [c["_id"] for c in conversations] == [ticket["_id"]]
    return ticket


async def _activity_report(store: Store, i: int) -> Any:
    """A desk's "viewing" on a ticket two agents are on: its record written, then the ticket's records read (the
    real `TicketActivity.report`; its read by `_id` until 2026-12-06, the others in a second request)."""
    k = i % (SMALL // 10)  # the records are filled at a tenth of the size, as the sign-ins are
    ticket = {"_id": ObjectId(f"{k // 2:024x}"), "conversation_ids": []}
    reported = await TicketActivity(store).report(ticket, {"_id": ObjectId(f"{k % 2:024x}"), "name": "A"}, "viewing")
    assert reported.mine["state"] == "viewing" and len(reported.others) == 1, reported


async def _still_mine() -> bool:
    return True


QUERIES: dict[str, Query] = {
    # a desk signing in: the agent's tickets with news not read since (the real `TicketReads.unread`: their active
    # tickets, those mentioning them, those they follow, their notes of tickets a colleague solved and those by
    # `_id`, their reads of all these by `_id`)
    "unread_for_agent": lambda s, i: TicketReads(s).unread(ObjectId(f"{(i * 7) % AGENTS:024x}")),
    # the desk's "Following" list: the tickets agent 0 follows (thirty), by the `followers` index, then the page's
    "following_list": lambda s, i: TicketIndex(s).search(TicketQuery(follower=ObjectId(f"{0:024x}"))),
    "conversation_by_thread": lambda s, i: s.conversations.find_one(
        {"channel": "widget", "thread_key": f"v{i}", "open": True}),
    "conversation_by_id": lambda s, i: s.conversations.find_one({"_id": ObjectId(f"{i:024x}")}),
    # a follow-up's one read: the thread's open conversation and its contact, a `$lookup` by `_id`
    # (hub.conversations `open_with_contact`, 2026-12-05; two finds before)
    "conversation_with_contact": _conversation_with_contact,
    # every desk request's sign-in check: the session and its user, a `$lookup` by `_id` (hub.accounts `session`,
    # 2026-12-06; two finds before); 100 and 2,000 sessions
    "session_with_agent": _session_with_agent,
    # the history aggregates' batch pass: the tickets, conversations and contributions it names, read together
    # (hub.aggregates `_parts`, `_look`; a read per record until 2026-12-04)
    "conversations_by_ids": lambda s, i: s.conversations.find(
        {"_id": {"$in": [ObjectId(f"{(i + 7 * k) % 1000:024x}") for k in range(50)]}},
        projection={"closed_at": 1, "channel": 1}).to_list(),
    # a widget visitor (re)connecting or leaving: the thread's conversations (hub.departures `_thread`)
    "thread_conversations": lambda s, i: s.conversations.find(
        {"channel": "widget", "thread_key": f"v{i}"}, projection={"ticket_id": 1, "open": 1, "abandon_at": 1}
    ).to_list(),
    "message_by_external_id": lambda s, i: s.messages.find_one(
        {"channel": "widget", "external_id": f"x{i}"}, projection={"conversation_id": 1, "contact_id": 1}),
    "messages_by_conversation": lambda s, i: s.messages.find(
        {"conversation_id": ObjectId(f"{i // 4:024x}")}, sort=[("created_at", 1), ("_id", 1)], limit=1000).to_list(),
    # the widget's history for a (re)connecting or polling visitor (channels.widget.http `_history`; hinted until
    # 2026-12-03: 444 ms at 20,000 messages)
    "widget_history": lambda s, i: s.messages.find(
        {"conversation_id": {"$in": [ObjectId(f"{i // 4 + k:024x}") for k in range(3)]},
         "created_at": {"$gte": utcnow() - timedelta(minutes=5)}},
        sort=[("created_at", 1), ("_id", 1)], limit=1000).to_list(),
    # the question an unhelpful answer answered (hub.pipeline `_answered_question`; hinted until 2026-12-03)
    "answered_question": lambda s, i: s.messages.find(
        {"conversation_id": ObjectId(f"{i // 4:024x}"), "created_at": {"$lte": utcnow()}},
        projection={"_id": 1, "direction": 1}, sort=[("conversation_id", 1), ("created_at", -1)]).to_list(),
    "tickets_by_contact": _tickets_by_contact,
    # the desk's ticket page: the ticket, its contact and conversations, two `$lookup`s by `_id` (hub.tickets
    # `with_parts`, 2026-12-06; three finds before)
    "ticket_with_parts": _ticket_with_parts,
    "activity_report": _activity_report,
    "previous_tickets": _previous_tickets,
    "ticket_status_change": _ticket_status_change,
    "ticket_rating": _ticket_rating,
    "waiting_ticket": _waiting_ticket,
    "ticket_take": _ticket_take,
    "ticket_touch": _ticket_touch,
    "message_claim": _message_claim,
    "bot_turn": _bot_turn,
    "outbox_claim": _claim,
    "outbox_idle_claim": _idle_claim,
    "outbox_lane_ahead": _lane_ahead,
    "sla_due": _sla_due,
    "sla_nearest": _sla_nearest,
    "automation_idle": _automation_idle,
    "departures_sweep": _departures_sweep,
    # the supervisor's live view: tickets about to breach SLA (hub.slawatch); a scan would walk every ticket
    "tickets_at_risk": lambda s, i: at_risk(s),
    # a desk user or a visitor opening a file: the message holding it (`Store.messages_with_file`; hinted until
    # 2026-12-03: 1.1 s at 20,000 messages)
    "attachment_owner": lambda s, i: s.messages_with_file(f"b{(i // 10) * 10}"),
    "login_attempt": _login_attempt,
    # the trainer's inbox: its first page, its counts, one item (bot.inbox; hinted until 2026-12-03)
    "trainer_inbox": lambda s, i: NLUInbox(s).list(),
    "trainer_inbox_counts": lambda s, i: NLUInbox(s).counts(),
    "trainer_inbox_item": lambda s, i: NLUInbox(s).get(str(ObjectId(f"{(i // 50) * 50:024x}"))),
    # the audit page, newest first, and filtered by an action (the real `AuditLog.page`; one sorted query and a
    # count until 2026-12-03: 1.2 s and 1.0 s at 20,000 entries)
    "audit_page": lambda s, i: AuditLog(s).page(AuditQuery()),
    "audit_page_by_action": lambda s, i: AuditLog(s).page(AuditQuery(action="agent.updated")),
    "privacy_export": _privacy_export,
    "privacy_erase": _privacy_erase,
    # every hub's look, every 30 s, at contacts erased in the last ten minutes (none here: the audit trail's read)
    "erasure_follow_up": lambda s, i: Privacy(s, None, AuditLog(s)).follow_up(utcnow() + timedelta(days=1)),
    "retention_run": _retention_run,
    "event_log_trim": _event_log_trim,
    # the history's occupancy: active tickets per agent, grouped by the database, one status at a time (none
    # is pending here: an index finds none at once, a scan reads every ticket)
    "pending_per_assignee": lambda s, i: tickets_per_assignee(s, "pending"),
    # the history's open bot chats, counted on (state, started_at) (none here: same reasoning)
    "history_bot_open": lambda s, i: HistoryService(s, {}).bot_open(utcnow() - timedelta(days=90), utcnow(),
                                                                     Filters()),
}


async def _time_pair(small: Store, large: Store, query: Query, shift: int = 0) -> tuple[float, float]:
    """Median milliseconds of one query at each size over RUNS runs, the two sizes taking turns run by run
    (each run on another document of the first 1,000; `shift` moves a series to other documents).

    Taking turns puts a passing slowdown of a shared machine (another process's burst, the server's TTL
    sweep, a collection in the client) on both sizes alike, where timing all of one size and then all of
    the other put it on one size only and read as growth."""
    await query(small, 1)  # warm the connections and the plans
    await query(large, 1)
    samples: dict[int, list[float]] = {SMALL: [], LARGE: []}
    for run in range(RUNS):
        i = (run * 37 + shift) % SMALL
        for store, size in ((small, SMALL), (large, LARGE))[::1 if run % 2 == 0 else -1]:
            started = time.perf_counter()
            await query(store, i)
            samples[size].append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[SMALL]), statistics.median(samples[LARGE])


class _Commands(monitoring.CommandListener):
    """Each command's name and milliseconds, for the breakdown of a query that still looks grown."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name != "endSessions":  # the client closing, not the query
            self.rows.append((event.command_name, round(event.duration_micros / 1000, 2)))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.rows.append((f"{event.command_name} (failed)", round(event.duration_micros / 1000, 2)))


async def _commands(uri: str, db_name: str, query: Query, i: int) -> list[tuple[str, float]]:
    """The commands of one run of `query` on `db_name` with their server times: which of them grew."""
    listener = _Commands()
    store = Store(uri, db_name, event_listeners=[listener])
    try:
        await query(store, i)
    finally:
        await store.close()
    return listener.rows


async def measure(uri: str, db_name: str = "query_cost",
                  suspect: Callable[[float, float], bool] | None = None,
                  retimes: int = 2) -> list[dict[str, Any]]:
    """Fill one database to SMALL and another to LARGE, time every query at both sizes; one row per query.

    With `suspect(small_ms, large_ms)`, a query it flags is timed again up to `retimes` times and keeps
    its series with the lowest ratio (`retimed` in its row says how often): a scan is slow every time,
    while a passing stall of the shared server slows one series, not three. A query still flagged gets
    `commands`: each command of one run at each size with its time, so a failure says which one grew.
    """
    names = {SMALL: f"{db_name}_small", LARGE: f"{db_name}_large"}
    stores = {size: Store(uri, name) for size, name in names.items()}
    rows = []
    try:
        for size, store in stores.items():
            await store.client.drop_database(names[size])
            await store.ensure_indexes()
            await fill(store, 0, size)
        for name, query in QUERIES.items():
            small_ms, large_ms = await _time_pair(stores[SMALL], stores[LARGE], query)
            retimed = 0
            while suspect is not None and suspect(small_ms, large_ms) and retimed < retimes:
                retimed += 1
                again = await _time_pair(stores[SMALL], stores[LARGE], query, shift=101 * retimed + 3)
                if again[1] / max(again[0], 1e-6) < large_ms / max(small_ms, 1e-6):
                    small_ms, large_ms = again
            row: dict[str, Any] = {"query": name, "small_docs": SMALL, "large_docs": LARGE,
                                   "small_ms": round(small_ms, 3), "large_ms": round(large_ms, 3),
                                   "ratio": round(large_ms / max(small_ms, 1e-6), 2), "retimed": retimed}
            if suspect is not None and suspect(small_ms, large_ms):
                row["commands"] = {str(size): await _commands(uri, names[size], query, 500) for size in (SMALL, LARGE)}
            rows.append(row)
        for size, store in stores.items():
            await store.client.drop_database(names[size])
    finally:
        for store in stores.values():
            await store.close()
    return rows


async def main() -> None:
    if len(sys.argv) > 1:
        rows = await measure(sys.argv[1])
    else:
        from switchboard.embedded import fresh_server

        async with fresh_server() as uri:
            rows = await measure(uri)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    asyncio.run(main())
