"""Contact search and the contact record's lookups at 1,000 and at 20,000 contacts.

    .venv/bin/python benchmarks/contact_search.py [--small 1000] [--large 20000]

Every query must read about the same number of documents at both sizes: contact search seeds from
one key of the `(search_keys, number)` index and walks back in windows of contact numbers
(hub.contactbook), the channel-identity lookup of every inbound message uses the identity index.
Prints one JSON line per query: documents the server returned for it and the fastest of five runs (ms)
at each size, and their ratios. Exits 1 if a query read more than 1.5x the documents at the large size
(the deterministic measure; times on a shared machine are noisy, shown as well). Runs a private
secantusd-py server in a temporary directory unless given a MongoDB URI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.docs_read import DocsRead
from hub.audit import AuditLog
from hub.contactbook import ContactBook, search_keys
from hub.contacts import ContactService
from hub.models import Sender, utcnow
from hub.store import ObjectId, Store
from hub.ticketindex import TicketIndex

FIRST = ["Ana", "Anna", "Andre", "Ben", "Carla", "Dana", "Emil", "Fatima", "Greta", "Hugo", "Ines", "Jonas",
         "Kemal", "Lena", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wim", "Yara"]
LAST = ["Silva", "Smith", "Nowak", "Garcia", "Schmidt", "Rossi", "Kowalski", "Jensen", "Novak", "Dubois",
        "Meyer", "Costa", "Yilmaz", "Horvat", "Berg", "Lind", "Moreau", "Santos", "Weber", "Ito"]
MAX_RATIO = 1.5
#: A search page (hub.contactbook.ContactBook.search's default size): a query that fills its page reads this many.
PAGE = 20
BATCH = 1000


def contact(number: int, rng: random.Random, slim: bool = False) -> dict[str, Any]:
    """A contact as the hub stores it; `slim`: only the fields the measured queries read (a faster fill)."""
    if slim:
        doc = {"_id": ObjectId(), "number": number, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
               "identities": [{"channel": "email", "external_id": f"c{number}@example.com"}],
               "emails": [f"c{number}@example.com"]}
        first, last = doc["name"].lower().split()
        wanted = {first, first[:2], last, f"{first} {last}", str(number)}  # the keys the queries below seed from
        return {**doc, "search_keys": [k for k in search_keys({"name": doc["name"], "number": number}) if k in wanted]}
    now = utcnow()
    channel = rng.choice(["email", "widget", "sms", "telegram"])
    email = f"c{number}@example.com"
    phone = f"+4930{number:07d}"
    external = {"email": email, "sms": phone, "widget": f"shop:visitor:{number:x}", "telegram": str(10_000 + number)}
    doc: dict[str, Any] = {
        "_id": ObjectId(), "number": number, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "emails": [email], "phones": [phone],  # the address a channel gave or an agent added
        "identities": [{"channel": channel, "external_id": external[channel], "verified": False, "added_at": now}],
        "attributes": {}, "tags": [], "notes": [], "created_at": now, "updated_at": now,
    }
    doc["name_lower"] = doc["name"].lower()
    doc["search_keys"] = search_keys(doc)
    return doc


def queries(book: ContactBook, service: ContactService) -> dict[str, Callable[[], Awaitable[Any]]]:
    async def second_page() -> Any:
        first = await book.search("an", 20)
        return await book.search("an", 20, first.next_cursor)

    return {
        "search_email": lambda: book.search("c500@example.com"),
        "search_phone_typed": lambda: book.search("+49 30 0000500"),
        "search_phone_ending": lambda: book.search("0000500"),
        "search_name_prefix_common": lambda: book.search("an"),
        "search_first_and_last_name": lambda: book.search("ana silva"),
        "search_second_page": second_page,
        "search_no_match": lambda: book.search("zzzq"),
        "search_number": lambda: book.search("500"),
        "resolve_known_sender": lambda: service.resolve("email", Sender("c500@example.com")),
    }


async def timed(read: DocsRead, call: Callable[[], Awaitable[Any]], runs: int = 5) -> tuple[int, float]:
    """(documents read by one run, fastest run in ms)."""
    samples = []
    docs = 0
    for _ in range(runs):
        before = read.count
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
        docs = read.count - before
    return docs, min(samples)


async def measure(uri: str, db_name: str = "contact_search", small: int = 1000, large: int = 20000,
                  slim: bool = False) -> list[dict[str, Any]]:
    read = DocsRead()
    store = Store(uri, db_name, event_listeners=[read])
    rng = random.Random(3)
    try:
        await store.client.drop_database(db_name)
        await store.ensure_indexes()
        book = ContactBook(store, TicketIndex(store), AuditLog(store))
        service = ContactService(store)
        results: dict[int, dict[str, tuple[int, float]]] = {}
        number = 0
        for size in (small, large):
            while number < size:
                batch = [contact(number + i + 1, rng, slim) for i in range(min(BATCH, size - number))]
                await store.contacts.insert_many(batch)
                number += len(batch)
            await store.counters.update_one({"_id": "contact"}, {"$set": {"seq": number}}, upsert=True)
            results[size] = {name: await timed(read, call) for name, call in queries(book, service).items()}
        await store.client.drop_database(db_name)
    finally:
        await store.close()
    lines = []
    for name in results[small]:
        (docs_a, ms_a), (docs_b, ms_b) = results[small][name], results[large][name]
        lines.append({"bench": "contact_search", "query": name, "small": small, "large": large,
                      "docs_small": docs_a, "docs_large": docs_b, "docs_ratio": round(docs_b / max(docs_a, 1), 2),
                      "ms_small": round(ms_a, 2), "ms_large": round(ms_b, 2),
                      "ms_ratio": round(ms_b / ms_a, 2) if ms_a else None})
    return lines


async def run(uri: str | None, small: int, large: int) -> list[dict[str, Any]]:
    if uri:
        return await measure(uri, small=small, large=large)
    from switchboard.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        started = await server.start()
        try:
            return await measure(started, small=small, large=large)
        finally:
            server.stop()


def grew(line: dict[str, Any]) -> bool:
    """Read more at the large size than at the small one, beyond a full page (more matches fill the page)."""
    return bool(line["docs_large"] > max(MAX_RATIO * line["docs_small"], PAGE + 5))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri", nargs="?")
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=20000)
    args = parser.parse_args()
    lines = asyncio.run(run(args.uri, args.small, args.large))
    for line in lines:
        print(json.dumps(line))
    grown = [line["query"] for line in lines if grew(line)]
    if grown:
        print(json.dumps({"bench": "contact_search", "grew_with_the_collection": grown}))
        sys.exit(1)


if __name__ == "__main__":
    main()
