"""The desk's live feed and files show each role only what it may read over REST (`hub.access`).

Absence is proven with ordering, not waiting: the change stream delivers changes in order to
every socket, so once a socket has received a later marker change, it has already been offered
(and, here, refused) everything written before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from agents_ui import desk
from hub.models import Role, utcnow
from switchboard.bootstrap import Runtime
from tests.test_widget_flow import escalate, say, widget_session

FRAME_TIMEOUT = 10


@dataclass
class DeskUser:
    http: aiohttp.ClientSession
    csrf: str
    account: dict[str, Any]

    async def post(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
async def users(runtime: Runtime, client: TestClient[Any, Any]) -> AsyncIterator[Callable[..., Any]]:
    """Makes logged-in desk users, each with its own cookie jar, over the same loopback server."""
    made: list[DeskUser] = []

    async def make(name: str, *roles: Role) -> DeskUser:
        assert runtime.hub is not None
        account = await runtime.hub.accounts.create(name, f"{name} password", roles=list(roles))
        http = aiohttp.ClientSession(base_url=str(client.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
        resp = await http.post("/api/auth/login", json={"username": name, "password": f"{name} password"})
        assert resp.status == 200, await resp.text()
        user = DeskUser(http, (await resp.json())["csrf"], account)
        made.append(user)
        return user

    yield make
    for user in made:
        await user.http.close()


async def frames_until(ws: aiohttp.ClientWebSocketResponse, done: Callable[[dict[str, Any]], bool]) -> list[Any]:
    """Every frame up to and including the first for which `done` holds."""
    frames = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), FRAME_TIMEOUT)
        assert msg.type == WSMsgType.TEXT, f"socket ended early: {msg}"
        frames.append(msg.json())
        if done(frames[-1]):
            return frames


async def watch(ws: aiohttp.ClientWebSocketResponse, ticket: dict[str, Any] | None) -> list[Any]:
    """Follow the ticket and its conversations, as the desk does when it shows the ticket (None: it shows none):
    every frame up to the feed's `watching`, after which the ticket's messages come live."""
    await ws.send_json({"type": "watch", "ticket_id": str(ticket["_id"]) if ticket else None,
                        "conversation_ids": [str(c) for c in ticket["conversation_ids"]] if ticket else []})
    return await frames_until(ws, lambda f: f["type"] == "watching")


def is_event(kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["type"] == "event" and f["event"]["type"] == kind and all(
        f["event"].get(k) == v for k, v in fields.items())


async def test_a_trainer_socket_gets_no_ticket_message_or_note_while_an_agents_does(
    runtime: Runtime, client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    agent = await users("ann", Role.AGENT)
    trainer = await users("tom", Role.TRAINER)
    supervisor = await users("sue", Role.SUPERVISOR)
    async with agent.http.ws_connect("/api/desk/ws") as a_ws, trainer.http.ws_connect("/api/desk/ws") as t_ws, \
            supervisor.http.ws_connect("/api/desk/ws") as s_ws:
        token, ticket = await escalate(client, runtime)
        ticket_id = str(ticket["_id"])
        await frames_until(a_ws, lambda f: f["type"] == "ticket" and f["ticket"]["id"] == ticket_id)
        await watch(a_ws, ticket)
        for_supervisor = await watch(s_ws, ticket)
        # The trainer's page asks too: what it may see is still the hub's to decide. Nothing came before the answer.
        assert [f["type"] for f in await watch(t_ws, ticket)] == ["watching"]
        await say(client, token, "my card 4111 was charged twice")
        await frames_until(a_ws, lambda f: f["type"] == "message" and "4111" in f["message"]["text"])
        note = await agent.post(f"/api/tickets/{ticket_id}/reply", {"text": "internal: refund approved",
                                                                     "private": True})
        assert note.status == 201, await note.text()
        await frames_until(a_ws, lambda f: f["type"] == "message" and f["message"].get("private") is True)
        for_supervisor += await frames_until(s_ws, lambda f: f["type"] == "message" and f["message"].get("private"))
        assert any(f["type"] == "ticket" for f in for_supervisor)

        # A marker only trainers may see: everything above was offered to the trainer's socket before it.
        await hub.store.append_event("bot.training", utcnow(), job_id="marker", kind="train", status="running")
        got = await frames_until(t_ws, is_event("bot.training", job_id="marker"))
        assert len(got) == 1, f"the trainer saw more than training progress: {got[:-1]}"

        # And the agent never sees training progress: the next ticket change arrives without it.
        assert (await agent.post(f"/api/tickets/{ticket_id}/status", {"status": "pending"})).status == 200
        after = await frames_until(a_ws, lambda f: f["type"] == "ticket" and f["ticket"]["status"] == "pending")
        assert not [f for f in after if f["type"] == "event" and f["event"]["type"].startswith("bot.")]


async def test_a_foreign_origin_cannot_open_the_desk_socket(
    client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    agent = await users("ann", Role.AGENT)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await agent.http.ws_connect("/api/desk/ws", origin="https://evil.example")
    assert refused.value.status == 403
    own = f"http://{client.make_url('').host}:{client.make_url('').port}"
    async with agent.http.ws_connect("/api/desk/ws", origin=own) as ws:
        assert not ws.closed


async def test_logging_out_or_disabling_closes_an_open_socket_before_the_next_change(
    runtime: Runtime, client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    leaving = await users("leo", Role.AGENT)
    disabled = await users("dan", Role.AGENT)
    demoted = await users("dora", Role.AGENT)
    async with leaving.http.ws_connect("/api/desk/ws") as l_ws, disabled.http.ws_connect("/api/desk/ws") as d_ws, \
            demoted.http.ws_connect("/api/desk/ws") as t_ws:
        # Each socket's opening set its agent online, a change of theirs the socket re-reads its session for: once a
        # marker written after those is through, what follows is all that can end the sessions.
        await hub.store.append_event("ticket.marker", utcnow())
        for ws in (l_ws, d_ws, t_ws):
            await frames_until(ws, is_event("ticket.marker"))
        assert (await leaving.post("/api/auth/logout", {})).status == 200
        await hub.accounts.update(disabled.account["_id"], disabled=True)
        await hub.accounts.update(demoted.account["_id"], roles=[Role.TRAINER])  # no longer reads tickets
        await escalate(client, runtime)  # a new ticket: all three would have been shown it
        for ws in (l_ws, d_ws):
            msg = await asyncio.wait_for(ws.receive(), FRAME_TIMEOUT)
            assert msg.type == WSMsgType.CLOSE, f"a frame reached a dead session's socket: {msg}"
            assert msg.data == aiohttp.WSCloseCode.POLICY_VIOLATION
        # The trainer's socket stays open, and the ticket never reaches it: the next frame it gets is an event a
        # trainer may see (training progress), written after the ticket.
        await hub.store.append_event("bot.training", utcnow(), job_id="marker", kind="train", status="running")
        got = await frames_until(t_ws, is_event("bot.training", job_id="marker"))
        assert len(got) == 1, f"a former agent's socket was shown: {got[:-1]}"


async def test_a_busy_desk_does_not_read_the_session_for_every_change(
    runtime: Runtime, client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    """The session is read when the socket opens, on a change of its own, and every SESSION_RECHECK_SECONDS: not
    for each batch of changes the socket is sent (it was, until 2026-12-06: with the desk open, a session read
    for every few messages anywhere on the desk)."""
    hub = runtime.hub
    assert hub is not None
    agent = await users("bea", Role.AGENT)
    reads: list[str] = []
    session = hub.accounts.session

    async def counted(token: str) -> Any:
        reads.append(token)
        return await session(token)

    token, ticket = await escalate(client, runtime)
    async with agent.http.ws_connect("/api/desk/ws") as ws:
        await watch(ws, ticket)  # the ticket open on the desk: its messages come live
        # Opening the socket set the agent online (a change of their own, read for): it was written before this
        # message, so once the message's frame is here, that read is done.
        await say(client, token, "Hello")
        await frames_until(ws, lambda f: f["type"] == "message" and f["message"]["text"] == "Hello")
        hub.accounts.session = counted  # type: ignore[method-assign]
        try:
            for n in range(5):  # five messages one after the other, each sent to the agent's socket on its own
                await say(client, token, f"Where is my parcel {n}?")
                await frames_until(ws, lambda f, n=n: f["type"] == "message" and f["message"]["text"]
                                   == f"Where is my parcel {n}?")
        finally:
            hub.accounts.session = session  # type: ignore[method-assign]
    assert reads == []


async def test_an_idle_socket_closes_once_its_session_ends(
    users: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk, "SESSION_RECHECK_SECONDS", 0.1)
    agent = await users("ivy", Role.AGENT)
    async with agent.http.ws_connect("/api/desk/ws") as ws:
        assert (await agent.post("/api/auth/logout", {})).status == 200
        msg = await asyncio.wait_for(ws.receive(), FRAME_TIMEOUT)  # nothing else happens: the re-check closes it
        assert msg.type == WSMsgType.CLOSE


async def test_customer_files_only_for_roles_that_read_the_ticket(
    runtime: Runtime, client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    photo = aiohttp.FormData()
    photo.add_field("client_id", "photo-0001")
    photo.add_field("file", b"\xff\xd8 passport scan \xff\xd9", filename="passport.jpg", content_type="image/jpeg")
    sent = await client.post("/api/widget/files", data=photo, headers={"Authorization": f"Bearer {token}"})
    assert sent.status == 202, await sent.text()
    message = await hub.store.messages.find_one({"attachments.0": {"$exists": True}})
    assert message is not None
    blob_id = message["attachments"][0]["blob_id"]

    agent = await users("ann", Role.AGENT)
    trainer = await users("tom", Role.TRAINER)
    supervisor = await users("sue", Role.SUPERVISOR)
    assert (await trainer.http.get(f"/api/attachments/{blob_id}")).status == 403
    assert (await supervisor.http.get(f"/api/attachments/{blob_id}")).status == 200
    got = await agent.http.get(f"/api/attachments/{blob_id}")
    assert got.status == 200 and await got.read() == b"\xff\xd8 passport scan \xff\xd9"

    # A file in a private note: agents and supervisors, never trainers (nor the visitor).
    form = aiohttp.FormData()
    form.add_field("file", b"internal", filename="notes.txt", content_type="text/plain")
    up = await agent.http.post(f"/api/tickets/{ticket['_id']}/attachments", data=form,
                               headers={"X-CSRF-Token": agent.csrf})
    note_file = (await up.json())["attachment"]["blob_id"]
    assert (await agent.http.get(f"/api/attachments/{note_file}")).status == 200  # uploaded, not yet sent
    resp = await agent.post(f"/api/tickets/{ticket['_id']}/reply", {"text": "see file", "private": True,
                                                                      "attachments": [note_file]})
    assert resp.status == 201
    assert (await supervisor.http.get(f"/api/attachments/{note_file}")).status == 200
    assert (await trainer.http.get(f"/api/attachments/{note_file}")).status == 403
    visitor = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/api/widget/attachments/{note_file}", headers=visitor)).status == 404

    # A stored file that belongs to no message and no ticket (an export, say) is not a desk download.
    assert hub.blobs is not None
    loose = await hub.blobs.put("export.zip", "application/zip", b"PK everything")
    refused = await agent.http.get(f"/api/attachments/{loose}")
    assert refused.status == 404 and "no such attachment" in (await refused.json())["error"]
    assert (await agent.http.get("/api/attachments/not-an-id")).status == 404


async def test_supervisors_assign_and_agents_only_take_or_hand_back_their_own(
    runtime: Runtime, client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    ann = await users("ann", Role.AGENT)
    bob = await users("bob", Role.AGENT)
    sue = await users("sue", Role.SUPERVISOR)  # not an agent herself
    tom = await users("tom", Role.TRAINER)
    _token, ticket = await escalate(client, runtime)
    url = f"/api/tickets/{ticket['_id']}/assign"
    ann_id = str(ann.account["_id"])

    assert (await sue.post(url, {"agent_id": ann_id})).status == 200
    assert (await hub.store.tickets.find_one({"_id": ticket["_id"]}) or {})["assignee_id"] == ann.account["_id"]
    refused = await bob.post(url, {"agent_id": None})  # not his ticket to hand back
    assert refused.status == 403 and "not assigned to you" in (await refused.json())["error"]
    assert (await bob.post(url, {"agent_id": ann_id})).status == 403  # agents do not assign others
    assert (await tom.post(url, {"agent_id": "me"})).status == 403  # the role gate
    taken = await sue.post(url, {"agent_id": "me"})
    assert taken.status == 403 and "only agents take" in (await taken.json())["error"]
    not_agent = await sue.post(url, {"agent_id": str(tom.account["_id"])})
    assert not_agent.status == 400 and "agent role" in (await not_agent.json())["error"]

    assert (await ann.post(url, {"agent_id": None})).status == 200  # her own
    assert (await bob.post(url, {"agent_id": "me"})).status == 200
    moved = await sue.post(url, {"agent_id": ann_id})
    assert moved.status == 200 and (await moved.json())["ticket"]["assignee_id"] == ann_id
    assert (await sue.post(url, {"agent_id": None})).status == 200  # supervisors unassign anyone's
    assert (await hub.store.tickets.find_one({"_id": ticket["_id"]}) or {})["assignee_id"] is None
    assert await hub.store.events.count_documents({"type": "ticket.assigned"}) == 5


async def test_a_desk_is_sent_the_messages_of_the_ticket_it_shows_and_no_others(
    runtime: Runtime, client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    """desk.js appends only the open ticket's messages and shows who else is on it; the feed sent it every bot
    chat's every message too (each customer message, its answer and its mark), every chat's `conversation.opened`
    and every ticket's collision records: most of what a desk received, until 2026-12-06."""
    hub = runtime.hub
    assert hub is not None
    agent, colleague = await users("wes", Role.AGENT), await users("cy", Role.AGENT)
    waiting, ticket = await escalate(client, runtime)
    other = await hub.store.tickets.insert_one({"number": 999, "status": "open", "queue": "general",
                                                "conversation_ids": [], "created_at": utcnow()})
    async with agent.http.ws_connect("/api/desk/ws") as ws:
        await watch(ws, ticket)
        chatting = await widget_session(client)
        await say(client, chatting, "how much is shipping")  # a bot chat: opened, answered, no ticket
        await hub.pipeline.drain()
        assert (await colleague.post(f"/api/tickets/{other.inserted_id}/activity", {"state": "viewing"})).status == 200
        await say(client, waiting, "still there?")
        seen = await frames_until(ws, lambda f: f["type"] == "message" and f["message"]["text"] == "still there?")
        shown = {str(c) for c in ticket["conversation_ids"]}
        assert [f for f in seen if f["type"] == "message" and f["message"]["conversation_id"] not in shown] == []
        assert not [f for f in seen if f["type"] == "event" and f["event"]["type"].startswith("conversation.")
                    and f["event"]["conversation_id"] not in shown]  # the bot chat's `conversation.opened`
        assert not [f for f in seen if f["type"] == "activity"]  # a colleague on another ticket

        # The desk shows no ticket any more: the ticket's next message is not sent either (its ticket change is).
        assert (await watch(ws, None))[-1] == {"type": "watching", "ticket_id": None, "conversation_ids": []}
        await say(client, waiting, "hello?")
        await hub.store.append_event("ticket.marker", utcnow())
        after = await frames_until(ws, is_event("ticket.marker"))
        assert [f for f in after if f["type"] == "message"] == []


async def test_a_watch_naming_the_ticket_alone_follows_its_conversations(
    runtime: Runtime, client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    """A page opening a ticket by its link knows its id only: the feed reads the ticket's conversations, answers
    with them, and sends their messages from then on (the page reads the ticket after the answer)."""
    hub = runtime.hub
    assert hub is not None
    agent, trainer = await users("lin", Role.AGENT), await users("tia", Role.TRAINER)
    token, ticket = await escalate(client, runtime)
    ticket_id = str(ticket["_id"])
    async with agent.http.ws_connect("/api/desk/ws") as ws, trainer.http.ws_connect("/api/desk/ws") as t_ws:
        await ws.send_json({"type": "watch", "ticket_id": ticket_id})
        answer = (await frames_until(ws, lambda f: f["type"] == "watching"))[-1]
        assert answer == {"type": "watching", "ticket_id": ticket_id,
                          "conversation_ids": sorted(str(c) for c in ticket["conversation_ids"])}
        await say(client, token, "are you there?")
        await frames_until(ws, lambda f: f["type"] == "message" and f["message"]["text"] == "are you there?")

        # One it cannot follow is answered with the reason and the ticket, and the feed then follows none.
        missing = "0" * 24
        for sent, reason in [({"type": "watch", "ticket_id": missing}, f"no ticket {missing}"),
                             ({"type": "watch", "ticket_id": "t1"}, "no ticket t1")]:
            await ws.send_json(sent)
            got = (await frames_until(ws, lambda f: f["type"] in ("error", "watching")))[-1]
            assert got == {"type": "error", "error": reason, "ticket_id": sent["ticket_id"]}
        await t_ws.send_json({"type": "watch", "ticket_id": ticket_id})
        got = (await frames_until(t_ws, lambda f: f["type"] in ("error", "watching")))[-1]
        assert got == {"type": "error", "error": "your role does not work on tickets", "ticket_id": ticket_id}
        await say(client, token, "hello?")
        await hub.store.append_event("ticket.marker", utcnow())
        after = await frames_until(ws, is_event("ticket.marker"))
        assert [f for f in after if f["type"] == "message"] == []


async def test_a_frame_the_desk_feed_cannot_take_is_answered_with_the_reason(
    client: TestClient[Any, Any], users: Callable[..., Any]
) -> None:
    agent = await users("val", Role.AGENT)
    async with agent.http.ws_connect("/api/desk/ws") as ws:
        for frame, reason in [("not json", "malformed JSON"),
                              ('{"type": "watch", "conversation_ids": "abc"}', "conversation_ids"),
                              ('{"type": "watch", "conversation_ids": [' + ",".join(['"a"'] * 201) + "]}",
                               "conversation_ids"),
                              ('{"type": "subscribe"}', "type: must be one of watch, activity"),
                              ('{"type": "activity", "state": "typing"}', "watch a ticket first"),
                              ('{"type": "activity", "state": "left"}', "state")]:
            await ws.send_str(frame)
            answer = (await frames_until(ws, lambda f: f["type"] in ("error", "watching")))[-1]
            assert answer["type"] == "error" and reason in answer["error"], (frame, answer)
        assert (await watch(ws, {"_id": "t1", "conversation_ids": ["abc"]}))[-1] == {
            "type": "watching", "ticket_id": "t1", "conversation_ids": ["abc"]}  # still open, and it took this one
        await ws.send_json({"type": "activity", "state": "typing"})
        assert (await frames_until(ws, lambda f: f["type"] == "error"))[-1]["error"] == "no ticket t1"
