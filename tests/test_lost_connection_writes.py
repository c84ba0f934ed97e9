"""The connection drops while the hub's writes-together command (`bulkWrite`, hub.laterwrites) is on its way.

A fail point of the server (`configureFailPoint` / `failCommand` with `closeConnection`, which secantusd-py has
behind `--enable-test-commands`, as mongod does) closes the connection when the next `bulkWrite` arrives, before
the server runs it. What must follow:
- in a transaction (an escalation's last round trip before the commit), the driver labels the network error
  `TransientTransactionError` and the whole transaction runs again: one ticket, one of each event;
- the bot's answer (no transaction) is left to recovery once its lease has run out, which answers once;
- a visitor's first message (its contact, conversation, event and message in one command), written but answered
  with an error, is found when the widget sends it again: stored once, answered once.

The retried transaction's first command carries a `readConcern` when the session is causally consistent, and
secantusd-py refuses that field on a `bulkWrite` ("BSON field 'bulkWrite.readConcern' is an unknown field"):
`Store.run_in_transaction` starts its sessions without causal consistency, and the first test fails without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from hub.models import InboundMessage, Role, Sender, utcnow
from hub.store import ObjectId
from switchboard.embedded import EmbeddedServer
from tests.conftest import login, make_settings, running
from tests.helpers import scratch_store
from tests.test_desk_feed import frames_until, watch


class BulkWrites(monitoring.CommandListener):
    """Each `bulkWrite` the client sent: the collections it wrote, whether in a transaction, and whether it
    failed."""

    def __init__(self) -> None:
        self.sent: dict[int, tuple[frozenset[str], bool]] = {}
        self.lost: list[tuple[frozenset[str], bool]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "bulkWrite":
            namespaces = frozenset(n["ns"].split(".", 1)[1] for n in event.command.get("nsInfo", []))
            self.sent[event.request_id] = (namespaces, "txnNumber" in event.command
                                           and event.command.get("autocommit") is False)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.sent.pop(event.request_id, None)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if event.request_id in self.sent:
            self.lost.append(self.sent.pop(event.request_id))


@pytest.fixture(scope="module")
async def failing_uri(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A server of this module's own that takes fail points."""
    server = EmbeddedServer(tmp_path_factory.mktemp("failpoints"), record=False,
                            extra_args=["--enable-test-commands"])
    uri = await server.start()
    yield uri
    server.stop()


async def drop_next_bulk_write(uri: str) -> None:
    """Close the connection that brings the next `bulkWrite`, once."""
    async with AsyncMongoClient(uri) as admin:
        await admin.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                                   "data": {"failCommands": ["bulkWrite"], "closeConnection": True}})


async def fail_next_bulk_write_after_it_ran(uri: str) -> None:
    """Let the next `bulkWrite` run, then answer it with an error (a write-concern error): the client cannot tell
    what was written, as when the connection drops after the server has run the command."""
    async with AsyncMongoClient(uri) as admin:
        await admin.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                                   "data": {"failCommands": ["bulkWrite"],
                                            "writeConcernError": {"code": 64, "errmsg": "waiting for replication"}}})


async def say(hub: Any, thread: str, n: int, text: str) -> None:
    """A widget customer's message, processed to its end."""
    await hub.ingest(InboundMessage(channel="widget", external_id=f"{thread}:{n}", thread_key=thread,
                                    sender=Sender(thread), text=text))
    await hub.pipeline.drain()


def only_lost(bulk: BulkWrites) -> tuple[frozenset[str], bool]:
    """The one `bulkWrite` that lost its connection: its collections, and whether it was in a transaction."""
    assert len(bulk.lost) == 1, bulk.lost
    return bulk.lost[0]


async def test_a_transaction_whose_last_write_loses_its_connection_runs_again(failing_uri: str) -> None:
    bulk = BulkWrites()
    async with scratch_store(failing_uri, "lost_txn", [bulk]) as store:
        await store.client.admin.command("ping")  # the topology known: the store sends its writes together
        tickets = store.db["tickets"]
        ticket_id = ObjectId()
        attempts = 0

        async def work(session: AsyncClientSession) -> None:
            nonlocal attempts
            attempts += 1
            await store.insert_later(tickets, {"_id": ticket_id, "number": 7}, session)
            await store.append_event("ticket.created", utcnow(), session=session, ticket_id=ticket_id)

        await drop_next_bulk_write(failing_uri)
        await store.run_in_transaction(work)
        assert bulk.lost == [(frozenset({"tickets", "events"}), True)]
        assert attempts == 2
        assert await tickets.find({}).to_list() == [{"_id": ticket_id, "number": 7}]
        assert await store.events.count_documents({"ticket_id": ticket_id}) == 1


async def test_an_escalation_whose_last_write_loses_its_connection_makes_one_ticket(
        failing_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    bulk = BulkWrites()
    async with running(make_settings(failing_uri, tmp_path), shop_bot, [bulk]) as runtime:
        hub = runtime.hub
        assert hub is not None
        store = hub.store
        await say(hub, "demo:lost", 1, "what are your opening hours")
        await drop_next_bulk_write(failing_uri)
        await say(hub, "demo:lost", 2, "I want to talk to a human")
        namespaces, in_transaction = only_lost(bulk)
        assert in_transaction and {"tickets", "events"} <= namespaces
        conversation = await store.conversations.find_one({"thread_key": "demo:lost"})
        assert conversation is not None and conversation["state"] == "escalated"
        tickets = await store.tickets.find({"contact_id": conversation["contact_id"]}).to_list()
        assert [t["_id"] for t in tickets] == [conversation["ticket_id"]]
        created = await store.events.count_documents({"type": "ticket.created", "ticket_id": tickets[0]["_id"]})
        assert created == 1
        notices = await store.messages.count_documents({"conversation_id": conversation["_id"],
                                                        "author.kind": "system"})
        assert notices == 1
        assert await store.messages.count_documents({"pending_bot": True}) == 0


async def test_a_bot_answer_that_loses_its_connection_is_answered_once_by_recovery(
        failing_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    bulk = BulkWrites()
    async with running(make_settings(failing_uri, tmp_path), shop_bot, [bulk]) as runtime:
        hub = runtime.hub
        assert hub is not None
        store = hub.store
        await store.client.admin.command("ping")
        await drop_next_bulk_write(failing_uri)
        await say(hub, "demo:answer", 1, "what are your opening hours")
        namespaces, in_transaction = only_lost(bulk)
        assert not in_transaction and {"messages", "conversations"} <= namespaces
        question = await store.messages.find_one({"external_id": "demo:answer:1"})
        assert question is not None and question["pending_bot"] is True  # nothing of the answer was written
        # The lease the message was taken with runs out (as it would after LEASE_SECONDS); recovery takes it.
        await store.messages.update_one({"_id": question["_id"]},
                                        {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}})
        assert await hub.pipeline.recover() == 1
        answers = await store.messages.find({"answer_to": question["_id"]}).to_list()
        assert len(answers) == 1 and answers[0]["author"]["kind"] == "bot"
        conversation = await store.conversations.find_one({"_id": question["conversation_id"]})
        assert conversation is not None and conversation["bot"]["turns"] == 1
        assert await store.messages.count_documents({"pending_bot": True}) == 0


async def test_a_first_message_whose_write_fails_after_it_ran_is_stored_once_when_sent_again(
        failing_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    """A visitor's first message (contact, conversation, event and message in one `bulkWrite`) is written, but the
    hub hears an error: it accepts nothing, the widget sends the same message again, and that finds what the first
    attempt stored (a duplicate, nothing written twice); recovery answers the message once."""
    async with running(make_settings(failing_uri, tmp_path), shop_bot) as runtime:
        hub = runtime.hub
        assert hub is not None
        store = hub.store
        await store.client.admin.command("ping")
        who = Sender("demo:visitor:Wc0nc3rn00First1", display_name="Wendy", probably_new=True)
        msg = InboundMessage(channel="widget", external_id="demo:wce:1", thread_key=who.external_id, sender=who,
                             text="what are your opening hours")
        await fail_next_bulk_write_after_it_ran(failing_uri)
        with pytest.raises(PyMongoError):
            await hub.ingest(msg)
        assert await store.messages.count_documents({"external_id": "demo:wce:1"}) == 1  # it ran, all of it
        again = await hub.ingest(msg)
        assert again.duplicate
        assert await store.contacts.count_documents({"identities.external_id": who.external_id}) == 1
        assert await store.conversations.count_documents({"thread_key": who.external_id}) == 1
        assert await store.events.count_documents({"type": "conversation.opened",
                                                   "contact_id": ObjectId(again.contact_id)}) == 1
        question = await store.messages.find_one({"external_id": "demo:wce:1"})
        assert question is not None and str(question["_id"]) == again.message_id
        await store.messages.update_one({"_id": question["_id"]},
                                        {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}})
        assert await hub.pipeline.recover() == 1
        assert await store.messages.count_documents({"answer_to": question["_id"]}) == 1


async def test_a_typing_hint_the_database_refuses_leaves_the_desk_feed_open(
        failing_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    """The desk's feed records the agent's typing (docs/realtime.md, "Collision"): a write the database refuses is
    answered with an error frame, the socket stays open, and the next typing is recorded."""
    async with running(make_settings(failing_uri, tmp_path), shop_bot) as runtime:
        hub = runtime.hub
        assert hub is not None and runtime.app is not None
        await hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT])
        await say(hub, "demo:typing", 1, "I want to talk to a human")
        ticket = await hub.store.tickets.find_one({})
        assert ticket is not None
        async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as http:
            await login(http, "ann", "ann's password")
            async with http.ws_connect("/api/desk/ws") as feed:
                await watch(feed, ticket)
                async with AsyncMongoClient(failing_uri) as admin:
                    await admin.admin.command({"configureFailPoint": "failCommand", "mode": "alwaysOn",  # timed out:
                                               "data": {"failCommands": ["update"], "errorCode": 50}})
                    try:
                        await feed.send_json({"type": "activity", "state": "typing"})
                        refused = await frames_until(feed, lambda f: f["type"] in ("error", "activity"))
                    finally:
                        await admin.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
                assert refused[-1] == {"type": "error", "error": "the database is unavailable; try again shortly"}
                await feed.send_json({"type": "activity", "state": "typing"})
                recorded = await frames_until(feed, lambda f: f["type"] in ("error", "activity"))
                assert recorded[-1]["type"] == "activity" and recorded[-1]["activity"]["state"] == "typing"
