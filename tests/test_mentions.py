"""A private note mentions colleagues by id: kept on the note (for the timeline) and on the ticket (`mentioned`, which
every desk gets live), in the note's own transaction; only active colleagues who read tickets, only in private notes,
at most ten; anything else is a 400 with the reason and writes nothing. GET /api/names says whom the desk may offer."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from tests.test_ticket_list import open_ticket

ANA = Sender("ana@example.com", email="ana@example.com")


async def team(runtime: Runtime) -> dict[str, Any]:
    hub = runtime.hub
    assert hub is not None
    people = {
        "bob": await hub.accounts.create("bob", "bob's long password", name="Bob Stone", roles=[Role.AGENT]),
        "sam": await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR]),
        "tom": await hub.accounts.create("tom", "tom's long password", name="Tom Trainer", roles=[Role.TRAINER]),
        "olga": await hub.accounts.create("olga", "olga's long password", name="Olga Left", roles=[Role.AGENT]),
    }
    await hub.accounts.update(people["olga"]["_id"], disabled=True)
    return people


async def note(client: TestClient[Any, Any], agent: dict[str, Any], ticket_id: Any, body: dict[str, Any]) -> Any:
    return await client.post(f"/api/tickets/{ticket_id}/reply", json=body, headers={"X-CSRF-Token": agent["csrf"]})


async def test_a_note_mentions_colleagues(client: TestClient[Any, Any], agent: dict[str, Any],
                                          runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    people = await team(runtime)
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    bob, sam = str(people["bob"]["_id"]), str(people["sam"]["_id"])
    resp = await note(client, agent, ticket["_id"], {"text": "@Bob Stone @Sam Lead can you check the refund?",
                                                    "private": True, "mentions": [bob, sam, bob]})
    assert resp.status == 201, await resp.text()
    message = (await resp.json())["message"]
    assert message["metadata"]["mentions"] == [{"id": bob, "name": "Bob Stone"}, {"id": sam, "name": "Sam Lead"}]
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None
    assert stored["mentioned"] == {"ids": [people["bob"]["_id"], people["sam"]["_id"]], "at": stored["updated_at"],
                                   "by": agent["account"]["_id"]}
    event = await hub.store.events.find_one({"ticket_id": ticket["_id"], "type": "ticket.note"})
    assert event is not None and event["data"] == {"mentions": [people["bob"]["_id"], people["sam"]["_id"]]}
    live = (await (await client.get(f"/api/tickets/{ticket['_id']}")).json())["ticket"]
    assert live["mentioned"]["ids"] == [bob, sam] and live["mentioned"]["at"] == live["updated_at"]

    names = await (await client.get("/api/names")).json()  # whom the desk offers after "@"
    admin = await hub.store.agents.find_one({"username": "admin"})  # seeded at first start, with every role
    assert admin is not None
    assert set(names["mentionable"]) == {bob, sam, str(agent["account"]["_id"]), str(admin["_id"])}  # not Tom, Olga


async def test_mentions_that_cannot_be_made_are_refused_and_write_nothing(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    people = await team(runtime)
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    before = await hub.store.messages.count_documents({})
    bob = str(people["bob"]["_id"])
    cases = [
        ({"text": "@Bob Stone see this", "mentions": [bob]}, 400, "private notes"),  # a reply to the customer
        ({"text": "x", "private": True, "mentions": [str(people["olga"]["_id"])]}, 400, "cannot be mentioned"),
        ({"text": "x", "private": True, "mentions": [str(people["tom"]["_id"])]}, 400, "cannot be mentioned"),
        ({"text": "x", "private": True, "mentions": ["0" * 24]}, 400, "cannot be mentioned"),
        ({"text": "x", "private": True, "mentions": ["bob"]}, 400, "mentions"),
        ({"text": "x", "private": True, "mentions": [bob] * 11}, 422, "at most 10"),
    ]
    for body, status, reason in cases:
        resp = await note(client, agent, ticket["_id"], body)
        assert resp.status == status, (body, resp.status, await resp.text())
        assert reason in (await resp.json())["error"], body
    assert await hub.store.messages.count_documents({}) == before
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and "mentioned" not in stored
