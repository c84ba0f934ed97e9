"""The desk list's fields kept by each ticket write (hub.ticketindex `index_update`) are what a full
`TicketIndex.refresh` computes from the ticket, its contact and every message, after every change."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from hub.hub import Hub
from hub.models import InboundMessage, Sender, ThreadHints, utcnow
from hub.store import Doc, ObjectId, ReturnDocument
from hub.ticketindex import ACTIVE, INDEX_FIELDS, MAX_WORDS, WORD_FIELDS, applied, index_fields, index_update
from switchboard.bootstrap import Runtime

ANA = Sender("visitor-ana", display_name="Ana Lima")


def index_of(ticket: Doc) -> Doc:
    """The ticket's index fields, words as sets (an `$addToSet` appends where a refresh sorts)."""
    return {k: set(ticket.get(k) or []) if k in WORD_FIELDS else ticket.get(k) for k in INDEX_FIELDS}


async def indexed_words(hub: Hub, ticket_id: ObjectId) -> tuple[set[str], set[str], int]:
    """What the ticket's word documents index (`ticket_words`): its words, its live words, how many documents."""
    docs = await hub.store.ticket_words.find({"ticket_id": ticket_id}).to_list()
    return ({w for d in docs for w in d["words"]}, {w for d in docs for w in d["live_words"]}, len(docs))


async def live_words(hub: Hub, ticket_id: ObjectId) -> set[str]:
    """The ticket's words a search over the live desk finds it by."""
    return (await indexed_words(hub, ticket_id))[1]


async def assert_same_as_refresh(hub: Hub, ticket_id: ObjectId, step: str) -> Doc:
    """The fields the paths left equal the fields a full refresh computes (refresh rewrites nothing), and the
    word documents the paths wrote index every word of the ticket, live exactly while it is active."""
    kept = await hub.store.tickets.find_one({"_id": ticket_id})
    assert kept is not None
    words, live, _ = await indexed_words(hub, ticket_id)
    assert set(kept["words"]) <= words, (step, set(kept["words"]) - words)
    assert live == (words if kept["status"] in ACTIVE else set()), step
    await hub.tickets.index.refresh(ticket_id)
    fresh = await hub.store.tickets.find_one({"_id": ticket_id})
    assert fresh is not None
    assert index_of(kept) == index_of(fresh), step
    assert kept["words"] and kept["words_live"] is (kept["status"] in ACTIVE), step
    assert await indexed_words(hub, ticket_id) == (set(kept["words"]), live and set(kept["words"]), 1), step
    return kept


async def say(hub: Hub, thread: str, text: str, who: Sender = ANA, token: str | None = None) -> None:
    """A customer message on the widget (`token`: continuing that conversation, as the widget's link does)."""
    await hub.ingest(InboundMessage(channel="widget", external_id=uuid.uuid4().hex, thread_key=thread,
                                    sender=who, text=text, hints=ThreadHints(conversation_token=token)))
    await hub.pipeline.drain()


async def escalated(hub: Hub, text: str, who: Sender) -> ObjectId:
    """The ticket a new widget customer's request for a person opened."""
    thread = uuid.uuid4().hex
    await say(hub, thread, text, who)
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation.get("ticket_id") is not None
    return conversation["ticket_id"]


async def test_every_change_keeps_the_fields_a_refresh_computes(client: TestClient[Any, Any],
                                                                agent: dict[str, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    thread = uuid.uuid4().hex
    await say(hub, thread, "What are your opening hours")  # the bot answers: its words are the ticket's too
    await say(hub, thread, "My parcel with the blue kettle arrived broken, I want to talk to a human")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation.get("ticket_id") is not None
    tid = conversation["ticket_id"]
    ticket = await assert_same_as_refresh(hub, tid, "escalated")
    assert {"kettle", "hours", "ana", "lima"} <= set(ticket["words"])

    async def post(path: str, body: Doc) -> None:
        resp = await client.post(f"/api/tickets/{tid}/{path}", json=body, headers=headers)
        assert resp.status in (200, 201), await resp.text()

    await say(hub, thread, "the handle came off too")
    ticket = await assert_same_as_refresh(hub, tid, "customer message")
    assert "handle" in await live_words(hub, tid)
    await post("reply", {"text": "Sorry about the kettle, a replacement ships tomorrow"})
    ticket = await assert_same_as_refresh(hub, tid, "agent reply")
    assert ticket["status"] == "open" and f"assignee:{agent['account']['_id']}" in ticket["keys"]
    await post("reply", {"text": "checked the warehouse stock", "private": True})
    await assert_same_as_refresh(hub, tid, "private note")
    resp = await client.patch(f"/api/tickets/{tid}", json={"tags": ["vip"], "priority": "high"}, headers=headers)
    assert resp.status == 200, await resp.text()
    ticket = await assert_same_as_refresh(hub, tid, "tags and priority")
    assert "active.tag:vip" in ticket["keys"]
    await post("transfer", {"queue": "returns", "note": "customs paperwork needed"})
    ticket = await assert_same_as_refresh(hub, tid, "transfer")
    assert "queue:returns" in ticket["keys"] and "customs" in ticket["words"]
    await post("assign", {"agent_id": "me"})
    await assert_same_as_refresh(hub, tid, "assign")
    await post("status", {"status": "pending"})
    await assert_same_as_refresh(hub, tid, "pending")
    await say(hub, thread, "any news about the voucher")
    ticket = await assert_same_as_refresh(hub, tid, "customer reply to a pending ticket")
    assert ticket["status"] == "open" and "voucher" in await live_words(hub, tid)
    await post("status", {"status": "solved"})
    ticket = await assert_same_as_refresh(hub, tid, "solved")
    assert await live_words(hub, tid) == set() and "voucher" in ticket["words"] and ticket["sla_next"] is None
    await say(hub, thread, "it broke again, reopening", token=conversation["token"])
    ticket = await assert_same_as_refresh(hub, tid, "reopened by the customer")
    assert ticket["status"] == "open" and {"reopening", "kettle"} <= await live_words(hub, tid)
    # the same customer escalating a second chat: it joins the active ticket with its words
    other = uuid.uuid4().hex
    await say(hub, other, "talk to a human about my invoice please")
    ticket = await assert_same_as_refresh(hub, tid, "a second conversation")
    assert len(ticket["conversation_ids"]) == 2 and "invoice" in await live_words(hub, tid)
    await post("assign", {"agent_id": None})
    ticket = await assert_same_as_refresh(hub, tid, "unassigned")
    assert "active.assignee:none" in ticket["keys"]
    # "Send and solve" on a pending ticket: the reply, the SLA clock's resume and the solve in one write
    await post("status", {"status": "pending"})
    await post("reply", {"text": "the refund for the invoice went out", "status": "solved"})
    ticket = await assert_same_as_refresh(hub, tid, "reply and solve")
    assert ticket["status"] == "solved" and "pending_since" not in ticket and ticket["csat_asked"] is True
    assert "refund" in ticket["words"] and await live_words(hub, tid) == set()


async def test_an_abandoned_ticket_keeps_the_fields_a_refresh_computes(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    thread = uuid.uuid4().hex
    await say(hub, thread, "I want to talk to a human", Sender("visitor-bo", display_name="Bo"))
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None
    assert await hub.tickets.abandon(conversation["ticket_id"])
    ticket = await assert_same_as_refresh(hub, conversation["ticket_id"], "abandoned")
    assert "status:closed" in ticket["keys"] and await live_words(hub, conversation["ticket_id"]) == set()


def test_past_max_words_the_alphabetically_first_are_kept_as_a_refresh_keeps_them() -> None:
    now = utcnow()
    base: Doc = {"number": 7, "subject": "", "status": "open", "queue": "general", "channel": "widget",
                 "created_at": now, "last_customer_message_at": now, "sla": {}}
    texts = [" ".join(f"w{i:05d}" for i in range(k, MAX_WORDS + 400, 3)) for k in range(3)]
    ticket = {**base, **index_fields(base, None, texts[:2])}
    for status in ("open", "solved"):
        update = index_update(ticket, {"$set": {"status": status}}, [texts[2]])
        after = applied(ticket, update)
        full = index_fields({**base, "status": status}, None, texts)
        assert len(after["words"]) == MAX_WORDS
        assert {k: sorted(after[k]) if k in WORD_FIELDS else after[k] for k in full} == full, status


async def test_a_write_folded_from_an_older_copy_is_put_right_by_settle(runtime: Runtime) -> None:
    """A path that read the ticket before its transaction (set_status, edit, transfer, routing) checks the
    document its write returns: a change that landed in between does not leave stale keys behind."""
    hub = runtime.hub
    assert hub is not None
    tid = await escalated(hub, "I want to talk to a human", Sender("visitor-cy", display_name="Cy"))
    older = await hub.store.tickets.find_one({"_id": tid})
    assert older is not None
    someone = ObjectId()
    await hub.tickets.assign(tid, someone, None)  # lands between the read and the write below
    written = await hub.store.tickets.find_one_and_update(
        {"_id": tid}, index_update(older, {"$set": {"priority": "high"}}), return_document=ReturnDocument.AFTER)
    assert "active.assignee:none" in written["keys"]  # folded from the older copy: stale
    settled = await hub.tickets.index.settle(written)
    assert f"active.assignee:{someone}" in settled["keys"] and "active.priority:high" in settled["keys"]
    await assert_same_as_refresh(hub, tid, "settled")


async def test_a_status_change_under_an_older_copy_moves_the_live_words_with_it(runtime: Runtime) -> None:
    """The older copy says active, the ticket was solved in between, and the write reopens it: the copy saw no
    change of status, so `settle` (which finds `words_live` no longer following the status) makes the word
    documents live again."""
    hub = runtime.hub
    assert hub is not None
    tid = await escalated(hub, "I want to talk to a human about my bicycle", Sender("visitor-di", display_name="Di"))
    older = await hub.store.tickets.find_one({"_id": tid})
    assert older is not None and older["status"] == "new"
    await hub.tickets.set_status(tid, "solved", None)  # lands between the read and the write below
    assert "bicycle" not in await live_words(hub, tid)
    change = index_update(older, {"$set": {"status": "open"}})
    written = await hub.store.tickets.find_one_and_update({"_id": tid}, change, return_document=ReturnDocument.AFTER)
    await hub.tickets.index.record(older, written)
    assert "bicycle" not in await live_words(hub, tid)  # the copy saw no change: nothing moved yet
    await hub.tickets.index.settle(written)
    assert "bicycle" in await live_words(hub, tid)
    await assert_same_as_refresh(hub, tid, "reopened under an older copy")
