"""A trainer teaches the bot a phrase it got wrong: NLU inbox -> label -> train -> try it.

The customer's message is a real widget message (typed in the demo shop page) through the
hub; the trainer works in the desk, in a second browser context. The hub runs its own bot,
so this training does not change the session's shared one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from bot.service import build_bot
from hub.models import Role
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import Settings, load_settings
from tests.browser.conftest import cut_the_feed, screenshot
from tests.conftest import _drop
from tests.helpers import eventually

#: The starter model takes this order question for out of scope (nothing in it names an order or a parcel).
PHRASE = "I bought a lamp on monday, any news"


@pytest.fixture
async def trainer_hub(settings: Settings) -> AsyncIterator[tuple[Runtime, str]]:
    runtime = Runtime(settings)
    await runtime.start(bot=await build_bot(bot_dir(load_settings())))
    assert runtime.app is not None
    server = TestServer(runtime.app, host="127.0.0.1")
    await server.start_server()
    yield runtime, str(server.make_url("")).rstrip("/")
    await server.close()
    await runtime.stop()
    await _drop(settings)


async def test_trainer_labels_an_inbox_message_retrains_and_try_it_returns_the_intent(
    browser: Any, trainer_hub: tuple[Runtime, str]
) -> None:
    runtime, url = trainer_hub
    assert runtime.hub is not None
    await runtime.hub.accounts.create("tina", "trainer password", name="Tina", roles=[Role.TRAINER])
    problems: list[str] = []

    # A customer asks something the bot is unsure about.
    shop_ctx = await browser.new_context()
    shop = await shop_ctx.new_page()
    shop.on("pageerror", lambda e: problems.append(str(e)))
    await shop.goto(f"{url}/demo")
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    box = shop.locator(".sb-form textarea")
    await box.fill(PHRASE)
    await box.press("Enter")
    await expect(shop.locator('.sb-msg.out[data-author="bot"]').first).to_be_visible()
    await runtime.hub.pipeline.drain()

    desk_ctx = await browser.new_context()
    desk = await desk_ctx.new_page()
    desk.on("pageerror", lambda e: problems.append(str(e)))
    # the 401 of /api/me before logging in is expected; a CSP violation or a script error is not
    desk.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    await desk.goto(f"{url}/desk")
    await desk.fill("input[name=username]", "tina")
    await desk.fill("input[name=password]", "trainer password")
    await desk.click("#login-form button[type=submit]")
    await expect(desk.locator("#whoami")).to_contain_text("Tina")
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")

    # Before: the bot does not know the phrase means "order status".
    await desk.click('#nav a[data-nav="bot"]')
    await desk.click('.trainer-tabs a[data-tab="try"]')
    await desk.fill("#tryit-text", PHRASE)
    await desk.click("#tryit-go")
    await expect(desk.locator("#tryit-result .top-intent")).not_to_have_text("")
    assert await desk.locator("#tryit-result .top-intent").text_content() != "order_status"

    # The NLU inbox shows the customer's message; one click labels it.
    await desk.click('.trainer-tabs a[data-tab="inbox"]')
    item = desk.locator("#inbox li", has_text=PHRASE)
    await expect(item).to_contain_text("out of scope")
    await item.locator("select.label-intent").select_option("order_status")
    await item.locator("button.label-save").click()
    await expect(desk.locator("#trainer-message")).to_contain_text("Added to order_status in version 2")
    await expect(desk.locator("#inbox li", has_text=PHRASE)).to_have_count(0)
    # It was the only one: its reason's count goes with it, and the inbox says it is empty.
    await expect(desk.locator('.filters button[data-reason="out_of_scope"]')).to_have_text("out of scope (0)")
    await expect(desk.locator("#inbox-empty")).to_have_text("Nothing to review.")

    # Train while the desk's feed is down (a lost connection, a hub restarted): the page is not told the
    # training ended, and shows it once its feed is back (until 2026-12-06 it said "running" until a reload).
    await desk.click("#train-button")
    await expect(desk.locator("#train-status")).to_have_attribute("data-state", "running")
    outage = await cut_the_feed(desk)

    async def trained() -> bool:
        job = await runtime.hub.store.db["training_jobs"].find_one({}, sort=[("started_at", -1)])
        return job is not None and job["status"] == "succeeded"

    await eventually(trained, timeout=60, what="the training to end")
    assert await desk.locator("#train-status").get_attribute("data-state") == "running"
    outage.back.set()
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")
    await expect(desk.locator("#train-status")).to_have_attribute("data-state", "done")
    await expect(desk.locator("#trainer-message")).to_have_text("")  # "Train to use it" is done
    await screenshot(desk, "trainer-trained-while-offline")
    assert await desk.locator("#train-progress").evaluate("bar => bar.value") == 1
    await expect(desk.locator("#model-status")).to_contain_text("training data v2")

    # After: try-it returns the labelled intent for that text.
    await desk.click('.trainer-tabs a[data-tab="try"]')
    await desk.fill("#tryit-text", PHRASE)
    await desk.click("#tryit-go")
    await expect(desk.locator("#tryit-result .top-intent")).to_have_text("order_status")
    await expect(desk.locator("#tryit-result .decision-kind")).to_have_text("answer")
    assert problems == []
    await desk_ctx.close()
    await shop_ctx.close()
