"""One rating per ticket (hub.csat): refused a second time on the widget, and atomic across channels."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.csat import CsatLinks, LinkError, score_of, sms_score
from hub.tickets import AlreadyRated
from switchboard.bootstrap import Runtime
from tests.test_widget_flow import escalate


async def test_widget_rating_is_once_and_a_reload_shows_no_buttons_again(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    auth = {"Authorization": f"Bearer {token}"}
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Done!", "status": "solved"},
                      headers={"X-CSRF-Token": agent["csrf"]})
    request = (await (await client.get("/api/widget/messages", headers=auth)).json())["messages"][-1]
    assert [q["payload"] for q in request["quick_replies"]] == [f"csat:{n}" for n in range(1, 6)]

    ok = await client.post("/api/widget/rating", json={"message_id": request["id"], "score": 3,
                                                       "comment": "Took a while"}, headers=auth)
    assert ok.status == 200
    again = await client.post("/api/widget/rating", json={"message_id": request["id"], "score": 5}, headers=auth)
    assert again.status == 409 and "rated already" in (await again.json())["error"]
    rated = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert rated is not None
    assert {k: rated["csat"][k] for k in ("score", "comment", "channel")} == {
        "score": 3, "comment": "Took a while", "channel": "widget"}
    # After a reload the latest message is the thanks, without buttons: nothing to press again.
    latest = (await (await client.get("/api/widget/messages", headers=auth)).json())["messages"][-1]
    assert latest["text"] == "Thank you for your rating!" and not latest.get("quick_replies")


async def test_send_and_solve_is_one_step_all_or_nothing(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    """The desk's "Send and solve": the reply, the solve, the closed chat and the rating request land together;
    a status the hub does not know refuses the whole reply (before, the reply went out and then the status
    change failed)."""
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    headers = {"X-CSRF-Token": agent["csrf"]}
    bad = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Done!", "status": "teleported"},
                            headers=headers)
    assert bad.status == 400 and "unknown status" in (await bad.json())["error"]
    conversation_id = ticket["conversation_ids"][0]
    assert await hub.store.messages.count_documents({"conversation_id": conversation_id, "author.kind": "agent"}) == 0

    ok = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Done!", "status": "solved"},
                           headers=headers)
    assert ok.status == 201, await ok.text()
    solved = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert solved is not None and solved["status"] == "solved" and solved["csat_asked"] is True
    assert solved["first_agent_reply_at"] is not None and solved["solved_at"] is not None
    messages = await hub.store.messages.find({"conversation_id": conversation_id},
                                             sort=[("created_at", 1), ("_id", 1)]).to_list()
    # the reply, its "solved" line (hub.ticketlines), the rating request
    assert [(m["author"]["kind"], m["text"][:5], m["private"]) for m in messages[-3:]] == [
        ("agent", "Done!", False), ("system", "Alice", True), ("system", "Your ", False)]
    conversation = await hub.store.conversations.find_one({"_id": conversation_id})
    assert conversation is not None and conversation["open"] is False and conversation["state"] == "closed"
    assert conversation["last_message_at"] == messages[-1]["created_at"]  # the rating request is the last word
    types = [e["type"] async for e in hub.store.events.find({"ticket_id": ticket["_id"]}, sort=[("at", 1), ("_id", 1)])]
    assert types[-3:] == ["ticket.first_response", "ticket.agent_reply", "ticket.solved"]
    # a second "Send and solve" on the solved ticket asks for no second rating
    again = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "One more thing.",
                                                                           "status": "solved"}, headers=headers)
    assert again.status == 201
    assert await hub.store.messages.count_documents({"conversation_id": conversation_id, "author.kind": "system",
                                                     "quick_replies.payload": "csat:5"}) == 1
    auth = {"Authorization": f"Bearer {token}"}
    shown = (await (await client.get("/api/widget/messages", headers=auth)).json())["messages"]
    assert shown[-1]["text"] == "One more thing."


async def test_solving_from_the_status_menu_asks_for_a_rating_once(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    """The status menu's "solved" on an answered ticket: the rating request is posted in the solve's transaction
    (the chat closed and touched in the same write), and solving again after a reopen asks no second time."""
    hub = runtime.hub
    assert hub is not None
    _token, ticket = await escalate(client, runtime)
    headers = {"X-CSRF-Token": agent["csrf"]}
    conversation_id = ticket["conversation_ids"][0]
    assert (await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Sorted."},
                              headers=headers)).status == 201
    solved = await client.post(f"/api/tickets/{ticket['_id']}/status", json={"status": "solved"}, headers=headers)
    assert solved.status == 200 and (await solved.json())["ticket"]["status"] == "solved"
    last = await hub.store.messages.find_one({"conversation_id": conversation_id},
                                             sort=[("created_at", -1), ("_id", -1)])
    assert last is not None and [q["payload"] for q in last["quick_replies"]] == [f"csat:{n}" for n in range(1, 6)]
    conversation = await hub.store.conversations.find_one({"_id": conversation_id})
    assert conversation is not None and conversation["open"] is False
    assert conversation["last_message_at"] == last["created_at"]
    for status in ("open", "solved"):
        assert (await client.post(f"/api/tickets/{ticket['_id']}/status", json={"status": status},
                                  headers=headers)).status == 200
    assert await hub.store.messages.count_documents({"conversation_id": conversation_id,
                                                     "quick_replies.payload": "csat:1"}) == 1
    assert await hub.store.events.count_documents({"ticket_id": ticket["_id"], "type": "ticket.solved"}) == 2


async def test_two_ratings_at_once_from_two_channels_count_once(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    _token, ticket = await escalate(client, runtime)
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Done!", "status": "solved"},
                      headers={"X-CSRF-Token": agent["csrf"]})
    results = await asyncio.gather(*(hub.tickets.rate(ticket["_id"], score, channel=channel)
                                     for score, channel in ((5, "email"), (1, "widget"), (2, "sms"))),
                                   return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, AlreadyRated) for r in results) == 2
    assert await hub.store.events.count_documents({"type": "ticket.rated", "ticket_id": ticket["_id"]}) == 1


def test_payloads_digits_and_links_read_strictly() -> None:
    assert [score_of(p) for p in ("csat:1", "csat:5", "csat:0", "csat:6", "csat:", "/affirm", None)] == [
        1, 5, None, None, None, None, None]
    assert [sms_score(t) for t in ("4", " 5. ", "0", "6", "45", "4 stars", "")] == [4, 5, None, None, None, None,
                                                                                     None]
    links = CsatLinks("s" * 32, "https://help.example.com/")
    url = links.url(42, 3)
    assert url.startswith("https://help.example.com/csat/")
    assert links.verify(url.rsplit("/", 1)[1]) == (42, 3)
    other = CsatLinks("t" * 32, "https://help.example.com")
    for bad in (other.token(42, 3), "not-a-token", links.token(42, 3, now=0)):
        with pytest.raises(LinkError):
            links.verify(bad)
