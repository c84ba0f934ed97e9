"""The desk's ticket list: search finds a ticket by a word of its messages; tags set on the ticket
head filter the list; "load more" pages on."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import expect

from hub.models import InboundMessage, Role, Sender
from switchboard.bootstrap import Runtime
from tests.browser.conftest import cut_the_feed, desk_login, screenshot
from tests.helpers import eventually
from tests.test_ticket_list import open_ticket


async def missing_parcel(runtime: Runtime) -> tuple[Sender, dict[str, Any], dict[str, Any]]:
    """An agent, and Ana's ticket by email with its conversation: the customer, the ticket, the conversation."""
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    ana = Sender("ana@example.com", display_name="Ana Lima", email="ana@example.com")
    ticket = await open_ticket(runtime, "email", ana, "My parcel with the blue kettle never arrived",
                               subject="Missing parcel")
    conversation = await hub.store.conversations.find_one({"_id": ticket["conversation_ids"][0]})
    assert conversation is not None
    return ana, ticket, conversation


async def hold_the_read(desk: Any, ticket: dict[str, Any]) -> tuple[asyncio.Future[Any], asyncio.Event]:
    """Hold back the answer to the page's read of the ticket: the future is set once the hub has read it (the
    read is made), and the page gets the answer once the event is set."""
    read: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    answer = asyncio.Event()

    async def hold(route: Any) -> None:
        assert not read.done(), "the page read the ticket a second time"
        read.set_result(await route.fetch())
        await answer.wait()
        await route.fulfill(response=read.result())

    await desk.route(f"**/api/tickets/{ticket['_id']}", hold)
    return read, answer


async def came_live(desk: Any, text: str) -> bool:
    """Whether a message with `text` came on the desk's feed (the frames `window.liveFrames` records)."""
    return bool(await desk.evaluate("""(text) => window.liveFrames.some((f) => f.type === "message"
        && (f.message.text || "").includes(text))""", text))


async def shown_once_though_written_while_read(runtime: Runtime, desk: Any, ana: Sender,
                                               conversation: dict[str, Any], answer: asyncio.Event,
                                               number: str) -> None:
    """Ana writes while the page's read of her ticket is held (`hold_the_read`, the read made): her message comes
    on the desk's feed, and once the read's answer is let through both it and the ticket's first message are
    shown, once each."""
    hub = runtime.hub
    assert hub is not None
    text = f"the order number is {number}"
    await hub.ingest(InboundMessage(channel="email", external_id=f"late-{number}", sender=ana, text=f"PS: {text}",
                                    thread_key=conversation["thread_key"], subject="Missing parcel"))
    await eventually(lambda: came_live(desk, text), what="the message's frame on the desk's feed")
    answer.set()
    await expect(desk.locator("#messages li", has_text=text)).to_have_count(1)
    await expect(desk.locator("#messages li", has_text="blue kettle")).to_have_count(1)


async def test_search_by_a_message_word_and_filter_by_tag(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    kettle = await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima",
                                                        email="ana@example.com"),
                               "My parcel with the blue kettle never arrived", subject="Missing parcel")
    for i in range(26):  # more than a page
        await open_ticket(runtime, "sms", Sender(f"+4477009{i:05d}", phone=f"+4477009{i:05d}"),
                          f"question number {i} about my invoice")

    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    desk = await ctx.new_page()
    await desk.goto(f"{live_url}/desk")
    await desk.fill("input[name=username]", "agent1")
    await desk.fill("input[name=password]", "agent one password")
    await desk.click("#login-form button[type=submit]")
    items = desk.locator("#tickets li")
    await expect(items).to_have_count(25)
    await expect(desk.locator("#ticket-filters select[name=assignee] option").nth(2)).to_have_text("Unassigned (27)")
    await desk.click("#tickets-more")
    await expect(items).to_have_count(27)
    await expect(desk.locator("#tickets-more")).to_be_hidden()

    # The channel filter names the channels and filters by their codes: the 26 texts, then the one email
    channel = desk.locator("#ticket-filters select[name=channel]")
    await expect(channel.locator("option")).to_have_text(
        ["Any channel", "Web chat", "Email", "Slack", "Telegram", "SMS", "Phone"])
    await channel.select_option(label="SMS")
    await expect(desk.locator("#tickets-more")).to_be_visible()
    await expect(items).to_have_count(25)
    await channel.select_option(label="Email")
    await expect(items).to_have_count(1)
    await channel.select_option(label="Any channel")

    await desk.fill("#ticket-search", "kettle")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text(f"#{kettle['number']}")
    await expect(items.first).to_contain_text("Ana Lima")
    await screenshot(desk, "desk-ticket-search")

    await items.first.click()
    await desk.fill("#ticket-tags", "vip, shipping")
    await desk.press("#ticket-tags", "Enter")
    await desk.select_option("#ticket-priority", "urgent")
    await desk.fill("#ticket-search", "")
    await desk.fill("#ticket-filters input[name=tag]", "vip")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("#shipping #vip")
    await expect(items.first.locator(".badge.prio")).to_have_text("urgent")
    await screenshot(desk, "desk-ticket-tag-filter")
    await ctx.close()


async def test_the_list_keeps_up_with_a_desk_that_never_goes_quiet(browser: Any, live_url: str,
                                                                   runtime: Runtime) -> None:
    """Ticket changes every 50 ms for two seconds: the list shows them while they keep coming, not only once they
    stop (it waited for 150 ms without a change until 2026-12-06), and reads itself again at most about once a
    second (it read itself after every pause of 150 ms)."""
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    agent = await hub.store.agents.find_one({"username": "agent1"})
    ticket = await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima",
                                                        email="ana@example.com"),
                               "My parcel with the blue kettle never arrived", subject="Missing parcel")
    desk = await desk_login(browser, f"{live_url}/desk", "agent1", "agent one password")
    item = desk.locator("#tickets li", has_text="Missing parcel")
    await expect(item).to_be_visible()
    lists: list[str] = []
    desk.on("request", lambda r: lists.append(r.url) if "/api/tickets?" in r.url else None)

    async def keep_changing() -> None:
        for step in range(40):
            await hub.tickets.edit(ticket["_id"], agent, tags=[f"step{step}"])
            await asyncio.sleep(0.05)  # the pace of the changes, not a wait for the page

    loop = asyncio.get_running_loop()
    started = loop.time()
    writer = asyncio.create_task(keep_changing())
    try:
        await expect(item).to_contain_text("#step", timeout=10_000)
        assert not writer.done(), "the list showed the changes only once they stopped"
        await writer
        await expect(item).to_contain_text("#step39")  # and the last one once they stop
        reads, seconds = len(lists), loop.time() - started
    finally:
        writer.cancel()
    assert 1 <= reads <= 2 + seconds, (seconds, lists)  # about one a second however long it took, not one a change
    await screenshot(desk, "desk-ticket-list-busy")
    await desk.context.close()


async def test_a_message_written_while_the_ticket_loads_is_shown(browser: Any, live_url: str,
                                                                 runtime: Runtime) -> None:
    """Opened from the list, the ticket's conversations are watched before the ticket is read. A message written
    after the read, whose live frame arrives before the read's answer, is shown once the ticket is (the page
    dropped it until 2026-12-06: it came for a ticket not shown yet, and the read did not have it)."""
    ana, ticket, conversation = await missing_parcel(runtime)
    desk = await desk_login(browser, f"{live_url}/desk", "agent1", "agent one password")
    await desk.evaluate("() => { window.liveFrames = []; Desk.onLive((f) => window.liveFrames.push(f)); }")

    read, answer = await hold_the_read(desk, ticket)
    await desk.locator("#tickets li", has_text="Missing parcel").click()
    await read
    await shown_once_though_written_while_read(runtime, desk, ana, conversation, answer, "4417")
    # and the newest stays in view, though the messages above it grew (their delivery status came after)
    await desk.wait_for_function("""() => { const l = document.getElementById("messages");
                                            return l.scrollHeight - l.scrollTop - l.clientHeight < 2; }""")
    await screenshot(desk, "desk-ticket-message-while-loading")
    await desk.context.close()


async def test_a_ticket_opened_by_its_link_shows_a_message_written_while_it_loads(browser: Any, live_url: str,
                                                                                 runtime: Runtime) -> None:
    """Opened by its link (a reload, a link on a contact's card, a merge), the page knows the ticket's id only: it
    asks the feed to follow the ticket by its id, and reads the ticket once the feed answers with its
    conversations. A message written after the read comes live and is shown (until 2026-12-06 the feed followed
    the ticket only after the read, and such a message was missing until the ticket was opened again)."""
    ana, ticket, conversation = await missing_parcel(runtime)
    desk = await desk_login(browser, f"{live_url}/desk", "agent1", "agent one password")
    await desk.add_init_script("""window.addEventListener("DOMContentLoaded", () => {
        window.liveFrames = []; Desk.onLive((f) => window.liveFrames.push(f)); });""")
    read, answer = await hold_the_read(desk, ticket)
    await desk.evaluate(f"() => {{ location.hash = '#/tickets/{ticket['_id']}'; }}")
    await desk.reload()
    await read
    await shown_once_though_written_while_read(runtime, desk, ana, conversation, answer, "5120")
    await desk.context.close()


async def test_a_desk_whose_feed_was_lost_catches_up_once_it_is_back(browser: Any, live_url: str,
                                                                      runtime: Runtime) -> None:
    """While the desk's socket is down (a lost connection, a hub restarted) nothing comes live. Once it is back,
    the page reads again the ticket it shows and its lists: a message written meanwhile is shown, and the list
    shows the ticket as it is now (until 2026-12-06 both stayed as they were until the agent reloaded)."""
    hub = runtime.hub
    assert hub is not None
    ana, ticket, conversation = await missing_parcel(runtime)
    desk = await desk_login(browser, f"{live_url}/desk", "agent1", "agent one password")
    await desk.evaluate("() => { window.liveFrames = []; Desk.onLive((f) => window.liveFrames.push(f)); }")
    await desk.locator("#tickets li", has_text="Missing parcel").click()
    await expect(desk.locator("#messages li", has_text="blue kettle")).to_have_count(1)

    outage = await cut_the_feed(desk)
    await hub.ingest(InboundMessage(channel="email", external_id="late-3", thread_key=conversation["thread_key"],
                                    sender=ana, text="PS: the order number is 6231", subject="Missing parcel"))
    await hub.pipeline.drain()  # the message handled (it reopens a pending ticket), then the ticket set pending
    await hub.tickets.set_status(ticket["_id"], "pending", None)

    async def tried() -> bool:
        return outage.refused >= 1

    await eventually(tried, what="the page trying to reconnect while the hub is unreachable")
    outage.back.set()
    await expect(desk.locator("#messages li", has_text="the order number is 6231")).to_have_count(1)
    await expect(desk.locator("#tickets li", has_text="Missing parcel")).to_contain_text("pending")
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")
    assert not await came_live(desk, "the order number is 6231"), "it came from the read, not live"
    await screenshot(desk, "desk-feed-caught-up")
    await desk.context.close()
