"""Loops and noise: automated mail is stored but never answered; bounces mark our outbound mail failed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from switchboard.config import Settings
from switchboard.embedded import EmbeddedServer
from tests.conftest import _drop, make_settings
from tests.email.conftest import CORPUS, EmailHub, TlsFiles, customer_mail, email_config, msgid, start_email_hub
from tests.email.relay import RelayStandIn
from tests.helpers import eventually

QUESTION = "what are your opening hours?"  # the bot answers this one when a person asks


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "dana@example.org", "Auto-Submitted"),
        ({"Auto-Submitted": "auto-generated"}, "dana@example.org", "Auto-Submitted"),
        ({"Precedence": "bulk"}, "dana@example.org", "Precedence: bulk"),
        ({"Precedence": "list"}, "dana@example.org", "Precedence: list"),
        ({"Precedence": "junk"}, "dana@example.org", "Precedence: junk"),
        ({"X-Autoreply": "yes"}, "dana@example.org", "x-autoreply"),
        ({"List-Id": "<deals.example.org>"}, "dana@example.org", "mailing list"),
        ({}, "MAILER-DAEMON@mx.example.org", "automated sender"),
        ({}, "postmaster@example.org", "automated sender"),
        ({}, "support@example.com", "our own address"),
        ({}, "Help@Example.com", "our own address"),
        ({}, "orders+abcdefgh12345678@example.com", "our own address"),
    ],
)
async def test_automated_mail_is_stored_but_never_answered(
    email_hub: EmailHub, headers: dict[str, str], sender: str, reason: str
) -> None:
    for to in ("support@example.com", "orders@example.com"):  # bot on / bot off with auto-acknowledgement
        mail = customer_mail(QUESTION, QUESTION, sender=sender, to=to, headers=headers)
        await email_hub.deliver(mail, sender=sender)
        await email_hub.settle()
        stored = await email_hub.hub.store.messages.find_one({"external_id": msgid(mail)})
        assert stored is not None and stored["suppress_bot"] is True
        assert reason.lower() in stored["metadata"]["noise"].lower()
    assert await email_hub.hub.store.messages.count_documents({"direction": "out"}) == 0
    assert await email_hub.hub.store.outbox.count_documents({}) == 0
    assert await email_hub.hub.store.tickets.count_documents({}) == 0


async def test_a_null_envelope_sender_is_never_answered(email_hub: EmailHub) -> None:
    mail = customer_mail(QUESTION, QUESTION)
    await email_hub.deliver(mail, sender="")  # MAIL FROM:<>
    await email_hub.settle()
    stored = await email_hub.hub.store.messages.find_one({"external_id": msgid(mail)})
    assert stored is not None and stored["suppress_bot"] is True
    assert await email_hub.hub.store.outbox.count_documents({}) == 0


async def test_a_person_is_answered_and_their_auto_responder_is_not(email_hub: EmailHub, relay: RelayStandIn) -> None:
    mail = customer_mail(QUESTION, QUESTION, headers={"Auto-Submitted": "no"})
    await email_hub.deliver(mail)
    await email_hub.settle()
    reply = (await relay.next()).message
    # The customer's out-of-office answers our reply; then answers again, and again.
    for i in range(3):
        ooo = customer_mail(
            "Automatic reply: " + str(reply["Subject"]),
            f"I am away ({i}). {QUESTION}",
            in_reply_to=str(reply["Message-ID"]),
            headers={"Auto-Submitted": "auto-replied"},
        )
        await email_hub.deliver(ooo)
    await email_hub.settle()
    conv = (await email_hub.hub.store.messages.find_one({"external_id": msgid(mail)}) or {})["conversation_id"]
    assert await email_hub.hub.store.messages.count_documents({"conversation_id": conv, "direction": "in"}) == 4
    assert await email_hub.hub.store.messages.count_documents({"conversation_id": conv, "direction": "out"}) == 1
    assert await email_hub.hub.store.outbox.count_documents({}) == 1


@pytest.mark.parametrize("bounce_file", ["dsn_bounce.eml", "qmail_bounce.eml"])
async def test_a_bounce_marks_our_reply_failed(email_hub: EmailHub, relay: RelayStandIn, bounce_file: str) -> None:
    mail = customer_mail(QUESTION, QUESTION, sender="nobody@example.invalid")
    await email_hub.deliver(mail, sender="nobody@example.invalid")
    await email_hub.settle()
    reply = (await relay.next()).message
    our_id = str(reply["Message-ID"]).strip("<>")
    store = email_hub.hub.store

    async def sent() -> bool:
        return await store.messages.count_documents({"direction": "out", "delivery.status": "sent"}) == 1

    await eventually(sent, what="the reply recorded as sent")
    # The recipient's MTA bounces it back to our envelope sender, through the listener.
    template = (CORPUS / bounce_file).read_bytes()
    original = (
        b"sb-65f0c0ffee0000000000beef@example.com"
        if b"beef" in template
        else b"sb-65f0c0ffee0000000000f00d@example.com"
    )
    bounce = template.replace(original, our_id.encode())
    answer = await email_hub.deliver(bounce, sender="", recipients=["support@example.com"])
    assert answer.startswith("2.0.0 OK bounce")
    failed = await store.messages.find_one({"direction": "out"})
    assert failed is not None and failed["delivery"]["status"] == "failed"
    assert "bounced" in failed["delivery"]["error"]
    if bounce_file == "dsn_bounce.eml":
        assert "5.1.1" in failed["delivery"]["error"] and "User unknown" in failed["delivery"]["error"]
    assert await store.events.count_documents({"type": "message.failed", "message_id": failed["_id"]}) == 1
    # The bounce itself is not a customer message.
    assert await store.messages.count_documents({"direction": "in"}) == 1


async def test_an_out_of_office_reply_does_not_reopen_a_solved_ticket(email_hub: EmailHub, relay: RelayStandIn) -> None:
    store = email_hub.hub.store
    await email_hub.deliver(customer_mail("Help", "I want to talk to a human"))
    await email_hub.settle()
    handoff = (await relay.next()).message
    ticket = await store.tickets.find_one({})
    assert ticket is not None
    await email_hub.hub.tickets.set_status(ticket["_id"], "pending", None)
    ooo = customer_mail(
        "Automatic reply: " + str(handoff["Subject"]),
        "I am out of office.",
        in_reply_to=str(handoff["Message-ID"]),
        headers={"Auto-Submitted": "auto-replied"},
    )
    await email_hub.deliver(ooo)
    await email_hub.settle()
    still = await store.tickets.find_one({"_id": ticket["_id"]})
    assert still is not None and still["status"] == "pending"  # an auto-reply is no customer answer
    await email_hub.hub.tickets.set_status(ticket["_id"], "solved", None)
    ooo2 = customer_mail(
        "Automatic reply",
        "Still away.",
        in_reply_to=str(handoff["Message-ID"]),
        headers={"Auto-Submitted": "auto-replied"},
    )
    await email_hub.deliver(ooo2)
    await email_hub.settle()
    solved = await store.tickets.find_one({"_id": ticket["_id"]})
    assert solved is not None and solved["status"] == "solved"
    kept = await store.messages.find_one({"external_id": msgid(ooo2)})
    assert kept is not None and kept["conversation_id"] == ticket["conversation_ids"][0]
    # A real answer from the customer does reopen it.
    await email_hub.deliver(
        customer_mail("Re: Help", "Thanks, one more question", in_reply_to=str(handoff["Message-ID"]))
    )
    await email_hub.settle()
    reopened = await store.tickets.find_one({"_id": ticket["_id"]})
    assert reopened is not None and reopened["status"] in ("new", "open")


async def test_a_robot_that_ignores_auto_submitted_gets_a_few_answers_then_agents(
        settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any) -> None:
    """A mail loop with a broken auto-responder (no header says it is one): past `bot_answers_per_sender` the bot
    stops answering that sender, and its mail waits for a person in a ticket, with no acknowledgement either."""
    settings.channels["email"] = email_config(relay.port, tls_files.cert,
                                              bot_answers_per_sender=[{"messages": 3, "seconds": 3600}])
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        robot = "Ticket Robot <robot@vendor.example.net>"
        mail = customer_mail(QUESTION, QUESTION, sender=robot)
        answers = 0
        for turn in range(4):
            await email_hub.deliver(mail, sender="robot@vendor.example.net")
            await email_hub.settle()
            if turn < 3:
                reply = (await relay.next()).message
                answers += 1
                # The robot "answers" our answer, with the question quoted, and no Auto-Submitted.
                mail = customer_mail("Re: " + str(reply["Subject"]), f"Received your message. {QUESTION}",
                                     sender=robot, in_reply_to=str(reply["Message-ID"]))
        store = email_hub.hub.store
        held = await store.messages.find_one({"external_id": msgid(mail)})
        assert held is not None and held["suppress_bot"] is True
        assert held["metadata"]["bot_held_back"] == "bot_answers_per_sender"
        assert await store.messages.count_documents({"direction": "out"}) == answers == 3  # no fourth, no ack
        ticket = await store.tickets.find_one({})
        assert ticket is not None and ticket["reason"] == "too_many_bot_answers"
        assert ticket["conversation_ids"] == [held["conversation_id"]]  # the loop's own thread, for a person
        # Anyone else is answered as before.
        await email_hub.deliver(customer_mail(QUESTION, QUESTION))
        await email_hub.settle()
        assert "dana@example.org" in str((await relay.next()).message["To"])
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)


async def test_the_senders_count_holds_each_mail_once_through_an_outage_and_a_redelivery(
        tmp_path: Path, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any) -> None:
    """A mail the hub could not store (451) and the same mail delivered again after it was stored count once
    towards `bot_answers_per_sender`, and a redelivery opens no ticket for a mail the bot answered."""
    server = EmbeddedServer(tmp_path / "db")
    settings = make_settings(await server.start(), tmp_path / "var")
    settings.channels["email"] = email_config(relay.port, tls_files.cert,
                                              bot_answers_per_sender=[{"messages": 1, "seconds": 3600}])
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        first = customer_mail(QUESTION, QUESTION)
        await asyncio.to_thread(server.stop)
        with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
            await email_hub.deliver(first, timeout=30)
        assert deferred.value.code == 451
        server = EmbeddedServer(tmp_path / "db", port=server.port)
        await server.start()
        await email_hub.deliver(first, timeout=30)  # the sending MTA tries again: the sender's one answer
        await email_hub.settle()
        assert "dana@example.org" in str((await relay.next()).message["To"])
        await email_hub.deliver(first, timeout=30)  # and once more (it missed our 250)
        await email_hub.settle()
        store = email_hub.hub.store
        assert await store.messages.count_documents({"direction": "out"}) == 1
        assert await store.tickets.count_documents({}) == 0  # answered: the redelivery is no loop

        second = customer_mail("Another question", QUESTION)  # past the limit of one: a person answers
        await email_hub.deliver(second, timeout=30)
        await email_hub.settle()
        held = await store.messages.find_one({"external_id": msgid(second)})
        assert held is not None and held["metadata"]["bot_held_back"] == "bot_answers_per_sender"
        ticket = await store.tickets.find_one({})
        assert ticket is not None and ticket["reason"] == "too_many_bot_answers"
        assert ticket["conversation_ids"] == [held["conversation_id"]]
    finally:
        await email_hub.runtime.stop()
        server.stop()
