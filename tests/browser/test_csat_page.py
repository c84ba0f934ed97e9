"""The email rating link's page in a real browser: score preselected, comment, "Send rating", thanks."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import InboundMessage, Role, Sender
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot


async def test_a_customer_rates_from_the_email_link_page(runtime: Runtime, live_url: str, browser: Any) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.ingest(InboundMessage(channel="widget", external_id="csat-browser-1", thread_key="demo:visitor:csat",
                                    sender=Sender(external_id="demo:visitor:csat", display_name="Dana Scully"),
                                    text="I want a human"))
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    agent = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    await hub.tickets.reply(ticket["_id"], agent, "Your parcel is on its way.", then_status="solved")
    links = hub.tickets.csat_links
    assert links is not None
    path = "/csat/" + links.token(ticket["number"], 4)

    page = await browser.new_page(viewport={"width": 900, "height": 760})
    await page.goto(live_url + path)
    await expect(page.get_by_role("heading")).to_have_text("How happy are you with our help?")
    await expect(page.get_by_role("radio", name="4 Happy")).to_be_checked()
    await page.get_by_label("Anything you'd like to tell us? (optional)").fill("Quick and friendly, thank you.")
    await screenshot(page, "csat-email-page")
    unrated = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert unrated is not None and unrated.get("csat") is None  # opening the page recorded nothing

    await page.get_by_text("Very happy").click()  # the customer changes their mind before sending
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_role("heading")).to_have_text("Thank you!")
    await expect(page.get_by_text("5 of 5")).to_be_visible()
    await screenshot(page, "csat-email-thanks")
    rated = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert rated is not None
    assert (rated["csat"]["score"], rated["csat"]["comment"], rated["csat"]["channel"]) == (
        5, "Quick and friendly, thank you.", "email")

    await page.reload()  # a reload (or another score's link) shows the thanks, never the form again
    await expect(page.get_by_role("button", name="Send rating")).to_have_count(0)
    await expect(page.get_by_text("5 of 5")).to_be_visible()
    await page.close()
