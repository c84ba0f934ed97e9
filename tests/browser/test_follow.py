"""Following a ticket in the desk (hub.followers): Bob follows Grace's ticket, which Alice holds; when Grace writes
while he reads another ticket, his row of hers gets the dot "News on a ticket you follow", live, and keeps it
after a reload (the hub knows); so does Alice's answer to Grace; the list's "Following" view shows it, whoever holds
it; he stops following from the same button, and it leaves that view; following again, Alice's solve is news in the
header's News list ("Alice solved it")."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client
from tests.test_transfers import new_ticket
from tests.test_widget_flow import say


async def test_a_colleague_follows_a_ticket_and_hears_the_customer(browser: Any, live_url: str,
                                                                   runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        grace_token, grace = await new_ticket(client, runtime, "Grace Hopper")
        _, linus = await new_ticket(client, runtime, "Linus Torvalds")
    await hub.tickets.assign(grace["_id"], alice["_id"], alice)
    page = await desk_login(browser, f"{live_url}/desk", "bob", "bob's long password")
    await ticket_row(page, grace).click()
    button = page.locator("#follow")
    await expect(button).to_have_text("Follow")
    await button.click()
    await expect(button).to_have_text("Following")
    await expect(button).to_have_attribute("aria-pressed", "true")

    await ticket_row(page, linus).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
    async with http_client(runtime) as client:
        await say(client, grace_token, "My invoice shows the wrong address")
    dot = ticket_row(page, grace).locator(".dot")
    await expect(dot).to_have_attribute("title", "News on a ticket you follow")
    await expect(page).to_have_title("(1) Switchboard desk")
    await screenshot(page, "desk-follow-news")

    await page.reload()  # the hub keeps it unread for him
    await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    await expect(ticket_row(page, grace).locator(".dot")).to_have_attribute(
        "title", "News on a ticket you follow")
    await ticket_row(page, grace).click()  # reading it takes the dot away
    await expect(ticket_row(page, grace)).not_to_have_class("unread")

    # Alice, who holds it, answers Grace while he is on Linus's ticket: news for him too, live
    await ticket_row(page, linus).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
    await hub.tickets.reply(grace["_id"], alice, "We corrected the address on your invoice.")
    await expect(ticket_row(page, grace).locator(".dot")).to_have_attribute(
        "title", "News on a ticket you follow")
    await ticket_row(page, grace).click()
    await expect(ticket_row(page, grace)).not_to_have_class("unread")
    await page.select_option("#ticket-filters select[name=assignee]", "following")  # the tickets he follows
    await expect(page.locator("#tickets li")).to_have_count(1)
    await expect(ticket_row(page, grace)).to_be_visible()
    await expect(ticket_row(page, grace)).to_contain_text("Alice")  # whoever holds it
    await screenshot(page, "desk-following-list")
    await expect(button).to_have_text("Following")
    await button.click()
    await expect(button).to_have_text("Follow")
    await expect(page.locator("#tickets li")).to_have_count(0)  # the list hears the change
    assert (await hub.store.tickets.find_one({"_id": grace["_id"]}))["followers"] == []

    # following again, he hears Alice solve it: the ticket leaves the active list, the News list names it
    await button.click()
    await expect(button).to_have_text("Following")
    await page.select_option("#ticket-filters select[name=assignee]", "")  # everyone's
    await ticket_row(page, linus).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
    await hub.tickets.set_status(grace["_id"], "solved", alice)
    await expect(page.locator("#news-count")).to_have_text("1")
    await expect(ticket_row(page, grace)).to_have_count(0)  # solved: not in the active list
    await page.locator("#news-open").click()
    await expect(page.locator("#news-items li")).to_have_text(re.compile(
        rf"#{grace['number']} Alice solved it \(you follow it\)"))
    await screenshot(page, "desk-follow-solved-news")
    await page.locator("#news-items li a").click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{grace['number']}")
    await expect(page.locator("#news-count")).to_have_text("")
    await page.context.close()
