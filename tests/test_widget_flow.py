"""One customer question end to end through the widget channel, against a real secantusd-py."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from channels.widget.identity import user_hash
from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.helpers import eventually


async def widget_session(client: TestClient[Any, Any], **extra: Any) -> str:
    resp = await client.post("/api/widget/session", json={"site": "demo", **extra})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["token"])


async def open_widget_ws(client: Any, token: str, fresh: bool = False) -> aiohttp.ClientWebSocketResponse:
    """The visitor's live feed: connect, authenticate with the first frame, wait until subscribed (`fresh`: as the
    widget says for a session its page made, before the visitor sent anything)."""
    ws: aiohttp.ClientWebSocketResponse = await client.ws_connect("/api/widget/ws")
    await ws.send_json({"type": "auth", "token": token, **({"fresh": True} if fresh else {})})
    ready = await asyncio.wait_for(ws.receive_json(), timeout=10)
    assert ready["type"] == "ready", ready
    return ws


async def say(client: TestClient[Any, Any], token: str, text: str, client_id: str | None = None,
              first: bool = False) -> dict[str, Any]:
    """Post as the widget does (`first`: the first message of a session it made)."""
    resp = await client.post(
        "/api/widget/messages",
        json={"text": text, "client_id": client_id or uuid.uuid4().hex, **({"first": True} if first else {})},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 202, await resp.text()
    return dict(await resp.json())


async def escalate(client: TestClient[Any, Any], runtime: Runtime, text: str = "I want a human") -> tuple[str, Any]:
    """A new widget visitor asks for a person: (their token, the ticket the hub opened)."""
    token = await widget_session(client)
    await say(client, token, text)
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None
    return token, ticket


async def history(client: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    return list((await resp.json())["messages"])


async def test_widget_question_is_answered_by_the_bot(client: TestClient[Any, Any], runtime: Runtime) -> None:
    token = await widget_session(client)
    await say(client, token, "what are your opening hours?", client_id="first-question-01")
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    messages = await history(client, token)
    assert [m["author"]["kind"] for m in messages] == ["customer", "bot"]
    # the widget puts the stored copy where it showed the message while sending it: by its client id
    assert messages[0]["client_id"] == "first-question-01" and "client_id" not in messages[1]
    stored = await runtime.hub.store.messages.find_one({"direction": "in"})
    assert stored is not None and stored["nlu"]["intent"] == "opening_hours"
    assert await runtime.hub.store.tickets.count_documents({}) == 0


async def test_asking_for_a_human_opens_a_ticket_linked_to_the_contact(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    token = await widget_session(client, name="Dana Scully")
    result = await say(client, token, "I want to talk to a human please")
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None
    assert ticket["status"] == "new" and ticket["reason"] == "human_requested"
    assert ticket["queue"] == "general" and ticket["number"] >= 1
    assert [str(c) for c in ticket["conversation_ids"]] == [result["conversation_id"]]
    conversation = await runtime.hub.store.conversations.find_one({"_id": ticket["conversation_ids"][0]})
    assert conversation is not None and conversation["state"] == "escalated"
    assert conversation["contact_id"] == ticket["contact_id"]
    contact = await runtime.hub.store.contacts.find_one({"_id": ticket["contact_id"]})
    assert contact is not None and contact["name"] == "Dana Scully"
    texts = [m["text"] for m in await history(client, token)]
    assert any(f"#{ticket['number']}" in t for t in texts)
    # After handoff the bot stays silent: a new question is not answered by it.
    await say(client, token, "what are your opening hours?")
    await runtime.hub.pipeline.drain()
    kinds = [m["author"]["kind"] for m in await history(client, token)]
    assert kinds == ["customer", "system", "customer"]


async def test_agent_reply_reaches_the_widget_websocket(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    token, ticket = await escalate(client, runtime, "let me speak to an agent")
    async with await open_widget_ws(client, token) as ws:
        resp = await client.post(
            f"/api/tickets/{ticket['_id']}/reply",
            json={"text": "Hi, Alice here. How can I help?"},
            headers={"X-CSRF-Token": agent["csrf"]},
        )
        assert resp.status == 201, await resp.text()
        # The change stream may still deliver the earlier handoff notice (and the place in the
        # queue) first: skip to the reply.
        frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
        while frame["type"] != "message" or frame["message"]["author"]["kind"] != "agent":
            frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
    assert frame["type"] == "message"
    assert frame["message"]["text"] == "Hi, Alice here. How can I help?"
    assert frame["message"]["author"] == {"kind": "agent", "name": "Alice"}
    updated = await runtime.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert updated is not None and updated["status"] == "open" and updated["first_agent_reply_at"] is not None


async def test_private_note_never_reaches_the_customer(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    token, ticket = await escalate(client, runtime, "human please")
    resp = await client.post(
        f"/api/tickets/{ticket['_id']}/reply",
        json={"text": "customer seems upset", "private": True},
        headers={"X-CSRF-Token": agent["csrf"]},
    )
    assert resp.status == 201
    assert "customer seems upset" not in [m["text"] for m in await history(client, token)]
    note = await runtime.hub.store.messages.find_one({"text": "customer seems upset"})
    assert note is not None and note["delivery"]["status"] == "internal"
    # The widget's messages are delivered by being stored; the note is the only one never marked sent.
    outbound = await runtime.hub.store.messages.find({"direction": "out"}).to_list()
    assert [m["delivery"]["status"] for m in outbound if m["private"]] == ["internal"]
    assert all(m["delivery"]["status"] == "sent" for m in outbound if not m["private"])
    assert await runtime.hub.store.outbox.count_documents({}) == 0


async def test_same_message_ingested_twice_is_stored_once(client: TestClient[Any, Any], runtime: Runtime) -> None:
    token = await widget_session(client)
    first = await say(client, token, "where is my order 12345", client_id="retry-0000001")
    second = await say(client, token, "where is my order 12345", client_id="retry-0000001")
    assert first["duplicate"] is False and second["duplicate"] is True
    assert first["message_id"] == second["message_id"]
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    assert await runtime.hub.store.messages.count_documents({"direction": "in"}) == 1
    assert await runtime.hub.store.messages.count_documents({"author.kind": "bot"}) == 1


async def test_visitor_session_survives_reload_and_hashed_user_id_is_linked_without_its_email(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    token = await widget_session(client)
    await say(client, token, "hello")
    again = await widget_session(client, token=token)
    assert len(await history(client, again)) >= 1
    forged = await client.post("/api/widget/session", json={"site": "demo", "user_id": "u-42", "user_hash": "00"})
    assert forged.status == 403
    verified = await widget_session(
        client, user_id="u-42", user_hash=user_hash("site-identity-secret", "u-42"), email="fox@example.com"
    )
    await say(client, verified, "hi there")
    assert runtime.hub is not None
    contact = await runtime.hub.store.contacts.find_one({"identities.external_id": "demo:user:u-42"})
    # user_hash proves the user id only: the email the browser sent is not the contact's address.
    assert contact is not None and contact["identities"][0]["verified"] is False
    assert contact["emails"] == []
    again = await widget_session(client, user_id="u-42", user_hash=user_hash("site-identity-secret", "u-42"))
    await say(client, again, "me again")
    assert await runtime.hub.store.contacts.count_documents({"identities.external_id": "demo:user:u-42"}) == 1


async def test_bad_widget_input_gets_a_clear_4xx(client: TestClient[Any, Any]) -> None:
    token = await widget_session(client)
    auth = {"Authorization": f"Bearer {token}"}
    cases = [
        (await client.post("/api/widget/messages", data="{not json", headers=auth), 400, "malformed JSON"),
        (
            await client.post("/api/widget/messages", json={"text": "", "client_id": "abcdefgh"}, headers=auth),
            400,
            "text is required",
        ),
        (await client.post("/api/widget/messages", json={"text": "hi"}, headers=auth), 400, "client_id"),
        (
            await client.post(
                "/api/widget/messages",
                json={"text": "hi", "client_id": "abcdefgh"},
                headers={"Authorization": "Bearer forged.token"},
            ),
            401,
            "invalid visitor token",
        ),
        (await client.post("/api/widget/session", json={"site": "nope"}), 404, "unknown site"),
    ]
    for resp, status, reason in cases:
        assert resp.status == status
        assert reason in json.loads(await resp.text())["error"]


async def test_a_pressed_quick_reply_reads_as_its_title_and_acts_as_its_payload(
        client: TestClient[Any, Any], runtime: Runtime) -> None:
    """The customer pressed "No" under "Did that help?": everyone reads "No", the bot reads /deny."""
    assert runtime.hub is not None
    token = await widget_session(client)
    await say(client, token, "what are your opening hours?")
    await runtime.hub.pipeline.drain()
    [answer] = [m for m in await history(client, token) if m["author"]["kind"] == "bot"]
    [no] = [q for q in answer["quick_replies"] if q["payload"] == "/deny"]
    headers = {"Authorization": f"Bearer {token}"}
    bad = await client.post("/api/widget/messages", headers=headers,
                            json={"text": "No", "payload": "deny; drop", "client_id": uuid.uuid4().hex})
    assert bad.status in (400, 422) and "payload" in (await bad.json())["error"]
    resp = await client.post("/api/widget/messages", headers=headers,
                             json={"text": no["title"], "payload": no["payload"], "client_id": uuid.uuid4().hex})
    assert resp.status == 202, await resp.text()
    await runtime.hub.pipeline.drain()
    texts = [m["text"] for m in await history(client, token)]
    assert no["title"] in texts and not [t for t in texts if t.startswith("/")]
    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None and ticket["reason"] == "not_helpful"  # the bot understood "No"
    assert not ticket["subject"].startswith("/")


async def test_visitors_who_leave_at_once_leave_no_subscription_nor_presence(client: TestClient[Any, Any],
                                                                              runtime: Runtime) -> None:
    """Under load a widget gives up and reconnects: a socket closed right after its auth frame, before or while
    the hub answers "ready", must release its realtime subscription and its presence like any other."""
    assert runtime.hub is not None
    hub = runtime.hub
    token = await widget_session(client)
    before = hub.bus.subscriber_count
    for _ in range(10):
        ws = await client.ws_connect("/api/widget/ws")
        await ws.send_json({"type": "auth", "token": token})
        await ws.close()
    stayed = await open_widget_ws(client, token)  # one that gets its "ready", then leaves
    await stayed.close()

    async def released() -> bool:
        return hub.bus.subscriber_count == before and await hub.store.presence.count_documents({}) == 0

    await eventually(released, what="every subscription and presence record released")


async def test_the_history_after_a_message_has_only_what_came_later(client: TestClient[Any, Any],
                                                                   runtime: Runtime) -> None:
    """A polling widget (no WebSocket) asks for what came after the last message it shows: the later ones, in
    order, never an earlier one, never an agent's private note."""
    assert runtime.hub is not None
    token = await widget_session(client)
    await say(client, token, "what are your opening hours?")
    await runtime.hub.pipeline.drain()
    first = await history(client, token)
    assert len(first) == 2  # the question, the bot's answer
    await say(client, token, "I want to talk to a human please")
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None
    ann = await runtime.hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT])
    await runtime.hub.tickets.reply(ticket["_id"], ann, "internal: check the order", private=True)
    resp = await client.get("/api/widget/messages", params={"after": first[-1]["id"]},
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    later = (await resp.json())["messages"]
    assert later[0]["text"] == "I want to talk to a human please"
    assert len(later) == 2 and all(m["id"] > first[-1]["id"] for m in later)
    assert all("internal" not in m["text"] for m in later)
    assert [m["id"] for m in await history(client, token)] == [m["id"] for m in first + later]
