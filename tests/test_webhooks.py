"""Outgoing webhooks: signed, retried through the outbox, each event accepted once, each attempt logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.webhooks import sign
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import login
from tests.helpers import eventually
from tests.test_widget_flow import escalate, say, widget_session

TOLERANCE_SECONDS = 300


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (docs/security.md, "Outgoing webhooks"): check the HMAC and the age."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - timestamp) <= TOLERANCE_SECONDS


@dataclass
class Receiver:
    """A real HTTP endpoint on loopback: refuses each delivery's first attempt (500), accepts the retry."""

    secret: str = ""
    fail_first: bool = True
    attempts: Counter[str] = field(default_factory=Counter)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(self.secret, request.headers["X-Switchboard-Signature"], body):
            self.bad_signatures += 1
            return web.Response(status=401)
        delivery = request.headers["X-Switchboard-Delivery"]
        self.attempts[delivery] += 1
        if self.fail_first and self.attempts[delivery] == 1:
            return web.Response(status=500)
        event = json.loads(body)
        assert event["type"] == request.headers["X-Switchboard-Event"]
        self.accepted.append(event)
        return web.Response(status=204)


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def test_events_are_signed_retried_and_accepted_once(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None and runtime.admin_credentials is not None
    store = runtime.hub.store
    receiver = Receiver()
    async with serving(receiver) as url:
        csrf = await login(client, *runtime.admin_credentials)
        resp = await client.post("/api/webhooks", json={"url": url, "events": ["ticket.created", "ticket.updated",
                                                                              "ticket.solved", "message.created"]},
                                 headers={"X-CSRF-Token": csrf})
        assert resp.status == 201, await resp.text()
        hook = (await resp.json())["webhook"]
        receiver.secret = hook["secret"]
        assert receiver.secret.startswith("whsec_")
        listed = (await (await client.get("/api/webhooks")).json())["webhooks"]
        assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]

        _visitor, ticket = await escalate(client, runtime, "I want a human")
        for body in ({"text": "Internal: check the order", "private": True}, {"text": "Hi, I am on it"}):
            resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", json=body, headers={"X-CSRF-Token": csrf})
            assert resp.status == 201
        resp = await client.post(f"/api/tickets/{ticket['_id']}/status", json={"status": "solved"},
                                 headers={"X-CSRF-Token": csrf})
        assert resp.status == 200

        async def all_delivered() -> bool:
            queued = await store.outbox.count_documents({"kind": "webhook"})
            done = await store.outbox.count_documents({"kind": "webhook", "status": "sent"})
            return queued > 0 and queued == done and len(receiver.accepted) == queued

        await eventually(all_delivered, timeout=30, what="every webhook delivered")

    assert receiver.bad_signatures == 0
    ids = [e["id"] for e in receiver.accepted]
    assert len(ids) == len(set(ids)), "an event was accepted twice"
    kinds = Counter(e["type"] for e in receiver.accepted)
    assert kinds["ticket.created"] == 1 and kinds["ticket.solved"] == 1
    assert kinds["ticket.updated"] >= 1  # new -> open on the first reply
    texts = [e["data"]["message"]["text"] for e in receiver.accepted if e["type"] == "message.created"]
    assert "I want a human" in texts and "Hi, I am on it" in texts
    assert not any("Internal" in json.dumps(e) for e in receiver.accepted), "a private note left the hub"
    created = next(e for e in receiver.accepted if e["type"] == "ticket.created")
    assert created["data"]["ticket"]["number"] == ticket["number"]

    log = (await (await client.get(f"/api/webhooks/{hook['id']}/deliveries")).json())["deliveries"]
    assert len(log) == 2 * len(ids)
    one = sorted((d for d in log if d["event_id"] == created["id"]), key=lambda d: d["attempt"])
    assert [(d["attempt"], d["status_code"], d["ok"]) for d in one] == [(1, 500, False), (2, 204, True)]
    assert one[0]["error"] == "HTTP 500"


async def test_removed_endpoint_gets_nothing_more(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None and runtime.admin_credentials is not None
    csrf = await login(client, *runtime.admin_credentials)
    resp = await client.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]},
                             headers={"X-CSRF-Token": csrf})
    hook = (await resp.json())["webhook"]
    resp = await client.delete(f"/api/webhooks/{hook['id']}", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    await escalate(client, runtime)
    assert await runtime.hub.store.outbox.count_documents({"kind": "webhook"}) == 0
    assert (await client.delete(f"/api/webhooks/{hook['id']}", headers={"X-CSRF-Token": csrf})).status == 404


async def test_webhook_routes_are_for_admins_and_check_input(client: TestClient[Any, Any],
                                                             agent: dict[str, Any], runtime: Runtime) -> None:
    assert runtime.admin_credentials is not None
    resp = await client.post("/api/webhooks", json={"url": "https://example.org/h", "events": ["ticket.created"]},
                             headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 403
    csrf = await login(client, *runtime.admin_credentials)
    for body in ({"url": "ftp://example.org/", "events": ["ticket.created"]},
                 {"url": "https://example.org/h", "events": ["ticket.deleted"]},
                 {"url": "https://example.org/h", "events": []}, {"url": 5, "events": ["ticket.created"]},
                 {"url": "https://example.org/\ud800", "events": ["ticket.created"]},
                 {"url": "https://example.org/h", "events": ["ticket.created"], "description": "x\u202ey"},
                 {"url": "https://example.org/h", "events": ["ticket.created"], "description": 7}):
        resp = await client.post("/api/webhooks", json=body, headers={"X-CSRF-Token": csrf})
        assert resp.status in (400, 422), body  # schema (422) or domain (400)
        assert (await resp.json())["error"]


def test_signature_matches_the_documented_scheme() -> None:
    body = b'{"id":"1","type":"ticket.created"}'
    header = sign("whsec_test", 1700000000, body)
    mac = hmac.new(b"whsec_test", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"
    assert sign("whsec_other", 1700000000, body) != header


async def test_two_hub_processes_produce_and_deliver_each_event_once(runtime: Runtime, settings: Settings,
                                                                   shop_bot: Any) -> None:
    """Both hubs run an outbox worker on one database; customers write through one, agents through the other."""
    assert runtime.hub is not None and runtime.app is not None
    store = runtime.hub.store
    admin = await runtime.hub.accounts.create("root", "a long admin password", roles=[])
    other = Runtime(settings)
    await other.start(bot=shop_bot)
    receiver = Receiver(fail_first=False)
    try:
        assert other.app is not None and other.hub is not None
        async with serving(receiver) as url, TestClient(TestServer(other.app, host="127.0.0.1")) as widget:
            assert other.hub.webhooks.subscribed("ticket.created") is False  # from memory, loaded at start
            hook = await runtime.hub.webhooks.register(url, ["ticket.created", "message.created"], admin)
            receiver.secret = hook["secret"]
            assert runtime.hub.webhooks.subscribed("ticket.created") is True  # the registering process: at once

            async def followed() -> bool:  # the other process: by the `webhooks.changed` event
                return other.hub.webhooks.subscribed("message.created") is True

            await eventually(followed, what="the other hub to learn of the new endpoint")
            for n in range(4):
                await say(widget, await widget_session(widget), f"human please, visitor {n}")
            await other.hub.pipeline.drain()

            async def all_delivered() -> bool:
                queued = await store.outbox.count_documents({"kind": "webhook"})
                done = await store.outbox.count_documents({"kind": "webhook", "status": "sent"})
                return queued > 0 and queued == done

            await eventually(all_delivered, timeout=30, what="every webhook delivered")
            assert await runtime.hub.webhooks.remove(hook["_id"])

            async def forgotten() -> bool:
                return other.hub.webhooks.subscribed("message.created") is False

            await eventually(forgotten, what="the other hub to drop the removed endpoint")
    finally:
        await other.stop()
    kinds = Counter(e["type"] for e in receiver.accepted)
    assert kinds["ticket.created"] == 4
    customer = [e for e in receiver.accepted if e["type"] == "message.created"
                and e["data"]["message"]["author"]["kind"] == "customer"]
    assert len(customer) == 4
    assert sum(receiver.attempts.values()) == len(receiver.accepted) == len({e["id"] for e in receiver.accepted})
