"""An agent renames a ticket: the list shows and finds it by the new subject (and still by the old one), the change is
an event in its history, and an empty or overlong subject is refused with nothing changed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Sender
from switchboard.bootstrap import Runtime
from tests.test_ticket_list import listed, open_ticket


async def test_a_renamed_ticket_is_listed_and_found_by_its_new_subject(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "email", Sender("ana@example.com", email="ana@example.com"),
                               "My kettle arrived broken", subject="Help")
    assert await listed(client, "q=refund") == []
    headers = {"X-CSRF-Token": agent["csrf"]}
    resp = await client.patch(f"/api/tickets/{ticket['_id']}", json={"subject": "  Refund   for kettle  "},
                              headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ticket"]["subject"] == "Refund for kettle"
    page = await (await client.get("/api/tickets")).json()
    assert [(t["number"], t["subject"]) for t in page["tickets"]] == [(ticket["number"], "Refund for kettle")]
    assert await listed(client, "q=refund") == [ticket["number"]]
    assert await listed(client, "q=help") == [ticket["number"]]  # what it was called still finds it
    event = await hub.store.events.find_one({"ticket_id": ticket["_id"], "type": "ticket.subject_changed"})
    assert event is not None and event["data"] == {"from": "Help", "to": "Refund for kettle"}
    assert event["agent_id"] == agent["account"]["_id"]

    for body, status in (({"subject": ""}, 422), ({"subject": "x" * 201}, 422), ({"subject": "   "}, 422)):
        resp = await client.patch(f"/api/tickets/{ticket['_id']}", json=body, headers=headers)
        assert resp.status == status, (body, resp.status, await resp.text())
        assert "subject" in (await resp.json())["error"]
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and stored["subject"] == "Refund for kettle"
