"""The desk's ticket list: search finds a ticket by a word of its messages; tags set on the ticket
head filter the list; "load more" pages on."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import expect

from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.test_ticket_list import open_ticket


async def test_search_by_a_message_word_and_filter_by_tag(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    kettle = await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima",
                                                        email="ana@example.com"),
                               "My parcel with the blue kettle never arrived", subject="Missing parcel")
    for i in range(26):  # more than a page
        await open_ticket(runtime, "sms", Sender(f"+4477009{i:05d}", phone=f"+4477009{i:05d}"),
                          f"question number {i} about my invoice")

    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    desk = await ctx.new_page()
    await desk.goto(f"{live_url}/desk")
    await desk.fill("input[name=username]", "agent1")
    await desk.fill("input[name=password]", "agent one password")
    await desk.click("#login-form button[type=submit]")
    items = desk.locator("#tickets li")
    await expect(items).to_have_count(25)
    await expect(desk.locator("#ticket-filters select[name=assignee] option").nth(2)).to_have_text("Unassigned (27)")
    await desk.click("#tickets-more")
    await expect(items).to_have_count(27)
    await expect(desk.locator("#tickets-more")).to_be_hidden()

    await desk.fill("#ticket-search", "kettle")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text(f"#{kettle['number']}")
    await expect(items.first).to_contain_text("Ana Lima")
    await screenshot(desk, "desk-ticket-search")

    await items.first.click()
    await desk.fill("#ticket-tags", "vip, shipping")
    await desk.press("#ticket-tags", "Enter")
    await desk.select_option("#ticket-priority", "urgent")
    await desk.fill("#ticket-search", "")
    await desk.fill("#ticket-filters input[name=tag]", "vip")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("#shipping #vip")
    await expect(items.first.locator(".badge.prio")).to_have_text("urgent")
    await screenshot(desk, "desk-ticket-tag-filter")
    await ctx.close()


async def test_the_list_keeps_up_with_a_desk_that_never_goes_quiet(browser: Any, live_url: str,
                                                                   runtime: Runtime) -> None:
    """Ticket changes every 50 ms for two seconds: the list shows them while they keep coming, not only once they
    stop (it waited for 150 ms without a change until 2026-12-06), and reads itself again at most about once a
    second (it read itself after every pause of 150 ms)."""
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    agent = await hub.store.agents.find_one({"username": "agent1"})
    ticket = await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima",
                                                        email="ana@example.com"),
                               "My parcel with the blue kettle never arrived", subject="Missing parcel")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    desk = await ctx.new_page()
    await desk.goto(f"{live_url}/desk")
    await desk.fill("input[name=username]", "agent1")
    await desk.fill("input[name=password]", "agent one password")
    await desk.click("#login-form button[type=submit]")
    item = desk.locator("#tickets li", has_text="Missing parcel")
    await expect(item).to_be_visible()
    lists: list[str] = []
    desk.on("request", lambda r: lists.append(r.url) if "/api/tickets?" in r.url else None)

    async def keep_changing() -> None:
        for step in range(40):
            await hub.tickets.edit(ticket["_id"], agent, tags=[f"step{step}"])
            await asyncio.sleep(0.05)  # the pace of the changes, not a wait for the page

    writer = asyncio.create_task(keep_changing())
    try:
        await expect(item).to_contain_text("#step", timeout=10_000)
        assert not writer.done(), "the list showed the changes only once they stopped"
        await writer
        await expect(item).to_contain_text("#step39")  # and the last one once they stop
        elapsed_lists = len(lists)
    finally:
        writer.cancel()
    assert 1 <= elapsed_lists <= 6, lists  # about one a second over the two seconds and more, not one per change
    await screenshot(desk, "desk-ticket-list-busy")
    await ctx.close()
