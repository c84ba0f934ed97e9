"""Reply drafts (drafts.js): a reply begun on one ticket stays with it. Opening another ticket shows that ticket's
own empty box (a reply to Grace is never sent to Linus by mistake; the "Private note" choice goes with the draft),
the first ticket's row says "draft", and coming back, or reloading the page, brings the text back; sending ends the
draft; logging out forgets the user's drafts in this browser."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client
from tests.test_transfers import new_ticket


async def drafts_kept(page: Any) -> int:
    return int(await page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('sb.draft.')).length"))


async def alice_with_two_chats(browser: Any, live_url: str, runtime: Runtime) -> tuple[Any, Any, Any]:
    """Alice's desk, signed in, with Grace's and Linus's chats waiting: the page and the two tickets."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        _, grace = await new_ticket(client, runtime, "Grace Hopper")
        _, linus = await new_ticket(client, runtime, "Linus Torvalds")
    return await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password"), grace, linus


async def test_a_reply_begun_on_one_ticket_stays_with_it(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    page, grace, linus = await alice_with_two_chats(browser, live_url, runtime)
    box = page.locator("#reply-text")
    await ticket_row(page, grace).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{grace['number']}")
    await box.fill("Dear Grace, your refund is on its way")
    await page.locator("#reply-private").check()

    await ticket_row(page, linus).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
    await expect(box).to_have_value("")  # Linus's own box
    await expect(page.locator("#reply-private")).not_to_be_checked()
    await expect(ticket_row(page, grace).locator(".badge.draft")).to_be_visible()
    await expect(ticket_row(page, linus).locator(".badge.draft")).to_be_hidden()
    await box.fill("Hi Linus")
    await screenshot(page, "desk-reply-draft")

    await ticket_row(page, grace).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{grace['number']}")
    await expect(box).to_have_value("Dear Grace, your refund is on its way")
    await expect(page.locator("#reply-private")).to_be_checked()
    await expect(ticket_row(page, linus).locator(".badge.draft")).to_be_visible()

    await page.reload()  # the drafts outlive the page
    await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    await ticket_row(page, linus).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
    await expect(box).to_have_value("Hi Linus")
    await page.locator("#reply-send").click()
    await expect(page.locator("#messages li", has_text="Hi Linus")).to_have_count(1)
    await expect(box).to_have_value("")
    await expect(ticket_row(page, linus).locator(".badge.draft")).to_be_hidden()  # sent: no draft left
    await ticket_row(page, grace).click()
    await expect(box).to_have_value("Dear Grace, your refund is on its way")
    await ticket_row(page, linus).click()
    await expect(box).to_have_value("")
    assert await drafts_kept(page) == 1  # Grace's only
    texts = [m["text"] async for m in hub.store.messages.find({"conversation_id": {"$in": grace["conversation_ids"]},
                                                               "author.kind": "agent"})]
    assert texts == []  # nothing of Grace's draft reached her

    await page.locator("#logout").click()
    await expect(page.locator("#login")).to_be_visible()
    assert await drafts_kept(page) == 0
    await page.context.close()


async def test_opening_another_ticket_while_a_reply_is_sent(browser: Any, live_url: str, runtime: Runtime) -> None:
    """A reply sent on Grace's ticket goes to Grace whole, even when Alice opens Linus's ticket before the hub has
    answered: his box, with his own draft, is left as it is, and Grace's draft is done."""
    hub = runtime.hub
    assert hub is not None
    page, grace, linus = await alice_with_two_chats(browser, live_url, runtime)
    box = page.locator("#reply-text")
    await ticket_row(page, linus).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
    await box.fill("Hi Linus, one moment")
    await ticket_row(page, grace).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{grace['number']}")
    await box.fill("Dear Grace, your refund is on its way")

    sent: asyncio.Queue[Any] = asyncio.Queue()
    go = asyncio.Event()

    async def hold(route: Any) -> None:  # the hub's answer waits until Alice is on Linus's ticket
        await sent.put(route.request)
        await go.wait()
        await route.continue_()

    await page.route("**/api/tickets/*/reply", hold)
    await page.locator("#reply-send").click()
    request = await sent.get()
    assert str(grace["_id"]) in request.url
    assert request.post_data_json["text"] == "Dear Grace, your refund is on its way"
    await ticket_row(page, linus).click()
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
    await expect(box).to_have_value("Hi Linus, one moment")
    go.set()
    await expect(ticket_row(page, grace).locator(".badge.draft")).to_be_hidden()  # sent: its draft is done
    await expect(box).to_have_value("Hi Linus, one moment")  # his box untouched by the answer
    await expect(ticket_row(page, linus).locator(".badge.draft")).to_be_visible()
    texts = [m["text"] async for m in hub.store.messages.find({"author.kind": "agent"})]
    assert texts == ["Dear Grace, your refund is on its way"]
    stored = await hub.store.messages.find_one({"author.kind": "agent"})
    assert stored is not None and stored["conversation_id"] in grace["conversation_ids"]
    await page.context.close()
