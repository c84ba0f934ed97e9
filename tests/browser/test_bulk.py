"""An agent picks rows of the list and changes them together: one that cannot be changed is named with the reason
while the rest are changed; a supervisor gives picked tickets to a colleague by name."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from hub.ticketfields import definition
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client
from tests.test_transfers import new_ticket


async def test_picked_tickets_change_together(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    await hub.accounts.create("bob", "bob's long password", name="Bob Stone", roles=[Role.AGENT])
    await hub.accounts.create("sam", "sam's long password", name="Sam", roles=[Role.SUPERVISOR])
    async with http_client(runtime) as client:
        one, two, three = [(await new_ticket(client, runtime, name))[1] for name in ("Grace Hopper", "Ada Lovelace",
                                                                                      "Linus Torvalds")]
    await hub.tickets.assign(one["_id"], alice["_id"], alice)

    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    row = {t["number"]: ticket_row(page, t) for t in (one, two, three)}
    bar = page.locator("#bulk-bar")
    await expect(page.locator("#tickets li")).to_have_count(3)
    await expect(bar).to_be_hidden()
    await row[one["number"]].locator(".pick").check()
    await row[two["number"]].locator(".pick").check()
    await expect(bar).to_be_visible()
    await expect(page.locator("#bulk-count")).to_have_text("2 picked")
    await expect(page.locator("#ticket")).to_be_hidden()  # picking a row does not open it
    await page.locator("#bulk-action").select_option(label="Unassign")
    await page.locator("#bulk-apply").click()
    result = page.locator("#bulk-result")
    await expect(result).to_have_text(
        f"1 ticket changed. Not changed: #{two['number']} (this ticket is not assigned to you).")
    await expect(row[one["number"]].locator(".assignee")).to_have_count(0)  # handed back
    await expect(page.locator("#bulk-count")).to_have_text("1 picked")  # the one not changed stays picked

    await row[three["number"]].locator(".pick").check()
    await page.locator("#bulk-action").select_option(label="Mark solved")
    await screenshot(page, "desk-bulk-picked")
    await page.locator("#bulk-apply").click()
    await expect(result).to_have_text("2 tickets changed.")
    await expect(page.locator("#tickets li")).to_have_count(1)  # solved: no longer in the active list
    await expect(bar).to_be_hidden()
    await page.context.close()

    sam = await desk_login(browser, f"{live_url}/desk", "sam", "sam's long password")
    remaining = ticket_row(sam, one)
    await remaining.locator(".pick").check()
    await sam.locator("#bulk-action").select_option(label="Assign to Bob Stone")
    await sam.locator("#bulk-apply").click()
    await expect(sam.locator("#bulk-result")).to_have_text("1 ticket changed.")
    await expect(remaining.locator(".assignee")).to_have_text("Bob Stone")
    await screenshot(sam, "desk-bulk-assigned")
    statuses = {t["number"]: t["status"] async for t in hub.store.tickets.find({}, projection={"number": 1,
                                                                                                "status": 1})}
    assert statuses == {one["number"]: "new", two["number"]: "solved", three["number"]: "solved"}
    await sam.context.close()


async def test_picked_tickets_get_a_priority_a_tag_and_another_queue(browser: Any, live_url: str,
                                                                      runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        one, two = [(await new_ticket(client, runtime, name))[1] for name in ("Grace Hopper", "Ada Lovelace")]
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    rows = [ticket_row(page, t) for t in (one, two)]
    for row in rows:
        await row.locator(".pick").check()
    action, result = page.locator("#bulk-action"), page.locator("#bulk-result")

    await action.select_option(label="Priority urgent")
    await page.locator("#bulk-apply").click()
    await expect(result).to_have_text("2 tickets changed.")
    for row in rows:
        await expect(row.locator(".badge.prio")).to_have_text("urgent")

    for row in rows:  # picked again: the change unpicked them
        await row.locator(".pick").check()
    tag = page.locator("#bulk-tag")
    await expect(tag).to_be_hidden()
    await action.select_option(label="Add a tag…")
    await expect(tag).to_be_focused()
    await page.keyboard.type("VIP")
    await screenshot(page, "desk-bulk-tag")
    await page.keyboard.press("Enter")
    await expect(result).to_have_text("2 tickets changed.")
    await expect(tag).to_be_hidden()
    for row in rows:
        await expect(row).to_contain_text("#vip")

    for row in rows:
        await row.locator(".pick").check()
    await action.select_option(label="Move to Returns and refunds")
    await page.locator("#bulk-apply").click()
    await expect(result).to_have_text("2 tickets changed.")
    stored = [await hub.store.tickets.find_one({"_id": t["_id"]}) for t in (one, two)]
    assert [(t["queue"], t["priority"], t["tags"]) for t in stored if t] == [("returns", "urgent", ["vip"])] * 2

    for row in rows:  # and the tag taken off both again
        await row.locator(".pick").check()
    await action.select_option(label="Remove a tag…")
    await expect(page.get_by_role("textbox", name="Tag to remove")).to_be_focused()
    await page.keyboard.type("vip")
    await screenshot(page, "desk-bulk-untag")
    await page.keyboard.press("Enter")
    await expect(result).to_have_text("2 tickets changed.")
    for row in rows:
        await expect(row).not_to_contain_text("#vip")
    stored = [await hub.store.tickets.find_one({"_id": t["_id"]}) for t in (one, two)]
    assert [t["tags"] for t in stored if t] == [[], []]

    # a ticket field's value on both (hub.ticketfields; the bar reads the fields at sign-in)
    await hub.tickets.fields.save(definition("topic", "Topic", "list", ["Refund", "Delivery"]))
    await page.reload()
    await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    for row in rows:
        await row.locator(".pick").check()
    await action.select_option(label="Set Topic: Refund")
    await screenshot(page, "desk-bulk-field")
    await page.locator("#bulk-apply").click()
    await expect(result).to_have_text("2 tickets changed.")
    stored = [await hub.store.tickets.find_one({"_id": t["_id"]}) for t in (one, two)]
    assert [t["fields"] for t in stored if t] == [{"topic": "Refund"}] * 2
    await page.context.close()
