"""Every query the email flows make is served by an index (the hub-wide rule of tests/test_store_indexes.py).

Recorded from a real run: inbound mail threaded by references and token, a bot answer, a
bounce, a bot-less mailbox opening and acknowledging a ticket, and a reply to a closed ticket
whose queue opens a linked new one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pymongo import AsyncMongoClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import _drop
from tests.email.conftest import EmailHub, TlsFiles, customer_mail, email_config
from tests.email.relay import RelayStandIn
from tests.helpers import eventually
from tests.query_plans import Recorder, collection_scans


async def test_email_flows_only_run_indexed_queries(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    settings.queues["orders"] = dataclasses.replace(settings.queues["orders"], on_reply_after_close="new")
    settings.channels["email"] = email_config(relay.port, tls_files.cert)
    recorder = Recorder()
    runtime = Runtime(settings, db_listeners=[recorder])
    await runtime.start(bot=shop_bot)
    # The test's own checks go through another client, so only the hub's queries are recorded.
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    db = client[settings.db_name]
    try:
        assert runtime.hub is not None
        channel = next(c for c in runtime.channels if c.name == "email")
        email_hub = EmailHub(runtime, runtime.hub, channel)  # type: ignore[arg-type]
        hub = runtime.hub
        first = customer_mail("Hours", "what are your opening hours?", sender="nobody@example.invalid")
        await email_hub.deliver(first, sender="nobody@example.invalid")
        await email_hub.settle()
        reply = (await relay.next()).message
        follow = customer_mail("Re: Hours", "and on Sunday?", sender="nobody@example.invalid",
                               to=reply["Reply-To"].addresses[0].addr_spec, in_reply_to=str(reply["Message-ID"]))
        await email_hub.deliver(follow, sender="nobody@example.invalid")
        await email_hub.settle()
        await relay.next()

        async def sent() -> bool:
            return await db.messages.count_documents({"delivery.status": "sent"}) == 2

        await eventually(sent, what="two replies sent")
        bounced_id = str(reply["Message-ID"]).encode()
        bounce = (b"From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.com\r\nSubject: failure notice\r\n"
                  b"Message-ID: <b1@mx.example.org>\r\n\r\nMessage-ID: " + bounced_id + b"\r\n")
        assert (await email_hub.deliver(bounce, sender="", recipients=["support@example.com"])).startswith(
            "2.0.0 OK bounce")
        order = customer_mail("Order 1", "where is it?", to="orders@example.com")
        await email_hub.deliver(order)
        await email_hub.settle()
        ack = (await relay.next()).message
        ticket = await db.tickets.find_one({"queue": "orders"})
        assert ticket is not None
        agent = await hub.accounts.create("ivy", "ivy's password", roles=[Role.AGENT])
        await hub.tickets.reply(ticket["_id"], agent, "Found it.", then_status="closed")
        again = customer_mail("Re: Order 1", "it is broken", to=ack["Reply-To"].addresses[0].addr_spec)
        await email_hub.deliver(again)
        await email_hub.settle()
        assert await db.tickets.count_documents({"follows_ticket_id": ticket["_id"]}) == 1
    finally:
        await runtime.stop()
    try:
        scans, seen = await collection_scans(settings.mongodb_uri or "", settings.db_name, recorder)
    finally:
        await client.close()
        await _drop(settings)
    assert len(seen) >= 15, f"only {len(seen)} distinct queries recorded"
    assert scans == [], "collection scans:\n" + "\n".join(scans)
