"""Upgrades: a database written by the previous release is migrated on start and served.

The fixture is a backup of a database the release of 2026-11-30 wrote (tests/fixtures/README.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.migrations import (
    MIGRATIONS,
    OLD_TICKET_WORD_INDEXES,
    SCHEMA_ID,
    SCHEMA_VERSION,
    UNUSED_EVENT_INDEXES,
    SchemaTooNew,
    mark_current,
    migrate,
    schema_version,
)
from hub.models import utcnow
from hub.store import ObjectId, Store
from switchboard.backup import restore_backup
from switchboard.config import Settings
from tests.conftest import http_client, login, running

FIXTURE = Path(__file__).parent / "fixtures" / "release-2026-11-30.sbbackup"
ADMIN_PASSWORD = "NxzDwsD3h1pcMmm5"  # the password the old release generated for that database


@pytest.fixture
async def old_store(settings: Settings) -> AsyncIterator[Store]:
    """The settings' (empty) database holding what the previous release wrote."""
    store = Store(settings.mongodb_uri or "", settings.db_name)
    await restore_backup(store, FIXTURE)
    yield store
    await store.client.drop_database(settings.db_name)
    await store.close()


async def test_the_previous_release_has_no_schema_version_and_lacks_the_new_fields(old_store: Store) -> None:
    """What the migrations are for (if the fixture changed, these tests would prove nothing)."""
    assert await schema_version(old_store) is None
    assert await old_store.tickets.count_documents({"keys": {"$exists": True}}) == 0
    assert await old_store.contacts.count_documents({"name": {"$regex": "^demo:visitor:"}}) == 1
    assert "login_failures" in await old_store.db.list_collection_names()


async def test_migrations_bring_it_to_the_current_schema_once(old_store: Store) -> None:
    for keys in ([("type", 1), ("at", 1)], [("ticket_id", 1), ("at", 1)]):  # what the old release's start built
        await old_store.events.create_index(keys)
    ran = await migrate(old_store)
    assert ran == [m.name for m in MIGRATIONS]
    assert await schema_version(old_store) == SCHEMA_VERSION
    assert await old_store.tickets.count_documents({"keys": None}) == 0
    assert await old_store.contacts.count_documents({"name": {"$regex": "^demo:visitor:"}}) == 0
    assert "login_failures" not in await old_store.db.list_collection_names()
    assert not set(UNUSED_EVENT_INDEXES) & set(await old_store.events.index_information())
    assert await migrate(old_store) == []  # idempotent: a second start does nothing


async def test_tickets_words_move_to_documents_of_their_own(old_store: Store) -> None:
    """A database of the release before migration 9: each ticket's words on it, indexed there, no word
    documents. After it, every ticket's words are in one word document (live while it is active), the old
    indexes are gone, and the desk finds a ticket by a word again."""
    await migrate(old_store)
    await old_store.ticket_words.delete_many({})
    for field in ("words", "active_words"):
        await old_store.tickets.create_index([(field, 1), ("number", -1)])
    await old_store.settings.update_one({"_id": SCHEMA_ID}, {"$set": {"version": 8}})
    tickets = await old_store.tickets.find({}).to_list()
    assert tickets and all(t["words"] for t in tickets)
    assert await migrate(old_store) == [m.name for m in MIGRATIONS if m.version >= 9]
    assert not set(OLD_TICKET_WORD_INDEXES) & set(await old_store.tickets.index_information())
    docs = {d["ticket_id"]: d async for d in old_store.ticket_words.find({})}
    assert await old_store.ticket_words.count_documents({}) == len(docs) == len(tickets)
    for t in tickets:
        assert docs[t["_id"]]["words"] == t["words"] and docs[t["_id"]]["number"] == t["number"]
        assert docs[t["_id"]]["live_words"] == (t["words"] if t["status"] in ("new", "open", "pending") else [])
    from hub.ticketindex import TicketIndex, TicketQuery

    statuses = ["new", "open", "pending", "solved", "closed"]
    found = await TicketIndex(old_store).search(TicketQuery(text=tickets[0]["words"][0], statuses=statuses))
    assert tickets[0]["number"] in [t["number"] for t in found.tickets]


async def test_tickets_live_copy_of_their_words_becomes_a_flag(old_store: Store) -> None:
    """A database of the release before migration 10: each ticket carries its words twice, the second copy
    (`active_words`) while it is active. After it, the copy is gone and `words_live` says whether the
    ticket's word documents are live; a live search finds an active ticket by a word, and not a solved one."""
    from hub.ticketindex import ACTIVE, TicketIndex, TicketQuery

    await migrate(old_store)
    tickets = await old_store.tickets.find({}).to_list()
    for t in tickets:
        active = t["status"] in ACTIVE
        await old_store.tickets.update_one({"_id": t["_id"]}, {"$set": {"active_words": t["words"] if active else []},
                                                                "$unset": {"words_live": ""}})
    await old_store.settings.update_one({"_id": SCHEMA_ID}, {"$set": {"version": 9}})
    assert {t["status"] in ACTIVE for t in tickets} == {True, False}
    assert await migrate(old_store) == [m.name for m in MIGRATIONS if m.version >= 10]
    for t in await old_store.tickets.find({}).to_list():
        assert "active_words" not in t and t["words_live"] is (t["status"] in ACTIVE), t["status"]
    for t in tickets:
        found = await TicketIndex(old_store).search(TicketQuery(text=str(t["number"])))
        assert ([x["number"] for x in found.tickets] == [t["number"]]) is (t["status"] in ACTIVE)
    assert await migrate(old_store) == []


async def test_customers_channel_addresses_leave_the_event_log(old_store: Store) -> None:
    """A database of the release before migration 11: the handoff event of an SMS chat names the customer's
    number in its thread key. After it, only the chat widget's handoff events keep theirs (its sockets follow
    them); nothing else of the events changes."""
    await migrate(old_store)
    await old_store.settings.update_one({"_id": SCHEMA_ID}, {"$set": {"version": 10}})
    at = utcnow()
    sms, widget = ObjectId(), ObjectId()
    await old_store.events.insert_many([
        {"_id": sms, "type": "conversation.handoff", "at": at, "ticket_id": ObjectId(), "channel": "sms",
         "thread_key": "+15550100|+15550199", "queue": "general", "data": {"reason": "asked"}},
        {"_id": widget, "type": "conversation.handoff", "at": at, "ticket_id": ObjectId(), "channel": "widget",
         "thread_key": "demo:visitor:abc", "queue": "general", "data": {"reason": "asked"}},
    ])
    assert await migrate(old_store) == [MIGRATIONS[-1].name]
    left = {e["_id"]: e async for e in old_store.events.find({"_id": {"$in": [sms, widget]}})}
    assert "thread_key" not in left[sms] and left[sms]["channel"] == "sms" and left[sms]["data"] == {"reason": "asked"}
    assert left[widget]["thread_key"] == "demo:visitor:abc"
    assert await migrate(old_store) == []


async def test_a_migration_stopped_halfway_finishes_on_the_next_start(old_store: Store) -> None:
    """The first migration did part of its work and the process died before the version moved."""
    [ticket, *_] = await old_store.tickets.find({}).to_list()
    from hub.ticketindex import TicketIndex

    await TicketIndex(old_store).refresh(ticket["_id"])
    assert await schema_version(old_store) is None
    assert await migrate(old_store) == [m.name for m in MIGRATIONS]
    assert await old_store.tickets.count_documents({"keys": None}) == 0


async def test_two_processes_starting_at_once_migrate_once(old_store: Store, settings: Settings) -> None:
    other = Store(settings.mongodb_uri or "", settings.db_name)
    try:
        first, second = await asyncio.gather(migrate(old_store, poll_seconds=0.05),
                                             migrate(other, poll_seconds=0.05))
    finally:
        await other.close()
    assert sorted([first, second], key=len) == [[], [m.name for m in MIGRATIONS]]
    assert await schema_version(old_store) == SCHEMA_VERSION


async def test_a_database_from_a_newer_release_is_refused(old_store: Store) -> None:
    await old_store.settings.update_one({"_id": SCHEMA_ID}, {"$set": {"version": SCHEMA_VERSION + 1}}, upsert=True)
    with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1}, written by a newer Switchboard"):
        await migrate(old_store)


async def test_a_database_marked_current_is_not_migrated(old_store: Store) -> None:
    """What a bulk load in the current shape does (`switchboard bench reports`): the old documents stay as they
    are, since marking promises they are already in the current shape."""
    await mark_current(old_store)
    assert await schema_version(old_store) == SCHEMA_VERSION
    assert await migrate(old_store) == []
    assert await old_store.tickets.count_documents({"keys": {"$exists": True}}) == 0


async def test_a_fresh_database_starts_at_the_current_schema(settings: Settings) -> None:
    store = Store(settings.mongodb_uri or "", settings.db_name)
    try:
        assert len(await migrate(store)) == len(MIGRATIONS)  # each finds nothing to do
        assert await schema_version(store) == SCHEMA_VERSION
        assert await migrate(store) == []
    finally:
        await store.client.drop_database(settings.db_name)
        await store.close()


async def test_the_hub_serves_the_old_database_after_starting_on_it(old_store: Store, settings: Settings,
                                                                   shop_bot: Any) -> None:
    """Start the current hub on it: the old tickets are listed, searchable, and named for people."""
    async with running(settings, shop_bot) as rt, http_client(rt) as client:
        await login(client, "admin", ADMIN_PASSWORD)
        solved = await (await client.get("/api/tickets", params={"status": "solved", "q": "parcel"})).json()
        assert [t["subject"] for t in solved["tickets"]] == ["I want to talk to a human"]
        active = await (await client.get("/api/tickets")).json()
        [damaged] = active["tickets"]
        detail = await (await client.get(f"/api/tickets/{damaged['id']}")).json()
        assert detail["contact"]["display_name"] == "Chloe Martin"
        files = [a for m in detail["messages"] for a in m.get("attachments") or []]
        assert [f["filename"] for f in files] == ["damaged.png"]
        photo = await client.get(f"/api/attachments/{files[0]['blob_id']}")
        assert photo.status == 200 and (await photo.read()).startswith(b"\x89PNG")
        # The supervisor history counts the old tickets (migration 5 built its buckets).
        history = await (await client.get("/api/metrics/history", params={
            "from": "2026-12-01T00:00:00+00:00", "to": "2026-12-03T00:00:00+00:00"})).json()
        assert history["totals"]["escalated"] == 2 and history["totals"]["solved"] == 1
        assert rt.hub is not None
        anonymous = await rt.hub.store.contacts.find_one({"identities.external_id": {"$regex": "^demo:visitor:"},
                                                         "name": None, "emails": []})
        assert anonymous is not None


async def test_serve_on_a_newer_database_exits_with_one_line(tmp_path: Path) -> None:
    from switchboard.embedded import EmbeddedServer, free_port
    from tests.test_cli import spawn_serve, start_serve, stop_serve

    data_dir = tmp_path / "var"
    proc, _banner = await start_serve(data_dir, free_port())
    assert await stop_serve(proc) == 0
    server = EmbeddedServer(data_dir, record=False)
    store = Store(await server.start(), "switchboard")
    await store.settings.update_one({"_id": SCHEMA_ID}, {"$set": {"version": SCHEMA_VERSION + 1}})
    await store.close()
    server.stop()
    proc = await spawn_serve(data_dir, free_port())
    output = (await asyncio.wait_for(proc.communicate(), timeout=120))[0].decode()
    assert proc.returncode == 1, output
    assert output.strip().splitlines()[-1].startswith(f"switchboard: the database has schema version "
                                                      f"{SCHEMA_VERSION + 1}, written by a newer Switchboard")
    assert "Traceback" not in output


async def test_queues_of_the_previous_release_become_full_definitions_that_seeding_leaves_alone(
        old_store: Store, settings: Settings) -> None:
    """Migration 7: the old release stored part of each queue and rewrote it from the configuration at every
    start; now the configuration fills in the rest once, and the names count as seeded."""
    [old] = [q async for q in old_store.queues.find({"name": "orders"})]
    assert "fallback_queue" not in old and "resolution_sla_seconds" not in old
    await migrate(old_store, settings.queues)
    orders = await old_store.queues.find_one({"name": "orders"})
    assert orders is not None and orders["fallback_queue"] == "" and orders["escalation_message"] == ""
    assert orders["answer_target_seconds"] == settings.queues["orders"].answer_target_seconds
    seeded = await old_store.settings.find_one({"_id": "queue_seed"})
    assert seeded is not None and "orders" in seeded["names"]
