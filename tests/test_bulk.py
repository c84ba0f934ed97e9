"""Several tickets at once from the list: each through the same call and rules as one, so one that cannot be changed is
reported by number with its reason while the others are changed; bad requests are refused before anything is."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from tests.conftest import http_client, login
from tests.test_ticket_list import open_ticket


async def three(runtime: Runtime) -> list[dict[str, Any]]:
    return [await open_ticket(runtime, "email", Sender(f"{n}@example.com", email=f"{n}@example.com"), f"Order {n}")
            for n in ("ana", "ben", "cy")]


async def status_of(runtime: Runtime, ticket: dict[str, Any]) -> tuple[str, Any]:
    assert runtime.hub is not None
    found = await runtime.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert found is not None
    return found["status"], found.get("assignee_id")


async def test_an_agent_solves_several_and_one_that_cannot_be_is_reported(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    a, b, c = await three(runtime)
    await hub.tickets.set_status(c["_id"], "closed", agent["account"])  # closed: not assigned any more (below)
    headers = {"X-CSRF-Token": agent["csrf"]}
    resp = await client.post("/api/tickets/bulk", json={"ticket_ids": [str(a["_id"]), str(b["_id"]), str(a["_id"])],
                                                        "status": "solved"}, headers=headers)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer == {"done": [{"id": str(a["_id"]), "number": a["number"]},
                               {"id": str(b["_id"]), "number": b["number"]}], "failed": []}
    assert [(await status_of(runtime, t))[0] for t in (a, b, c)] == ["solved", "solved", "closed"]
    solved = await hub.store.events.count_documents({"type": "ticket.solved", "ticket_id": {"$in": [a["_id"],
                                                                                                   b["_id"]]}})
    assert solved == 2  # each its own change, with its event

    # take two: the closed one cannot be (only active tickets are assigned), the new one is taken
    d = await open_ticket(runtime, "email", Sender("dee@example.com", email="dee@example.com"), "Order dee")
    resp = await client.post("/api/tickets/bulk", json={"ticket_ids": [str(c["_id"]), str(d["_id"])],
                                                        "agent_id": "me"}, headers=headers)
    answer = await resp.json()
    assert answer["done"] == [{"id": str(d["_id"]), "number": d["number"]}]
    assert answer["failed"] == [{"id": str(c["_id"]), "number": c["number"], "error": "no active ticket with that id"}]
    assert (await status_of(runtime, d))[1] == agent["account"]["_id"]


async def test_only_supervisors_hand_tickets_to_others_and_it_is_audited(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    await hub.accounts.create("sam", "sam's long password", name="Sam", roles=[Role.SUPERVISOR])
    tickets = await three(runtime)
    ids = [str(t["_id"]) for t in tickets]
    async with http_client(runtime) as alice:
        csrf = await login(alice, "alice", "alice's long password")
        resp = await alice.post("/api/tickets/bulk", json={"ticket_ids": ids, "agent_id": str(bob["_id"])},
                                headers={"X-CSRF-Token": csrf})
        assert resp.status == 403 and "only supervisors" in (await resp.json())["error"]
    async with http_client(runtime) as sam:
        csrf = await login(sam, "sam", "sam's long password")
        resp = await sam.post("/api/tickets/bulk", json={"ticket_ids": ids, "agent_id": str(bob["_id"])},
                              headers={"X-CSRF-Token": csrf})
        assert resp.status == 200, await resp.text()
        assert len((await resp.json())["done"]) == 3
        resp = await sam.post("/api/tickets/bulk", json={"ticket_ids": ids, "status": "solved"},
                              headers={"X-CSRF-Token": csrf})
        assert resp.status == 403 and "only agents" in (await resp.json())["error"]
    assert [(await status_of(runtime, t))[1] for t in tickets] == [bob["_id"]] * 3
    assert await hub.store.audit.count_documents({"action": "ticket.assigned"}) == 3


async def test_bad_bulk_requests_change_nothing(client: TestClient[Any, Any], agent: dict[str, Any],
                                                runtime: Runtime) -> None:
    tickets = await three(runtime)
    ids = [str(t["_id"]) for t in tickets]
    cases = [
        ({"ticket_ids": ids}, 400,
         "give exactly one of status, agent_id, priority, add_tags, remove_tags, fields, queue"),
        ({"ticket_ids": ids, "status": "solved", "agent_id": "me"}, 400, "give exactly one of"),
        ({"ticket_ids": ids, "priority": "urgent", "add_tags": ["vip"]}, 400, "give exactly one of"),
        ({"ticket_ids": ids, "priority": "asap"}, 422, "priority"),
        ({"ticket_ids": ids, "add_tags": []}, 422, "add_tags"),
        ({"ticket_ids": ids, "remove_tags": []}, 422, "remove_tags"),
        ({"ticket_ids": ids, "add_tags": ["#no"]}, 422, "add_tags"),
        ({"ticket_ids": ids, "queue": "nowhere"}, 400, "no queue named 'nowhere'"),
        ({"ticket_ids": ids, "status": "done"}, 400, "status must be one of"),
        ({"ticket_ids": ["nope"], "status": "solved"}, 400, "ticket_ids"),
        ({"ticket_ids": [], "status": "solved"}, 422, "ticket_ids"),
        ({"ticket_ids": ids * 40, "status": "solved"}, 422, "ticket_ids"),
    ]
    for body, status, reason in cases:
        resp = await client.post("/api/tickets/bulk", json=body, headers={"X-CSRF-Token": agent["csrf"]})
        assert resp.status == status, (body, resp.status, await resp.text())
        assert reason in (await resp.json())["error"], body
    assert [(await status_of(runtime, t))[0] for t in tickets] == ["new"] * 3
    assert runtime.hub is not None
    assert await runtime.hub.store.tickets.count_documents({"$or": [{"priority": "urgent"}, {"tags": "vip"},
                                                                    {"queue": {"$ne": "general"}}]}) == 0


async def test_priority_tags_and_queue_for_several(client: TestClient[Any, Any], agent: dict[str, Any],
                                                   runtime: Runtime) -> None:
    """An agent makes two urgent and tags them (a tag they had stays), and moves hers and an unassigned one to
    another queue but not Bob's; a supervisor moves Bob's, which goes in the audit trail."""
    hub = runtime.hub
    assert hub is not None
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    await hub.accounts.create("sam", "sam's long password", name="Sam", roles=[Role.SUPERVISOR])
    a, b, c = await three(runtime)
    await hub.tickets.edit(a["_id"], agent["account"], tags=["billing"])
    headers = {"X-CSRF-Token": agent["csrf"]}

    async def bulk(body: dict[str, Any]) -> dict[str, Any]:
        resp = await client.post("/api/tickets/bulk", json={"ticket_ids": [str(a["_id"]), str(b["_id"])], **body},
                                 headers=headers)
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    assert len((await bulk({"priority": "urgent"}))["done"]) == 2
    assert len((await bulk({"add_tags": ["VIP", "refund"]}))["done"]) == 2
    stored = {t["_id"]: t async for t in hub.store.tickets.find({})}
    assert [stored[t["_id"]].get("priority") for t in (a, b, c)] == ["urgent", "urgent", "normal"]
    assert [stored[t["_id"]].get("tags") for t in (a, b, c)] == [["billing", "refund", "vip"], ["refund", "vip"],
                                                                 None]
    assert await hub.store.events.count_documents({"type": "ticket.tags_changed"}) == 3  # the billing tag's too
    assert await hub.store.events.count_documents({"type": "ticket.priority_changed"}) == 2
    tagged = await client.get("/api/tickets?tag=vip")
    assert {t["number"] for t in (await tagged.json())["tickets"]} == {a["number"], b["number"]}
    # a tag taken off both (and one only a has): the others stay, and the list's filter no longer finds them by it
    assert len((await bulk({"remove_tags": ["refund", "Billing"]}))["done"]) == 2
    stored = {t["_id"]: t async for t in hub.store.tickets.find({})}
    assert [stored[t["_id"]].get("tags") for t in (a, b)] == [["vip"], ["vip"]]
    assert (await (await client.get("/api/tickets?tag=refund")).json())["tickets"] == []
    lines = [m["text"] async for m in hub.store.messages.find({"conversation_id": a["conversation_ids"][0],
                                                                "metadata.change": {"$exists": True}},
                                                               sort=[("created_at", 1), ("_id", 1)])]
    assert lines[-1] == "Alice removed the tags billing, refund."

    await hub.tickets.assign(a["_id"], agent["account"]["_id"], None)
    await hub.tickets.assign(c["_id"], bob["_id"], None)
    resp = await client.post("/api/tickets/bulk", headers=headers, json={
        "ticket_ids": [str(t["_id"]) for t in (a, b, c)], "queue": "returns"})
    answer = await resp.json()
    assert [d["number"] for d in answer["done"]] == [a["number"], b["number"]]
    assert [(f["number"], "ask a supervisor" in f["error"]) for f in answer["failed"]] == [(c["number"], True)]
    moved = {t["_id"]: t async for t in hub.store.tickets.find({})}
    assert [(moved[t["_id"]]["queue"], moved[t["_id"]].get("assignee_id")) for t in (a, b, c)] == [
        ("returns", None), ("returns", None), ("general", bob["_id"])]  # moved tickets wait unassigned there
    assert await hub.store.audit.count_documents({"action": "ticket.transferred"}) == 0  # an agent's own work

    async with http_client(runtime) as sam:
        csrf = await login(sam, "sam", "sam's long password")
        resp = await sam.post("/api/tickets/bulk", json={"ticket_ids": [str(c["_id"])], "queue": "returns"},
                              headers={"X-CSRF-Token": csrf})
        assert [d["number"] for d in (await resp.json())["done"]] == [c["number"]]
        resp = await sam.post("/api/tickets/bulk", json={"ticket_ids": [str(c["_id"])], "priority": "low"},
                              headers={"X-CSRF-Token": csrf})
        assert resp.status == 403 and "only agents change a ticket's priority" in (await resp.json())["error"]
    audited = await hub.store.audit.find_one({"action": "ticket.transferred"})
    assert audited is not None and audited["details"]["from_agent"] == "bob" and audited["details"]["to_queue"] \
        == "returns"
