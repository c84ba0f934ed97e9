"""The ingest pipeline: one normalised message in, stored once, then answered or escalated.

`ingest` is what every channel calls. It returns as soon as the message is
durably stored (so the provider's retry of an unacknowledged delivery is turned
into a no-op by the `(channel, external_id)` unique index), and leaves a
`pending_bot` mark that `process` clears in the same transaction that writes the
bot's answer or the escalation. A crash between the two is healed by `recover`,
which re-processes marked messages whose lease expired: nothing accepted is lost,
and nothing is answered twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.contacts import ContactService
from hub.conversations import ConversationService
from hub.display import human_name
from hub.models import (
    AuthorKind,
    BotTurn,
    ConversationState,
    Decision,
    DecisionKind,
    Direction,
    InboundMessage,
    IngestResult,
    utcnow,
)
from hub.outbox import Outbox
from hub.ports import Bot
from hub.routing import Router
from hub.store import (
    MESSAGES_BY_CONVERSATION,
    Doc,
    DuplicateKeyError,
    ObjectId,
    PyMongoError,
    Store,
)
from hub.telemetry import Telemetry, decision_outcome
from hub.tickets import TicketService
from hub.waitestimate import describe_wait

log = logging.getLogger(__name__)

#: Bot decision reasons that put the customer's message in the trainers' NLU inbox.
REVIEW_REASONS = frozenset({"low_confidence", "ambiguous", "out_of_scope"})
NOT_HELPFUL = "not_helpful"



class Pipeline:
    def __init__(self, store: Store, contacts: ContactService, conversations: ConversationService,
                 tickets: TicketService, outbox: Outbox, bot: Bot, router: Router, blobs: Any | None = None,
                 lease_seconds: float = 60.0) -> None:
        self.store = store
        self.contacts = contacts
        self.conversations = conversations
        self.tickets = tickets
        self.outbox = outbox
        self.bot = bot
        self.router = router
        self.blobs = blobs
        self.lease_seconds = lease_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        #: Set by the hub (hub.webhooks.Webhooks): customer messages announced when processed.
        self.webhooks: Any = None
        #: The scheduled processing task of each message still being processed (for `process_now`).
        self._by_message: dict[ObjectId, asyncio.Task[None]] = {}
        self.telemetry = Telemetry(store)

    async def ingest(self, msg: InboundMessage) -> IngestResult:
        """Store one inbound message exactly once and schedule the bot/ticket step."""
        existing = await self.store.messages.find_one(
            {"channel": msg.channel, "external_id": msg.external_id},
            projection={"conversation_id": 1, "contact_id": 1},
        )
        if existing is not None:
            self.telemetry.count("duplicate", channel=msg.channel)
            return IngestResult(str(existing["_id"]), str(existing["conversation_id"]),
                                str(existing["contact_id"]), duplicate=True)
        contact = await self.contacts.resolve(msg.channel, msg.sender)
        conversation = await self.conversations.find_or_open(msg, contact)
        attachments = [await self._store_attachment(a) for a in msg.attachments]
        now = utcnow()
        doc: Doc = {
            "conversation_id": conversation["_id"],
            "contact_id": conversation["contact_id"],
            "channel": msg.channel,
            "thread_key": conversation["thread_key"],
            "external_id": msg.external_id,
            "direction": Direction.INBOUND.value,
            "author": {"kind": AuthorKind.CUSTOMER.value, "id": contact["_id"],
                       "name": msg.sender.display_name or human_name(contact)},
            "text": msg.text,
            "subject": msg.subject,
            "attachments": attachments,
            "created_at": now,
            "received_at": msg.received_at,
            "suppress_bot": msg.suppress_bot,
            "automated": msg.automated,
            "metadata": msg.metadata,
            "pending_bot": True,
        }
        try:
            # Journaled (and majority on a replica set) before we answer "accepted": a database
            # killed right after this returns still has the message, and the contact and
            # conversation written before it (see store.ACCEPTED).
            result = await self.store.accepted_messages.insert_one(doc)
        except DuplicateKeyError:
            # The same delivery raced us (provider retry while we were still working).
            raced = await self.store.messages.find_one({"channel": msg.channel, "external_id": msg.external_id})
            assert raced is not None
            self.telemetry.count("duplicate", channel=msg.channel)
            return IngestResult(str(raced["_id"]), str(raced["conversation_id"]),
                                str(raced["contact_id"]), duplicate=True)
        conv_update: Doc = {"last_message_at": now, "last_customer_message_at": now}
        if msg.reply_context:
            conv_update.update({f"channel_data.{k}": v for k, v in msg.reply_context.items()})
        await self.store.conversations.update_one({"_id": conversation["_id"]}, {"$set": conv_update})
        self.telemetry.count("message", channel=msg.channel, direction="in")
        self._schedule(result.inserted_id)
        return IngestResult(str(result.inserted_id), str(conversation["_id"]), str(contact["_id"]),
                            duplicate=False)

    async def _store_attachment(self, attachment: Any) -> Doc:
        record: Doc = {"filename": attachment.filename, "content_type": attachment.content_type,
                       "size": attachment.size or len(attachment.data or b""), "url": attachment.url}
        if attachment.data is not None and self.blobs is not None:
            record["blob_id"] = await self.blobs.put(attachment.filename, attachment.content_type, attachment.data)
        return record

    def _schedule(self, message_id: ObjectId) -> None:
        task = asyncio.create_task(self._process_logged(message_id))
        self._tasks.add(task)
        self._by_message[message_id] = task
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _task: self._by_message.pop(message_id, None))

    async def process_now(self, message_id: ObjectId | str) -> None:
        """Return only once this message has been processed (answered, escalated or left alone).

        For channels that must answer inside the provider's HTTP response (a phone call
        speaks the bot's reply in the TwiML it returns). `process` is at most once per
        message, so this is safe next to the background task `ingest` scheduled: if that
        task exists it is awaited (shielded, so a dropped request does not cancel it),
        otherwise the message is processed here. A message already processed is a no-op.
        """
        key = message_id if isinstance(message_id, ObjectId) else ObjectId(message_id)
        task = self._by_message.get(key)
        if task is not None:
            await asyncio.shield(task)
            return
        await self._process_logged(key)

    async def _process_logged(self, message_id: ObjectId) -> None:
        try:
            await self.process(message_id)
        except PyMongoError as exc:
            log.warning("pipeline: database error processing %s (%s); recovery will retry", message_id, exc)
        except Exception:
            log.exception("pipeline: processing %s failed; recovery will retry", message_id)

    async def drain(self) -> None:
        """Wait for every scheduled processing task (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def process(self, message_id: ObjectId) -> None:
        """Decide what to do with one stored customer message; at most once per message."""
        now = utcnow()
        # A lease on the message, taken by compare-and-set on the lease read: an exact `{_id}` read and an
        # `_id` + equality update are served by secantusd-py's `_id` index, where a findAndModify or an `$or`
        # beside the `_id` scans the collection (benchmarks/query_cost.py).
        message = await self.store.messages.find_one({"_id": message_id})
        if message is None or not message.get("pending_bot") or (message.get("lease_until") or now) > now:
            return
        lease = now + timedelta(seconds=self.lease_seconds)
        taken = await self.store.messages.update_one(
            {"_id": message_id, "pending_bot": True, "lease_until": message.get("lease_until")},
            {"$set": {"lease_until": lease}},
        )
        if taken.modified_count == 0:
            return  # another task or process took it first
        message["lease_until"] = lease
        conversation = await self.store.conversations.find_one({"_id": message["conversation_id"]})
        if conversation is None:
            await self.store.messages.update_one({"_id": message_id}, {"$unset": {"pending_bot": ""}})
            return
        decision: Decision | None = None
        if conversation["state"] == ConversationState.BOT.value and not message.get("suppress_bot"):
            decision = await self._decide(message, conversation)
        number = None
        if decision is not None and decision.kind is DecisionKind.ESCALATE and not conversation.get("ticket_id"):
            number = await self.store.next_number("ticket")

        async def work(session: AsyncClientSession) -> Doc | None:
            claimed = await self.store.messages.update_one(
                {"_id": message_id, "pending_bot": True},
                {"$unset": {"pending_bot": "", "lease_until": ""},
                 "$set": {"nlu": decision.as_record()} if decision else {"processed_at": utcnow()}},
                session=session,
            )
            if claimed.modified_count == 0:
                return None
            if self.webhooks is not None:  # message.created, once: only the claiming transaction gets here
                await self.webhooks.emit_message(message, conversation.get("ticket_id"), session)
            if decision is None:
                if conversation["state"] == ConversationState.ESCALATED.value:
                    await self.tickets.on_customer_message(conversation, session,
                                                           reopen=not message.get("automated"), message=message)
                return None
            return await self._apply(decision, message, conversation, number, session)

        ticket = await self.store.run_in_transaction(work)
        self.outbox.wake()
        if ticket is not None:
            await self.router.route_queue(ticket["queue"])

    async def _decide(self, message: Doc, conversation: Doc) -> Decision:
        bot_state = conversation.get("bot", {}).get("state", {})
        # A pressed quick reply reaches the bot as its payload (`/deny`); people see its title ("No").
        text = (message.get("metadata") or {}).get("quick_reply") or message["text"]
        turn = BotTurn(text=text, channel=message["channel"],
                       conversation_id=str(conversation["_id"]), state=bot_state,
                       contact_name=message["author"].get("name"))
        try:
            return await self.bot.decide(turn)
        except Exception as exc:
            log.exception("pipeline: the bot failed on %s; escalating", message["_id"])
            return Decision(kind=DecisionKind.ESCALATE, reason=f"bot_error: {type(exc).__name__}",
                            state=bot_state, handoff_text="Let me pass you to a colleague who can help.")

    async def _apply(self, decision: Decision, message: Doc, conversation: Doc, number: int | None,
                     session: AsyncClientSession) -> Doc | None:
        """Write the decision's effects; returns the ticket when the conversation was escalated."""
        outcome = decision_outcome(decision)
        self.telemetry.count("bot_decision", session, outcome=outcome)
        bot_update: Doc = {"bot.state": decision.state, "bot.last_intent": decision.intent,
                           "last_message_at": utcnow()}
        # the history's fallback rate (hub.metricdefs) counts fallbacks per conversation, in the same write
        turns: Doc = {"bot.turns": 1, "bot.fallbacks": 1} if outcome == "fallback" else {"bot.turns": 1}
        await self.store.conversations.update_one(
            {"_id": conversation["_id"]}, {"$set": bot_update, "$inc": turns}, session=session
        )
        await self._mark_for_review(decision, message, session)
        if decision.kind in (DecisionKind.ANSWER, DecisionKind.CLARIFY) and decision.text:
            await self.outbox.post(conversation, AuthorKind.BOT, decision.text, session=session,
                                   author_name="Bot", quick_replies=decision.quick_replies,
                                   touch_conversation=False,
                                   metadata={"article": decision.article} if decision.kb == "offered" else None)
            return None
        if decision.kind is not DecisionKind.ESCALATE:
            return None
        entities = {e.type: e.value for e in decision.entities}
        ticket = await self.tickets.escalate(
            conversation, reason=decision.reason or "escalated", queue=decision.queue,
            number=number or 0, session=session, subject=_subject(message), intent=decision.intent,
            entities=entities,
        )
        told = self.tickets.queue(ticket["queue"]).escalation_message  # the queue's own words, if any
        text = told or decision.handoff_text or "I'm passing you to a colleague."
        text = f"{text} Your ticket number is #{ticket['number']}."
        if ticket["status"] == "new" and ticket.get("assignee_id") is None:
            position = await self.tickets.queue_position(ticket, session)
            estimate = await self.router.estimated_wait_seconds(ticket["queue"], position)
            text = f"{text} {describe_wait(position, estimate)}"
        await self.outbox.post(replace_conv(conversation, ticket), AuthorKind.SYSTEM, text, session=session,
                               author_name="Switchboard")
        return ticket

    async def _mark_for_review(self, decision: Decision, message: Doc, session: AsyncClientSession) -> None:
        """Put the customer message the bot was unsure about, or failed on, in the trainers' NLU inbox.

        Escalations mark the message that was escalated, except "no, that didn't help":
        there the question the unhelpful answer answered is what a trainer must label.
        """
        if decision.kind is DecisionKind.ESCALATE:
            if decision.reason == NOT_HELPFUL:
                target = await self._answered_question(message, session)
                reason = NOT_HELPFUL
            else:
                target, reason = message["_id"], "escalated"
        elif decision.reason in REVIEW_REASONS:
            target, reason = message["_id"], str(decision.reason)
        elif decision.kb == "offered":  # no intent was confident: the trainers see it, whether the article helps
            target, reason = message["_id"], "low_confidence"
        else:
            return
        if target is None:
            return
        await self.store.messages.update_one(
            {"_id": target}, {"$set": {"review": {"reason": reason, "decision": decision.reason, "at": utcnow()}}},
            session=session,
        )

    async def _answered_question(self, message: Doc, session: AsyncClientSession) -> ObjectId | None:
        """The customer's message before `message` in its conversation (the one the bot answered)."""
        previous = await self.store.messages.find_one(
            {"conversation_id": message["conversation_id"], "direction": Direction.INBOUND.value,
             "created_at": {"$lte": message["created_at"]}, "_id": {"$ne": message["_id"]}},
            projection={"_id": 1}, sort=[("conversation_id", 1), ("created_at", -1)],
            hint=MESSAGES_BY_CONVERSATION, session=session,
        )
        return previous["_id"] if previous else None

    async def recover(self, older_than_seconds: float = 0.0, limit: int = 500) -> int:
        """Re-process messages left pending (crash, bot or database outage). Returns how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        cursor = self.store.messages.find(
            {"pending_bot": True, "created_at": {"$lte": cutoff}}, projection={"_id": 1},
            sort=[("created_at", 1)], limit=limit,
        )
        ids = [doc["_id"] async for doc in cursor]
        for message_id in ids:
            await self._process_logged(message_id)
        return len(ids)

    async def run_recovery(self, interval: float = 15.0) -> None:
        """Background loop: messages whose processing died are retried after their lease."""
        while True:
            try:
                await self.recover(older_than_seconds=self.lease_seconds)
            except PyMongoError as exc:
                log.warning("pipeline: recovery could not reach the database (%s)", exc)
            await asyncio.sleep(interval)


def replace_conv(conversation: Doc, ticket: Doc) -> Doc:
    return {**conversation, "ticket_id": ticket["_id"]}


def _subject(message: Doc) -> str:
    if message.get("subject"):
        return str(message["subject"])
    text = " ".join(str(message.get("text", "")).split())
    return text[:80] + ("…" if len(text) > 80 else "")

