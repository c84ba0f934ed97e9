"""`GET /metrics`: a real hub, real HTTP, parsed with prometheus-client's own text parser."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hub.models import OutboundMessage, Role, SendError, SendResult
from switchboard.bootstrap import Runtime
from switchboard.prometheus import EXPORTER, KNOWN_COMMANDS
from tests.conftest import http_client, login, make_settings, running
from tests.helpers import eventually
from tests.test_apitokens import bearer, make_token
from tests.test_widget_flow import say, widget_session

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
#: Every label value a switchboard_ sample may carry, except `route` (checked against the app's routes).
KNOWN_LABEL_VALUES = {
    "channel": {"widget", "email", "slack", "telegram", "phone", "webhook", "unknown"},
    "direction": {"in", "out"},
    "outcome": {"answer", "fallback", "escalate", "silent", "ok", "error"},
    "command": KNOWN_COMMANDS | {"other"},
    "reason": {"human_requested", "intent_escalation", "not_helpful", "repeated_fallback", "no_response",
               "nlu_unavailable", "bot_error", "email", "reply_after_close", "escalated", "other"},
    "result": {"sent", "retry", "failed"},
    "status": {"pending", "sending", "failed", "1xx", "2xx", "3xx", "4xx", "5xx"},
    "method": {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"},
    "state": {"ok", "restarting", "down"},
    "target": {"first_response", "resolution"},  # SLA warnings and breaches (hub.sla)
}


async def scrape(api: Any) -> tuple[Samples, str]:
    resp = await api.get("/metrics")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    text = await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class StalledSender:
    """A widget sender whose provider is down for an hour: the delivery stays pending."""

    channel = "widget"
    files = "link"

    async def send(self, message: OutboundMessage) -> SendResult:
        raise SendError("provider unavailable", transient=True, retry_after=3600)


async def metrics_token(client: TestClient[Any, Any], runtime: Runtime) -> str:
    assert runtime.admin_credentials is not None
    csrf = await login(client, *runtime.admin_credentials)
    token = str((await make_token(client, csrf, ["metrics"], service=True))["secret"])
    await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    client.session.cookie_jar.clear()
    return token


async def test_counters_move_by_exactly_what_the_hub_did(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None and runtime.app is not None
    hub = runtime.hub
    token = await metrics_token(client, runtime)
    await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    runtime.app[EXPORTER].state_refresh_seconds = 0  # read the backlog on every scrape
    async with bearer(client, token) as api:
        before, _ = await scrape(api)
        visitor = await widget_session(client)
        await say(client, visitor, "what are your opening hours?")  # the bot answers
        await say(client, visitor, "I want to talk to a human please")  # the bot escalates
        await hub.pipeline.drain()
        ticket = await hub.store.tickets.find_one({})
        assert ticket is not None
        queue, ticket_id = ticket["queue"], str(ticket["_id"])
        csrf = await login(client, "alice", "correct horse battery")
        headers = {"X-CSRF-Token": csrf}
        assert (await client.post(f"/api/tickets/{ticket_id}/assign", json={"agent_id": "me"},
                                  headers=headers)).status == 200
        assert (await client.post(f"/api/tickets/{ticket_id}/reply", json={"text": "Hello, Alice here"},
                                  headers=headers)).status == 201
        assert (await client.post(f"/api/tickets/{ticket_id}/status", json={"status": "solved"},
                                  headers=headers)).status == 200
        # Delivered: the bot's answer, the handoff notice, Alice's reply and the rating request.
        await eventually(lambda: _all_sent(hub, 4), what="four widget deliveries")
        after, _ = await scrape(api)

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert moved("switchboard_messages_total", channel="widget", direction="in") == 2
        assert moved("switchboard_messages_total", channel="widget", direction="out") == 4
        assert moved("switchboard_bot_decisions_total", outcome="answer") == 1
        assert moved("switchboard_bot_decisions_total", outcome="escalate") == 1
        assert moved("switchboard_bot_decisions_total", outcome="fallback") == 0
        assert moved("switchboard_tickets_created_total", queue=queue) == 1
        assert moved("switchboard_escalations_total", queue=queue, reason=ticket["reason"]) == 1
        assert ticket["reason"] == "human_requested"
        assert moved("switchboard_tickets_solved_total", queue=queue) == 1
        assert moved("switchboard_tickets_abandoned_total", queue=queue) == 0
        assert moved("switchboard_outbox_delivery_attempts_total", channel="widget", result="sent") == 4
        assert moved("switchboard_http_requests_total", route="/api/tickets/{id}/reply", method="POST",
                      status="2xx") == 1
        assert moved("switchboard_http_request_duration_seconds_count", route="/api/tickets/{id}/reply",
                      method="POST") == 1
        assert value(after, "switchboard_database_up") == 1
        assert value(after, "switchboard_agents_online") == 0  # Alice has no desk open
        assert value(after, "process_resident_memory_bytes") > 0  # the default collectors

        # A widget delivery the provider refuses for an hour waits in the outbox: the backlog shows it.
        hub.register_sender(StalledSender())
        assert (await client.post(f"/api/tickets/{ticket_id}/reply", json={"text": "One more thing"},
                                  headers=headers)).status == 201

        async def retried() -> Samples | None:
            samples, _ = await scrape(api)
            moved_retry = value(samples, "switchboard_outbox_delivery_attempts_total", channel="widget",
                                result="retry") - value(before, "switchboard_outbox_delivery_attempts_total",
                                                        channel="widget", result="retry")
            assert moved_retry <= 1, "one attempt only: the next is an hour away"
            # The gauge is read before the counters are written out: a scrape racing the reschedule
            # may still see the entry `sending`; the next one sees it pending (for the hour).
            pending = value(samples, "switchboard_outbox_backlog", status="pending", channel="widget")
            return samples if moved_retry == 1 and pending == 1 else None

        stalled = await eventually(retried, what="a retried widget delivery pending in the backlog")
        assert value(stalled, "switchboard_outbox_backlog", status="sending", channel="widget") == 0
        # Sent entries are no backlog.
        assert value(stalled, "switchboard_outbox_backlog", status="sent", channel="widget") == 0


async def _all_sent(hub: Any, n: int) -> bool:
    """The widget's messages are delivered by being stored (no outbox entry): their status says sent."""
    return await hub.store.messages.count_documents({"channel": "widget", "direction": "out",
                                                     "delivery.status": "sent"}) == n


async def test_a_duplicate_delivery_is_counted_not_stored_twice(client: TestClient[Any, Any],
                                                               runtime: Runtime) -> None:
    token = await metrics_token(client, runtime)
    async with bearer(client, token) as api:
        before, _ = await scrape(api)
        visitor = await widget_session(client)
        await say(client, visitor, "hello", client_id="same-client-id")
        await say(client, visitor, "hello", client_id="same-client-id")
        after, _ = await scrape(api)
    assert value(after, "switchboard_ingest_duplicates_total", channel="widget") - value(
        before, "switchboard_ingest_duplicates_total", channel="widget") == 1
    assert value(after, "switchboard_messages_total", channel="widget", direction="in") - value(
        before, "switchboard_messages_total", channel="widget", direction="in") == 1


async def test_metrics_need_the_metrics_scope_or_a_supervisor(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None and runtime.admin_credentials is not None
    assert (await client.get("/metrics")).status == 401  # anonymous
    async with bearer(client, "sbt_not-a-real-token") as api:
        assert (await api.get("/metrics")).status == 401
    await runtime.hub.accounts.create("bob", "correct horse battery", name="Bob", roles=[Role.AGENT])
    csrf = await login(client, "bob", "correct horse battery")
    assert (await client.get("/metrics")).status == 403  # an agent's session
    reader = await make_token(client, csrf, ["tickets:read"])
    client.session.cookie_jar.clear()
    async with bearer(client, reader["secret"]) as api:
        assert (await api.get("/metrics")).status == 403  # a token without the scope
    token = await metrics_token(client, runtime)
    async with bearer(client, token) as api:
        assert (await api.get("/metrics")).status == 200


async def test_label_values_come_from_known_sets(client: TestClient[Any, Any], runtime: Runtime) -> None:
    """No contact, ticket, user or raw path ever becomes a label: every value is from a fixed set."""
    assert runtime.app is not None and runtime.hub is not None
    token = await metrics_token(client, runtime)
    visitor = await widget_session(client)
    await say(client, visitor, "I want to talk to a human please")
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None
    async with bearer(client, token) as api:
        await api.get(f"/api/tickets/{ticket['_id']}")
        await api.get(f"/no/such/page/{ticket['_id']}")
        samples, text = await scrape(api)
    # The shared gauges: one ticket waits in its queue; the database commands were timed.
    assert value(samples, "switchboard_queue_depth", queue=ticket["queue"]) == 1
    assert value(samples, "switchboard_queue_longest_wait_seconds", queue=ticket["queue"]) >= 0
    assert value(samples, "switchboard_database_command_duration_seconds_count", command="find", outcome="ok") > 0
    assert str(ticket["_id"]) not in text and str(ticket["contact_id"]) not in text
    queues = set(runtime.settings.queues)  # configured, so bounded
    routes = {r.resource.canonical for r in runtime.app.router.routes() if r.resource is not None} | {"unmatched"}
    assert value(samples, "switchboard_http_requests_total", route="unmatched", method="GET", status="4xx") == 1
    seen = 0
    for name, labels in samples:
        if not name.startswith("switchboard_"):
            continue
        for key, label in labels:
            if key == "le":
                continue
            seen += 1
            allowed = routes if key == "route" else queues if key == "queue" else KNOWN_LABEL_VALUES.get(key)
            assert allowed is not None, f"{name} has an unexpected label {key!r}"
            assert label in allowed, f"{name}{{{key}={label!r}}} is not from the known set"
    assert seen > 0


async def test_metrics_can_be_switched_off(mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    settings = make_settings(mongo_uri, tmp_path, metrics_enabled=False)
    async with running(settings, shop_bot) as rt, http_client(rt) as client:
        assert (await client.get("/metrics")).status == 404


async def test_the_grafana_dashboard_uses_only_metrics_the_hub_exposes(client: TestClient[Any, Any],
                                                                       runtime: Runtime) -> None:
    """docs/grafana-switchboard.json: every switchboard_ series it queries is one /metrics serves."""
    token = await metrics_token(client, runtime)
    async with bearer(client, token) as api:
        _, text = await scrape(api)
    exposed = {family.name for family in text_string_to_metric_families(text)}
    dashboard = json.loads((Path(__file__).parent.parent / "docs" / "grafana-switchboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = {name for expr in exprs for name in re.findall(r"switchboard_\w+", expr)}
    used = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in names}
    assert len(used) >= 12
    assert used <= exposed, f"the dashboard queries metrics the hub does not expose: {sorted(used - exposed)}"
