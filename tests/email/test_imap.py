"""IMAP against a real Dovecot: IDLE push, flag or move after ingest, once across restarts, UIDVALIDITY."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioimaplib
import pytest

from channels.email.imap_poller import ImapPoller
from switchboard.config import Settings
from tests.conftest import _drop
from tests.email.conftest import EmailHub, TlsFiles, customer_mail, email_config, msgid, start_email_hub
from tests.email.dovecot import PASSWORD, USER, Dovecot
from tests.email.relay import RelayStandIn
from tests.helpers import eventually


@asynccontextmanager
async def imap(dovecot: Dovecot) -> AsyncIterator[aioimaplib.IMAP4]:
    """A plain IMAP session as the mailbox owner (what the provider's webmail or MTA would do)."""
    client = aioimaplib.IMAP4("127.0.0.1", dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(USER, PASSWORD)).result == "OK"
    try:
        yield client
    finally:
        await client.logout()


async def append(dovecot: Dovecot, folder: str, raw: bytes, flags: str | None = None) -> None:
    async with imap(dovecot) as client:
        response = await client.append(raw, mailbox=folder, flags=flags)
        assert response.result == "OK", response


async def flags_in(dovecot: Dovecot, folder: str) -> list[str]:
    async with imap(dovecot) as client:
        assert (await client.select(folder)).result == "OK"
        response = await client.uid("fetch", "1:*", "(FLAGS)")
        return [line.decode() for line in response.lines if isinstance(line, bytes) and b"FLAGS" in line]


def imap_settings(settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, dovecot: Dovecot, folder: str,
                  **imap_options: Any) -> Settings:
    config = email_config(relay.port, tls_files.cert)
    config["smtp_listener"]["enabled"] = False
    config["mailboxes"]["support"]["imap"] = {
        "host": "127.0.0.1", "port": dovecot.port, "tls": False, "username": USER, "password": PASSWORD,
        "folder": folder, "poll_seconds": 600, "idle": True, "timeout": 10, **imap_options,
    }
    settings.channels["email"] = config
    return settings


def poller_of(email_hub: EmailHub) -> ImapPoller:
    assert len(email_hub.channel.pollers) == 1
    return email_hub.channel.pollers[0]


async def ingested(email_hub: EmailHub) -> list[str]:
    docs = await email_hub.hub.store.messages.find({"direction": "in"}, sort=[("created_at", 1)]).to_list()
    assert all(d["metadata"]["source"] == "imap:support" for d in docs)
    return [d["external_id"] for d in docs]


async def test_imap_mail_is_pushed_with_idle_flagged_and_processed_once_across_restarts(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, dovecot: Dovecot, shop_bot: Any
) -> None:
    folder = f"T{uuid.uuid4().hex[:10]}"
    async with imap(dovecot) as client:
        assert (await client.create(folder)).result == "OK"
    old = customer_mail("Old and read", "read long ago")
    first = customer_mail("Opening hours?", "what are your opening hours?")
    second = customer_mail("Returns", "how do I return an item?", sender="Eve <eve@example.org>")
    await append(dovecot, folder, old.as_bytes(), flags=r"(\Seen)")  # backlog: already read, left alone
    await append(dovecot, folder, first.as_bytes())
    await append(dovecot, folder, second.as_bytes())
    imap_settings(settings, relay, tls_files, dovecot, folder)
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        poller = poller_of(email_hub)
        await poller.wait_until(lambda p: p.passes >= 1 and p.last_uid >= 3)
        assert await ingested(email_hub) == [msgid(first), msgid(second)]
        await email_hub.settle()
        answer = (await relay.next()).message  # the bot answered the IMAP mail by SMTP
        assert answer["In-Reply-To"] in (str(first["Message-ID"]), str(second["Message-ID"]))
        # New mail while connected: IDLE tells the poller at once (the poll interval is 10 minutes).
        third = customer_mail("More", "and a third question", sender="Eve <eve@example.org>")
        await append(dovecot, folder, third.as_bytes())
        await poller.wait_until(lambda p: p.last_uid >= 4, seconds=15)
        assert await ingested(email_hub) == [msgid(first), msgid(second), msgid(third)]
        assert all(r"\Seen" in line for line in await flags_in(dovecot, folder))
    finally:
        await email_hub.runtime.stop()
    # Mail arriving while the hub is down is picked up after the restart; nothing is fetched twice.
    fourth = customer_mail("While you were away", "hello again")
    await append(dovecot, folder, fourth.as_bytes())
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        poller = poller_of(email_hub)
        await poller.wait_until(lambda p: p.passes >= 1 and p.last_uid >= 5)
        assert poller.fetched == 1
        assert await ingested(email_hub) == [msgid(first), msgid(second), msgid(third), msgid(fourth)]
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)


async def test_imap_move_mode_uidvalidity_change_and_oversized_mail(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, dovecot: Dovecot, shop_bot: Any
) -> None:
    folder = f"T{uuid.uuid4().hex[:10]}"
    done = f"{folder}-done"
    async with imap(dovecot) as client:
        assert (await client.create(folder)).result == "OK"
    first = customer_mail("Opening hours?", "what are your opening hours?")
    huge = customer_mail("Big scan", "see attachment")
    huge.add_attachment(b"\0" * (300 * 1024), maintype="application", subtype="pdf", filename="scan.pdf")
    await append(dovecot, folder, first.as_bytes())
    await append(dovecot, folder, huge.as_bytes())
    imap_settings(settings, relay, tls_files, dovecot, folder, after="move", move_to=done)
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        await poller_of(email_hub).wait_until(lambda p: p.passes >= 1 and p.last_uid >= 2)
        assert await ingested(email_hub) == [msgid(first), msgid(huge)]
        stub = await email_hub.hub.store.messages.find_one({"external_id": msgid(huge)})
        assert stub is not None and "over the" in stub["text"] and stub["subject"] == "Big scan"
        assert await flags_in(dovecot, folder) == []  # moved away
        assert len(await flags_in(dovecot, done)) == 2
        state = await email_hub.hub.store.db["email_imap_state"].find_one({})
        assert state is not None and state["last_uid"] == 2
    finally:
        await email_hub.runtime.stop()
    # The folder is rebuilt (a migration, a restore): its UIDs start again at 1 with a new UIDVALIDITY.
    async with imap(dovecot) as client:
        assert (await client.delete(folder)).result == "OK"
        assert (await client.create(folder)).result == "OK"
        selected = await client.select(folder)
        validity = re.search(rb"UIDVALIDITY (\d+)", b" ".join(x for x in selected.lines if isinstance(x, bytes)))
        assert validity is not None
    later = customer_mail("After the migration", "is my order on its way?")
    await append(dovecot, folder, later.as_bytes())
    assert state["uidvalidity"] != int(validity.group(1))
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        await poller_of(email_hub).wait_until(lambda p: p.passes >= 1)
        assert await ingested(email_hub) == [msgid(first), msgid(huge), msgid(later)]
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)


async def test_wrong_imap_password_is_retried_and_logged_not_crashing(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, dovecot: Dovecot, shop_bot: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    imap_settings(settings, relay, tls_files, dovecot, "INBOX", password="wrong")
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        async def logged() -> bool:
            return any("LOGIN failed" in r.getMessage() and "reconnecting" in r.getMessage()
                       for r in caplog.records)

        await eventually(logged, what="the failed login logged")
        assert not any(task.done() for task in email_hub.channel._tasks)  # still trying, with backoff
        status, _ = await email_hub.hub.channel_status.read(["email"], [])  # the admins' Channels page shows it
        assert "IMAP support: ImapError: LOGIN failed" in status["email"]["last_error"]
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)
