"""What each agent has read (hub.ticketreads): GET /api/me/unread lists the active tickets with news for the agent
they have not read since, whichever desk was open when the news came; POST /api/tickets/{id}/seen reads one.

News: a customer's message on their ticket, a ticket given to them by someone else, the end of a pending time on
theirs, a colleague's reply, note or status change on theirs, a colleague's note mentioning them. Not news: a ticket
they took or answered themselves, a message they answered, a ticket they solved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Role, Sender, utcnow
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_ticket_list import open_ticket

ANA = Sender("ana@example.com", display_name="Ana Lima", email="ana@example.com")
LEO = Sender("+447700900111", phone="+447700900111")


async def unread(client: TestClient[Any, Any]) -> dict[int, str]:
    """The unread tickets, by number, with why."""
    resp = await client.get("/api/me/unread")
    assert resp.status == 200, await resp.text()
    return {t["number"]: t["why"] for t in (await resp.json())["tickets"]}


async def seen(client: TestClient[Any, Any], agent: dict[str, Any], ticket_id: Any) -> int:
    resp = await client.post(f"/api/tickets/{ticket_id}/seen", headers={"X-CSRF-Token": agent["csrf"]})
    return resp.status


async def customer_writes(runtime: Runtime, ticket: dict[str, Any], who: Sender, text: str) -> None:
    hub = runtime.hub
    assert hub is not None
    conversation = await hub.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]})
    assert conversation is not None
    await hub.ingest(InboundMessage(channel=conversation["channel"], external_id=text, sender=who, text=text,
                                    thread_key=conversation["thread_key"]))
    await hub.pipeline.drain()


async def test_news_on_my_tickets_stays_unread_until_i_read_it(client: TestClient[Any, Any], agent: dict[str, Any],
                                                               runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = agent["account"]
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    given = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    taken = await open_ticket(runtime, "sms", LEO, "My card is blocked")
    assert await unread(client) == {}  # nothing is hers yet

    await hub.tickets.assign(given["_id"], alice["_id"], sam)  # a supervisor gives her one
    assert (await client.post(f"/api/tickets/{taken['_id']}/assign", json={"agent_id": "me"},
                              headers={"X-CSRF-Token": agent["csrf"]})).status == 200  # she takes the other
    assert await unread(client) == {given["number"]: "assigned"}

    assert await seen(client, agent, given["_id"]) == 200
    assert await unread(client) == {}
    await customer_writes(runtime, given, ANA, "Any news about my refund?")
    await customer_writes(runtime, taken, LEO, "It is still blocked")
    assert await unread(client) == {taken["number"]: "message", given["number"]: "message"}

    reply = await client.post(f"/api/tickets/{taken['_id']}/reply", json={"text": "Unblocked now, try again."},
                              headers={"X-CSRF-Token": agent["csrf"]})
    assert reply.status == 201, await reply.text()
    assert await unread(client) == {given["number"]: "message"}  # answering shows she read it

    # the pending time of hers that ends is news; a solved ticket's message is not listed
    assert await seen(client, agent, given["_id"]) == 200
    until = utcnow() + timedelta(hours=1)
    await hub.tickets.set_status(given["_id"], "pending", alice, pending_until=until)
    now = utcnow()
    await hub.store.tickets.update_one({"_id": given["_id"]}, {"$set": {"pending_until": now}})
    assert await hub.tickets.end_pending(given["_id"], now) is not None
    assert await unread(client) == {given["number"]: "reminder"}
    await hub.tickets.set_status(given["_id"], "solved", alice)
    assert await unread(client) == {}


async def test_a_mention_is_unread_for_the_colleague_named(client: TestClient[Any, Any], agent: dict[str, Any],
                                                           runtime: Runtime) -> None:
    """On a ticket that is not theirs: Bob reads it on his own session; Alice, who wrote it, has nothing."""
    hub = runtime.hub
    assert hub is not None
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob Stone", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    note = await client.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": agent["csrf"]},
                             json={"text": "@Bob Stone is this refund yours?", "private": True,
                                   "mentions": [str(bob["_id"])]})
    assert note.status == 201, await note.text()
    assert await unread(client) == {}  # a note does not make the ticket hers, and the mention is hers

    async with TestClient(client.server) as bobs:
        bob_desk = {"csrf": await login(bobs, "bob", "bob's long password")}
        assert await unread(bobs) == {ticket["number"]: "mention"}
        assert await seen(bobs, bob_desk, ticket["_id"]) == 200
        assert await unread(bobs) == {}
    assert await hub.store.ticket_reads.count_documents({}) == 1  # Bob's read, one document


async def test_reading_a_ticket_that_is_not_there(client: TestClient[Any, Any], agent: dict[str, Any]) -> None:
    for ticket_id, reason in (("0123456789abcdef01234567", "no ticket"), ("not-an-id", "not an id")):
        resp = await client.post(f"/api/tickets/{ticket_id}/seen", headers={"X-CSRF-Token": agent["csrf"]})
        assert resp.status == 404 and reason in (await resp.json())["error"]


async def test_the_news_list_says_what_happened_and_marks_all_read(client: TestClient[Any, Any],
                                                                   agent: dict[str, Any], runtime: Runtime) -> None:
    """GET /api/me/unread names who did what ("Ana Lima wrote", "Sam Lead gave it to you") with the subject; POST
    /api/me/unread/read marks the tickets the list showed, one command, and only those."""
    hub = runtime.hub
    assert hub is not None
    alice = agent["account"]
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    given = await open_ticket(runtime, "email", ANA, "Refund for order 5521", subject="Refund 5521")
    taken = await open_ticket(runtime, "sms", LEO, "My card is blocked")
    await hub.tickets.assign(given["_id"], alice["_id"], sam)
    await hub.tickets.assign(taken["_id"], alice["_id"], alice)
    await customer_writes(runtime, taken, LEO, "It is still blocked")
    listed = (await (await client.get("/api/me/unread")).json())["tickets"]
    assert [(t["number"], t["said"], t["subject"]) for t in listed] == [
        (taken["number"], "+447700900111 wrote", taken.get("subject") or ""),
        (given["number"], "Sam Lead gave it to you", "Refund 5521")]

    csrf = {"X-CSRF-Token": agent["csrf"]}
    assert (await client.post("/api/me/unread/read", json={"ticket_ids": []}, headers=csrf)).status == 422
    assert (await client.post("/api/me/unread/read", json={"ticket_ids": ["nope"]}, headers=csrf)).status == 400
    resp = await client.post("/api/me/unread/read", json={"ticket_ids": [str(given["_id"])]}, headers=csrf)
    assert resp.status == 200 and (await resp.json())["tickets"] == 1
    assert await unread(client) == {taken["number"]: "message"}  # only what was sent
    resp = await client.post("/api/me/unread/read", json={"ticket_ids": [t["id"] for t in listed]}, headers=csrf)
    assert resp.status == 200 and await unread(client) == {}
    await customer_writes(runtime, given, ANA, "Any news?")  # news after the marks is news
    assert await unread(client) == {given["number"]: "message"}


async def test_a_colleague_working_on_my_ticket_is_news_for_me(client: TestClient[Any, Any], agent: dict[str, Any],
                                                               runtime: Runtime) -> None:
    """Bob answers, writes a note on, solves and reopens Alice's ticket: each is news for her, in his name ("Bob
    Stone solved it"), the solved ticket too though it left the active ones; her own work is not, nor is Bob's
    answer a sign that she read it. A solve tells who held it and who follows it, never who solved it."""
    hub = runtime.hub
    assert hub is not None
    alice = agent["account"]
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob Stone", roles=[Role.AGENT])
    cy = await hub.accounts.create("cy", "cy's long password", name="Cy Watt", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    await hub.tickets.assign(ticket["_id"], alice["_id"], alice)
    await hub.followers.follow(ticket["_id"], cy["_id"])
    n = ticket["number"]
    assert await unread(client) == {}

    await customer_writes(runtime, ticket, ANA, "Any news?")
    await hub.tickets.reply(ticket["_id"], bob, "The refund left today.")  # while she was away
    assert await unread(client) == {n: "colleague"}
    assert await said(client) == {n: "Bob Stone wrote on it"}
    assert await seen(client, agent, ticket["_id"]) == 200
    await hub.tickets.reply(ticket["_id"], bob, "Checked with the bank.", private=True)
    assert await said(client) == {n: "Bob Stone wrote on it"}  # a note too
    await hub.tickets.reply(ticket["_id"], alice, "Thanks Bob.", private=True)  # her own: read by writing it
    await hub.tickets.set_status(ticket["_id"], "pending", alice)
    assert await unread(client) == {}
    rule = {"_id": None, "name": "Automation 'Tag refunds'", "service": True}  # as hub.automation acts
    await hub.tickets.reply(ticket["_id"], rule, "Refund request: checked by the rules.", private=True)
    assert await unread(client) == {}  # an automation rule is nobody's news

    await hub.tickets.set_status(ticket["_id"], "solved", bob)
    assert await said(client) == {n: "Bob Stone solved it"}
    assert {n["agent_id"] for n in await hub.store.done_news.find().to_list()} == {alice["_id"], cy["_id"]}
    assert await seen(client, agent, ticket["_id"]) == 200
    assert await unread(client) == {}
    await hub.tickets.set_status(ticket["_id"], "open", bob)
    assert await said(client) == {n: "Bob Stone opened it again"}
    assert await seen(client, agent, ticket["_id"]) == 200
    await hub.tickets.set_status(ticket["_id"], "solved", alice)  # her own solve tells Cy, not her
    assert await unread(client) == {}
    assert await hub.store.done_news.count_documents({"agent_id": alice["_id"]}) == 1  # Bob's, not hers


async def said(client: TestClient[Any, Any]) -> dict[int, str]:
    """The News list's words, by ticket number."""
    resp = await client.get("/api/me/unread")
    assert resp.status == 200, await resp.text()
    return {t["number"]: t["said"] for t in (await resp.json())["tickets"]}


async def test_a_colleague_merging_my_ticket_tells_me_where_it_went(client: TestClient[Any, Any],
                                                                    agent: dict[str, Any], runtime: Runtime) -> None:
    """Bob merges Alice's ticket into another: it leaves her active list, and her News list says "Bob Stone merged
    it into #2" (hub.ticketmerge leaves the note, and the words name the ticket left)."""
    hub = runtime.hub
    assert hub is not None
    alice = agent["account"]
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob Stone", roles=[Role.AGENT])
    kept = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    question = await hub.store.messages.find_one({"text": "Refund for order 5521"})
    assert question is not None
    mine, _ = await hub.ticket_merges.split(kept["_id"], question["_id"], alice)  # two tickets of Ana's
    await hub.tickets.assign(mine["_id"], alice["_id"], alice)
    assert await unread(client) == {}
    await hub.ticket_merges.merge(mine["_id"], kept["_id"], bob)
    assert await said(client) == {mine["number"]: f"Bob Stone merged it into #{kept['number']}"}
    assert await seen(client, agent, mine["_id"]) == 200
    assert await unread(client) == {}
