"""An agent's news by email while away from the desk (hub.newsmail), through the real relay stand-in: a ticket given
to them, a customer's message on it, a mention; after the delay, once, only what they chose, one email for several
tickets, nothing while they are online or once they read it, and again the next round when the relay was down."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import get_args

from agents_ui.schemas import NewsKind
from hub.models import Role, Sender, utcnow
from hub.newsmail import KINDS, NewsMail
from tests.conftest import http_client, login
from tests.email.conftest import EmailHub
from tests.email.relay import Relayed, RelayStandIn
from tests.test_ticket_list import open_ticket
from tests.test_ticket_reads import customer_writes

ANA = Sender("ana@example.org", display_name="Ana Lima", email="ana@example.org")
BEN = Sender("ben@example.org", display_name="Ben Okafor", email="ben@example.org")
ALICE = "alice@example.net"


def due_time(news: NewsMail) -> datetime:
    """A round's time at which news that came just now is due (its delay passed)."""
    return utcnow() + news.delay + timedelta(seconds=1)


def to_alice(relay: RelayStandIn) -> list[Relayed]:
    return [r for r in relay.received if r.rcpt_tos == (ALICE,)]


async def test_an_agent_away_gets_their_news_by_email_once(email_hub: EmailHub, relay: RelayStandIn) -> None:
    hub = email_hub.hub
    news = hub.news
    assert news.mailer is not None and news.desk_url.endswith("/desk")  # the email channel's relay, wired at start
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    await news.set(alice["_id"], ALICE, ["assigned", "message", "mention"])
    ticket = await open_ticket(email_hub.runtime, "email", ANA, "Refund for order 5521")
    await hub.tickets.assign(ticket["_id"], alice["_id"], sam)

    assert await news.run_once(utcnow()) == 0  # not yet: she may look at the desk within the delay
    later = due_time(news)
    assert await news.run_once(later) == 1
    [mail] = to_alice(relay)
    message = mail.message
    assert message["Subject"] == "#1 Sam Lead gave it to you"
    assert message["From"].addresses[0].addr_spec == "support@example.com"
    assert message["Auto-Submitted"] == "auto-generated"  # no out-of-office comes back to the support address
    body = message.get_content()
    assert "Hello Alice," in body and "#1 “Refund for order 5521”: Sam Lead gave it to you." in body
    assert f"{news.desk_url}#/tickets/{ticket['_id']}" in body
    assert str(sam["_id"]) not in body  # names, never ids (the link aside)
    assert await news.run_once(later + timedelta(minutes=5)) == 0  # told once

    # Ana writes again: news again, emailed once it is due
    await customer_writes(email_hub.runtime, ticket, ANA, "Any news?")
    assert await news.run_once(due_time(news)) == 1
    assert to_alice(relay)[-1].message["Subject"] == "#1 Ana Lima wrote"

    # read at the desk (or anywhere) before it was due: no email
    await customer_writes(email_hub.runtime, ticket, ANA, "Hello again")
    await hub.reads.mark(alice["_id"], ticket["_id"])
    assert await news.run_once(due_time(news)) == 0

    # two tickets with news: one email names both; a mention she chose, a pending one she did not
    other = await open_ticket(email_hub.runtime, "email", BEN, "Wrong size shoes")
    await hub.tickets.assign(other["_id"], alice["_id"], sam)
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    await hub.tickets.reply(ticket["_id"], bob, "@Alice can you check the carrier?", private=True,
                            mentions=[{"_id": alice["_id"], "name": "Alice"}])
    assert await news.run_once(due_time(news)) == 1
    digest = to_alice(relay)[-1].message
    assert digest["Subject"] == "2 tickets wait for you"
    text = digest.get_content()
    assert "#1 “Refund for order 5521”: Bob mentioned you in a note." in text
    assert "#2 “Wrong size shoes”: Sam Lead gave it to you." in text
    assert len(to_alice(relay)) == 3


async def test_no_email_while_online_nor_for_news_not_chosen_and_again_after_the_relay_was_down(
        email_hub: EmailHub, relay: RelayStandIn) -> None:
    hub = email_hub.hub
    news = hub.news
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    await news.set(alice["_id"], ALICE, ["mention"])
    ticket = await open_ticket(email_hub.runtime, "email", ANA, "Refund for order 5521")
    await hub.tickets.assign(ticket["_id"], alice["_id"], sam)
    due = due_time(news)
    assert await news.run_once(due) == 0 and to_alice(relay) == []  # given a ticket: not what she chose

    await news.set(alice["_id"], ALICE, ["assigned", "mention"])
    assert await news.run_once(due) == 0  # #1 was given to her before she asked for it: no pile of old news
    connection = await hub.presence.connect(alice["_id"])  # at the desk: the dot tells her
    assert (await hub.store.agents.find_one({"_id": alice["_id"]}))["presence"] == "online"
    second = await open_ticket(email_hub.runtime, "email", BEN, "Wrong size shoes")
    await hub.tickets.assign(second["_id"], alice["_id"], sam)  # while she is online
    due = due_time(news)
    assert await news.run_once(due) == 0
    await hub.presence.disconnect(connection, alice["_id"])  # she leaves: only news from now on is emailed
    assert await news.run_once(due) == 0

    third = await open_ticket(email_hub.runtime, "email", Sender("cy@example.org", email="cy@example.org"),
                              "Invoice address")
    await hub.tickets.assign(third["_id"], alice["_id"], sam)
    await relay.stop()  # the relay is down: nothing recorded, the next round sends it
    due = due_time(news)
    assert await news.run_once(due) == 0
    await relay.start()
    assert await news.run_once(due) == 1
    [mail] = to_alice(relay)
    assert mail.message["Subject"] == "#3 Sam Lead gave it to you"


async def test_a_ticket_she_follows(email_hub: EmailHub, relay: RelayStandIn) -> None:
    hub = email_hub.hub
    news = hub.news
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    await news.set(alice["_id"], ALICE, ["followed"])
    ticket = await open_ticket(email_hub.runtime, "email", ANA, "Refund for order 5521")
    await hub.tickets.assign(ticket["_id"], bob["_id"], bob)  # Bob's
    await hub.followers.follow(ticket["_id"], alice["_id"])
    await customer_writes(email_hub.runtime, ticket, ANA, "Any news?")
    assert await news.run_once(due_time(news)) == 1
    [mail] = to_alice(relay)
    assert mail.message["Subject"] == "#1 Ana Lima wrote (you follow it)"

    # a customer's name is theirs to write, line breaks too: the subject stays one line, no header is added
    await hub.store.contacts.update_one({"_id": ticket["contact_id"]},
                                        {"$set": {"name": "Ana\r\nBcc: evil@example.org"}})
    await customer_writes(email_hub.runtime, ticket, ANA, "Still waiting")
    assert await news.run_once(due_time(news)) == 1
    mail = to_alice(relay)[-1]
    assert mail.message["Subject"] == "#1 Ana Bcc: evil@example.org wrote (you follow it)"
    assert mail.message["Bcc"] is None and mail.rcpt_tos == (ALICE,)

    # Bob answers: that is the news now, by his name
    await hub.tickets.reply(ticket["_id"], bob, "Refunded today.")
    assert await news.run_once(due_time(news)) == 1
    assert to_alice(relay)[-1].message["Subject"] == "#1 Bob wrote on it (you follow it)"


async def test_an_address_the_relay_refuses_is_not_tried_each_minute_and_the_agent_is_told(
        email_hub: EmailHub, relay: RelayStandIn) -> None:
    hub = email_hub.hub
    news = hub.news
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    await news.set(alice["_id"], "nobody@example.net", ["assigned"])
    relay.refuse["nobody@example.net"] = "550 5.1.1 no such user"
    ticket = await open_ticket(email_hub.runtime, "email", ANA, "Refund for order 5521")
    await hub.tickets.assign(ticket["_id"], alice["_id"], sam)
    due = due_time(news)
    assert await news.run_once(due) == 0
    assert relay.refused == ["nobody@example.net"]  # tried once
    refused = (await news.get(alice["_id"])).refused
    assert refused is not None and "550" in refused["reason"] and "nobody@example.net" in refused["reason"]
    assert await news.run_once(due + timedelta(minutes=1)) == 0
    assert relay.refused == ["nobody@example.net"]  # not again each minute
    async with http_client(email_hub.runtime) as client:  # the Account page says why
        await login(client, "alice", "alice's long password")
        shown = await (await client.get("/api/me/news-mail")).json()
        assert "550 5.1.1 no such user" in shown["refused"]["reason"] and shown["refused"]["at"]
    await news.set(alice["_id"], ALICE, ["assigned"])  # saving the choice again clears the refusal
    assert (await news.get(alice["_id"])).refused is None


async def test_an_agent_chooses_their_news_on_the_account_api(email_hub: EmailHub) -> None:
    hub = email_hub.hub
    await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    async with http_client(email_hub.runtime) as client:
        csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}
        got = await client.get("/api/me/news-mail")
        assert got.status == 200
        shown = await got.json()
        assert shown["address"] == "" and shown["kinds"] == [] and shown["can_send"] is True
        assert [o["kind"] for o in shown["offered"]] == ["message", "assigned", "colleague", "mention", "reminder",
                                                          "followed"]
        assert set(get_args(NewsKind)) == set(KINDS)  # the schema takes every kind the hub knows, no other
        saved = await client.put("/api/me/news-mail", json={"address": " Alice@Example.net ",
                                                            "kinds": ["mention", "message"]}, headers=csrf)
        assert saved.status == 200, await saved.text()
        assert (await saved.json())["kinds"] == ["message", "mention"]
        for body, status, reason in (({"address": "", "kinds": ["message"]}, 400, "address"),
                                     ({"address": "not an address", "kinds": []}, 400, "not an email address"),
                                     ({"address": ALICE, "kinds": ["everything"]}, 422, "kinds"),
                                     ({"address": ALICE, "kinds": ["message"], "extra": 1}, 422, "extra")):
            refused = await client.put("/api/me/news-mail", json=body, headers=csrf)
            assert refused.status == status, (body, await refused.text())
            assert reason in await refused.text()
        kept = await (await client.get("/api/me/news-mail")).json()
        assert (kept["address"], kept["kinds"]) == ("Alice@Example.net", ["message", "mention"])
        # a new address, or fewer kinds, keep the time email was turned on; more kinds start it again (no old news)
        since = (await hub.store.agents.find_one({"username": "alice"}))["notify_email"]["since"]
        for kinds, moved in ((["message", "mention"], False), (["mention"], False), (["mention", "assigned"], True)):
            saved = await client.put("/api/me/news-mail", json={"address": ALICE, "kinds": kinds}, headers=csrf)
            assert saved.status == 200, await saved.text()
            now = (await hub.store.agents.find_one({"username": "alice"}))["notify_email"]["since"]
            assert (now != since) is moved, kinds

