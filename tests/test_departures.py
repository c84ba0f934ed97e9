"""A widget visitor who closes the chat page while waiting for an agent has abandoned the ticket.

The grace period is not waited out: the sweep is asked what it would do at a later time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import utcnow
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
from tests.test_widget_flow import escalate, open_widget_ws, say, widget_session

GRACE = timedelta(seconds=120)  # config/switchboard.yml: channels.widget.abandon_after_seconds


async def _conversation(runtime: Runtime, ticket: dict[str, Any]) -> dict[str, Any]:
    assert runtime.hub is not None
    conv = await runtime.hub.store.conversations.find_one({"_id": ticket["conversation_ids"][0]})
    assert conv is not None
    return conv


async def _left(runtime: Runtime, ticket: dict[str, Any]) -> bool:
    return "abandon_at" in await _conversation(runtime, ticket)


async def _back(runtime: Runtime, ticket: dict[str, Any]) -> bool:
    return "abandon_at" not in await _conversation(runtime, ticket)


async def _visit_and_leave(client: TestClient[Any, Any], runtime: Runtime, token: str, ticket: dict[str, Any]) -> None:
    """The visitor opens the chat page (its WebSocket) and closes it; returns once the hub noticed."""
    async with await open_widget_ws(client, token):
        pass
    await eventually(lambda: _left(runtime, ticket), what="the departure noticed")


async def test_closing_the_chat_page_while_waiting_abandons_the_ticket_after_the_grace(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    thread = (await _conversation(runtime, ticket))["thread_key"]
    async with await open_widget_ws(client, token):
        await eventually(lambda: hub.presence.customer_connected_now("widget", thread), what="the connection")
    await eventually(lambda: _left(runtime, ticket), what="the departure noticed")
    conv = await _conversation(runtime, ticket)
    assert conv["abandon_at"] - conv["customer_left_at"] == GRACE
    marked = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert marked is not None and marked["customer_left_at"] == conv["customer_left_at"]  # shown in the desk
    assert not await hub.presence.customer_connected_now("widget", thread)

    assert await hub.departures.sweep(utcnow()) == 0  # still within the grace period
    assert await hub.departures.sweep(utcnow() + GRACE + timedelta(seconds=1)) == 1
    closed = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert closed is not None and closed["status"] == "closed" and closed["abandoned_at"] is not None
    event = await hub.store.events.find_one({"type": "ticket.abandoned", "ticket_id": ticket["_id"]})
    assert event is not None and event["data"] == {"reason": "left"}
    metrics = await hub.metrics.window(utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=1))
    assert metrics["overall"]["abandoned"] == 1
    assert metrics["overall"]["abandoned_by"] == {"ended": 0, "left": 1, "closed_unanswered": 0}
    # Swept once: a second sweep finds nothing.
    assert await hub.departures.sweep(utcnow() + GRACE * 2) == 0


async def test_coming_back_in_time_or_polling_cancels_the_departure(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    await _visit_and_leave(client, runtime, token, ticket)
    async with await open_widget_ws(client, token):
        await eventually(lambda: _back(runtime, ticket), what="the return noticed")
        assert "customer_left_at" not in (await hub.store.tickets.find_one({"_id": ticket["_id"]}) or {})
        assert await hub.departures.sweep(utcnow() + GRACE * 2) == 0
    await eventually(lambda: _left(runtime, ticket), what="the second departure noticed")
    # A browser without WebSockets polls for messages: that is being here too.
    resp = await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert await _back(runtime, ticket)
    assert await hub.departures.sweep(utcnow() + GRACE * 2) == 0
    still = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert still is not None and still["status"] == "new"


async def test_one_of_two_tabs_closing_is_not_leaving(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    _token, ticket = await escalate(client, runtime)
    conv = await _conversation(runtime, ticket)
    first = await hub.customer_connected("widget", conv["thread_key"])
    second = await hub.customer_connected("widget", conv["thread_key"])
    await hub.customer_disconnected(first, "widget", conv["thread_key"])
    assert await _back(runtime, ticket)
    await hub.customer_disconnected(second, "widget", conv["thread_key"])
    assert await _left(runtime, ticket)


async def test_a_ticket_an_agent_answered_or_a_bot_chat_is_never_abandoned(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Hi, I am here"},
                      headers={"X-CSRF-Token": agent["csrf"]})
    await _visit_and_leave(client, runtime, token, ticket)
    assert await hub.departures.sweep(utcnow() + GRACE * 2) == 0
    kept = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert kept is not None and kept["status"] == "open" and "abandoned_at" not in kept

    chatter = await widget_session(client)
    await say(client, chatter, "what are your opening hours")
    await hub.pipeline.drain()
    bot_chat = await hub.store.conversations.find_one({"ticket_id": None, "channel": "widget"})
    assert bot_chat is not None
    connection = await hub.customer_connected("widget", bot_chat["thread_key"])
    await hub.customer_disconnected(connection, "widget", bot_chat["thread_key"])
    bot_chat = await hub.store.conversations.find_one({"_id": bot_chat["_id"]})
    assert bot_chat is not None and bot_chat["open"] is True and "abandon_at" not in bot_chat


async def test_a_bot_chat_writes_no_connection_until_it_is_handed_to_a_person(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    """Nobody counts a bot chat's connections: its tabs are written when the chat escalates, and then
    closing one of two tabs is not leaving."""
    hub = runtime.hub
    assert hub is not None
    token = await widget_session(client)
    await say(client, token, "what are your opening hours")
    await hub.pipeline.drain()
    async with await open_widget_ws(client, token) as first, await open_widget_ws(client, token):
        assert await hub.store.presence.count_documents({"customer": {"$exists": True}}) == 0
        await say(client, token, "I want a human")
        await hub.pipeline.drain()
        ticket = await hub.store.tickets.find_one({})
        assert ticket is not None
        thread = (await _conversation(runtime, ticket))["thread_key"]

        async def both_written() -> bool:
            return await hub.store.presence.count_documents({"customer": f"widget:{thread}"}) == 2

        await eventually(both_written, what="both tabs written on the handoff")
        await first.close()
        await eventually(lambda: _one_left(runtime, thread), what="the first tab's close")
        assert await _back(runtime, ticket)  # the other tab is open: not a departure
    await eventually(lambda: _left(runtime, ticket), what="the last tab's close")
    assert await hub.store.presence.count_documents({}) == 0


async def _one_left(runtime: Runtime, thread: str) -> bool:
    assert runtime.hub is not None
    return await runtime.hub.store.presence.count_documents({"customer": f"widget:{thread}"}) == 1


async def test_a_tab_counted_late_keeps_the_ticket_from_being_abandoned(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    """A tab open since the bot chat, whose handoff it had not seen yet when the customer's other tab closed:
    the departure is marked, but the sweep counts the tab by then and abandons nothing."""
    hub = runtime.hub
    assert hub is not None
    token = await widget_session(client)
    await say(client, token, "what are your opening hours")
    await hub.pipeline.drain()
    thread = (await hub.store.conversations.find_one({"channel": "widget"}) or {})["thread_key"]
    early = await hub.customer_connected("widget", thread)  # a bot chat: not written
    await say(client, token, "I want a human")
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    other = await hub.customer_connected("widget", thread)  # opened after the handoff: written
    await hub.customer_disconnected(other, "widget", thread)
    assert await _left(runtime, ticket)  # the early tab was not counted yet
    await hub.customer_waiting(early)  # its socket sees the handoff now
    assert await hub.departures.sweep(utcnow() + GRACE * 2) == 0
    kept = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert kept is not None and kept["status"] == "new" and "customer_left_at" not in kept
    assert await _back(runtime, ticket)
    assert "customer_left_at" not in await _conversation(runtime, ticket)
    await hub.customer_disconnected(early, "widget", thread)
    assert await _left(runtime, ticket)
    assert await hub.departures.sweep(utcnow() + GRACE * 2) == 1
