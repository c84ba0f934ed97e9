"""Two agents on one ticket see each other viewing and typing, live, in the desk."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from tests.browser.conftest import cut_the_feed, screenshot
from tests.test_ticket_list import open_ticket


async def _desk(browser: Any, live_url: str, username: str, password: str) -> Any:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 760})
    page = await ctx.new_page()
    await page.goto(f"{live_url}/desk")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-form button[type=submit]")
    await page.locator("#tickets li", has_text="Missing parcel").click()
    await expect(page.locator("#ticket-title")).to_contain_text("Missing parcel")
    return page


async def test_two_agents_see_each_other_viewing_and_typing(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("alice", "alice's password", name="Alice", roles=[Role.AGENT])
    await runtime.hub.accounts.create("bob", "bob's password", name="Bob", roles=[Role.AGENT])
    await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima", email="ana@example.com"),
                      "My parcel with the blue kettle never arrived", subject="Missing parcel")
    await open_ticket(runtime, "email", Sender("ben@example.com", display_name="Ben Ode", email="ben@example.com"),
                      "The mug arrived in pieces", subject="Broken mug")
    alice = await _desk(browser, live_url, "alice", "alice's password")
    bob = await _desk(browser, live_url, "bob", "bob's password")
    await expect(alice.locator("#collision")).to_have_text("Bob is also viewing")
    await expect(bob.locator("#collision")).to_have_text("Alice is also viewing")
    posted: list[str] = []  # Bob's typing goes on his desk's feed, not in requests
    bob.on("request", lambda r: posted.append(r.post_data or "") if r.url.endswith("/activity") else None)
    await bob.locator("#reply-text").type("Hi Ana, I am checking with the courier")
    await expect(alice.locator("#collision")).to_have_text("Bob is typing a reply…")
    assert not [body for body in posted if "typing" in body], posted
    await screenshot(alice, "desk-collision")
    await bob.locator("#reply-text").fill("")
    await expect(alice.locator("#collision")).to_have_text("Bob is also viewing", timeout=15_000)  # typing fades
    await bob.locator("#tickets li", has_text="Broken mug").click()  # Bob moves to another ticket
    await expect(alice.locator("#collision")).to_be_hidden()
    await bob.context.close()
    await alice.context.close()


async def test_a_desk_back_from_an_outage_sees_who_came_meanwhile(browser: Any, live_url: str,
                                                                 runtime: Runtime) -> None:
    """Bob opens the ticket while Alice's feed is down (a lost connection, a hub restarted): once it is back,
    Alice sees him at once, not at his next renewal 20 s later (as until 2026-12-06)."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("alice", "alice's password", name="Alice", roles=[Role.AGENT])
    await runtime.hub.accounts.create("bob", "bob's password", name="Bob", roles=[Role.AGENT])
    await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima", email="ana@example.com"),
                      "My parcel with the blue kettle never arrived", subject="Missing parcel")
    alice = await _desk(browser, live_url, "alice", "alice's password")
    await expect(alice.locator("body")).to_have_attribute("data-live", "1")
    outage = await cut_the_feed(alice)
    bob = await _desk(browser, live_url, "bob", "bob's password")
    await expect(bob.locator("#collision")).to_have_text("Alice is also viewing")  # Bob's "viewing" is recorded
    assert await alice.locator("#collision").is_hidden()  # and not sent to Alice: her feed is down
    outage.back.set()
    await expect(alice.locator("body")).to_have_attribute("data-live", "1")
    await expect(alice.locator("#collision")).to_have_text("Bob is also viewing")
    await screenshot(alice, "desk-collision-after-outage")
    await bob.context.close()
    await alice.context.close()
