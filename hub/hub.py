"""The hub as one object: its services and their background loops, built from ports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.accounts import AccountService
from hub.activity import TicketActivity
from hub.aggregates import Aggregates
from hub.apitokens import ApiTokenService
from hub.audit import AuditLog
from hub.automation import Automation
from hub.blocking import Blocking
from hub.channelstatus import ChannelStatus
from hub.channeltest import ChannelTests
from hub.contactbook import ContactBook
from hub.contactimport import ContactImport
from hub.contactmerge import ContactMerges
from hub.contacts import ContactService
from hub.conversations import ConversationService
from hub.departures import Departures
from hub.followers import Followers
from hub.history import HistoryService
from hub.knowledge import KnowledgeBase
from hub.metrics import MetricsService
from hub.migrations import migrate
from hub.models import InboundMessage, IngestResult, utcnow
from hub.newsmail import NewsMail
from hub.outbound import NewTickets
from hub.outbox import Outbox, RetryPolicy
from hub.pipeline import Pipeline
from hub.ports import Bot, OutboundSender
from hub.presence import PresenceService
from hub.privacy import Erasure, Privacy
from hub.queuebook import QueueBook
from hub.realtime import RealtimeBus
from hub.responses import ResponseLibrary
from hub.retention import Retention, RetentionRun
from hub.routing import Router
from hub.savedviews import SavedViews
from hub.signatures import Signatures
from hub.sla import SlaRun, SlaWatcher
from hub.store import Doc, ObjectId, PyMongoError, Store
from hub.tasks import cancel_and_wait
from hub.telemetry import Telemetry
from hub.ticketmerge import TicketMerges
from hub.ticketreads import TicketReads
from hub.tickets import QueueConfig, TicketService
from hub.totp import TotpService
from hub.transfers import Transfers
from hub.useradmin import RELEASE_REQUESTED, UserAdmin
from hub.waitannouncer import WaitAnnouncer
from hub.webhooks import Webhooks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveConnection:
    """A customer's open live connection (`Hub.customer_connected`), handed back to `customer_disconnected`."""

    id: ObjectId
    #: What the customer should see on connecting when waiting for an agent (`Hub.waiting`), else None.
    wait: Doc | None = None


class Hub:
    """Everything the channels and the desk talk to. Built once, by the composition root."""

    def __init__(self, store: Store, bot: Bot, senders: dict[str, OutboundSender],
                 queues: dict[str, QueueConfig], default_queue: str,
                 retry: RetryPolicy | None = None, blobs: Any | None = None,
                 presence_ttl_seconds: float = 90.0) -> None:
        self.store = store
        self.bot = bot
        self.accounts = AccountService(store)
        self.totp = TotpService(store, self.accounts.throttle)  # two-factor sign-in (hub.totp)
        self.contacts = ContactService(store)
        self.conversations = ConversationService(store)
        self.blobs = blobs
        self.outbox = Outbox(store, senders, retry, blobs=blobs)
        self.tickets = TicketService(store, self.outbox, dict(queues), default_queue)  # live: hub.queuebook
        #: The configuration's queues (seeds) apart from the live definitions the queue book keeps fresh.
        self.configured_queues = dict(queues)
        self.queuebook = QueueBook(store, self.tickets.queues, default_queue, self.tickets.calendars)
        self.router = Router(store, self.tickets)
        self.departures = Departures(store, self.tickets)
        self.waits = WaitAnnouncer(store, self.tickets, self.router, self.outbox)
        self.activity = TicketActivity(store)
        self.reads = TicketReads(store)  # what each agent has read (the desk's unread marks)
        self.news = NewsMail(store, self.reads)  # that news by email to agents away from the desk
        self.signatures = Signatures(store)  # each agent's signature under their replies by email
        self.followers = Followers(store)  # colleagues who follow a ticket they do not hold
        self.presence = PresenceService(store, presence_ttl_seconds, on_customer_left=self.departures.left)
        self.departures.connected_now = self.presence.customer_connected_now
        self.tickets.router = self.router
        self.pipeline = Pipeline(store, self.contacts, self.conversations, self.tickets, self.outbox, bot,
                                 self.router, blobs)
        self.apitokens = ApiTokenService(store)
        self.webhooks = Webhooks(store)
        self.tickets.webhooks = self.pipeline.webhooks = self.webhooks
        self.outbox.handlers["webhook"] = self.webhooks.deliver
        self.webhooks.on_queued = self.outbox.wake
        self.webhooks.entry_marks = self.outbox.spill_mark
        self.outbox.on_message = self._message_created
        #: What the hub counts for operators; the composition root binds `telemetry.sink` (Prometheus).
        self.telemetry = Telemetry(store)
        self.pipeline.telemetry = self.tickets.telemetry = self.outbox.telemetry = self.telemetry
        self.channel_status = ChannelStatus(store)  # the admins' Channels page: last in/out/error per channel
        self.telemetry.observers.append(self.channel_status.observe)
        self.outbox.on_failure = self.channel_status.error
        self.channel_tests = ChannelTests(store, self.contacts, self.outbox)  # admins' "send a test"
        self.bus = RealtimeBus(store)
        self.metrics = MetricsService(store, self.tickets.queues, self.tickets.tally)
        self.history = HistoryService(store, self.tickets.queues)
        self.aggregates = Aggregates(store, self.history)
        #: How often the history's aggregates catch up with the event log (0: never in this process).
        self.aggregate_interval_seconds = 5.0
        self.responses = ResponseLibrary(store)
        self.transfers = Transfers(store, self.tickets, self.responses)
        self.users = UserAdmin(store, self.accounts, self.transfers)  # setup links, disabling hands work back
        self.ticket_merges = TicketMerges(store, self.tickets)  # merge a ticket into another, split one out
        self.new_tickets = NewTickets(store, self.contacts, self.tickets)  # an agent writes to a customer first
        self.saved_views = SavedViews(store)  # each desk user's named filters of the ticket list
        self.audit = AuditLog(store)
        #: Admins' automation rules (run once per event across processes) and agents' macros (hub.automation).
        self.automation = Automation(store, self.tickets, self.transfers, self.responses)
        #: Help-center articles (hub.knowledge): edited by trainers, served on /help, offered by the bot.
        self.knowledge = KnowledgeBase(store, self.audit)
        self.privacy = Privacy(store, blobs, self.audit)
        self.contactbook = ContactBook(store, self.tickets.index, self.audit)  # contact page, search, merges
        self.merges = ContactMerges(store, self.contactbook, self.audit)
        self.blocking = Blocking(store, self.contactbook, self.tickets, self.audit)  # a block, and their tickets
        self.contact_import = ContactImport(store, self.contacts, self.contactbook, self.audit)  # a CSV file
        #: Rules are set by the composition root (`retention` in the configuration); none: nothing expires.
        self.retention = Retention(store, self.privacy, [])
        self.retention.events.read_until = self.aggregates.read_until  # never an event they have not read
        self.retention_interval_seconds = 3600.0
        #: Emits SLA warnings and breaches, once across processes (hub.sla); `calendars` seeds come from
        #: the configuration (`Hub.sla_calendars`, set by the composition root).
        self.sla = SlaWatcher(store, self.tickets)
        self.sla_calendars: dict[str, Any] = {}
        self._loops: list[asyncio.Task[None]] = []

    async def _message_created(self, message: Doc, conversation: Doc, session: AsyncClientSession | None) -> None:
        await self.webhooks.emit_message(message, conversation.get("ticket_id"), session)

    async def ingest(self, message: InboundMessage) -> IngestResult:
        """Store a customer's message (hub.pipeline); one who had left a waiting chat is back."""
        result = await self.pipeline.ingest(message)
        if result.customer_was_away:
            await self.departures.back(message.channel, message.thread_key)
        return result

    async def is_ingested(self, channel: str, external_id: str) -> bool:
        """Whether a delivery is stored already: lets a channel skip downloads for a provider's retry."""
        found = await self.store.messages.find_one({"channel": channel, "external_id": external_id},
                                                   projection={"_id": 1})
        return found is not None

    async def end_conversation(self, conversation_id: ObjectId) -> str:
        """The customer ended the chat. Returns what happened: `abandoned` (still waiting for an
        agent), `closed` (bot conversation), `kept` (an agent is on it: the agent solves it) or `none`."""
        conversation = await self.store.conversations.find_one({"_id": conversation_id})
        if conversation is None or not conversation.get("open"):
            return "none"
        if conversation.get("ticket_id") is not None:
            return "abandoned" if await self.tickets.abandon(conversation["ticket_id"]) else "kept"
        await self.store.conversations.update_one(
            {"_id": conversation_id}, {"$set": {"open": False, "state": "closed", "closed_at": utcnow()}}
        )
        await self.store.append_event("conversation.closed", utcnow(), conversation_id=conversation_id,
                                      data={"by": "customer"})
        return "closed"

    async def waiting(self, channel: str, thread_key: str) -> Doc | None:
        """A waiting customer's place and estimated wait now (None: not waiting), for a live channel."""
        return await self.waits.current(channel, thread_key)

    async def customer_connected(self, channel: str, thread_key: str, *, new: bool = False) -> LiveConnection:
        """A channel with live connections (the chat widget) saw a customer connect: returns the
        connection for `customer_disconnected`, with the wait to show. Coming back cancels a pending
        abandonment. The connection is written, and the wait's notice read, only when a conversation of the
        thread has a ticket (seen by the same query that looks for an abandonment to cancel): most visitors
        never wait. One handed to a person while connected is written then (`customer_waiting`). `new`: the
        channel knows the thread has nothing yet (a session its page just made), so nothing is read."""
        ticketed = False if new else await self.departures.back(channel, thread_key)
        connection_id = await self.presence.customer_connected(channel, thread_key, waiting=ticketed)
        return LiveConnection(connection_id, await self.waiting(channel, thread_key) if ticketed else None)

    async def customer_waiting(self, connection: LiveConnection) -> None:
        """The connection's chat was handed to a person (its channel saw the `conversation.handoff` event):
        from now on its closing, or another tab's, must know it is open."""
        await self.presence.customer_waiting(connection.id)

    async def customer_seen(self, channel: str, thread_key: str) -> None:
        """The customer is here (connected, polled, wrote): a pending abandonment is cancelled."""
        await self.departures.back(channel, thread_key)

    def track_departures(self, channel: str, grace_seconds: float) -> None:
        """A customer of `channel` whose last live connection closed has abandoned a waiting
        ticket after `grace_seconds` (0: never; only an explicit end counts)."""
        self.departures.grace[channel] = grace_seconds

    async def customer_disconnected(self, connection: LiveConnection, channel: str, thread_key: str) -> None:
        """That connection closed; if it was the customer's last, a waiting ticket may be abandoned."""
        await self.presence.customer_disconnected(connection.id, channel, thread_key)

    async def export_contact(self, contact_id: ObjectId, actor: Doc | None, ip: str | None = None) -> bytes:
        """Everything held about a contact as a zip (hub.privacy), recorded in the audit trail."""
        return await self.privacy.export(contact_id, actor, ip)

    async def erase_contact(self, contact_id: ObjectId, actor: Doc | None, ip: str | None = None) -> Erasure:
        """Erase a contact (hub.privacy), recorded in the audit trail."""
        return await self.privacy.erase(contact_id, actor, ip)

    async def apply_retention(self, now: datetime | None = None) -> RetentionRun:
        """One retention run, if this process gets the lease (hub.retention)."""
        return await self.retention.run_once(now)

    async def watch_sla(self, now: datetime | None = None) -> SlaRun:
        """One SLA round (warnings and breaches due at `now`), if this process gets the lease (hub.sla)."""
        return await self.sla.run_once(now)

    async def _retention_loop(self, interval: float) -> None:
        while True:
            try:
                await self.apply_retention()
            except PyMongoError as exc:
                log.warning("retention: database unavailable (%s)", exc)
            await asyncio.sleep(interval)

    def register_sender(self, sender: OutboundSender) -> None:
        self.outbox.senders[sender.channel] = sender

    async def start(self) -> None:
        """Indexes, schema migrations, seed data, then the outbox, recovery and realtime loops."""
        await self.store.ensure_indexes()
        await migrate(self.store, self.configured_queues)  # before anything reads documents in an older shape
        await self.queuebook.seed(self.configured_queues)  # queues this database never saw; edits win
        await self.tickets.calendars.seed(self.sla_calendars, {q.name: q.calendar for q in
                                                               self.configured_queues.values() if q.calendar})
        await self.queuebook.load()
        self.queuebook.follow(self.bus)  # every process re-reads the queues when one changes them
        await self.tickets.fields.load()  # what a solve checks (required fields), with no read per solve
        self.tickets.fields.follow(self.bus)
        await self.webhooks.load()  # endpoints' subscriptions, in memory: asked on every message
        self.webhooks.follow(self.bus)
        self.router.follow(self.bus)  # the estimate's cached capacities, dropped when they change
        self.bus.on_event(RELEASE_REQUESTED, lambda event: self._spawn(self.users.release_requested(event),
                                                                        "release a disabled user's tickets"))
        self.outbox.follow_spills(self.bus)  # before the stream opens: its filter includes them
        self._spawn(self.bus.run(), "realtime")
        self._spawn(self.outbox.run(), "outbox")
        self._spawn(self.pipeline.run_recovery(), "recovery")
        self._spawn(self.pipeline.run_lease_renewal(), "message leases")
        self._spawn(self.router.run(), "routing")
        self._spawn(self.presence.run(), "presence")
        self._spawn(self.departures.run(), "departures")
        if self.waits.interval > 0:
            self._spawn(self.waits.run(self.bus), "wait announcements")
        self._spawn(self.sla.run(self.bus), "sla")
        if self.channel_status.interval > 0:
            self._spawn(self.channel_status.run(), "channel status")
        self._spawn(self.automation.run(self.bus), "automation")
        if self.aggregate_interval_seconds > 0:
            self._spawn(self.aggregates.run(self.aggregate_interval_seconds), "aggregates")
        if self.retention.rules:
            self._spawn(self._retention_loop(self.retention_interval_seconds), "retention")
        self._spawn(self.privacy.run_follow_up(), "erasure follow-up")
        if self.news.interval > 0:
            self._spawn(self.news.run(), "news by email")
        await asyncio.wait_for(self.bus.ready.wait(), timeout=10)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a background loop for the hub's lifetime (channels use this for pollers)."""
        self._spawn(coro, name)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"hub:{name}")
        task.add_done_callback(_log_crash)
        self._loops.append(task)

    async def stop(self) -> None:
        await cancel_and_wait(self._loops)
        self._loops.clear()
        await self.automation.stop()
        await self.pipeline.drain()
        await self.outbox.stop()
        self.accounts.hashing.close()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background loop %s crashed", task.get_name(), exc_info=task.exception())
