"""The Channels page's view of email: where mail comes in, a credential check (SMTP relay and IMAP logins),
a test target."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosmtplib

from channels.base import ChannelConfigError, CheckLine, PasteUrl, TestTarget
from channels.email.addresses import clean_address
from channels.email.config import EmailConfig, ImapConfig, RelayConfig, parse_config
from channels.email.imap_poller import NETWORK_ERRORS, imap_client, imap_ssl_context
from channels.email.inbound import CHANNEL
from channels.email.sender import relay_tls_context

DESTINATION = "Email address"
SENDER = "From mailbox (name; empty: the first)"


def paste_urls(raw: dict[str, Any], public_url: str) -> list[PasteUrl]:
    try:
        config = parse_config(raw)
    except ChannelConfigError as exc:
        return [PasteUrl("configuration", str(exc))]
    urls: list[PasteUrl] = []
    listener = config.listener
    for box in config.mailboxes.values():
        if box.imap is not None:
            urls.append(PasteUrl(f"Mailbox {box.name}", box.address,
                                 f"read over IMAP from {box.imap.host} ({box.imap.folder}); nothing to paste"))
        elif listener.enabled:
            urls.append(PasteUrl(f"Mailbox {box.name}", box.address,
                                 f"point its MX or the provider's forwarding at the hub's SMTP listener "
                                 f"{listener.hostname}:{listener.port}"))
        else:
            urls.append(PasteUrl(f"Mailbox {box.name}", box.address,
                                 "no IMAP and no SMTP listener: mail to it does not reach the hub"))
    if config.relay is not None:
        urls.append(PasteUrl("Outgoing relay", f"{config.relay.host}:{config.relay.port} ({config.relay.security})",
                             "replies leave through this SMTP relay"))
    return urls


async def check(raw: dict[str, Any], public_url: str) -> list[CheckLine]:
    try:
        config = parse_config(raw)
    except ChannelConfigError as exc:
        return [CheckLine("configuration", False, str(exc))]
    lines = [await _relay(config.relay)] if config.relay else [CheckLine("SMTP relay", False,
                                                                         "no relay configured: replies cannot go out")]
    for box in config.mailboxes.values():
        if box.imap is not None:
            lines.append(await _imap(box.name, box.imap))
    return lines


async def _relay(relay: RelayConfig) -> CheckLine:
    what = f"SMTP relay {relay.host}:{relay.port}"
    client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, use_tls=relay.security == "tls",
                             start_tls=relay.security == "starttls", tls_context=relay_tls_context(relay),
                             timeout=relay.timeout, local_hostname=relay.local_hostname)
    try:
        await client.connect()
        if relay.username:
            await client.login(relay.username, relay.password or "")
            detail = f"logged in as {relay.username}"
        else:
            detail = "connected (no login configured)"
        await client.quit()
        return CheckLine(what, True, detail)
    except aiosmtplib.SMTPAuthenticationError as exc:
        return CheckLine(what, False, f"the relay refused the login: {exc.code} {exc.message}")
    except aiosmtplib.SMTPResponseException as exc:
        return CheckLine(what, False, f"the relay answered {exc.code} {exc.message}")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return CheckLine(what, False, f"cannot use the relay: {type(exc).__name__}: {exc}")
    finally:
        client.close()


async def _imap(name: str, imap: ImapConfig) -> CheckLine:
    what = f"IMAP {name} ({imap.username}@{imap.host})"
    client = imap_client(imap, imap_ssl_context(imap))
    try:
        async with asyncio.timeout(imap.timeout):
            await client.wait_hello_from_server()
            answer = await client.login(imap.username, imap.password)
            if answer.result != "OK":
                return CheckLine(what, False, "the server refused the login")
            await client.logout()
        return CheckLine(what, True, "logged in")
    except (*NETWORK_ERRORS, TimeoutError) as exc:
        return CheckLine(what, False, f"cannot reach the server: {type(exc).__name__}")
    finally:
        if client.protocol is not None and client.protocol.transport is not None:
            client.protocol.transport.close()


def test_target(raw: dict[str, Any], destination: str, sender: str | None) -> TestTarget:
    address = clean_address(destination.strip())
    if address is None:
        raise ValueError("an email address")
    config: EmailConfig = parse_config(raw)
    inbox = sender or next(iter(config.mailboxes))
    if inbox not in config.mailboxes:
        raise ValueError(f"a configured mailbox ({', '.join(config.mailboxes)})")
    return TestTarget(CHANNEL, address, f"admin-test:{address}", {}, inbox=inbox)
