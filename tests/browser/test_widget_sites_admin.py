"""An admin creates a widget site in the desk, copies its snippet, and a page on another origin with exactly
that snippet chats with the hub (issue 10: "an admin creates a widget site, copies the snippet, and a page
with that snippet chats")."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.helpers import eventually

TITLE = "Acme Outdoor help"
GREETING = "Hello from Acme! Ask us anything."


async def test_an_admin_creates_a_site_and_its_snippet_chats_from_another_origin(
        browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("root", "root's password", name="Root", roles=[Role.ADMIN])
    ann = await hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT])

    # The customer's own web site: another port, so another origin; it serves whatever snippet it is given.
    page_html: dict[str, str] = {}

    async def shop_page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><html><head><meta charset='utf-8'><title>Acme Outdoor</title></head>"
                                 "<body style='font:16px system-ui;margin:40px'><h1>Acme Outdoor</h1>"
                                 "<p>Tents, boots and everything for the trail.</p>"
                                 f"{page_html['snippet']}</body></html>", content_type="text/html")
    shop_app = web.Application()
    shop_app.router.add_get("/", shop_page)
    shop_server = TestServer(shop_app, host="127.0.0.1")
    await shop_server.start_server()
    shop_origin = str(shop_server.make_url("")).rstrip("/")

    ctx = await browser.new_context(viewport={"width": 1360, "height": 900})
    await ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    desk = await ctx.new_page()
    await desk.goto(f"{live_url}/desk")
    await desk.fill("input[name=username]", "root")
    await desk.fill("input[name=password]", "root's password")
    await desk.click("#login-form button[type=submit]")
    await desk.click("#nav a[data-nav=widget-sites]")
    view = desk.locator("#widget-sites")
    await expect(view.locator("table.sites tr[data-site=demo]")).to_be_visible()
    form = view.locator("form.site-form[data-site=new]")
    await form.locator("input[name=name]").fill("acme")
    await form.locator("input[name=title]").fill(TITLE)
    await form.locator("textarea[name=origins]").fill(f"{shop_origin}\nnot a url")
    await form.locator("input[name=primary]").fill("#aa3300")
    await form.locator("textarea[name=greeting]").fill(GREETING)
    # the live preview shows the unsaved look
    preview = desk.frame_locator("iframe.site-preview")
    await expect(preview.locator(".sb-head")).to_contain_text(TITLE)
    await expect(preview.locator(".sb-greeting")).to_have_text(GREETING)
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".error")).to_contain_text("allowed_origins")  # the hub's reason, shown
    await form.locator("textarea[name=origins]").fill(shop_origin)
    await form.locator("button[type=submit]").click()
    await expect(view.locator("table.sites tr[data-site=acme]")).to_contain_text(TITLE)
    editor = view.locator("form.site-form[data-site=acme]")
    await expect(editor).to_be_visible()

    await view.locator("button.rotate-secret").click()
    await expect(view.locator("tr[data-site=acme] .secret-cell")).to_have_text("set")
    await expect(view.locator("input.secret-value")).to_be_visible()  # on screen this once
    secret = await view.locator("input.secret-value").input_value()
    assert len(secret) >= 43
    snippet = await view.locator("textarea.site-snippet").input_value()
    assert snippet == f'<script src="{live_url}/widget.js" data-site="acme" async></script>'
    await view.locator("button.copy-snippet").click()
    await expect(view.locator(".snippet [role=status]")).to_have_text("Copied.")
    copied = await desk.evaluate("navigator.clipboard.readText()")
    assert copied == snippet
    await expect(preview.locator(".sb-head")).to_contain_text(TITLE)
    head = preview.locator(".sb-head")
    assert await head.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(170, 51, 0)"
    await desk.set_viewport_size({"width": 1360, "height": 1400})
    await desk.locator("#view-extra").evaluate("e => e.scrollTo(0, 0)")
    await screenshot(desk, "widget-sites-admin")
    # the secret was shown once: a fresh look at the page no longer has it
    await desk.reload()
    await expect(desk.locator("#widget-sites table.sites tr[data-site=acme]")).to_be_visible()
    assert secret not in await desk.content()

    # The customer's page with exactly the copied snippet, on an origin the admin allowed a moment ago.
    page_html["snippet"] = copied
    shop = await ctx.new_page()
    await shop.goto(shop_origin + "/")
    widget = shop.locator("#switchboard-widget")
    await expect(widget).to_have_attribute("data-ready", "true")
    await shop.locator(".sb-btn").click()
    await expect(shop.locator(".sb-head")).to_contain_text(TITLE)
    await expect(shop.locator(".sb-greeting")).to_have_text(GREETING)
    box = shop.locator(".sb-form textarea")
    await box.fill("what are your opening hours?")
    await box.press("Enter")
    await expect(shop.locator(".sb-qr button")).to_have_text(["Yes", "No"])  # the bot answered
    await shop.locator(".sb-qr button").filter(has_text="No").click()
    await expect(shop.locator(".sb-msg.system")).to_contain_text("ticket number is #")

    async def ticket() -> Any:
        return await hub.store.tickets.find_one({})
    found = await eventually(ticket, what="the ticket from the acme site")
    stored = await hub.store.messages.find_one({"channel": "widget", "text": "what are your opening hours?"})
    assert stored is not None and stored["thread_key"].startswith("acme:visitor:")
    await hub.tickets.reply(found["_id"], ann, "Hi, Ann here: we open at 9.")
    await expect(shop.locator(".sb-msg.out").last).to_contain_text("we open at 9")
    assert await shop.locator(".sb-head").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(170, 51, 0)"
    await screenshot(shop, "widget-sites-customer-page")
    await ctx.close()
    await shop_server.close()
