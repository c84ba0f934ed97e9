"""Reply all (channels.email.addresses.copied, compose.copies): the people a customer's mail copied get the agents'
replies too, never the bot's or the hub's own mail; the hub's own mailboxes and the customer are not copied; the
latest mail decides; a relay refusing a copy still delivers to the customer, and refusing the customer is a
refusal."""

from __future__ import annotations

from channels.email.addresses import MAX_CC, copied
from hub.models import Role
from hub.tickets import TicketError, copies
from tests.email.conftest import EmailHub, customer_mail
from tests.email.relay import RelayStandIn
from tests.helpers import eventually

OURS = frozenset({"support@example.com", "help@example.com", "orders@example.com"})


def test_whom_a_reply_copies() -> None:
    cc = ["Fox Mulder <FOX@example.org>", "support@example.com", "support+ab12@example.com", "dana@example.org",
          "fox@example.org", "not an address", "help@example.com"]
    assert copied(cc, "dana@example.org", OURS) == ["fox@example.org"]
    assert copied([f"p{i}@example.org" for i in range(MAX_CC + 5)], None, OURS) == \
        [f"p{i}@example.org" for i in range(MAX_CC)]
    # a chat has one reader: copies are refused there, an empty Cc line is nothing
    chat = {"channel": "widget", "recipient": "v-1", "channel_data": {}}
    assert copies(None, chat, None) == {} and copies(None, chat, []) == {}
    try:
        copies(None, chat, ["fox@example.org"])
    except TicketError as exc:
        assert "only email copies" in str(exc)
    else:
        raise AssertionError("a copy on a chat was accepted")


async def test_an_agents_reply_copies_whom_the_customer_copied(email_hub: EmailHub, relay: RelayStandIn) -> None:
    hub = email_hub.hub
    first = customer_mail("Broken chair", "I want to talk to a human please",
                          headers={"Cc": "Fox Mulder <fox@example.org>, Support <support@example.com>"})
    await email_hub.deliver(first)
    await email_hub.settle()
    handoff = await relay.next()
    assert handoff.rcpt_tos == ("dana@example.org",) and handoff.message["Cc"] is None  # the hub's own: no copy
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    alice = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    await hub.tickets.reply(ticket["_id"], alice, "We send a new chair.")
    reply = await relay.next()
    assert reply.rcpt_tos == ("dana@example.org", "fox@example.org")
    assert str(reply.message["Cc"]) == "fox@example.org" and str(reply.message["To"]) == "dana@example.org"

    # the customer's next mail copies nobody: nor does the next reply
    again = customer_mail(f"Re: Broken chair [#{ticket['number']}]", "Thank you!",
                          in_reply_to=str(reply.message["Message-ID"]))
    await email_hub.deliver(again)
    await email_hub.settle()
    await hub.tickets.reply(ticket["_id"], alice, "You are welcome.")
    second = await relay.next()
    assert second.rcpt_tos == ("dana@example.org",) and second.message["Cc"] is None

    # a copy the relay refuses: the customer still gets it, and it counts as sent
    copy = customer_mail(f"Re: Broken chair [#{ticket['number']}]", "Please also tell my colleague.",
                         headers={"Cc": "walter@example.org"}, in_reply_to=str(second.message["Message-ID"]))
    await email_hub.deliver(copy)
    await email_hub.settle()
    relay.refuse["walter@example.org"] = "550 5.1.1 no such user"
    sent = await hub.tickets.reply(ticket["_id"], alice, "Done.")
    third = await relay.next()
    assert third.rcpt_tos == ("dana@example.org",) and relay.refused == ["walter@example.org"]

    async def delivered() -> bool:  # the message is marked after the relay took it
        stored = await hub.store.messages.find_one({"_id": sent["_id"]})
        return stored is not None and stored["delivery"]["status"] == "sent"

    await eventually(delivered, what="the reply marked sent")

    # the customer's own address refused while the copy goes: not delivered, and the agent sees why
    del relay.refuse["walter@example.org"]
    relay.refuse["dana@example.org"] = "550 5.1.1 mailbox gone"
    lost = await hub.tickets.reply(ticket["_id"], alice, "One more thing.")

    async def failed() -> str | None:
        stored = await hub.store.messages.find_one({"_id": lost["_id"]})
        return str(stored["delivery"].get("error")) if stored and stored["delivery"]["status"] == "failed" else None

    assert "dana@example.org" in await eventually(failed, what="the reply marked failed")
    assert (await relay.next()).rcpt_tos == ("walter@example.org",)  # the copy went out


async def test_the_agent_decides_whom_a_reply_copies(email_hub: EmailHub, relay: RelayStandIn) -> None:
    """The desk's Cc line: the agent keeps, drops or adds addresses (`cc`); the message keeps whom it copied, and a
    later mail's Cc does not change a reply already written."""
    hub = email_hub.hub
    await email_hub.deliver(customer_mail("Broken chair", "I want to talk to a human please",
                                          headers={"Cc": "fox@example.org"}))
    await email_hub.settle()
    await relay.next()  # the hand-off notice
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    alice = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])

    # added one, kept one; the customer's own address and a repeat are dropped, case does not matter
    sent = await hub.tickets.reply(ticket["_id"], alice, "Copying our courier.",
                                   cc=["fox@example.org", " Courier <COURIER@example.net>", "dana@example.org",
                                       "courier@example.net"])
    assert sent["metadata"]["cc"] == ["fox@example.org", "courier@example.net"]
    mail = await relay.next()
    assert mail.rcpt_tos == ("dana@example.org", "fox@example.org", "courier@example.net")
    assert str(mail.message["Cc"]) == "fox@example.org, courier@example.net"

    # nobody: the customer alone, though their mail copied Fox
    alone = await hub.tickets.reply(ticket["_id"], alice, "Just between us.", cc=[])
    assert alone["metadata"] == {"cc": []}
    mail = await relay.next()
    assert mail.rcpt_tos == ("dana@example.org",) and mail.message["Cc"] is None

    # not given: reply all, kept on the message as written
    default = await hub.tickets.reply(ticket["_id"], alice, "To all of you.")
    assert default["metadata"] == {"cc": ["fox@example.org"]}
    assert (await relay.next()).rcpt_tos == ("dana@example.org", "fox@example.org")

    # refused before anything is written: not an address, the hub's own mailbox (plus-addressed too), too many, a note
    before = await hub.store.messages.count_documents({})
    refusals = {
        "not an address": (["fox at example"], False),
        "own": (["support+x1@example.com"], False),
        "too many": ([f"p{i}@example.org" for i in range(MAX_CC + 1)], False),
        "a note": (["fox@example.org"], True),
    }
    for what, (cc, private) in refusals.items():
        try:
            await hub.tickets.reply(ticket["_id"], alice, "Nope.", cc=cc, private=private)
        except TicketError as exc:
            assert str(exc), what
        else:
            raise AssertionError(f"{what}: accepted")
    assert await hub.store.messages.count_documents({}) == before
    # a note with no copies is a note; the "cc": [] of an empty Cc line is no refusal
    note = await hub.tickets.reply(ticket["_id"], alice, "Courier booked.", private=True, cc=[])
    assert "metadata" not in note

