"""Threading rules, each against the real listener: token address, [#123], References, and never the subject."""

from __future__ import annotations

from typing import Any

from channels.email.threading import clean_subject, outbound_subject, references_of, ticket_number
from tests.email.conftest import EmailHub, customer_mail, msgid
from tests.email.relay import RelayStandIn


async def _conversation_of(email_hub: EmailHub, mail_id: str) -> Any:
    message = await email_hub.hub.store.messages.find_one({"channel": "email", "external_id": mail_id})
    assert message is not None, mail_id
    return message["conversation_id"]


async def _start(email_hub: EmailHub, relay: RelayStandIn, subject: str = "Opening hours?",
                 body: str = "what are your opening hours?") -> tuple[Any, Any]:
    """A customer asks, the bot answers by mail: (first mail, the bot's reply as the customer receives it)."""
    first = customer_mail(subject, body)
    await email_hub.deliver(first)
    await email_hub.settle()
    return first, (await relay.next()).message


async def test_reply_token_threads_a_client_that_drops_in_reply_to(email_hub: EmailHub, relay: RelayStandIn) -> None:
    first, reply = await _start(email_hub, relay)
    token_address = reply["Reply-To"].addresses[0].addr_spec
    # The customer's client hits "reply": To is our Reply-To, but it sends no In-Reply-To/References
    # and the customer rewrote the subject.
    again = customer_mail("something else entirely", "and on Sundays?", to=token_address)
    await email_hub.deliver(again)
    assert await _conversation_of(email_hub, msgid(again)) == await _conversation_of(email_hub, msgid(first))
    stored = await email_hub.hub.store.messages.find_one({"external_id": msgid(again)})
    assert stored is not None and stored["metadata"]["to"] == [token_address]


async def test_ticket_number_in_the_subject_finds_the_ticket(email_hub: EmailHub, relay: RelayStandIn) -> None:
    first, handoff = await _start(email_hub, relay, "Damaged parcel", "I want to talk to a human")
    ticket = await email_hub.hub.store.tickets.find_one({})
    assert ticket is not None and f"[#{ticket['number']}]" in handoff["Subject"]
    # A brand-new mail (new Message-ID, no references, plain address) that quotes the number.
    again = customer_mail(f"Photos for [#{ticket['number']}]", "photos attached (forgot them)")
    await email_hub.deliver(again)
    assert await _conversation_of(email_hub, msgid(again)) == await _conversation_of(email_hub, msgid(first))


async def test_references_alone_thread_the_reply(email_hub: EmailHub, relay: RelayStandIn) -> None:
    first, reply = await _start(email_hub, relay)
    again = customer_mail("Re: Opening hours?", "thanks!", references=[str(first["Message-ID"]),
                                                                       str(reply["Message-ID"])])
    await email_hub.deliver(again)
    assert await _conversation_of(email_hub, msgid(again)) == await _conversation_of(email_hub, msgid(first))


async def test_a_client_that_rewrites_in_reply_to_still_threads_by_references(
    email_hub: EmailHub, relay: RelayStandIn
) -> None:
    first, reply = await _start(email_hub, relay)
    again = customer_mail("Re: Opening hours?", "one more question", in_reply_to="<rewritten-by-client@mobile.example>",
                          references=[str(reply["Message-ID"])])
    await email_hub.deliver(again)
    assert await _conversation_of(email_hub, msgid(again)) == await _conversation_of(email_hub, msgid(first))
    assert await email_hub.hub.store.conversations.count_documents({}) == 1


async def test_a_changed_subject_on_a_real_reply_stays_in_its_ticket(email_hub: EmailHub, relay: RelayStandIn) -> None:
    first, handoff = await _start(email_hub, relay, "Refund", "I want to talk to a human")
    again = customer_mail("Totally different subject", "here is my IBAN",
                          in_reply_to=str(handoff["Message-ID"]),
                          references=[str(first["Message-ID"]), str(handoff["Message-ID"])])
    await email_hub.deliver(again)
    await email_hub.settle()
    assert await _conversation_of(email_hub, msgid(again)) == await _conversation_of(email_hub, msgid(first))
    assert await email_hub.hub.store.tickets.count_documents({}) == 1
    conversation = await email_hub.hub.store.conversations.find_one({})
    assert conversation is not None and conversation["subject"] == "Refund"


async def test_a_new_mail_with_an_old_subject_and_no_references_opens_a_new_conversation(
    email_hub: EmailHub, relay: RelayStandIn
) -> None:
    first, _ = await _start(email_hub, relay, "Opening hours?")
    again = customer_mail("Opening hours?", "what are your opening hours?")  # same customer, same subject
    await email_hub.deliver(again)
    first_conv = await _conversation_of(email_hub, msgid(first))
    again_conv = await _conversation_of(email_hub, msgid(again))
    assert first_conv != again_conv
    assert await email_hub.hub.store.conversations.count_documents({}) == 2
    # Both belong to the same contact.
    assert await email_hub.hub.store.contacts.count_documents({}) == 1


async def test_outlook_style_prefixes_thread_and_do_not_change_the_subject(
    email_hub: EmailHub, relay: RelayStandIn
) -> None:
    first, handoff = await _start(email_hub, relay, "Lieferung", "I want to talk to a human")
    ticket = await email_hub.hub.store.tickets.find_one({})
    assert ticket is not None
    # Outlook (German): "AW:" prefix, In-Reply-To kept, Thread-Index added.
    aw = customer_mail(f"AW: Re: Lieferung [#{ticket['number']}]", "Danke", in_reply_to=str(handoff["Message-ID"]),
                       headers={"Thread-Index": "AQHabcdef0123456789=="})
    # Outlook (English) replying to an old copy without any threading headers: "RE:" and the number.
    re = customer_mail(f"RE: RE: Lieferung [#{ticket['number']}]", "Any update?")
    # Outlook (Swedish) from another address quoting the number: ticket numbers are sequential
    # and guessable, so a sender who is not the ticket's customer does not write into it.
    sv = customer_mail(f"SV: Lieferung [#{ticket['number']}]", "Hej", sender="Dana <dana.work@example.org>")
    for mail in (aw, re, sv):
        await email_hub.deliver(mail, sender=mail["From"].addresses[0].addr_spec)
    conv = await _conversation_of(email_hub, msgid(first))
    for mail in (aw, re):
        assert await _conversation_of(email_hub, msgid(mail)) == conv, mail["Subject"]
    assert await _conversation_of(email_hub, msgid(sv)) != conv
    stored = await email_hub.hub.store.messages.find({"direction": "in"}).to_list()
    assert {m["subject"] for m in stored} == {"Lieferung"}
    conversation = await email_hub.hub.store.conversations.find_one({"_id": conv})
    assert conversation is not None and conversation["subject"] == "Lieferung"


def test_subject_rules() -> None:
    assert clean_subject("RE: AW: Sv: Fwd: Order [#12]") == "Order"
    assert clean_subject("Re[2]: Re: Order") == "Order"
    assert clean_subject("Antw: WG: Bestellung") == "Bestellung"
    assert clean_subject("Réponse about Re: things") == "Réponse about Re: things"
    assert clean_subject("Regarding my order") == "Regarding my order"
    assert ticket_number("AW: Lieferung [#42]") == 42
    assert ticket_number("About [#7] and [# 9 ]") == 9
    assert ticket_number("Order #42 [#notanumber]") is None
    assert outbound_subject("AW: Lieferung [#42]", 42) == "Re: Lieferung [#42]"
    assert outbound_subject(None, None) == "Re: Your message"


def test_our_own_message_ids_also_match_the_unsent_external_id() -> None:
    from channels.email.parse import parse_message

    raw = (b"From: a@example.org\nTo: support@example.com\nSubject: x\nMessage-ID: <m1@example.org>\n"
           b"In-Reply-To: <sb-65f0c0ffee00000000000001@example.com>\n"
           b"References: <root@example.org> <sb-65f0c0ffee00000000000001@example.com>\n\nhi\n")
    refs = references_of(parse_message(raw), "example.com")
    assert refs == ("sb-65f0c0ffee00000000000001@example.com", "sb-65f0c0ffee00000000000001", "root@example.org")
    other = references_of(parse_message(raw), "other.example")
    assert "sb-65f0c0ffee00000000000001" not in other
