"""Metric definitions computed from raw timestamps (never averages of averages)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role, utcnow
from hub.ticketindex import derived_fields
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_widget_flow import escalate, say, widget_session


def _ticket(n: int, queue: str, handoff_offset: float, wait: float | None, base: datetime | None = None,
            **extra: Any) -> dict[str, Any]:
    """`base`: the clock the caller's own times (solved_at...) are relative to; one reading, not a new one."""
    base = base or utcnow() - timedelta(hours=2)
    handoff = base + timedelta(seconds=handoff_offset)
    doc = {"number": n, "queue": queue, "status": "open", "created_at": handoff, "handoff_at": handoff,
           "conversation_ids": [], "contact_id": None, "sla": {"paused_seconds": 0}}
    if wait is not None:
        doc["first_agent_reply_at"] = handoff + timedelta(seconds=wait)
    doc.update(extra)
    return {**doc, **derived_fields(doc)}  # its list facets, as every ticket the hub writes has (hub.ticketindex)


async def test_window_metrics_follow_the_definitions(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    t0 = utcnow() - timedelta(hours=2)
    await hub.store.tickets.insert_many([
        _ticket(1, "orders", 0, 10),                       # orders target 120 s
        _ticket(2, "general", 1, 30),                      # general target 60 s
        _ticket(3, "general", 2, 30),
        _ticket(4, "general", 3, 90, base=t0, status="solved", solved_at=t0 + timedelta(seconds=3603),
                sla={"paused_seconds": 600}),
        _ticket(5, "general", 4, None, base=t0, status="closed", solved_at=t0 + timedelta(seconds=64)),  # abandoned
        _ticket(6, "general", 5, None, status="new"),      # still waiting
        _ticket(7, "general", 6, 20, csat={"score": 5}),
        _ticket(8, "general", 7, 20, csat={"score": 2}),
    ])
    report = await hub.metrics.window(utcnow() - timedelta(days=1), utcnow())
    overall, general = report["overall"], report["queues"]["general"]
    # ASA over every answered ticket: (10 + 30 + 30 + 90 + 20 + 20) / 6, not the mean of queue means.
    assert overall["asa_seconds"] == round(200 / 6, 4)
    assert general["asa_seconds"] == round(190 / 5, 4)
    assert overall["queued"] == 8 and overall["answered"] == 6 and overall["abandoned"] == 1
    assert overall["abandoned_by"] == {"ended": 0, "left": 0, "closed_unanswered": 1}
    assert overall["abandonment_rate"] == round(1 / 8, 4)
    # Service level: answered within the queue's own target (general 60 s: 4 of 5; orders 120 s: 1 of 1).
    assert general["service_level"] == 0.8 and report["queues"]["orders"]["service_level"] == 1.0
    assert overall["service_level"] == round(5 / 6, 4)
    # Resolution excludes time spent pending; the abandoned ticket was closed too.
    assert general["solved"] == 2
    assert general["resolution_seconds_avg"] == round(((3600 - 600) + 60) / 2, 4)
    assert overall["csat"] == 0.5 and overall["ratings"] == 2

    live = await hub.metrics.live()
    waiting = {q["queue"]: q for q in live["queues"]}
    assert waiting["general"]["depth"] == 1 and waiting["general"]["longest_wait_seconds"] >= 7000


async def test_bot_replies_never_count_as_first_response_and_containment(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    contained = await widget_session(client)
    await say(client, contained, "what are your opening hours")
    escalated = await widget_session(client)
    await say(client, escalated, "where is my order 12345")
    await hub.pipeline.drain()
    await say(client, escalated, "let me talk to a human")
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None and ticket.get("first_agent_reply_at") is None  # bot answers did not count
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Hi!"},
                      headers={"X-CSRF-Token": agent["csrf"]})
    answered = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert answered is not None and answered["first_agent_reply_at"] >= answered["handoff_at"]
    report = await hub.metrics.window(utcnow() - timedelta(hours=1), utcnow() + timedelta(seconds=1))
    # both chats are still going: not contained yet, shown apart (the escalated one is no longer the bot's)
    assert report["bot"] == {"conversations": 0, "contained": 0, "containment": None, "open": 1,
                             "articles_offered": 0, "articles_helped": 0, "article_deflection": None}
    assert report["overall"]["answered"] == 1
    ended = await client.post("/api/widget/end", json={}, headers={"Authorization": f"Bearer {contained}"})
    assert ended.status == 200
    await client.post(f"/api/tickets/{ticket['_id']}/status", json={"status": "solved"},
                      headers={"X-CSRF-Token": agent["csrf"]})
    report = await hub.metrics.window(utcnow() - timedelta(hours=1), utcnow() + timedelta(seconds=1))
    assert report["bot"] == {"conversations": 2, "contained": 1, "containment": 0.5, "open": 0,
                             "articles_offered": 0, "articles_helped": 0, "article_deflection": None}


async def test_metrics_api_is_for_supervisors(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sue", "supervisor pw", roles=[Role.SUPERVISOR])
    await runtime.hub.accounts.create("al", "agent password", roles=[Role.AGENT])
    await login(client, "al", "agent password")
    assert (await client.get("/api/metrics/live")).status == 403
    await login(client, "sue", "supervisor pw")
    assert (await client.get("/api/metrics/live")).status == 200
    daily = await (await client.get("/api/metrics/daily?days=3")).json()
    assert len(daily["days"]) == 3
    bad = await client.get("/api/metrics/report?from=yesterday")
    assert bad.status == 400 and "ISO 8601" in (await bad.json())["error"]


async def test_customer_rates_a_solved_ticket_from_the_widget(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    headers = {"X-CSRF-Token": agent["csrf"]}
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Done!", "status": "solved"},
                      headers=headers)
    messages = (await (await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {token}"}))
                .json())["messages"]
    request = messages[-1]
    assert [q["payload"] for q in request["quick_replies"]] == [f"csat:{n}" for n in range(1, 6)]
    other = await widget_session(client)
    stolen = await client.post("/api/widget/rating", json={"message_id": request["id"], "score": 1},
                               headers={"Authorization": f"Bearer {other}"})
    assert stolen.status == 404
    bad = await client.post("/api/widget/rating", json={"message_id": request["id"], "score": 9},
                            headers={"Authorization": f"Bearer {token}"})
    assert bad.status == 422 and "score" in (await bad.json())["error"]
    ok = await client.post("/api/widget/rating", json={"message_id": request["id"], "score": 5},
                           headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200
    rated = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert rated is not None and rated["csat"]["score"] == 5
    report = await hub.metrics.window(utcnow() - timedelta(hours=1), utcnow() + timedelta(seconds=1))
    assert report["overall"]["csat"] == 1.0 and report["overall"]["ratings"] == 1


async def test_ending_the_chat_while_waiting_counts_as_abandoned(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None

    async def end(token: str) -> str:
        resp = await client.post("/api/widget/end", json={}, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
        return str((await resp.json())["outcome"])

    waiting = await widget_session(client)
    answered = await widget_session(client)
    bot_only = await widget_session(client)
    assert await end(waiting) == "none"  # nothing open yet
    await say(client, waiting, "I want a human")
    await say(client, answered, "I want a human")
    await say(client, bot_only, "what are your opening hours")
    await hub.pipeline.drain()
    tickets = await hub.store.tickets.find({}, sort=[("number", 1)]).to_list()
    await client.post(f"/api/tickets/{tickets[1]['_id']}/reply", json={"text": "Hi"},
                      headers={"X-CSRF-Token": agent["csrf"]})

    assert await end(waiting) == "abandoned"
    assert await end(answered) == "kept"
    assert await end(bot_only) == "closed"
    gone = await hub.store.tickets.find_one({"_id": tickets[0]["_id"]})
    assert gone is not None and gone["status"] == "closed" and gone["abandoned_at"] is not None
    still = await hub.store.tickets.find_one({"_id": tickets[1]["_id"]})
    assert still is not None and still["status"] == "open"
    report = await hub.metrics.window(utcnow() - timedelta(hours=1), utcnow() + timedelta(seconds=1))
    assert report["overall"]["abandoned"] == 1 and report["overall"]["abandonment_rate"] == 0.5
    assert report["overall"]["abandoned_by"] == {"ended": 1, "left": 0, "closed_unanswered": 0}
    assert report["bot"]["contained"] == 1
    # Writing again after ending starts a new conversation.
    again = await say(client, bot_only, "hello again")
    messages = (await (await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {bot_only}"}))
                .json())["messages"]
    assert again["conversation_id"] != messages[0]["conversation_id"]
