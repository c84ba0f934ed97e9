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
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.contacts import ContactService
from hub.conversations import ConversationService, plain
from hub.display import human_name
from hub.laterwrites import LaterWrite
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
from hub.readsahead import ReadsAhead
from hub.routing import Router
from hub.smalltalk import says_what
from hub.store import (
    ACCEPTED,
    BY_ID,
    Doc,
    DuplicateKeyError,
    ObjectId,
    PyMongoError,
    Store,
)
from hub.telemetry import Telemetry, decision_outcome
from hub.tickets import TicketService, subject_of, typed
from hub.waitestimate import describe_wait, told_place

log = logging.getLogger(__name__)

#: Bot decision reasons that put the customer's message in the trainers' NLU inbox.
REVIEW_REASONS = frozenset({"low_confidence", "ambiguous", "out_of_scope"})
NOT_HELPFUL = "not_helpful"
#: Escalations whose message asks for a person ("a human please", "No, that didn't help") rather than says what
#: it is about: the ticket's subject is the customer's question before it (`bot.last_question`), if there is one.
ASKING_FOR_SOMEONE = frozenset({"human_requested", NOT_HELPFUL, "article_not_helpful"})
#: Turns whose message is no question (a thank-you, nothing): not kept as the question.
NOT_A_QUESTION = frozenset({"feedback_positive", "empty_message"})
#: A message's processing lease. Short, so that what a crashed process held is taken over within
#: LEASE_SECONDS + RECOVERY_SECONDS; a live process renews the leases of what it is still working on
#: (a slow bot, a database that stalls) every third of it, so that it is not taken over meanwhile.
LEASE_SECONDS = 20.0
#: How often a process looks for messages whose lease ran out (an index of the pending ones only).
RECOVERY_SECONDS = 5.0
#: Pending messages one sweep reads at most (it runs every RECOVERY_SECONDS; a long backlog is read again
#: and again, so each read stays small).
SWEEP_BATCH = 50



class Pipeline:
    def __init__(self, store: Store, contacts: ContactService, conversations: ConversationService,
                 tickets: TicketService, outbox: Outbox, bot: Bot, router: Router, blobs: Any | None = None,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.store = store
        self.contacts = contacts
        self.conversations = conversations
        self.tickets = tickets
        self.outbox = outbox
        self.bot = bot
        self.router = router
        self.blobs = blobs
        self.lease_seconds = lease_seconds
        self._tasks: set[asyncio.Task[bool]] = set()
        #: Set by the hub (hub.webhooks.Webhooks): customer messages announced when processed.
        self.webhooks: Any = None
        #: The scheduled processing task of each message still being processed (for `process_now`).
        self._by_message: dict[ObjectId, asyncio.Task[bool]] = {}
        #: The messages this process is processing now, and since when (monotonic): the leases it renews.
        self._held: dict[ObjectId, float] = {}
        self.telemetry = Telemetry(store)

    async def ingest(self, msg: InboundMessage) -> IngestResult:
        """Store one inbound message exactly once and schedule the bot/ticket step.

        The common case costs two commands: the thread's open conversation with its contact (one aggregate,
        `_sender_and_thread`), then the message. A sender's first message, when the channel believes the sender
        new (`Sender.probably_new`, the widget's first message of a session), costs one: its contact, conversation,
        event and message go together (`_ingest_first`). Otherwise it costs the thread's read, the contact's
        insert (a read first), the conversation's insert (no read: `ConversationService.find_or_open` with
        `thread_checked`), its event and the message. The
        `(channel, external_id)` unique index turns a provider's retry into a duplicate; a read for it first is
        made only when something would be written before the message (a conversation opened, reopened or
        followed up, a file stored), so that a retry writes nothing, and not for a sender's first message, whose
        contact this call created: a retry of a delivery that got as far as storing anything would have found
        that contact.
        """
        if plain(msg) and not msg.attachments and self.contacts.insertable_at_once(msg.channel, msg.sender):
            first = await self._ingest_first(msg)
            if first is not None:
                return first
            # Known after all, or the thread is open: the path below finds what the first message met.
            msg = replace(msg, sender=replace(msg.sender, probably_new=False))
        contact, new_contact, conversation = await self._sender_and_thread(msg)
        # A retry must not open a conversation nor store a file.
        if (conversation is None and not new_contact) or msg.attachments:
            existing = await self._stored(msg)
            if existing is not None:
                return existing
        if conversation is None:
            conversation = await self.conversations.find_or_open(msg, contact, thread_checked=plain(msg))
        attachments = [await self._store_attachment(a) for a in msg.attachments]
        doc = self._message(msg, conversation, contact, attachments)
        try:
            # Journaled (and majority on a replica set) before we answer "accepted": a database
            # killed right after this returns still has the message, and the contact and
            # conversation written before it (see store.ACCEPTED).
            await self.store.accepted_messages.insert_one(doc)
        except DuplicateKeyError:
            # The same delivery raced us (provider retry while we were still working).
            raced = await self._stored(msg)
            assert raced is not None
            return raced
        return self._accepted(msg, doc, conversation, contact)

    async def _sender_and_thread(self, msg: InboundMessage) -> tuple[Doc, bool, Doc | None]:
        """The sender's contact, whether this call created it, and the open conversation the message continues
        on its thread (None: none found, or the message has threading hints).

        A follow-up costs one read: the thread's open conversation with its contact (`open_with_contact`), taken
        when that contact holds the sender's identity (`ContactService.known`). Otherwise the sender is resolved as
        usual (`resolve_new`), and the conversation read is still the thread's: a sender's first message on a
        channel that cannot tell it is new (a first email, Slack or Telegram message) spends that one read. A
        sender the channel believes new is inserted with no read first, and its thread is not read: a contact
        created just now has no conversation to continue, and the open thread's unique index answers the rare
        exception (a thread left open by a contact that no longer holds this identity)."""
        if plain(msg) and not self.contacts.insertable_at_once(msg.channel, msg.sender):
            conversation, holder = await self.conversations.open_with_contact(msg) or (None, None)
            contact = await self.contacts.known(holder, msg.channel, msg.sender)
            if contact is not None:
                return contact, False, conversation
            contact, new_contact = await self.contacts.resolve_new(msg.channel, msg.sender)
            return contact, new_contact, conversation
        contact, new_contact = await self.contacts.resolve_new(msg.channel, msg.sender)
        return contact, new_contact, None if new_contact else await self.conversations.find_open(msg)

    async def _ingest_first(self, msg: InboundMessage) -> IngestResult | None:
        """A sender's first message, the channel believing them new: the contact, the conversation, its
        `conversation.opened` event and the message in one ordered command, journaled as one accepted message
        is (one command instead of four). None when it wrote nothing of the message: the contact's identity or
        the open thread was taken after all (a wrong belief, a retry of a delivery that got that far, two tabs),
        and the caller goes the ordinary way, which finds them."""
        contact = await self.contacts.new_contact(msg.channel, msg.sender)
        conversation, opened = self.conversations.opening(msg, contact)
        doc = self._message(msg, conversation, contact, [])
        try:
            await self.store.write_together(
                [LaterWrite(self.store.contacts, "insert", contact),
                 LaterWrite(self.store.conversations, "insert", conversation),
                 LaterWrite(self.store.events, "insert", opened),
                 LaterWrite(self.store.messages, "insert", doc)], write_concern=ACCEPTED)
        except DuplicateKeyError:
            # In order, stopping at the first refused: what went before it is stored and will be found.
            return None
        return self._accepted(msg, doc, conversation, contact)

    def _accepted(self, msg: InboundMessage, doc: Doc, conversation: Doc, contact: Doc) -> IngestResult:
        self.telemetry.count("message", channel=msg.channel, direction="in")
        self._schedule(doc["_id"], doc, conversation, contact)
        return IngestResult(str(doc["_id"]), str(conversation["_id"]), str(contact["_id"]), duplicate=False,
                            customer_was_away=conversation.get("abandon_at") is not None,
                            blocked=bool(doc.get("blocked")))

    def _message(self, msg: InboundMessage, conversation: Doc, contact: Doc, attachments: list[Doc]) -> Doc:
        """The customer's message as stored, holding this process's lease."""
        now = utcnow()
        doc: Doc = {
            "_id": ObjectId(),
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
            # This process's lease, taken with the insert: the task scheduled below needs no read and no
            # compare-and-set; `recover` takes the message over once the lease has run out.
            "lease_until": now + timedelta(seconds=self.lease_seconds),
        }
        if msg.reply_context:  # written to the conversation by `process`, with its other changes
            doc["reply_context"] = dict(msg.reply_context)
        if contact.get("blocked"):  # hub.contactbook.block: kept, and left alone by `process`
            doc["blocked"] = True
        return doc

    async def _stored(self, msg: InboundMessage) -> IngestResult | None:
        """The result of the earlier delivery of this message, if it is stored already."""
        existing = await self.store.messages.find_one(
            {"channel": msg.channel, "external_id": msg.external_id},
            projection={"conversation_id": 1, "contact_id": 1, "blocked": 1},
        )
        if existing is None:
            return None
        self.telemetry.count("duplicate", channel=msg.channel)
        return IngestResult(str(existing["_id"]), str(existing["conversation_id"]),
                            str(existing["contact_id"]), duplicate=True, blocked=bool(existing.get("blocked")))

    async def _store_attachment(self, attachment: Any) -> Doc:
        record: Doc = {"filename": attachment.filename, "content_type": attachment.content_type,
                       "size": attachment.size or len(attachment.data or b""), "url": attachment.url}
        if attachment.data is not None and self.blobs is not None:
            record["blob_id"] = await self.blobs.put(attachment.filename, attachment.content_type, attachment.data)
        return record

    def _schedule(self, message_id: ObjectId, message: Doc, conversation: Doc, contact: Doc) -> None:
        task = asyncio.create_task(self._process_logged(message_id, (message, conversation, contact)))
        self._tasks.add(task)
        self._by_message[message_id] = task
        self._held[message_id] = time.monotonic()
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _task: self._by_message.pop(message_id, None))
        task.add_done_callback(lambda _task: self._held.pop(message_id, None))

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

    async def _process_logged(self, message_id: ObjectId, leased: tuple[Doc, Doc, Doc | None] | None = None) -> bool:
        try:
            return await self.process(message_id, leased)
        except PyMongoError as exc:
            log.warning("pipeline: database error processing %s (%s); recovery will retry", message_id, exc)
        except Exception:
            log.exception("pipeline: processing %s failed; recovery will retry", message_id)
        return False

    @property
    def in_flight(self) -> int:
        """Messages this process stored and has not finished processing: the backlog behind the database."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every scheduled processing task (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def process(self, message_id: ObjectId, leased: tuple[Doc, Doc, Doc | None] | None = None) -> bool:
        """Decide what to do with one stored customer message; at most once per message. False when the
        message was not this call's to process (done already, or its lease held by another).

        `leased`: the message, its conversation and its sender's contact as `ingest` just wrote and read
        them, under the lease it took with the insert (nothing to read again). Without it (recovery), the
        lease is taken here.
        """
        if leased is not None:
            message, conversation, contact = leased
        else:
            taken = await self._take(message_id)
            if taken is None:
                return False
            (message, conversation), contact = taken, None
        decision: Decision | None = None
        if conversation["state"] == ConversationState.BOT.value and not message.get("suppress_bot") \
                and not message.get("blocked"):
            decision = await self._decide(message, conversation)
        if self._lean(decision, conversation):
            await self._answer(message, conversation, decision)
            return True
        ahead = self._reads_ahead(decision, conversation)
        try:
            return await self._process_in_transaction(message_id, message, conversation, contact, decision, ahead)
        finally:
            if ahead is not None:
                ahead.let_go()

    def _reads_ahead(self, decision: Decision | None, conversation: Doc) -> ReadsAhead | None:
        """For an escalation that opens a ticket: start its reads that need no transaction now (the ticket's
        words, the customer's place in line), so that they run beside the transaction's first statements instead
        of after them, two round trips less before the customer hears where they stand (hub.readsahead)."""
        if decision is None or decision.kind is not DecisionKind.ESCALATE or conversation.get("ticket_id"):
            return None
        return self.tickets.read_ahead(conversation, decision.queue)

    async def _process_in_transaction(self, message_id: ObjectId, message: Doc, conversation: Doc,
                                      contact: Doc | None, decision: Decision | None,
                                      ahead: ReadsAhead | None) -> bool:
        number = await self.store.next_number("ticket") if ahead is not None else None

        async def work(session: AsyncClientSession) -> Doc | None:
            claimed = await self.store.messages.update_one(
                {"_id": message_id, "pending_bot": True},
                {"$unset": {"pending_bot": "", "lease_until": ""},
                 "$set": self._marked(message, decision)},
                session=session,
            )
            if claimed.modified_count == 0:
                return None
            blocked = bool(message.get("blocked"))  # a blocked sender's message: kept, told to nobody
            if self.webhooks is not None and not blocked:  # message.created, once: only the claiming transaction
                await self.webhooks.emit_message(message, conversation.get("ticket_id"), session)
            if decision is None:
                await self.store.update(self.store.conversations, {"_id": conversation["_id"]},
                                              _arrival(message), session)
                if conversation["state"] == ConversationState.ESCALATED.value and not blocked:
                    await self.tickets.on_customer_message(conversation, session,
                                                           reopen=not message.get("automated"), message=message)
                return None
            return await self._apply(decision, message, conversation, number, session, contact, ahead)

        ticket = await self.store.run_in_transaction(work)
        if ticket is not None:
            await self.router.route_queue(ticket["queue"])
        return True

    async def _take(self, message_id: ObjectId) -> tuple[Doc, Doc] | None:
        """The lease on a message left pending, and its conversation; None if not due or taken by another.

        Compare-and-set on the lease read: an exact `{_id}` read and an `_id` + equality update are
        served by secantusd-py's `_id` index, where a findAndModify or an `$or` beside the `_id` scans
        the collection (benchmarks/query_cost.py)."""
        now = utcnow()
        message = await self.store.messages.find_one({"_id": message_id})
        if message is None or not message.get("pending_bot") or (message.get("lease_until") or now) > now:
            return None
        lease = now + timedelta(seconds=self.lease_seconds)
        taken = await self.store.messages.update_one(
            {"_id": message_id, "pending_bot": True, "lease_until": message.get("lease_until")},
            {"$set": {"lease_until": lease}},
        )
        if taken.modified_count == 0:
            return None  # another task or process took it first
        message["lease_until"] = lease
        conversation = await self.store.conversations.find_one({"_id": message["conversation_id"]})
        if conversation is None:
            await self.store.messages.update_one({"_id": message_id}, {"$unset": {"pending_bot": ""}})
            return None
        return message, conversation

    def _lean(self, decision: Decision | None, conversation: Doc) -> bool:
        """Whether the bot's answer (or silence) can be written without a transaction: nothing but the
        answer, the conversation and the message's mark change, and no webhook endpoint takes messages
        (their entries must exist exactly when the message's change does)."""
        if decision is None or decision.kind is DecisionKind.ESCALATE or conversation.get("ticket_id"):
            return False
        return self.webhooks is not None and self.webhooks.subscribed("message.created") is False

    async def _answer(self, message: Doc, conversation: Doc, decision: Decision) -> None:
        """The bot's answer in three single-document writes, each safe to repeat, the mark last, sent
        together in one round trip (`Store.gathered`: in order, stopping at the first that fails).

        1. the answer, with `answer_to` = the message's id, unique among messages (index `one_answer`):
           a second attempt (a process that stalled past its lease while another took the message
           over, a crash before the mark) raises `DuplicateKeyError` and writes nothing, and the two
           writes after it are made on their own;
        2. the conversation: bot state and counts, guarded by `bot.last_message_id` so a repeat does not
           count the turn twice;
        3. the message's mark (`pending_bot` cleared, the NLU record): the commit point. A failure before
           it leaves the message to `recover`, which decides again and finds 1 and 2 done.
        Residual: a repeat after 2 decides from the bot state 2 wrote (one answer still goes out).
        """
        outcome = decision_outcome(decision)
        self.telemetry.count("bot_decision", outcome=outcome)
        update = _arrival(message, self._bot_fields(decision, message), answered=True)
        update["$inc"] = _turns(outcome)
        turn = ({"_id": conversation["_id"], "bot.last_message_id": {"$ne": message["_id"]}}, update)
        mark = ({"_id": message["_id"], "pending_bot": True},
                {"$unset": {"pending_bot": "", "lease_until": ""}, "$set": self._marked(message, decision)})
        try:
            async with self.store.gathered() as session:
                if decision.kind in (DecisionKind.ANSWER, DecisionKind.CLARIFY) and decision.text:
                    await self.outbox.post(conversation, AuthorKind.BOT, decision.text, author_name="Bot",
                                           quick_replies=decision.quick_replies, touch_conversation=False,
                                           metadata={"article": decision.article} if decision.kb == "offered"
                                           else None, answer_to=message["_id"], session=session)
                await self.store.update(self.store.conversations, *turn, session)
                await self.store.update(self.store.messages, *mark, session)
        except DuplicateKeyError:
            log.info("pipeline: %s was answered already (a repeat after a lease ran out)", message["_id"])
            await self.store.conversations.update_one(*turn)
            await self.store.messages.update_one(*mark)

    @staticmethod
    def _processed(message: Doc, decision: Decision | None) -> Doc:
        return {"nlu": decision.as_record()} if decision else {"processed_at": utcnow()}

    @staticmethod
    def _bot_fields(decision: Decision, message: Doc) -> Doc:
        fields = {"bot.state": decision.state, "bot.last_intent": decision.intent,
                  "bot.last_message_id": message["_id"]}
        if decision.reason not in ASKING_FOR_SOMEONE | NOT_A_QUESTION and typed(message) \
                and says_what(message.get("text")):  # not "Hi": a greeting answered is no question
            fields["bot.last_question"] = _subject(message)  # the next ticket's subject, if it is asked for
        return fields

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
                     session: AsyncClientSession, contact: Doc | None = None,
                     ahead: ReadsAhead | None = None) -> Doc | None:
        """Write the decision's effects; returns the ticket when the conversation was escalated."""
        outcome = decision_outcome(decision)
        self.telemetry.count("bot_decision", session, outcome=outcome)
        update = _arrival(message, self._bot_fields(decision, message), answered=True)
        update["$inc"] = _turns(outcome)
        if decision.kind is DecisionKind.ESCALATE and decision.reason == NOT_HELPFUL:
            await self._mark_unhelpful(decision, message, session)
        if decision.kind is not DecisionKind.ESCALATE:
            await self.store.update(self.store.conversations, {"_id": conversation["_id"]}, update, session)
        if decision.kind in (DecisionKind.ANSWER, DecisionKind.CLARIFY) and decision.text:
            await self.outbox.post(conversation, AuthorKind.BOT, decision.text, session=session,
                                   author_name="Bot", quick_replies=decision.quick_replies,
                                   touch_conversation=False, answer_to=message["_id"],
                                   metadata={"article": decision.article} if decision.kb == "offered" else None)
            return None
        if decision.kind is not DecisionKind.ESCALATE:
            return None
        entities = {e.type: e.value for e in decision.entities}
        ticket = await self.tickets.escalate(
            conversation, reason=decision.reason or "escalated", queue=decision.queue,
            number=number or 0, session=session, subject=_subject(message, conversation, decision.reason),
            subject_for_now=_subject_for_now(message, conversation, decision.reason),
            intent=decision.intent,
            entities=entities, conversation_update=update,  # the bot's turn, in the handoff's one write
            contact=contact, ahead=ahead,
        )
        told = self.tickets.queue(ticket["queue"]).escalation_message  # the queue's own words, if any
        text = told or decision.handoff_text or "I'm passing you to a colleague."
        text = f"{text} Your ticket number is #{ticket['number']}."
        metadata = None
        if ticket["status"] == "new" and ticket.get("assignee_id") is None:
            position = told_place(await self.tickets.queue_position(ticket, session, ahead))
            estimate = await self.router.estimated_wait_seconds(ticket["queue"], position)
            text = f"{text} {describe_wait(position, estimate)}"
            # the wait it tells, as data: the widget shows its banner from this message (hub.waitannouncer)
            metadata = {"wait": {"ticket_id": ticket["_id"], "position": position,
                                 "estimate_seconds": round(estimate) if estimate is not None else None}}
        await self.outbox.post(replace_conv(conversation, ticket), AuthorKind.SYSTEM, text, session=session,
                               author_name="Switchboard", touch_conversation=False,  # the handoff's write set it
                               metadata=metadata)
        return ticket

    @staticmethod
    def _review_of(decision: Decision) -> Doc | None:
        """The trainers' NLU inbox entry for the message the bot was unsure about, or failed on (None: none).

        Escalations mark the message that was escalated, except "no, that didn't help": there the
        question the unhelpful answer answered is what a trainer must label (`_mark_unhelpful`)."""
        if decision.kind is DecisionKind.ESCALATE:
            reason = "escalated"
        elif decision.reason in REVIEW_REASONS:
            reason = str(decision.reason)
        elif decision.kb == "offered":  # no intent was confident: the trainers see it, whether the article helps
            reason = "low_confidence"
        else:
            return None
        return {"reason": reason, "decision": decision.reason, "at": utcnow()}

    @classmethod
    def _marked(cls, message: Doc, decision: Decision | None) -> Doc:
        """What the message's own mark sets: the NLU record and, unless it belongs on the question an
        unhelpful answer answered (`_mark_unhelpful`), its review entry, in the same write."""
        marked = cls._processed(message, decision)
        review = cls._review_of(decision) if decision is not None else None
        if review is not None and not (decision is not None and decision.kind is DecisionKind.ESCALATE
                                       and decision.reason == NOT_HELPFUL):
            marked["review"] = review
        return marked

    async def _mark_unhelpful(self, decision: Decision, message: Doc, session: AsyncClientSession) -> None:
        """ "No, that didn't help": the question the unhelpful answer answered goes to the trainers' inbox."""
        review = self._review_of(decision)
        target = await self._answered_question(message, session)
        if review is None or target is None:
            return
        review["reason"] = NOT_HELPFUL
        await self.store.messages.update_one({"_id": target}, {"$set": {"review": review}}, session=session)

    async def _answered_question(self, message: Doc, session: AsyncClientSession) -> ObjectId | None:
        """The customer's message before `message` in its conversation (the one the bot answered).

        Filtered on the conversation index's own fields, newest first, the rest checked here (a few messages
        back): secantusd-py walks a hinted index whole and plans other fields as a scan."""
        async for previous in self.store.messages.find(
                {"conversation_id": message["conversation_id"], "created_at": {"$lte": message["created_at"]}},
                projection={"_id": 1, "direction": 1}, sort=[("conversation_id", 1), ("created_at", -1)],
                session=session):
            if previous["_id"] != message["_id"] and previous.get("direction") == Direction.INBOUND.value:
                answered: ObjectId = previous["_id"]
                return answered
        return None

    async def recover(self, older_than_seconds: float = 0.0, limit: int = 500) -> int:
        """Re-process messages left pending (crash, bot or database outage). Returns how many it processed
        (not those whose lease another process holds).

        Skips what this process is processing itself: its leases are renewed, and a second task here
        would only repeat the work."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        cursor = self.store.messages.find(
            {"pending_bot": True, "created_at": {"$lte": cutoff}}, projection={"_id": 1},
            sort=[("created_at", 1)], limit=limit,
        )
        ids = [doc["_id"] async for doc in cursor if doc["_id"] not in self._held]
        processed = 0
        for message_id in ids:
            self._held[message_id] = time.monotonic()
            try:
                processed += await self._process_logged(message_id)
            finally:
                self._held.pop(message_id, None)
        return processed

    async def renew_leases(self, older_than_seconds: float | None = None) -> int:
        """Extend the lease of each message this process has been processing for a third of a lease or
        more (`older_than_seconds`); how many were still pending.

        One write for all of them, and none when nothing has been in flight that long (nearly always:
        a message takes milliseconds), so the message paths pay nothing for it. The write is a
        transaction (`Store.update_in_batches`): outside one, `bench load`'s 40 msg/s step stopped with
        the server retrying such an update for minutes against a processing transaction, most likely this one."""
        age = self.lease_seconds / 3 if older_than_seconds is None else older_than_seconds
        now = time.monotonic()
        held = [message_id for message_id, since in self._held.items() if now - since >= age]
        if not held:
            return 0
        until = utcnow() + timedelta(seconds=self.lease_seconds)
        return await self.store.update_in_batches(self.store.messages, "_id", held, {"$set": {"lease_until": until}},
                                                  condition={"pending_bot": True}, hint=BY_ID)

    async def run_recovery(self, interval: float = RECOVERY_SECONDS) -> None:
        """Background loop: messages whose processing died are retried after their lease."""
        while True:
            try:
                # a few at a time: under a backlog the oldest pending are this process's own, in hand
                await self.recover(older_than_seconds=self.lease_seconds, limit=SWEEP_BATCH)
            except PyMongoError as exc:
                log.warning("pipeline: recovery could not reach the database (%s)", exc)
            await asyncio.sleep(interval)

    async def run_lease_renewal(self) -> None:
        """Background loop: renew this process's leases every third of their length."""
        while True:
            await asyncio.sleep(max(self.lease_seconds / 3, 0.5))
            try:
                await self.renew_leases()
            except PyMongoError as exc:
                log.warning("pipeline: could not renew message leases (%s)", exc)


def _arrival(message: Doc, sets: Doc | None = None, answered: bool = False) -> Doc:
    """The conversation's update for a customer message's arrival, made with the other changes its processing
    makes (`$max`: a message processed late, by recovery, never moves the times back; `answered`: the bot's
    answer is the conversation's last message)."""
    fields = {**{f"channel_data.{k}": v for k, v in (message.get("reply_context") or {}).items()}, **(sets or {})}
    update: Doc = {"$max": {"last_message_at": utcnow() if answered else message["created_at"],
                            "last_customer_message_at": message["created_at"]}}
    if fields:
        update["$set"] = fields
    return update


def _turns(outcome: str) -> Doc:
    """The bot's turn counts; the history's fallback rate (hub.metricdefs) counts fallbacks per conversation."""
    return {"bot.turns": 1, "bot.fallbacks": 1} if outcome == "fallback" else {"bot.turns": 1}


def replace_conv(conversation: Doc, ticket: Doc) -> Doc:
    return {**conversation, "ticket_id": ticket["_id"]}


def _subject(message: Doc, conversation: Doc | None = None, reason: str | None = None) -> str:
    """A ticket's subject: the email's, or the start of the message; for a message that asks for a person
    (`ASKING_FOR_SOMEONE`), the start of the customer's question before it, so that the list reads "My card was
    declined", not "I want to talk to a human" (the question as kept by `Pipeline._bot_fields`)."""
    if message.get("subject"):
        return str(message["subject"])
    asked = ((conversation or {}).get("bot") or {}).get("last_question") if reason in ASKING_FOR_SOMEONE else None
    if asked:
        return str(asked)
    return subject_of(str(message.get("text", "")))


def _subject_for_now(message: Doc, conversation: Doc, reason: str | None) -> bool:
    """Whether the subject `_subject` gives is only the words that asked for a person ("I want to talk to a
    human", the first thing said): the customer's next typed message names the ticket instead."""
    return reason in ASKING_FOR_SOMEONE and not message.get("subject") \
        and not (conversation.get("bot") or {}).get("last_question")

