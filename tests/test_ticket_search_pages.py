"""The desk's word search, paged to the end, finds exactly the tickets a brute-force filter of every ticket finds.

Since 2026-12-04 a search seeded by a word reads the ticket's word documents (`ticket_words`) for ticket numbers,
in windows of numbers, and then the tickets (hub.ticketindex). Here 600 tickets shaped as the desk benchmark
makes them (`benchmarks/ticket_list.py`: 400 solved or closed, 200 active, random words, names, emails and
phones) on a real secantusd-py: every page of each search, joined, equals the filter of all tickets in
newest-first order, with nothing repeated or missed at the window and page edges.
"""

from __future__ import annotations

import random

from benchmarks.ticket_list import insert, ticket
from hub.store import Doc
from hub.ticketindex import ACTIVE, TicketIndex, TicketQuery, query_words
from tests.helpers import scratch_store

ALL = ["new", "open", "pending", "solved", "closed"]


async def paged(index: TicketIndex, q: TicketQuery) -> list[int]:
    numbers: list[int] = []
    after = None
    while True:
        page = await index.search(TicketQuery(**{**q.__dict__, "after": after}))
        numbers += [t["number"] for t in page.tickets]
        if page.next_cursor is None:
            return numbers
        after = page.next_cursor


def brute_force(tickets: list[Doc], q: TicketQuery) -> list[int]:
    words = set(query_words(q.text))
    statuses = q.statuses or list(ACTIVE)
    return sorted((t["number"] for t in tickets if words <= set(t["words"]) and t["status"] in statuses),
                  reverse=True)


async def test_every_page_of_a_word_search_joins_to_the_filter_of_all_tickets(mongo_uri: str) -> None:
    rng = random.Random(11)
    tickets = [ticket(n, n > 400, rng) for n in range(1, 601)]
    async with scratch_store(mongo_uri, "test_ticket_search_pages") as store:
        await insert(store, tickets)
        await store.counters.update_one({"_id": "ticket"}, {"$set": {"seq": len(tickets)}}, upsert=True)
        index = TicketIndex(store)
        queries = [TicketQuery(text="refund", size=7), TicketQuery(text="order word7", size=5),
                   TicketQuery(text="invoice", statuses=["solved", "closed"], size=25),
                   TicketQuery(text="refund", statuses=ALL, size=40),
                   TicketQuery(text="c321@example.com", statuses=ALL),
                   TicketQuery(text="#512", statuses=ALL)]
        for q in queries:
            want = brute_force(tickets, q)
            assert want, q  # each query matches something, so an empty answer fails
            assert await paged(index, q) == want, q
