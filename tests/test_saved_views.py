"""Saved views of the ticket list (hub.savedviews): each desk user keeps their own, named; filters the list would
refuse are refused when saved, with the list's reason; names are distinct; the list answers a view's filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_ticket_list import desk, listed

URGENT_EMAIL = {"name": "Urgent email", "filters": {"channel": "email", "priority": "urgent", "assignee": "none"}}
SMS = {"name": "Texts, oldest first", "filters": {"channel": "sms", "sort": "oldest_waiting"}}


async def keep(client: TestClient[Any, Any], csrf: str, views: list[dict[str, Any]]) -> Any:
    return await client.put("/api/me/views", json={"views": views}, headers={"X-CSRF-Token": csrf})


async def test_an_agent_keeps_named_views_of_the_list(client: TestClient[Any, Any], agent: dict[str, Any],
                                                      runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = agent["csrf"]
    assert (await (await client.get("/api/me/views")).json()) == {"views": []}
    saved = await keep(client, csrf, [URGENT_EMAIL, {**SMS, "name": "  Texts,   oldest first "}])
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["views"] == [URGENT_EMAIL, SMS]  # the name trimmed
    assert (await (await client.get("/api/me/views")).json())["views"] == [URGENT_EMAIL, SMS]

    tickets = await desk(runtime)
    await hub.tickets.edit(tickets["ana"]["_id"], agent["account"], priority="urgent")
    assert await listed(client, urlencode(URGENT_EMAIL["filters"])) == [tickets["ana"]["number"]]
    assert await listed(client, urlencode(SMS["filters"])) == [tickets["bo"]["number"]]

    for views, status, says in [
            ([{"name": "Broken", "filters": {"status": "lost"}}], 400, "unknown status 'lost'"),
            ([{"name": "Broken", "filters": {"sort": "random"}}], 400, "sort must be one of"),
            ([URGENT_EMAIL, {**SMS, "name": "urgent EMAIL"}], 400, "two views are called"),
            ([{"name": " ", "filters": {}}], 400, "1 to 60 characters"),
            ([{"name": "Mine", "filters": {"colour": "red"}}], 422, "colour"),
            ([{"name": f"View {i}", "filters": {}} for i in range(21)], 422, "views")]:
        refused = await keep(client, csrf, views)
        assert refused.status == status and says in await refused.text(), (views, await refused.text())
    assert (await (await client.get("/api/me/views")).json())["views"] == [URGENT_EMAIL, SMS]  # as they were

    # another agent's views are their own
    await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    bob = await login(client, "bob", "bob's long password")
    assert (await (await client.get("/api/me/views")).json()) == {"views": []}
    assert (await keep(client, bob, [SMS])).status == 200
    assert (await hub.saved_views.of(agent["account"]["_id"]))[0].name == "Urgent email"
    assert (await keep(client, bob, [])).status == 200 and await hub.saved_views.of(agent["account"]["_id"])


async def test_each_view_of_active_tickets_has_its_count(client: TestClient[Any, Any], agent: dict[str, Any],
                                                         runtime: Runtime) -> None:
    """GET /api/tickets/counts?view=… counts each saved view as the list would list it (active tickets only, every
    filter, "me" as the asker); a view of words, of solved tickets or of an SLA state has none (null); a view the
    list refuses is a 400 with the list's reason."""
    hub = runtime.hub
    assert hub is not None
    tickets = await desk(runtime)
    me = agent["account"]
    await hub.tickets.edit(tickets["ana"]["_id"], me, priority="urgent")
    await hub.tickets.assign(tickets["bo"]["_id"], me["_id"], me)
    await hub.followers.follow(tickets["cy"]["_id"], me["_id"])
    views = [URGENT_EMAIL["filters"], SMS["filters"], {"assignee": "me"}, {"following": "1"},
             {"status": "new,open", "channel": "widget"}, {"priority": "low"}, {"queue": "general"},
             {}, {"q": "kettle"}, {"status": "solved"}, {"sla": "ok"}]

    async def counted(filters: list[dict[str, str]]) -> Any:
        resp = await client.get("/api/tickets/counts?" + urlencode([("view", urlencode(f)) for f in filters]))
        assert resp.status == 200, await resp.text()
        return (await resp.json())["views"]

    got = await counted(views)
    assert got[-3:] == [None, None, None]  # words, solved tickets, an SLA state (it moves with the clock): none
    for filters, count in zip(views[:-3], got[:-3], strict=True):
        assert count == len(await listed(client, urlencode(filters))), filters  # what the list lists
    assert got[:4] == [1, 1, 1, 1] and got[5] == 0 and got[7] == 3

    await hub.tickets.edit(tickets["bo"]["_id"], me, priority="urgent")  # the counts follow the desk
    await hub.tickets.set_status(tickets["cy"]["_id"], "solved", me)
    assert await counted([{"priority": "urgent"}, {"following": "1"}, {}]) == [2, 0, 2]
    assert (await (await client.get("/api/tickets/counts")).json()).get("views") is None  # none asked: none read

    for asked, says in [([("view", "status=lost")], "unknown status 'lost'"),
                        ([("view", "")] * 21, "at most 20")]:
        resp = await client.get("/api/tickets/counts?" + urlencode(asked))
        assert resp.status == 400 and says in await resp.text(), await resp.text()
