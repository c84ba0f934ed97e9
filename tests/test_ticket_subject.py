"""A ticket's subject: what the customer asked (not "I want to talk to a human"); an agent renames a ticket: the list
shows and finds it by the new subject (and still by the old one), the change is an event in its history, and an empty
or overlong subject is refused with nothing changed."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Sender
from switchboard.bootstrap import Runtime
from tests.test_ticket_list import listed, open_ticket
from tests.test_widget_flow import history, say, widget_session


async def test_a_renamed_ticket_is_listed_and_found_by_its_new_subject(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "email", Sender("ana@example.com", email="ana@example.com"),
                               "My kettle arrived broken", subject="Help")
    assert await listed(client, "q=refund") == []
    headers = {"X-CSRF-Token": agent["csrf"]}
    resp = await client.patch(f"/api/tickets/{ticket['_id']}", json={"subject": "  Refund   for kettle  "},
                              headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ticket"]["subject"] == "Refund for kettle"
    page = await (await client.get("/api/tickets")).json()
    assert [(t["number"], t["subject"]) for t in page["tickets"]] == [(ticket["number"], "Refund for kettle")]
    assert await listed(client, "q=refund") == [ticket["number"]]
    assert await listed(client, "q=help") == [ticket["number"]]  # what it was called still finds it
    event = await hub.store.events.find_one({"ticket_id": ticket["_id"], "type": "ticket.subject_changed"})
    assert event is not None and event["data"] == {"from": "Help", "to": "Refund for kettle"}
    assert event["agent_id"] == agent["account"]["_id"]

    for body, status in (({"subject": ""}, 422), ({"subject": "x" * 201}, 422), ({"subject": "   "}, 422)):
        resp = await client.patch(f"/api/tickets/{ticket['_id']}", json=body, headers=headers)
        assert resp.status == status, (body, resp.status, await resp.text())
        assert "subject" in (await resp.json())["error"]
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and stored["subject"] == "Refund for kettle"


async def test_a_ticket_asked_for_is_named_by_the_question_before_it(client: TestClient[Any, Any],
                                                                     runtime: Runtime) -> None:
    """"I want to talk to a human" or "No" under "Did that help?" say nothing of what the ticket is about: its
    subject is the question the customer typed before, the start of it (not a greeting since); the words themselves
    when there was none."""
    hub = runtime.hub
    assert hub is not None
    question = "My card payment was declined at the till twice this morning and the shop kept my receipt, why"
    # a greeting the bot answered is no question: neither after the question nor as the only thing said before
    for sender, lines in ((Sender("+447700900222", phone="+447700900222"),
                           [question, "Hello", "I want to talk to a human"]),
                          (Sender("+447700900333", phone="+447700900333"), ["Hi there!", "I want to talk to a human"])):
        for line in lines:
            await hub.ingest(InboundMessage(channel="sms", external_id=uuid.uuid4().hex, thread_key=sender.external_id,
                                            sender=sender, text=line))
            await hub.pipeline.drain()
    subjects = [t["subject"] async for t in hub.store.tickets.find({}, sort=[("number", 1)])]
    assert subjects == ["My card payment was declined at the till twice this morning and the shop kept…",
                        "I want to talk to a human"]  # cut at a word

    token = await widget_session(client)
    await say(client, token, "what are your opening hours?")
    await hub.pipeline.drain()
    [answer] = [m for m in await history(client, token) if m["author"]["kind"] == "bot"]
    [no] = [q for q in answer["quick_replies"] if q["payload"] == "/deny"]
    resp = await client.post("/api/widget/messages", headers={"Authorization": f"Bearer {token}"},
                             json={"text": no["title"], "payload": no["payload"], "client_id": uuid.uuid4().hex})
    assert resp.status == 202, await resp.text()
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({}, sort=[("number", -1)])
    assert ticket is not None and ticket["reason"] == "not_helpful"
    assert ticket["subject"] == "what are your opening hours?"


async def test_a_ticket_asked_for_first_is_named_by_what_the_customer_writes_next(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    """A chat that starts with "I want to talk to a human" has no question to name it by: the customer's next typed
    message names it (in the write that message makes anyway), once; split out, that message takes the name with it;
    a ticket an agent named first keeps its name."""
    hub = runtime.hub
    assert hub is not None

    async def chat(first: str) -> tuple[str, Any]:
        token = await widget_session(client)
        await say(client, token, first)
        await hub.pipeline.drain()
        ticket = await hub.store.tickets.find_one({}, sort=[("number", -1)])
        assert ticket is not None
        return token, ticket

    token, ticket = await chat("I want to talk to a human")
    assert ticket["subject"] == "I want to talk to a human" and ticket["subject_for_now"] is True
    # they say nothing of what the ticket is about
    # (more of them, in each language: tests/test_smalltalk.py; a visitor may send only so many in a row)
    for nudge in ("are you still there??", "Hallo, ist da jemand?", "Bonjour, il y a quelqu\u2019un ?",
                  "¿Hola, hay alguien ahí?"):
        await say(client, token, nudge)
        await hub.pipeline.drain()
    waiting = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert waiting is not None and waiting["subject"] == "I want to talk to a human" and waiting["subject_for_now"]
    long = "My parcel for order 5521 never arrived, the tracking page has said out for delivery since Monday"
    for line in (long, "Hello? Are you there?"):
        await say(client, token, line)
        await hub.pipeline.drain()
    named = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert named is not None and "subject_for_now" not in named
    assert named["subject"] == "My parcel for order 5521 never arrived, the tracking page has said out for…"
    assert await listed(client, "q=tracking") == [ticket["number"]]

    # that message split out into a ticket of its own: this one is called what it was, until the next message
    naming = await hub.store.messages.find_one({"text": long})
    assert naming is not None
    new, _ = await hub.ticket_merges.split(ticket["_id"], naming["_id"], agent["account"])
    assert new["subject"] == named["subject"]
    back = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert back is not None and back["subject"] == "I want to talk to a human" and back["subject_for_now"] is True
    await say(client, token, "Also the invoice has the wrong address")
    await hub.pipeline.drain()
    renamed = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert renamed is not None and renamed["subject"] == "Also the invoice has the wrong address"

    token, other = await chat("can I speak to someone please")
    assert other["reason"] == "human_requested" and other["subject_for_now"] is True
    resp = await client.patch(f"/api/tickets/{other['_id']}", json={"subject": "Wrong size shoes"},
                              headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 200, await resp.text()
    await say(client, token, "They sent me a 42 instead of a 44")
    await hub.pipeline.drain()
    kept = await hub.store.tickets.find_one({"_id": other["_id"]})
    assert kept is not None and kept["subject"] == "Wrong size shoes" and "subject_for_now" not in kept
