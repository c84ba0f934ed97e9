"""An agent renames a ticket from its head: Enter saves, and the list shows the new subject; Escape keeps the old."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client
from tests.test_transfers import new_ticket


async def test_an_agent_renames_a_ticket(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        _, ticket = await new_ticket(client, runtime, "Grace Hopper")
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    row = ticket_row(page, ticket)
    await row.click()
    await page.locator("#ticket-rename").click()
    field = page.locator("#ticket-subject")
    await expect(field).to_be_focused()
    await expect(field).to_have_value(ticket["subject"])
    await field.fill("Something else")
    await field.press("Escape")  # kept as it was
    await expect(page.locator("#ticket-title")).to_have_text(f"#{ticket['number']} {ticket['subject']}")
    await page.locator("#ticket-rename").click()
    await field.fill("Refund for a broken kettle")
    await screenshot(page, "desk-ticket-rename")
    await field.press("Enter")
    await expect(page.locator("#ticket-title")).to_have_text(f"#{ticket['number']} Refund for a broken kettle")
    await expect(field).to_be_hidden()
    await expect(row).to_contain_text("Refund for a broken kettle")  # the list read again after the change
    stored = await runtime.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and stored["subject"] == "Refund for a broken kettle"
    await page.context.close()
