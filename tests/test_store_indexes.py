"""Every query the hub runs is served by an index (secantusd-py scans at tens of queries a second).

Instead of a hand-kept list of queries, a PyMongo command listener records what the hub
really sent while it served a full customer → bot → escalation → agent flow; each recorded
filter is then explained on the server and must not plan a collection scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.models import Role, Sender, utcnow
from hub.retention import parse_rules
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import login, running
from tests.helpers import eventually
from tests.query_plans import Recorder, collection_scans
from tests.test_attachments import download
from tests.test_widget_flow import history, say, widget_session


async def contact_record(client: TestClient[Any, Any], hub: Any, contact_id: str, csrf: str) -> None:
    """The contact page's calls: search, timeline pages, an edit, a note, a merge (hub.contactbook)."""
    unsafe = {"X-CSRF-Token": csrf}
    for q in ("dana", "dana@example.com", "+49 151 1234", "order"):
        assert (await client.get("/api/contacts", params={"q": q, "size": 1})).status == 200
    page = await (await client.get(f"/api/contacts/{contact_id}/timeline", params={"size": 2})).json()
    assert (await client.get(f"/api/contacts/{contact_id}/timeline", params={"before": page["next"]})).status == 200
    assert (await client.patch(f"/api/contacts/{contact_id}", json={"name": "Dana", "email": "dana@example.com"},
                               headers=unsafe)).status == 200
    assert (await client.post(f"/api/contacts/{contact_id}/notes", json={"text": "n"}, headers=unsafe)).status == 201
    other = await hub.contacts.resolve("sms", Sender("+4915112345678"))
    assert (await client.get(f"/api/contacts/{contact_id}/merge", params={"other": str(other["_id"])})).status == 200
    assert (await client.post(f"/api/contacts/{contact_id}/merge", json={"other_id": str(other["_id"])},
                              headers=unsafe)).status == 200
    assert (await client.get(f"/api/contacts/{other['_id']}")).status == 200


@pytest.fixture
async def recorded(settings: Settings, shop_bot: Any) -> AsyncIterator[tuple[Runtime, Recorder]]:
    recorder = Recorder()
    async with running(settings, shop_bot, db_listeners=[recorder]) as rt:
        yield rt, recorder


async def test_every_hub_query_uses_an_index(recorded: tuple[Runtime, Recorder], settings: Settings) -> None:
    runtime, recorder = recorded
    assert runtime.app is not None and runtime.hub is not None
    hub = runtime.hub
    ivy = await hub.accounts.create("ivy", "ivy's password", roles=[Role.AGENT, Role.SUPERVISOR])
    async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
        csrf = await login(client, "ivy", "ivy's password")
        # integrations: a webhook endpoint (nobody listens: deliveries fail and are retried) and an API token
        hook = await hub.webhooks.register("http://127.0.0.1:9/hook", ["ticket.created", "message.created",
                                                                       "ticket.updated", "ticket.solved"], ivy)
        created = await (await client.post("/api/tokens", json={"name": "ci", "scopes": ["tickets:read"]},
                                           headers={"X-CSRF-Token": csrf})).json()
        await client.get("/api/tokens")
        # presence: a desk connection, away and back, a heartbeat that sweeps a dead process's connection
        desk = await client.ws_connect("/api/desk/ws")
        for status in ("away", "available"):
            await client.post("/api/me/status", json={"status": status}, headers={"X-CSRF-Token": csrf})
        await hub.store.presence.insert_one({"agent_id": ivy["_id"], "instance": ObjectId(),
                                             "seen_at": utcnow() - timedelta(hours=1)})
        assert await hub.presence.beat() == [("agent", ivy["_id"])]
        await desk.close()
        token = await widget_session(client)
        await say(client, token, "where is my order 12345")
        await say(client, token, "I want to talk to a human")
        await hub.pipeline.drain()
        await history(client, token)
        # a supervisor's live view and history filters
        for path in ("/api/metrics/at-risk?minutes=120", "/api/metrics/filters"):
            assert (await client.get(path)).status == 200
        tickets = (await (await client.get("/api/tickets")).json())["tickets"]
        ticket_id = tickets[0]["id"]
        await client.get("/api/queues")
        detail = await (await client.get(f"/api/tickets/{ticket_id}")).json()
        await client.get(f"/api/contacts/{detail['contact']['_id']}")
        await contact_record(client, hub, detail["contact"]["_id"], csrf)
        # the ticket list: tags and priority, every filter, sort and search field, a second page, the counts
        assert (await client.patch(f"/api/tickets/{ticket_id}", json={"tags": ["vip"], "priority": "high"},
                                   headers={"X-CSRF-Token": csrf})).status == 200
        for params in ({"q": "order"}, {"q": "order 12345", "status": "new,open,solved"}, {"queue": "general"},
                       {"assignee": "me"}, {"assignee": "none"}, {"channel": "widget"}, {"tag": "vip"},
                       {"priority": "high"}, {"status": "solved"}, {"status": "solved,closed"}, {"sla": "breached"},
                       {"sla": "ok", "tag": "vip"}, {"sort": "oldest_waiting"}, {"sort": "sla_due", "queue": "general"},
                       {"size": 1, "after": 5}, {"sort": "oldest_waiting", "after": 1},
                       {"q": "order", "sort": "oldest_waiting", "after": 1}, {"q": "order", "sort": "sla_due"},
                       {"q": "order", "status": "closed", "after": 9}, {"tag": "vip", "status": "solved,closed"}):
            assert (await client.get("/api/tickets", params=params)).status == 200
        assert (await client.get("/api/tickets/counts")).status == 200
        await client.post(f"/api/tickets/{ticket_id}/reply", json={"text": "hi", "status": "pending"},
                          headers={"X-CSRF-Token": csrf})
        # a file for the visitor: upload, reply with it, the visitor downloads it
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4", filename="label.pdf", content_type="application/pdf")
        upload = await client.post(f"/api/tickets/{ticket_id}/attachments", data=form, headers={"X-CSRF-Token": csrf})
        blob_id = (await upload.json())["attachment"]["blob_id"]
        await client.post(f"/api/tickets/{ticket_id}/reply", json={"text": "label", "attachments": [blob_id]},
                          headers={"X-CSRF-Token": csrf})
        assert (await download(client, token, blob_id)).status == 200
        await say(client, token, "thanks")
        await hub.pipeline.drain()
        # ticket split and merge (hub.ticketmerge): the thanks out into a new ticket, merged back by number
        thanks = next(m for m in (await (await client.get(f"/api/tickets/{ticket_id}")).json())["messages"]
                      if m["text"] == "thanks")
        split = await client.post(f"/api/tickets/{ticket_id}/split", json={"message_id": thanks["id"]},
                                  headers={"X-CSRF-Token": csrf})
        assert split.status == 201, await split.text()
        number = (await (await client.get(f"/api/tickets/{ticket_id}")).json())["ticket"]["number"]
        merge = await client.post(f"/api/tickets/{(await split.json())['ticket']['id']}/merge",
                                  json={"into": str(number)}, headers={"X-CSRF-Token": csrf})
        assert merge.status == 200, await merge.text()
        await client.post(f"/api/tickets/{ticket_id}/status", json={"status": "solved"},
                          headers={"X-CSRF-Token": csrf})

        async def delivered() -> bool:  # the webhook's (the widget's messages take no outbox entry)
            done = [await hub.store.outbox.count_documents({"status": s}) for s in ("sent", "failed")]
            return sum(done) >= 3

        await eventually(delivered, what="outbox deliveries")
        bearer = {"Authorization": f"Bearer {created['secret']}"}
        assert (await client.get("/api/tickets", headers=bearer)).status == 200

        async def webhook_attempted() -> bool:
            return await hub.store.webhook_deliveries.count_documents({"webhook_id": hook["_id"]}) >= 2

        await eventually(webhook_attempted, what="webhook delivery attempts")
        assert await hub.webhooks.deliveries(hook["_id"])
        leaver = await widget_session(client)
        await say(client, leaver, "I want to talk to a human")
        await hub.pipeline.drain()
        await client.post("/api/widget/end", json={}, headers={"Authorization": f"Bearer {leaver}"})
        await hub.pipeline.recover()
        # a visitor who closes the page while waiting, comes back by polling, then leaves for good
        gone = await widget_session(client)
        said = await say(client, gone, "I want to talk to a human")
        await hub.pipeline.drain()
        conversation = await hub.store.conversations.find_one({"_id": ObjectId(said["conversation_id"])})
        thread = (conversation or {})["thread_key"]
        for _ in range(2):
            connection = await hub.customer_connected("widget", thread)
            await hub.customer_disconnected(connection, "widget", thread)
            await history(client, gone)
        connection = await hub.customer_connected("widget", thread)
        await hub.customer_disconnected(connection, "widget", thread)
        assert await hub.departures.sweep(utcnow() + timedelta(hours=1)) == 1
        # an admin reads the audit trail, exports and erases a contact; retention runs over the rest
        await hub.accounts.create("root", "root's password", roles=[Role.ADMIN])
        csrf = await login(client, "root", "root's password")
        for params in ({}, {"action": "login"}, {"actor": "root"}, {"from": "2020-01-01", "to": "2100-01-01"},
                       {"action": "login", "actor": "ivy", "from": "2020-01-01"}):
            assert (await client.get("/api/admin/audit", params=params)).status == 200
        assert (await client.get("/api/admin/audit.csv")).status == 200
        for q in ("da", "dana@example.com", "+15550001"):
            assert (await client.get("/api/admin/contacts", params={"q": q})).status == 200
        contact_id = detail["contact"]["_id"]
        assert (await client.get(f"/api/admin/contacts/{contact_id}/export")).status == 200
        assert (await client.post(f"/api/admin/contacts/{contact_id}/erase", json={"confirm": True},
                                  headers={"X-CSRF-Token": csrf})).status == 200
        # help-center articles: the admin writes and publishes, readers browse, search and answer, agents link
        for title, category in (("Shipping times", "Orders"), ("Return an item", "Returns")):
            article = (await (await client.post("/api/kb/articles", json={
                "title": title, "body": "Two to three days.", "category": category, "published": True},
                headers={"X-CSRF-Token": csrf})).json())["article"]
        assert (await client.patch(f"/api/kb/articles/{article['id']}", json={"title": "Returns"},
                                   headers={"X-CSRF-Token": csrf})).status == 200
        for path, params in (("/api/kb/articles", {}), ("/api/kb/articles", {"q": "days", "published": "true"}),
                             (f"/api/kb/articles/{article['id']}", {}), ("/api/kb/links", {"q": "ship"}),
                             ("/help", {}), ("/help", {"category": "Orders"}), ("/help/search", {"q": "days"}),
                             ("/help/shipping-times", {})):
            assert (await client.get(path, params=params)).status == 200, path
        assert (await client.post("/help/shipping-times/feedback", data={"answer": "yes", "visitor": "v" * 20},
                                  allow_redirects=False)).status == 303
        assert (await client.delete(f"/api/kb/articles/{article['id']}", headers={"X-CSRF-Token": csrf})).status == 200
        hub.retention.rules = parse_rules({"widget": {"days": 1, "action": "anonymise"},
                                           "email": {"days": 1, "action": "delete"}})
        assert (await hub.apply_retention(utcnow() + timedelta(days=2))).ran

    scans, seen = await collection_scans(settings.mongodb_uri or "", settings.db_name, recorder)
    assert len(seen) >= 15, f"only {len(seen)} distinct queries recorded"
    assert scans == [], "collection scans:\n" + "\n".join(scans)
