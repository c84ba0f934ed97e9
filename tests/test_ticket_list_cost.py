"""The desk's default view (active tickets, newest first) reads about a page, however many tickets are active.

An agent's list is loaded on every view change and refreshed while tickets arrive; reading every active
ticket for each load made it cost the live workload (at 400 active tickets the embedded server spent
95 ms per 100-ticket page, 43 ms at 100; `docs/performance.md`). Counted here with PyMongo command
monitoring on a real secantusd-py: the documents the server returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import monitoring

from benchmarks.ticket_list import insert
from hub.models import utcnow
from hub.store import Doc, ObjectId
from hub.ticketindex import TicketIndex, TicketQuery, index_fields
from tests.helpers import scratch_store


@dataclass
class Returned(monitoring.CommandListener):
    """Documents the server returned for reads of `tickets` (first batches and getMores)."""

    docs: int = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    #: Of those, the tickets read whole (with their subject), not only the fields that rank them.
    whole: int = 0

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        cursor = (event.reply or {}).get("cursor") or {}
        if str(cursor.get("ns", "")).endswith(".tickets"):
            batch = cursor.get("firstBatch") or cursor.get("nextBatch") or []
            self.docs += len(batch)
            self.whole += sum(1 for d in batch if "subject" in d)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def desk(mongo_uri: str) -> AsyncIterator[tuple[TicketIndex, Returned]]:
    returned = Returned()
    async with scratch_store(mongo_uri, "test_ticket_list_cost", [returned]) as store:
        yield TicketIndex(store), returned


def _ticket(number: int, status: str) -> Doc:
    now = utcnow()
    doc: Doc = {"_id": ObjectId(), "number": number, "contact_id": ObjectId(), "conversation_ids": [],
                "channel": "widget", "subject": f"question {number}", "queue": "general", "priority": "normal",
                "tags": [], "status": status, "assignee_id": None, "created_at": now,
                "last_customer_message_at": now, "sla": {}}
    return {**doc, **index_fields(doc, None, [])}


async def _seed(index: TicketIndex, statuses: list[str]) -> None:
    await insert(index.store, [_ticket(n, s) for n, s in enumerate(statuses, start=1)])
    await index.store.counters.update_one({"_id": "ticket"}, {"$set": {"seq": len(statuses)}}, upsert=True)


async def _pages(index: TicketIndex, size: int) -> list[list[int]]:
    pages, after = [], None
    while True:
        page = await index.search(TicketQuery(size=size, after=after))
        pages.append([t["number"] for t in page.tickets])
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


async def test_a_page_of_a_busy_desk_reads_a_page_not_every_active_ticket(desk: Any) -> None:
    index, returned = desk
    await _seed(index, ["solved"] * 50 + ["open"] * 400)  # the newest 400 are active

    page = await index.search(TicketQuery(size=25))

    assert [t["number"] for t in page.tickets] == list(range(450, 425, -1))
    assert page.next_cursor == 426
    assert returned.docs <= 26  # the page and one more; every active ticket was 400


async def test_a_quiet_desk_with_a_long_history_pages_every_active_ticket_in_order(desk: Any) -> None:
    index, returned = desk
    active = {3, 17, 40, 41, 90, 150, 151, 152, 300, 598}  # scattered among 600 tickets, the rest closed
    await _seed(index, ["pending" if n in active else "closed" for n in range(1, 601)])

    pages = await _pages(index, size=4)

    assert pages == [[598, 300, 152, 151], [150, 90, 41, 40], [17, 3]]
    # each page: a few windows of numbers, then every remaining active ticket below them (bounded by the
    # live desk), never the closed history
    assert returned.docs <= 3 * len(active)


async def test_the_oldest_waiting_first_reads_the_ranks_of_the_desk_and_a_page_of_tickets(desk: Any) -> None:
    """An order that is not the ticket number reads every active ticket, but only the fields that rank them;
    the page's tickets are read whole after (at 1,000 active, half the server's time: docs/performance.md)."""
    index, returned = desk
    await _seed(index, ["solved"] * 50 + ["open"] * 200)

    page = await index.search(TicketQuery(size=25, sort="oldest_waiting"))

    assert [t["number"] for t in page.tickets] == list(range(51, 76))  # waiting since they were made
    assert all("subject" in t for t in page.tickets)
    assert returned.whole == 25  # every active ticket was read whole: 200
    assert returned.docs <= 200 + 25
