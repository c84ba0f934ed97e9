"""The widget renews its visitor token silently and downloads files by signed links, never with the token in a URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from playwright.async_api import expect

from channels.widget.identity import issue_token, read_token
from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import screenshot
from tests.conftest import make_settings
from tests.helpers import eventually

RECEIPT = b"%PDF-1.4\n% receipt 12345\n"
TTL = 6  # seconds: the widget renews at half-life, so twice within this test


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["token_ttl_seconds"] = TTL
    return settings


async def _agent_sends_file(live_url: str, runtime: Runtime) -> None:
    """An agent (over the real HTTP API) answers the widget's ticket with a file."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT])
    async with aiohttp.ClientSession(live_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.post("/api/auth/login", json={"username": "ann", "password": "ann's password"})
        csrf = (await login.json())["csrf"]
        ticket = await runtime.hub.store.tickets.find_one({})
        assert ticket is not None
        form = aiohttp.FormData()
        form.add_field("file", RECEIPT, filename="receipt.pdf", content_type="application/pdf")
        upload = await http.post(f"/api/tickets/{ticket['_id']}/attachments", data=form,
                                 headers={"X-CSRF-Token": csrf})
        assert upload.status == 201, await upload.text()
        blob_id = (await upload.json())["attachment"]["blob_id"]
        reply = await http.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": csrf},
                                json={"text": "Here is your receipt", "attachments": [blob_id]})
        assert reply.status == 201, await reply.text()


async def test_widget_renews_its_token_and_downloads_by_signed_link(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    ctx = await browser.new_context()
    page = await ctx.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    await page.goto(f"{live_url}/demo")
    widget = page.locator("#switchboard-widget")
    await expect(widget).to_have_attribute("data-ready", "true")
    first = await page.evaluate("localStorage.getItem('switchboard:demo:token')")
    box = page.locator(".sb-form textarea")
    await box.fill("I want to talk to a human please")
    await box.press("Enter")
    await expect(page.locator(".sb-msg.system")).to_contain_text("ticket number is #")

    # Past the first token's lifetime: renewed twice, the socket reconnected with the new token.
    await expect(widget).to_have_attribute("data-renewals", "2", timeout=20_000)
    await expect(page.locator(".sb-status")).to_have_text("online")
    renewed = await page.evaluate("localStorage.getItem('switchboard:demo:token')")
    assert renewed != first
    secret = runtime.settings.secret
    same = [jwt.decode(t, options={"verify_signature": False})["sub"] for t in (first, renewed)]
    assert same[0] == same[1] and read_token(secret, renewed).verified is False  # the same visitor, valid now

    await _agent_sends_file(live_url, runtime)
    link = page.locator(".sb-file")
    await expect(link).to_have_text("receipt.pdf")
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == "receipt.pdf"
    assert Path(await download.path()).read_bytes() == RECEIPT
    assert "?link=" in download.url
    await expect(page.locator(".sb-msg.out").last).to_contain_text("Here is your receipt")
    await screenshot(page, "widget-after-renewal-and-download")

    # No visitor token ever travelled in a URL (requests, WebSocket, the download).
    tokens = {first, renewed, await page.evaluate("localStorage.getItem('switchboard:demo:token')")}
    assert not [u for u in urls for t in tokens if t in u]

    # A visitor whose token expired long ago (a laptop asleep for days) starts a fresh chat.
    expired = issue_token(secret, read_token(secret, renewed), ttl_seconds=-3600)
    await page.evaluate(f"localStorage.setItem('switchboard:demo:token', {expired!r})")
    await page.reload()
    await expect(page.locator(".sb-msg.system")).to_have_text(
        "Your earlier chat session has expired. Write to start a new one.")
    await expect(page.locator(".sb-msg.in")).to_have_count(0)
    await screenshot(page, "widget-after-expiry")
    assert runtime.hub is not None

    async def kept() -> bool:  # the hub still holds the old conversation for the agents
        assert runtime.hub is not None
        return await runtime.hub.store.messages.count_documents({"text": "Here is your receipt"}) == 1

    await eventually(kept, what="the earlier conversation kept")
    await ctx.close()
