"""Contact search and the inbound identity lookup read the same documents at 1,000 and at 20,000 contacts.

benchmarks/contact_search.py fills the contacts collection twice (to 1,000, then to 20,000) and counts the
documents each query really read from the server (a deterministic measure, unlike time on a shared
machine); its full run with realistic contacts is quoted in docs/contacts.md. Here the contacts carry only
the fields and search keys the queries read (a name, an identity, an address), so the fill is quicker. Each
search shape is also explained on the server: none may be planned as a collection scan.
"""

from __future__ import annotations

from pymongo import AsyncMongoClient

from benchmarks.contact_search import grew, measure
from hub.contactbook import BY_SEARCH_KEYS


async def test_contact_search_reads_as_much_at_20000_contacts_as_at_1000(mongo_uri: str) -> None:
    rows = await measure(mongo_uri, db_name="test_contact_search_cost", small=1000, large=20000, slim=True)
    for row in rows:
        print(row)
    assert {r["query"] for r in rows} >= {"search_name_prefix_common", "search_first_and_last_name",
                                          "search_second_page", "search_no_match", "resolve_known_sender"}
    grown = [r for r in rows if grew(r)]
    assert not grown, f"reads grow with the collection: {grown}"
    found = {r["query"]: r["docs_large"] for r in rows}
    assert found["search_name_prefix_common"] > 20 and found["search_first_and_last_name"] > 2  # real matches
    assert found["search_no_match"] <= 1  # a miss reads nothing


async def test_the_search_query_is_planned_on_the_search_index(mongo_uri: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
    db = client["test_contact_search_plan"]
    try:
        await db.contacts.create_index(BY_SEARCH_KEYS)
        await db.contacts.insert_many([{"number": i, "search_keys": ["ana", f"k{i}"]} for i in range(50)])
        for flt in ({"search_keys": "ana", "number": {"$lt": 40, "$gte": 8}}, {"search_keys": "k7"}):
            plan = (await db.command({"explain": {"find": "contacts", "filter": flt, "sort": dict(BY_SEARCH_KEYS)}}))
            assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"]), plan
    finally:
        await client.drop_database("test_contact_search_plan")
        await client.close()
