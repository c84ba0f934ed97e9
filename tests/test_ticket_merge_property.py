"""Property: random sequences of customer messages, agent replies, transfers, contact merges, ticket merges and
splits never lose a message, never leave a ticket on a missing contact, and keep every conversation on exactly
one live ticket (a merged ticket is closed, holds none and points along a chain to a live one).

A real hub and database; hypothesis draws the sequences (few examples, short sequences: seconds). The hub's
refusals are checked against the rule: a ticket merge is refused exactly when it is into itself, from or into a
merged ticket, into a closed one, or across two contacts.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from hub.contactbook import ContactError
from hub.models import InboundMessage, Role
from hub.store import ObjectId
from hub.ticketmerge import MergeRefused
from hub.tickets import QueueConfig, TicketError
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import make_settings
from tests.test_contact_merge_property import CUSTOMERS, TEXTS, customers


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["billing"] = QueueConfig(name="billing", title="Billing")
    return settings


WRITE = st.tuples(st.just("write"), st.integers(0, CUSTOMERS - 1), st.sampled_from(TEXTS))
ops = st.lists(st.one_of(
    WRITE, WRITE,
    st.tuples(st.just("reply"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("transfer"), st.integers(0, 5), st.sampled_from(["general", "billing"])),
    st.tuples(st.just("contacts"), st.integers(0, CUSTOMERS - 1), st.integers(0, CUSTOMERS - 1)),
    st.tuples(st.just("merge"), st.integers(0, 7), st.integers(0, 7)),
    st.tuples(st.just("merge"), st.integers(0, 7), st.integers(0, 7)),
    st.tuples(st.just("split"), st.integers(0, 7), st.integers(0, 7)),
    st.tuples(st.just("close"), st.integers(0, 7), st.just(0)),
), min_size=8, max_size=18)


def merge_refusal(source: dict[str, Any], target: dict[str, Any]) -> bool:
    """The rule the hub must follow (hub.ticketmerge.refuse_merge)."""
    return (source["_id"] == target["_id"] or source.get("merged_into") is not None
            or target.get("merged_into") is not None or target["status"] == "closed"
            or source["contact_id"] != target["contact_id"])


@examples(max_examples=8, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=ops)
@example(steps=[  # two tickets of one person after a contact merge, merged; a split; writes after both
    ("write", 0, "I want to talk to a human"), ("write", 1, "I want to talk to a human"), ("write", 1, "thanks"),
    ("merge", 0, 1), ("contacts", 0, 1), ("merge", 1, 0), ("write", 0, "where is my order 4471"),
    ("write", 1, "hello"), ("split", 0, 2), ("reply", 0, False), ("merge", 2, 0), ("close", 0, 0),
    ("merge", 1, 0), ("write", 1, "me again")])
async def test_ticket_merges_and_splits_keep_every_message_on_one_live_ticket(runtime: Runtime,
                                                                             steps: list[Any]) -> None:
    hub = runtime.hub
    assert hub is not None
    boss = await hub.store.agents.find_one({"username": "boss"}) or await hub.accounts.create(
        "boss", "boss's long password", name="Boss", roles=[Role.AGENT, Role.SUPERVISOR])
    people = customers(uuid.uuid4().hex[:10])
    written: dict[ObjectId, str] = {}
    contact_ids: set[ObjectId] = set()

    async def contact_of(i: int) -> ObjectId | None:
        found = await hub.contacts._by_identity(people[i][0], people[i][1].external_id)
        return found["_id"] if found else None

    async def my_tickets() -> list[dict[str, Any]]:
        ids = {c for c in [await contact_of(i) for i in range(CUSTOMERS)] if c}
        return await hub.store.tickets.find({"contact_id": {"$in": list(ids)}}, sort=[("number", 1)]).to_list()

    for kind, a, b in steps:
        tickets = await my_tickets()
        if kind == "write":
            channel, sender = people[a]
            result = await hub.ingest(InboundMessage(channel=channel, external_id=uuid.uuid4().hex,
                                                     thread_key=sender.external_id, sender=sender, text=b))
            await hub.pipeline.drain()
            written[ObjectId(result.message_id)] = b
            contact_ids.add(ObjectId(result.contact_id))
        elif kind == "reply" and tickets:
            try:
                message = await hub.tickets.reply(tickets[a % len(tickets)]["_id"], boss, f"reply {len(written)}",
                                                  private=b)
                written[message["_id"]] = message["text"]
            except TicketError as exc:
                assert "merged into" in str(exc)
        elif kind == "transfer" and tickets:
            try:
                await hub.transfers.transfer(tickets[a % len(tickets)]["_id"], boss, queue=b, any_ticket=True)
            except TicketError:
                pass  # already there, or not active: nothing moved
        elif kind == "contacts":
            ca, cb = await contact_of(a), await contact_of(b)
            if ca and cb:
                try:
                    await hub.merges.merge(ca, cb, boss)
                except ContactError:
                    pass  # the contact merge property test checks these refusals
        elif kind == "close" and tickets:
            try:
                await hub.tickets.set_status(tickets[a % len(tickets)]["_id"], "closed", boss)
            except TicketError as exc:
                assert "merged into" in str(exc)
        elif kind == "merge" and tickets:
            source, target = tickets[a % len(tickets)], tickets[b % len(tickets)]
            refused = merge_refusal(source, target)
            try:
                await hub.ticket_merges.merge(source["_id"], target["_id"], boss)
            except MergeRefused as exc:
                assert refused, f"#{source['number']} into #{target['number']} refused: {exc}"
                event("ticket merge refused")
                continue
            assert not refused, f"#{source['number']} into #{target['number']} accepted but must be refused"
            event("ticket merge accepted")
        elif kind == "split" and tickets:
            ticket = tickets[a % len(tickets)]
            mine = await hub.store.messages.find({"conversation_id": {"$in": ticket["conversation_ids"]}},
                                                 sort=[("created_at", 1), ("_id", 1)]).to_list()
            if mine:
                try:
                    await hub.ticket_merges.split(ticket["_id"], mine[b % len(mine)]["_id"], boss)
                    event("split accepted")
                except MergeRefused:
                    event("split refused")

    # no message lost or changed (a split moves one, whole)
    stored = {m["_id"]: m for m in await hub.store.messages.find({"_id": {"$in": list(written)}}).to_list()}
    assert set(stored) == set(written)
    assert all(stored[i]["text"] == text for i, text in written.items())
    tickets = await my_tickets()
    by_id = {t["_id"]: t for t in tickets}
    contacts = {c["_id"] for c in await hub.store.contacts.find(
        {"_id": {"$in": [t["contact_id"] for t in tickets]}, "merged_into": None}, projection={"_id": 1}).to_list()}
    holders: dict[ObjectId, ObjectId] = {}
    for ticket in tickets:
        assert ticket["contact_id"] in contacts, f"#{ticket['number']} points to a missing or merged-away contact"
        if ticket.get("merged_into") is not None:
            assert ticket["status"] == "closed" and ticket["conversation_ids"] == []
            survivor = ticket
            for _ in range(len(tickets)):
                if survivor.get("merged_into") is None:
                    break
                survivor = by_id[survivor["merged_into"]]
            assert survivor.get("merged_into") is None, "a merge chain without a live end"
        for conversation_id in ticket["conversation_ids"]:
            assert conversation_id not in holders, "a conversation on two tickets"
            holders[conversation_id] = ticket["_id"]
    # every escalated conversation (and so every message in it) is on exactly the ticket it says
    conversations = await hub.store.conversations.find({"contact_id": {"$in": list(contacts)}}).to_list()
    for conversation in conversations:
        if conversation.get("ticket_id") is not None:
            assert holders.get(conversation["_id"]) == conversation["ticket_id"], conversation["_id"]
    assert set(holders) <= {c["_id"] for c in conversations}
