"""`GET /metrics` for operators: the hub's counts and state in Prometheus' text format.

The composition root binds `hub.telemetry` (domain counts, made after commit) to the
counters here, adds `observe_http` to the app and `db_listener` to the database client. Gauges
of shared state (outbox backlog, queue depth, agents online) are read at scrape time by indexed counts, at most once per
`state_refresh_seconds` (counting a large backlog is linear in it). Each hub process has
its own registry and counters (Prometheus sums them across instances); tests run several
hubs in one process, so nothing goes to prometheus-client's global default registry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)
from pymongo import monitoring

from agents_ui.appkeys import HUB
from agents_ui.auth import requires
from hub.hub import Hub
from hub.models import Role
from hub.store import PyMongoError
from switchboard.database_supervisor import DatabaseSupervisor

#: Outbox statuses that are backlog (waiting, being sent) or need an operator (failed).
BACKLOG_STATUSES = ("pending", "sending", "failed")
SUPERVISOR_STATES = ("ok", "restarting", "down")
#: The route label of a request no route matched (never the raw path: unbounded cardinality).
UNMATCHED = "unmatched"


class Exporter:
    """One hub process's metrics: a registry, the counters the hub feeds, the scrape-time gauges."""

    def __init__(self, state_refresh_seconds: float = 10.0) -> None:
        #: The backlog and agents-online counts are re-read at most this often (0: every scrape).
        self.state_refresh_seconds = state_refresh_seconds
        self._state_read_at: float | None = None
        self._state_lock = asyncio.Lock()
        self.registry = registry = CollectorRegistry(auto_describe=True)
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
        self.messages = Counter("switchboard_messages", "Customer messages stored (in) and delivered (out)",
                                ["channel", "direction"], registry=registry)
        self.duplicates = Counter("switchboard_ingest_duplicates", "Inbound deliveries already stored (provider "
                                  "retries), dropped", ["channel"], registry=registry)
        self.decisions = Counter("switchboard_bot_decisions", "Bot decisions by outcome", ["outcome"],
                                 registry=registry)
        self.tickets = {change: Counter(f"switchboard_tickets_{change}", f"Tickets {change}", ["queue"],
                                        registry=registry) for change in ("created", "solved", "abandoned")}
        self.escalations = Counter("switchboard_escalations", "Conversations handed to a queue, by reason code",
                                   ["queue", "reason"], registry=registry)
        self.sla = {kind: Counter(f"switchboard_sla_{plural}", f"SLA {plural} emitted (once per ticket and target)",
                                  ["queue", "target"], registry=registry)
                    for kind, plural in (("warning", "warnings"), ("breach", "breaches"))}
        self.deliveries = Counter("switchboard_outbox_delivery_attempts", "Outbox delivery attempts by result "
                                  "(sent, retry, failed)", ["channel", "result"], registry=registry)
        self.requests = Counter("switchboard_http_requests", "HTTP requests by route template",
                                ["route", "method", "status"], registry=registry)
        self.latency = Histogram("switchboard_http_request_duration_seconds", "HTTP request latency by route "
                                 "template", ["route", "method"], registry=registry)
        self.backlog = Gauge("switchboard_outbox_backlog", "Outbox entries by status (pending, sending, failed)",
                             ["status", "channel"], registry=registry)
        self.database_up = Gauge("switchboard_database_up", "1 if the database answered a ping at scrape time",
                                 registry=registry)
        self.supervisor_state = Gauge("switchboard_database_supervisor_state", "The embedded database's "
                                      "supervisor state (1 for the current one)", ["state"], registry=registry)
        self.subscribers = Gauge("switchboard_realtime_subscribers", "Realtime bus subscribers in this process "
                                 "(open desk WebSockets and live chats)", registry=registry)
        self.agents_online = Gauge("switchboard_agents_online", "Agents whose presence is online",
                                   registry=registry)
        self.queue_depth = Gauge("switchboard_queue_depth", "Tickets waiting for a first agent answer",
                                 ["queue"], registry=registry)
        self.longest_wait = Gauge("switchboard_queue_longest_wait_seconds", "How long the oldest waiting "
                                  "ticket has waited", ["queue"], registry=registry)
        self.db_latency = Histogram("switchboard_database_command_duration_seconds", "Database command "
                                    "round trips by command", ["command", "outcome"], registry=registry,
                                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10))
        #: Registered with the database client (`Runtime.db_listeners`) to time every command.
        self.db_listener = CommandTimer(self.db_latency)

    def record(self, name: str, labels: dict[str, str]) -> None:
        """The sink of `hub.telemetry`: one domain count (names and labels: `hub.telemetry.COUNTS`)."""
        if name == "message":
            self.messages.labels(labels["channel"], labels["direction"]).inc()
        elif name == "duplicate":
            self.duplicates.labels(labels["channel"]).inc()
        elif name == "bot_decision":
            self.decisions.labels(labels["outcome"]).inc()
        elif name == "ticket":
            self.tickets[labels["change"]].labels(labels["queue"]).inc()
        elif name == "escalation":
            self.escalations.labels(labels["queue"], labels["reason"]).inc()
        elif name == "sla":
            self.sla[labels["kind"]].labels(labels["queue"], labels["target"]).inc()
        elif name == "delivery":
            self.deliveries.labels(labels["channel"], labels["result"]).inc()

    async def refresh(self, hub: Hub, supervisor: DatabaseSupervisor | None) -> None:
        """Read the shared state the gauges show: a grouped count over the outbox's status index,
        a count over the agents' presence index, a ping."""
        self.subscribers.set(hub.bus.subscriber_count)
        if supervisor is not None:
            for state in SUPERVISOR_STATES:
                self.supervisor_state.labels(state).set(1 if supervisor.status.state == state else 0)
        try:
            up = await hub.store.ping()
            if up:
                async with self._state_lock:  # overlapping scrapes share one read
                    if self._state_due():
                        await self._read_store(hub)
                        self._state_read_at = time.monotonic()
        except PyMongoError:
            up = False
        self.database_up.set(1 if up else 0)

    def _state_due(self) -> bool:
        last = self._state_read_at
        return last is None or time.monotonic() - last >= self.state_refresh_seconds

    async def _read_store(self, hub: Hub) -> None:
        pipeline = [{"$match": {"status": {"$in": list(BACKLOG_STATUSES)}}},
                    {"$group": {"_id": {"status": "$status", "channel": {"$ifNull": ["$channel", "$kind"]}},
                                "n": {"$sum": 1}}}]
        counts = [doc async for doc in await hub.store.outbox.aggregate(pipeline)]
        self.backlog.clear()  # a status and channel with nothing left disappears, not its last value
        for doc in counts:
            self.backlog.labels(doc["_id"]["status"], str(doc["_id"].get("channel") or "unknown")).set(doc["n"])
        self.agents_online.set(await hub.store.agents.count_documents({"presence": "online"}))
        for queue in await hub.metrics.queue_depths():
            self.queue_depth.labels(queue["queue"]).set(queue["depth"])
            self.longest_wait.labels(queue["queue"]).set(queue["longest_wait_seconds"])

    @web.middleware
    async def observe_http(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Count and time each request by its route template (`/api/tickets/{id}`), method and status class."""
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else UNMATCHED
            method = request.method if request.method in KNOWN_METHODS else "other"
            self.requests.labels(route, method, f"{status // 100}xx").inc()
            self.latency.labels(route, method).observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


#: Database commands timed under their own name; any other is `other` (bounded label values).
KNOWN_COMMANDS = frozenset({"find", "insert", "update", "delete", "findAndModify", "aggregate", "count",
                            "getMore", "ping", "createIndexes", "commitTransaction", "abortTransaction",
                            "killCursors", "distinct"})


class CommandTimer(monitoring.CommandListener):
    """Times database commands (PyMongo's command monitoring) into a histogram by command name."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event.command_name, "ok", event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event.command_name, "error", event.duration_micros)

    def _observe(self, command: str, outcome: str, micros: int) -> None:
        name = command if command in KNOWN_COMMANDS else "other"
        self.histogram.labels(name, outcome).observe(micros / 1e6)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
EXPORTER = web.AppKey("prometheus_exporter", Exporter)
SUPERVISOR = web.AppKey("prometheus_supervisor", DatabaseSupervisor)


@requires(Role.SUPERVISOR, scope="metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition: this process's counters, and gauges read now."""
    exporter = request.app[EXPORTER]
    await exporter.refresh(request.app[HUB], request.app.get(SUPERVISOR))
    return web.Response(body=exporter.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(app: web.Application, hub: Hub, exporter: Exporter, supervisor: DatabaseSupervisor | None) -> None:
    """Serve `/metrics` on `app` and feed `exporter` from `hub` (the middleware is added by `build_app`)."""
    hub.telemetry.sink = exporter.record
    app[EXPORTER] = exporter
    if supervisor is not None:
        app[SUPERVISOR] = supervisor
    app.router.add_get("/metrics", metrics)
