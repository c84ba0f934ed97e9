"""GET /api/names: what the desk shows for the ids and keys a ticket holds (its assignee, its queue)."""

from __future__ import annotations

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.conftest import http_client, login


async def test_names_are_every_desk_user_s_name_and_every_queue_s_title(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    olga = await hub.accounts.create("olga", "olga's long password", name="Olga Left", roles=[Role.AGENT])
    await hub.accounts.update(olga["_id"], disabled=True)  # she left, but her old tickets still name her
    async with http_client(runtime) as client:
        await login(client, "alice", "alice's long password")
        resp = await client.get("/api/names")
        assert resp.status == 200, await resp.text()
        names = await resp.json()
    assert names["agents"][str(alice["_id"])] == "Alice Ng"
    assert names["agents"][str(olga["_id"])] == "Olga Left"
    assert names["queues"]["general"] == "General support"
    assert set(names["queues"]) == set(hub.tickets.queues)
    # names only: no usernames, roles or hashes
    assert set(names) == {"agents", "queues", "mentionable", "assignable"}
    admin = await hub.store.agents.find_one({"username": "admin"})  # seeded with every role, agent too
    assert admin is not None
    assert sorted(names["assignable"]) == sorted([str(alice["_id"]), str(admin["_id"])])  # not Olga: disabled
    assert str(olga["_id"]) not in names["mentionable"] and str(alice["_id"]) in names["mentionable"]
    assert all(isinstance(name, str) for name in names["agents"].values())
    assert "alice" not in names["agents"].values()
