"""Following a ticket (hub.followers): a colleague who does not hold it hears when its customer writes, or a colleague
answers, writes a note on it or changes its status: the ticket
is unread for them (why "followed") until they read it, and no longer once they stop following; following writes no
timeline line and leaves `updated_at` alone; the API refuses what it cannot do, with a reason."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.donenews import DONE_NEWS
from hub.followers import MAX_FOLLOWERS
from hub.models import Role
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_ticket_list import desk, listed, open_ticket
from tests.test_ticket_reads import ANA, customer_writes, said, seen, unread


async def follow(client: TestClient[Any, Any], csrf: str, ticket_id: Any, on: bool = True) -> Any:
    return await client.post(f"/api/tickets/{ticket_id}/follow", json={"follow": on}, headers={"X-CSRF-Token": csrf})


async def test_a_follower_hears_when_the_customer_writes(client: TestClient[Any, Any], agent: dict[str, Any],
                                                         runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    await hub.tickets.assign(ticket["_id"], bob["_id"], agent["account"])  # Bob's ticket; Alice follows it
    csrf = agent["csrf"]
    before = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    lines = await hub.store.messages.count_documents({"conversation_id": {"$in": ticket["conversation_ids"]}})
    resp = await follow(client, csrf, ticket["_id"])
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ticket"]["followers"] == [str(agent["account"]["_id"])]
    after = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert after is not None and before is not None and after["updated_at"] == before["updated_at"]
    assert await hub.store.messages.count_documents({"conversation_id": {"$in": ticket["conversation_ids"]}}) == lines
    assert (await follow(client, csrf, ticket["_id"])).status == 200  # again: as it is
    assert (await hub.store.tickets.find_one({"_id": ticket["_id"]}))["followers"] == [agent["account"]["_id"]]
    assert await seen(client, agent, ticket["_id"]) == 200
    assert await unread(client) == {}

    await customer_writes(runtime, ticket, ANA, "Any news on my refund?")
    assert await unread(client) == {ticket["number"]: "followed"}
    assert await seen(client, agent, ticket["_id"]) == 200
    assert await unread(client) == {}
    # Bob, who holds it, answers, then writes a note: news for her each time; her own note is not
    await hub.tickets.reply(ticket["_id"], bob, "Your refund left today.")
    assert await unread(client) == {ticket["number"]: "followed"}
    assert await seen(client, agent, ticket["_id"]) == 200
    await hub.tickets.reply(ticket["_id"], bob, "Bank confirmed.", private=True)
    assert await unread(client) == {ticket["number"]: "followed"}
    assert await seen(client, agent, ticket["_id"]) == 200
    await hub.tickets.reply(ticket["_id"], agent["account"], "Thanks Bob.", private=True)
    assert await unread(client) == {}
    await customer_writes(runtime, ticket, ANA, "Hello?")
    assert (await follow(client, csrf, ticket["_id"], on=False)).status == 200
    assert await unread(client) == {}  # no longer followed: not news for her
    assert "followers" in (await hub.store.tickets.find_one({"_id": ticket["_id"]}))
    assert (await hub.store.tickets.find_one({"_id": ticket["_id"]}))["followers"] == []

    # refusals: an unknown ticket, a body that is not a flag, a full list
    assert (await follow(client, csrf, ObjectId())).status == 404
    bad = await client.post(f"/api/tickets/{ticket['_id']}/follow", json={"follow": "yes"},
                            headers={"X-CSRF-Token": csrf})
    assert bad.status == 422 and "follow" in await bad.text()
    await hub.store.tickets.update_one({"_id": ticket["_id"]},
                                       {"$set": {"followers": [ObjectId() for _ in range(MAX_FOLLOWERS)]}})
    full = await follow(client, csrf, ticket["_id"])
    assert full.status == 409 and f"{MAX_FOLLOWERS} followers" in await full.text()


async def test_the_assignee_hears_of_their_own_ticket_as_theirs_not_as_followed(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    assert (await follow(client, agent["csrf"], ticket["_id"])).status == 200
    await hub.tickets.assign(ticket["_id"], agent["account"]["_id"], agent["account"])
    await customer_writes(runtime, ticket, ANA, "Any news?")
    assert await unread(client) == {ticket["number"]: "message"}
    other = await client.post("/api/auth/logout", headers={"X-CSRF-Token": agent["csrf"]})
    assert other.status in (200, 204)
    await hub.accounts.create("tess", "tess's long password", name="Tess", roles=[Role.TRAINER])
    csrf = await login(client, "tess", "tess's long password")
    assert (await follow(client, csrf, ticket["_id"])).status == 403  # a trainer reads no tickets


async def test_a_merge_keeps_who_followed_either_ticket(agent: dict[str, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    first = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    await hub.followers.follow(first["_id"], bob["_id"])
    await hub.tickets.set_status(first["_id"], "solved", agent["account"])  # her next question: a ticket of its own
    second = await open_ticket(runtime, "email", ANA, "Refund, again")
    assert second["_id"] != first["_id"]
    await hub.followers.follow(second["_id"], agent["account"]["_id"])
    await hub.followers.follow(second["_id"], bob["_id"])
    survivor, _ = await hub.ticket_merges.merge(second["_id"], first["_id"], agent["account"])
    assert survivor["followers"] == [bob["_id"], agent["account"]["_id"]]  # each once


async def test_the_list_shows_the_tickets_i_follow_whoever_holds_them(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    tickets = await desk(runtime)
    ana, bo, cy = tickets["ana"], tickets["bo"], tickets["cy"]
    await hub.tickets.assign(ana["_id"], bob["_id"], agent["account"])  # Bob's; Alice follows it
    for ticket in (ana, bo):
        assert (await follow(client, agent["csrf"], ticket["_id"])).status == 200
    await hub.followers.follow(cy["_id"], bob["_id"])  # Bob's choice, not hers
    assert await listed(client, "following=1") == [bo["number"], ana["number"]]
    assert set(await listed(client, "q=my")) == {ana["number"], cy["number"]}
    assert await listed(client, "following=1&q=my") == [ana["number"]]  # a search within them
    assert await listed(client, "following=1&channel=sms") == [bo["number"]]
    assert await listed(client, "following=1&size=1") == [bo["number"]]
    first = await client.get("/api/tickets?following=1&size=1")
    cursor = (await first.json())["next"]
    assert await listed(client, f"following=1&size=1&after={cursor}") == [ana["number"]]

    await hub.tickets.set_status(bo["_id"], "solved", agent["account"])
    assert await listed(client, "following=1") == [ana["number"]]  # the live desk by default
    assert await listed(client, "following=1&status=solved") == [bo["number"]]
    assert (await follow(client, agent["csrf"], ana["_id"], on=False)).status == 200
    assert await listed(client, "following=1") == []
    bad = await client.get("/api/tickets?following=yes")
    assert bad.status == 400 and "following" in await bad.text()


async def test_a_follower_hears_a_colleague_change_the_status(client: TestClient[Any, Any], agent: dict[str, Any],
                                                              runtime: Runtime) -> None:
    """Bob, who holds the ticket, sets it pending, answers and solves it, reopens it, closes it: each is news for
    Alice, who follows it, named ("Bob solved it"), solved and closed included (for `DONE_NEWS`); her own is not."""
    hub = runtime.hub
    assert hub is not None
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob Stone", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    await hub.tickets.assign(ticket["_id"], bob["_id"], bob)
    assert (await follow(client, agent["csrf"], ticket["_id"])).status == 200
    assert await seen(client, agent, ticket["_id"]) == 200
    n = ticket["number"]

    await hub.tickets.set_status(ticket["_id"], "pending", bob)
    assert await said(client) == {n: "Bob Stone set it to pending (you follow it)"}
    assert await seen(client, agent, ticket["_id"]) == 200
    await hub.tickets.reply(ticket["_id"], bob, "Refund sent.", then_status="solved")
    assert await said(client) == {n: "Bob Stone wrote on it and solved it (you follow it)"}
    assert await seen(client, agent, ticket["_id"]) == 200
    await hub.tickets.set_status(ticket["_id"], "open", bob)
    assert await said(client) == {n: "Bob Stone opened it again (you follow it)"}
    await hub.tickets.set_status(ticket["_id"], "closed", bob)
    assert await said(client) == {n: "Bob Stone closed it (you follow it)"}
    assert await seen(client, agent, ticket["_id"]) == 200
    assert await said(client) == {}
    await hub.tickets.set_status(ticket["_id"], "closed", agent["account"])  # as it is: nothing written
    await hub.store.tickets.update_one({"_id": ticket["_id"]}, {"$set": {"status": "open"}})
    await hub.tickets.set_status(ticket["_id"], "solved", agent["account"])  # her own change: no news for her
    assert await said(client) == {}
    await hub.tickets.set_status(ticket["_id"], "closed", bob)
    assert await said(client) == {n: "Bob Stone closed it (you follow it)"}
    note = await hub.store.done_news.find_one({"agent_id": agent["account"]["_id"]})  # hub.donenews: kept a week
    assert note is not None and note["ticket_id"] == ticket["_id"] and note["expires_at"] - note["at"] == DONE_NEWS
    await hub.store.done_news.delete_one({"_id": note["_id"]})  # as its TTL index does a week later
    assert await said(client) == {}  # a ticket closed longer ago is no longer read
