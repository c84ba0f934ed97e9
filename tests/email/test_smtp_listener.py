"""The hub's SMTP listener: who it accepts mail for, size limit, STARTTLS, 250 only once stored, 451 on outage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from switchboard.embedded import EmbeddedServer
from tests.conftest import _drop, make_settings
from tests.email.conftest import EmailHub, TlsFiles, customer_mail, email_config, msgid, start_email_hub
from tests.email.relay import RelayStandIn


async def test_mail_is_stored_before_the_listener_answers_250(email_hub: EmailHub) -> None:
    mail = customer_mail("Opening hours", "Hello, what are your opening hours on Saturday?")
    answer = await email_hub.deliver(mail)
    assert answer.startswith("2.0.0 OK")
    # No waiting: 250 means the message is already durable in the database.
    stored = await email_hub.hub.store.messages.find_one({"channel": "email", "external_id": msgid(mail)})
    assert stored is not None
    assert stored["text"] == "Hello, what are your opening hours on Saturday?"
    assert stored["subject"] == "Opening hours"
    contact = await email_hub.hub.store.contacts.find_one({"_id": stored["contact_id"]})
    assert contact is not None and contact["name"] == "Dana Scully" and contact["emails"] == ["dana@example.org"]
    assert contact["identities"][0] == {**contact["identities"][0], "channel": "email",
                                        "external_id": "dana@example.org"}


async def test_unknown_recipients_are_refused_at_rcpt_so_it_is_never_an_open_relay(email_hub: EmailHub) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=email_hub.smtp_port, local_hostname="mta.example.org")
    async with client:
        await client.ehlo()
        await client.mail("spammer@example.net")
        for address in ("victim@elsewhere.example", "support@example.com.evil.example", "sales@example.com",
                        "support@other.example"):
            code, text = await _rcpt(client, address)
            assert code == 550, (address, code, text)
        for address in ("support@example.com", "Support@Example.COM", "support+abcdefgh12345678@example.com",
                        "help@example.com", "orders+anything@example.com"):
            code, _ = await _rcpt(client, address)
            assert code == 250, address
    assert await email_hub.hub.store.messages.count_documents({}) == 0


async def _rcpt(client: aiosmtplib.SMTP, address: str) -> tuple[int, str]:
    try:
        response = await client.rcpt(address)
    except aiosmtplib.SMTPRecipientRefused as exc:
        return exc.code, exc.message
    return response.code, response.message


async def test_size_limit_is_advertised_and_enforced(email_hub: EmailHub) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=email_hub.smtp_port, local_hostname="mta.example.org")
    async with client:
        await client.ehlo()
        assert client.supports_extension("size")
        assert client.esmtp_extensions["size"] == str(256 * 1024)
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as declared:
            await client.mail("dana@example.org", options=[f"SIZE={1024 * 1024}"])
        assert declared.value.code == 552
        # A client that does not declare SIZE is stopped while sending DATA.
        await client.rset()
        await client.mail("dana@example.org")
        await client.rcpt("support@example.com")
        with pytest.raises(aiosmtplib.SMTPDataError) as sent:
            await client.data(customer_mail("Huge", "x" * (300 * 1024)).as_bytes())
        assert sent.value.code == 552
    assert await email_hub.hub.store.messages.count_documents({}) == 0
    # The listener is still serving.
    assert (await email_hub.deliver(customer_mail("Small", "fine"))).startswith("2.0.0")


async def test_the_same_mail_delivered_twice_is_stored_once(email_hub: EmailHub) -> None:
    mail = customer_mail("Refund", "Where is my refund for order 48213?")
    await email_hub.deliver(mail)
    await email_hub.deliver(mail)  # an MTA retrying after a lost 250
    await email_hub.settle()
    assert await email_hub.hub.store.messages.count_documents({"direction": "in"}) == 1
    assert await email_hub.hub.store.conversations.count_documents({}) == 1


async def test_starttls_is_offered_with_a_certificate(
    settings: Any, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    config = email_config(relay.port, tls_files.cert)
    config["smtp_listener"].update(tls_cert=tls_files.cert, tls_key=tls_files.key, require_starttls=True)
    settings.channels["email"] = config
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        plain = aiosmtplib.SMTP(hostname="127.0.0.1", port=email_hub.smtp_port, start_tls=False,
                                local_hostname="mta.example.org")
        async with plain:
            await plain.ehlo()
            assert plain.supports_extension("starttls")
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await plain.mail("dana@example.org")
            assert refused.value.code == 530  # "Must issue a STARTTLS command first"
        mail = customer_mail("Over TLS", "Sent over STARTTLS")
        answer = await email_hub.deliver(mail, start_tls=True, tls_context=tls_files.client_context())
        assert answer.startswith("2.0.0")
        assert await email_hub.hub.store.messages.find_one({"external_id": msgid(mail)}) is not None
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)


async def test_database_outage_answers_451_and_the_retry_is_stored_once(
    tmp_path: Path, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    server = EmbeddedServer(tmp_path / "db")
    uri = await server.start()
    settings = make_settings(uri, tmp_path / "var")
    settings.channels["email"] = email_config(relay.port, tls_files.cert)
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        await asyncio.to_thread(server.stop)
        mail = customer_mail("Outage", "Is anyone there?")
        with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
            await email_hub.deliver(mail, timeout=30)
        assert deferred.value.code == 451
        server = EmbeddedServer(tmp_path / "db", port=server.port)
        await server.start()
        answer = await email_hub.deliver(mail, timeout=30)  # the sending MTA tries again later
        assert answer.startswith("2.0.0")
        await email_hub.deliver(mail, timeout=30)
        assert await email_hub.hub.store.messages.count_documents({"external_id": msgid(mail)}) == 1
    finally:
        await email_hub.runtime.stop()
        server.stop()
