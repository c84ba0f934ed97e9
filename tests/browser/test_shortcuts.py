"""An agent works the list from the keyboard: j / k move through the tickets, t takes one, n starts a private note,
Escape leaves the box (so letters are shortcuts again, not text), / jumps to the search, ? lists the keys."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot
from tests.conftest import http_client
from tests.test_transfers import new_ticket


async def test_an_agent_moves_through_the_list_and_writes_a_note_from_the_keyboard(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        tickets = [(await new_ticket(client, runtime, name))[1] for name in ("Grace Hopper", "Ada Lovelace",
                                                                              "Linus Torvalds")]
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    newest_first = [t["number"] for t in reversed(tickets)]
    await expect(page.locator("#tickets li")).to_have_count(3)
    title = page.locator("#ticket-title")

    await page.keyboard.press("j")  # the first row
    await expect(title).to_contain_text(f"#{newest_first[0]} ")
    await page.keyboard.press("j")
    await expect(title).to_contain_text(f"#{newest_first[1]} ")
    await page.keyboard.press("j")
    await page.keyboard.press("j")  # the last row stays the last
    await expect(title).to_contain_text(f"#{newest_first[2]} ")
    await page.keyboard.press("k")
    await expect(title).to_contain_text(f"#{newest_first[1]} ")
    await expect(page.locator(f"#tickets li[data-number='{newest_first[1]}']")).to_have_class("active")

    await page.keyboard.press("t")  # take it
    await expect(page.locator("#ticket-meta")).to_contain_text("assigned to you")

    await page.keyboard.press("n")  # a private note, typed where the caret went
    await expect(page.locator("#reply-private")).to_be_checked()
    await expect(page.locator("#reply-text")).to_be_focused()
    await page.keyboard.type("jk: checked the order")  # letters in the box are text, not shortcuts
    await expect(page.locator("#reply-text")).to_have_value("jk: checked the order")
    await expect(title).to_contain_text(f"#{newest_first[1]} ")
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#messages li.private").last).to_contain_text("jk: checked the order")
    await page.keyboard.press("Escape")  # out of the box: keys are shortcuts again
    await expect(page.locator("#reply-text")).not_to_be_focused()
    await page.keyboard.press("r")
    await expect(page.locator("#reply-private")).not_to_be_checked()
    await expect(page.locator("#reply-text")).to_be_focused()
    await page.keyboard.press("Escape")

    await page.keyboard.press("/")
    await expect(page.locator("#ticket-search")).to_be_focused()
    await expect(page.locator("#ticket-search")).to_have_value("")  # the slash is not typed
    await page.keyboard.press("Escape")
    await page.keyboard.press("?")
    dialog = page.locator("#shortcuts")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("tr")).to_have_count(9)
    await expect(dialog).to_contain_text("Next ticket in the list")
    await screenshot(page, "desk-shortcuts")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await page.context.close()
