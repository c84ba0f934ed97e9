"""Property: random sequences of customer messages, agent replies, ticket transfers and contact merges never
lose a message, never leave a ticket, conversation or message on a missing or merged-away contact, and
join contacts exactly as the merges that succeeded say (two different verified identities never join).

A real hub and database; hypothesis draws the sequences (few examples, short sequences: seconds).
Each example has its own customers, so examples share the hub without seeing each other's people.
"""

from __future__ import annotations

import uuid
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from hub.contactbook import ContactConflict, ContactError
from hub.models import InboundMessage, Role, Sender
from hub.store import ObjectId
from hub.ticketindex import words_of
from hub.tickets import QueueConfig, TicketError
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import make_settings

CUSTOMERS = 6
#: Customers 3 and 4 are two signed-in users of the demo site who gave the same (verified) address.
VERIFIED = (3, 4)
TEXTS = ("hello", "I want to talk to a human", "where is my order 4471", "thanks")
_phones = count(1_000_000)


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["billing"] = QueueConfig(name="billing", title="Billing")
    return settings


def customers(tag: str) -> list[tuple[str, Sender]]:
    shared = f"shared-{tag}@example.com"
    return [
        ("email", Sender(f"pat-{tag}@example.com", display_name="Pat Doe")),
        ("widget", Sender(f"demo:visitor:{tag}", display_name="Pat")),
        ("sms", Sender(f"+49151{next(_phones)}")),
        ("widget", Sender(f"demo:user:{tag}-3", email=shared, email_verified=True)),
        ("widget", Sender(f"demo:user:{tag}-4", email=shared, email_verified=True)),
        ("telegram", Sender(f"77{next(_phones)}", display_name="Pat on Telegram")),
    ]


WRITE = st.tuples(st.just("write"), st.integers(0, CUSTOMERS - 1), st.sampled_from(TEXTS))
ops = st.lists(st.one_of(
    WRITE, WRITE,
    st.tuples(st.just("reply"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("transfer"), st.integers(0, 5), st.sampled_from(["general", "billing"])),
    st.tuples(st.just("merge"), st.integers(0, CUSTOMERS - 1), st.integers(0, CUSTOMERS - 1)),
), min_size=6, max_size=16)


class People:
    """The test's own model of who is one person: joined only by merges the hub accepted."""

    def __init__(self) -> None:
        self.parent = list(range(CUSTOMERS))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            i = self.parent[i]
        return i

    def group(self, i: int) -> set[int]:
        return {j for j in range(CUSTOMERS) if self.find(j) == self.find(i)}

    def refuses(self, a: int, b: int) -> bool:
        joined = self.group(a) | self.group(b)
        return self.find(a) == self.find(b) or set(VERIFIED) <= joined

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(b)] = self.find(a)


@examples(max_examples=8, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=ops)
@example(steps=[  # the verified pair refused directly and through a merged group; writes and moves after merges
    ("write", 0, "I want to talk to a human"), ("write", 1, "hello"), ("write", 3, "I want to talk to a human"),
    ("write", 4, "hello"), ("merge", 2, 3), ("merge", 0, 1), ("reply", 0, False), ("merge", 0, 2),
    ("transfer", 0, "billing"), ("merge", 1, 3), ("merge", 0, 1), ("write", 1, "me again"), ("write", 3, "still me"),
    ("reply", 1, True)])
async def test_merges_transfers_and_replies_keep_every_message_and_contact(runtime: Runtime,
                                                                          steps: list[Any]) -> None:
    hub = runtime.hub
    assert hub is not None
    boss = await hub.store.agents.find_one({"username": "boss"}) or await hub.accounts.create(
        "boss", "boss's long password", name="Boss", roles=[Role.AGENT, Role.SUPERVISOR])
    tag = uuid.uuid4().hex[:10]
    people = customers(tag)
    model = People()
    first_contact: dict[int, ObjectId] = {}
    written: dict[ObjectId, str] = {}  # every message this example stored, and its text

    async def contact_of(i: int) -> ObjectId | None:
        found = await hub.contacts._by_identity(people[i][0], people[i][1].external_id)
        return found["_id"] if found else None

    async def my_tickets() -> list[dict[str, Any]]:
        ids = {c for c in [await contact_of(i) for i in range(CUSTOMERS)] if c}
        return await hub.store.tickets.find({"contact_id": {"$in": list(ids)}}, sort=[("number", 1)]).to_list()

    for step in steps:
        kind = step[0]
        if kind == "write":
            _, i, text = step
            channel, sender = people[i]
            result = await hub.ingest(InboundMessage(channel=channel, external_id=uuid.uuid4().hex,
                                                     thread_key=sender.external_id, sender=sender, text=text))
            await hub.pipeline.drain()
            written[ObjectId(result.message_id)] = text
            first_contact.setdefault(i, ObjectId(result.contact_id))
        elif kind == "reply":
            tickets = await my_tickets()
            if tickets:
                ticket = tickets[step[1] % len(tickets)]
                message = await hub.tickets.reply(ticket["_id"], boss, f"reply {len(written)}", private=step[2])
                written[message["_id"]] = message["text"]
        elif kind == "transfer":
            tickets = [t for t in await my_tickets() if t["status"] in ("new", "open", "pending")]
            if tickets:
                try:
                    await hub.transfers.transfer(tickets[step[1] % len(tickets)]["_id"], boss, queue=step[2],
                                                 note="moved by the property test", any_ticket=True)
                    event("transfer")
                except TicketError:
                    pass  # "already there": a refusal, nothing moved
        else:
            known = sorted(first_contact)  # customers who wrote (a merge picks two of them)
            if not known:
                continue
            a, b = known[step[1] % len(known)], known[step[2] % len(known)]
            ca, cb = await contact_of(a), await contact_of(b)
            assert ca is not None and cb is not None
            refused = model.refuses(a, b)
            try:
                await hub.merges.merge(ca, cb, boss)
            except ContactConflict as exc:
                assert refused, f"merge of {a} and {b} refused: {exc}"
                event("merge refused: " + ("verified identities" if "verified" in str(exc) else "already one"))
                continue
            except ContactError:
                assert ca == cb, "only merging a contact with itself is a plain error"
                assert model.find(a) == model.find(b)
                continue
            assert not refused, f"merge of {a} and {b} was accepted but must be refused"
            model.join(a, b)
            event("merge accepted")

    # no message lost, none changed
    stored = {m["_id"]: m for m in await hub.store.messages.find({"_id": {"$in": list(written)}}).to_list()}
    assert set(stored) == set(written)
    assert all(stored[i]["text"] == text for i, text in written.items())
    # contacts join exactly as the accepted merges say; old ids resolve to the survivor
    live = {i: await contact_of(i) for i in range(CUSTOMERS)}
    for a in live:
        for b in live:
            if live[a] and live[b]:
                assert (live[a] == live[b]) == (model.find(a) == model.find(b)), (a, b)
    for i, original in first_contact.items():
        resolved = await hub.contactbook.resolve(original)
        assert resolved is not None and resolved["_id"] == live[i]
    # every ticket, conversation and message of these people points at a live contact, consistently
    contacts = {c["_id"]: c for c in await hub.store.contacts.find(
        {"_id": {"$in": [c for c in live.values() if c]}}).to_list()}
    assert all(c.get("merged_into") is None for c in contacts.values())
    conversations = await hub.store.conversations.find({"contact_id": {"$in": list(contacts)}}).to_list()
    tickets = await hub.store.tickets.find({"contact_id": {"$in": list(contacts)}}).to_list()
    by_conversation = {c["_id"]: c for c in conversations}
    for message in stored.values():
        conversation = by_conversation.get(message["conversation_id"])
        assert conversation is not None, "a message whose conversation left its customer"
        assert message["contact_id"] == conversation["contact_id"]
    for ticket in tickets:
        assert ticket["contact_id"] in contacts
        for conversation_id in ticket["conversation_ids"]:
            assert by_conversation[conversation_id]["contact_id"] == ticket["contact_id"]
        # the desk list's customer columns follow the merges (hub.ticketindex): the survivor's name and addresses
        customer = contacts[ticket["contact_id"]]
        for field in [customer.get("name"), *customer.get("emails", []), *customer.get("phones", [])]:
            assert words_of(field) <= set(ticket["words"]), (ticket["number"], field)
    merged_away = await hub.store.contacts.find({"merged_into": {"$exists": True}}, projection={"_id": 1}).to_list()
    for collection in (hub.store.tickets, hub.store.conversations):
        for gone in merged_away:
            assert await collection.count_documents({"contact_id": gone["_id"]}) == 0
