"""A customer in the widget and an agent in the desk, two browser contexts, live both ways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot
from tests.helpers import eventually

LABEL = b"%PDF-1.4\n% return label\n\x00\xff"
XSS = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 1\">"


async def _presence_is(runtime: Runtime, presence: str) -> bool:
    assert runtime.hub is not None
    agent = await runtime.hub.store.agents.find_one({"username": "agent1"})
    return agent is not None and agent.get("presence") == presence


async def test_customer_and_agent_talk_live_and_markup_stays_text(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    assert runtime.hub is not None
    agent1 = await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    dialogs: list[str] = []

    desk_ctx = await browser.new_context()
    desk = await desk_ctx.new_page()
    desk.on("dialog", lambda d: dialogs.append(d.message))
    await desk.goto(f"{live_url}/desk")
    await desk.fill("input[name=username]", "agent1")
    await desk.fill("input[name=password]", "agent one password")
    await desk.click("#login-form button[type=submit]")
    await expect(desk.locator("#whoami")).to_contain_text("Agent One")
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")

    shop_ctx = await browser.new_context()
    shop = await shop_ctx.new_page()
    shop.on("dialog", lambda d: dialogs.append(d.message))
    await shop.goto(f"{live_url}/demo")
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    await expect(shop.locator(".sb-status")).to_have_text("online")
    box = shop.locator(".sb-form textarea")
    await box.fill("Where are my shoes? I want to talk to a human " + XSS)
    await box.press("Enter")
    # The bot hands over; the customer sees the ticket number without reloading.
    await expect(shop.locator(".sb-msg.system")).to_contain_text("ticket number is #")

    # The new ticket shows up in the agent's list live (no reload), and opens.
    ticket_item = desk.locator("#tickets li").first
    await expect(ticket_item).to_contain_text("#")
    await ticket_item.click()
    customer_line = desk.locator("#messages li.customer .text").first
    await expect(customer_line).to_contain_text("<script>window.__pwned = 1</script>")
    # The customer's card names the chat by what an agent can read: the channel and the site, not the visitor's id
    await expect(desk.locator("#contact [data-channel=widget]")).to_have_text("Web chat · visitor on demo")
    # and the head names the queue by its title and the channel in words
    await expect(desk.locator("#ticket-meta")).to_have_text(re.compile(r"^General support · web chat · "))

    await desk.fill("#reply-text", "Hello from the desk " + XSS)
    await desk.click("#reply-send")
    agent_bubble = shop.locator('.sb-msg.out[data-author="agent"]')
    await expect(agent_bubble).to_contain_text("Hello from the desk <script>")
    await expect(agent_bubble).to_contain_text("Agent One")

    # The agent sends a file alone; the customer downloads it from the chat.
    await desk.set_input_files("#reply-files", files=[{"name": "return label.pdf", "mimeType": "application/pdf",
                                                        "buffer": LABEL}])
    await desk.click("#reply-send")
    await expect(desk.locator("#reply-error")).to_have_text("")
    link = shop.locator(".sb-file")
    await expect(link).to_have_text("return label.pdf")
    async with shop.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == "return label.pdf"
    assert Path(await download.path()).read_bytes() == LABEL
    await expect(desk.locator("#messages li.agent a").last).to_have_text("return label.pdf")
    await expect(desk.locator("#messages li.agent a svg.file-icon")).to_have_count(1)  # a drawn paperclip

    # A canned response, filled for this customer, goes into the reply box where the agent edits it.
    assert runtime.hub is not None
    await runtime.hub.responses.create({"shortcut": "thanks", "title": "Thanks for waiting",
                                        "text": "Thanks for waiting, {{agent.name}} here."}, by=agent1["_id"])
    await desk.reload()
    await expect(desk.locator("#canned")).to_be_visible()
    await desk.select_option("#canned", label="Thanks for waiting  /thanks")
    await expect(desk.locator("#reply-text")).to_have_value("Thanks for waiting, Agent One here.")
    await desk.fill("#reply-text", "")

    # The customer answers; the agent's open ticket view gets it live.
    await box.fill("Thanks! " + XSS)
    await box.press("Enter")
    await expect(desk.locator("#messages li.customer .text").last).to_contain_text("Thanks! <script>")

    # The customer sends a photo from the widget; the agent sees it in the ticket, live.
    await shop.locator("#switchboard-widget input[type=file]").set_input_files(
        files=[{"name": "broken chair.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0 chair"}])
    await expect(desk.locator("#messages li.customer a").last).to_have_text("broken chair.jpg")
    await expect(shop.locator(".sb-msg.in .sb-file")).to_have_text("broken chair.jpg")
    await screenshot(desk, "desk-ticket-live")  # the open ticket's messages arrived live (its feed watches them)

    # Markup stayed text on both sides: no element was created from it and nothing ran.
    assert await shop.evaluate("window.__pwned") is None
    assert await desk.evaluate("window.__pwned") is None
    assert await desk.locator("#messages img").count() == 0
    assert await shop.locator("#switchboard-widget img").count() == 0
    assert dialogs == []

    # A reload keeps the visitor's conversation (token in localStorage).
    await shop.reload()
    await expect(shop.locator(".sb-msg.in").first).to_contain_text("Where are my shoes?")
    # The reloaded page's socket is authenticated (its first frame) before the page closes: only
    # then is it a connection whose end means the customer left.
    await expect(shop.locator(".sb-status")).to_have_text("online")

    # The customer closes the page: the agent's open ticket says so, live.
    await shop_ctx.close()
    await expect(desk.locator("#ticket-meta")).to_contain_text("customer left the chat at")

    # The agent takes a break from the header menu: still connected, no longer routed to.
    await desk.select_option("#my-status", "away")
    await eventually(lambda: _presence_is(runtime, "away"), what="agent1 away")
    await expect(desk.locator("#status-error")).to_have_text("")
    await desk_ctx.close()
    await eventually(lambda: _presence_is(runtime, "offline"), what="agent1 offline once the desk is closed")


async def test_supervisor_edits_the_canned_response_library(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sue", "supervisor password", name="Sue", roles=[Role.SUPERVISOR])
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await page.goto(f"{live_url}/desk#/responses")
    await page.fill("input[name=username]", "sue")
    await page.fill("input[name=password]", "supervisor password")
    await page.click("#login-form button[type=submit]")
    await page.click("#nav a[data-nav=responses]")
    await page.fill("#response-form input[name=shortcut]", "hours")
    await page.fill("#response-form input[name=title]", "Opening hours")
    await page.fill("#response-form textarea[name=text]", "We are open 9 to 5.")
    await page.click("#response-form button[type=submit]")
    row = page.locator("#responses tr[data-shortcut=hours]")
    await expect(row).to_contain_text("We are open 9 to 5.")
    await row.get_by_role("button", name="Edit").click()
    await expect(page.locator("#response-form input[name=title]")).to_have_value("Opening hours")
    await page.fill("#response-form textarea[name=text]", "We are open 9 to 6.")
    await page.click("#response-form button[type=submit]")
    await expect(row).to_contain_text("We are open 9 to 6.")
    stored = await runtime.hub.responses.list()
    assert [(r["shortcut"], r["text"]) for r in stored] == [("hours", "We are open 9 to 6.")]
    await row.get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0)
    assert await runtime.hub.responses.list() == []
    await ctx.close()


async def test_send_and_solve_answers_closes_and_asks_for_a_rating(browser: Any, live_url: str,
                                                                   runtime: Runtime) -> None:
    """The desk's "Send and solve": the customer reads the reply and the rating request, the desk shows the ticket
    solved, in one click."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("agent2", "agent two password", name="Agent Two", roles=[Role.AGENT])
    shop_ctx = await browser.new_context()
    shop = await shop_ctx.new_page()
    await shop.goto(f"{live_url}/demo")
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    box = shop.locator(".sb-form textarea")
    await box.fill("My order never arrived, I want to talk to a human")
    await box.press("Enter")
    await expect(shop.locator(".sb-msg.system")).to_contain_text("ticket number is #")

    desk = await desk_login(browser, f"{live_url}/desk", "agent2", "agent two password")
    await desk.locator("#tickets li").first.click()
    await expect(desk.locator("#messages li.customer .text").first).to_contain_text("never arrived")
    await desk.fill("#reply-text", "It is on its way again, tracking number 4711. Anything else, just write.")
    await expect(desk.get_by_role("button", name="Send and solve")).to_be_enabled()
    await screenshot(desk, "desk-send-and-solve")
    await desk.get_by_role("button", name="Send and solve").click()

    await expect(desk.locator("#status")).to_have_value("solved")
    await expect(desk.locator("#messages li.agent .text").last).to_contain_text("tracking number 4711")
    await expect(shop.locator('.sb-msg.out[data-author="agent"]')).to_contain_text("tracking number 4711")
    await expect(shop.locator(".sb-qr button")).to_have_count(5)  # the rating request's scores, after the reply
    await screenshot(shop, "widget-after-send-and-solve")
    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None and ticket["status"] == "solved" and ticket["csat_asked"] is True
    await desk.context.close()
    await shop_ctx.close()
