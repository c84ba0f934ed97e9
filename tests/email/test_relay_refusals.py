"""A relay that refuses the hub itself fails a reply at once, naming the setting to fix; a 454 is retried.

Against the real stand-in relay (aiosmtpd, STARTTLS and AUTH required): wrong credentials (535),
no credentials (530 to MAIL FROM), and a temporary authentication failure (454).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from switchboard.config import Settings
from tests.conftest import _drop
from tests.email.conftest import EmailHub, TlsFiles, customer_mail, email_config, start_email_hub
from tests.email.relay import RelayStandIn
from tests.helpers import eventually


@asynccontextmanager
async def hub_with_relay(settings: Settings, shop_bot: Any, relay: RelayStandIn, tls_files: TlsFiles,
                         **relay_settings: Any) -> AsyncIterator[EmailHub]:
    config = email_config(relay.port, tls_files.cert)
    config["relay"].update(relay_settings)
    config["relay"] = {k: v for k, v in config["relay"].items() if v is not None}
    settings.channels["email"] = config
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        yield email_hub
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)


async def ask(email_hub: EmailHub) -> None:
    """A customer's question the bot answers: its reply is the mail the relay gets (or refuses)."""
    await email_hub.deliver(customer_mail("Opening hours?", "what are your opening hours?"))
    await email_hub.settle()


async def failed_reply(email_hub: EmailHub) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reply reported failed to the desk, and its outbox entry."""
    store = email_hub.hub.store

    async def failed_event() -> dict[str, Any] | None:  # written last, after the message and its outbox entry
        return await store.events.find_one({"type": "message.failed"})

    event = await eventually(failed_event, what="the reply reported failed")
    message = await store.messages.find_one({"_id": event["message_id"]})
    entry = await store.outbox.find_one({"message_id": event["message_id"]})
    assert message is not None and entry is not None
    return message, entry


async def test_refused_credentials_fail_the_reply_at_once_with_the_setting_to_check(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    async with hub_with_relay(settings, shop_bot, relay, tls_files, password="not-the-relay-password") as email_hub:
        await ask(email_hub)
        message, entry = await failed_reply(email_hub)
    error = message["delivery"]["error"]
    assert message["delivery"]["status"] == "failed"
    assert "refused the hub's login: 535" in error and "channels.email.relay.username and password" in error
    assert entry["status"] == "failed" and entry["attempts"] == 1  # not retried: only an administrator can fix it
    assert relay.auth_attempts >= 1 and relay.received == []


async def test_a_relay_requiring_a_login_it_did_not_get_fails_the_reply_at_once(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    async with hub_with_relay(settings, shop_bot, relay, tls_files, username=None, password=None) as email_hub:
        await ask(email_hub)
        message, entry = await failed_reply(email_hub)
    error = message["delivery"]["error"]
    assert "relay refused the sender address support@example.com: 530" in error
    assert "the relay requires a login" in error
    assert entry["status"] == "failed" and entry["attempts"] == 1
    assert relay.auth_attempts == 0 and relay.received == []


async def test_a_temporary_login_failure_is_retried_until_the_relay_takes_the_reply(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    settings.outbox = {"base_seconds": 0.05, "max_seconds": 0.2, "max_attempts": 1000}
    relay.auth_answer = "454 4.7.0 Temporary authentication failure"
    async with hub_with_relay(settings, shop_bot, relay, tls_files) as email_hub:
        store = email_hub.hub.store
        await ask(email_hub)

        async def retrying() -> dict[str, Any] | None:
            return await store.outbox.find_one({"attempts": {"$gte": 2}, "status": {"$ne": "sent"}})

        entry = await eventually(retrying, what="the reply retried after 454")
        message = await store.messages.find_one({"_id": entry["message_id"]})
        assert message is not None and message["delivery"]["status"] == "retrying"
        assert "454" in message["delivery"]["error"]
        relay.auth_answer = None  # the relay's authentication service is back

        delivered = await relay.next()
        assert delivered.authenticated_as == "hub" and delivered.rcpt_tos == ("dana@example.org",)

        async def sent() -> bool:
            found = await store.messages.find_one({"_id": entry["message_id"]})
            return found is not None and found["delivery"]["status"] == "sent"

        await eventually(sent, what="the reply marked sent")
        assert await store.events.count_documents({"type": "message.failed"}) == 0
