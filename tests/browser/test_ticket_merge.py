"""An agent merges a customer's email ticket into their web chat ticket from the desk and sees one timeline;
the merged ticket says where it went. Then splits a message out into a new ticket."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client
from tests.test_ticket_list import open_ticket
from tests.test_widget_flow import history, say, widget_session


async def test_an_agent_merges_two_tickets_of_one_customer_into_one_timeline(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    email = await open_ticket(runtime, "email", Sender("mia.wong@example.com", display_name="Mia Wong"),
                              "My parcel 4471 never arrived", subject="Missing parcel 4471")
    async with http_client(runtime) as client:
        token = await widget_session(client, name="Mia W")
        await say(client, token, "Hi, about parcel 4471 again")
        await say(client, token, "I want to talk to a human")
        await hub.pipeline.drain()
        await say(client, token, "And my invoice 2231 has the wrong address")
        await hub.pipeline.drain()
    chat_conv = await hub.store.conversations.find_one({"channel": "widget"})
    assert chat_conv is not None
    chat = await hub.store.tickets.find_one({"_id": chat_conv["ticket_id"]})
    assert chat is not None
    await hub.merges.merge(email["contact_id"], chat["contact_id"], alice)

    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    await ticket_row(page, email).click()
    await expect(page.locator("#ticket-title")).to_contain_text("Missing parcel 4471")
    await page.locator("#merge-open").click()
    await page.locator("#merge-search").fill(str(chat["number"]))
    await page.locator(f"#merge-results button[data-number='{chat['number']}']").click()
    await expect(page.locator("#merge-summary")).to_contain_text(
        f"Merge #{email['number']} into #{chat['number']}?")
    await screenshot(page, "desk-ticket-merge")
    await page.locator("#merge-confirm").click()

    # the survivor opens with one timeline: the email, the web chat, the merge line and the customer's notice
    await expect(page.locator("#ticket-title")).not_to_contain_text("Missing parcel 4471")
    timeline = page.locator("#messages")
    await expect(timeline).to_contain_text("My parcel 4471 never arrived")
    await expect(timeline).to_contain_text("Hi, about parcel 4471 again")
    await expect(timeline.locator("li.move .text")).to_have_text(
        f"Alice merged #{email['number']} (Missing parcel 4471) into this ticket")
    await expect(timeline).to_contain_text(f"We have combined your requests into ticket #{chat['number']}.")
    await expect(ticket_row(page, email)).to_have_count(0)
    await screenshot(page, "desk-ticket-merged-timeline")
    async with http_client(runtime) as client:
        assert f"We have combined your requests into ticket #{chat['number']}." in [
            m["text"] for m in await history(client, token)]

    # split the invoice question out: a new ticket in the list, the message gone from this timeline
    invoice = timeline.locator("li[data-author='customer']", has_text="invoice 2231")
    await invoice.locator("button.split").click()
    await invoice.locator("button.split").click()
    await expect(page.locator("#merged-banner")).to_contain_text("Split out into #")
    await expect(invoice).to_have_count(0)
    await expect(timeline.locator("li.move").last).to_contain_text("Alice split a message out into #")
    split = await hub.store.tickets.find_one({}, sort=[("number", -1)])
    assert split is not None and split["number"] not in (email["number"], chat["number"])
    await expect(ticket_row(page, split)).to_contain_text("And my invoice 2231")
    await screenshot(page, "desk-ticket-split")
    await ticket_row(page, split).click()
    await expect(page.locator("#ticket-meta")).to_contain_text("split from another ticket")  # words, not "split"
    await screenshot(page, "desk-ticket-split-out")

    # the merged ticket still opens: closed, pointing to the survivor
    await page.goto(f"{live_url}/desk#/tickets/{email['_id']}")
    await page.reload()
    await expect(page.locator("#merged-banner")).to_contain_text(f"Merged into #{chat['number']}")
    await expect(page.locator("#merge-open")).to_be_hidden()
    await expect(page.locator("#reply-form")).to_be_hidden()
    await expect(page.locator("#status")).to_be_disabled()
    await screenshot(page, "desk-ticket-merged-pointer")
    await page.locator("#merged-link").click()
    await expect(page.locator("#messages")).to_contain_text("My parcel 4471 never arrived")
    await expect(page.locator("#reply-form")).to_be_visible()
