"""The "Queues" page: an admin switches a queue to auto-assign and sets what customers are told; the next
escalation, from a real widget request, follows it."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.browser.test_sla import log_in
from tests.test_widget_flow import say, widget_session


async def test_an_admin_edits_a_queues_routing_and_the_next_escalation_follows_it(
        browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("root", "root's password", name="Root Admin", roles=[Role.ADMIN])
    ann = await hub.accounts.create("ann", "ann's password", name="Ann Agent", roles=[Role.AGENT])
    await hub.accounts.create("ben", "ben's password", name="Ben Agent", roles=[Role.AGENT])
    await hub.store.agents.update_one({"_id": ann["_id"]}, {"$set": {"queues": ["orders"]}})
    await hub.presence.connect(ann["_id"])

    ctx = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await ctx.new_page()
    await log_in(page, live_url, "root", "root's password")
    await page.click("#nav a[data-nav='queues']")
    card = page.locator("details.queue-card[data-queue='general']")
    await expect(card.locator("summary")).to_contain_text("General support")
    await expect(card.locator("summary .facts")).to_have_text("manual · 0 members · 0 open · default")
    await card.locator("summary").click()
    form = card.locator("form")
    await form.locator("select[name=routing]").select_option("least_busy")
    await form.locator("label.check", has_text="Ann Agent").locator("input").check()
    await form.locator("textarea[name=escalation_message]").fill("Ann from our support team will write to you.")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".saved")).to_have_text("Saved")
    await expect(card.locator("summary .facts")).to_have_text("auto-assign · 1 member · 0 open · default")
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "desk-queues")

    # Ann leaves orders (she serves general now); taking her off her last queue is refused with the reason
    # (an agent without a queue list serves every queue).
    orders = page.locator("details.queue-card[data-queue='orders']")
    await orders.locator("summary").click()
    await orders.locator("label.check", has_text="Ann Agent").locator("input").uncheck()
    await orders.locator("button[type=submit]").click()
    await expect(orders.locator(".saved")).to_have_text("Saved")
    await form.locator("label.check", has_text="Ann Agent").locator("input").uncheck()
    await form.locator("button[type=submit]").click()
    await expect(form.locator("p.error")).to_have_text("members: Ann Agent serves only General support; give them "
                                                       "another queue first")
    # Those who serve every queue are named as the page names people, not by username
    await expect(form.locator("p.muted", has_text="Also serving")).to_have_text(
        "Also serving every queue (no queue list): Administrator, Ben Agent")

    async with aiohttp.ClientSession(live_url) as widget:
        token = await widget_session(widget)  # type: ignore[arg-type]
        await say(widget, token, "I want a human")  # type: ignore[arg-type]
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None and ticket["queue"] == "general"
    assert ticket["assignee_id"] == ann["_id"]  # auto-assigned, as the page now says
    told = await hub.store.messages.find_one({"author.kind": "system"})
    assert told is not None and told["text"].startswith("Ann from our support team will write to you.")
    member = await hub.store.agents.find_one({"_id": ann["_id"]})
    assert member is not None and member["queues"] == ["general"]
    await ctx.close()
