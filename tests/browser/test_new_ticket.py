"""Writing to a customer first from the desk (hub.outbound): "New ticket" above the queues opens a form; a wrong
address is refused with the reason in the form; sent, the new ticket opens, held by the agent, with the message
and its line, and the mail leaves through the relay. A hub whose email channel has no relay shows no button."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.email.conftest import TlsFiles, email_config, relay, tls_files
from tests.email.relay import RelayStandIn

__all__ = ["relay", "tls_files"]  # the email tests' fixtures: the relay stand-in and its certificate


@pytest.fixture
def settings(settings: Settings, relay: RelayStandIn, tls_files: TlsFiles) -> Settings:
    config = email_config(relay.port, tls_files.cert)
    config["smtp_listener"]["enabled"] = False
    settings.channels["email"] = config
    return settings


async def test_an_agent_writes_to_a_customer_first(browser: Any, live_url: str, runtime: Runtime,
                                                   relay: RelayStandIn) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    await page.locator("#new-ticket").click()
    dialog = page.locator("#new-ticket-dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("#new-to").fill("dana@example")  # the browser takes it; the hub does not
    await dialog.locator("#new-name").fill("Dana Scully")
    await dialog.locator("#new-subject").fill("Your order 5521")
    await dialog.locator("#new-queue").select_option("orders")
    await dialog.locator("#new-text").fill("Your parcel was damaged in our warehouse. We send a new one today.")
    await dialog.locator("#new-send").click()
    await expect(dialog.locator("p.error")).to_contain_text("not an address on email")
    await dialog.locator("#new-to").fill("dana@example.org")
    await dialog.locator("#new-status").select_option("pending")
    await screenshot(page, "desk-new-ticket")
    await dialog.locator("#new-send").click()

    await expect(dialog).to_be_hidden()
    await expect(page.locator("#ticket-title")).to_have_text("#1 Your order 5521")
    await expect(page.locator("#ticket-meta")).to_contain_text("an agent wrote first")
    await expect(page.locator("#ticket-meta")).to_contain_text("assigned to you")
    await expect(page.locator("#status")).to_have_value("pending")
    await expect(page.locator("#messages li.change", has_text="Alice Ng started the ticket by writing to the customer."
                              )).to_have_count(1)
    await expect(page.locator("#messages li", has_text="We send a new one today.").first).to_be_visible()
    await expect(page.locator("#contact")).to_contain_text("Dana Scully")
    await expect(ticket_row(page, {"number": 1})).to_contain_text("Dana Scully")  # the list has it, live
    await expect(page.locator("#ticket-filters select[name=assignee] option").first).to_have_text("Everyone (1)")
    await screenshot(page, "desk-new-ticket-sent")
    mail = (await relay.next()).message
    assert str(mail["Subject"]) == "Your order 5521 [#1]" and str(mail["To"]) == "dana@example.org"
    await page.context.close()
