"""Saved views in the desk (savedviews.js): an agent sets the list's filters, keeps them as "Urgent email", leaves
them by changing a filter, picks the view again (the filters and the list follow), finds it after a reload, and
deletes it. The view says how many tickets it holds, and follows the desk's changes."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.test_ticket_list import desk


async def test_an_agent_keeps_and_picks_a_view(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    tickets = await desk(runtime)
    await hub.tickets.edit(tickets["ana"]["_id"], alice, priority="urgent")
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    rows = page.locator("#tickets li")
    await expect(rows).to_have_count(3)
    filters = page.locator("#ticket-filters")
    await filters.locator("select[name=channel]").select_option("email")
    await filters.locator("select[name=priority]").select_option("urgent")
    await expect(rows).to_have_count(1)
    await page.locator("#queues li[data-queue=returns]").click()  # the sidebar's queue goes with the view
    await expect(page.locator("#queues li[data-queue=returns]")).to_have_class("active")
    await page.locator("#view-save").click()
    await page.locator("#view-name").fill("Urgent email")
    await page.locator("#view-name").press("Enter")
    views = page.locator("#ticket-views")
    await expect(views).to_have_value("Urgent email")
    option = views.locator("option[value='Urgent email']")
    await expect(option).to_have_text("Urgent email (1)")  # how many it holds now
    await hub.tickets.edit(tickets["ana"]["_id"], alice, priority="high")  # a colleague's change: counted again
    await expect(option).to_have_text("Urgent email (0)")
    await hub.tickets.edit(tickets["ana"]["_id"], alice, priority="urgent")
    await expect(option).to_have_text("Urgent email (1)")
    assert [v.public() for v in await hub.saved_views.of(alice["_id"])] == [
        {"name": "Urgent email", "filters": {"channel": "email", "priority": "urgent", "queue": "returns"}}]

    await page.locator("#queues li").first.click()  # all queues: no longer the view
    await expect(views).to_have_value("")
    await views.select_option("Urgent email")
    await expect(page.locator("#queues li[data-queue=returns]")).to_have_class("active")
    await filters.locator("select[name=channel]").select_option("")  # by hand: no longer the view
    await expect(views).to_have_value("")
    await filters.locator("select[name=priority]").select_option("")
    await page.locator("#queues li").first.click()
    await expect(rows).to_have_count(3)
    await views.select_option("Urgent email")
    await expect(rows).to_have_count(1)
    await expect(ticket_row(page, tickets["ana"])).to_be_visible()
    await expect(filters.locator("select[name=channel]")).to_have_value("email")
    await screenshot(page, "desk-saved-views")

    await page.reload()
    await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    await expect(page.locator("#ticket-views option")).to_have_count(2)  # "Views…" and mine
    await page.locator("#ticket-views").select_option("Urgent email")
    await expect(page.locator("#tickets li")).to_have_count(1)
    await page.locator("#view-delete").click()
    await expect(page.locator("#ticket-views option")).to_have_text(["No saved views"])
    assert await hub.saved_views.of(alice["_id"]) == []
    await page.context.close()
