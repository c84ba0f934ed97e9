"""The desk's API token page: create (token shown once, and it works), list, revoke (it stops working)."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot


async def _tickets_status(live_url: str, token: str) -> int:
    async with aiohttp.ClientSession() as http, \
            http.get(f"{live_url}/api/tickets", headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status


async def test_agent_creates_sees_once_and_revokes_a_token(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    await page.goto(f"{live_url}/desk")
    await page.fill("input[name=username]", "agent1")
    await page.fill("input[name=password]", "agent one password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#whoami")).to_contain_text("Agent One")

    await page.click("a[data-nav=tokens]")
    await expect(page.locator("#token-form")).to_be_visible()
    await page.fill("#token-form input[name=name]", "CRM sync")
    await page.check("#token-form input[value='tickets:read']")
    await page.fill("#token-form input[name=days]", "30")
    await page.click("#token-form button[type=submit]")
    secret_box = page.locator("#token-secret")
    await expect(secret_box).to_contain_text("sbt_")
    secret = (await secret_box.text_content() or "").strip()
    row = page.locator("#tokens tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("CRM sync")
    await expect(row).to_contain_text("tickets:read")
    await expect(row).to_contain_text(secret[:8])
    assert secret not in (await row.text_content() or "")  # the list shows a hint only
    await screenshot(page, "tokens-created")
    assert await _tickets_status(live_url, secret) == 200

    # A scope beyond the agent's roles cannot be ticked (and the hub refuses it: test_apitokens.py).
    await expect(page.locator("#token-form input[value='metrics']")).to_be_disabled()
    # Nothing ticked: the page says what to do (and the hub would refuse it: test_apitokens.py).
    await page.fill("#token-form input[name=name]", "empty")
    await page.click("#token-form button[type=submit]")
    await expect(page.locator("#tokens-error")).to_contain_text("Choose at least one scope")

    # Shown once: opening the page again shows the hint, not the token.
    await page.click("a[data-nav=tickets]")
    await page.click("a[data-nav=tokens]")
    await expect(page.locator("#tokens tbody tr")).to_have_count(1)
    await expect(page.locator("#token-secret")).to_have_count(0)
    await expect(page.locator("#tokens tbody tr")).to_contain_text("active")
    await page.locator("#tokens tbody tr button", has_text="Revoke").click()
    await expect(page.locator("#tokens tbody tr")).to_contain_text("revoked")
    await screenshot(page, "tokens-revoked")
    assert await _tickets_status(live_url, secret) == 401
    await ctx.close()
