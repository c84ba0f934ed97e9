"""Two agents on one ticket: each sees the other viewing and typing, the customer sees the typing,
and a reply written after a colleague's answer the agent has not seen asks first."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from agents_ui.activity import activity_view
from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_desk_feed import watch
from tests.test_widget_flow import escalate, open_widget_ws


async def _next(ws: Any, kind: str, **match: Any) -> dict[str, Any]:
    """The next frame of this type with these values (others, such as the place in the queue, are skipped)."""
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
        if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def test_agents_see_each_other_and_the_customer_sees_the_typing(client: TestClient[Any, Any],
                                                                      runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None and runtime.app is not None
    await hub.accounts.create("alice", "alice's password", name="Alice", roles=[Role.AGENT])
    await hub.accounts.create("bob", "bob's password", name="Bob", roles=[Role.AGENT])
    token, ticket = await escalate(client, runtime)
    path = f"/api/tickets/{ticket['_id']}/activity"
    async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as alice_http, \
            TestClient(TestServer(runtime.app, host="127.0.0.1")) as bob_http:
        alice = {"X-CSRF-Token": await login(alice_http, "alice", "alice's password")}
        bob = {"X-CSRF-Token": await login(bob_http, "bob", "bob's password")}
        async with bob_http.ws_connect("/api/desk/ws") as bob_desk, await open_widget_ws(client, token) as widget:
            await watch(bob_desk, ticket)  # Bob's desk shows the ticket: its feed follows it
            first = await alice_http.post(path, json={"state": "viewing"}, headers=alice)
            assert first.status == 200
            answer = await first.json()
            assert (answer["activity"]["agent_name"], answer["activity"]["state"], answer["others"]) == \
                ("Alice", "viewing", [])  # nobody else on it yet
            seen = await _next(bob_desk, "activity")
            assert seen["activity"]["agent_name"] == "Alice" and seen["activity"]["state"] == "viewing"
            assert "agent_id" in seen["activity"] and "text" not in seen["activity"]
            listed = await (await bob_http.get(path)).json()
            assert [(a["agent_name"], a["state"]) for a in listed["activity"]] == [("Alice", "viewing")]
            assert (await (await alice_http.get(path)).json())["activity"] == []  # not herself
            # Bob's desk opening the ticket reports "viewing" and learns from the answer who else is on it
            bob_viewing = await (await bob_http.post(path, json={"state": "viewing"}, headers=bob)).json()
            assert [(a["agent_name"], a["state"]) for a in bob_viewing["others"]] == [("Alice", "viewing")]
            assert (await _next(bob_desk, "activity"))["activity"]["agent_name"] == "Bob"  # his own, live

            assert (await alice_http.post(path, json={"state": "typing"}, headers=alice)).status == 200
            assert (await _next(bob_desk, "activity"))["activity"]["state"] == "typing"
            assert await _next(widget, "typing", active=True) == {"type": "typing", "active": True, "name": "Alice"}
            # her desk renews "viewing" while she types: the answer is her record as stored, still typing
            renewed = await (await alice_http.post(path, json={"state": "viewing"}, headers=alice)).json()
            assert renewed["activity"]["typing_until"] is not None
            assert [a["agent_name"] for a in renewed["others"]] == ["Bob"]

            assert (await alice_http.post(path, json={"state": "left"}, headers=alice)).status == 200
            assert await _next(widget, "typing") == {"type": "typing", "active": False, "name": "Alice"}
            assert (await (await bob_http.get(path)).json())["activity"] == []

        bad = await alice_http.post(path, json={"state": "sleeping"}, headers=alice)
        assert bad.status in (400, 422) and "state" in (await bad.json())["error"]

        # Bob answers; Alice, who saw only the messages before it, is asked first.
        seen_at = ticket["created_at"].isoformat()  # what Alice saw: up to the handoff
        reply = f"/api/tickets/{ticket['_id']}/reply"
        assert (await bob_http.post(reply, json={"text": "Bob here, on it."}, headers=bob)).status == 201
        late = await alice_http.post(reply, json={"text": "Alice here!", "seen_at": seen_at}, headers=alice)
        assert late.status == 409
        assert (await late.json())["error"] == ("Bob replied to the customer while you were writing; "
                                                "send yours anyway?")
        note = await alice_http.post(reply, json={"text": "leaving it to Bob", "private": True, "seen_at": seen_at},
                                     headers=alice)
        assert note.status == 201  # a private note never collides with the customer's conversation
        anyway = await alice_http.post(reply, json={"text": "Alice here!", "seen_at": seen_at, "confirm": True},
                                       headers=alice)
        assert anyway.status == 201
        assert await hub.store.messages.count_documents({"text": "Alice here!"}) == 1


async def test_typing_told_on_the_desk_feed_reaches_colleagues_and_the_customer(client: TestClient[Any, Any],
                                                                                 runtime: Runtime) -> None:
    """The page sends its typing (and the renewals of "viewing") on its feed for the ticket it watches: one write,
    no request. It reaches a colleague's desk and the customer's widget as a report does; frames coming faster
    than once a second per state are not written again; a role without tickets is refused."""
    hub = runtime.hub
    assert hub is not None and runtime.app is not None
    alice_id = (await hub.accounts.create("alice", "alice's password", name="Alice", roles=[Role.AGENT]))["_id"]
    await hub.accounts.create("bob", "bob's password", name="Bob", roles=[Role.AGENT])
    tom_id = (await hub.accounts.create("tom", "tom's password", name="Tom", roles=[Role.TRAINER]))["_id"]
    token, ticket = await escalate(client, runtime)
    async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as alice_http, \
            TestClient(TestServer(runtime.app, host="127.0.0.1")) as bob_http, \
            TestClient(TestServer(runtime.app, host="127.0.0.1")) as tom_http:
        for http, name in ((alice_http, "alice"), (bob_http, "bob"), (tom_http, "tom")):
            await login(http, name, f"{name}'s password")
        async with alice_http.ws_connect("/api/desk/ws") as alice_desk, \
                bob_http.ws_connect("/api/desk/ws") as bob_desk, tom_http.ws_connect("/api/desk/ws") as tom_desk, \
                await open_widget_ws(client, token) as widget:
            await watch(alice_desk, ticket)
            await watch(bob_desk, ticket)
            await alice_desk.send_json({"type": "activity", "state": "typing"})
            seen = (await _next(bob_desk, "activity"))["activity"]
            assert (seen["agent_name"], seen["state"]) == ("Alice", "typing") and seen["typing_until"] is not None
            assert await _next(widget, "typing", active=True) == {"type": "typing", "active": True, "name": "Alice"}
            assert (await _next(alice_desk, "activity"))["activity"] == seen  # her own record comes back to her

            # Again at once, then a frame that is answered: both handled in order, the second typing not written.
            await alice_desk.send_json({"type": "activity", "state": "typing"})
            await alice_desk.send_json({"type": "activity", "state": "left"})
            assert "state" in (await _next(alice_desk, "error"))["error"]
            record = await hub.store.ticket_activity.find_one({"agent_id": alice_id})
            assert record is not None and activity_view(record)["typing_until"] == seen["typing_until"]

            await watch(tom_desk, ticket)
            await tom_desk.send_json({"type": "activity", "state": "typing"})
            assert (await _next(tom_desk, "error"))["error"] == "your role does not work on tickets"
            assert await hub.store.ticket_activity.count_documents({"agent_id": tom_id}) == 0
