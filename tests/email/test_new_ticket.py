"""An agent writes to a customer first (hub.outbound), through the relay stand-in: a new ticket held by the agent, a
mail that starts a thread (no "Re:", no In-Reply-To, the ticket's number and the reply address), and the customer's
answer, delivered over SMTP, threads into that ticket without the bot; a customer known by that address keeps their
record; what cannot be done is refused with the reason."""

from __future__ import annotations

from typing import Any

from hub.metricdefs import ticket_parts
from hub.metrics import Tally
from hub.models import Role, Sender
from hub.realtime import Change
from tests.conftest import http_client, login
from tests.email.conftest import EmailHub, customer_mail
from tests.email.relay import RelayStandIn
from tests.test_ticket_list import open_ticket

WRITE = {"channel": "email", "to": "Dana.Scully@Example.org", "name": "Dana Scully", "subject": "Your order 5521",
         "text": "Your parcel was damaged in our warehouse. We send a new one today."}


async def test_an_agent_writes_first_and_the_customers_answer_threads_into_the_ticket(
        email_hub: EmailHub, relay: RelayStandIn) -> None:
    hub = email_hub.hub
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    async with http_client(email_hub.runtime) as client:
        csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}
        assert (await (await client.get("/api/new-ticket")).json()) == {"channels": ["email"]}
        resp = await client.post("/api/tickets", json={**WRITE, "queue": "orders"}, headers=csrf)
        assert resp.status == 201, await resp.text()
        body = await resp.json()
    ticket, message = body["ticket"], body["message"]
    assert ticket["assignee_id"] == str(alice["_id"]) and ticket["status"] == "open" and ticket["queue"] == "orders"
    assert ticket["reason"] == "outbound" and ticket["subject"] == "Your order 5521"
    assert message["text"] == WRITE["text"] and message["author"]["kind"] == "agent"
    stored = await hub.store.tickets.find_one({"number": ticket["number"]})
    assert stored is not None and stored["first_agent_reply_at"] is not None
    contact = await hub.store.contacts.find_one({"_id": stored["contact_id"]})
    assert contact is not None and contact["name"] == "Dana Scully" and contact["emails"] == ["dana.scully@example.org"]

    sent = await relay.next()
    mail = sent.message
    assert sent.rcpt_tos == ("dana.scully@example.org",)
    assert str(mail["Subject"]) == f"Your order 5521 [#{ticket['number']}]"  # it starts the thread: no "Re:"
    assert mail["In-Reply-To"] is None and "support+" in str(mail["Reply-To"])
    assert WRITE["text"] in mail.get_body(("plain",)).get_content()

    answer = customer_mail(f"Re: Your order 5521 [#{ticket['number']}]", "Thank you, I will wait for it.",
                           sender="Dana Scully <dana.scully@example.org>",
                           in_reply_to=str(mail["Message-ID"]), references=[str(mail["Message-ID"])])
    await email_hub.deliver(answer)
    await email_hub.settle()
    assert await hub.store.tickets.count_documents({}) == 1  # threaded, not a new ticket
    texts = [m["text"] async for m in hub.store.messages.find({"conversation_id": {"$in": stored["conversation_ids"]}},
                                                              sort=[("created_at", 1), ("_id", 1)])]
    assert texts == ["Alice Ng started the ticket by writing to the customer.", WRITE["text"],
                     "Thank you, I will wait for it."]  # and no bot answer
    again = await hub.store.tickets.find_one({"_id": stored["_id"]})
    assert again is not None and again["last_customer_message_at"] is not None and again["status"] == "open"

    # nobody waited: opened and solved like any ticket, but neither escalated, answered nor abandoned in the history
    await hub.tickets.set_status(stored["_id"], "solved", alice)
    solved = await hub.store.tickets.find_one({"_id": stored["_id"]})
    assert solved is not None
    counted: dict[str, float] = {}
    for counters in ticket_parts(solved, 60).values():
        for name, value in counters.items():
            counted[name] = counted.get(name, 0) + value
    assert counted.get("opened") == 1 and counted.get("solved") == 1
    assert not {"escalated", "answered", "abandoned"} & set(counted), counted
    as_customers = {name for part in ticket_parts({**solved, "reason": "escalated"}, 60).values() for name in part}
    assert {"escalated", "answered"} <= as_customers  # the same ticket from a customer's request would count
    live = Tally()  # the live dashboard's day: the same
    live.add(solved, 60)
    assert (live.queued, live.answered, live.abandoned, live.solved) == (0, 0, 0, 1)

    # a rule on new tickets (a greeting, routing) is for customers' requests: an agent's own ticket does not run it
    await hub.automation.save_rule({"name": "Greet", "event": "ticket.created", "actions": {"tags": ["greeted"]}})
    created = await hub.store.events.find_one({"type": "ticket.created", "ticket_id": stored["_id"]})
    assert created is not None and created["data"]["reason"] == "outbound"
    assert await hub.automation.handle(Change("events", "insert", created)) == []
    assert await hub.automation.handle(Change("events", "insert", {**created, "data": {"reason": "escalated"}})) \
        == ["Greet"]  # the same event of a customer's ticket would


async def test_a_known_customer_keeps_their_record_and_refusals_say_why(email_hub: EmailHub,
                                                                         relay: RelayStandIn) -> None:
    hub = email_hub.hub
    await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    known = await open_ticket(email_hub.runtime, "email", Sender("ana@example.org", display_name="Ana Lima",
                                                                 email="ana@example.org"), "Refund for order 5521")
    contacts = await hub.store.contacts.count_documents({})
    async with http_client(email_hub.runtime) as client:
        csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}

        async def write(**changes: Any) -> Any:
            return await client.post("/api/tickets", json={**WRITE, **changes}, headers=csrf)

        resp = await write(to="ANA@example.org", name=None, status="pending", subject="Your refund",
                           cc=["Bank <refunds@bank.example>"])
        assert resp.status == 201, await resp.text()
        ticket, message = (await resp.json())["ticket"], (await resp.json())["message"]
        assert message["metadata"]["cc"] == ["refunds@bank.example"]  # the first mail copies whom the agent named
        stored = await hub.store.tickets.find_one({"number": ticket["number"]})
        assert stored is not None and stored["contact_id"] == known["contact_id"] and stored["status"] == "pending"
        assert await hub.store.contacts.count_documents({}) == contacts
        for changes, status, says in [({"to": "not an address"}, 400, "is not an email address"),
                                      ({"channel": "widget"}, 400, "cannot write first on widget"),
                                      ({"channel": "telegram"}, 400, "no telegram channel"),
                                      ({"queue": "nowhere"}, 400, "no queue 'nowhere'"),
                                      ({"subject": "   "}, 400, "subject"),
                                      ({"cc": ["support@example.com"]}, 400, "cannot copy"),
                                      ({"cc": ["x@example.org"] * 11}, 422, "cc"),
                                      ({"text": ""}, 422, "text"), ({"status": "new"}, 422, "status")]:
            refused = await write(**changes)
            assert refused.status == status and says in await refused.text(), (changes, await refused.text())
        assert await hub.store.tickets.count_documents({}) == 2  # nothing opened by a refusal
        await client.post("/api/auth/logout", headers=csrf)
        await hub.accounts.create("tess", "tess's long password", name="Tess", roles=[Role.TRAINER])
        trainer = {"X-CSRF-Token": await login(client, "tess", "tess's long password")}
        assert (await client.post("/api/tickets", json=WRITE, headers=trainer)).status == 403


async def test_an_integration_writes_first_and_the_ticket_waits_in_its_queue(email_hub: EmailHub,
                                                                             relay: RelayStandIn) -> None:
    hub = email_hub.hub
    admin = await hub.accounts.create("root", "root's long password", name="Root", roles=[Role.ADMIN])
    token, _ = await hub.apitokens.create("shop", ["tickets:write"], owner=None, created_by=admin)
    async with http_client(email_hub.runtime) as client:
        resp = await client.post("/api/tickets", json=WRITE, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 201, await resp.text()
        number = (await resp.json())["ticket"]["number"]
    ticket = await hub.store.tickets.find_one({"number": number})
    assert ticket is not None and ticket["assignee_id"] is None and ticket["status"] == "open"  # a token is nobody
    assert (await relay.next()).rcpt_tos == ("dana.scully@example.org",)
