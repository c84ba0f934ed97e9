"""A customer who writes faster than the chat's limit, on a shop's own site (another origin): the widget says
why the message waits, and sends it by itself when the hub said."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import screenshot
from tests.conftest import make_settings


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    # Two in ten seconds (a refused message waits up to 15 s). With two in three, a suite run (2026-12-06) did
    # not show the third as refused; the cause was the widget's (the second's answer, arriving after the
    # third's refusal, put the status back), tested below, but the wider limit is kept as room for a slow hub.
    settings.channels["widget"]["rate_limits"] = {"per_chat": [{"messages": 2, "seconds": 10}]}
    return settings


UNSENT = "switchboard:demo:unsent"


@pytest.fixture
async def shop_url(live_url: str) -> AsyncIterator[str]:
    """A shop's page on an origin of its own, with the widget on it."""
    async def shop_page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><html><head><meta charset='utf-8'><title>Acme Outdoor</title></head>"
                                 "<body style='font:16px system-ui;margin:40px'><h1>Acme Outdoor</h1>"
                                 f"<script src='{live_url}/widget.js' data-site='demo' data-open='true' async>"
                                 "</script></body></html>", content_type="text/html")
    shop_app = web.Application()
    shop_app.router.add_get("/", shop_page)
    shop_server = TestServer(shop_app, host="127.0.0.1")
    await shop_server.start_server()
    try:
        yield str(shop_server.make_url("/"))
    finally:
        await shop_server.close()


async def write_three(shop: Any) -> None:
    """Three messages at once: the third is over the chat's limit of two in ten seconds."""
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    await expect(shop.locator(".sb-status")).to_have_text("online")
    box = shop.locator(".sb-form textarea")
    for text in ("Hello", "My order has not arrived", "It is order 4711"):
        await box.fill(text)
        await box.press("Enter")


async def answer_late(shop: Any, text: str, after: str) -> asyncio.Event:
    """Hold back the hub's answer to the message `text` until the returned event is set, and send the message
    `after` only once the hub has taken `text`: the answers come in the other order than the messages."""
    taken, release = asyncio.Event(), asyncio.Event()

    async def route(route: Any) -> None:
        body = route.request.post_data_json if route.request.method == "POST" else None
        said = body.get("text") if isinstance(body, dict) else None
        if said == text:
            answer = await route.fetch()
            taken.set()
            await release.wait()
            await route.fulfill(response=answer)
        else:
            if said == after:
                await taken.wait()
            await route.continue_()
    await shop.route("**/api/widget/messages", route)
    return release


async def test_a_message_over_the_limit_waits_says_so_and_goes_out(browser: Any, shop_url: str,
                                                                   runtime: Runtime) -> None:
    assert runtime.hub is not None
    ctx = await browser.new_context(viewport={"width": 1000, "height": 760})
    try:
        shop = await ctx.new_page()
        # The second message's 202 comes after the third's refusal, as it can when the hub is busy.
        release = await answer_late(shop, "My order has not arrived", after="It is order 4711")
        await shop.goto(shop_url)
        await write_three(shop)
        box = shop.locator(".sb-form textarea")
        # The third is over 2 in 10 seconds: the hub refused it with when to send again, and the widget says so.
        status = shop.locator(".sb-status")
        too_fast = re.compile(r"^sending too fast: your message goes out in \d+ seconds?$")
        await expect(status).to_have_text(too_fast)
        # The second's answer then arrives (it leaves the tab's unsent list in the same step as it touches the
        # status): the third still waits, and the notice stays.
        release.set()
        await shop.wait_for_function(f"!(sessionStorage.getItem({UNSENT!r}) || '').includes('My order')")
        assert re.match(too_fast, await status.inner_text())
        await expect(shop.locator(".sb-msg.in:not(.sb-pending)", has_text="My order has not arrived")).to_be_visible()
        # The waiting message stays in the chat where it was written, marked as being sent; the hub has none of it.
        waiting = shop.locator(".sb-msg.in.sb-pending", has_text="It is order 4711")
        await expect(waiting).to_have_attribute("data-time", "sending…")
        assert await runtime.hub.store.messages.count_documents({"text": "It is order 4711"}) == 0
        await waiting.scroll_into_view_if_needed()
        await screenshot(shop, "widget-rate-limited")
        # When the wait is over it goes out by itself, once, takes its place as sent, and the status is back.
        await expect(waiting).to_have_count(0, timeout=20_000)
        await expect(shop.locator(".sb-msg.in")).to_have_text(["Hello", "My order has not arrived", "It is order 4711"])
        await expect(status).to_have_text("online")
        assert await runtime.hub.store.messages.count_documents({"text": "It is order 4711"}) == 1
        await screenshot(shop, "widget-rate-limited-sent")

        # A message the hub refuses as it is (longer than it takes) is marked not sent at once, not retried.
        await box.fill("x" * 10_001)
        await box.press("Enter")
        await expect(shop.locator(".sb-msg.in.sb-failed")).to_have_attribute("data-time", "not sent")
        await expect(status).to_have_text("message not sent")
        await screenshot(shop, "widget-message-not-sent")
        # So is a file (an empty one): shown by its name while it goes, then marked not sent.
        await shop.locator(".sb-form input[type=file]").set_input_files(
            {"name": "empty-scan.pdf", "mimeType": "application/pdf", "buffer": b""})
        refused_file = shop.locator(".sb-msg.in.sb-failed", has_text="empty-scan.pdf")
        # (over the limit too, two sends within ten seconds before it: it waits its turn, then is refused)
        await expect(refused_file).to_have_attribute("data-time", "not sent", timeout=20_000)
        await expect(status).to_have_text("file not sent")
        assert await runtime.hub.store.messages.count_documents({"attachments.filename": "empty-scan.pdf"}) == 0
        await screenshot(shop, "widget-file-not-sent")
    finally:
        await ctx.close()


async def test_a_message_still_being_sent_survives_a_reload_and_is_stored_once(browser: Any, shop_url: str,
                                                                               runtime: Runtime) -> None:
    assert runtime.hub is not None
    messages = runtime.hub.store.messages
    ctx = await browser.new_context(viewport={"width": 1000, "height": 760})
    try:
        shop = await ctx.new_page()
        await shop.goto(shop_url)
        await write_three(shop)
        await expect(shop.locator(".sb-msg.in.sb-pending", has_text="It is order 4711")).to_be_visible()
        assert await messages.count_documents({"text": "It is order 4711"}) == 0
        # The customer reloads while it waits out the limit: it is shown again, after the history, as being sent,
        # and goes out by itself, once.
        await shop.reload()
        await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
        await expect(shop.locator(".sb-msg.in")).to_have_text(["Hello", "My order has not arrived", "It is order 4711"])
        await expect(shop.locator(".sb-msg.in.sb-pending")).to_have_count(0, timeout=20_000)
        await expect(shop.locator(".sb-msg.in")).to_have_text(["Hello", "My order has not arrived", "It is order 4711"])
        assert await messages.count_documents({"text": "It is order 4711"}) == 1
        assert await shop.evaluate(f"sessionStorage.getItem({UNSENT!r})") is None
        await shop.locator(".sb-msg.in", has_text="It is order 4711").evaluate(
            "m => m.scrollIntoView({block: 'center'})")
        await screenshot(shop, "widget-sent-after-reload")

        # The page went after the hub stored a message and before its 202 arrived: the history shows it, so it is
        # not sent (nor shown) a second time.
        first = await messages.find_one({"text": "Hello"})
        assert first is not None
        client_id = str(first["external_id"]).rpartition(":")[2]
        await shop.evaluate(f"sessionStorage.setItem({UNSENT!r}, "
                            f"JSON.stringify([{{text: 'Hello', client_id: {client_id!r}}}]))")
        await shop.reload()
        await shop.wait_for_function(f"sessionStorage.getItem({UNSENT!r}) === null")
        await expect(shop.locator(".sb-msg.in")).to_have_text(["Hello", "My order has not arrived", "It is order 4711"])
        await expect(shop.locator(".sb-msg.in.sb-pending")).to_have_count(0)
        assert await messages.count_documents({"text": "Hello"}) == 1
    finally:
        await ctx.close()
