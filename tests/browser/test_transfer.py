"""An agent moves a ticket to Billing with a note; a colleague watching Billing sees it arrive live, note and all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client, make_settings
from tests.test_transfers import new_ticket

NOTE = "Asks about a VAT refund on invoice 2211"


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["billing"] = QueueConfig(name="billing", title="Billing")
    return settings


async def test_a_ticket_moved_to_billing_with_a_note_appears_live_for_a_colleague(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    await runtime.hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        _token, ticket = await new_ticket(client, runtime, "Grace Hopper")

    bob = await desk_login(browser, f"{live_url}/desk", "bob", "bob's long password")
    await bob.locator("#queues li[data-queue=billing]").click()
    await expect(bob.locator("#queues li[data-queue=billing]")).to_have_class("active")
    await expect(bob.locator("#tickets li")).to_have_count(0)

    alice = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    await ticket_row(alice, ticket).click()
    await alice.locator("#take").click()
    await expect(alice.locator("#take")).to_be_hidden()
    await alice.locator("#transfer").click()
    await expect(alice.locator("#transfer-agent")).to_contain_text("Bob — online, 0/5")
    await alice.locator("#transfer-queue").select_option("billing")
    await alice.locator("#transfer-note").fill(NOTE)
    await screenshot(alice, "desk-transfer-form")
    await alice.locator("#transfer-form button[type=submit]").click()
    line = f"Alice moved this to Billing: {NOTE}"
    await expect(alice.locator("#messages li.move")).to_contain_text(line)
    # The head names the queue by its title and says who has the ticket (no one now: it waits in Billing)
    await expect(alice.locator("#ticket-meta")).to_have_text("Billing · web chat · asked for a person · unassigned")
    await expect(alice.locator("#transfer-panel")).to_be_hidden()

    arrived = ticket_row(bob, ticket)
    await expect(arrived).to_contain_text("Grace Hopper")  # no reload: the desk feed brought it
    await arrived.click()
    await expect(bob.locator("#messages li.move .text")).to_have_text(line)
    await bob.locator("#take").click()  # Bob takes it: his head says so, and Alice's says who, by name
    await expect(bob.locator("#ticket-meta")).to_contain_text("· assigned to you")
    await expect(alice.locator("#ticket-meta")).to_contain_text("· assigned to Bob")
    # and the lists say who has it too
    await expect(ticket_row(bob, ticket).locator(".assignee")).to_have_text("you")
    await expect(ticket_row(alice, ticket).locator(".assignee")).to_have_text("Bob")
    await screenshot(alice, "desk-transfer-taken-by-colleague")
    await screenshot(bob, "desk-transfer-received")
    await alice.context.close()
    await bob.context.close()
