"""A real headless Chromium (Debian's, never a downloaded one) driven by Playwright."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from switchboard.bootstrap import Runtime

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Where browser tests leave their screenshots for people to look at (ignored by git).
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
async def live_url(runtime: Runtime, browser: Any) -> AsyncIterator[str]:
    """The hub on a real loopback port the browser can reach. Afterwards, the pages a test left open are closed
    first: an open desk keeps its WebSocket, and the server's close waited for it (38 s a test), while the page
    went on retrying a server that was gone through every later test."""
    assert runtime.app is not None
    server = TestServer(runtime.app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    for context in list(browser.contexts):
        await context.close()
    await server.close()


async def screenshot(page: Any, name: str) -> Path:
    """Save what the page shows now as test-artifacts/screenshots/<name>.png (full page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def widget_said(browser: Any, live_url: str, text: str, viewport: dict[str, int] | None = None) -> Any:
    """A visitor's page of its own (a new browser context) on the demo site, its widget ready, having sent `text`."""
    from playwright.async_api import expect

    context = await browser.new_context(**({"viewport": viewport} if viewport else {}))
    page = await context.new_page()
    await page.goto(f"{live_url}/demo")
    await expect(page.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    box = page.locator(".sb-form textarea")
    await box.fill(text)
    await box.press("Enter")
    return page


# Every desktop notification a page shows, kept for the test (`shown`, `click_notification`): the browser's own
# class, wrapped.
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__shown = [];
  window.__notes = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__shown.push({ title, body: (options || {}).body });
      window.__notes.push(this);
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


async def shown(page: Any) -> list[dict[str, str]]:
    """The desktop notifications a page opened with `desk_login(..., notifications=True)` has shown."""
    return list(await page.evaluate("window.__shown"))


async def click_notification(page: Any, index: int) -> None:
    """What the browser does when the agent clicks the page's `index`-th desktop notification: its click handler
    runs (a headless browser shows none to click)."""
    await page.evaluate("i => window.__notes[i].onclick()", index)


def ticket_row(page: Any, ticket: dict[str, Any]) -> Any:
    """The ticket's row in the desk's list (found by its number, as agents read it)."""
    return page.locator(f"#tickets li[data-number='{ticket['number']}']")


async def desk_login(browser: Any, url: str, username: str, password: str, *, notifications: bool = False,
                     **options: Any) -> Any:
    """A desk page of its own (a new browser context) at `url` (the desk, or one of its views), signed in, live
    (its socket connected) and done with what it does at sign-in (its lists read, `#app` no longer aria-busy).
    `notifications`: the browser allows the desk's notifications and records each it shows (`shown`); `options`:
    more for the context (a time zone, a locale)."""
    from urllib.parse import urlsplit

    from playwright.async_api import expect

    context = await browser.new_context(**{"viewport": {"width": 1280, "height": 760}, **options})
    if notifications:
        where = urlsplit(url)
        await context.grant_permissions(["notifications"], origin=f"{where.scheme}://{where.netloc}")
        await context.add_init_script(RECORD_NOTIFICATIONS)
    page = await context.new_page()
    await page.goto(url)
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("body")).to_have_attribute("data-live", "1")
    await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    return page


class FeedOutage:
    """The desk's feed cut as if the hub were unreachable (a lost connection, a hub restarting): each socket the
    page opens again is closed, and `refused` counted, until `back` is set; then it reaches the hub."""

    def __init__(self) -> None:
        self.back = asyncio.Event()
        self.refused = 0

    async def route(self, ws: Any) -> None:
        if self.back.is_set():
            ws.connect_to_server()
        else:
            self.refused += 1
            await ws.close(code=1011, reason="the hub is restarting")


async def cut_the_feed(desk: Any) -> FeedOutage:
    """Close the desk page's live socket and keep it from reaching the hub until the outage's `back` is set."""
    outage = FeedOutage()
    await desk.route_web_socket("**/api/desk/ws", outage.route)
    await desk.evaluate("() => Desk.state.ws.close()")
    await expect(desk.locator("body")).to_have_attribute("data-live", "0")
    return outage
