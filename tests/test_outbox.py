"""Outbound delivery through the outbox: retries with backoff, exactly once, failures shown to agents."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import OutboundMessage, SendError, SendResult
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
from tests.test_widget_flow import escalate


class FlakySender:
    """An in-memory fake of the OutboundSender port: fails `failures` times, then accepts."""

    def __init__(self, channel: str, failures: int, transient: bool = True) -> None:
        self.channel = channel
        self.failures = failures
        self.transient = transient
        self.attempts = 0
        self.delivered: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise SendError("provider unavailable", transient=self.transient, retry_after=None)
        self.delivered.append(message)
        return SendResult(provider_id=f"prov-{self.attempts}")


async def _escalated_ticket(client: TestClient[Any, Any], runtime: Runtime) -> dict[str, Any]:
    _token, ticket = await escalate(client, runtime, "I need a human")
    assert runtime.hub is not None
    store = runtime.hub.store

    async def handoff_delivered() -> bool:
        return await store.outbox.count_documents({"status": {"$ne": "sent"}}) == 0

    await eventually(handoff_delivered, what="the handoff notice to be delivered")
    return ticket


async def test_transient_failures_are_retried_and_delivered_exactly_once(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    assert runtime.hub is not None
    ticket = await _escalated_ticket(client, runtime)
    sender = FlakySender("widget", failures=2)
    runtime.hub.register_sender(sender)
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "On it!"},
                             headers={"X-CSRF-Token": agent["csrf"]})
    message_id = (await resp.json())["message"]["id"]

    async def sent() -> dict[str, Any] | None:
        return await runtime.hub.store.messages.find_one(  # type: ignore[union-attr]
            {"text": "On it!", "delivery.status": "sent"})

    doc = await eventually(sent, what="delivery")
    assert str(doc["_id"]) == message_id
    assert [m.text for m in sender.delivered] == ["On it!"]
    assert sender.attempts == 3
    assert doc["provider_id"] == "prov-3"
    entry = await runtime.hub.store.outbox.find_one({"message_id": doc["_id"]})
    assert entry is not None and entry["status"] == "sent" and entry["attempts"] == 3


async def test_permanent_failure_is_marked_failed_and_visible(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    assert runtime.hub is not None
    ticket = await _escalated_ticket(client, runtime)
    runtime.hub.register_sender(FlakySender("widget", failures=99, transient=False))
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Hello?"},
                      headers={"X-CSRF-Token": agent["csrf"]})

    async def failed() -> dict[str, Any] | None:
        return await runtime.hub.store.messages.find_one(  # type: ignore[union-attr]
            {"text": "Hello?", "delivery.status": "failed"})

    doc = await eventually(failed, what="failure")
    assert doc["delivery"]["error"] == "provider unavailable"

    async def logged() -> int | None:  # the event follows the message's mark, in the outbox's next command
        return await runtime.hub.store.events.count_documents(  # type: ignore[union-attr]
            {"type": "message.failed", "message_id": doc["_id"]}) or None
    assert await eventually(logged, what="the message.failed event") == 1
    resp = await client.get(f"/api/tickets/{ticket['_id']}")
    shown = [m for m in (await resp.json())["messages"] if m["text"] == "Hello?"]
    assert shown[0]["delivery"]["status"] == "failed"


async def test_retries_give_up_after_max_attempts(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    assert runtime.hub is not None
    ticket = await _escalated_ticket(client, runtime)
    sender = FlakySender("widget", failures=99, transient=True)
    runtime.hub.register_sender(sender)
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Anyone?"},
                      headers={"X-CSRF-Token": agent["csrf"]})

    async def failed() -> dict[str, Any] | None:
        return await runtime.hub.store.messages.find_one(  # type: ignore[union-attr]
            {"text": "Anyone?", "delivery.status": "failed"})

    await eventually(failed, what="give-up")
    assert sender.attempts == runtime.hub.outbox.policy.max_attempts
