"""What a widget visitor sees around the messages: the site's greeting, quick replies that read as
words and go once answered, an unread count while the panel is closed, and no sound by default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import screenshot
from tests.conftest import make_settings

GREETING = "Hi! Ask us anything about your order."


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["sites"]["demo"]["greeting"] = GREETING
    return settings


async def test_greeting_quick_replies_and_unread_count(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ctx = await browser.new_context(viewport={"width": 1000, "height": 700})
    page = await ctx.new_page()
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(r.post_data_json)
            if r.method == "POST" and r.url.endswith("/api/widget/messages") else None)
    history_reads: list[str] = []
    page.on("request", lambda r: history_reads.append(r.url)
            if r.method == "GET" and "/api/widget/messages" in r.url else None)
    auth_frames: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: auth_frames.append(json.loads(payload))
                                          if '"auth"' in str(payload) else None))
    await page.goto(f"{live_url}/demo")
    widget = page.locator("#switchboard-widget")
    await expect(widget).to_have_attribute("data-ready", "true")
    await expect(page.locator(".sb-greeting")).to_have_text(GREETING)
    await expect(page.locator(".sb-status")).to_have_text("online")  # the socket is ready
    # A visitor this page just made has no history: nothing is fetched, and the socket says so (the hub reads
    # nothing for it).
    assert history_reads == [] and [frame.get("fresh") for frame in auth_frames] == [True]
    box = page.locator(".sb-form textarea")
    await box.fill("what are your opening hours?")
    await box.press("Enter")
    buttons = page.locator(".sb-qr button")
    await expect(buttons).to_have_text(["Yes", "No"])
    await buttons.filter(has_text="No").click()
    await expect(page.locator(".sb-msg.in").last).to_have_text("No")  # the words, never "/deny"
    await expect(page.locator(".sb-msg.system")).to_contain_text("ticket number is #")
    await expect(page.locator(".sb-qr")).to_have_count(0)
    # The page made this visitor: its first message says so (the hub inserts the contact without a read first).
    assert [body.get("first") for body in sent] == [True, None]
    await page.reload()  # the history comes back without buttons to press again
    await expect(widget).to_have_attribute("data-ready", "true")
    await expect(page.locator(".sb-msg.in").last).to_have_text("No")
    await expect(page.locator(".sb-status")).to_have_text("online")
    assert history_reads and [frame.get("fresh") for frame in auth_frames] == [True, None]  # resumed: not new
    await expect(page.locator(".sb-qr")).to_have_count(0)
    await expect(page.locator(".sb-greeting")).to_have_text(GREETING)
    await expect(page.locator("body")).not_to_contain_text("/deny")

    await page.locator(".sb-btn").click()  # the visitor closes the panel; an agent answers meanwhile
    await expect(page.locator(".sb-panel")).to_be_hidden()
    ann = await hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT])
    [ticket] = await hub.store.tickets.find({}).to_list()
    await hub.tickets.reply(ticket["_id"], ann, "Hello, Ann here. We open at 9.")
    badge = page.locator(".sb-badge")
    await expect(badge).to_have_text("1")
    await expect(page.locator(".sb-btn")).to_have_attribute("aria-label", "Open chat (1 unread)")
    await screenshot(page, "widget-unread")
    await page.locator(".sb-btn").click()
    await expect(badge).to_be_hidden()
    await expect(page.locator(".sb-msg.out").last).to_contain_text("We open at 9.")
    assert (await (await page.request.get(f"{live_url}/api/widget/sites/demo")).json())["sound"] is False
    await ctx.close()
