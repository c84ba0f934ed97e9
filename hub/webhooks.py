"""Outgoing webhooks: admins register endpoints; ticket and message changes are POSTed to them, signed.

Where events come from: the domain code that changes state calls `emit` with the
database session of that change (ticket escalation, status changes, assignment, an
agent's or the bot's message, a customer message when the pipeline processes it). `emit`
inserts one outbox entry per subscribed endpoint *in the same transaction*, so an event
exists exactly when its change committed: never lost, never produced twice, whichever hub
process made the change (the change stream is not used: each process would see every
change and a process that is down would miss some).

Delivery is the outbox's job (hub.outbox: a lease so one process attempts an entry at a
time, exponential backoff, a give-up limit); `deliver` is its handler for `webhook`
entries. Each request is signed like Stripe's and Slack's:
`X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
and each attempt is logged in `webhook_deliveries`. Private notes never leave the hub.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.latestread import LatestRead
from hub.models import SendError, utcnow
from hub.names import choices_problem
from hub.store import Doc, ObjectId, Store
from hub.views import jsonable, ticket_view

log = logging.getLogger(__name__)

EVENTS = ("ticket.created", "ticket.updated", "ticket.solved", "message.created", "ticket.sla_warning",
          "ticket.sla_breached")
SIGNATURE_HEADER = "X-Switchboard-Signature"
EVENT_HEADER = "X-Switchboard-Event"
DELIVERY_HEADER = "X-Switchboard-Delivery"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix that marks secrets, not a secret)
MAX_URL = 2000
#: The event any process writes when it registers or removes an endpoint (every process re-reads them).
WEBHOOKS_CHANGED = "webhooks.changed"


class WebhookError(Exception):
    """An endpoint that cannot be registered (bad URL, unknown event)."""


class WebhookTransport(Protocol):
    """Port: POST a body, return the HTTP status; raise `SendError(transient=True)` if no answer came."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def check_url(url: object) -> str:
    if not isinstance(url, str) or len(url) > MAX_URL or not url.isascii() or not url.isprintable():
        raise WebhookError(f"url must be an http(s) URL of printable ASCII (IDNA/percent-encoded), at most {MAX_URL}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url must be an http(s) URL with a host")
    return url


def check_events(events: object) -> list[str]:
    problem = choices_problem(events, EVENTS, "events")
    if problem is not None:
        raise WebhookError(problem)
    assert isinstance(events, list)
    return sorted(set(events))


def ticket_payload(ticket: Doc) -> dict[str, object]:
    view = ticket_view(ticket)
    view.pop("csat_asked", None)
    return view


def message_payload(message: Doc, ticket_id: ObjectId | None) -> dict[str, object]:
    """A message as an integration sees it: no NLU internals, no provider metadata."""
    author = message.get("author", {})
    return {
        "id": str(message["_id"]), "ticket_id": str(ticket_id) if ticket_id else None,
        "conversation_id": str(message["conversation_id"]), "contact_id": str(message["contact_id"]),
        "channel": message["channel"], "direction": message["direction"],
        "author": {"kind": author.get("kind"), "name": author.get("name")}, "text": message.get("text", ""),
        "attachments": [{"filename": a.get("filename"), "content_type": a.get("content_type"), "size": a.get("size")}
                        for a in message.get("attachments", [])],
        "created_at": jsonable(message["created_at"]),
    }


class Webhooks:
    def __init__(self, store: Store) -> None:
        self.store = store
        #: Set by the composition root (an HTTP client adapter); without one, deliveries fail and are logged.
        self.transport: WebhookTransport | None = None
        #: event -> the active endpoints subscribed to it, once `load`ed: every message and ticket change
        #: asks, and most desks have no endpoint at all, so the answer comes from memory (None: read the
        #: database each time, as a hub that was never started does). Kept fresh in every process by the
        #: `webhooks.changed` event (`follow`).
        self._subscribed: dict[str, list[ObjectId]] | None = None
        self._reads = LatestRead()
        #: Told when deliveries were queued (once the caller's transaction has committed): the outbox's `wake`,
        #: set by the hub, so it reads due entries only when there may be some.
        self.on_queued: Callable[[], None] | None = None
        #: Extra fields for each queued entry: the outbox's `spill_mark` (set by the hub), so that another
        #: process's worker takes it when this one's cannot at once.
        self.entry_marks: Callable[[], Doc] = dict

    async def load(self) -> None:
        """Read the active endpoints' subscriptions into memory."""
        turn = self._reads.begin()
        subscribed: dict[str, list[ObjectId]] = {event: [] for event in EVENTS}
        async for endpoint in self.store.webhooks.find({"active": True}, projection={"events": 1},
                                                       sort=[("created_at", 1)]):
            for event in endpoint.get("events", []):
                subscribed.setdefault(event, []).append(endpoint["_id"])
        if self._reads.apply(turn):  # not a reload begun before a newer one already applied (hub.latestread)
            self._subscribed = subscribed

    def follow(self, bus: Any) -> None:
        """Re-read the subscriptions whenever any process registers or removes an endpoint."""
        bus.reload_on(WEBHOOKS_CHANGED, self.load, "webhooks")

    async def _changed(self) -> None:
        """This process sees its own change at once; the others through the event."""
        await self.store.append_event(WEBHOOKS_CHANGED, utcnow())
        if self._subscribed is not None:
            await self.load()

    def subscribed(self, event: str) -> bool | None:
        """Whether any endpoint takes `event`, from memory (None: not known without a read)."""
        if self._subscribed is None:
            return None
        return bool(self._subscribed.get(event))

    async def _endpoints(self, event: str, session: AsyncClientSession | None) -> list[ObjectId]:
        if self._subscribed is not None:
            return list(self._subscribed.get(event, []))
        found = await self.store.webhooks.find({"events": event, "active": True}, projection={"_id": 1},
                                               session=session).to_list()
        return [ep["_id"] for ep in found]

    async def register(self, url: object, events: object, created_by: Doc, description: object = "") -> Doc:
        """A new endpoint with a fresh secret (the returned record holds it: show it once)."""
        if description is None:
            description = ""
        if not isinstance(description, str) or len(description) > 200 or not description.isprintable():
            raise WebhookError("description: at most 200 printable characters")
        doc: Doc = {
            "_id": ObjectId(), "url": check_url(url), "events": check_events(events), "description": description,
            "secret": SECRET_PREFIX + secrets.token_urlsafe(32), "active": True,
            "created_at": utcnow(), "created_by": created_by["_id"],
        }
        await self.store.webhooks.insert_one(doc)
        await self._changed()
        return doc

    async def list(self) -> list[Doc]:
        return await self.store.webhooks.find({"active": True}, projection={"secret": 0},
                                              sort=[("created_at", 1)]).to_list()

    async def remove(self, webhook_id: ObjectId) -> bool:
        """Deactivate (kept for its delivery log); deliveries not yet made are given up."""
        result = await self.store.webhooks.update_one({"_id": webhook_id, "active": True},
                                                      {"$set": {"active": False, "removed_at": utcnow()}})
        if result.modified_count == 1:
            await self._changed()
        return result.modified_count == 1

    async def deliveries(self, webhook_id: ObjectId, limit: int = 200) -> list[Doc]:
        return await self.store.webhook_deliveries.find({"webhook_id": webhook_id}, sort=[("webhook_id", 1),
                                                                                       ("at", -1)],
                                                        limit=limit).to_list()

    async def emit(self, event: str, data: dict[str, object], session: AsyncClientSession | None = None,
                   contact_id: ObjectId | None = None) -> int:
        """Queue `event` for every endpoint subscribed to it, in the caller's transaction. Returns how many.

        `contact_id`: whose data the body holds, so erasing that contact can find and clear it."""
        assert event in EVENTS, event
        endpoints = await self._endpoints(event, session)
        if not endpoints:
            return 0
        now = utcnow()
        event_id = ObjectId()
        # ASCII-only JSON: a lone surrogate in a customer's text travels escaped instead of failing to encode
        body = json.dumps({"id": str(event_id), "type": event, "created_at": now.isoformat(), "data": data},
                          separators=(",", ":"))
        await self.store.outbox.insert_many([
            {"kind": "webhook", "lane": ep, "webhook_id": ep, "event": event, "event_id": event_id,
             "body": body, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
             **({"contact_id": contact_id} if contact_id is not None else {}), **self.entry_marks()}
            for ep in endpoints
        ], session=session)
        if self.on_queued is not None:
            self.store.on_commit(session, self.on_queued)
        return len(endpoints)

    async def emit_ticket(self, event: str, ticket: Doc, session: AsyncClientSession | None = None) -> None:
        await self.emit(event, {"ticket": ticket_payload(ticket)}, session, ticket.get("contact_id"))

    async def emit_message(self, message: Doc, ticket_id: ObjectId | None,
                           session: AsyncClientSession | None = None) -> None:
        if message.get("private"):
            return  # private notes stay inside the hub
        await self.emit("message.created", {"message": message_payload(message, ticket_id)}, session,
                        message.get("contact_id"))

    async def deliver(self, entry: Doc) -> None:
        """The outbox's handler for one attempt: sign, POST, log. Raises `SendError` unless 2xx."""
        attempt = entry["attempts"] + 1
        endpoint = await self.store.webhooks.find_one({"_id": entry["webhook_id"]})
        if endpoint is None or not endpoint.get("active"):
            await self._log(entry, attempt, None, "endpoint removed")
            raise SendError("endpoint removed", transient=False)
        if self.transport is None:
            await self._log(entry, attempt, None, "no HTTP client configured")
            raise SendError("no HTTP client configured", transient=False)
        body = entry["body"].encode()
        headers = {
            "Content-Type": "application/json", "User-Agent": "Switchboard-Webhooks/1",
            SIGNATURE_HEADER: sign(endpoint["secret"], int(time.time()), body),
            EVENT_HEADER: entry["event"], DELIVERY_HEADER: str(entry["_id"]),
        }
        try:
            status = await self.transport.post(endpoint["url"], body, headers)
        except SendError as exc:
            await self._log(entry, attempt, None, exc.reason)
            raise
        if 200 <= status < 300:
            await self._log(entry, attempt, status, None)
            return
        await self._log(entry, attempt, status, f"HTTP {status}")
        raise SendError(f"endpoint answered HTTP {status}", transient=True)

    async def _log(self, entry: Doc, attempt: int, status: int | None, error: str | None) -> None:
        await self.store.webhook_deliveries.insert_one({
            "webhook_id": entry["webhook_id"], "delivery_id": entry["_id"], "event": entry["event"],
            "event_id": entry["event_id"], "attempt": attempt, "status_code": status, "error": error,
            "ok": error is None, "at": utcnow(),
        })


def webhook_view(doc: Doc, with_secret: bool = False) -> dict[str, object]:
    view: dict[str, object] = {"id": str(doc["_id"]), "url": doc["url"], "events": doc["events"],
                               "description": doc.get("description", ""), "created_at": jsonable(doc["created_at"])}
    if with_secret:
        view["secret"] = doc["secret"]
    return view


def delivery_view(doc: Doc) -> dict[str, object]:
    return {"delivery_id": str(doc["delivery_id"]), "event": doc["event"], "event_id": str(doc["event_id"]),
            "attempt": doc["attempt"], "status_code": doc["status_code"], "error": doc["error"], "ok": doc["ok"],
            "at": jsonable(doc["at"])}
