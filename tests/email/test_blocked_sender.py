"""A blocked sender's mail (hub.contactbook.block) to a mailbox without the bot: kept on their record, no ticket."""

from __future__ import annotations

from hub.models import Role
from tests.email.conftest import EmailHub, customer_mail


async def test_a_blocked_sender_mails_the_agents_mailbox_and_opens_no_ticket(email_hub: EmailHub) -> None:
    """The email channel opens a ticket itself for a mailbox without the bot (hub.contactbook.block: not for a
    blocked sender), also when the same mail is delivered again."""
    hub = email_hub.hub
    mail = customer_mail("Order 1", "Where is it?", to="Orders <orders@example.com>")
    await email_hub.deliver(mail)
    await email_hub.settle()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    alice = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    await hub.contactbook.block(ticket["contact_id"], alice)
    await hub.tickets.set_status(ticket["_id"], "closed", alice)
    spam = customer_mail("Cheap watches", "Buy now", to="Orders <orders@example.com>")
    for _ in range(2):  # a redelivery of the same mail too
        await email_hub.deliver(spam)
        await email_hub.settle()
    assert await hub.store.tickets.count_documents({}) == 1
    kept = await hub.store.messages.find({"text": "Buy now"}).to_list()
    assert len(kept) == 1 and kept[0]["blocked"] is True
