"""The contact record over the desk API: search, the page, edits, notes, the timeline and merges."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Role, Sender
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.conftest import http_client, login
from tests.test_ticket_list import listed, open_ticket


@pytest.fixture
async def supervisor(runtime: Runtime) -> AsyncIterator[tuple[TestClient[Any, Any], str]]:
    """A second desk session: a supervisor (who may merge contacts)."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sam", "sam's long password", name="Sam Boss", roles=[Role.SUPERVISOR])
    async with http_client(runtime) as other:
        yield other, await login(other, "sam", "sam's long password")


async def say(runtime: Runtime, channel: str, who: Sender, text: str, thread: str | None = None) -> str:
    assert runtime.hub is not None
    result = await runtime.hub.ingest(InboundMessage(channel=channel, external_id=uuid.uuid4().hex,
                                                     thread_key=thread or who.external_id, sender=who, text=text))
    await runtime.hub.pipeline.drain()
    return result.contact_id


async def found(client: TestClient[Any, Any], q: str) -> list[str]:
    resp = await client.get("/api/contacts", params={"q": q})
    assert resp.status == 200, await resp.text()
    return [c["display_name"] for c in (await resp.json())["contacts"]]


async def test_search_by_name_prefix_email_phone_and_channel_name(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime) -> None:
    await say(runtime, "email", Sender("ana.lima@example.com", display_name="Ana Lima"), "hello")
    await say(runtime, "sms", Sender("+4915112345678"), "hi there")
    await say(runtime, "telegram", Sender("193847", display_name="Tomasz Nowak"), "dzien dobry")
    await say(runtime, "widget", Sender("demo:visitor:Bpoza3o70knmaSI4", display_name="Ana Souza"), "hey")
    assert sorted(await found(client, "ana")) == ["Ana Lima", "Ana Souza"]
    assert await found(client, "lim") == ["Ana Lima"]  # a prefix, as it is typed
    assert await found(client, "ana lima") == ["Ana Lima"]  # every word must match
    assert await found(client, "an lima") == ["Ana Lima"]  # the first word still being a prefix
    assert await found(client, "ANA.LIMA@example.com") == ["Ana Lima"]
    assert await found(client, "+49 151 1234 5678") == ["+4915112345678"]
    assert await found(client, "12345678") == ["+4915112345678"]  # the end of the number
    assert await found(client, "nowak") == ["Tomasz Nowak"]
    assert await found(client, "zz-nobody") == []
    assert await found(client, "Bpoza3o70knmaSI4") == []  # internal ids are not search keys


async def test_search_pages_with_a_cursor(client: TestClient[Any, Any], agent: dict[str, Any],
                                          runtime: Runtime) -> None:
    for i in range(5):
        await say(runtime, "email", Sender(f"smith{i}@example.com", display_name=f"Jo Smith {i}"), "hello")
    await say(runtime, "email", Sender("jo@example.com", display_name="Jo Smithers"), "hello")
    everyone = ["Jo Smithers", *[f"Jo Smith {i}" for i in reversed(range(5))]]  # "smith" starts "Smithers" too
    # two name words: the first whole, the second its beginning ("smith jo" is not "Smithers, Jo")
    for q, expected in (("smith", everyone), ("jo smith", everyone), ("smith jo", everyone[1:])):
        seen: list[str] = []
        after = None
        while True:
            params = {"q": q, "size": "2", **({"after": after} if after else {})}
            body = await (await client.get("/api/contacts", params=params)).json()
            seen += [c["display_name"] for c in body["contacts"]]
            after = body["next"]
            if after is None:
                break
        assert seen == expected, q  # newest first, each once, across pages
    assert await found(client, "smithers") == ["Jo Smithers"]
    for bad in ({"q": "x", "size": "0"}, {"q": "smith", "after": "p-1"}, {"q": "smith", "after": "9" * 30}):
        assert (await client.get("/api/contacts", params=bad)).status == 400


async def test_the_page_shows_handles_never_internal_ids(client: TestClient[Any, Any], agent: dict[str, Any],
                                                         runtime: Runtime) -> None:
    visitor = "demo:visitor:Bpoza3o70knmaSI4"
    contact_id = await say(runtime, "widget", Sender(visitor), "hello")
    await say(runtime, "telegram", Sender("193847", display_name="Tomasz"), "hi")
    resp = await client.get(f"/api/contacts/{contact_id}")
    assert resp.status == 200
    text = await resp.text()
    body = await resp.json()
    assert visitor not in text and "Bpoza3o70knmaSI4" not in text
    assert body["contact"]["display_name"].startswith("Visitor ")
    assert body["contact"]["identities"] == [{"channel": "widget", "channel_label": "Web chat",
                                              "handle": "visitor on demo", "verified": False,
                                              "added_at": body["contact"]["identities"][0]["added_at"]}]
    tg = (await client.get("/api/contacts", params={"q": "tomasz"}))
    tg_id = (await tg.json())["contacts"][0]["id"]
    tg_page = await (await client.get(f"/api/contacts/{tg_id}")).text()
    assert "193847" not in tg_page and '"handle": "Tomasz"' in tg_page
    assert (await client.get(f"/api/contacts/{ObjectId()}")).status == 404
    assert (await client.get("/api/contacts/not-an-id")).status == 404


async def test_edit_is_validated_audited_and_reaches_the_ticket_list(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime) -> None:
    ticket = await open_ticket(runtime, "sms", Sender("+4915100000001"), "My order is late")
    await say(runtime, "email", Sender("taken@example.com", display_name="Someone Else"), "hi")
    url = f"/api/contacts/{ticket['contact_id']}"
    headers = {"X-CSRF-Token": agent["csrf"]}
    resp = await client.patch(url, json={"name": "Greta  Garbo", "email": "Greta@Example.org", "phone": "+49 151 7",
                                         "attributes": {"plan": "gold"}, "tags": ["VIP"]}, headers=headers)
    assert resp.status == 400 and "phone" in (await resp.json())["error"]
    resp = await client.patch(url, json={"name": "Greta  Garbo", "email": "Greta@Example.org",
                                         "phone": "+49 151 7000 0000", "attributes": {"plan": "gold"},
                                         "tags": ["VIP"]}, headers=headers)
    assert resp.status == 200, await resp.text()
    contact = (await resp.json())["contact"]
    assert contact["name"] == "Greta Garbo" and contact["emails"] == ["greta@example.org"]
    assert contact["phones"] == ["+4915170000000", "+4915100000001"]  # the number they wrote from stays
    assert contact["attributes"] == {"plan": "gold"} and contact["tags"] == ["vip"]
    assert await listed(client, "q=garbo") == [ticket["number"]]  # the ticket list follows the contact
    # an address another contact holds: merge them instead
    resp = await client.patch(url, json={"email": "taken@example.com"}, headers=headers)
    assert resp.status == 409 and "merge" in (await resp.json())["error"]
    for bad in ({"email": "not-an-address"}, {"attributes": {"Bad Key": "x"}}, {"tags": ["a" * 41]}, {"nope": 1}):
        resp = await client.patch(url, json=bad, headers=headers)
        assert resp.status in (400, 422), (bad, resp.status)
    resp = await client.patch(url, json={"attributes": {"plan": None}}, headers=headers)
    assert (await resp.json())["contact"]["attributes"] == {}
    assert runtime.hub is not None
    entries = await runtime.hub.store.audit.find({"action": "contact.updated"}, sort=[("at", 1)]).to_list()
    assert len(entries) == 2 and entries[0]["actor"]["username"] == "alice"
    assert entries[0]["details"] == {"fields": ["name", "emails", "phones", "attributes", "tags"],
                                     "attributes": ["plan"]}
    assert entries[0]["target"] == {"type": "contact", "id": ticket["contact_id"]}
    assert "Garbo" not in str(entries)  # which fields, never the values: the trail outlives an erasure


async def test_private_notes_carry_author_and_time(client: TestClient[Any, Any], agent: dict[str, Any],
                                                   runtime: Runtime) -> None:
    contact_id = await say(runtime, "email", Sender("note@example.com"), "hello")
    headers = {"X-CSRF-Token": agent["csrf"]}
    for text in ("Prefers phone calls", "Angry about invoice 77"):
        resp = await client.post(f"/api/contacts/{contact_id}/notes", json={"text": text}, headers=headers)
        assert resp.status == 201
    assert (await client.post(f"/api/contacts/{contact_id}/notes", json={"text": ""}, headers=headers)).status == 422
    notes = (await (await client.get(f"/api/contacts/{contact_id}")).json())["contact"]["notes"]
    assert [n["text"] for n in notes] == ["Angry about invoice 77", "Prefers phone calls"]  # newest first
    assert {n["author_name"] for n in notes} == {"Alice"} and all(n["at"] for n in notes)


async def test_the_timeline_pages_through_every_message_on_every_channel(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    ticket = await open_ticket(runtime, "email", Sender("tim@example.com", display_name="Tim"), "Refund please")
    headers = {"X-CSRF-Token": agent["csrf"]}
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "On it"}, headers=headers)
    await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "checked", "private": True},
                      headers=headers)
    # the same person on the web chat, signed in with the same (verified) address: one contact
    await say(runtime, "widget", Sender("demo:user:tim", email="tim@example.com", email_verified=True), "hi again")
    await say(runtime, "widget", Sender("demo:user:tim", email="tim@example.com", email_verified=True), "still there?")
    conversations = await runtime.hub.store.conversations.find({"contact_id": ticket["contact_id"]}).to_list()
    assert {c["channel"] for c in conversations} == {"email", "widget"}
    stored = await runtime.hub.store.messages.find(
        {"conversation_id": {"$in": [c["_id"] for c in conversations]}}).to_list()
    seen: list[dict[str, Any]] = []
    before = None
    while True:
        params = {"size": "3", **({"before": before} if before else {})}
        resp = await client.get(f"/api/contacts/{ticket['contact_id']}/timeline", params=params)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert len(body["items"]) <= 3
        seen += body["items"]
        before = body["next"]
        if before is None:
            break
    assert sorted(m["id"] for m in seen) == sorted(str(m["_id"]) for m in stored)
    assert [m["created_at"] for m in seen] == sorted((m["created_at"] for m in seen), reverse=True)
    assert {m["channel_label"] for m in seen} == {"Email", "Web chat"}
    email_items = [m for m in seen if m["channel"] == "email"]
    assert all(m["ticket"]["number"] == ticket["number"] for m in email_items)
    assert any(m["private"] and m["author"]["name"] == "Alice" for m in seen)
    resp = await client.get(f"/api/contacts/{ticket['contact_id']}/timeline", params={"before": "garbage"})
    assert resp.status == 400


async def test_a_supervisor_merges_two_contacts_and_everything_moves(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime,
        supervisor: tuple[TestClient[Any, Any], str]) -> None:
    hub = runtime.hub
    assert hub is not None
    boss, boss_csrf = supervisor
    by_email = await open_ticket(runtime, "email", Sender("mia@example.com", display_name="Mia Wong"),
                                 "Where is my parcel")
    by_widget = await open_ticket(runtime, "widget", Sender("demo:visitor:mia-browser", display_name="mia"),
                                  "Hello, parcel question")
    survivor, other = by_email["contact_id"], by_widget["contact_id"]
    await client.post(f"/api/contacts/{other}/notes", json={"text": "wrote from the shop"},
                      headers={"X-CSRF-Token": agent["csrf"]})
    # an agent may not merge
    resp = await client.post(f"/api/contacts/{survivor}/merge", json={"other_id": str(other)},
                             headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 403
    plan = await (await boss.get(f"/api/contacts/{survivor}/merge", params={"other": str(other)})).json()
    assert plan["conflict"] is None and plan["moves"] == {"identities": 1, "conversations": 1, "tickets": 1}
    before = {m["_id"] for m in await hub.store.messages.find({}).to_list()}
    async with client.ws_connect("/api/desk/ws") as desk:
        resp = await boss.post(f"/api/contacts/{survivor}/merge", json={"other_id": str(other)},
                               headers={"X-CSRF-Token": boss_csrf})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["moved"] == {"tickets": 1, "conversations": 1}
        # the desk showing the moved ticket hears that it changed customer
        while True:
            frame = await asyncio.wait_for(desk.receive_json(), timeout=10)
            if frame.get("type") == "ticket" and frame["ticket"]["id"] == str(by_widget["_id"]) \
                    and frame["ticket"]["contact_id"] == str(survivor):
                break
    # everything now belongs to the survivor; no message lost
    assert {m["_id"] for m in await hub.store.messages.find({}).to_list()} == before
    for collection in (hub.store.tickets, hub.store.conversations, hub.store.messages):
        assert await collection.count_documents({"contact_id": other}) == 0
    assert (await hub.store.tickets.find_one({"_id": by_widget["_id"]}) or {})["contact_id"] == survivor
    # the old id resolves to the survivor, which shows both identities, the note and one timeline
    body = await (await client.get(f"/api/contacts/{other}")).json()
    assert body["contact"]["id"] == str(survivor) and body["redirected_from"]["id"] == str(other)
    assert {i["channel"] for i in body["contact"]["identities"]} == {"email", "widget"}
    assert [n["text"] for n in body["contact"]["notes"]] == ["wrote from the shop"]
    assert {t["number"] for t in body["tickets"]} == {by_email["number"], by_widget["number"]}
    timeline = await (await client.get(f"/api/contacts/{survivor}/timeline", params={"size": "100"})).json()
    assert {m["channel"] for m in timeline["items"]} == {"email", "widget"}
    # ticket pages keep working and name the survivor; the list finds the moved ticket by the survivor's address
    detail = await (await client.get(f"/api/tickets/{by_widget['_id']}")).json()
    assert detail["contact"]["display_name"] == "Mia Wong"
    assert by_widget["number"] in await listed(client, "q=mia@example.com")
    # the tombstone keeps its history and is found by nobody
    tombstone = await hub.store.contacts.find_one({"_id": other})
    assert tombstone is not None and tombstone["merged_into"] == survivor
    assert tombstone["merged_snapshot"]["identities"][0]["external_id"] == "demo:visitor:mia-browser"
    assert [c["id"] for c in (await (await client.get("/api/contacts", params={"q": "mia"})).json())["contacts"]] \
        == [str(survivor)]
    # the next message from the merged-away widget visitor lands on the survivor
    assert await say(runtime, "widget", Sender("demo:visitor:mia-browser"), "me again") == str(survivor)
    # audited, and a second merge is refused
    audit = await hub.store.audit.find({"action": "contact.merged"}).to_list()
    assert len(audit) == 1 and audit[0]["actor"]["username"] == "sam" and audit[0]["target"]["id"] == survivor
    again = await boss.post(f"/api/contacts/{survivor}/merge", json={"other_id": str(other)},
                            headers={"X-CSRF-Token": boss_csrf})
    assert again.status == 409 and "already" in (await again.json())["error"]
    itself = await boss.post(f"/api/contacts/{survivor}/merge", json={"other_id": str(survivor)},
                             headers={"X-CSRF-Token": boss_csrf})
    assert itself.status == 400


async def test_two_different_verified_identities_are_never_merged(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime,
        supervisor: tuple[TestClient[Any, Any], str]) -> None:
    hub = runtime.hub
    assert hub is not None
    boss, boss_csrf = supervisor
    # the site signed user 1 and later user 2 with the same address: two people, never linked automatically
    one = await say(runtime, "widget", Sender("demo:user:1", email="shared@example.com", email_verified=True), "a")
    two = await say(runtime, "widget", Sender("demo:user:2", email="shared@example.com", email_verified=True), "b")
    assert one != two
    plan = await (await boss.get(f"/api/contacts/{one}/merge", params={"other": two})).json()
    assert "verified identity" in plan["conflict"]
    resp = await boss.post(f"/api/contacts/{one}/merge", json={"other_id": two}, headers={"X-CSRF-Token": boss_csrf})
    assert resp.status == 409 and "different verified identity on the demo site" in (await resp.json())["error"]
    assert (await hub.store.contacts.find_one({"_id": ObjectId(two)}) or {}).get("merged_into") is None
    assert await hub.store.audit.count_documents({"action": "contact.merged"}) == 0
    # an unverified visitor may join a verified one
    three = await say(runtime, "widget", Sender("demo:visitor:anon"), "c")
    resp = await boss.post(f"/api/contacts/{one}/merge", json={"other_id": three},
                           headers={"X-CSRF-Token": boss_csrf})
    assert resp.status == 200
    for bad in ({"other_id": "nope"}, {}, {"other_id": str(ObjectId())}):
        resp = await boss.post(f"/api/contacts/{one}/merge", json=bad, headers={"X-CSRF-Token": boss_csrf})
        assert resp.status in (400, 422), (bad, resp.status)


async def test_erasing_a_contact_erases_the_records_merged_into_it(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    kept = ObjectId(await say(runtime, "email", Sender("eve@example.com", display_name="Eve Adams"), "hello"))
    gone = ObjectId(await say(runtime, "telegram", Sender("4242", display_name="Eve on Telegram"), "hi"))
    await hub.contactbook.add_note(gone, {"name": "Alice"}, "lives at 1 Main Street")
    await hub.merges.merge(kept, gone, {"name": "Sam", "username": "sam"})
    await hub.erase_contact(kept, None)
    tombstone = await hub.store.contacts.find_one({"_id": gone})
    assert tombstone is not None and tombstone["erased_at"] is not None
    assert "Eve" not in str(tombstone) and "Main Street" not in str(tombstone) and "4242" not in str(tombstone)


async def test_a_new_sender_on_a_thread_left_open_continues_it(runtime: Runtime) -> None:
    """A first message skips the read of its thread (its contact was created just now); the open thread's
    unique index still finds the conversation a thread holds open (here a group chat's second member)."""
    hub = runtime.hub
    assert hub is not None
    first = await say(runtime, "telegram", Sender("5001", display_name="Ada"), "hello", thread="group-9")
    second = await say(runtime, "telegram", Sender("5002", display_name="Bo"), "me too", thread="group-9")
    assert first != second  # two people, two contacts
    open_convs = await hub.store.conversations.find({"channel": "telegram", "thread_key": "group-9"}).to_list()
    assert len(open_convs) == 1 and open_convs[0]["open"]
    texts = [m["text"] for m in await hub.store.messages.find(
        {"conversation_id": open_convs[0]["_id"], "direction": "in"}).to_list()]
    assert sorted(texts) == ["hello", "me too"]


async def test_a_follow_up_is_the_identity_holders_even_when_its_thread_is_anothers(runtime: Runtime) -> None:
    """A follow-up reads its thread's open conversation and that conversation's contact in one command
    (hub.conversations `open_with_contact`), and takes that contact only if it holds the sender's identity. Here
    the identity has moved to another contact since the thread opened: the message is that contact's, and it
    continues the same open conversation."""
    hub = runtime.hub
    assert hub is not None
    key = "demo:visitor:Mv0e1dent1ty0001"
    first = await say(runtime, "widget", Sender(key), "hello")
    holder = ObjectId()
    await hub.store.contacts.update_one({"_id": ObjectId(first)}, {"$set": {"identities": []}})
    await hub.store.contacts.insert_one({"_id": holder, "number": 990001, "name": "Mia Holder",
                                         "identities": [{"channel": "widget", "external_id": key}]})
    again = await say(runtime, "widget", Sender(key), "hello again")
    assert again == str(holder)
    convs = await hub.store.conversations.find({"thread_key": key}).to_list()
    assert len(convs) == 1 and convs[0]["open"]
    authors = {m["text"]: m["author"]["id"] async for m in hub.store.messages.find(
        {"conversation_id": convs[0]["_id"], "direction": "in"})}
    assert authors == {"hello": ObjectId(first), "hello again": holder}


async def test_a_sender_wrongly_believed_new_keeps_one_contact(runtime: Runtime) -> None:
    """`Sender.probably_new` skips the read before the contact's insert; a wrong belief (a visitor already
    known, say from another tab) lands on the known contact, fills in a name it lacked, and never links past
    a trusted address."""
    hub = runtime.hub
    assert hub is not None
    key = "demo:visitor:Wq81kd0Zr2mPq7Ts"
    known = await say(runtime, "widget", Sender(key), "hi")
    again = await say(runtime, "widget", Sender(key, display_name="Rosa Diaz", probably_new=True), "hello again")
    assert again == known
    holders = await hub.store.contacts.find({"identities.external_id": key}).to_list()
    assert [str(c["_id"]) for c in holders] == [known] and holders[0]["name"] == "Rosa Diaz"
    fresh = await say(runtime, "widget", Sender("demo:visitor:Nx0c3vLq8sPe2Ua1", probably_new=True), "first")
    assert fresh != known  # a new visitor: a new contact, made by the insert alone
    by_mail = await say(runtime, "email", Sender("rosa@example.com", display_name="Rosa"), "by mail")
    verified = await say(runtime, "widget", Sender("demo:visitor:Hq2e7Rb0Zt5yKm3W", email="rosa@example.com",
                                                   email_verified=True, probably_new=True), "signed in")
    assert verified == by_mail  # a trusted address still links: the belief is not acted on


async def test_a_first_message_on_a_thread_held_open_continues_it(runtime: Runtime) -> None:
    """A first message the channel believes new writes its contact, conversation, event and message in one
    ordered command; when the thread is held open already, the conversation is refused there, the contact
    written before it stays, and the message continues the open conversation, with no second `opened` event."""
    hub = runtime.hub
    assert hub is not None
    ada = await say(runtime, "widget", Sender("demo:visitor:Ad4a0000Thread01"), "hello", thread="demo:shared")
    bo = await say(runtime, "widget", Sender("demo:visitor:Bo0b0000Thread02", display_name="Bo", probably_new=True),
                   "me too", thread="demo:shared")
    assert bo != ada
    bo_contact = await hub.store.contacts.find_one({"_id": ObjectId(bo)})
    assert bo_contact is not None and bo_contact["name"] == "Bo"
    convs = await hub.store.conversations.find({"thread_key": "demo:shared"}).to_list()
    assert len(convs) == 1 and convs[0]["open"]
    texts = sorted([m["text"] async for m in hub.store.messages.find({"conversation_id": convs[0]["_id"],
                                                                     "direction": "in"})])
    assert texts == ["hello", "me too"]
    opened = await hub.store.events.find({"type": "conversation.opened", "data.channel": "widget"}).to_list()
    assert [e["conversation_id"] for e in opened] == [convs[0]["_id"]]


async def test_one_first_message_delivered_twice_at_once_is_stored_once(runtime: Runtime) -> None:
    """The same first message twice at once (a retried POST racing the first): both take the one-command way,
    one stores everything, the other is refused at the contact and finds the stored message."""
    hub = runtime.hub
    assert hub is not None
    who = Sender("demo:visitor:Tw1ce000Racing03", display_name="Twice", probably_new=True)
    msg = InboundMessage(channel="widget", external_id="demo:twice:1", thread_key=who.external_id, sender=who,
                         text="what are your opening hours")
    results = await asyncio.gather(hub.ingest(msg), hub.ingest(msg))
    await hub.pipeline.drain()
    assert sorted(r.duplicate for r in results) == [False, True]
    assert len({(r.message_id, r.conversation_id, r.contact_id) for r in results}) == 1
    assert await hub.store.contacts.count_documents({"identities.external_id": who.external_id}) == 1
    assert await hub.store.conversations.count_documents({"thread_key": who.external_id}) == 1
    assert await hub.store.messages.count_documents({"external_id": "demo:twice:1"}) == 1
