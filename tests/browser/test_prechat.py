"""A visitor fills the site's pre-chat form, asks for a person, and the agent's desk names them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import screenshot
from tests.conftest import make_settings


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    """The demo site with a pre-chat form: name required, email optional."""
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["sites"]["demo"]["prechat"] = {"enabled": True, "name": "required",
                                                               "email": "optional"}
    return settings


async def test_a_pre_chat_visitor_appears_by_name_in_the_desk(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])

    shop_ctx = await browser.new_context(viewport={"width": 1000, "height": 700})
    shop = await shop_ctx.new_page()
    await shop.goto(f"{live_url}/demo")
    pre = shop.locator(".sb-pre")
    await expect(pre).to_be_visible()
    await expect(shop.locator(".sb-form")).to_be_hidden()
    await expect(pre.locator("label")).to_have_text(["Your name", "Your email (optional)"])
    # A blank name passes the browser's check but not the hub's: its reason shows in the form.
    await pre.locator("input[name=name]").fill("   ")
    await pre.locator("button").click()
    await expect(pre.locator(".sb-err")).to_contain_text("name")
    await pre.locator("input[name=name]").fill("Grace Hopper")
    await pre.locator("input[name=email]").fill("grace@example.com")
    await expect(pre.locator(".sb-err")).to_have_text("")
    await screenshot(shop, "widget-prechat")
    await pre.locator("button").click()
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    await expect(pre).to_have_count(0)
    box = shop.locator(".sb-form textarea")
    await box.fill("My order never arrived, I want to talk to a human")
    await box.press("Enter")
    await expect(shop.locator(".sb-msg.system")).to_contain_text("ticket number is #")

    desk_ctx = await browser.new_context(viewport={"width": 1280, "height": 760})
    desk = await desk_ctx.new_page()
    await desk.goto(f"{live_url}/desk")
    await desk.fill("input[name=username]", "agent1")
    await desk.fill("input[name=password]", "agent one password")
    await desk.click("#login-form button[type=submit]")
    item = desk.locator("#tickets li").first
    await expect(item).to_contain_text("Grace Hopper")
    await item.click()
    await expect(desk.locator(".contact-name")).to_have_text("Grace Hopper")
    await expect(desk.locator("#contact")).to_contain_text("grace@example.com (unverified)")
    await expect(desk.locator("#messages li.customer .who").first).to_contain_text("Grace Hopper")
    await expect(desk.locator("body")).not_to_contain_text("demo:visitor:")
    await expect(desk.locator("#ticket-meta")).to_contain_text("asked for a person")  # words, not a code
    await screenshot(desk, "desk-prechat-name")

    # Reloading the shop page resumes the chat: the form is not asked again.
    await shop.reload()
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    await expect(shop.locator(".sb-pre")).to_have_count(0)
    await shop_ctx.close()
    await desk_ctx.close()
