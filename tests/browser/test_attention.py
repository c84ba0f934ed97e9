"""What needs an agent shows without them looking for it: tickets given to them while they were away, a customer
who wrote on one of their tickets while they were on another, a ticket a supervisor gave them. The row gets a dot,
the tab's title counts them, and with notifications on the browser shows one for each (recorded by wrapping the
page's real `Notification`, which still runs); clicking one opens its ticket. The hub keeps what they have read: a
reload, or signing in on another computer after a customer wrote while no desk of theirs was open, shows the same
marks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import click_notification, desk_login, screenshot, shown, ticket_row
from tests.conftest import http_client
from tests.helpers import eventually
from tests.test_transfers import new_ticket
from tests.test_widget_flow import say

BASE = "Switchboard desk"


async def alice_given_two_of_three(runtime: Runtime, client: Any, supervisor: str) -> tuple[Any, Any, list[Any]]:
    """Alice (an agent) and Sam (a supervisor, named `supervisor`); Grace's, Ada's and Linus's chats escalated, and
    Sam gives Alice Grace's and Ada's. Returns alice, sam and the three (token, ticket) pairs."""
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    sam = await hub.accounts.create("sam", "sam's long password", name=supervisor, roles=[Role.SUPERVISOR])
    chats = [await new_ticket(client, runtime, name) for name in ("Grace Hopper", "Ada Lovelace", "Linus Torvalds")]
    for _, ticket in chats[:2]:
        await hub.tickets.assign(ticket["_id"], alice["_id"], sam)
    return alice, sam, chats


async def test_what_needs_the_agent_reaches_them_live_and_when_they_sign_in(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    async with http_client(runtime) as client:
        alice, sam, chats = await alice_given_two_of_three(runtime, client, "Sam")
        (grace_token, grace), (ada_token, ada), (linus_token, linus) = chats

        page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password", notifications=True)
        toggle = page.locator("#notify-toggle")
        await expect(toggle).to_have_text("Notifications off")
        await toggle.click()
        await expect(toggle).to_have_text("Notifications on")

        rows = {t["number"]: ticket_row(page, t) for t in (grace, ada, linus)}
        for given in (grace, ada):  # given to her before she signed in
            await expect(rows[given["number"]].locator(".dot")).to_have_attribute("title", "Assigned to you")
        await expect(page).to_have_title(f"(2) {BASE}")
        await rows[ada["number"]].click()  # Alice works on Ada's ticket
        await expect(page.locator("#ticket-title")).to_contain_text(f"#{ada['number']}")
        await expect(page).to_have_title(f"(1) {BASE}")

        # Grace writes on her ticket, which Alice has but is not looking at
        await say(client, grace_token, "Any news on my refund?")
        await hub.pipeline.drain()
        await expect(rows[grace["number"]].locator(".dot")).to_have_attribute("title", "New message from the customer")
        await expect(rows[grace["number"]]).to_have_class("unread")
        await expect(page).to_have_title(f"(1) {BASE}")
        # her message is the first she typed after asking for a person: it names the ticket (hub.tickets)
        assert await shown(page) == [{"title": f"Grace Hopper wrote on #{grace['number']}",
                                      "body": "Any news on my refund?"}]

        # Ada writes on the ticket Alice has in front of her: she reads it there, nothing more to tell
        await say(client, ada_token, "Here is my order number: 5521")
        await hub.pipeline.drain()
        await expect(page.locator("#messages li.customer").last).to_contain_text("5521")
        await expect(rows[ada["number"]]).not_to_have_class("unread")

        # A supervisor gives Alice Linus's ticket
        await hub.tickets.assign(linus["_id"], alice["_id"], sam)
        await expect(rows[linus["number"]]).to_have_class("unread")
        await expect(rows[linus["number"]].locator(".dot")).to_have_attribute("title", "Assigned to you")
        await expect(page).to_have_title(f"(2) {BASE}")
        assert (await shown(page))[1:] == [
            {"title": f"#{linus['number']} is assigned to you", "body": f"Linus Torvalds · {linus['subject']}"}]
        assert len(await shown(page)) == 2  # Ada's message made none
        await expect(rows[linus["number"]].locator(".assignee")).to_have_text("you")  # the list read again
        await expect(rows[linus["number"]]).to_have_class("unread")  # and the new row keeps its dot
        await screenshot(page, "desk-attention-unread")

        await page.reload()  # the hub says what is unread: Ada's message was read where it came
        await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
        await expect(rows[grace["number"]].locator(".dot")).to_have_attribute("title", "New message from the customer")
        await expect(rows[linus["number"]]).to_have_class("unread")
        await expect(page).to_have_title(f"(2) {BASE}")
        await expect(rows[ada["number"]]).not_to_have_class("unread")
        await expect(page.locator("#notify-toggle")).to_have_text("Notifications on")

        await rows[grace["number"]].click()  # looking at it reads it
        await expect(page.locator("#ticket-title")).to_contain_text(f"#{grace['number']}")
        await expect(rows[grace["number"]]).not_to_have_class("unread")
        await expect(page).to_have_title(f"(1) {BASE}")
        await expect(rows[linus["number"]]).to_have_class("unread")

        # Linus writes while she reads Grace's: she clicks the notification, which opens his ticket and reads it
        await say(client, linus_token, "Hello? Anyone there?")  # a nudge: the ticket keeps the words he asked with
        await hub.pipeline.drain()
        await expect(rows[linus["number"]].locator(".dot")).to_have_attribute("title", "New message from the customer")
        assert await shown(page) == [{"title": f"Linus Torvalds wrote on #{linus['number']}",
                                      "body": "I want to talk to a human"}]
        await click_notification(page, 0)
        await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")
        await expect(page.locator("#messages li.customer").last).to_contain_text("Anyone there?")
        await expect(rows[linus["number"]]).not_to_have_class("unread")
        await expect(page).to_have_title(BASE)
        await page.context.close()

        # No desk of Alice's is open when Ada writes; she signs in on another computer
        await say(client, ada_token, "Sorry, the order number is 5512")
        await hub.pipeline.drain()
        other = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
        marks = {t["number"]: ticket_row(other, t) for t in (grace, ada, linus)}
        await expect(marks[ada["number"]].locator(".dot")).to_have_attribute("title", "New message from the customer")
        await expect(other).to_have_title(f"(1) {BASE}")
        for read in (grace, linus):  # read on the first computer
            await expect(marks[read["number"]]).not_to_have_class("unread")
        await screenshot(other, "desk-attention-signed-in")
        await other.context.close()


async def test_a_ticket_read_on_one_desk_is_read_on_the_others(browser: Any, live_url: str, runtime: Runtime) -> None:
    """Alice has the desk open in two windows: Grace's message marks the ticket in both, opening it in one reads it
    in the other. Bob's desk is told nothing of what Alice read."""
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        grace_token, grace = await new_ticket(client, runtime, "Grace Hopper")
        await hub.tickets.assign(grace["_id"], alice["_id"], alice)  # she took it: no news
        first = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
        second = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
        bob = await desk_login(browser, f"{live_url}/desk", "bob", "bob's long password")
        await bob.evaluate("() => { window.liveFrames = []; Desk.onLive((f) => window.liveFrames.push(f)); }")
        rows = [ticket_row(page, grace) for page in (first, second)]
        for row in rows:
            await expect(row).not_to_have_class("unread")

        await say(client, grace_token, "Any news on my refund?")
        await hub.pipeline.drain()
        for page, row in zip((first, second), rows, strict=True):
            await expect(row.locator(".dot")).to_have_attribute("title", "New message from the customer")
            await expect(page).to_have_title(f"(1) {BASE}")

        await rows[0].click()  # read in the first window
        await expect(first.locator("#messages li.customer").last).to_contain_text("refund")
        await expect(rows[1]).not_to_have_class("unread")  # and so in the second
        await expect(second).to_have_title(BASE)
        frames = await bob.evaluate("() => window.liveFrames.map((f) => f.type)")
        assert "ticket" in frames and "read" not in frames  # Bob saw the ticket change, not Alice's read
    for page in (first, second, bob):
        await page.context.close()


class HeldFrames:
    """The desk's feed through a hold: while `holding`, the frames about one ticket wait here (a busy hub, a slow
    socket) until `release` sends them on, in order; everything else passes."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.holding = False
        self.frames: list[str] = []
        self.page_side: Any = None

    def route(self, ws: Any) -> None:
        server = ws.connect_to_server()
        self.page_side = ws

        def from_hub(message: str | bytes) -> None:
            frame = json.loads(message)
            if self.holding and frame.get("type") == "ticket" and frame["ticket"].get("number") == self.number:
                self.frames.append(str(message))
            else:
                ws.send(message)

        server.on_message(from_hub)
        ws.on_message(lambda message: server.send(message))

    def release(self) -> None:
        self.holding = False
        for message in self.frames:
            self.page_side.send(message)


async def test_news_the_list_shows_before_its_frame_comes_still_counts(browser: Any, live_url: str,
                                                                      runtime: Runtime) -> None:
    """The list read after a change, but before the change's frame came, already shows it (the ticket assigned to
    her); when the frame comes it is still news for her: the dot, as when the frame comes first."""
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam", roles=[Role.SUPERVISOR])
    async with http_client(runtime) as client:
        _, linus = await new_ticket(client, runtime, "Linus Torvalds")
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    feed = HeldFrames(linus["number"])
    await page.route_web_socket("**/api/desk/ws", feed.route)
    await page.evaluate("() => Desk.state.ws.close()")  # it opens again, through the hold
    await expect(page.locator("body")).to_have_attribute("data-live", "0")
    await expect(page.locator("body")).to_have_attribute("data-live", "1")
    row = ticket_row(page, linus)
    await expect(row).to_be_visible()
    await expect(row).not_to_have_class("unread")

    feed.holding = True
    await hub.tickets.assign(linus["_id"], alice["_id"], sam)
    await eventually(lambda: asyncio.sleep(0, result=bool(feed.frames)), what="the assignment's frame held")
    await page.locator("#ticket-search").fill("Linus")  # the list is read again, ahead of the frame
    await expect(row.locator(".assignee")).to_have_text("you")
    await expect(row).not_to_have_class("unread")
    feed.release()
    await expect(row).to_have_class("unread")
    await expect(row.locator(".dot")).to_have_attribute("title", "Assigned to you")
    await page.context.close()


async def test_the_news_list_says_who_did_what_and_marks_it_read(browser: Any, live_url: str,
                                                                 runtime: Runtime) -> None:
    """The header's News list: the count, each ticket with who did what and its subject, newest first; a click opens
    the ticket (its row's dot goes); news that comes while it is open joins it; "Mark all as read" empties it."""
    hub = runtime.hub
    assert hub is not None
    async with http_client(runtime) as client:
        alice, sam, chats = await alice_given_two_of_three(runtime, client, "Sam Lead")
        (grace_token, grace), (_, ada), (_, linus) = chats
        await say(client, grace_token, "Any news on my refund?")
        await hub.pipeline.drain()

        page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
        opener = page.locator("#news-open")
        await expect(opener.locator("#news-count")).to_have_text("2")
        await opener.click()
        items = page.locator("#news-items li")
        await expect(items).to_have_count(2)
        await expect(items.nth(0)).to_contain_text(f"#{grace['number']} Grace Hopper wrote")
        await expect(items.nth(1)).to_contain_text(f"#{ada['number']} Sam Lead gave it to you")
        await expect(items.nth(1)).to_contain_text(ada["subject"])

        await hub.tickets.assign(linus["_id"], alice["_id"], sam)  # while the list is open
        await expect(items).to_have_count(3)
        await expect(items.nth(0)).to_contain_text(f"#{linus['number']} Sam Lead gave it to you")
        await expect(opener.locator("#news-count")).to_have_text("3")
        await screenshot(page, "desk-news-list")

        await items.nth(1).locator("a").click()  # Grace's: it opens, and is read
        await expect(page.locator("#ticket-title")).to_contain_text(f"#{grace['number']}")
        await expect(page.locator("#news-panel")).to_be_hidden()
        await expect(opener.locator("#news-count")).to_have_text("2")
        await expect(ticket_row(page, grace)).not_to_have_class("unread")

        await opener.click()
        await expect(items).to_have_count(2)
        await page.locator("#news-read-all").click()
        await expect(page.locator("#news-items")).to_have_text("Nothing new: you have read everything.")
        await expect(opener.locator("#news-count")).to_have_text("")
        for t in (ada, linus):
            await expect(ticket_row(page, t)).not_to_have_class("unread")
        await expect(page).to_have_title(BASE)
        await screenshot(page, "desk-news-list-read")
        await page.keyboard.press("Escape")
        await expect(page.locator("#news-panel")).to_be_hidden()
        await page.context.close()


async def test_a_colleague_working_on_my_ticket_reaches_me(browser: Any, live_url: str, runtime: Runtime) -> None:
    """Sam answers Grace on Alice's ticket while she reads Linus's: her row of Grace's gets the dot "A colleague
    worked on your ticket" and a notification in his name; a reload keeps it. Sam then solves Ada's: it leaves her
    active list, and the News list says so ("Sam Lead solved it")."""
    hub = runtime.hub
    assert hub is not None
    async with http_client(runtime) as client:
        _, sam, chats = await alice_given_two_of_three(runtime, client, "Sam Lead")
        (_, grace), (_, ada), (_, linus) = chats
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password", notifications=True)
    await page.locator("#notify-toggle").click()
    await expect(page.locator("#notify-toggle")).to_have_text("Notifications on")
    for t in (grace, ada):
        await ticket_row(page, t).click()  # she reads both
        await expect(ticket_row(page, t)).not_to_have_class("unread")
    await ticket_row(page, linus).click()  # nobody's yet
    await expect(page.locator("#ticket-title")).to_contain_text(f"#{linus['number']}")

    await hub.tickets.reply(grace["_id"], sam, "Your refund left today.")  # while she is on Linus's
    dot = ticket_row(page, grace).locator(".dot")
    await expect(dot).to_have_attribute("title", "A colleague worked on your ticket")
    await expect(page).to_have_title(f"(1) {BASE}")
    assert await shown(page) == [{"title": f"Sam Lead wrote on #{grace['number']}",
                                  "body": f"Your ticket · {grace['subject']}"}]
    await page.reload()  # the hub keeps it unread for her
    await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    await expect(dot).to_have_attribute("title", "A colleague worked on your ticket")
    await screenshot(page, "desk-colleague-news")

    await hub.tickets.set_status(ada["_id"], "solved", sam)
    await expect(ticket_row(page, ada)).to_have_count(0)  # solved: not in the active list
    await expect(page.locator("#news-count")).to_have_text("2")
    await page.locator("#news-open").click()
    items = page.locator("#news-items li")
    await expect(items.nth(0)).to_contain_text(f"#{ada['number']} Sam Lead solved it")
    await expect(items.nth(1)).to_contain_text(f"#{grace['number']} Sam Lead wrote on it")
    await screenshot(page, "desk-colleague-solved-news")
    await page.context.close()
