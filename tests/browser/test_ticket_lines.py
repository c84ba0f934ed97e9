"""A ticket's changes in its timeline, as the agent reads them: the supervisor who gave it to her, her own priority
and pending time (worded in her zone, Berlin here), and a colleague's tag arriving live while she has it open. Names
only, each one quiet line between the messages, and the customer's reply waking the pending ticket, said under it;
the customer's chat shows none of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client
from tests.test_transfers import new_ticket
from tests.test_widget_flow import say

BERLIN = ZoneInfo("Europe/Berlin")


async def test_the_agent_reads_who_changed_her_ticket(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    async with http_client(runtime) as client:
        token, grace = await new_ticket(client, runtime, "Grace Hopper")
    await hub.tickets.assign(grace["_id"], alice["_id"], sam)  # before she signs in
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password",
                            timezone_id="Europe/Berlin", locale="en-GB")
    await ticket_row(page, grace).click()
    lines = page.locator("#messages li.change")
    await expect(lines.nth(0).locator(".text")).to_have_text("Sam Lead gave the ticket to Alice.")

    await page.locator("#ticket-priority").select_option("high")
    await expect(lines.nth(1).locator(".text")).to_have_text("Alice changed the priority from normal to high.")
    await page.locator("#status").select_option("pending")
    await page.locator("#pending-until").get_by_role("button", name="Tomorrow 09:00").click()
    tomorrow = datetime.now(BERLIN) + timedelta(days=1)
    said = tomorrow.strftime("%a %-d %b")  # en-GB: "Tue 8 Dec, 09:00"
    # the status menu sets it pending at once, then the time chosen
    await expect(lines.nth(2).locator(".text")).to_have_text("Alice set the ticket to pending.")
    await expect(lines.nth(3).locator(".text")).to_have_text(f"Alice set the ticket to open again on {said}, 09:00.")

    await hub.tickets.edit(grace["_id"], sam, add_tags=["vip"])  # a colleague, while she has it open: live
    await expect(lines.nth(4).locator(".text")).to_have_text("Sam Lead added the tag vip.")
    # Grace answers in her chat: the ticket is open again, said right under her message, live
    async with http_client(runtime) as client:
        await say(client, token, "Any news on this?")
    await expect(lines.nth(5).locator(".text")).to_have_text("The customer replied: the ticket is no longer pending.")
    await expect(page.locator("#messages li").last.locator(".text")).to_have_text(
        "The customer replied: the ticket is no longer pending.")
    await expect(page.locator("#status")).to_have_value("new")  # nobody answered her yet
    await expect(ticket_row(page, grace)).not_to_contain_text("pending")  # the list too, live
    await expect(page.locator("#ticket-title")).to_contain_text("I want to talk to a human")  # a nudge names nothing
    await expect(lines).to_have_count(6)
    timeline = await page.locator("#messages").inner_text()
    assert str(sam["_id"]) not in timeline and str(alice["_id"]) not in timeline
    await screenshot(page, "desk-ticket-changes")
    await page.context.close()

    # the customer's chat: the handoff notice and her message, no line
    async with http_client(runtime) as client:
        history = await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {token}"})
        assert history.status == 200, await history.text()
        texts = [m["text"] for m in (await history.json())["messages"]]
    assert "Any news on this?" in texts
    assert not any("ticket" in t and ("Alice" in t or "Sam" in t or "customer" in t) for t in texts), texts
