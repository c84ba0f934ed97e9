"""Ticket merge and split from the desk's API: one timeline across channels, the customer told, refusals."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Sender
from switchboard.bootstrap import Runtime
from tests.test_ticket_list import listed, open_ticket
from tests.test_widget_flow import history, say, widget_session


async def two_tickets_of_one_customer(client: TestClient[Any, Any], runtime: Runtime,
                                      agent: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Mia wrote by email, then from the web chat; her two contacts were merged: (email ticket, chat ticket,
    the chat visitor's widget token)."""
    hub = runtime.hub
    assert hub is not None
    email = await open_ticket(runtime, "email", Sender("mia.wong@example.com", display_name="Mia Wong"),
                              "My parcel 4471 never arrived", subject="Missing parcel 4471")
    token = await widget_session(client, name="Mia W")
    await say(client, token, "Hi, about parcel 4471 again")
    await say(client, token, "I want to talk to a human")
    await hub.pipeline.drain()
    chat_conv = await hub.store.conversations.find_one({"channel": "widget"})
    assert chat_conv is not None
    chat = await hub.store.tickets.find_one({"_id": chat_conv["ticket_id"]})
    assert chat is not None and chat["_id"] != email["_id"]
    await hub.merges.merge(email["contact_id"], chat["contact_id"], agent["account"])
    return email, chat, token


async def detail(client: TestClient[Any, Any], ticket_id: Any) -> dict[str, Any]:
    resp = await client.get(f"/api/tickets/{ticket_id}")
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_merging_moves_the_conversations_tells_the_customer_and_closes_the_merged_ticket(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    email, chat, token = await two_tickets_of_one_customer(client, runtime, agent)

    resp = await client.post(f"/api/tickets/{email['_id']}/merge", json={"into": f"#{chat['number']}"},
                             headers=headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["merged"]["status"] == "closed" and body["merged"]["merged_into_number"] == chat["number"]

    survivor = await detail(client, chat["_id"])
    texts = [m["text"] for m in survivor["messages"]]
    assert "My parcel 4471 never arrived" in texts and "Hi, about parcel 4471 again" in texts  # one timeline
    assert {c["channel"] for c in survivor["conversations"]} == {"email", "widget"}
    # the survivor's own (widget) conversation stays the one replies go to
    assert survivor["ticket"]["conversation_ids"][-1] == str(chat["conversation_ids"][-1])
    line = [m for m in survivor["messages"] if "merge" in (m.get("metadata") or {})]
    assert len(line) == 1 and line[0]["private"] and line[0]["text"] == (
        f"Alice merged #{email['number']} (Missing parcel 4471) into this ticket")
    moved = await hub.store.conversations.find_one({"_id": email["conversation_ids"][0]})
    assert moved is not None and moved["ticket_id"] == chat["_id"]

    # the customer is told on the surviving ticket's channel (the web chat), and only there
    told = f"We have combined your requests into ticket #{chat['number']}."
    assert told in [m["text"] for m in await history(client, token)]
    assert [m["conversation_id"] async for m in hub.store.messages.find({"text": told})] == [
        chat["conversation_ids"][-1]]

    # the merged ticket still opens, closed, pointing to the survivor; it takes no more work
    merged = await detail(client, email["_id"])
    assert merged["ticket"]["merged_into"] == str(chat["_id"]) and merged["ticket"]["status"] == "closed"
    refused = await client.post(f"/api/tickets/{email['_id']}/reply", json={"text": "hello?"}, headers=headers)
    assert refused.status == 400 and "merged into" in (await refused.json())["error"]
    reopen = await client.post(f"/api/tickets/{email['_id']}/status", json={"status": "open"}, headers=headers)
    assert reopen.status == 400

    # history: both tickets have the event, the audit trail the merge, the list shows the survivor only
    events = [e async for e in hub.store.events.find({"type": "ticket.merged"})]
    assert {(e["ticket_id"], e["data"]["role"]) for e in events} == {(email["_id"], "merged"),
                                                                    (chat["_id"], "survivor")}
    entry = await hub.store.audit.find_one({"action": "ticket.merged"})
    assert entry is not None and entry["target"]["name"] == f"#{email['number']}"
    assert entry["details"]["into"] == f"#{chat['number']}"
    assert await listed(client) == [chat["number"]]
    assert chat["number"] in await listed(client, "q=4471")

    # what the customer writes next in the web chat lands on the survivor
    await say(client, token, "Thanks!")
    await hub.pipeline.drain()
    assert "Thanks!" in [m["text"] for m in (await detail(client, chat["_id"]))["messages"]]
    # retention reaching the moved email conversation redacts the merged ticket's subject too
    assert await hub.privacy.redact_closed_tickets_of(email["conversation_ids"]) == 1
    redacted = await hub.store.tickets.find_one({"_id": email["_id"]})
    assert redacted is not None and redacted["subject"] != "Missing parcel 4471"


async def test_merges_that_make_no_sense_are_refused_with_the_reason(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    email, chat, _ = await two_tickets_of_one_customer(client, runtime, agent)
    other = await open_ticket(runtime, "email", Sender("tom@example.com", display_name="Tom"), "Invoice question")

    async def merge(source: Any, into: str) -> tuple[int, str]:
        resp = await client.post(f"/api/tickets/{source}/merge", json={"into": into}, headers=headers)
        return resp.status, str((await resp.json()).get("error"))

    assert await merge(email["_id"], str(email["number"])) == (409, "a ticket cannot be merged into itself: "
                                                                    "choose another ticket")
    status, reason = await merge(other["_id"], str(chat["number"]))
    assert status == 409 and reason.endswith("two different customers: merge the contacts first"), reason
    assert (await merge(email["_id"], "99999"))[0] == 404
    assert (await client.post(f"/api/tickets/{email['_id']}/merge", json={"into": ""}, headers=headers)).status == 404
    assert (await client.post(f"/api/tickets/{email['_id']}/merge", json={}, headers=headers)).status == 422

    assert (await merge(email["_id"], str(chat["number"])))[0] == 200
    status, reason = await merge(email["_id"], str(chat["number"]))
    assert status == 409 and "already merged" in reason
    status, reason = await merge(chat["_id"], str(email["number"]))
    assert status == 409 and f"#{email['number']} was merged into #{chat['number']}" in reason
    await hub.tickets.set_status(chat["_id"], "closed", None)
    third = await open_ticket(runtime, "email", Sender("mia.wong@example.com"), "One more thing")
    status, reason = await merge(third["_id"], str(chat["number"]))
    assert status == 409 and "is closed" in reason
    # nothing moved by the refusals
    stored = await hub.store.tickets.find_one({"_id": third["_id"]})
    assert stored is not None and stored["conversation_ids"] == third["conversation_ids"]


async def test_splitting_a_customer_message_opens_a_new_ticket_in_the_same_queue(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    token = await widget_session(client, name="Ana")
    await say(client, token, "I want to talk to a human")
    await hub.pipeline.drain()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    await say(client, token, "Also: my invoice 2231 shows the wrong address\nIt says Lisbon, I live in Porto")
    await hub.pipeline.drain()
    url = f"/api/tickets/{ticket['_id']}"
    assert (await client.post(f"{url}/reply", json={"text": "Looking into it"}, headers=headers)).status == 201
    messages = (await detail(client, ticket["_id"]))["messages"]
    invoice = next(m for m in messages if m["text"].startswith("Also: my invoice"))
    agent_line = next(m for m in messages if m["text"] == "Looking into it")

    refused = await client.post(f"{url}/split", json={"message_id": agent_line["id"]}, headers=headers)
    assert refused.status == 409 and "customer's message" in (await refused.json())["error"]
    assert (await client.post(f"{url}/split", json={"message_id": "nope"}, headers=headers)).status == 400

    resp = await client.post(f"{url}/split", json={"message_id": invoice["id"]}, headers=headers)
    assert resp.status == 201, await resp.text()
    new = (await resp.json())["ticket"]
    assert new["subject"] == "Also: my invoice 2231 shows the wrong address"
    assert (new["queue"], new["status"], new["assignee_id"]) == (ticket["queue"], "new", None)
    assert new["number"] != ticket["number"] and new["split_from_number"] == ticket["number"]

    split_detail = await detail(client, new["id"])
    assert [m["text"] for m in split_detail["messages"] if m["author"]["kind"] == "customer"] == [invoice["text"]]
    assert f"Alice split this out of #{ticket['number']}" in [m["text"] for m in split_detail["messages"]]
    original = await detail(client, ticket["_id"])
    texts = [m["text"] for m in original["messages"]]
    assert invoice["text"] not in texts
    assert f"Alice split a message out into #{new['number']}: {new['subject']}" in texts
    assert sorted(await listed(client)) == sorted([ticket["number"], new["number"]])
    events = [e async for e in hub.store.events.find({"type": "ticket.split"})]
    assert {e["data"]["role"] for e in events} == {"original", "new"}
    assert await hub.store.audit.find_one({"action": "ticket.split"}) is not None

    # an agent's reply on the new ticket reaches the customer in the same web chat
    reply = await client.post(f"/api/tickets/{new['id']}/reply", json={"text": "Address fixed"}, headers=headers)
    assert reply.status == 201, await reply.text()
    assert "Address fixed" in [m["text"] for m in await history(client, token)]
    # the ticket's only customer message left: that one cannot be split out
    first = next(m for m in original["messages"] if m["author"]["kind"] == "customer")
    last = await client.post(f"{url}/split", json={"message_id": first["id"]}, headers=headers)
    assert last.status == 409 and "only customer message" in (await last.json())["error"]
